/**
 * Issue 4: behaviour under API trouble, through the real CLI against the mock server.
 * Every test checks the results file and what the server itself received.
 */
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type MockServer,
  type MockServerOptions,
  startMockServer,
} from '../../src/mock-server/index.js';
import type { RecordedRequest } from '../../src/mock-server/types.js';
import {
  csv,
  lastLinePerRow,
  type ResultRow,
  readResults,
  runCli,
  spawnCli,
  tempDir,
  updateArgv,
  writeFile,
  writeRows,
} from '../helpers.js';

const KEY = 'sk_live_trouble_SECRET_5c4b3a';

let server: MockServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function start(options: MockServerOptions = {}): Promise<MockServer> {
  server = await startMockServer({ apiKey: KEY, ...options });
  return server;
}

/** An input file of `rows` rows with ids `c1`..`cN`. */
function inputFile(rows: number): string {
  return writeRows(tempDir(), 'in.csv', ['id', 'name'], rows, (n) => [`c${n}`, `Name ${n}`]);
}

function inputWithIds(ids: string[]): string {
  return writeFile(
    tempDir(),
    'in.csv',
    csv(
      ['id', 'name'],
      ids.map((id) => [id, `Name ${id}`]),
    ),
  );
}

/** `update` with fast retries (`--retry-base-ms 20` unless `args` set it). */
function updateArgs(input: string, baseUrl: string, args: string[] = []): string[] {
  const fast = args.includes('--retry-base-ms') ? [] : ['--retry-base-ms', '20'];
  return updateArgv(input, join(dirname(input), 'out.csv'), baseUrl, '--quiet', ...fast, ...args);
}

const env = { CLERK_CHAT_API_KEY: KEY };
const resultsOf = (input: string): ResultRow[] => readResults(join(dirname(input), 'out.csv'));
const puts = (s: MockServer): RecordedRequest[] => s.requests.filter((r) => r.method === 'PUT');
const putsFor = (s: MockServer, id: string) => puts(s).filter((r) => r.id === id);
const byId = (lines: ResultRow[]) => new Map(lines.map((l) => [l.id, l]));

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const address = probe.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

async function until(check: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('retries', () => {
  it('retries 5xx, 408, resets, a hung request and a lost response until each row is updated', async () => {
    const s = await start({
      script: [
        { id: 'c1', times: 2, respond: { status: 500, body: { statusCode: 500 } } },
        { id: 'c2', respond: { status: 502, body: '<html><title>502</title></html>' } },
        { id: 'c3', respond: { status: 503 } },
        { id: 'c4', times: 2, respond: 'reset' },
        { id: 'c5', respond: 'hang' },
        { id: 'c6', respond: 'lost-response' },
        { id: 'c7', respond: { status: 408 } },
      ],
    });
    const input = inputFile(10);
    const res = await runCli(updateArgs(input, s.url, ['--rate', '0', '--timeout', '300']), {
      env,
      timeoutMs: 20_000,
    });
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    const lines = byId(resultsOf(input));
    expect([...lines.values()].every((l) => l.status === 'updated' && l.error === '')).toBe(true);
    const attempts = Object.fromEntries([...lines].map(([id, l]) => [id, Number(l.attempts)]));
    expect(attempts).toEqual({
      c1: 3,
      c2: 2,
      c3: 2,
      c4: 3,
      c5: 2,
      c6: 2,
      c7: 2,
      c8: 1,
      c9: 1,
      c10: 1,
    });

    // What the server saw matches, request by request.
    expect(putsFor(s, 'c1').map((r) => r.status)).toEqual([500, 500, 200]);
    expect(putsFor(s, 'c4').map((r) => r.outcome)).toEqual(['reset', 'reset', 'answered']);
    expect(putsFor(s, 'c5').map((r) => r.outcome)).toEqual(['hang', 'answered']);
    // The lost response had landed: PUT is idempotent, so sending it again is safe.
    expect(putsFor(s, 'c6').map((r) => r.outcome)).toEqual(['lost-response', 'answered']);
    expect(s.stats.updatesApplied).toBe(11);
    expect(s.contacts.get('c6')?.name).toBe('Name 6');
  });

  it('gives up on a row after --retries retries, with the last error and the attempt count', async () => {
    const s = await start({
      script: [
        { id: 'c2', times: 100, respond: { status: 503, body: { error: { message: 'db down' } } } },
      ],
    });
    const input = inputFile(3);
    const res = await runCli(updateArgs(input, s.url, ['--rate', '0', '--retries', '2']), { env });
    expect(res.code).toBe(1);
    const c2 = byId(resultsOf(input)).get('c2');
    expect(c2).toMatchObject({
      status: 'failed',
      http_status: '503',
      attempts: '3',
      error: '503 Service Unavailable: db down (after 3 attempts)',
    });
    expect(putsFor(s, 'c2')).toHaveLength(3);
  });

  it('fails rows after their retries when nothing listens at --base-url, without crashing', async () => {
    const port = await closedPort();
    const input = inputFile(3);
    const res = await runCli(
      updateArgs(input, `http://127.0.0.1:${port}`, ['--rate', '0', '--retries', '2']),
      { env },
    );
    expect(res.code).toBe(1);
    expect(res.stderr).not.toMatch(/\n\s+at /); // no stack trace
    const lines = resultsOf(input);
    expect(lines).toHaveLength(3);
    for (const line of lines) {
      expect(line).toMatchObject({
        status: 'failed',
        http_status: '',
        attempts: '3',
        error: 'connection refused (after 3 attempts)',
      });
    }
  });
});

describe('answers that are never retried', () => {
  it('turns every shape of error body into one readable line, sending each row once', async () => {
    const html =
      '<!DOCTYPE html><html><head><title>Request blocked</title></head><body>x</body></html>';
    const ids = ['e1', 'e2', 'e3', 'e4', 'e5', 'e6', 'e7', 'e8', 'e9', 'gone'];
    const s = await start({
      ids: ids.filter((id) => id !== 'gone'),
      script: [
        {
          id: 'e1',
          respond: {
            status: 422,
            body: { statusCode: 422, message: 'email is taken', error: 'Unprocessable Entity' },
          },
        },
        {
          id: 'e2',
          respond: {
            status: 400,
            body: {
              statusCode: 400,
              message: ['name must be shorter', 'email must be an email'],
              error: 'Bad Request',
            },
          },
        },
        { id: 'e3', respond: { status: 422, body: { error: { message: 'phone is locked' } } } },
        { id: 'e4', respond: { status: 422, body: { code: 'CONTACT_LOCKED' } } },
        { id: 'e5', respond: { status: 422 } },
        { id: 'e6', respond: { status: 422, body: html } },
        { id: 'e7', respond: { status: 400, body: 'invalid\r\nphone' } },
        { id: 'e8', respond: { status: 404, body: { error: 'Not Found' } } },
        // A retryable status with a proxy's page, seen through --retries 0.
        { id: 'e9', respond: { status: 502, body: html } },
      ],
    });
    const input = inputWithIds(ids);
    const res = await runCli(updateArgs(input, s.url, ['--rate', '0', '--retries', '0']), { env });
    expect(res.code).toBe(1);
    const errors = Object.fromEntries(resultsOf(input).map((l) => [l.id, l.error]));
    expect(errors).toEqual({
      e1: '422 Unprocessable Entity: email is taken',
      e2: '400 Bad Request: name must be shorter; email must be an email',
      e3: '422 Unprocessable Entity: phone is locked',
      e4: '422 Unprocessable Entity: CONTACT_LOCKED',
      e5: '422 Unprocessable Entity',
      e6: '422 Unprocessable Entity: Request blocked',
      e7: '400 Bad Request: invalid phone',
      e8: '404 Not Found',
      e9: '502 Bad Gateway: Request blocked (after 1 attempt)',
      gone: '404 Not Found: Contact not found',
    });
    for (const line of resultsOf(input)) expect(line.attempts).toBe('1');
    for (const id of ids) expect(putsFor(s, id)).toHaveLength(1);
  });
});

describe('429 and Retry-After', () => {
  /** When the run may send again, by the 429's own headers (server clock, epoch ms). */
  function windowEnd(r: RecordedRequest): number {
    const h = r.responseHeaders ?? {};
    const retryAfter = h['retry-after'];
    if (retryAfter !== undefined) {
      return /^\d+$/.test(retryAfter)
        ? (r.finishedAtMs ?? 0) + Number(retryAfter) * 1000
        : Date.parse(retryAfter);
    }
    return Number(h['x-ratelimit-reset']) * 1000;
  }

  it.each(['seconds', 'http-date', 'x-ratelimit-reset'] as const)(
    'sends nothing at all while a 429 with %s asks to wait',
    async (style) => {
      // Six pass at once, the rest meet 429s and go after the announced wait. One request
      // in flight at a time, so none can be on the wire already when a 429 comes back:
      // any request inside a window was sent after the run knew it had to wait. The other
      // rows are queued meanwhile, so this checks the whole run waits, not just the row.
      const s = await start({ rateLimit: { perSecond: 10, burst: 6, retryAfter: style } });
      const input = inputFile(10);
      const res = await runCli(updateArgs(input, s.url, ['--rate', '0', '--concurrency', '1']), {
        env,
      });
      expect(res.code).toBe(0);
      expect(resultsOf(input).every((l) => l.status === 'updated')).toBe(true);
      const all = puts(s);
      const throttled = all.filter((r) => r.status === 429);
      expect(throttled.length).toBeGreaterThan(0);
      // The two processes' clocks (performance vs Date) may differ by a few ms.
      const clockSlackMs = 15;
      for (const t of throttled) {
        const from = t.finishedAtMs ?? 0;
        const to = windowEnd(t) - clockSlackMs;
        const inside = all.filter((r) => r.receivedAtMs > from && r.receivedAtMs < to);
        expect(
          inside.map((r) => `#${r.seq} ${(r.receivedAtMs - from).toFixed(1)} ms after #${t.seq}`),
        ).toEqual([]);
      }
      // Rows that met a 429 were retried and say so.
      const retried = resultsOf(input).filter((l) => Number(l.attempts) > 1);
      expect(retried.length).toBeGreaterThan(0);
    },
  );

  it('backs off without a hint and still updates every row', async () => {
    const s = await start({ rateLimit: { perSecond: 10, burst: 6, retryAfter: 'none' } });
    const input = inputFile(16);
    const res = await runCli(
      updateArgs(input, s.url, ['--rate', '0', '--concurrency', '4', '--retries', '10', '--json']),
      { env },
    );
    expect(res.code).toBe(0);
    expect(resultsOf(input).every((l) => l.status === 'updated')).toBe(true);
    const summary = JSON.parse(res.stdout) as { requests: { sent: number; throttled: number } };
    const throttled = puts(s).filter((r) => r.status === 429).length;
    expect(summary.requests.throttled).toBe(throttled);
    expect(summary.requests.sent).toBe(puts(s).length);
    expect(throttled).toBeGreaterThan(0);
  });

  it('settles near the server limit when --rate is four times too high', async () => {
    const s = await start({ rateLimit: { perSecond: 150 } });
    const rows = 2_000;
    const input = inputFile(rows);
    const res = await runCli(updateArgs(input, s.url, ['--rate', '600', '--concurrency', '10']), {
      env,
    });
    expect(res.code).toBe(0);
    const lines = resultsOf(input);
    expect(lines).toHaveLength(rows);
    expect(lines.every((l) => l.status === 'updated')).toBe(true);

    const all = puts(s);
    const throttled = all.filter((r) => r.status === 429).length;
    expect(throttled / all.length).toBeLessThan(0.05);
    // Accepted requests per second over the run's second half: near the server's 150/s
    // (it cannot be much above; a limiter stuck low would be far below).
    const first = all[0]?.receivedAtMs ?? 0;
    const last = all.at(-1)?.receivedAtMs ?? 0;
    const middle = (first + last) / 2;
    const okLate = all.filter((r) => r.status === 200 && r.receivedAtMs >= middle).length;
    const lateRate = okLate / ((last - middle) / 1000);
    expect(lateRate).toBeGreaterThan(110);
    expect(lateRate).toBeLessThan(175);
  });
});

describe('stopping the run', () => {
  it('stops at once when the key is refused mid-run, records only rows tried, and resume re-sends them', async () => {
    const s = await start();
    const rows = 300;
    const concurrency = 4;
    const input = inputFile(rows);
    const args = (rate: number) =>
      updateArgs(input, s.url, ['--rate', String(rate), '--concurrency', String(concurrency)]);
    const { done } = spawnCli(args(100), env);
    await until(() => puts(s).length >= 40, '40 PUTs');
    s.configure({ apiKey: 'a-rotated-key' }); // the key is revoked while the run goes on
    const res = await done;

    expect(res.code).toBe(3);
    expect(res.stderr).toContain('refused the key');
    expect(res.stdout + res.stderr).not.toContain(KEY);
    const all = puts(s);
    const first401 = all.findIndex((r) => r.status === 401);
    expect(first401).toBeGreaterThan(0);
    // Only what was already in flight when the first 401 came back.
    expect(all.length - first401 - 1).toBeLessThanOrEqual(concurrency);

    const lines = resultsOf(input);
    expect(lines.length).toBeLessThan(rows);
    expect(lines.length).toBe(all.length); // every row tried is recorded, none other
    const refused = lines.filter((l) => l.status === 'failed');
    expect(refused.length).toBe(all.filter((r) => r.status === 401).length);
    for (const line of refused) {
      expect(line.http_status).toBe('401');
      expect(line.error).toContain('the API key was refused');
    }
    expect(lines.filter((l) => l.status === 'updated').length).toBe(
      all.filter((r) => r.status === 200).length,
    );

    // With the key fixed, resume sends what was refused and what was never tried.
    s.configure({ apiKey: KEY });
    s.reset();
    const again = await runCli([...args(0), '--resume'], { env });
    expect(again.code).toBe(0);
    const final = lastLinePerRow(resultsOf(input));
    expect(final.size).toBe(rows);
    expect([...final.values()].every((l) => l.status === 'updated')).toBe(true);
    const resent = new Set(puts(s).map((r) => r.id));
    for (const line of refused) expect(resent.has(line.id)).toBe(true);
    expect(puts(s).length).toBe(rows - (lines.length - refused.length));
  });

  it('stops on a 403 and exits 3, sending nothing more than was in flight', async () => {
    const s = await start({
      script: [
        {
          respond: {
            status: 403,
            body: { statusCode: 403, message: 'Forbidden resource', error: 'Forbidden' },
          },
        },
      ],
    });
    const input = inputFile(50);
    const res = await runCli(updateArgs(input, s.url, ['--rate', '0', '--concurrency', '4']), {
      env,
    });
    expect(res.code).toBe(3);
    expect(res.stdout).toContain('Stopped: the API refused the key.');
    expect(puts(s).length).toBeLessThanOrEqual(4);
    const failed = resultsOf(input).filter((l) => l.status === 'failed');
    expect(failed).toHaveLength(1);
    expect(failed[0]?.error).toBe(
      '403 Forbidden: Forbidden resource (the API key was refused; the run was stopped)',
    );
  });

  it('stops after --max-errors failed rows and exits 3', async () => {
    const s = await start({ ids: ['c1'] }); // every other row is a 404
    const input = inputFile(40);
    const res = await runCli(
      updateArgs(input, s.url, ['--rate', '0', '--concurrency', '2', '--max-errors', '3']),
      { env },
    );
    expect(res.code).toBe(3);
    expect(res.stdout).toContain('--max-errors');
    const lines = resultsOf(input);
    const failed = lines.filter((l) => l.status === 'failed').length;
    expect(failed).toBeGreaterThanOrEqual(3);
    expect(failed).toBeLessThanOrEqual(3 + 2); // plus those already in flight
    expect(lines.length).toBeLessThan(40);
    expect(lines.length).toBe(puts(s).length);
  });
});

describe('outages', () => {
  it('pauses with growing waits while the server is down and updates every row once it is back', async () => {
    const s = await start({ faults: { serverErrorRate: 1 } });
    const rows = 40;
    const input = inputFile(rows);
    const { child, done } = spawnCli(
      updateArgs(input, s.url, ['--rate', '0', '--concurrency', '4', '--retries', '2']),
      env,
    );
    let stderr = '';
    child.stderr.on('data', (d: string) => {
      stderr += d;
    });
    await until(() => (stderr.match(/still down/g) ?? []).length >= 3, 'three outage pauses');
    s.configure({ faults: { serverErrorRate: 0 } });
    const res = await done;

    expect(res.code).toBe(0);
    expect(res.stderr).toContain('the API looks down');
    expect(res.stderr).toContain('the API answers again');
    const lines = resultsOf(input);
    expect(lines).toHaveLength(rows);
    expect(lines.every((l) => l.status === 'updated')).toBe(true);
    // While paused the run only probed: far fewer failures than rows × attempts.
    const serverErrors = puts(s).filter((r) => r.status >= 500).length;
    expect(serverErrors).toBeLessThan(rows);
  });

  it('still ends, every row failed, when the server never comes back', async () => {
    await start({ faults: { serverErrorRate: 1 } });
    const s = server as MockServer;
    const input = inputFile(20);
    // --retry-base-ms 1 shrinks the 30-minute outage budget to 3.6 s.
    const res = await runCli(
      updateArgs(input, s.url, [
        '--rate',
        '0',
        '--concurrency',
        '4',
        '--retries',
        '1',
        '--retry-base-ms',
        '1',
      ]),
      { env, timeoutMs: 30_000 },
    );
    expect(res.code).toBe(1);
    expect(res.stderr).toContain('no more waiting');
    const lines = resultsOf(input);
    expect(lines).toHaveLength(20);
    for (const line of lines) {
      expect(line.status).toBe('failed');
      expect(line.error).toMatch(/^50[023] .* \(after \d+ attempts\)$/);
    }
  });
});
