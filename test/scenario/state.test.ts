/**
 * runUpdate with a job state, in-process: which rows are sent, what the state records,
 * and the library's `state` / `full` options.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { updateContacts } from '../../src/index.js';
import { describeState, jobFingerprint, openState } from '../../src/pipeline/state/index.js';
import { csv, readResults, writeFile } from '../helpers.js';
import { scenarioBed } from './bed.js';

const KEY = 'state-scenario-key';
const bed = scenarioBed(KEY, { ids: 'any' });

describe('rows with the same id and a job state', () => {
  it('sends a later row equal to the state when an earlier row of its id was sent (X→A, X→B, state X=B)', async () => {
    const state = join(bed.dir, 'state');
    const first = writeFile(
      bed.dir,
      'n1.csv',
      csv(
        ['id', 'name'],
        [
          ['X', 'B'],
          ['Y', 'y'],
        ],
      ),
    );
    expect((await bed.run(first, { state, ratePerSecond: 0 })).exitCode).toBe(0);
    bed.server.reset();

    const second = writeFile(
      bed.dir,
      'n2.csv',
      csv(
        ['id', 'name'],
        [
          ['X', 'A'],
          ['Y', 'y'],
          ['X', 'B'],
        ],
      ),
    );
    const run = await bed.run(second, { state, ratePerSecond: 0, force: true });
    expect(run.exitCode).toBe(0);
    expect(bed.putsFor('X').map((r) => (r.body as { name: string }).name)).toEqual(['A', 'B']);
    expect(bed.putsFor('Y')).toHaveLength(0);
    expect(bed.server.contacts.get('X')?.name).toBe('B');
    expect(
      readResults(bed.outFor(second))
        .map((l) => `${l.row}:${l.status}`)
        .sort(),
    ).toEqual(['1:updated', '2:unchanged', '3:updated']);
    expect(run.summary.counts).toMatchObject({ updated: 2, unchanged: 1 });
    expect(run.summary.state).toMatchObject({ dir: state, ids: 2 });
  });

  it('records the last row of an id: a third run of the same file sends nothing', async () => {
    const state = join(bed.dir, 'state');
    const file = writeFile(
      bed.dir,
      'in.csv',
      csv(
        ['id', 'name'],
        [
          ['X', 'A'],
          ['X', 'B'],
        ],
      ),
    );
    await bed.run(file, { state, ratePerSecond: 0 });
    const fp = jobFingerprint(bed.server.url, KEY);
    const opened = openState(state, { fingerprint: fp });
    try {
      expect(opened.size).toBe(1);
    } finally {
      opened.close();
    }
    bed.server.reset();
    // Row 1 (A) differs from the state (B): sent, so row 2 is sent after it.
    await bed.run(file, { state, ratePerSecond: 0, force: true });
    expect(bed.putsFor('X').map((r) => (r.body as { name: string }).name)).toEqual(['A', 'B']);
    expect(describeState(state).runs).toHaveLength(2);
  });
});

describe('updateContacts with state and full', () => {
  it('skips unchanged rows, and with full sends them all and still records the run', async () => {
    const state = join(bed.dir, 'state');
    const input = writeFile(
      bed.dir,
      'in.csv',
      csv(
        ['id', 'name'],
        Array.from({ length: 30 }, (_, i) => [`${i + 1}`, `N${i + 1}`]),
      ),
    );
    const common = { input, apiKey: KEY, baseUrl: bed.server.url, ratePerSecond: 0, state };
    const one = await updateContacts({ ...common, out: join(bed.dir, 'one.csv') });
    expect(one.counts).toMatchObject({ updated: 30, unchanged: 0 });
    const two = await updateContacts({ ...common, out: join(bed.dir, 'two.csv') });
    expect(two.counts).toMatchObject({ updated: 0, unchanged: 30 });
    expect(two.requests.sent).toBe(0);
    const three = await updateContacts({ ...common, out: join(bed.dir, 'three.csv'), full: true });
    expect(three.counts).toMatchObject({ updated: 30, unchanged: 0 });
    expect(bed.puts()).toHaveLength(60);
    expect(describeState(state)).toMatchObject({ ids: 30, pendingSends: 0 });
    expect(describeState(state).runs.map((r) => r.unchanged)).toEqual([0, 30, 0]);
  });
});
