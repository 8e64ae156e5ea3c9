// `update --redis`: CLI processes sharing one rate budget through a real redis-server,
// against the mock server. Redis unreachable at start, Redis restarted mid-run, Redis
// gone for good (exit 3 and a resume that finishes the job), a process killed with
// kill -9, and nothing secret left in Redis.
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { updateContacts } from '../../src/index.js';
import {
  cliTestBed,
  lastLinePerRow,
  readResults,
  runCli,
  spawnCli,
  updateArgv,
  waitForLines,
  writeRows,
} from '../helpers.js';
import { freePort, hasRedisServer, type RedisServer, startRedisServer } from '../redis-server.js';

const KEY = 'sk_live_redis-run-test-key-0123456789';
const bed = cliTestBed(KEY);
const { env, puts } = bed;

/** `count` rows with ids 1..count. */
const input = (count: number, name = 'in.csv') =>
  writeRows(bed.dir, name, ['id', 'name'], count, (n) => [n, `Name ${n}`]);

/** Every row once in the results, `updated`, and one PUT per row. */
function expectEveryRowOnce(out: string, rows: number, putsForFile: number) {
  const lines = readResults(out);
  expect(lines.length).toBe(rows);
  expect(new Set(lines.map((l) => l.row)).size).toBe(rows);
  expect(lines.every((l) => l.status === 'updated')).toBe(true);
  expect(putsForFile).toBe(rows);
}

describe('update --redis: Redis unreachable at start', () => {
  it('exits 2 with the URL and its password hidden, sends nothing, creates no results file', async () => {
    const port = await freePort();
    const file = input(5);
    const out = join(bed.dir, 'out.csv');
    const url = `redis://ops:hunter2-secret@127.0.0.1:${port}/0`;
    const res = await runCli([...updateArgv(file, out, bed.server.url), '--redis', url], { env });
    expect(res.code).toBe(2);
    expect(res.stderr).toContain(`cannot reach Redis at redis://ops:***@127.0.0.1:${port}/0`);
    expect(res.stderr).not.toContain('hunter2');
    expect(res.stderr).not.toMatch(/\n\s+at /);
    expect(puts()).toHaveLength(0);
    // Nothing to --force over when Redis is back.
    expect(() => readResults(out)).toThrow(/ENOENT/);
  });

  it('with --redis-optional (from the environment): warns and runs on its own budget', async () => {
    const port = await freePort();
    const file = input(5);
    const out = join(bed.dir, 'out.csv');
    const res = await runCli(updateArgv(file, out, bed.server.url), {
      env: {
        ...env,
        CLERK_BULK_REDIS_URL: `redis://127.0.0.1:${port}`,
        CLERK_BULK_REDIS_OPTIONAL: '1',
      },
    });
    expect(res.code, res.stderr).toBe(0);
    expect(res.stderr).toMatch(
      /warning: cannot reach Redis at redis:\/\/127\.0\.0\.1:\d+.*--redis-optional: going on with this process's own rate budget/,
    );
    expectEveryRowOnce(out, 5, puts().length);
  });

  it('refuses --redis-max-in-flight without --redis', async () => {
    const file = input(1);
    const res = await runCli(
      [...updateArgv(file, join(bed.dir, 'o.csv'), bed.server.url), '--redis-max-in-flight', '4'],
      { env },
    );
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/--redis-max-in-flight goes with --redis/);
  });
});

describe('import --redis', () => {
  const phones = (count: number) =>
    writeRows(bed.dir, 'people.csv', ['name', 'phone'], count, (n) => [
      `Person ${n}`,
      `+1415555${String(1000 + n).padStart(4, '0')}`,
    ]);

  it('exits 2 when Redis is unreachable at start, creating nothing', async () => {
    const port = await freePort();
    const res = await runCli(
      [
        'import',
        phones(3),
        '--out',
        join(bed.dir, 'out.csv'),
        '--base-url',
        bed.server.url,
        '--redis',
        `redis://127.0.0.1:${port}`,
      ],
      { env },
    );
    expect(res.code).toBe(2);
    expect(res.stderr).toContain('cannot reach Redis');
    expect(bed.server.stats.contactsCreated).toBe(0);
  });

  it.skipIf(!hasRedisServer())(
    'creates through the shared budget and leaves nothing secret in Redis',
    async () => {
      const redis = await startRedisServer();
      try {
        const res = await runCli(
          [
            'import',
            phones(30),
            '--out',
            join(bed.dir, 'out.csv'),
            '--base-url',
            bed.server.url,
            '--redis',
            redis.url,
            '--batch-size',
            '10',
            '--quiet',
          ],
          { env },
        );
        expect(res.code, res.stderr).toBe(0);
        expect(bed.server.stats.contactsCreated).toBe(30);
        const client = new Redis(redis.url);
        try {
          const keys = await client.keys('*');
          expect(keys.length).toBeGreaterThan(0);
          for (const key of keys) {
            expect(key).not.toContain(KEY);
            const type = await client.type(key);
            const value =
              type === 'hash'
                ? JSON.stringify(await client.hgetall(key))
                : type === 'string'
                  ? String(await client.get(key))
                  : type === 'zset'
                    ? JSON.stringify(await client.zrange(key, 0, -1))
                    : type === 'list'
                      ? JSON.stringify(await client.lrange(key, 0, -1))
                      : '';
            expect(value).not.toContain(KEY);
          }
        } finally {
          client.disconnect();
        }
      } finally {
        await redis.stop();
      }
    },
  );
});

describe.skipIf(!hasRedisServer())('update --redis on a real redis-server', () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await startRedisServer();
  });
  afterAll(async () => {
    await redis.stop();
  });
  afterEach(async () => {
    // Each test restarts with an empty Redis (the server may have been killed).
    await redis.kill();
    await redis.restart();
  });

  // Retried once: in the full suite on two shared cores (load 5) the survivors were
  // once measured at 106/s after the kill against 201/s for the three before it (the
  // takeover ran late; alone the test passes in 6-7 s). Still open: see
  // docs/performance.md, runs 3 and 4.
  const retryOnce = { timeout: 40_000, retry: 1 };
  it(
    'three processes share one rate; one killed with kill -9 leaves its share to the others; nothing secret in Redis',
    retryOnce,
    async () => {
      // 200/s across the three, each started at --rate 200: without the shared budget
      // they would send 600/s into a 200/s limit (bench/shared-budget.mjs shows that).
      bed.server.configure({ rateLimit: { perSecond: 200, burst: 20 } });
      const files = [1, 2, 3].map((n) => input(400, `in-${n}.csv`));
      const runs = files.map((f, n) =>
        spawnCli(
          [
            ...updateArgv(f, join(bed.dir, `out-${n}.csv`), bed.server.url),
            '--redis',
            redis.url,
            '--rate',
            '200',
            '--concurrency',
            '8',
            '--quiet',
          ],
          env,
        ),
      );
      const [victim, ...survivors] = runs;
      await waitForLines(join(bed.dir, 'out-0.csv'), 80);
      const killedAtMs = Date.now();
      victim?.child.kill('SIGKILL');
      const results = await Promise.all(survivors.map((r) => r.done));
      for (const r of results) expect(r.code, r.stderr).toBe(0);

      const answered = bed.server.requests.filter((r) => r.method === 'PUT');
      const throttled = answered.filter((r) => r.status === 429).length;
      // Start-up (three processes joining) may cost a few 429s, never a third of them.
      expect(throttled / answered.length, `${throttled} of ${answered.length}`).toBeLessThan(0.05);
      const ok = answered.filter((r) => r.status === 200).map((r) => r.receivedAtMs);
      const rate = (fromMs: number, toMs: number) =>
        (ok.filter((t) => t >= fromMs && t < toMs).length * 1000) / (toMs - fromMs);
      // Three processes together, then the two survivors from 1 s after the kill until
      // the first of them is done: the same budget. (Compared with each other rather than
      // with 100/s: on two busy cores the processes themselves may fall short of it.)
      const firstOk = Math.min(...ok);
      const firstEnd = Math.min(
        ...[1, 2].map((n) =>
          Math.max(
            ...readResults(join(bed.dir, `out-${n}.csv`)).map((l) => Date.parse(l.finished_at)),
          ),
        ),
      );
      const before = rate(firstOk + 500, killedAtMs);
      const after = rate(killedAtMs + 1_000, firstEnd);
      expect(firstEnd - killedAtMs, 'survivors ran on after the kill (ms)').toBeGreaterThan(2_000);
      expect(after, `${before}/s before the kill`).toBeGreaterThan(before * 0.8);
      expect(after).toBeLessThan(220);
      for (const n of [1, 2]) {
        const out = join(bed.dir, `out-${n}.csv`);
        expect(new Set(readResults(out).map((l) => l.row)).size).toBe(400);
      }

      // Redis holds only ids, settings, counters and the last rate: never the key.
      const admin = new Redis(redis.url);
      try {
        const keys = await admin.keys('*');
        expect(keys.length).toBeGreaterThan(0);
        const dump: string[] = [...keys];
        for (const key of keys) {
          const type = await admin.type(key);
          if (type === 'string') dump.push(String(await admin.get(key)));
          else if (type === 'hash') dump.push(JSON.stringify(await admin.hgetall(key)));
          else if (type === 'zset') dump.push(JSON.stringify(await admin.zrange(key, 0, -1)));
          else if (type === 'list') dump.push(JSON.stringify(await admin.lrange(key, 0, -1)));
          else if (type === 'set') dump.push(JSON.stringify(await admin.smembers(key)));
        }
        const text = dump.join('\n');
        expect(text).not.toContain(KEY);
        expect(text).not.toContain(KEY.slice(8, 24));
        expect(
          keys.every((k) => k.startsWith('b_clerk-bulk:') || k.startsWith('clerk-bulk:')),
        ).toBe(true);
      } finally {
        await admin.quit();
      }
    },
  );

  it('pauses while Redis restarts mid-run and goes on: every row exactly once', async () => {
    const file = input(300);
    const out = join(bed.dir, 'out.csv');
    const run = spawnCli(
      [...updateArgv(file, out, bed.server.url), '--redis', redis.url, '--rate', '200'],
      { ...env, CLERK_BULK_PROGRESS_INTERVAL: '60' },
    );
    await waitForLines(out, 50);
    await redis.kill();
    await new Promise((r) => setTimeout(r, 700));
    await redis.restart();
    const res = await run.done;
    expect(res.code, res.stderr).toBe(0);
    expect(res.stderr).toMatch(/warning: lost Redis at redis:\/\/127\.0\.0\.1:\d+/);
    expect(res.stderr).toMatch(/warning: Redis at redis:\/\/127\.0\.0\.1:\d+ is back after/);
    expectEveryRowOnce(out, 300, puts().length);
  }, 30_000);

  it('stops with exit 3 and the resume command when Redis stays away; the resume finishes', async () => {
    const file = input(300);
    const out = join(bed.dir, 'out.csv');
    const run = spawnCli(
      [
        ...updateArgv(file, out, bed.server.url),
        '--redis',
        redis.url,
        '--rate',
        '200',
        '--redis-give-up-ms',
        '1000',
        '--quiet',
      ],
      env,
    );
    await waitForLines(out, 50);
    await redis.kill();
    const res = await run.done;
    expect(res.code).toBe(3);
    expect(res.stderr).toMatch(
      /lost Redis at redis:\/\/127\.0\.0\.1:\d+\/? for 1 s.*stopped there after \d+ requests/,
    );
    const command = /to continue once that is fixed: clerk-bulk (.*)/.exec(res.stderr)?.[1] ?? '';
    expect(command).toContain(`--redis ${redis.url}`);
    expect(res.stderr).not.toContain(KEY);
    // Every request that went out is recorded, once; none was left unrecorded.
    const lines = readResults(out);
    expect(lines.length).toBe(puts().length);
    expect(new Set(lines.map((l) => l.row)).size).toBe(lines.length);
    expect(lines.length).toBeLessThan(300);

    await redis.restart();
    const resumed = await runCli(command.split(' '), { env });
    expect(resumed.code, resumed.stderr).toBe(0);
    const final = lastLinePerRow(readResults(out));
    expect(final.size).toBe(300);
    expect([...final.values()].every((l) => l.status === 'updated')).toBe(true);
    expect(readResults(out).length).toBe(300);
    expect(puts().length).toBe(300);
  }, 30_000);

  it('library: two updateContacts runs with redisUrl keep to one global in-flight cap', async () => {
    bed.server.configure({ latencyMs: [20, 30] });
    const run = (n: number) =>
      updateContacts({
        input: input(150, `lib-${n}.csv`),
        out: join(bed.dir, `lib-${n}.results.csv`),
        apiKey: KEY,
        baseUrl: bed.server.url,
        ratePerSecond: 0,
        concurrency: 8,
        redisUrl: redis.url,
        redisMaxInFlight: 3,
      });
    const [a, b] = await Promise.all([run(1), run(2)]);
    expect(a.counts.updated + b.counts.updated).toBe(300);
    // 16 would be in flight without the cap (8 each).
    expect(bed.server.stats.maxInFlight).toBeLessThanOrEqual(3);
    expect(bed.server.stats.maxInFlight).toBeGreaterThanOrEqual(2);
  }, 20_000);
});
