import Bottleneck from 'bottleneck';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '../../../../src/errors.js';
import { mendScriptError } from '../../../../src/pipeline/limit/redis-reply-fix.js';
import {
  type BudgetAnnouncement,
  type ConnectionEvent,
  openSharedBudget,
  type SharedBudget,
  SharedBudgetError,
  safeRedisUrl,
  sharedBudgetId,
} from '../../../../src/pipeline/limit/shared-budget.js';
import {
  freePort,
  hasRedisServer,
  type RedisServer,
  startRedisServer,
} from '../../../redis-server.js';

const API_KEY = 'sk_live_0123456789abcdef-not-for-redis';
const BASE_URL = 'http://127.0.0.1:9';

describe('sharedBudgetId', () => {
  it('is the same for the same base URL and key, and never contains the key', () => {
    const id = sharedBudgetId(BASE_URL, API_KEY);
    expect(id).toMatch(/^clerk-bulk:[0-9a-f]{32}$/);
    expect(sharedBudgetId(`${BASE_URL}/`, API_KEY)).toBe(id);
    expect(id).not.toContain(API_KEY);
  });

  it.each([
    ['another key', BASE_URL, `${API_KEY}x`],
    ['another API', 'http://127.0.0.1:10', API_KEY],
    // Without the separator these two would hash the same text.
    ['the same text split elsewhere', `${BASE_URL}s`, API_KEY.slice(1)],
  ])('differs for %s', (_, baseUrl, key) => {
    expect(sharedBudgetId(baseUrl, key)).not.toBe(sharedBudgetId(BASE_URL, API_KEY));
  });
});

describe('mendScriptError', () => {
  it.each([
    ['ERR SETTINGS_KEY_NOT_FOUND', 'SETTINGS_KEY_NOT_FOUND'],
    ['ERR UNKNOWN_CLIENT', 'UNKNOWN_CLIENT'],
    ['ERR OVERWEIGHT:3:2', 'OVERWEIGHT:3:2'],
    ['SETTINGS_KEY_NOT_FOUND', 'SETTINGS_KEY_NOT_FOUND'],
    ['ERR unknown command', 'ERR unknown command'],
    ['ERR UNKNOWN_CLIENT and more', 'ERR UNKNOWN_CLIENT and more'],
  ])('turns the reply %j into %j', (reply, expected) => {
    expect(mendScriptError(new Error(reply)).message).toBe(expected);
  });
});

describe('safeRedisUrl', () => {
  it('hides the password', () => {
    expect(safeRedisUrl('redis://user:hunter2@127.0.0.1:6379/0')).toBe(
      'redis://user:***@127.0.0.1:6379/0',
    );
  });
});

describe.skipIf(!hasRedisServer())('shared budget on a real redis-server', () => {
  let server: RedisServer;
  let admin: Redis;
  const open: SharedBudget[] = [];
  /** Bottleneck limiters made without the module, disconnected after each test. */
  const others: Array<{ disconnect(): unknown }> = [];

  beforeAll(async () => {
    server = await startRedisServer();
  });
  afterAll(async () => {
    await server.stop();
  });
  afterEach(async () => {
    for (const b of open.splice(0)) await b.close();
    for (const o of others.splice(0)) await o.disconnect();
    if (admin?.status === 'ready') {
      await admin.flushall();
      await admin.quit();
    }
  });

  const connectAdmin = async () => {
    admin = new Redis(server.url, { maxRetriesPerRequest: 1, lazyConnect: true });
    admin.on('error', () => undefined);
    await admin.connect();
    return admin;
  };

  const budget = async (events?: ConnectionEvent[], extra: { reconnectGiveUpMs?: number } = {}) => {
    const b = await openSharedBudget({
      redisUrl: server.url,
      baseUrl: BASE_URL,
      apiKey: API_KEY,
      initialMinTimeMs: 5,
      onConnection: (e) => events?.push(e),
      ...extra,
    });
    open.push(b);
    return b;
  };

  it('shows that plain Bottleneck stops working on Redis 7 once its keys are gone', async () => {
    // The bug the reply fix is for; if this starts failing, Bottleneck or Redis fixed it.
    const r = await connectAdmin();
    const plain = new Bottleneck({
      id: 'plain',
      datastore: 'ioredis',
      Redis,
      clientOptions: { port: server.port, host: '127.0.0.1' },
    });
    plain.on('error', () => undefined);
    others.push({ disconnect: () => plain.disconnect(false) });
    await plain.ready();
    expect(await plain.schedule(async () => 1)).toBe(1);
    await r.flushall();
    await expect(plain.schedule(async () => 2)).rejects.toThrow('ERR SETTINGS_KEY_NOT_FOUND');
  });

  it('re-creates its keys after Redis lost them (SETTINGS_KEY_NOT_FOUND on Redis 7)', async () => {
    const r = await connectAdmin();
    const b = await budget();
    await b.pacer.updateSettings({ minTime: 7 });
    expect(await b.pacer.schedule(async () => 1)).toBe(1);
    await r.flushall();
    expect(await b.pacer.schedule(async () => 2)).toBe(2);
    // Re-created with the settings this process last applied.
    expect(await r.hget(`b_${b.id}_settings`, 'minTime')).toBe('7');
  });

  it('registers again after being dropped as unresponsive (UNKNOWN_CLIENT on Redis 7)', async () => {
    const r = await connectAdmin();
    const b = await budget();
    expect(await b.pacer.schedule(async () => 1)).toBe(1);
    await r.del(`b_${b.id}_client_last_seen`);
    expect(await b.pacer.schedule(async () => 2)).toBe(2);
    expect(await r.zcard(`b_${b.id}_client_last_seen`)).toBe(1);
  });

  it('runs jobs at a fractional minTime, as AdaptiveLimiter sets it after a 429', async () => {
    const b = await budget();
    await b.pacer.updateSettings({ minTime: (6 * 1000) / 163.3 });
    const started = Date.now();
    const results = await Promise.all([1, 2, 3, 4].map((n) => b.pacer.schedule(async () => n)));
    expect(results).toEqual([1, 2, 3, 4]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(3 * 36);
  });

  it('spaces the jobs of two processes sharing the id by one minTime', async () => {
    const a = await budget();
    const b = await budget();
    await a.pacer.updateSettings({ minTime: 20 });
    const started: number[] = [];
    const job = async () => {
      started.push(Date.now());
    };
    await Promise.all(
      Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? a : b).pacer.schedule(job)),
    );
    started.sort((x, y) => x - y);
    const spanMs = (started.at(-1) ?? 0) - (started[0] ?? 0);
    // 19 gaps of 20 ms; each limiter alone would have taken half that.
    expect(spanMs).toBeGreaterThanOrEqual(19 * 20 - 5);
  });

  it('passes announcements to the other processes, not back to the sender', async () => {
    const a = await budget();
    const b = await budget();
    const seenByA: BudgetAnnouncement[] = [];
    const seenByB: BudgetAnnouncement[] = [];
    a.onAnnouncement((m) => seenByA.push(m));
    b.onAnnouncement((m) => seenByB.push(m));
    a.announce({ kind: 'rate', ratePerSecond: 150, reason: 'throttled', throttledAtRate: 300 });
    a.announce({ kind: 'pause', forMs: 2_000 });
    await expect.poll(() => seenByB.length).toBe(2);
    expect(seenByB).toEqual([
      { kind: 'rate', ratePerSecond: 150, reason: 'throttled', throttledAtRate: 300 },
      { kind: 'pause', forMs: 2_000 },
    ]);
    expect(seenByA).toEqual([]);
    await expect.poll(() => b.lastRate()).toBe(150);
  });

  it('caps requests in flight across processes', async () => {
    const a = await openSharedBudget({
      redisUrl: server.url,
      baseUrl: BASE_URL,
      apiKey: API_KEY,
      maxInFlight: 3,
    });
    const b = await openSharedBudget({
      redisUrl: server.url,
      baseUrl: BASE_URL,
      apiKey: API_KEY,
      maxInFlight: 3,
    });
    open.push(a, b);
    let running = 0;
    let most = 0;
    const request = async () => {
      running++;
      most = Math.max(most, running);
      await new Promise((r) => setTimeout(r, 30));
      running--;
      return 'ok';
    };
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) => (i % 2 === 0 ? a : b).runInFlight(request)),
    );
    expect(results).toEqual(Array(12).fill('ok'));
    expect(most).toBe(3);
  });

  it('writes nothing secret to Redis', async () => {
    const r = await connectAdmin();
    const a = await openSharedBudget({
      redisUrl: server.url,
      baseUrl: BASE_URL,
      apiKey: API_KEY,
      maxInFlight: 2,
    });
    open.push(a);
    await a.pacer.schedule(async () => undefined);
    await a.runInFlight(async () => undefined);
    a.announce({ kind: 'rate', ratePerSecond: 99, reason: 'throttled' });
    await expect.poll(() => a.lastRate()).toBe(99);
    const dump: string[] = [];
    const keys = await r.keys('*');
    expect(keys.length).toBeGreaterThan(5);
    for (const key of keys) {
      dump.push(key);
      const type = await r.type(key);
      if (type === 'string') dump.push((await r.get(key)) ?? '');
      else if (type === 'hash') dump.push(...Object.entries(await r.hgetall(key)).flat());
      else if (type === 'zset') dump.push(...(await r.zrange(key, 0, -1, 'WITHSCORES')));
      else if (type === 'list') dump.push(...(await r.lrange(key, 0, -1)));
      else if (type === 'set') dump.push(...(await r.smembers(key)));
      else throw new Error(`unexpected key type ${type} for ${key}`);
    }
    const text = dump.join('\n');
    expect(text).toContain(a.id); // the scan did see the budget's keys
    for (const secret of [API_KEY, API_KEY.slice(0, 12), Buffer.from(API_KEY).toString('base64')]) {
      expect(text).not.toContain(secret);
    }
  });

  it('fails at start with a clear error, exit 2, when nothing listens at the URL', async () => {
    const port = await freePort();
    const started = Date.now();
    const error = await openSharedBudget({
      redisUrl: `redis://user:pw-secret@127.0.0.1:${port}`,
      baseUrl: BASE_URL,
      apiKey: API_KEY,
      connectTimeoutMs: 2_000,
    }).catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(2_500);
    expect(error).toBeInstanceOf(SharedBudgetError);
    const e = error as SharedBudgetError;
    expect(e.code).toBe('E_REDIS_UNREACHABLE');
    expect(e.exitCode).toBe(EXIT.USAGE);
    expect(e.message).toContain(`redis://user:***@127.0.0.1:${port}`);
    expect(e.message).toContain('ECONNREFUSED');
    expect(e.message).not.toContain('pw-secret');
  });

  it.each([
    ['not a URL', 'localhost:6379'],
    ['another scheme', 'http://127.0.0.1:6379'],
  ])('refuses %s as --redis (exit 2)', async (_, url) => {
    await expect(
      openSharedBudget({ redisUrl: url, baseUrl: BASE_URL, apiKey: API_KEY }),
    ).rejects.toMatchObject({ code: 'E_REDIS_URL', exitCode: EXIT.USAGE });
  });

  it('tells when Redis is lost mid-run and when it is back, and schedules again', async () => {
    const events: ConnectionEvent[] = [];
    const b = await budget(events);
    expect(await b.pacer.schedule(async () => 1)).toBe(1);
    const killedAt = Date.now();
    await server.kill();
    await expect.poll(() => events.map((e) => e.state), { timeout: 2_000 }).toEqual(['lost']);
    expect(Date.now() - killedAt).toBeLessThan(1_000);
    expect(b.connection).toBe('lost');
    // A job asked for while Redis is away waits; it is not lost.
    const pending = b.pacer.schedule(async () => 2);
    await server.restart();
    await expect
      .poll(() => events.map((e) => e.state), { timeout: 5_000 })
      .toEqual(['lost', 'restored']);
    expect(await pending).toBe(2);
    expect(b.connection).toBe('up');
  });

  it('gives up on a lost Redis after reconnectGiveUpMs with E_REDIS_LOST (exit 3)', async () => {
    const events: ConnectionEvent[] = [];
    const b = await budget(events, { reconnectGiveUpMs: 1_500 });
    await b.pacer.schedule(async () => 1);
    const killedAt = Date.now();
    await server.kill();
    try {
      await expect
        .poll(() => events.map((e) => e.state), { timeout: 4_000 })
        .toEqual(['lost', 'failed']);
      const elapsedMs = Date.now() - killedAt;
      expect(elapsedMs).toBeGreaterThanOrEqual(1_400);
      expect(elapsedMs).toBeLessThan(3_000);
      const failed = events[1];
      expect(failed?.state === 'failed' && failed.error.code).toBe('E_REDIS_LOST');
      expect(failed?.state === 'failed' && failed.error.exitCode).toBe(EXIT.ABORTED);
      expect(b.connection).toBe('failed');
    } finally {
      await server.restart();
    }
  });
});
