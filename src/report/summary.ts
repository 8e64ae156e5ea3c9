import type { RunSummary } from '../pipeline/run/run-update.js';
import { formatDuration } from './progress.js';
import { formatPerSecond, limitFoundText } from './rate-text.js';
import { safeText } from './safe-text.js';

/** The human summary printed at the end of `update` (docs/output.md). */
export function formatSummary(summary: RunSummary, resumeCommand: string | undefined): string {
  const c = summary.counts;
  const lines: string[] = [];
  const title =
    summary.stopped === 'interrupted'
      ? 'Interrupted.'
      : summary.stopped === 'auth'
        ? 'Stopped: the API refused the key.'
        : summary.stopped === 'max-errors'
          ? 'Stopped: too many failed rows (--max-errors).'
          : summary.dryRun
            ? 'Dry run finished (nothing was sent).'
            : 'Finished.';
  lines.push(title);
  const creating = summary.operation === 'create';
  const parts = summary.dryRun
    ? [`dry-run ${c['dry-run']}`, `invalid ${c.invalid}`]
    : creating
      ? [
          `created ${c.created}`,
          ...(c.updated > 0 ? [`updated ${c.updated}`] : []),
          ...(c.unchanged > 0 ? [`unchanged ${c.unchanged}`] : []),
          `uncertain ${c.uncertain}`,
          `failed ${c.failed}`,
          `invalid ${c.invalid}`,
        ]
      : [`updated ${c.updated}`, `failed ${c.failed}`, `invalid ${c.invalid}`];
  // --state: rows not sent because the API already holds them (dry run: would not be).
  // A live import lists its own `unchanged` above.
  if (c.unchanged > 0 && (summary.dryRun || !creating))
    parts.splice(1, 0, `unchanged ${c.unchanged}`);
  if (c.alreadyDone > 0) {
    const bad = c.alreadyDoneNotUpdated - (c.alreadyUncertain ?? 0);
    const notes = [
      ...(bad > 0 ? [`${bad} of them failed or invalid`] : []),
      ...((c.alreadyUncertain ?? 0) > 0 ? [`${c.alreadyUncertain} uncertain`] : []),
    ];
    parts.push(`already done ${c.alreadyDone}${notes.length > 0 ? ` (${notes.join(', ')})` : ''}`);
  }
  if (summary.unfinished > 0) parts.push(`not finished ${summary.unfinished}`);
  lines.push(`  rows:     ${parts.join(', ')} (of ${summary.rowsRead} read)`);
  if (!summary.dryRun) {
    lines.push(
      `  requests: ${summary.requests.sent} sent, ${summary.requests.retried} retried, ${summary.requests.throttled} throttled (429)`,
    );
    lines.push(`  rate:     ${summaryRate(summary.rate, summary.requests.throttled)}`);
  }
  lines.push(
    `  time:     ${formatDuration(summary.elapsedMs)} (${summary.rowsPerSecond.toFixed(1)} rows/s)`,
  );
  lines.push(`  results:  ${summary.resultsPath}`);
  if (summary.state !== undefined) lines.push(`  state:    ${stateLine(summary.state)}`);
  if (summary.topErrors.length > 0) {
    lines.push('  most common errors:');
    for (const { error, count } of summary.topErrors) {
      lines.push(`    ${String(count).padStart(6)}  ${safeText(error)}`);
    }
  }
  if (resumeCommand !== undefined) {
    lines.push(
      resumeCommand.includes('--retry-failed')
        ? 'To re-send the failed and invalid rows once they are fixed:'
        : 'To continue where this run stopped:',
    );
    lines.push(`  ${resumeCommand}`);
  }
  return `${lines.join('\n')}\n`;
}

/** `auto, ended at 141/s; limit found: about 148/s` or `--rate 10`. */
function summaryRate(rate: RunSummary['rate'], throttled: number): string {
  if (rate.mode === 'fixed') {
    if (rate.maxPerSecond === null) return 'no limit (--rate 0)';
    const current = rate.currentPerSecond;
    const lowered =
      current !== null && current < rate.maxPerSecond
        ? `, lowered to ${formatPerSecond(current)} by 429s`
        : '';
    return `--rate ${rate.maxPerSecond}${lowered}`;
  }
  const ended =
    rate.currentPerSecond === null ? '' : `, ended at ${formatPerSecond(rate.currentPerSecond)}`;
  // 429s too few or too close together to measure between: saying "no limit found"
  // would claim there was none (seen: 9 429s in an 8 s run against 150/s).
  const found =
    rate.limitFoundPerSecond === null && throttled > 0
      ? `the API throttled (429) but no limit could be measured (too few 429s, up to --max-rate ${rate.maxPerSecond ?? 'no cap'})`
      : limitFoundText(rate, 'end');
  return `auto${ended}; ${found}`;
}

/** `state: /x/job (1000000 ids, saved in 1.2s)` or why it was not saved. */
function stateLine(state: NonNullable<RunSummary['state']>): string {
  if (state.error !== undefined) return `${state.dir}: not saved (${safeText(state.error)})`;
  if (state.ids === undefined) return `${state.dir} (read only: dry run)`;
  return `${state.dir} (${state.ids} ids${state.saveMs === undefined ? '' : `, saved in ${(state.saveMs / 1000).toFixed(1)}s`})`;
}
