/**
 * Rows with the same id run one after another, in file order, so the last row in the
 * file wins: within a run, and on resume when an earlier row of an id is sent again.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { csv, lastLinePerRow, readResults, writeFile } from '../helpers.js';
import { scenarioBed } from './bed.js';

const bed = scenarioBed('same-id-test-key', { ids: 'any' });

describe('rows with the same id in one run', () => {
  it('never has two requests for one id in flight, and the last row for an id wins', async () => {
    bed.server.configure({ latencyMs: [1, 8] });
    const rows = Array.from({ length: 60 }, (_, i) => [`id${i % 4}`, `Name ${i + 1}`]);
    const input = writeFile(bed.dir, 'in.csv', csv(['id', 'name'], rows));
    const run = await bed.run(input, { ratePerSecond: 0, concurrency: 8 });
    expect(run.exitCode).toBe(0);
    for (let k = 0; k < 4; k++) {
      const sent = bed.putsFor(`id${k}`);
      expect(sent).toHaveLength(15);
      // One after another: each was received after the one before it was answered.
      for (let i = 1; i < sent.length; i++) {
        expect(sent[i]?.receivedAtMs).toBeGreaterThanOrEqual(sent[i - 1]?.finishedAtMs ?? Infinity);
      }
      // In file order: rows k+1, k+5, ... so the last is row 57 + k.
      expect(sent.map((r) => (r.body as { name: string }).name)).toEqual(
        Array.from({ length: 15 }, (_, i) => `Name ${k + 1 + 4 * i}`),
      );
      expect(bed.server.contacts.get(`id${k}`)?.name).toBe(`Name ${57 + k}`);
    }
  });
});

describe('rows with the same id on resume', () => {
  const input = () =>
    writeFile(
      bed.dir,
      'in.csv',
      csv(
        ['id', 'name', 'email'],
        [
          ['A', 'Old name', 'a@example.com'],
          ['B', 'Bea', ''],
          ['A', 'New name', ''],
        ],
      ),
    );

  it('--retry-failed re-sends the later rows of a re-sent id too, so the last row still wins', async () => {
    const file = input();
    bed.server.configure({ script: [{ id: 'A', respond: { status: 500, body: 'down' } }] });
    const first = await bed.run(file, { retries: 0 });
    expect(first.exitCode).toBe(1);
    expect(lastLinePerRow(readResults(bed.outFor(file))).get(1)?.status).toBe('failed');
    expect(bed.server.contacts.get('A')?.name).toBe('New name');

    bed.server.reset();
    const again = await bed.run(file, { resume: true, retryFailed: true });
    expect(again.exitCode).toBe(0);
    // Row 1 again, then row 3 after it; row 2 (another id) is left alone.
    expect(bed.puts().map((r) => r.id)).toEqual(['A', 'A']);
    expect(bed.puts()[0]?.body).toMatchObject({ name: 'Old name' });
    expect(bed.server.contacts.get('A')?.name).toBe('New name');
    expect(bed.server.contacts.get('A')?.email).toBe('a@example.com');
    // Row 3 was done already yet sent again: it is not also counted as skipped.
    expect(again.summary.counts).toMatchObject({ updated: 2, alreadyDone: 1 });
    expect(again.summary.unfinished).toBe(0);
  });

  it('an edited earlier row is followed by the later rows of its id', async () => {
    const file = input();
    const first = await bed.run(file);
    expect(first.exitCode).toBe(0);
    writeFileSync(file, readFileSync(file, 'utf8').replace('Old name', 'Older name'));

    bed.server.reset();
    const again = await bed.run(file, { resume: true });
    expect(again.exitCode).toBe(0);
    expect(bed.puts().map((r) => r.id)).toEqual(['A', 'A']);
    expect(bed.server.contacts.get('A')?.name).toBe('New name');
  });
});
