/**
 * `report --failed-out`: the rows left to do, copied from the input file with their
 * own header and cells plus a last `clerk_bulk_error` column, so the file can be fixed
 * in a spreadsheet and given back to `update` as is (planColumns ignores that column).
 * See docs/results-and-resume.md, "Reports".
 */
import { closeSync, existsSync, fstatSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { InputFileError, UsageError } from '../errors.js';
import { openRows } from '../pipeline/input/open-rows.js';
import { STDIN } from '../pipeline/input/stdin.js';
import { ERROR_COLUMN } from '../pipeline/payload/columns.js';
import { isFormulaLike, scanResultsFile, unescapeId } from '../pipeline/results/scan.js';
import { describeFsError, escapeControl } from '../pipeline/results/writer.js';
import { refuseOutputOverInput } from '../same-file.js';
import type { RowsState } from './results-summary.js';

/**
 * Rows left to do whose id and error are held at once. Results lines are in the order
 * rows finished, the input in row order: the rows are joined one window of row numbers
 * at a time, each window holding at most this many rows (one more pass over the
 * results file per window), so a file of a million failures does not hold a million
 * error strings. A million rows left to do take two windows, about 25 MB each with
 * errors of 40 characters.
 */
const ROWS_PER_WINDOW = 500_000;
const WRITE_BATCH_CHARS = 256 * 1024;
const SCAN_OPTIONS = { notResultsCode: 'E_NOT_RESULTS', malformedCode: 'E_RESULTS_MALFORMED' };

/** What {@link writeFailedInputRows} needs. */
export interface FailedOutOptions {
  /** The results file. */
  results: string;
  /** Last line per row and rows left to do, from `summariseResults`. */
  rows: RowsState;
  /** The input file the run read. */
  input: string;
  /** Where to write the rows left to do. */
  out: string;
  /** Rows to do held at once. @default ROWS_PER_WINDOW (500,000) */
  rowsPerWindow?: number;
}

/**
 * `report --failed-out`: refuse an output over the results or the input file, find the
 * input, and copy the rows left to do (see {@link writeFailedInputRows}).
 */
export async function writeFailedOut(options: {
  results: string;
  rows: RowsState;
  /** `--input`; found from the results file's name when absent. */
  input: string | undefined;
  out: string;
}): Promise<{ path: string; rows: number; input: string }> {
  const { results, out } = options;
  // The results file first: naming it is refused even when no input can be found.
  refuseOutputOverInput({ path: out, flag: '--failed-out' }, [
    { path: results, what: 'the results file' },
  ]);
  const input = findRunInput(results, options.input);
  refuseOutputOverInput({ path: out, flag: '--failed-out' }, [
    { path: input, what: 'the input file' },
  ]);
  const rows = await writeFailedInputRows({ results, rows: options.rows, input, out });
  return { path: out, rows, input };
}

/**
 * The input file a results file was written for: `--input` when given, else the
 * default name `update` gives results (`X.results.csv` and `X.dry-run.results.csv`
 * for input `X`) when that file exists.
 *
 * @throws UsageError (exit 2) for stdin, or when there is no input to find.
 */
export function findRunInput(results: string, input: string | undefined): string {
  if (input === STDIN) {
    throw new UsageError(
      '--input -: stdin cannot be read a second time; save the CSV the run read to a file and pass that with --input',
      'E_FAILED_OUT_INPUT',
    );
  }
  if (input !== undefined) return input;
  for (const suffix of ['.dry-run.results.csv', '.results.csv']) {
    if (!results.endsWith(suffix)) continue;
    const guess = results.slice(0, -suffix.length);
    if (guess !== '' && existsSync(guess)) return guess;
  }
  throw new UsageError(
    `--failed-out copies the rows from the input file, and none was found beside ${results}: pass it with --input FILE`,
    'E_FAILED_OUT_INPUT',
  );
}

/**
 * Copy the rows whose last results line is not `updated` from the input file to `out`:
 * the input's header and cells (same delimiter, cells quoted only where needed, row
 * order kept) plus the error in a last `clerk_bulk_error` column (or in the existing
 * one, for an input that is itself such a file). Each copied row must hold the id the
 * results file records for it, so a changed or wrong input is refused (exit 2) rather
 * than paired with the wrong errors. Returns the rows written.
 */
export async function writeFailedInputRows(options: FailedOutOptions): Promise<number> {
  const { results, input, out } = options;
  const { lastLineOf, toDo: todo } = options.rows;
  const rowsPerWindow = options.rowsPerWindow ?? ROWS_PER_WINDOW;
  let lastTodo = todo.lastIndexOf(1);
  if (lastTodo === -1) lastTodo = 0;

  const bom = startsWithBom(input);
  const source = await openRows(input, { precheck: false });
  let fd: number | undefined;
  try {
    try {
      fd = openSync(out, 'w');
    } catch (err) {
      throw new InputFileError(`cannot write it: ${describeFsError(err)}`, 'E_FAILED_OUT_WRITE', {
        file: out,
      });
    }
    const header = [...source.header];
    let errorAt = header.findIndex((name) => name.trim() === ERROR_COLUMN);
    if (errorAt === -1) errorAt = header.push(ERROR_COLUMN) - 1;
    const width = header.length;
    const line = (cells: string[]) =>
      `${cells.map((c) => quoteCell(c, source.delimiter)).join(source.delimiter)}\n`;
    let text = (bom ? '\uFEFF' : '') + line(header);
    let written = 0;
    const rows = source.rows[Symbol.asyncIterator]();
    let row = 0;

    for (let from = 1; from <= lastTodo; ) {
      // The next window: from `from` to the row where rowsPerWindow rows to do are reached.
      let to = from;
      for (let held = 0; to <= lastTodo; to++) {
        if (todo[to] === 1 && ++held === rowsPerWindow) break;
      }
      to = Math.min(to, lastTodo);
      const window = await holdWindow(results, lastLineOf, todo, from, to);

      while (row < to) {
        const next = await rows.next();
        if (next.done === true) {
          throw mismatch(input, results, `it ends at row ${row}, but ${results} records row ${to}`);
        }
        row = next.value.row;
        if (todo[row] !== 1) continue;
        const { id, error } = window.take(row);
        const cells = next.value.cells;
        if (id !== '' && !holdsId(cells, id)) {
          throw mismatch(input, results, `row ${row} holds no cell ${JSON.stringify(id)}`);
        }
        const copy =
          cells.length < width
            ? [...cells, ...Array<string>(width - cells.length).fill('')]
            : [...cells];
        copy[errorAt] = isFormulaLike(error) ? `'${error}` : error;
        text += line(copy);
        written++;
        if (text.length >= WRITE_BATCH_CHARS) {
          writeOut(fd, text, out);
          text = '';
        }
      }
      from = to + 1;
    }
    writeOut(fd, text, out);
    return written;
  } catch (err) {
    // Half a file of rows to fix reads as the whole list: remove it. Only a regular
    // file: `--failed-out /dev/null` must not unlink the device.
    if (fd !== undefined && fstatSync(fd).isFile()) rmSync(out, { force: true });
    throw err;
  } finally {
    source.close();
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * The id and error of every row to do in `[from, to]`, from one pass over the results
 * file. They are kept as UTF-8 in one growing buffer, not as strings: the scanner's
 * strings are slices of its 4 MB chunks and would keep whole chunks alive.
 */
async function holdWindow(
  results: string,
  lastLineOf: Uint32Array,
  todo: Uint8Array,
  from: number,
  to: number,
): Promise<{ take(row: number): { id: string; error: string } }> {
  const slotOf = new Int32Array(to - from + 1).fill(-1);
  let bounds = new Uint32Array(3 * 1024);
  let pool = Buffer.allocUnsafe(64 * 1024);
  let used = 0;
  let slots = 0;
  const put = (text: string) => {
    const most = text.length * 3;
    if (used + most > pool.length) {
      const bigger = Buffer.allocUnsafe(Math.max(pool.length * 2, used + most));
      pool.copy(bigger, 0, 0, used);
      pool = bigger;
    }
    used += pool.write(text, used);
  };
  await scanResultsFile(results, SCAN_OPTIONS, (record) => {
    const { row } = record;
    if (row < from || row > to || todo[row] !== 1 || lastLineOf[row] !== record.line) return;
    if (3 * slots + 3 > bounds.length) {
      const bigger = new Uint32Array(bounds.length * 2);
      bigger.set(bounds);
      bounds = bigger;
    }
    bounds[3 * slots] = used;
    put(unescapeId(record.id));
    bounds[3 * slots + 1] = used;
    put(record.error);
    bounds[3 * slots + 2] = used;
    slotOf[row - from] = slots++;
  });
  return {
    take(row) {
      const slot = slotOf[row - from] ?? -1;
      const [start, middle, end] = [bounds[3 * slot], bounds[3 * slot + 1], bounds[3 * slot + 2]];
      return {
        id: pool.toString('utf8', start, middle),
        error: pool.toString('utf8', middle, end),
      };
    },
  };
}

/** Whether one of the cells, trimmed, is the id as the results file records it. */
function holdsId(cells: string[], id: string): boolean {
  for (const cell of cells) {
    const trimmed = cell.trim();
    // The results file writes control characters in an id escaped (`\n`).
    if (trimmed === id || escapeControl(trimmed) === id) return true;
  }
  return false;
}

function mismatch(input: string, results: string, why: string): InputFileError {
  return new InputFileError(
    `${input} does not match ${results}: ${why} (the input changed since the run?)`,
    'E_FAILED_OUT_MISMATCH',
  );
}

/** Quote a cell only when it must be: it holds the delimiter, a quote or a line break. */
function quoteCell(cell: string, delimiter: string): string {
  return cell.includes(delimiter) || /["\r\n]/.test(cell) ? `"${cell.replace(/"/g, '""')}"` : cell;
}

/** Keep the input's byte-order mark: Excel needs it to read the file as UTF-8. */
function startsWithBom(path: string): boolean {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    const head = Buffer.alloc(3);
    return readSync(fd, head, 0, 3, 0) === 3 && head.equals(Buffer.from([0xef, 0xbb, 0xbf]));
  } catch {
    return false; // openRows below reports a missing or unreadable input
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

function writeOut(fd: number, text: string, out: string): void {
  try {
    writeSync(fd, text);
  } catch (err) {
    throw new InputFileError(`cannot write it: ${describeFsError(err)}`, 'E_FAILED_OUT_WRITE', {
      file: out,
    });
  }
}
