/**
 * What a create's answer proves, pure. A PUT can be sent twice and land once; a POST
 * sent twice creates two contacts. So a create is only retried when the answer proves
 * that nothing was created; any other failure without a clear refusal leaves its rows
 * `uncertain` (docs/api-trouble.md, "Creating contacts").
 */
import type { SendResult } from './client.js';

/**
 * Network errors raised while connecting, before any byte of the request was written:
 * the server cannot have seen it.
 */
const CONNECT_ERRORS = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/**
 * Whether this failed create certainly created nothing, so that sending it again
 * cannot make a duplicate:
 * - 429: the request was turned away before it was handled;
 * - 408: the server gave up waiting for the request before it had it whole;
 * - 503 with `Retry-After`: the service says it is not taking requests now (RFC 9110
 *   §15.6.4) and when to come back; a bare 503 (a proxy's page, a crash) proves nothing;
 * - 400, 401, 403, 404, 422: refused (not retried, but not uncertain either);
 * - a connect error (refused, host not found, connect timeout): nothing went out.
 *
 * Not safe: a timeout or a reset once the request was written, 500, 502, 504, a 503
 * without `Retry-After`, our own abort of a request in flight.
 */
export function nothingCreated(result: SendResult): boolean {
  switch (result.kind) {
    case 'ok':
    case 'timeout':
    case 'aborted':
      return false;
    case 'network-error':
      return CONNECT_ERRORS.has(result.code);
    case 'http-error': {
      const s = result.status;
      if (s === 503) return result.retryAfterMs !== undefined;
      return s < 500;
    }
  }
}

/** A batch answer's contacts, in the order sent: the new ids, or why they cannot be read. */
export type CreatedIds = { ok: true; ids: string[] } | { ok: false; message: string };

/**
 * The ids in a create's answer: `{"data": Contact}` for one contact, `{"data":
 * [Contact, ...]}` for a batch, in the order sent. An answer that cannot be read as
 * that (another shape, a count that does not match) says the contacts were created
 * but not which ids they got.
 */
export function createdIds(body: string | undefined, expected: number): CreatedIds {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body ?? '');
  } catch {
    return { ok: false, message: 'the answer is not JSON' };
  }
  const data = (parsed as { data?: unknown } | null)?.data;
  const list = Array.isArray(data) ? data : data === undefined ? undefined : [data];
  if (list === undefined) return { ok: false, message: 'the answer has no "data"' };
  if (list.length !== expected) {
    return {
      ok: false,
      message: `the answer lists ${list.length} contact${list.length === 1 ? '' : 's'} for ${expected} sent`,
    };
  }
  const ids: string[] = [];
  for (const contact of list) {
    const id = (contact as { id?: unknown } | null)?.id;
    if ((typeof id !== 'string' || id === '') && typeof id !== 'number') {
      return { ok: false, message: 'a contact in the answer has no id' };
    }
    ids.push(String(id));
  }
  return { ok: true, ids };
}
