import { open } from 'node:fs/promises';
import { StringDecoder } from 'node:string_decoder';
import { parse } from 'csv-parse/sync';
import { InputFileError } from '../../errors.js';
import { IMPORT_RESULTS_COLUMNS, RESULTS_COLUMNS, type ResultsLayout } from './writer.js';

/** The header line every update results file starts with (docs/results-and-resume.md). */
export const RESULTS_HEADER = RESULTS_COLUMNS.join(',');
/** The header line of an import's results file (docs/results-and-resume.md). */
export const IMPORT_RESULTS_HEADER = IMPORT_RESULTS_COLUMNS.join(',');

const HEADERS: Record<ResultsLayout, string> = {
  update: RESULTS_HEADER,
  import: IMPORT_RESULTS_HEADER,
};

/**
 * Bytes read per chunk. Small enough that a chunk's text is not a large heap object:
 * with 4 MB chunks, folding a 1M-line file at the end of a `--state` run raised the
 * heap from ~21 to ~53 MB (a mark-compact every 40 ms) and peak RSS by ~25 MB.
 */
const CHUNK_BYTES = 256 * 1024;

/**
 * One data line of a results file. The scanner reuses a single object for every line:
 * copy what you keep.
 */
export interface ResultsRecord {
  /** Physical line in the file (the header is line 1). */
  line: number;
  /** `row` as a number; NaN when it is not a number. */
  row: number;
  /** The id as written: a formula-like id carries a leading `'` (see {@link unescapeId}). */
  id: string;
  /** Import files: the `key` cell as written ('' in an update file). */
  key: string;
  status: string;
  httpStatus: string;
  error: string;
  sha256: string;
  /** Cells on the line: 8 in a well-formed one (a plain line with more also says 8). */
  cells: number;
}

export interface ResultsScan {
  /** Data lines read (the header and a torn last line excluded). */
  lines: number;
  /** The file was empty (no header yet). */
  empty: boolean;
  /**
   * The file does not end with a newline: its last line was torn by a crash mid-write.
   * That line was not passed on; `validBytes` is where it starts.
   */
  tornLine: boolean;
  /** Bytes up to and including the last newline: the part that was read. */
  validBytes: number;
  /** Size of the file when it was read. */
  size: number;
  /** The format its header names (`update` for an empty file). */
  layout: ResultsLayout;
}

export interface ScanOptions {
  /** Code of the error thrown when the first line is not the results header. */
  notResultsCode: string;
  /** Code of the error thrown for a line that cannot be read. */
  malformedCode: string;
  /** The formats accepted; another header is "not a results file". @default ['update'] */
  layouts?: readonly ResultsLayout[];
}

/**
 * Read a results file line by line and hand each data line to `onLine`.
 *
 * Results lines are machine-written, one physical line each (see `formatResultLine`):
 * a line without a `"` holds no quoted cell, so splitting it on commas is exact and
 * much faster than a CSV parser (1M lines: well under a second instead of ~11 s).
 * Only a line with a quote (a quoted id or error) goes through csv-parse.
 *
 * The header is checked before any data line is passed on. A missing file throws the
 * fs error (ENOENT) as is; the caller decides what a missing file means.
 */
export async function scanResultsFile(
  path: string,
  options: ScanOptions,
  onLine: (record: ResultsRecord) => void,
): Promise<ResultsScan> {
  const layouts = options.layouts ?? ['update'];
  const handle = await open(path, 'r');
  try {
    const size = (await handle.stat()).size;
    const decoder = new StringDecoder('utf8');
    const buffer = Buffer.allocUnsafe(CHUNK_BYTES);
    const record: ResultsRecord = {
      line: 0,
      row: Number.NaN,
      id: '',
      key: '',
      status: '',
      httpStatus: '',
      error: '',
      sha256: '',
      cells: 0,
    };
    let layout: ResultsLayout = layouts[0] ?? 'update';
    /** Cells before `id`: 1 (row) in an update file, 2 (row, key) in an import file. */
    let lead = 1;
    let carry = '';
    /** Bytes of complete lines seen so far. */
    let validBytes = 0;
    let line = 0;
    let lines = 0;
    let position = 0;
    const malformed = (at: number, why: string) =>
      new InputFileError(`malformed results line: ${why}`, options.malformedCode, {
        file: path,
        line: at,
      });

    /** One line: `text` from `start` to `end` (the newline), `quoted` if it holds a `"`. */
    const handleLine = (text: string, start: number, end: number, quoted: boolean) => {
      line++;
      const stop = end > start && text.charCodeAt(end - 1) === 13 ? end - 1 : end;
      if (line === 1) {
        const bom = text.charCodeAt(start) === 0xfeff ? 1 : 0;
        const header = text.slice(start + bom, stop);
        const found = layouts.find((l) => HEADERS[l] === header);
        if (found === undefined) throw notResults(path, options.notResultsCode, layouts);
        layout = found;
        lead = found === 'import' ? 2 : 1;
        return;
      }
      record.line = line;
      if (!quoted) splitPlain(text, start, stop, record, lead);
      else if (!splitQuoted(text.slice(start, stop), record, lead)) {
        throw malformed(line, 'unbalanced quotes');
      }
      if (record.cells < 6 + lead || !Number.isSafeInteger(record.row) || record.row < 1) {
        throw malformed(line, `expected a row number and ${7 + lead} cells`);
      }
      lines++;
      onLine(record);
    };

    while (position < size) {
      const { bytesRead } = await handle.read(buffer, 0, CHUNK_BYTES, position);
      if (bytesRead === 0) break;
      position += bytesRead;
      const lastNewline = buffer.lastIndexOf(10, bytesRead - 1);
      if (lastNewline === -1) {
        carry += decoder.write(buffer.subarray(0, bytesRead));
        // A first line longer than any header: not a results file (and not worth
        // reading to its end).
        if (line === 0 && carry.length > IMPORT_RESULTS_HEADER.length + 2) {
          throw notResults(path, options.notResultsCode, layouts);
        }
        continue;
      }
      const text = carry + decoder.write(buffer.subarray(0, lastNewline + 1));
      carry = decoder.write(buffer.subarray(lastNewline + 1, bytesRead));
      validBytes = position - bytesRead + lastNewline + 1;
      // Indexes into the chunk instead of a string per line; the next quote is looked
      // up once per quote, not once per line.
      let start = 0;
      let quote = text.indexOf('"');
      for (let nl = text.indexOf('\n'); nl !== -1; nl = text.indexOf('\n', start)) {
        if (quote !== -1 && quote < start) quote = text.indexOf('"', start);
        handleLine(text, start, nl, quote !== -1 && quote < nl);
        start = nl + 1;
      }
    }
    carry += decoder.end();
    const tornLine = validBytes < size;
    if (line === 0 && tornLine) {
      // No complete line at all: a header torn by a crash is a results file with
      // nothing in it yet; anything else is not a results file.
      const head = carry.charCodeAt(0) === 0xfeff ? carry.slice(1) : carry;
      if (!layouts.some((l) => HEADERS[l].startsWith(head))) {
        throw notResults(path, options.notResultsCode, layouts);
      }
    }
    return { lines, empty: size === 0, tornLine, validBytes, size, layout };
  } finally {
    await handle.close();
  }
}

export function notResults(
  path: string,
  code: string,
  layouts: readonly ResultsLayout[],
): InputFileError {
  const expected = layouts.map((l) => `"${HEADERS[l]}"`).join(' or ');
  return new InputFileError(
    `not a clerk-bulk ${layouts.length === 1 && layouts[0] === 'import' ? 'import ' : ''}results file: expected header ${expected}`,
    code,
    { file: path, line: 1 },
  );
}

/**
 * Split a line with no quotes: its cells are exactly the text between commas. `lead`
 * is the number of cells before `id` (2 when a `key` cell follows `row`).
 */
function splitPlain(
  text: string,
  start: number,
  end: number,
  record: ResultsRecord,
  lead: number,
): void {
  let cells = 0;
  let at = start;
  let more = true;
  const last = 6 + lead;
  record.row = Number.NaN;
  record.id = '';
  record.key = '';
  record.status = '';
  record.httpStatus = '';
  record.error = '';
  record.sha256 = '';
  while (more && cells < last) {
    let comma = text.indexOf(',', at);
    if (comma === -1 || comma > end) {
      comma = end;
      more = false;
    }
    if (cells === 0) record.row = parseRow(text, at, comma);
    else if (cells < lead) record.key = text.slice(at, comma);
    // Past the lead cells, the same columns as an update file.
    switch (cells - lead + 1) {
      case 1:
        record.id = text.slice(at, comma);
        break;
      case 2:
        record.status = text.slice(at, comma);
        break;
      case 3:
        record.httpStatus = text.slice(at, comma);
        break;
      case 5:
        record.error = text.slice(at, comma);
        break;
      case 6:
        record.sha256 = text.slice(at, comma);
        break;
    }
    cells++;
    at = comma + 1;
  }
  // What follows the hash (finished_at) is not needed; 7 + lead stands for "that or more".
  record.cells = more ? last + 1 : cells;
}

/**
 * One data line of an update results file as a record (a new object), quoted cells
 * and all; undefined when it is not a well-formed line (unbalanced quotes, no row
 * number, fewer than 7 cells). For readers that take most lines another way.
 */
export function parseResultsLine(text: string, line: number): ResultsRecord | undefined {
  const record: ResultsRecord = {
    line,
    row: Number.NaN,
    id: '',
    key: '',
    status: '',
    httpStatus: '',
    error: '',
    sha256: '',
    cells: 0,
  };
  if (text.includes('"')) {
    if (!splitQuoted(text, record, 1)) return undefined;
  } else splitPlain(text, 0, text.length, record, 1);
  if (record.cells < 7 || !Number.isSafeInteger(record.row) || record.row < 1) return undefined;
  return record;
}

/** A line with a quoted cell: csv-parse it. Returns false when it cannot be parsed. */
function splitQuoted(text: string, record: ResultsRecord, lead: number): boolean {
  let cells: string[];
  try {
    const parsed = parse(text, { relax_column_count: true }) as string[][];
    if (parsed.length !== 1) return false;
    cells = parsed[0] as string[];
  } catch {
    return false;
  }
  const row = cells[0] ?? '';
  record.row = parseRow(row, 0, row.length);
  record.key = lead > 1 ? (cells[1] ?? '') : '';
  const at = lead - 1;
  record.id = cells[1 + at] ?? '';
  record.status = cells[2 + at] ?? '';
  record.httpStatus = cells[3 + at] ?? '';
  record.error = cells[5 + at] ?? '';
  record.sha256 = cells[6 + at] ?? '';
  record.cells = cells.length;
  return true;
}

/** Digits only (`Number()` would also take `0x1f`, `1e3` or ` 7`); NaN otherwise. */
function parseRow(text: string, start: number, end: number): number {
  if (end <= start || end - start > 15) return Number.NaN;
  let n = 0;
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return Number.NaN;
    n = n * 10 + c;
  }
  return n;
}

/** First characters a spreadsheet runs as a formula; csv-stringify prefixes them with `'`. */
const FORMULA_START = new Set(['=', '+', '-', '@', '\t', '\r']);

/**
 * The id as it was in the input: the results file writes a formula-like id (`-5`,
 * `=x`) with a leading `'` (csv-stringify's `escape_formulas`); strip it.
 */
export function unescapeId(written: string): string {
  return written.length >= 2 && written[0] === "'" && FORMULA_START.has(written[1] as string)
    ? written.slice(1)
    : written;
}

/** Whether a cell would be run as a formula by a spreadsheet. */
export function isFormulaLike(cell: string): boolean {
  return cell.length > 0 && FORMULA_START.has(cell[0] as string);
}
