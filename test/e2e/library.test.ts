import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type MockServer, startMockServer, updateContacts } from '../../src/index.js';
import { csv, lastLinePerRow, readResults, tempDir, writeFile } from '../helpers.js';

const KEY = 'library-key';
let server: MockServer;
let dir: string;
beforeEach(async () => {
  server = await startMockServer({ apiKey: KEY, ids: 'any', latencyMs: [1, 4] });
  dir = tempDir();
});
afterEach(async () => {
  await server.close();
});

const input = (n: number) =>
  writeFile(
    dir,
    'in.csv',
    csv(
      ['id', 'name'],
      Array.from({ length: n }, (_, i) => [`${i + 1}`, `N${i + 1}`]),
    ),
  );

describe('updateContacts (library use)', () => {
  it('runs the same pipeline as the CLI, with progress events, and returns the summary', async () => {
    const rows: number[] = [];
    let total: number | undefined;
    const summary = await updateContacts({
      input: input(50),
      out: join(dir, 'out.csv'),
      apiKey: KEY,
      baseUrl: server.url,
      ratePerSecond: 0,
      events: {
        row: (line) => rows.push(line.row),
        total: (n) => {
          total = n;
        },
      },
    });
    expect(summary.counts.updated).toBe(50);
    expect(summary.stopped).toBeUndefined();
    expect(rows.sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    expect(total).toBe(50);
    expect(readResults(join(dir, 'out.csv'))).toHaveLength(50);
  });

  it('stops on an AbortSignal, finishing and recording what was in flight', async () => {
    const controller = new AbortController();
    const out = join(dir, 'out.csv');
    let seen = 0;
    const summary = await updateContacts({
      input: input(2_000),
      out,
      apiKey: KEY,
      baseUrl: server.url,
      ratePerSecond: 500,
      concurrency: 4,
      signal: controller.signal,
      events: {
        row: () => {
          if (++seen === 100) controller.abort();
        },
      },
    });
    expect(summary.stopped).toBe('interrupted');
    expect(summary.counts.updated).toBeGreaterThanOrEqual(100);
    expect(summary.counts.updated).toBeLessThan(2_000);
    expect(summary.unfinished).toBeGreaterThan(0);
    // Everything the server received is in the results file.
    const recorded = lastLinePerRow(readResults(out));
    expect(server.requests.filter((r) => r.method === 'PUT')).toHaveLength(recorded.size);
  });

  it('refuses to run without a key unless it is a dry run', async () => {
    await expect(updateContacts({ input: input(1), out: join(dir, 'o.csv') })).rejects.toThrow(
      TypeError,
    );
    const dry = await updateContacts({ input: input(1), out: join(dir, 'o.csv'), dryRun: true });
    expect(dry.counts['dry-run']).toBe(1);
  });
});
