/**
 * Issue 4: behaviour under API trouble, through the real CLI against the mock server:
 * how a run stops (exit code 3, what it prints, never the key). Every test checks the
 * results file and what the server itself received. Retries, 429s and outages, which
 * need no process of their own, are in test/scenario/trouble.test.ts.
 */
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type MockServer,
  type MockServerOptions,
  startMockServer,
} from '../../src/mock-server/index.js';
import type { RecordedRequest } from '../../src/mock-server/types.js';
import {
  lastLinePerRow,
  type ResultRow,
  readResults,
  runCli,
  spawnCli,
  tempDir,
  updateArgv,
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

/** `update` with fast retries (`--retry-base-ms 20` unless `args` set it). */
function updateArgs(input: string, baseUrl: string, args: string[] = []): string[] {
  const fast = args.includes('--retry-base-ms') ? [] : ['--retry-base-ms', '20'];
  return updateArgv(input, join(dirname(input), 'out.csv'), baseUrl, '--quiet', ...fast, ...args);
}

const env = { CLERK_CHAT_API_KEY: KEY };
const resultsOf = (input: string): ResultRow[] => readResults(join(dirname(input), 'out.csv'));
const puts = (s: MockServer): RecordedRequest[] => s.requests.filter((r) => r.method === 'PUT');

async function until(check: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

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
