import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AdaptiveLimiter } from '../../../../src/pipeline/limit/limiter.js';
import {
  openSharedBudget,
  type SharedBudget,
} from '../../../../src/pipeline/limit/shared-budget.js';
import { hasRedisServer, type RedisServer, startRedisServer } from '../../../redis-server.js';

describe.skipIf(!hasRedisServer())('AdaptiveLimiter on a shared budget', () => {
  let server: RedisServer;
  const budgets: SharedBudget[] = [];
  const limiters: AdaptiveLimiter[] = [];
  beforeAll(async () => {
    server = await startRedisServer();
  });
  afterAll(async () => {
    await server.stop();
  });
  afterEach(async () => {
    for (const l of limiters.splice(0)) await l.stop();
    for (const b of budgets.splice(0)) await b.close();
    // Each test starts with an empty budget (the last rate is kept in Redis).
    const admin = new Redis(server.url);
    await admin.flushall();
    await admin.quit();
  });

  /** A limiter as a separate process would have it: its own budget connection. */
  const limiter = async (ratePerSecond: number | 'auto', apiKey = 'limiter-shared-key') => {
    const shared = await openSharedBudget({
      redisUrl: server.url,
      baseUrl: 'http://127.0.0.1:9',
      apiKey,
    });
    budgets.push(shared);
    const l = new AdaptiveLimiter({
      ratePerSecond,
      concurrency: 50,
      shared,
      ...(ratePerSecond === 'auto' ? { initialRatePerSecond: 100, maxRatePerSecond: 400 } : {}),
    });
    limiters.push(l);
    return l;
  };

  /** Requests that `l` lets through in `ms`, sending as fast as it allows. */
  const sendFor = async (l: AdaptiveLimiter, ms: number) => {
    const until = Date.now() + ms;
    let sent = 0;
    const lane = async () => {
      while (Date.now() < until) {
        await l.schedule(async () => {
          if (Date.now() < until) sent++;
        });
      }
    };
    await Promise.all(Array.from({ length: 20 }, lane));
    return sent;
  };

  it('lets two limiters send the rate together, not each', async () => {
    const a = await limiter(200);
    const b = await limiter(200);
    await new Promise((r) => setTimeout(r, 100)); // the start-up rate is in Redis
    const [sentA, sentB] = await Promise.all([sendFor(a, 2_000), sendFor(b, 2_000)]);
    const ratePerSecond = (sentA + sentB) / 2;
    expect(ratePerSecond).toBeGreaterThan(180);
    expect(ratePerSecond).toBeLessThan(225);
    expect(Math.min(sentA, sentB)).toBeGreaterThan(100);
  });

  it('holds every limiter for the Retry-After of a 429 seen by one, and keeps the shared --rate', async () => {
    const a = await limiter(200);
    const b = await limiter(200);
    a.throttled(1_500, Date.now());
    await expect.poll(() => b.pausedUntil - Date.now()).toBeGreaterThan(1_000);
    const started = Date.now();
    await b.schedule(async () => undefined);
    expect(Date.now() - started).toBeGreaterThan(1_000);
    // The two together send 200/s: the 429 was a late bunch, not too high a rate.
    expect(a.ratePerSecond).toBe(200);
    expect(b.ratePerSecond).toBe(200);
  });

  it('lowers the shared --rate when a 429 comes right after the hold of the last one', async () => {
    const a = await limiter(200);
    const b = await limiter(200);
    a.throttled(200, Date.now());
    await expect.poll(() => b.pausedUntil).toBeGreaterThan(0);
    // A request b sent once the hold was over is throttled too: the rate is too high.
    await b.schedule(async () => undefined);
    b.throttled(200, Date.now());
    expect(b.ratePerSecond).toBe(100);
    await expect.poll(() => a.ratePerSecond).toBe(100);
  });

  it('slows every limiter on a 429 without Retry-After seen by one', async () => {
    const a = await limiter(200);
    const b = await limiter(200);
    a.throttled(undefined, Date.now());
    expect(a.ratePerSecond).toBe(100);
    await expect.poll(() => b.ratePerSecond).toBe(100);
  });

  it('does not slow a limiter of another key', async () => {
    const a = await limiter(200);
    const other = await limiter(200, 'another-key');
    a.throttled(undefined, Date.now());
    await new Promise((r) => setTimeout(r, 300));
    expect(other.ratePerSecond).toBe(200);
  });

  it('starts a limiter joining a slowed-down budget at the rate the others have', async () => {
    const a = await limiter(200);
    a.throttled(undefined, Date.now());
    await expect.poll(async () => (await budgets[0]?.lastRate()) ?? 0).toBe(100);
    const late = await limiter(200);
    await expect.poll(() => late.ratePerSecond).toBe(100);
  });

  it('auto mode: a 429 seen by one slows the other, and both stay within the budget', async () => {
    const a = await limiter('auto');
    const b = await limiter('auto');
    await new Promise((r) => setTimeout(r, 100));
    a.throttled(undefined, Date.now());
    // Slow start halves on the first 429: 100/s -> 50/s, announced to b.
    expect(a.ratePerSecond).toBe(50);
    await expect.poll(() => b.ratePerSecond).toBe(50);
    // b's own search took it as a congestion event: a 429 of b's for a request sent
    // before it is the same event, not a second halving.
    b.throttled(undefined, Date.now() - 50);
    expect(b.ratePerSecond).toBe(50);
    const [sentA, sentB] = await Promise.all([sendFor(a, 1_500), sendFor(b, 1_500)]);
    // Nothing calls succeeded(): the rate stays at 50/s for the two together.
    expect((sentA + sentB) / 1.5).toBeLessThan(50 * 1.15);
    expect((sentA + sentB) / 1.5).toBeGreaterThan(50 * 0.8);
  });

  it('auto mode: a process joining starts at the budget rate, not at its slow start', async () => {
    const a = await limiter('auto');
    await new Promise((r) => setTimeout(r, 100));
    a.throttled(undefined, Date.now()); // 100/s -> 50/s, kept in Redis
    await expect.poll(async () => (await budgets[0]?.lastRate()) ?? 0).toBe(50);
    const b = await limiter('auto');
    await expect.poll(() => b.ratePerSecond).toBe(50);
    // and b joining did not pull a anywhere
    await new Promise((r) => setTimeout(r, 200));
    expect(a.ratePerSecond).toBe(50);
  });
});
