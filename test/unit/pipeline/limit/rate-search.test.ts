import { describe, expect, it } from 'vitest';
import { ScheduledRateLimiter } from '../../../../src/mock-server/rate-limit.js';
import type { RateLimitChange } from '../../../../src/mock-server/types.js';
import { AdaptiveLimiter } from '../../../../src/pipeline/limit/limiter.js';
import {
  DEFAULT_INITIAL_RATE_PER_SECOND,
  DEFAULT_MAX_RATE_PER_SECOND,
  FIRST_DECREASE_FACTOR,
  LATENCY_WARMUP_SAMPLES,
  RateSearch,
  SETTLE_SHARE,
} from '../../../../src/pipeline/limit/rate-search.js';

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

/** Successes for `seconds` of (simulated) time at the search's own rate. */
function succeedFor(
  search: RateSearch,
  clock: ReturnType<typeof manualClock>,
  seconds: number,
  latencyMs?: number,
) {
  const endMs = clock.now() + seconds * 1000;
  while (clock.now() < endMs) {
    clock.advance(1000 / search.ratePerSecond);
    search.succeeded(latencyMs);
  }
}

/**
 * A run against a hidden token-bucket limit (the mock server's own), in simulated time:
 * requests at the search's rate; a 429 pauses everything for `retryAfterMs`, as the
 * limiter does with the server's Retry-After.
 */
function runAgainst(
  search: RateSearch,
  clock: ReturnType<typeof manualClock>,
  limit: { perSecond: number; schedule?: RateLimitChange[] },
  seconds: number,
  retryAfterMs = 1_000,
) {
  const bucket = new ScheduledRateLimiter(
    limit.perSecond,
    limit.perSecond,
    limit.schedule ?? [],
    clock.now(),
  );
  const endMs = clock.now() + seconds * 1000;
  let sent = 0;
  let throttled = 0;
  let accepted = 0;
  while (clock.now() < endMs) {
    clock.advance(1000 / search.ratePerSecond);
    sent++;
    if (bucket.take(clock.now()) === 0) {
      accepted++;
      search.succeeded(10);
    } else {
      throttled++;
      search.throttled(clock.now());
      clock.advance(retryAfterMs);
    }
  }
  return { sent, throttled, accepted, acceptedPerSecond: accepted / seconds };
}

describe('RateSearch', () => {
  it('starts gently and doubles the rate every half second of successes', () => {
    const clock = manualClock();
    const search = new RateSearch({ now: clock.now });
    expect(search.ratePerSecond).toBe(DEFAULT_INITIAL_RATE_PER_SECOND);
    expect(search.phase).toBe('slow-start');
    succeedFor(search, clock, 1);
    expect(search.ratePerSecond).toBeGreaterThan(35);
    expect(search.ratePerSecond).toBeLessThan(45);
    succeedFor(search, clock, 1);
    expect(search.ratePerSecond).toBeGreaterThan(140);
    expect(search.ratePerSecond).toBeLessThan(180);
  });

  it('never goes above --max-rate (1000/s unless told)', () => {
    const clock = manualClock();
    const search = new RateSearch({ now: clock.now });
    succeedFor(search, clock, 10);
    expect(search.ratePerSecond).toBe(DEFAULT_MAX_RATE_PER_SECOND);
    const capped = new RateSearch({ maxRatePerSecond: 50, now: clock.now });
    succeedFor(capped, clock, 10);
    expect(capped.ratePerSecond).toBe(50);
    expect(runAgainst(capped, clock, { perSecond: 100 }, 30).throttled).toBe(0);
  });

  it('halves the rate on the first 429, ending slow start, and ignores the rest of that event', () => {
    const clock = manualClock();
    const search = new RateSearch({ initialRatePerSecond: 400, now: clock.now });
    const sentAtMs = clock.now();
    clock.advance(20);
    expect(search.throttled(sentAtMs)).toBe('decreased');
    expect(search.ratePerSecond).toBe(400 * FIRST_DECREASE_FACTOR);
    expect(search.phase).toBe('steady');
    // Only an upper bound so far: nothing to show as "limit found".
    expect(search.limitFoundPerSecond).toBeUndefined();
    // Answers to requests sent before the decrease say nothing about the new rate.
    clock.advance(500);
    expect(search.throttled(sentAtMs)).toBe('ignored');
    expect(search.ratePerSecond).toBe(200);
  });

  it('measures the limit between two 429s and settles just under it', () => {
    const clock = manualClock();
    const search = new RateSearch({ now: clock.now });
    const run = runAgainst(search, clock, { perSecond: 150 }, 60);
    const found = search.limitFoundPerSecond ?? 0;
    expect(found).toBeGreaterThan(140);
    expect(found).toBeLessThanOrEqual(151);
    expect(search.ratePerSecond).toBeGreaterThan(130);
    expect(search.ratePerSecond).toBeLessThan(175);
    expect(run.acceptedPerSecond).toBeGreaterThan(0.85 * 150);
    expect(run.throttled / run.sent).toBeLessThan(0.01);
  });

  it.each([20, 1_000])('holds most of a hidden limit of %d/s with few 429s', (limit) => {
    const clock = manualClock();
    const search = new RateSearch({ maxRatePerSecond: 2_000, now: clock.now });
    runAgainst(search, clock, { perSecond: limit }, 20); // the search
    const held = runAgainst(search, clock, { perSecond: limit }, 60);
    expect(held.acceptedPerSecond).toBeGreaterThan(0.9 * limit);
    expect(held.throttled / held.sent).toBeLessThan(0.01);
  });

  it('doubts a figure far below the rate that drew the 429, and climbs back to check it', () => {
    const clock = manualClock();
    const search = new RateSearch({ initialRatePerSecond: 200, now: clock.now });
    search.throttled(clock.now()); // slow start ends at 200 → 100
    // The client stalled: only 30 successes in the next 2 s, then a 429.
    for (let i = 0; i < 30; i++) search.succeeded(10);
    clock.advance(2_000);
    const drewIt = search.ratePerSecond;
    search.throttled(clock.now());
    const found = search.limitFoundPerSecond ?? 0;
    expect(found).toBe(15);
    expect(search.ratePerSecond).toBeLessThan(found);
    // Not stuck at the doubtful figure: back near halfway within a few seconds.
    succeedFor(search, clock, 5, 10);
    expect(search.ratePerSecond).toBeGreaterThan(0.85 * SETTLE_SHARE * ((found + drewIt) / 2));
  });

  it('follows a limit that drops from 300/s to 100/s mid-run', () => {
    const clock = manualClock();
    const search = new RateSearch({ now: clock.now });
    runAgainst(
      search,
      clock,
      { perSecond: 300, schedule: [{ perSecond: 100, afterMs: 30_000 }] },
      40,
    );
    const found = search.limitFoundPerSecond ?? 0;
    expect(found).toBeGreaterThan(85);
    expect(found).toBeLessThanOrEqual(110);
    expect(search.ratePerSecond).toBeLessThan(120);
  });

  it('finds a raised limit by probing upward', () => {
    const clock = manualClock();
    const search = new RateSearch({ now: clock.now });
    runAgainst(search, clock, { perSecond: 100 }, 30);
    expect(search.ratePerSecond).toBeLessThan(120);
    const raised = runAgainst(search, clock, { perSecond: 400 }, 60);
    expect(search.ratePerSecond).toBeGreaterThan(300);
    expect(raised.throttled).toBeLessThan(10);
  });

  it('stops growing while the latency is well above its baseline, and goes on when it is back', () => {
    const clock = manualClock();
    const search = new RateSearch({ now: clock.now });
    for (let i = 0; i < LATENCY_WARMUP_SAMPLES * 2; i++) {
      clock.advance(1000 / search.ratePerSecond);
      search.succeeded(20);
    }
    expect(search.latencyRisen).toBe(false);
    succeedFor(search, clock, 2, 300);
    expect(search.latencyRisen).toBe(true);
    const held = search.ratePerSecond;
    succeedFor(search, clock, 5, 300);
    expect(search.ratePerSecond).toBe(held);
    succeedFor(search, clock, 2, 20);
    expect(search.latencyRisen).toBe(false);
    expect(search.ratePerSecond).toBeGreaterThan(held * 2);
  });

  it('does not brake on a small rise over a fast baseline (scheduling noise)', () => {
    const clock = manualClock();
    const search = new RateSearch({ now: clock.now });
    succeedFor(search, clock, 1, 3);
    succeedFor(search, clock, 1, 30); // 10× a 3 ms baseline, yet only 27 ms more
    expect(search.latencyRisen).toBe(false);
  });

  it('does not grow a rate the run does not use (held back by --concurrency)', () => {
    const clock = manualClock();
    const search = new RateSearch({ initialRatePerSecond: 100, now: clock.now });
    // Only 20 successes a second, whatever the rate says.
    for (let i = 0; i < 200; i++) {
      clock.advance(50);
      search.succeeded(10);
    }
    expect(search.rateUsed).toBe(false);
    expect(search.ratePerSecond).toBeLessThan(150);
  });

  it('starts just under a limit an earlier run found, without slow start', () => {
    const clock = manualClock();
    const search = new RateSearch({ knownLimitPerSecond: 200, now: clock.now });
    expect(search.phase).toBe('steady');
    expect(search.ratePerSecond).toBe(200 * SETTLE_SHARE);
    expect(search.limitFoundPerSecond).toBe(200);
  });

  it.each([
    [{ maxRatePerSecond: 0 }, /maxRatePerSecond.*got 0/],
    [{ initialRatePerSecond: Number.NaN }, /initialRatePerSecond/],
    [{ knownLimitPerSecond: -1 }, /knownLimitPerSecond/],
  ])('rejects %j with a TypeError saying what was expected', (bad, pattern) => {
    expect(() => new RateSearch(bad)).toThrow(TypeError);
    expect(() => new RateSearch(bad)).toThrow(pattern);
  });
});

describe('AdaptiveLimiter in auto mode', () => {
  it('shows the rate in use and the limit found, and reports its changes', () => {
    const clock = manualClock();
    const changes: Array<[number, string]> = [];
    const limiter = new AdaptiveLimiter({
      ratePerSecond: 'auto',
      maxRatePerSecond: 500,
      concurrency: 4,
      now: clock.now,
      onRateChange: (rate, reason) => changes.push([rate, reason]),
    });
    expect(limiter.rateView).toEqual({
      mode: 'auto',
      currentRatePerSecond: DEFAULT_INITIAL_RATE_PER_SECOND,
      limitFoundPerSecond: undefined,
      maxRatePerSecond: 500,
    });
    for (let i = 0; i < 50; i++) {
      clock.advance(1000 / limiter.ratePerSecond);
      limiter.succeeded(15);
    }
    expect(limiter.ratePerSecond).toBeGreaterThan(DEFAULT_INITIAL_RATE_PER_SECOND * 4);
    expect(changes.at(-1)?.[1]).toBe('recovered');
    limiter.throttled(undefined, clock.now());
    expect(changes.at(-1)?.[1]).toBe('throttled');
    void limiter.stop();
  });

  it('a fixed rate shows itself as such', () => {
    const limiter = new AdaptiveLimiter({ ratePerSecond: 40, concurrency: 4 });
    limiter.succeeded(12); // the latency is ignored with a fixed rate
    expect(limiter.rateView).toEqual({
      mode: 'fixed',
      currentRatePerSecond: 40,
      limitFoundPerSecond: undefined,
      maxRatePerSecond: 40,
    });
    void limiter.stop();
  });

  it('holds every request for the Retry-After of a 429, and sends at the lowered rate after', async () => {
    const limiter = new AdaptiveLimiter({
      ratePerSecond: 'auto',
      initialRatePerSecond: 200,
      concurrency: 4,
    });
    const started = Date.now();
    limiter.throttled(300, started);
    expect(limiter.ratePerSecond).toBe(100);
    const times = await Promise.all(
      [1, 2, 3, 4].map(() => limiter.schedule(async () => Date.now())),
    );
    for (const t of times) expect(t - started).toBeGreaterThanOrEqual(290);
    expect(Math.max(...times) - started).toBeLessThan(1_000);
    await limiter.stop();
  });
});
