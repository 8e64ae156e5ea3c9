/**
 * Behaviour under API trouble (retries, answers never retried, 429 and Retry-After,
 * outages), in-process against the mock server. Every test checks the results file and
 * what the server itself received. Exit codes, stop messages and the key's absence from
 * output are checked through the CLI in test/e2e/trouble.test.ts.
 */
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import type { RecordedRequest } from '../../src/mock-server/types.js';
import { csv, type ResultRow, tempDir, writeFile, writeRows } from '../helpers.js';
import { scenarioBed } from './bed.js';

const KEY = 'sk_live_trouble_SECRET_5c4b3a';
const bed = scenarioBed(KEY);

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

describe('retries', () => {
  it('retries 5xx, 408, resets, a hung request and a lost response until each row is updated', async () => {
    bed.server.configure({
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
    const run = await bed.run(input, { ratePerSecond: 0, timeoutMs: 300 });
    expect(run.warnings).toEqual([]);
    expect(run.exitCode).toBe(0);
    const lines = byId(bed.resultsOf(input));
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
    expect(bed.putsFor('c1').map((r) => r.status)).toEqual([500, 500, 200]);
    expect(bed.putsFor('c4').map((r) => r.outcome)).toEqual(['reset', 'reset', 'answered']);
    expect(bed.putsFor('c5').map((r) => r.outcome)).toEqual(['hang', 'answered']);
    // The lost response had landed: PUT is idempotent, so sending it again is safe.
    expect(bed.putsFor('c6').map((r) => r.outcome)).toEqual(['lost-response', 'answered']);
    expect(bed.server.stats.updatesApplied).toBe(11);
    expect(bed.server.contacts.get('c6')?.name).toBe('Name 6');
    // One request per attempt; every attempt after a row's first was a retry.
    expect(run.summary.requests).toEqual({ sent: 19, throttled: 0, retried: 9 });
  });

  it('gives up on a row after --retries retries, with the last error and the attempt count', async () => {
    bed.server.configure({
      script: [
        { id: 'c2', times: 100, respond: { status: 503, body: { error: { message: 'db down' } } } },
      ],
    });
    const input = inputFile(3);
    const run = await bed.run(input, { ratePerSecond: 0, retries: 2 });
    expect(run.exitCode).toBe(1);
    const c2 = byId(bed.resultsOf(input)).get('c2');
    expect(c2).toMatchObject({
      status: 'failed',
      http_status: '503',
      attempts: '3',
      error: '503 Service Unavailable: db down (after 3 attempts)',
    });
    expect(bed.putsFor('c2')).toHaveLength(3);
  });

  it('fails rows after their retries when nothing listens at the base URL, and still resolves', async () => {
    const port = await closedPort();
    const input = inputFile(3);
    const run = await bed.run(input, {
      baseUrl: `http://127.0.0.1:${port}`,
      ratePerSecond: 0,
      retries: 2,
    });
    expect(run.exitCode).toBe(1);
    const lines = bed.resultsOf(input);
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
    await bed.restart({
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
    const run = await bed.run(input, { ratePerSecond: 0, retries: 0 });
    expect(run.exitCode).toBe(1);
    const errors = Object.fromEntries(bed.resultsOf(input).map((l) => [l.id, l.error]));
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
    for (const line of bed.resultsOf(input)) expect(line.attempts).toBe('1');
    for (const id of ids) expect(bed.putsFor(id)).toHaveLength(1);
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
      await bed.restart({ rateLimit: { perSecond: 10, burst: 6, retryAfter: style } });
      const input = inputFile(10);
      const run = await bed.run(input, { ratePerSecond: 0, concurrency: 1 });
      expect(run.exitCode).toBe(0);
      expect(bed.resultsOf(input).every((l) => l.status === 'updated')).toBe(true);
      const all = bed.puts();
      const throttled = all.filter((r) => r.status === 429);
      expect(throttled.length).toBeGreaterThan(0);
      // performance-based server times vs Date-based client times may differ by a few ms.
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
      const retried = bed.resultsOf(input).filter((l) => Number(l.attempts) > 1);
      expect(retried.length).toBeGreaterThan(0);
    },
  );

  it('backs off without a hint and still updates every row', async () => {
    await bed.restart({ rateLimit: { perSecond: 10, burst: 6, retryAfter: 'none' } });
    const input = inputFile(16);
    const run = await bed.run(input, { ratePerSecond: 0, concurrency: 4, retries: 10 });
    expect(run.exitCode).toBe(0);
    expect(bed.resultsOf(input).every((l) => l.status === 'updated')).toBe(true);
    const throttled = bed.puts().filter((r) => r.status === 429).length;
    expect(run.summary.requests.throttled).toBe(throttled);
    expect(run.summary.requests.sent).toBe(bed.puts().length);
    expect(throttled).toBeGreaterThan(0);
  });

  it('settles near the server limit when the rate asked for is four times too high', async () => {
    await bed.restart({ rateLimit: { perSecond: 150 } });
    const rows = 2_000;
    const input = inputFile(rows);
    const run = await bed.run(input, { ratePerSecond: 600, concurrency: 10 });
    expect(run.exitCode).toBe(0);
    const lines = bed.resultsOf(input);
    expect(lines).toHaveLength(rows);
    expect(lines.every((l) => l.status === 'updated')).toBe(true);

    const all = bed.puts();
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

describe('outages', () => {
  it('pauses with growing waits while the server is down and updates every row once it is back', async () => {
    bed.server.configure({ faults: { serverErrorRate: 1 } });
    const rows = 40;
    const input = inputFile(rows);
    const warnings: string[] = [];
    const running = bed.run(input, {
      ratePerSecond: 0,
      concurrency: 4,
      retries: 2,
      events: {
        warn: (m) => {
          warnings.push(m);
          // Back up after the third "still down".
          if (warnings.filter((w) => w.includes('still down')).length === 3) {
            bed.server.configure({ faults: { serverErrorRate: 0 } });
          }
        },
      },
    });
    const run = await running;

    expect(run.exitCode).toBe(0);
    expect(warnings.some((w) => w.includes('the API looks down'))).toBe(true);
    expect(warnings.filter((w) => w.includes('still down'))).toHaveLength(3);
    expect(warnings.at(-1)).toMatch(/^the API answers again after \d+ (ms|s); going on$/);
    const lines = bed.resultsOf(input);
    expect(lines).toHaveLength(rows);
    expect(lines.every((l) => l.status === 'updated')).toBe(true);
    // While paused the run only probed: far fewer failures than rows × attempts.
    const serverErrors = bed.puts().filter((r) => r.status >= 500).length;
    expect(serverErrors).toBeLessThan(rows);
  });

  it('still ends, every row failed, when the server never comes back', async () => {
    bed.server.configure({ faults: { serverErrorRate: 1 } });
    const input = inputFile(20);
    // A 1 ms retry base shrinks the 30-minute outage budget to 3.6 s.
    const run = await bed.run(input, {
      ratePerSecond: 0,
      concurrency: 4,
      retries: 1,
      retryBaseDelayMs: 1,
    });
    expect(run.exitCode).toBe(1);
    expect(run.warnings.some((w) => w.includes('no more waiting'))).toBe(true);
    const lines = bed.resultsOf(input);
    expect(lines).toHaveLength(20);
    for (const line of lines) {
      expect(line.status).toBe('failed');
      expect(line.error).toMatch(/^50[023] .* \(after \d+ attempts\)$/);
    }
  });
});
