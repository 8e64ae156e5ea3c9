import { describe, expect, it } from 'vitest';
import {
  AdaptiveLimiter,
  DECREASE_FACTOR,
  LimiterStoppedError,
} from '../../src/pipeline/limiter.js';
import { backoffMs, classify } from '../../src/pipeline/run-update.js';

describe('AdaptiveLimiter', () => {
  it('halves the rate on a 429, once per congestion event, and never exceeds --rate', () => {
    const limiter = new AdaptiveLimiter({ ratePerSecond: 100, concurrency: 4 });
    limiter.throttled(undefined);
    expect(limiter.ratePerSecond).toBe(100 * DECREASE_FACTOR);
    limiter.throttled(undefined);
    expect(limiter.ratePerSecond).toBe(100 * DECREASE_FACTOR);
    for (let i = 0; i < 100_000; i++) limiter.succeeded();
    expect(limiter.ratePerSecond).toBe(100);
    void limiter.stop();
  });

  it('adds back about 2% of --rate per second of successes', () => {
    const limiter = new AdaptiveLimiter({ ratePerSecond: 500, concurrency: 4 });
    limiter.throttled(undefined);
    const low = limiter.ratePerSecond;
    // One second's worth of successes at the lowered rate.
    for (let i = 0; i < low; i++) limiter.succeeded();
    expect(limiter.ratePerSecond).toBeGreaterThan(low + 9);
    expect(limiter.ratePerSecond).toBeLessThan(low + 11);
    void limiter.stop();
  });

  it('holds every request during a Retry-After pause', async () => {
    const limiter = new AdaptiveLimiter({ ratePerSecond: 1000, concurrency: 4 });
    const started = Date.now();
    limiter.throttled(300);
    const times = await Promise.all([1, 2, 3].map(() => limiter.schedule(async () => Date.now())));
    for (const t of times) expect(t - started).toBeGreaterThanOrEqual(290);
    // ...and then goes on at the lowered rate (500/s), not one per second.
    expect(Math.max(...times) - started).toBeLessThan(1000);
    await limiter.stop();
  });

  it('drops jobs that have not started when stopped', async () => {
    const limiter = new AdaptiveLimiter({ ratePerSecond: 1, concurrency: 1 });
    const first = limiter.schedule(async () => 'sent');
    const second = limiter.schedule(async () => 'sent');
    await first;
    const dropped = expect(second).rejects.toBeInstanceOf(LimiterStoppedError);
    await limiter.stop();
    await dropped;
  });
});

describe('retry policy', () => {
  it.each([
    [{ kind: 'ok', status: 200 }, 'done'],
    [{ kind: 'http-error', status: 400, message: '', retryAfterMs: undefined }, 'failed'],
    [{ kind: 'http-error', status: 404, message: '', retryAfterMs: undefined }, 'failed'],
    [{ kind: 'http-error', status: 422, message: '', retryAfterMs: undefined }, 'failed'],
    [{ kind: 'http-error', status: 401, message: '', retryAfterMs: undefined }, 'auth'],
    [{ kind: 'http-error', status: 403, message: '', retryAfterMs: undefined }, 'auth'],
    [{ kind: 'http-error', status: 429, message: '', retryAfterMs: 1000 }, 'throttled'],
    [{ kind: 'http-error', status: 500, message: '', retryAfterMs: undefined }, 'retry'],
    [{ kind: 'http-error', status: 503, message: '', retryAfterMs: undefined }, 'retry'],
    [{ kind: 'timeout', message: '' }, 'retry'],
    [{ kind: 'network-error', code: 'ECONNRESET', message: '' }, 'retry'],
    [{ kind: 'aborted' }, 'aborted'],
  ] as const)('%o → %s', (result, action) => {
    expect(classify(result)).toBe(action);
  });

  it('backs off with full jitter under an exponential ceiling', () => {
    expect(backoffMs(1, 500, () => 1)).toBe(500);
    expect(backoffMs(3, 500, () => 1)).toBe(2000);
    expect(backoffMs(3, 500, () => 0)).toBe(0);
    expect(backoffMs(30, 500, () => 1)).toBe(30_000);
  });
});
