/**
 * Which contact a request target names. Done with string operations, not a regex,
 * because it runs for every request of a benchmark.
 */

export type Route =
  | { kind: 'contact'; id: string }
  | { kind: 'bad-id'; segment: string }
  /** `/public/contacts`: POST creates one contact. */
  | { kind: 'collection' }
  /** `/__admin/duplicates`: the fake's own inspection route, not the API's. */
  | { kind: 'admin-duplicates' }
  | { kind: 'none' };

const PREFIX = '/public/contacts/';
const COLLECTION = '/public/contacts';
const ADMIN_DUPLICATES = '/__admin/duplicates';
const NONE: Route = { kind: 'none' };

/**
 * The segment that makes `POST /public/contacts/batch` a batch create. Any other method
 * on that path is the contact with id `batch`, as NestJS routes methods separately.
 */
export const BATCH_SEGMENT = 'batch';

/** The path without its query string. */
function pathOf(target: string): string {
  const query = target.indexOf('?');
  return query === -1 ? target : target.slice(0, query);
}

/**
 * `/public/contacts/{id}` with exactly one non-empty segment, percent-decoded once
 * (`a%2Fb` is the id `a/b`). Extra segments, a trailing slash, or anything else is no
 * route; the query string is ignored, as Express does.
 */
export function matchRoute(target: string): Route {
  if (!target.startsWith(PREFIX)) {
    const path = pathOf(target);
    if (path === COLLECTION) return { kind: 'collection' };
    if (path === ADMIN_DUPLICATES) return { kind: 'admin-duplicates' };
    return NONE;
  }
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
