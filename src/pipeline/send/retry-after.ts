/**
 * How long a 429 asks us to wait (docs/api-trouble.md): `Retry-After` in seconds or
 * as an HTTP date, or `X-RateLimit-Reset`, whichever is present. Pure: `nowMs` is
 * passed in.
 */

/** Never wait longer than this on the server's word; a bogus header must not stall a cron job. */
export const MAX_RETRY_AFTER_MS = 10 * 60_000;

/** Epoch seconds are > 1e9; anything smaller is a delta in seconds (both styles exist). */
const EPOCH_SECONDS_THRESHOLD = 1_000_000_000;

export function retryAfterMs(
  headers: Record<string, string | string[] | undefined>,
  nowMs: number,
): number | undefined {
  const retryAfter = first(headers['retry-after']);
  if (retryAfter !== undefined) {
    const value = retryAfter.trim();
    if (/^\d+(\.\d+)?$/.test(value)) return clamp(Number(value) * 1000);
    const date = Date.parse(value);
    if (!Number.isNaN(date)) return clamp(date - nowMs);
  }
  const reset = first(headers['x-ratelimit-reset']) ?? first(headers['ratelimit-reset']);
  if (reset !== undefined && /^\d+(\.\d+)?$/.test(reset.trim())) {
    const n = Number(reset.trim());
    return clamp(n >= EPOCH_SECONDS_THRESHOLD ? n * 1000 - nowMs : n * 1000);
  }
  return undefined;
}

function first(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function clamp(ms: number): number {
  return Math.min(Math.max(0, Math.ceil(ms)), MAX_RETRY_AFTER_MS);
}
