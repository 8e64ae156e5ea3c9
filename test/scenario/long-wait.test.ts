/**
 * A server that asks for a long wait (Retry-After of minutes) gets one line saying so,
 * not silence and not one line per request in flight.
 */
import { describe, expect, it } from 'vitest';
import { writeRows } from '../helpers.js';
import { scenarioBed } from './bed.js';

const KEY = 'long-wait-key';

describe('a long Retry-After', () => {
  const bed = scenarioBed(KEY, {
    ids: 'any',
    // Four requests in flight all get the same ten-minute wait.
    script: [{ times: 4, respond: { status: 429, headers: { 'retry-after': '600' } } }],
  });

  it('is said once, with the wait, and the run can still be stopped during it', async () => {
    const input = writeRows(bed.dir, 'in.csv', ['id', 'name'], 8, (n) => [n, `N${n}`]);
    const stop = new AbortController();
    const warnings: string[] = [];
    const run = bed.run(input, {
      concurrency: 4,
      ratePerSecond: 0,
      signal: stop.signal,
      events: {
        warn: (message) => {
          warnings.push(message);
          // Once the wait is announced, the operator stops the run.
          if (message.includes('asked to wait')) setTimeout(() => stop.abort(), 200);
        },
      },
    });
    const { summary } = await run;
    expect(summary.stopped).toBe('interrupted');
    const notices = warnings.filter((w) => w.includes('asked to wait'));
    expect(notices).toHaveLength(1);
    expect(notices[0]).toMatch(
      /^the API asked to wait 10 min \(429\); waiting until \d\d:\d\d:\d\d UTC$/,
    );
  });
});
