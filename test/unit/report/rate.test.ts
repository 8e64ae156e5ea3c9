import { describe, expect, it } from 'vitest';
import { plannedRate } from '../../../src/pipeline/run/summary.js';
import type { RunRate, RunSummary } from '../../../src/pipeline/run/types.js';
import { jsonLine, plainLine } from '../../../src/report/progress.js';
import { limitFoundText, rateText, shortRateText } from '../../../src/report/rate-text.js';
import { formatSummary } from '../../../src/report/summary.js';

const auto = (more: Partial<RunRate> = {}): RunRate => ({
  mode: 'auto',
  currentPerSecond: 141.3,
  limitFoundPerSecond: 148.4,
  maxPerSecond: 1000,
  ...more,
});
const fixed = (perSecond: number | null, current = perSecond): RunRate => ({
  mode: 'fixed',
  currentPerSecond: current,
  limitFoundPerSecond: null,
  maxPerSecond: perSecond,
});

describe('the rate in words', () => {
  it.each([
    [auto(), 'running', 'rate 141/s (auto; limit found: about 148/s)'],
    [auto({ limitFoundPerSecond: 4.26 }), 'end', 'rate 141/s (auto; limit found: about 4.3/s)'],
    [
      auto({ limitFoundPerSecond: null }),
      'running',
      'rate 141/s (auto; searching, up to --max-rate 1000)',
    ],
    [
      auto({ limitFoundPerSecond: null }),
      'end',
      'rate 141/s (auto; no limit found up to --max-rate 1000)',
    ],
    [fixed(10), 'running', 'rate 10/s'],
    [fixed(10, 5), 'running', 'rate 5.0/s'],
    [fixed(null), 'running', 'rate: no limit'],
  ] as const)('%j while %s: %s', (rate, when, text) => {
    expect(rateText(rate, when)).toBe(text);
  });

  it.each([
    [auto(), 'rate 141/s (limit ~148/s)'],
    [auto({ limitFoundPerSecond: null }), 'rate 141/s (searching)'],
    [fixed(10), 'rate 10/s'],
  ])('says %j briefly on the bar: %s', (rate, text) => {
    expect(shortRateText(rate)).toBe(text);
  });

  it('says nothing of a limit for a fixed rate', () => {
    expect(limitFoundText(fixed(10), 'end')).toBeUndefined();
  });
});

const state = (rateView: RunRate | undefined) => ({
  done: 50,
  total: 100,
  counts: {
    updated: 50,
    failed: 0,
    invalid: 0,
    'dry-run': 0,
    unchanged: 0,
    created: 0,
    uncertain: 0,
  },
  skipped: 0,
  retrying: 0,
  rate: rateView?.currentPerSecond ?? undefined,
  rateView,
  startedAtMs: Date.now() - 1_000,
});

describe('the progress lines', () => {
  it('end the plain line with the rate in use and the limit found', () => {
    expect(plainLine(state(auto()))).toMatch(
      /; updated 50, failed 0, invalid 0; rate 141\/s \(auto; limit found: about 148\/s\)$/,
    );
    expect(plainLine(state(undefined))).toMatch(/invalid 0$/);
  });

  it('carry the rate object in --log json lines, null before the run reports one', () => {
    expect(jsonLine(state(auto()))).toMatchObject({ event: 'progress', rate: auto() });
    expect(jsonLine(state(undefined))).toMatchObject({ rate: null });
  });
});

function summary(rate: RunRate, throttled = 0): RunSummary {
  return {
    input: 'in.csv',
    resultsPath: 'out.csv',
    dryRun: false,
    rowsRead: 10,
    counts: {
      updated: 10,
      failed: 0,
      invalid: 0,
      'dry-run': 0,
      unchanged: 0,
      created: 0,
      uncertain: 0,
      alreadyDone: 0,
      alreadyDoneNotUpdated: 0,
    },
    requests: { sent: 10 + throttled, throttled, retried: throttled },
    elapsedMs: 1_000,
    rowsPerSecond: 10,
    stopped: undefined,
    unfinished: 0,
    topErrors: [],
    rate,
  };
}

describe('the summary', () => {
  it.each([
    [auto(), 'auto, ended at 141/s; limit found: about 148/s'],
    [
      auto({ limitFoundPerSecond: null }),
      'auto, ended at 141/s; no limit found up to --max-rate 1000',
    ],
    [fixed(10), '--rate 10'],
    [fixed(10, 5), '--rate 10, lowered to 5.0/s by 429s'],
    [fixed(null), 'no limit (--rate 0)'],
  ])('names the rate: %j', (rate, text) => {
    expect(formatSummary(summary(rate), undefined)).toContain(`\n  rate:     ${text}\n`);
  });

  it('does not call a run that drew 429s but measured no limit unthrottled', () => {
    const searched = auto({ limitFoundPerSecond: null });
    expect(formatSummary(summary(searched, 9), undefined)).toContain(
      'rate:     auto, ended at 141/s; the API throttled (429) but no limit could be measured (too few 429s, up to --max-rate 1000)\n',
    );
  });

  it('gives a run that sent nothing the rate it was asked for', () => {
    expect(plannedRate({ ratePerSecond: 'auto', knownLimitPerSecond: 120.04 })).toEqual({
      mode: 'auto',
      currentPerSecond: null,
      limitFoundPerSecond: 120,
      maxPerSecond: 1000,
    });
    expect(plannedRate({ ratePerSecond: 0 })).toEqual(fixed(null));
    expect(plannedRate({})).toEqual(fixed(10));
  });
});
