/**
 * Stopping a run and resuming it, in-process: the stop signals of the library API, the
 * accounting of skipped rows, and the sidecar's fast path giving the same summary as
 * the full resume. Signals sent to the CLI process are tested in test/e2e.
 */
import { rmSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { sidecarPath } from '../../src/pipeline/results/sidecar.js';
import type { RunSummary } from '../../src/pipeline/run/types.js';
import { lastLinePerRow, readResults, writeRows } from '../helpers.js';
import { scenarioBed } from './bed.js';

const bed = scenarioBed('resume-scenario-key', { ids: 'any' });

function contactsFile(n: number): string {
  return writeRows(bed.dir, 'contacts.csv', ['id', 'name', 'email'], n, (i) => [
    `${i}`,
    `Person ${i}`,
    i === 7 ? 'not-an-email' : `p${i}@example.com`,
  ]);
}

/** The summary without what depends on timing. */
function timeless(summary: RunSummary) {
  const { elapsedMs: _, rowsPerSecond: __, ...rest } = summary;
  return rest;
}

describe('a run stopped through its signal', () => {
  it('records every request sent, reports what is unfinished, and a resume finishes exactly the rest', async () => {
    bed.server.configure({ latencyMs: [1, 3] });
    const input = contactsFile(400);
    const stop = new AbortController();
    let seen = 0;
    const first = await bed.run(input, {
      ratePerSecond: 0,
      concurrency: 4,
      signal: stop.signal,
      events: {
        row: () => {
          if (++seen === 50) stop.abort();
        },
      },
    });
    expect(first.summary.stopped).toBe('interrupted');
    expect(first.exitCode).toBe(130);
    const recorded = readResults(bed.outFor(input));
    // Requests in flight when it stopped finished and were recorded: nothing unrecorded.
    expect(recorded.filter((l) => l.status !== 'invalid')).toHaveLength(bed.puts().length);
    const c = first.summary.counts;
    expect(c.invalid).toBe(1); // row 7, read long before the stop
    expect(first.summary.rowsRead).toBe(
      c.updated + c.failed + c.invalid + first.summary.unfinished,
    );
    expect(first.summary.rowsRead).toBeLessThan(400);

    bed.server.reset();
    const again = await bed.run(input, { ratePerSecond: 0, resume: true });
    expect(again.summary.stopped).toBeUndefined();
    expect(again.summary.counts.alreadyDone).toBe(recorded.length);
    expect(again.summary.counts.alreadyDoneNotUpdated).toBe(recorded.length - c.updated);
    expect(again.summary.counts.updated + again.summary.counts.invalid).toBe(400 - recorded.length);
    expect(again.summary.rowsRead).toBe(400);
    expect(again.summary.unfinished).toBe(0);
    expect(bed.puts()).toHaveLength(400 - recorded.length);
    expect(lastLinePerRow(readResults(bed.outFor(input))).size).toBe(400);
  });

  it('abandons the requests in flight on the force signal; a resume sends them again', async () => {
    await bed.restart({ latencyMs: 2_000 });
    const input = contactsFile(40);
    const stop = new AbortController();
    const force = new AbortController();
    const running = bed.run(input, {
      ratePerSecond: 0,
      concurrency: 4,
      signal: stop.signal,
      forceSignal: force.signal,
    });
    while (bed.server.stats.maxInFlight < 4) await new Promise((r) => setTimeout(r, 5));
    stop.abort();
    force.abort();
    const first = await running;
    expect(first.summary.stopped).toBe('interrupted');
    // Nothing came back before the abandon; only row 7 (invalid, never sent) is recorded.
    expect(readResults(bed.outFor(input)).map((l) => l.row)).toEqual(['7']);
    expect(bed.puts()).toHaveLength(4);

    await bed.restart({ latencyMs: 0 });
    const again = await bed.run(input, { ratePerSecond: 0, resume: true });
    expect(again.exitCode).toBe(1); // row 7 stays invalid
    expect(bed.puts()).toHaveLength(39);
  });
});

describe('resume of a finished run', () => {
  it('gives the same summary from the sidecar as from reading every row again', async () => {
    const input = contactsFile(120);
    const first = await bed.run(input, { ratePerSecond: 0 });
    expect(first.summary.counts).toMatchObject({ updated: 119, invalid: 1 });

    bed.server.reset();
    const fast = await bed.run(input, { resume: true });
    rmSync(sidecarPath(bed.outFor(input)));
    const full = await bed.run(input, { resume: true });
    expect(bed.puts()).toHaveLength(0);
    expect(timeless(fast.summary)).toEqual(timeless(full.summary));
    expect(full.summary).toMatchObject({
      rowsRead: 120,
      counts: { updated: 0, invalid: 0, alreadyDone: 120, alreadyDoneNotUpdated: 1 },
      unfinished: 0,
    });
    expect(fast.exitCode).toBe(1); // the invalid row keeps a cron job red
  });
});
