import { createWriteStream } from 'node:fs';
import { stringify } from 'csv-stringify';
import type { UpdateConfig } from '../config.js';
import { EXIT, type ExitCode } from '../errors.js';
import { planColumns } from '../pipeline/columns.js';
import { openRows } from '../pipeline/read-rows.js';
import { createRowValidator } from '../pipeline/to-payload.js';
import { safeText } from '../report/safe-text.js';
import type { CommandIo } from './update.js';

export interface ValidateOptions {
  /** How many problems to list with their row numbers. @default 20 */
  show: number;
  /** Write the invalid rows (input columns plus `row` and `error`) to this CSV. */
  invalidOut?: string | undefined;
}

/**
 * `clerk-bulk validate`: the same reader, column plan and row validator as `update`,
 * with nothing sent. Exit 0 when every row is valid, 1 otherwise, 2 for file errors.
 */
export async function validateCommand(
  config: UpdateConfig,
  options: ValidateOptions,
  io: CommandIo,
): Promise<ExitCode> {
  const source = await openRows(config.input, { delimiter: config.delimiter });
  const plan = planColumns(source.header, {
    file: config.input,
    ...(config.mapping === undefined ? {} : { mapping: config.mapping }),
  });
  const validate = createRowValidator(plan, { empty: config.empty });
  const byColumn = new Map<string, number>();
  const shown: string[] = [];
  let rows = 0;
  let invalid = 0;
  let invalidOut: ReturnType<typeof stringify> | undefined;
  let finished: Promise<void> | undefined;
  if (options.invalidOut !== undefined) {
    invalidOut = stringify({
      header: true,
      columns: ['row', ...source.header, 'error'],
      escape_formulas: true,
    });
    const file = createWriteStream(options.invalidOut);
    finished = new Promise((resolve, reject) => {
      file.on('finish', resolve);
      file.on('error', reject);
    });
    invalidOut.pipe(file);
  }
  try {
    for await (const input of source.rows) {
      if (config.limit !== undefined && input.row > config.limit) break;
      rows++;
      const outcome = validate(input.cells);
      if (outcome.ok) continue;
      invalid++;
      const column = outcome.column ?? '(row)';
      byColumn.set(column, (byColumn.get(column) ?? 0) + 1);
      const text = `row ${input.row} (line ${input.line}): ${outcome.column === undefined ? '' : `${outcome.column}: `}${outcome.message}`;
      if (shown.length < options.show) shown.push(safeText(text));
      if (invalidOut !== undefined && !invalidOut.write([input.row, ...input.cells, text])) {
        await new Promise((r) => invalidOut?.once('drain', r));
      }
    }
  } finally {
    source.close();
    invalidOut?.end();
    await finished;
  }
  const out: string[] = [];
  out.push(`${config.input}: ${rows} rows, ${rows - invalid} valid, ${invalid} invalid`);
  if (invalid > 0) {
    out.push('problems by column:');
    for (const [column, count] of [...byColumn.entries()].sort((a, b) => b[1] - a[1])) {
      out.push(`  ${String(count).padStart(6)}  ${safeText(column)}`);
    }
    out.push(`first ${shown.length} problems:`);
    for (const line of shown) out.push(`  ${line}`);
    if (options.invalidOut !== undefined) out.push(`invalid rows written to ${options.invalidOut}`);
  }
  io.stdout.write(`${out.join('\n')}\n`);
  return invalid > 0 ? EXIT.ROWS_FAILED : EXIT.OK;
}
