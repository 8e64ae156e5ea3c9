/**
 * Which contact a request target names. Done with string operations, not a regex,
 * because it runs for every request of a benchmark.
 */

export type Route =
  | { kind: 'contact'; id: string }
  | { kind: 'bad-id'; segment: string }
  | { kind: 'none' };

const PREFIX = '/public/contacts/';
const NONE: Route = { kind: 'none' };

/**
 * `/public/contacts/{id}` with exactly one non-empty segment, percent-decoded once
 * (`a%2Fb` is the id `a/b`). Extra segments, a trailing slash, or anything else is no
 * route; the query string is ignored, as Express does.
 */
export function matchRoute(target: string): Route {
  if (!target.startsWith(PREFIX)) return NONE;
  const query = target.indexOf('?', PREFIX.length);
  const segment = target.slice(PREFIX.length, query === -1 ? target.length : query);
  if (segment === '' || segment.includes('/')) return NONE;
  if (!segment.includes('%')) return { kind: 'contact', id: segment };
  try {
    return { kind: 'contact', id: decodeURIComponent(segment) };
  } catch {
    return { kind: 'bad-id', segment };
  }
}
