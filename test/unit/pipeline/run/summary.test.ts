import { describe, expect, it } from 'vitest';
import {
  buildSummary,
  NO_ROWS,
  NO_SKIPS,
  plannedRate,
  type SummaryFacts,
} from '../../../../src/pipeline/run/summary.js';

const facts = (more: Partial<SummaryFacts>): SummaryFacts => ({
  input: 'in.csv',
  resultsPath: 'out.csv',
  dryRun: false,
  rowsRead: 0,
  counts: NO_ROWS,
  skipped: NO_SKIPS,
  requests: { sent: 0, throttled: 0, retried: 0 },
  elapsedMs: 1_000,
  stopped: undefined,
  readAll: true,
  topErrors: [],
  rate: plannedRate({}),
  ...more,
});

describe('buildSummary', () => {
  it('counts rows finished here and rows skipped as done by an earlier run, each once', () => {
    const summary = buildSummary(
      facts({
        rowsRead: 10,
        counts: {
          updated: 3,
          failed: 1,
          invalid: 1,
          'dry-run': 0,
          created: 0,
          uncertain: 0,
          unchanged: 0,
        },
        skipped: { updated: 2, failed: 2, invalid: 1 },
        elapsedMs: 500,
      }),
    );
    expect(summary.counts).toEqual({
      updated: 3,
      failed: 1,
      invalid: 1,
      'dry-run': 0,
      created: 0,
      uncertain: 0,
      unchanged: 0,
      alreadyDone: 5,
      alreadyDoneNotUpdated: 3,
    });
    expect(summary.unfinished).toBe(0);
    expect(summary.rowsPerSecond).toBe(10); // 5 rows finished in 0.5 s
  });

  it("counts an import's skipped created rows as done and its uncertain ones as not", () => {
    const summary = buildSummary(
      facts({
        rowsRead: 10,
        counts: {
          updated: 0,
          failed: 0,
          invalid: 1,
          'dry-run': 0,
          created: 4,
          uncertain: 1,
          unchanged: 0,
        },
        skipped: { updated: 0, failed: 0, invalid: 0, created: 3, uncertain: 1 },
      }),
    );
    expect(summary.counts.alreadyDone).toBe(4);
    expect(summary.counts.alreadyDoneNotUpdated).toBe(1);
    expect(summary.counts.alreadyUncertain).toBe(1);
    expect(summary.unfinished).toBe(0);
  });

  it('reports rows read but not finished by a stopped run', () => {
    const summary = buildSummary(
      facts({
        rowsRead: 10,
        counts: {
          updated: 4,
          failed: 0,
          invalid: 0,
          'dry-run': 0,
          created: 0,
          uncertain: 0,
          unchanged: 0,
        },
        stopped: 'interrupted',
        readAll: false,
      }),
    );
    expect(summary.stopped).toBe('interrupted');
    expect(summary.unfinished).toBe(6);
  });

  it('forgets an interruption that came after every row was read and finished', () => {
    const done = {
      updated: 5,
      failed: 0,
      invalid: 0,
      'dry-run': 0,
      created: 0,
      uncertain: 0,
      unchanged: 0,
    };
    expect(
      buildSummary(facts({ rowsRead: 5, counts: done, stopped: 'interrupted' })).stopped,
    ).toBeUndefined();
    // Not when the reader was cut short, nor for other reasons to stop.
    expect(
      buildSummary(facts({ rowsRead: 5, counts: done, stopped: 'interrupted', readAll: false }))
        .stopped,
    ).toBe('interrupted');
    expect(buildSummary(facts({ rowsRead: 5, counts: done, stopped: 'auth' })).stopped).toBe(
      'auth',
    );
  });

  it('gives a finished run resumed from its sidecar the summary of a resume that skipped every row', () => {
    const fromSidecar = buildSummary(
      facts({ rowsRead: 200, skipped: { updated: 189, failed: 10, invalid: 1 }, elapsedMs: 3 }),
    );
    expect(fromSidecar).toMatchObject({
      rowsRead: 200,
      counts: { updated: 0, failed: 0, invalid: 0, alreadyDone: 200, alreadyDoneNotUpdated: 11 },
      rowsPerSecond: 0,
      unfinished: 0,
      stopped: undefined,
    });
  });

  it('gives 0 rows per second for a run that took no time', () => {
    const counts = {
      updated: 1,
      failed: 0,
      invalid: 0,
      'dry-run': 0,
      created: 0,
      uncertain: 0,
      unchanged: 0,
    };
    expect(buildSummary(facts({ rowsRead: 1, counts, elapsedMs: 0 })).rowsPerSecond).toBe(0);
  });
});
