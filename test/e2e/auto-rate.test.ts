/**
 * `--rate auto` through the real CLI against a mock server with a hidden limit: the
 * run finishes with few 429s and names a limit found near the real one.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { cliTestBed, readResults, runCli, spawnCli, updateArgv, writeRows } from '../helpers.js';

const KEY = 'sk_test_auto_rate';
const LIMIT_PER_SECOND = 50;
const bed = cliTestBed(KEY, {
  rateLimit: { perSecond: LIMIT_PER_SECOND, retryAfter: 'seconds' },
  record: true,
});

interface Summary {
  counts: { updated: number; failed: number };
  requests: { sent: number; throttled: number };
  rate: {
    mode: string;
    currentPerSecond: number | null;
    limitFoundPerSecond: number | null;
    maxPerSecond: number | null;
  };
  resumeCommand: string | null;
}

describe('--rate auto', () => {
  it('finds a hidden limit of 50/s with few 429s and reports it everywhere', async () => {
    const input = writeRows(bed.dir, 'in.csv', ['id', 'name'], 300, (n) => [n, `Name ${n}`]);
    const out = `${input}.results.csv`;
    const res = await runCli(
      [
        ...updateArgv(input, out, bed.server.url),
        ...['--rate', 'auto', '--concurrency', '16', '--json'],
        ...['--log', 'json', '--progress-interval', '1'],
      ],
      { env: bed.env, timeoutMs: 60_000 },
    );
    expect(res.code).toBe(0);
    const summary = JSON.parse(res.stdout) as Summary;
    expect(summary.counts).toMatchObject({ updated: 300, failed: 0 });
    expect(readResults(out).filter((r) => r.status === 'updated')).toHaveLength(300);
    // The search's first 429 ends slow start; a few more measure the limit.
    expect(summary.requests.throttled).toBeLessThanOrEqual(15);
    expect(bed.puts().filter((r) => r.status === 429)).toHaveLength(summary.requests.throttled);
    expect(summary.rate.mode).toBe('auto');
    expect(summary.rate.maxPerSecond).toBe(1000);
    expect(summary.rate.limitFoundPerSecond).toBeGreaterThanOrEqual(0.6 * LIMIT_PER_SECOND);
    expect(summary.rate.limitFoundPerSecond).toBeLessThanOrEqual(1.2 * LIMIT_PER_SECOND);
    // The progress lines carry the same object; the last one has the limit found.
    const progress = res.stderr
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { event: string; rate?: Summary['rate'] })
      .filter((l) => l.event === 'progress');
    expect(progress.length).toBeGreaterThan(0);
    expect(progress.every((l) => l.rate?.mode === 'auto')).toBe(true);
    expect(progress.at(-1)?.rate?.limitFoundPerSecond).toBe(summary.rate.limitFoundPerSecond);
  }, 70_000);

  it('with --state, remembers the limit found and starts the next run near it', async () => {
    const state = `${bed.dir}/state`;
    const night = (name: string, rows: number) =>
      runCli(
        [
          ...updateArgv(
            writeRows(bed.dir, `${name}.csv`, ['id', 'name'], rows, (n) => [n, `${name} ${n}`]),
            `${bed.dir}/${name}.results.csv`,
            bed.server.url,
          ),
          ...['--rate', 'auto', '--concurrency', '16', '--state', state, '--json'],
          ...['--log', 'json', '--progress-interval', '1'],
        ],
        { env: bed.env, timeoutMs: 60_000 },
      );
    const first = await night('one', 300);
    expect(first.code, first.stderr).toBe(0);
    const found = (JSON.parse(first.stdout) as Summary).rate.limitFoundPerSecond;
    expect(found).not.toBeNull();
    const manifest = JSON.parse(readFileSync(`${state}/manifest.json`, 'utf8')) as {
      rate?: { limitFoundPerSecond: number };
    };
    expect(manifest.rate?.limitFoundPerSecond).toBeCloseTo(found as number, 0);

    // Every row changed: the second run sends them all, from near the limit found.
    const second = await night('two', 150);
    expect(second.code, second.stderr).toBe(0);
    const rates = second.stderr
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { event: string; rate?: Summary['rate'] })
      .filter((l) => l.event === 'progress' && l.rate !== undefined);
    expect(rates.length).toBeGreaterThan(0);
    // Without the state, slow start begins at 10/s and needs seconds to get here.
    expect(rates[0]?.rate?.currentPerSecond).toBeGreaterThanOrEqual(0.8 * (found as number));
  }, 70_000);

  it('follows a limit that drops mid-run (mock-server --rate-limit-change) and says so in the text summary', async () => {
    const server = spawnCli([
      ...['mock-server', '--port', '0', '--api-key', KEY, '--ids', 'any'],
      ...['--rate-limit', '80', '--rate-limit-change', '25@200'],
    ]);
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let seen = '';
        server.child.stdout.on('data', (d: Buffer) => {
          seen += d.toString();
          const match = /listening on (http:\/\/\S+)/.exec(seen);
          if (match?.[1] !== undefined) resolve(match[1]);
        });
        server.done.then((r) => reject(new Error(`mock server exited: ${r.stderr}`)));
      });
      const input = writeRows(bed.dir, 'in.csv', ['id', 'name'], 400, (n) => [n, `Name ${n}`]);
      const out = `${input}.results.csv`;
      const res = await runCli(
        [...updateArgv(input, out, url), '--rate', 'auto', '--concurrency', '16', '--quiet'],
        { env: bed.env, timeoutMs: 60_000 },
      );
      expect(res.code).toBe(0);
      expect(res.stdout).toMatch(
        /^ {2}rows: {5}updated 400, failed 0, invalid 0 \(of 400 read\)$/m,
      );
      const rate =
        /^ {2}rate: {5}auto, ended at ([\d.]+)\/s; limit found: about ([\d.]+)\/s$/m.exec(
          res.stdout,
        );
      expect(rate, res.stdout).not.toBeNull();
      // It followed the drop: the rate in use and the limit found are near the new limit
      // (25/s), not the first one (80/s). The figure itself can come out low in a run
      // this short (a 429 pause inside the measured interval): the rate climbs back.
      expect(Number(rate?.[1])).toBeGreaterThanOrEqual(10);
      expect(Number(rate?.[1])).toBeLessThanOrEqual(40);
      expect(Number(rate?.[2])).toBeLessThanOrEqual(40);
      const throttled = Number(/(\d+) throttled \(429\)/.exec(res.stdout)?.[1]);
      expect(throttled).toBeLessThanOrEqual(20);
    } finally {
      server.child.kill('SIGTERM');
      await server.done;
    }
  }, 70_000);
});
