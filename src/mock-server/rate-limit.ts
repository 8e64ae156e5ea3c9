/**
 * The fake's rate limit: a token bucket, implemented as GCRA (a "theoretical arrival
 * time" instead of a token count) so it is exact with no refill timer and one number
 * of state. A client sending exactly `perSecond` evenly spaced requests is never
 * limited, even with `burst: 1`.
 */
import type { RateLimitChange, RetryAfterStyle } from './types.js';

/**
 * Slack for floating-point drift between the client's spacing and the summed
 * intervals; far below what any timer can resolve.
 */
const EPSILON_MS = 0.01;

export class RateLimiter {
  #intervalMs: number;
  /** How far ahead of the steady pace a burst may run. */
  #toleranceMs: number;
  #theoreticalArrivalMs = Number.NEGATIVE_INFINITY;

  constructor(perSecond: number, burst: number) {
    this.#intervalMs = 1000 / perSecond;
    this.#toleranceMs = (burst - 1) * this.#intervalMs;
  }

  /**
   * Take a token at `nowMs` (a monotonic clock). Returns 0 when allowed, otherwise the
   * ms until a token is free; a refused request takes nothing.
   */
  take(nowMs: number): number {
    const tat = Math.max(this.#theoreticalArrivalMs, nowMs);
    const allowedAtMs = tat - this.#toleranceMs;
    if (nowMs + EPSILON_MS < allowedAtMs) return allowedAtMs - nowMs;
    this.#theoreticalArrivalMs = tat + this.#intervalMs;
    return 0;
  }

  /**
   * Change the limit at `nowMs`, keeping the tokens already used: a client that had
   * emptied the bucket finds it empty at the new rate too.
   */
  change(perSecond: number, burst: number, nowMs: number): void {
    const usedTokens = Math.max(0, this.#theoreticalArrivalMs - nowMs) / this.#intervalMs;
    this.#intervalMs = 1000 / perSecond;
    this.#toleranceMs = (burst - 1) * this.#intervalMs;
    this.#theoreticalArrivalMs =
      usedTokens > 0 ? nowMs + usedTokens * this.#intervalMs : Number.NEGATIVE_INFINITY;
  }
}

/**
 * A rate limit that changes during the run (`schedule`): the hidden limit a client
 * must notice dropping or rising. Changes apply in order, each after its own count of
 * requests let through, or time, since the limit was set.
 */
export class ScheduledRateLimiter {
  readonly #limiter: RateLimiter;
  readonly #pending: RateLimitChange[];
  readonly #startedAtMs: number;
  #allowed = 0;
  #perSecond: number;

  constructor(perSecond: number, burst: number, schedule: RateLimitChange[], nowMs: number) {
    this.#limiter = new RateLimiter(perSecond, burst);
    this.#pending = [...schedule];
    this.#startedAtMs = nowMs;
    this.#perSecond = perSecond;
  }

  /** The limit in force, requests per second. */
  get perSecond(): number {
    return this.#perSecond;
  }

  /** As {@link RateLimiter.take}, after applying the changes that are due. */
  take(nowMs: number): number {
    let next = this.#pending[0];
    while (
      next !== undefined &&
      ((next.afterAllowed !== undefined && this.#allowed >= next.afterAllowed) ||
        (next.afterMs !== undefined && nowMs - this.#startedAtMs >= next.afterMs))
    ) {
      this.#pending.shift();
      this.#perSecond = next.perSecond;
      this.#limiter.change(next.perSecond, next.burst ?? Math.max(1, next.perSecond), nowMs);
      next = this.#pending[0];
    }
    const waitMs = this.#limiter.take(nowMs);
    if (waitMs === 0) this.#allowed++;
    return waitMs;
  }
}

/**
 * The headers of a 429 in the chosen style. `x-ratelimit-reset` is unix epoch seconds
 * (rounded up), the most common meaning; @nestjs/throttler itself sends a delta, and
 * clients should cope with both.
 */
export function retryHeaders(
  style: RetryAfterStyle,
  waitMs: number,
  nowEpochMs: number,
): Record<string, string> {
  switch (style) {
    case 'seconds':
      // Rounded up and at least 1: "Retry-After: 0" invites an immediate retry that fails again.
      return { 'retry-after': String(Math.max(1, Math.ceil(waitMs / 1000))) };
    case 'http-date':
      // HTTP dates have whole seconds; round up so the date is never too early.
      return {
        'retry-after': new Date(Math.ceil((nowEpochMs + waitMs) / 1000) * 1000).toUTCString(),
      };
    case 'x-ratelimit-reset':
      return { 'x-ratelimit-reset': String(Math.ceil((nowEpochMs + waitMs) / 1000)) };
    case 'none':
      return {};
  }
}
