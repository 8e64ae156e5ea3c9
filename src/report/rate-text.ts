/**
 * The rate in words, for the progress line, the bar and the summary: the same figures
 * as `RunSummary.rate` and the `rate` of `--log json` lines.
 */
import type { RunRate } from '../pipeline/run/types.js';

/** `148/s`, `2.5/s`; `no limit` when unlimited. */
export function formatPerSecond(perSecond: number | null): string {
  if (perSecond === null) return 'no limit';
  return `${perSecond >= 10 ? Math.round(perSecond) : perSecond.toFixed(1)}/s`;
}

/**
 * What `--rate auto` found: `limit found: about 148/s`, or, with none found,
 * `no limit found up to --max-rate 1000` (at the end) / `searching, up to --max-rate
 * 1000` (while running). Undefined for a fixed rate.
 */
export function limitFoundText(rate: RunRate, when: 'running' | 'end'): string | undefined {
  if (rate.mode !== 'auto') return undefined;
  if (rate.limitFoundPerSecond !== null) {
    return `limit found: about ${formatPerSecond(rate.limitFoundPerSecond)}`;
  }
  const max = rate.maxPerSecond === null ? 'no cap' : String(rate.maxPerSecond);
  return when === 'end'
    ? `no limit found up to --max-rate ${max}`
    : `searching, up to --max-rate ${max}`;
}

/** For the bar, where columns are scarce: `rate 142/s (limit ~148/s)`, `rate 10/s`. */
export function shortRateText(rate: RunRate): string {
  const current =
    rate.currentPerSecond === null
      ? 'rate: no limit'
      : `rate ${formatPerSecond(rate.currentPerSecond)}`;
  if (rate.mode !== 'auto') return current;
  return rate.limitFoundPerSecond === null
    ? `${current} (searching)`
    : `${current} (limit ~${formatPerSecond(rate.limitFoundPerSecond)})`;
}

/** `rate 142/s (auto; limit found: about 148/s)`, `rate 10/s` */
export function rateText(rate: RunRate, when: 'running' | 'end'): string {
  const found = limitFoundText(rate, when);
  const current =
    rate.currentPerSecond === null ? ': no limit' : ` ${formatPerSecond(rate.currentPerSecond)}`;
  return found === undefined ? `rate${current}` : `rate${current} (auto; ${found})`;
}
