import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { UsageError } from '../../../src/errors.js';
import {
  type MockServer,
  parseRateLimitChange,
  runMockServerCommand,
  startMockServer,
} from '../../../src/mock-server/index.js';
import { ScheduledRateLimiter } from '../../../src/mock-server/rate-limit.js';
import { put } from './client.js';

let server: MockServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** Requests allowed when `count` of them arrive evenly spaced at `perSecond`, from `fromMs`. */
function allowedAt(
  limiter: ScheduledRateLimiter,
  fromMs: number,
  perSecond: number,
  count: number,
) {
  let allowed = 0;
  for (let i = 0; i < count; i++)
    if (limiter.take(fromMs + (i * 1000) / perSecond) === 0) allowed++;
  return allowed;
}

describe('ScheduledRateLimiter, on a fake clock', () => {
  it('drops from 300/s to 100/s after 600 requests let through', () => {
    const limiter = new ScheduledRateLimiter(
      300,
      1,
      [{ perSecond: 100, burst: 1, afterAllowed: 600 }],
      0,
    );
    // Two seconds at exactly 300/s: all allowed, and that is the 600.
    expect(allowedAt(limiter, 0, 300, 600)).toBe(600);
    expect(limiter.perSecond).toBe(300);
    // The next second at 300/s: only a third gets through now.
    const allowed = allowedAt(limiter, 2_000, 300, 300);
    expect(limiter.perSecond).toBe(100);
    expect(allowed).toBeGreaterThanOrEqual(99);
    expect(allowed).toBeLessThanOrEqual(101);
  });

  it('changes after a time, and then again, in order', () => {
    const limiter = new ScheduledRateLimiter(
      10,
      1,
      [
        { perSecond: 50, burst: 1, afterMs: 1_000 },
        { perSecond: 5, burst: 1, afterMs: 2_000 },
      ],
      0,
    );
    expect(allowedAt(limiter, 0, 50, 50)).toBeLessThanOrEqual(11);
    expect(allowedAt(limiter, 1_000, 50, 50)).toBeGreaterThanOrEqual(49);
    expect(allowedAt(limiter, 2_000, 50, 50)).toBeLessThanOrEqual(6);
    expect(limiter.perSecond).toBe(5);
  });

  it('gives the new limit a full bucket of its own burst (by default its rate) when the old one was not empty', () => {
    const limiter = new ScheduledRateLimiter(10, 1, [{ perSecond: 100, afterMs: 1_000 }], 0);
    expect(limiter.take(0)).toBe(0);
    let allowed = 0;
    for (let i = 0; i < 150; i++) if (limiter.take(5_000) === 0) allowed++;
    expect(allowed).toBe(100);
  });

  it('keeps the tokens already used across a change: an empty bucket stays empty', () => {
    const limiter = new ScheduledRateLimiter(
      1_000,
      1_000,
      [{ perSecond: 1, afterAllowed: 1_000 }],
      0,
    );
    for (let i = 0; i < 1_000; i++) expect(limiter.take(0)).toBe(0);
    // The whole burst is used; at 1/s (burst 1) the next token is a second away, not now.
    expect(limiter.take(0)).toBeGreaterThan(900);
  });
});

describe('a changing limit over HTTP', () => {
  it('answers 429 once the lower limit applies', async () => {
    server = await startMockServer({
      rateLimit: { perSecond: 1_000, burst: 10, schedule: [{ perSecond: 1, afterAllowed: 5 }] },
    });
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) statuses.push((await put(server, String(i), { name: 'x' })).status);
    expect(statuses.slice(0, 5)).toEqual([200, 200, 200, 200, 200]);
    // At 1/s with a burst of 1: at most one more within this fraction of a second.
    expect(statuses.slice(5).filter((s) => s === 429).length).toBeGreaterThanOrEqual(2);
  });

  it.each([
    [{ schedule: [{ perSecond: 0, afterAllowed: 1 }] }, /schedule\[0\]\.perSecond/],
    [{ schedule: [{ perSecond: 5 }] }, /exactly one of afterAllowed and afterMs/],
    [{ schedule: [{ perSecond: 5, afterAllowed: 1, afterMs: 1 }] }, /exactly one/],
    [{ schedule: [{ perSecond: 5, afterAllowed: 1.5 }] }, /afterAllowed/],
    [{ schedule: 'soon' }, /schedule/],
  ])('rejects a bad schedule %j, naming the field', async (bad, pattern) => {
    await expect(
      startMockServer({ rateLimit: { perSecond: 10, ...bad } as never }),
    ).rejects.toThrow(pattern);
  });
});

describe('parseRateLimitChange (--rate-limit-change)', () => {
  it.each([
    ['100@6000', [{ perSecond: 100, afterAllowed: 6_000 }]],
    ['100@30s', [{ perSecond: 100, afterMs: 30_000 }]],
    ['0.5@2.5s', [{ perSecond: 0.5, afterMs: 2_500 }]],
    [
      '100@6000, 300@90s',
      [
        { perSecond: 100, afterAllowed: 6_000 },
        { perSecond: 300, afterMs: 90_000 },
      ],
    ],
  ])('%s → %j', (spec, changes) => {
    expect(parseRateLimitChange(spec)).toEqual(changes);
  });

  it.each(['', '100', '@6000', '0@10', '100@1.5', '100@10m', 'x@1'])(
    'rejects %j with a usage error naming the flag',
    (spec) => {
      expect(() => parseRateLimitChange(spec)).toThrow(UsageError);
      expect(() => parseRateLimitChange(spec)).toThrow(/--rate-limit-change/);
    },
  );

  it('needs --rate-limit, and is shown in the settings line', async () => {
    let text = '';
    const stdout = new Writable({
      write(chunk, _enc, done) {
        text += String(chunk);
        done();
      },
    });
    await expect(
      runMockServerCommand(
        { port: 0, apiKey: 'k', ids: 'any', rateLimitChange: '1@1' },
        { stdout },
      ),
    ).rejects.toThrow(/needs --rate-limit/);
    server = await runMockServerCommand(
      { port: 0, apiKey: 'k', ids: 'any', rateLimit: 300, rateLimitChange: '100@6000' },
      { stdout },
    );
    expect(text).toContain('rate limit: 300/s');
    expect(text).toContain('then: 100@6000');
  });
});
