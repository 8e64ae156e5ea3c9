import { EXIT, type ExitCode, UsageError } from '../errors.js';
import { writeCreatedOut } from '../report/created-out.js';
import { writeFailedOut } from '../report/failed-out.js';
import { formatJson, reportJson } from '../report/json-output.js';
import { summariseResults } from '../report/results-summary.js';
import { safeText } from '../report/safe-text.js';
import type { CommandIo } from './update.js';

/** Uncertain rows named one by one in the text report; `--json` lists them all. */
const MAX_ROWS_NAMED = 50;

/**
 * `clerk-bulk report <results.csv>`: the summary of a results file, last line per row
 * winning, as `update --resume` reads it. Exit 0 when every row is updated, 1 otherwise.
 */
export async function reportCommand(
  options: Record<string, unknown>,
  io: CommandIo,
): Promise<ExitCode> {
  const path = options.results;
  if (typeof path !== 'string' || path === '')
    throw new UsageError('missing the results file', 'E_USAGE');
  if (typeof options.input === 'string' && typeof options.failedOut !== 'string')
    throw new UsageError('--input is only used with --failed-out', 'E_USAGE');
  const summary = await summariseResults(path);
  let failedOut: { path: string; rows: number; input: string } | undefined;
  if (typeof options.failedOut === 'string') {
    failedOut = await writeFailedOut({
      results: path,
      rows: summary,
      input: options.input as string | undefined,
      out: options.failedOut,
    });
  }
  let createdOut: { path: string; rows: number } | undefined;
  if (typeof options.createdOut === 'string') {
    createdOut = await writeCreatedOut({ results: path, rows: summary, out: options.createdOut });
  }
  const c = summary.counts;
  const code = c.failed + c.invalid + c['dry-run'] + c.uncertain > 0 ? EXIT.ROWS_FAILED : EXIT.OK;
  if (options.json === true) {
    io.stdout.write(formatJson(reportJson(summary, { failedOut, createdOut, exitCode: code })));
    return code;
  }
  const importing = summary.layout === 'import';
  const good = importing
    ? `created ${c.created}, ${c.updated > 0 ? `updated ${c.updated}, ` : ''}${c.unchanged > 0 ? `unchanged ${c.unchanged}, ` : ''}uncertain ${c.uncertain}`
    : `updated ${c.updated}${c.unchanged > 0 ? `, unchanged ${c.unchanged}` : ''}`;
  const lines = [
    `${path}: ${summary.rows} rows (${summary.lines} lines)`,
    `  ${good}, failed ${c.failed}, invalid ${c.invalid}${c['dry-run'] > 0 ? `, dry-run ${c['dry-run']}` : ''}`,
  ];
  if (summary.uncertainRows.length > 0) {
    const shown = summary.uncertainRows.slice(0, MAX_ROWS_NAMED);
    const more = summary.uncertainRows.length - shown.length;
    lines.push(
      `  uncertain rows (sent, no clear answer: check Clerk Chat before --resend-uncertain): ${shown.join(', ')}${more > 0 ? ` and ${more} more` : ''}`,
    );
  }
  if (summary.tornLastLine) {
    lines.push(
      '  note: the last line is torn (a crash mid-write) and was ignored; update --resume repairs it and sends that row again',
    );
  }
  if (summary.topErrors.length > 0) {
    lines.push('  most common errors:');
    for (const { error, count } of summary.topErrors)
      lines.push(`    ${String(count).padStart(6)}  ${safeText(error)}`);
  }
  if (createdOut !== undefined)
    lines.push(`  ${createdOut.rows} created contacts written to ${createdOut.path} (row,key,id)`);
  if (failedOut !== undefined)
    lines.push(
      `  ${failedOut.rows} rows left to do copied from ${failedOut.input} to ${failedOut.path} (error in column clerk_bulk_error)`,
    );
  if (c.failed > 0) {
    lines.push(
      `  to re-send the failed rows: clerk-bulk ${importing ? 'import' : 'update'} <input.csv> --out <this file> --resume --retry-failed`,
    );
  }
  io.stdout.write(`${lines.join('\n')}\n`);
  return code;
}
