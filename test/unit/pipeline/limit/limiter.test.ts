import { describe, expect, it } from 'vitest';
import {
  AdaptiveLimiter,
  DECREASE_COOLDOWN_MS,
  DECREASE_FACTOR,
  LimiterStoppedError,
  PROBE_SHARE_PER_SECOND,
} from '../../../../src/pipeline/limit/limiter.js';
import { backoffMs, classify } from '../../../../src/pipeline/run/run-update.js';

/** A clock the test moves by hand. */
function manualClock(startMs = 1_000_000) {
  let t = startMs;
  return {
    now: () => t,
    advance: (ms: number) => {
      t += ms;
    },
  };
}

/** Report successes for `seconds` of (simulated) time at the limiter's current rate. */
function succeedFor(
  limiter: AdaptiveLimiter,
  clock: ReturnType<typeof manualClock>,
  seconds: number,
) {
  let elapsed = 0;
  while (elapsed < seconds) {
    const step = 1 / limiter.ratePerSecond;
    elapsed += step;
    clock.advance(step * 1000);
    limiter.succeeded();
  }
}

describe('AdaptiveLimiter', () => {
  it('halves the rate on a 429, once per congestion event, and never exceeds --rate', () => {
    const clock = manualClock();
    const limiter = new AdaptiveLimiter({ ratePerSecond: 100, concurrency: 4, now: clock.now });
    limiter.throttled(undefined);
    expect(limiter.ratePerSecond).toBe(100 * DECREASE_FACTOR);
    limiter.throttled(undefined); // same instant: the same event
    expect(limiter.ratePerSecond).toBe(100 * DECREASE_FACTOR);
    succeedFor(limiter, clock, 600);
    expect(limiter.ratePerSecond).toBe(100);
    void limiter.stop();
  });

  it('ignores a 429 that answers a request sent before the last decrease', () => {
    const clock = manualClock();
    const limiter = new AdaptiveLimiter({ ratePerSecond: 400, concurrency: 4, now: clock.now });
    const sentEarly = clock.now() - 10;
    limiter.throttled(undefined, sentEarly);
    expect(limiter.ratePerSecond).toBe(200);
    clock.advance(DECREASE_COOLDOWN_MS * 5);
    // Sent at the old rate: says nothing about the new one.
    limiter.throttled(undefined, sentEarly);
    expect(limiter.ratePerSecond).toBe(200);
    // Sent after the decrease: the new rate is still too high.
    limiter.throttled(undefined, clock.now() - 1);
    expect(limiter.ratePerSecond).toBe(100);
    void limiter.stop();
  });

  it('climbs back fast towards the rate that drew the 429, then probes above it slowly', () => {
    const clock = manualClock();
    const limiter = new AdaptiveLimiter({ ratePerSecond: 1000, concurrency: 4, now: clock.now });
    limiter.throttled(undefined); // 1000 -> 500
    clock.advance(DECREASE_COOLDOWN_MS);
    limiter.throttled(undefined, clock.now()); // 500 -> 250: the limit was seen at 500
    expect(limiter.ratePerSecond).toBe(250);
    succeedFor(limiter, clock, 1);
    // Half the gap per second: 500 - 250 * e^-0.5 ≈ 348.
    expect(limiter.ratePerSecond).toBeGreaterThan(330);
    expect(limiter.ratePerSecond).toBeLessThan(370);
    succeedFor(limiter, clock, 9);
    expect(limiter.ratePerSecond).toBeGreaterThan(490);
    expect(limiter.ratePerSecond).toBeLessThan(520);
    // Above it: about 1% per second at first...
    const atLimit = limiter.ratePerSecond;
    succeedFor(limiter, clock, 3);
    expect(limiter.ratePerSecond / atLimit).toBeLessThan(1 + 3 * 3 * PROBE_SHARE_PER_SECOND);
    // ...faster the longer no 429 comes, up to --rate.
    succeedFor(limiter, clock, 60);
    expect(limiter.ratePerSecond).toBe(1000);
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

  it('does not stall when the pause timer fires before the clock reaches the end', async () => {
    // A clock running at 80% speed: every timer fires "early" by its measure.
    const origin = Date.now();
    const slow = () => origin + (Date.now() - origin) * 0.8;
    const limiter = new AdaptiveLimiter({ ratePerSecond: 0, concurrency: 1, now: slow });
    limiter.pauseUntil(slow() + 100);
    const sentAt = await limiter.schedule(async () => slow());
    expect(sentAt).toBeGreaterThanOrEqual(limiter.pausedUntil);
    await limiter.stop();
  });

  it('lets one probe through after an outage pause and holds the rest until endProbe', async () => {
    const limiter = new AdaptiveLimiter({ ratePerSecond: 0, concurrency: 4 });
    const started = Date.now();
    limiter.probeAfter(started + 50);
    const ran: number[] = [];
    const jobs = [1, 2, 3].map((n) =>
      limiter.schedule(async () => {
        ran.push(n);
        return Date.now();
      }),
    );
    await new Promise((r) => setTimeout(r, 200));
    expect(ran).toEqual([1]);
    expect(limiter.isProbing).toBe(true);
    limiter.endProbe();
    const times = await Promise.all(jobs);
    expect(ran.sort()).toEqual([1, 2, 3]);
    expect((times[0] ?? 0) - started).toBeGreaterThanOrEqual(45);
    await limiter.stop();
  });

  it('a failed probe means another pause and another single probe', async () => {
    const limiter = new AdaptiveLimiter({ ratePerSecond: 0, concurrency: 4 });
    limiter.probeAfter(Date.now() + 20);
    const ran: number[] = [];
    const jobs = [1, 2, 3].map((n) =>
      limiter.schedule(async () => {
        ran.push(n);
      }),
    );
    await new Promise((r) => setTimeout(r, 80));
    expect(ran).toHaveLength(1);
    limiter.probeAfter(Date.now() + 20);
    await new Promise((r) => setTimeout(r, 80));
    expect(ran).toHaveLength(2);
    limiter.endProbe();
    await Promise.all(jobs);
    expect(ran).toHaveLength(3);
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
    [{ kind: 'http-error', status: 408, message: '', retryAfterMs: undefined }, 'retry'],
    [{ kind: 'network-error', code: 'ECONNREFUSED', message: '' }, 'retry'],
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
