/**
 * The retry policy, pure: what one send result means for its row and how long to wait
 * before the next attempt. No clock, no I/O; the row sender and the outage monitor act
 * on what it says.
 */
import type { SendResult } from './client.js';

/** Backoff for retries: full jitter over `base * 2^(attempt-1)`, capped. */
export const RETRY_BASE_DELAY_MS = 500;
export const RETRY_MAX_DELAY_MS = 30_000;

/** What to do with one send result. */
export type Action = 'done' | 'auth' | 'failed' | 'throttled' | 'retry' | 'aborted';

/** What to do with one send result. Exhaustive over {@link SendResult}. */
export function classify(result: SendResult): Action {
  switch (result.kind) {
    case 'ok':
      return 'done';
    case 'aborted':
      return 'aborted';
    case 'timeout':
    case 'network-error':
      return 'retry';
    case 'http-error': {
      const s = result.status;
      if (s === 401 || s === 403) return 'auth';
      if (s === 429) return 'throttled';
      if (s === 408 || s >= 500) return 'retry';
      return 'failed';
    }
  }
}

/** Full-jitter exponential backoff (AWS architecture blog's "full jitter"). */
export function backoffMs(attempt: number, baseMs: number, random = Math.random): number {
  const ceiling = Math.min(RETRY_MAX_DELAY_MS, baseMs * 2 ** (attempt - 1));
  return Math.round(random() * ceiling);
}

/** The server's own "come back in" (a 429's or a 503's `Retry-After`), if it gave one. */
export function retryAfterHintMs(result: SendResult): number | undefined {
  return result.kind === 'http-error' ? result.retryAfterMs : undefined;
}

/**
 * The wait before a row's next attempt: the backoff for its `charged` retries, or the
 * server's hint when that is longer (the hint already holds the whole run in the
 * limiter; waiting for it here too keeps the row from queueing early).
 */
export function retryDelayMs(
  result: SendResult,
  charged: number,
  baseMs: number,
  random = Math.random,
): number {
  return Math.max(retryAfterHintMs(result) ?? 0, backoffMs(Math.max(1, charged), baseMs, random));
}

/** One line for messages and the results' `error` column. */
export function describe(result: SendResult): string {
  switch (result.kind) {
    case 'ok':
      return `${result.status}`;
    case 'http-error':
    case 'network-error':
    case 'timeout':
      return result.message;
    case 'aborted':
      return 'aborted';
  }
}

/**
 * A server's wait at least this long is said to the operator: a run that sits silent
 * for minutes looks hung. Shorter waits are routine pacing.
 */
export const LONG_WAIT_NOTICE_MS = 30_000;

/**
 * Says a long server-asked wait once: the requests in flight when a 429 or 503 arrives
 * often all carry the same Retry-After, and the operator needs one line, not one per
 * request. A wait that ends later than the one already announced is said again.
 */
export class LongWaitNotice {
  #announcedUntilMs = 0;

  /** The line to print for a server hint of `hintMs` seen at `nowMs`, or undefined. */
  notice(hintMs: number | undefined, nowMs: number, cause: string): string | undefined {
    if (hintMs === undefined || hintMs < LONG_WAIT_NOTICE_MS) return undefined;
    const untilMs = nowMs + hintMs;
    // Within a second of the wait already announced: the same wait.
    if (untilMs <= this.#announcedUntilMs + 1_000) return undefined;
    this.#announcedUntilMs = untilMs;
    const at = new Date(untilMs).toISOString().slice(11, 19);
    return `the API asked to wait ${formatWait(hintMs)} (${cause}); waiting until ${at} UTC`;
  }
}

/** `45 s`, `10 min`, `2 h 5 min`. */
function formatWait(ms: number): string {
  const s = Math.round(ms / 1_000);
  if (s < 120) return `${s} s`;
  const min = Math.round(s / 60);
  if (min < 120) return `${min} min`;
  return `${Math.floor(min / 60)} h ${min % 60} min`;
}
