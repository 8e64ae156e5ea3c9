/**
 * The seam for the job state (`--state`): a run given the limit an earlier run found
 * starts just under it instead of slow-starting from 10/s, and reports the limit back.
 */
import { describe, expect, it } from 'vitest';
import type { RunRate } from '../../src/pipeline/run/types.js';
import { writeRows } from '../helpers.js';
import { scenarioBed } from './bed.js';

const KEY = 'sk_test_rate_seam';
const bed = scenarioBed(KEY, { ids: 'any', rateLimit: { perSecond: 200 } });

describe('--rate auto with a known limit', () => {
  it('starts at 95 % of the known limit and carries it in the summary', async () => {
    const input = writeRows(bed.dir, 'in.csv', ['id', 'name'], 40, (n) => [n, `N${n}`]);
    const views: RunRate[] = [];
    const { summary } = await bed.run(input, {
      ratePerSecond: 'auto',
      knownLimitPerSecond: 120,
      maxRatePerSecond: 500,
      events: { rateView: (v) => views.push(v) },
    });
    expect(summary.counts.updated).toBe(40);
    expect(views[0]).toEqual({
      mode: 'auto',
      currentPerSecond: 114,
      limitFoundPerSecond: 120,
      maxPerSecond: 500,
    });
    // Under the server's 200/s: no 429, so the known figure stands.
    expect(summary.requests.throttled).toBe(0);
    expect(summary.rate).toMatchObject({ mode: 'auto', limitFoundPerSecond: 120 });
  });

  it('slow-starts from 10/s without one, and a fixed rate reports itself', async () => {
    const input = writeRows(bed.dir, 'in.csv', ['id', 'name'], 5, (n) => [n, `N${n}`]);
    const views: RunRate[] = [];
    await bed.run(input, { ratePerSecond: 'auto', events: { rateView: (v) => views.push(v) } });
    expect(views[0]).toEqual({
      mode: 'auto',
      currentPerSecond: 10,
      limitFoundPerSecond: null,
      maxPerSecond: 1000,
    });
    const fixed = await bed.run(input, { ratePerSecond: 25, force: true });
    expect(fixed.summary.rate).toEqual({
      mode: 'fixed',
      currentPerSecond: 25,
      limitFoundPerSecond: null,
      maxPerSecond: 25,
    });
  });
});
