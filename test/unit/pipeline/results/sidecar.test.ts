import { existsSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  discardSidecar,
  findCompleteRun,
  recordCompleteRun,
  sidecarPath,
  startFingerprint,
} from '../../../../src/pipeline/results/sidecar.js';
import { buildSummary, NO_SKIPS, plannedRate } from '../../../../src/pipeline/run/summary.js';
import type { RunSummary, UpdateOptions } from '../../../../src/pipeline/run/types.js';
import { tempDir, writeFile } from '../../../helpers.js';

/** A finished 3-row run (2 updated, 1 failed) over a fresh input and results file. */
async function finishedRun(summaryMore: Partial<RunSummary> = {}) {
  const dir = tempDir();
  const input = writeFile(dir, 'in.csv', 'id,name\n1,Ann\n2,Bob\n3,Cy\n');
  const out = writeFile(dir, 'out.csv', 'row,id,status\n(three lines)\n');
  const options: UpdateOptions = { input, out };
  const fingerprint = startFingerprint(options);
  // The run's pre-check pass feeds the hash; here the test does.
  fingerprint.inputHash.update(readFileSync(input));
  const summary = {
    ...buildSummary({
      input,
      resultsPath: out,
      dryRun: false,
      rowsRead: 3,
      counts: {
        updated: 2,
        failed: 1,
        invalid: 0,
        'dry-run': 0,
        created: 0,
        uncertain: 0,
        unchanged: 0,
      },
      skipped: NO_SKIPS,
      requests: { sent: 3, throttled: 0, retried: 0 },
      elapsedMs: 10,
      stopped: undefined,
      readAll: true,
      rate: plannedRate({}),
      topErrors: [],
    }),
    ...summaryMore,
  };
  await recordCompleteRun(fingerprint, summary, { out, limit: undefined, skipped: undefined });
  return { dir, input, out, options };
}

describe('the <out>.complete.json sidecar', () => {
  it('records a finished run, and a resume with the same input and options finds it', async () => {
    const { out, options } = await finishedRun();
    expect(JSON.parse(readFileSync(sidecarPath(out), 'utf8'))).toMatchObject({
      version: 1,
      rows: 3,
      counts: { updated: 2, failed: 1, invalid: 0 },
    });
    const record = await findCompleteRun({ ...options, resume: true }, startFingerprint(options));
    expect(record).toMatchObject({ rows: 3, counts: { updated: 2, failed: 1, invalid: 0 } });
  });

  it.each<[string, Partial<RunSummary>]>([
    ['stopped', { stopped: 'interrupted' }],
    ['left rows unfinished', { unfinished: 1 }],
    ['was a dry run', { dryRun: true }],
  ])('is not written for a run that %s', async (_, more) => {
    const { out } = await finishedRun(more);
    expect(existsSync(sidecarPath(out))).toBe(false);
  });

  it('is not trusted for other options, a --limit cut, --retry-failed with failures, or a touched file', async () => {
    const { out, options } = await finishedRun();
    const find = (o: UpdateOptions) => findCompleteRun(o, startFingerprint(o));
    expect(await find({ ...options, empty: 'null' })).toBeUndefined();
    expect(await find({ ...options, limit: 2 })).toBeUndefined();
    expect(await find({ ...options, retryFailed: true })).toBeUndefined();
    expect(await find({ ...options, dryRun: true })).toBeUndefined();
    expect(await find(options)).toBeDefined();
    const later = new Date(Date.now() + 60_000);
    utimesSync(out, later, later);
    expect(await find(options)).toBeUndefined();
  });

  it('is not trusted when the input bytes changed even with size and mtime kept', async () => {
    const { input, options } = await finishedRun();
    const before = readFileSync(input, 'utf8');
    const { mtime } = statSync(input);
    writeFileSync(input, before.replace('Ann', 'Amy'));
    utimesSync(input, mtime, mtime);
    expect(await findCompleteRun(options, startFingerprint(options))).toBeUndefined();
  });

  it('is ignored when it is not a record of this version', async () => {
    const { out, options } = await finishedRun();
    writeFileSync(sidecarPath(out), '{"version": 999}');
    expect(await findCompleteRun(options, startFingerprint(options))).toBeUndefined();
    writeFileSync(sidecarPath(out), 'not json');
    expect(await findCompleteRun(options, startFingerprint(options))).toBeUndefined();
  });

  it('is removed before a run writes the results, but not by a run refused for an existing file', async () => {
    const { dir, out } = await finishedRun();
    discardSidecar(out, 'create');
    expect(existsSync(sidecarPath(out))).toBe(true);
    discardSidecar(out, 'append');
    expect(existsSync(sidecarPath(out))).toBe(false);
    discardSidecar(join(dir, 'never-written.csv'), 'overwrite'); // nothing to remove: fine
  });
});
