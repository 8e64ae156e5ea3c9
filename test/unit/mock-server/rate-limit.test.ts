import { afterEach, describe, expect, it } from 'vitest';
import {
  type MockServer,
  type RetryAfterStyle,
  startMockServer,
} from '../../../src/mock-server/index.js';
import { RateLimiter, retryHeaders } from '../../../src/mock-server/rate-limit.js';
import { put, sleep } from './client.js';

let server: MockServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe('RateLimiter, on a fake clock', () => {
  it.each([50, 3, 7.5, 1000])(
    'never limits %d evenly spaced requests per second, even with a burst of 1',
    (perSecond) => {
      const limiter = new RateLimiter(perSecond, 1);
      const intervalMs = 1000 / perSecond;
      const start = 123_456.789;
      for (let i = 0; i < 10_000; i++) expect(limiter.take(start + i * intervalMs)).toBe(0);
    },
  );

  it('limits a request that comes a millisecond early, and says how long to wait', () => {
    const limiter = new RateLimiter(50, 1);
    expect(limiter.take(1000)).toBe(0);
    expect(limiter.take(1019)).toBeCloseTo(1, 6);
    expect(limiter.take(1020)).toBe(0);
  });

  it('allows a burst, then one request per interval, and refused requests take no token', () => {
    const limiter = new RateLimiter(10, 3);
    expect([limiter.take(0), limiter.take(0), limiter.take(0)]).toEqual([0, 0, 0]);
    expect(limiter.take(0)).toBeCloseTo(100, 6);
    for (let i = 0; i < 20; i++) expect(limiter.take(50)).toBeGreaterThan(0);
    expect(limiter.take(100)).toBe(0);
    expect(limiter.take(100)).toBeGreaterThan(0);
  });

  it('refills to the full burst after a quiet spell, and no further', () => {
    const limiter = new RateLimiter(10, 2);
    expect(limiter.take(0)).toBe(0);
    expect(limiter.take(0)).toBe(0);
    expect([limiter.take(60_000), limiter.take(60_000)]).toEqual([0, 0]);
    expect(limiter.take(60_000)).toBeGreaterThan(0);
  });
});

describe('retryHeaders', () => {
  const NOW = Date.parse('2026-11-26T12:00:00.400Z');
  it.each([
    ['seconds', 250, { 'retry-after': '1' }],
    ['seconds', 2_100, { 'retry-after': '3' }],
    ['http-date', 250, { 'retry-after': 'Thu, 26 Nov 2026 12:00:01 GMT' }],
    [
      'x-ratelimit-reset',
      250,
      { 'x-ratelimit-reset': String(Date.parse('2026-11-26T12:00:01Z') / 1000) },
    ],
    ['none', 250, {}],
  ] as const)('in the %s style, a wait of %i ms gives %j', (style, waitMs, headers) => {
    expect(retryHeaders(style, waitMs, NOW)).toEqual(headers);
  });
});

describe('the rate limit over HTTP', () => {
  it('never answers 429 to requests evenly spaced at the limit', async () => {
    server = await startMockServer({ rateLimit: { perSecond: 50 } });
    const s = server;
    const start = performance.now();
    const answers = await Promise.all(
      Array.from({ length: 50 }, async (_, i) => {
        await sleep(start + i * 20 - performance.now());
        return (await put(s, String(i), { name: 'x' })).status;
      }),
    );
    expect(answers.filter((status) => status !== 200)).toEqual([]);
    expect(s.stats.byStatus[429]).toBeUndefined();
  });

  it.each([
    ['seconds', (h: Headers) => expect(h['retry-after']).toBe('1')],
    [
      'http-date',
      (h: Headers) => {
        const atMs = Date.parse(String(h['retry-after']));
        expect(atMs).toBeGreaterThan(Date.now() - 1_000);
        expect(atMs).toBeLessThanOrEqual(Date.now() + 2_000);
        expect(h['x-ratelimit-reset']).toBeUndefined();
      },
    ],
    [
      'x-ratelimit-reset',
      (h: Headers) => {
        const epochSeconds = Number(h['x-ratelimit-reset']);
        expect(Number.isInteger(epochSeconds)).toBe(true);
        expect(epochSeconds * 1000).toBeGreaterThanOrEqual(Date.now() - 1_000);
        expect(epochSeconds * 1000).toBeLessThanOrEqual(Date.now() + 2_000);
        expect(h['retry-after']).toBeUndefined();
      },
    ],
    [
      'none',
      (h: Headers) => {
        expect(h['retry-after']).toBeUndefined();
        expect(h['x-ratelimit-reset']).toBeUndefined();
      },
    ],
  ] as const)(
    'answers 429 beyond the burst, with the %s hint',
    async (retryAfter, checkHeaders) => {
      server = await startMockServer({
        rateLimit: { perSecond: 2, burst: 3, retryAfter: retryAfter as RetryAfterStyle },
      });
      const s = server;
      const answers = await Promise.all(
        Array.from({ length: 6 }, (_, i) => put(s, String(i), { name: 'x' })),
      );
      const limited = answers.filter((a) => a.status === 429);
      expect(answers.filter((a) => a.status === 200)).toHaveLength(3);
      expect(limited).toHaveLength(3);
      for (const answer of limited) {
        expect(answer.body).toEqual({
          statusCode: 429,
          message: 'ThrottlerException: Too Many Requests',
        });
        checkHeaders(answer.headers);
      }
      expect(s.stats.byStatus).toEqual({ 200: 3, 429: 3 });
      expect(s.stats.updatesApplied).toBe(3);
    },
  );

  it('lets a client back in once a token is free, and can be changed or removed while running', async () => {
    server = await startMockServer({ rateLimit: { perSecond: 20, burst: 1 } });
    expect((await put(server, '1', {})).status).toBe(200);
    expect((await put(server, '1', {})).status).toBe(429);
    await sleep(60);
    expect((await put(server, '1', {})).status).toBe(200);
    server.configure({ rateLimit: undefined });
    const statuses = await Promise.all(
      Array.from({ length: 10 }, () => put(server as MockServer, '1', {})),
    );
    expect(statuses.every((a) => a.status === 200)).toBe(true);
  });
});

type Headers = Record<string, string | string[] | undefined>;
