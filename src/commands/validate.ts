import { createWriteStream, openSync } from 'node:fs';
import { stringify } from 'csv-stringify';
import type { UpdateConfig } from '../cli/config.js';
import { EXIT, type ExitCode, InputFileError } from '../errors.js';
import { openRows } from '../pipeline/input/open-rows.js';
import { STDIN, STDIN_NAME, spoolStdin } from '../pipeline/input/stdin.js';
import { planColumns } from '../pipeline/payload/columns.js';
import { createRowValidator, outcomeError } from '../pipeline/payload/to-payload.js';
import { formatJson, validateJson } from '../report/json-output.js';
import { safeText } from '../report/safe-text.js';
import { refuseOutputOverInput } from '../same-file.js';
import { countryOption } from './import.js';
import type { CommandIo } from './update.js';

export interface ValidateOptions {
  /** How many problems to list with their row numbers. @default 20 */
  show: number;
  /**
   * Write the invalid rows to this CSV, for fixing: `row`, `error`, then the input's
   * own columns (short rows padded, so every cell stays under its header).
   */
  invalidOut?: string | undefined;
  /** Print one JSON object (docs/json-output.md) instead of the text summary. @default false */
  json?: boolean;
  /** Check the rows as `import` reads them (create bodies: a phone, no id). @default false */
  create?: boolean;
  /** The `--key` column (checked present and non-empty on each row). */
  key?: string | undefined;
  /** `--default-country`: country of national phone numbers. */
  defaultCountry?: string | undefined;
}

function invalidOutError(path: string, cause: Error): InputFileError {
  return new InputFileError(
    `cannot write the --invalid-out file: ${cause.message}`,
    'E_INVALID_OUT',
    { file: path },
    { cause },
  );
}

/** What the per-column summary calls a problem with the row as a whole (ragged, nothing to send). */
const WHOLE_ROW = '(whole row)';

/**
 * `clerk-bulk validate`: the same reader, column plan and row validator as `update`,
 * with nothing sent. Exit 0 when every row is valid, 1 otherwise; file-level problems
 * throw (exit 2) before anything is printed.
 */
export async function validateCommand(
  config: UpdateConfig,
  options: ValidateOptions,
  io: CommandIo,
): Promise<ExitCode> {
  refuseOutputOverInput({ path: options.invalidOut, flag: '--invalid-out' }, [
    { path: config.input, what: 'the input file' },
    { path: config.map, what: 'the --map file' },
    { path: config.config, what: 'the --config file' },
  ]);
  const spooled = config.input === STDIN ? await spoolStdin(io.stdin ?? process.stdin) : undefined;
  const name = spooled === undefined ? config.input : STDIN_NAME;
  try {
    return await validateFile(spooled?.path ?? config.input, name, config, options, io);
  } finally {
    spooled?.remove();
  }
}

async function validateFile(
  path: string,
  name: string,
  config: UpdateConfig,
  options: ValidateOptions,
  io: CommandIo,
): Promise<ExitCode> {
  const source = await openRows(path, {
    delimiter: config.delimiter,
    encoding: config.encoding,
    displayName: name,
    lines: true,
  });
  let invalidOut: ReturnType<typeof stringify> | undefined;
  let finished: Promise<unknown> | undefined;
  const byColumn = new Map<string, number>();
  const shown: Array<{ row: number; line: number; error: string }> = [];
  let rows = 0;
  let invalid = 0;
  try {
    const plan = planColumns(source.header, {
      file: name,
      ...(config.mapping === undefined ? {} : { mapping: config.mapping }),
      ...(options.create === true ? { operation: 'create' as const } : {}),
      ...(options.key === undefined ? {} : { key: options.key }),
    });
    const validate = createRowValidator(plan, {
      empty: config.empty,
      ...(options.defaultCountry === undefined
        ? {}
        : { defaultCountry: countryOption(options.defaultCountry) }),
    });
    const width = source.header.length;

    if (options.invalidOut !== undefined) {
      // Opened now, so an unwritable path is an error before any reading, not a crash after.
      let fd: number;
      try {
        fd = openSync(options.invalidOut, 'w');
      } catch (cause) {
        throw invalidOutError(options.invalidOut, cause as Error);
      }
      const file = createWriteStream('', { fd });
      // Settles either way, so a late write error cannot become an unhandled rejection.
      finished = new Promise((resolve) => {
        file.on('close', () => resolve(undefined));
        // autoClose: the stream closes the fd itself after an error.
        file.on('error', (err) => resolve(err));
      });
      invalidOut = stringify({
        header: true,
        columns: ['row', 'error', ...source.header],
        // A file made to be opened in a spreadsheet: no cell may run as a formula.
        escape_formulas: true,
      });
      invalidOut.pipe(file);
    }

    for await (const input of source.rows) {
      if (config.limit !== undefined && input.row > config.limit) break;
      rows++;
      const outcome = validate(input.cells);
      if (outcome.ok) continue;
      invalid++;
      for (const column of outcome.columns.length === 0 ? [WHOLE_ROW] : outcome.columns) {
        byColumn.set(column, (byColumn.get(column) ?? 0) + 1);
      }
      const problem = outcomeError(outcome);
      if (shown.length < options.show) {
        // `lines: true` above: every row carries its line.
        shown.push({ row: input.row, line: input.line as number, error: problem });
      }
      if (invalidOut !== undefined) {
        const cells =
          input.cells.length < width
            ? [...input.cells, ...Array<string>(width - input.cells.length).fill('')]
            : input.cells;
        if (!invalidOut.write([input.row, problem, ...cells])) {
          await new Promise((resolve) => invalidOut?.once('drain', resolve));
        }
      }
    }
  } finally {
    source.close();
    invalidOut?.end();
  }
  const writeError = await finished;
  if (writeError instanceof Error && options.invalidOut !== undefined) {
    throw invalidOutError(options.invalidOut, writeError);
  }

  const code = invalid > 0 ? EXIT.ROWS_FAILED : EXIT.OK;
  if (options.json === true) {
    const facts = { input: name, rows, invalid, byColumn, problems: shown, exitCode: code };
    io.stdout.write(formatJson(validateJson({ ...facts, invalidOut: options.invalidOut })));
    return code;
  }
  const out: string[] = [];
  out.push(
    `${name}: ${rows} row${rows === 1 ? '' : 's'}, ${rows - invalid} valid, ${invalid} invalid`,
  );
  if (invalid > 0) {
    out.push('problems by column:');
    for (const [column, count] of [...byColumn.entries()].sort((a, b) => b[1] - a[1])) {
      out.push(`  ${String(count).padStart(6)}  ${column}`);
    }
    if (shown.length > 0) {
      out.push(
        shown.length < invalid
          ? `first ${shown.length} of ${invalid} invalid rows (--show N for more):`
          : 'invalid rows:',
      );
      for (const p of shown) out.push(`  row ${p.row} (line ${p.line}): ${p.error}`);
    }
    if (options.invalidOut !== undefined) {
      out.push(`invalid rows written to ${options.invalidOut} (columns row, error, then yours)`);
    }
  }
  io.stdout.write(`${safeText(out.join('\n'))}\n`);
  return code;
}
