import type { RunSummary } from '../pipeline/run/run-update.js';
import { formatDuration } from './progress.js';
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
  }
  lines.push(
    `  time:     ${formatDuration(summary.elapsedMs)} (${summary.rowsPerSecond.toFixed(1)} rows/s)`,
  );
  lines.push(`  results:  ${summary.resultsPath}`);
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

/** The summary as one JSON object (`--json`). */
export function summaryJson(
  summary: RunSummary,
  exitCode: number,
  resumeCommand: string | undefined,
) {
  return { ...summary, exitCode, resumeCommand: resumeCommand ?? null };
}
