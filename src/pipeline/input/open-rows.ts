/**
 * The input stage: a CSV file as a stream of rows. This module wires the parts: the
 * file check (file-guard.ts), the head and delimiter (delimiter.ts), the pre-check
 * pass (precheck.ts), the decoder (encoding.ts, strict-utf8.ts) and csv-parse. Every
 * error it reports is built in input-errors.ts.
 */
import type { Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { parse } from 'csv-parse';
import { detectDelimiter, type Head, readHead } from './delimiter.js';
import { createDecoder, type InputEncoding } from './encoding.js';
import { canUseFastRecords, FastRecords } from './fast-records.js';
import {
  ChangeGuard,
  describeChange,
  type FileStamp,
  refuseNonFile,
  stampOf,
} from './file-guard.js';
import {
  changedError,
  emptyFileError,
  MAX_RECORD_BYTES,
  toInputError,
  unnamedDataError,
} from './input-errors.js';
import { checkFile } from './precheck.js';

/** One data row of the input file. */
export interface InputRow {
  /** 1-based data-row number, header excluded: the `row` column of the results. */
  row: number;
  /**
   * 1-based physical line where the row ends (quoted line breaks span lines). Only
   * with {@link ReadRowsOptions.lines}: csv-parse builds an info object per record
   * for it, which costs ~5 µs a row.
   */
  line?: number;
  cells: string[];
}

export interface RowSource {
  /** The header record as read (not yet trimmed or checked). */
  header: string[];
  delimiter: string;
  /**
   * Physical lines in the file (a last line without a line break counts), counted by
   * the pre-check's pass over the file; undefined without the pre-check. Quoted line
   * breaks and blank lines make it an upper bound of the rows: a progress total.
   */
  lineCount: number | undefined;
  /** Data rows in file order. Iterate once; the file is read as the loop asks for rows. */
  rows: AsyncIterable<InputRow>;
  /** Stop reading and release the file. */
  close(): void;
}

export interface ReadRowsOptions {
  /** Field delimiter; detected from the header line when absent. */
  delimiter?: string | undefined;
  /** Name used in error messages. @default the path */
  displayName?: string;
  /**
   * Scan the whole file for file-level problems (encoding, NUL bytes, a quote never
   * closed, a record over {@link MAX_RECORD_BYTES}, data under an empty header) before
   * the first row is handed out, so that a broken file is refused before anything is
   * sent rather than midway. About 0.2 s per million rows (plus one parse of the file
   * when the header has an empty name). Without it the byte-level problems still end
   * the iteration with an InputFileError, but only when the reader reaches them.
   * @default true
   */
  precheck?: boolean;
  /** With the pre-check: fed every byte of the file (see {@link CheckFileOptions.hash}). */
  hash?: Hash;
  /** Give each row the line it ends on ({@link InputRow.line}). @default false */
  lines?: boolean;
  /**
   * The file's text encoding. UTF-8 is checked strictly (a byte that is not UTF-8 stops
   * the file); the others decode every byte. `utf-16le` reads a file with or without
   * its BOM.
   * @default 'utf-8'
   */
  encoding?: InputEncoding | undefined;
}

export type { InputEncoding } from './encoding.js';
export { INPUT_ENCODINGS } from './encoding.js';

/** How the row stream parses: the same for the rows and for the empty-header pass. */
interface ParseSetup {
  file: string;
  delimiter: string;
  head: Head;
  encoding: InputEncoding;
  lines: boolean;
  /** The file as the pre-check saw it; without one, as it is when the stream opens. */
  expected: FileStamp | undefined;
}

// Records are `{record, info}` with `info: true`, plain string arrays without.
type Parsed = string[] | { record: string[]; info: { lines: number } };

interface ParseStream {
  records: AsyncIterator<Parsed>;
  /** The first error of the file, decoder or guard (csv-parse's own come from `records`). */
  failure(): unknown;
  destroy(): void;
}

/** Open the file and start parsing it; records come as `records` is pulled. */
async function startParse(path: string, setup: ParseSetup): Promise<ParseStream> {
  const { file, head } = setup;
  let handle: FileHandle;
  let expected: FileStamp;
  try {
    handle = await open(path, 'r');
    const now = stampOf(await handle.stat());
    const change = setup.expected === undefined ? undefined : describeChange(setup.expected, now);
    if (change !== undefined) {
      await handle.close();
      throw changedError(file, change);
    }
    expected = setup.expected ?? now;
  } catch (err) {
    throw toInputError(err, file);
  }
  // The handle is closed here, not by the stream: the guard stats it after the stream
  // has ended, and a descriptor closed by then could already name another file.
  let closed = false;
  const release = () => {
    if (closed) return;
    closed = true;
    handle.close().catch(() => {});
  };
  const source = createReadStream(path, {
    fd: handle,
    autoClose: false,
    // csv-parse turns a whole chunk into records at once, and they wait in the stream
    // for the loop: with 256 KB chunks (~4,000 rows) every young-generation GC copied
    // them. 64 KB: 1M rows all `unchanged` took 8.3-9.2 s of CPU instead of 10.2-10.6,
    // and peak RSS 98-102 MB instead of 103-106 (night 2 of the state bench, A/B in
    // alternation); 32 KB was no better.
    highWaterMark: 64 * 1024,
  });
  const guard = new ChangeGuard(handle.fd, path, file, expected, release);
  const decoder = createDecoder(file, setup.encoding);
  // Lines without a quote are split by FastRecords (fast-records.ts), the same
  // records as csv-parse at a fraction of its cost; it gives the rest to csv-parse.
  const fast = canUseFastRecords(setup.delimiter, setup.lines, head.crLineEnds);
  const parser = fast
    ? new FastRecords({ delimiter: setup.delimiter, maxRecordSize: MAX_RECORD_BYTES })
    : parse({
        delimiter: setup.delimiter,
        bom: true,
        info: setup.lines,
        // Ragged rows become row-level `invalid` results instead of killing the run.
        relax_column_count: true,
        // A `"` inside an unquoted cell (`5" screen`, `37°36'37.8"N`) is text, as Excel
        // reads it, rather than an error that would stop the whole file.
        relax_quotes: true,
        skip_empty_lines: true,
        // Lines of only delimiters and blanks (`,,,` that spreadsheets leave below the
        // data) hold nothing to send: skipped like blank lines, not reported as invalid.
        skip_records_with_empty_values: true,
        // Files stitched together from several sources mix CRLF and LF. A bare CR ends a
        // record only in files whose lines end that way (see Head.crLineEnds).
        record_delimiter: head.crLineEnds ? ['\r\n', '\n', '\r'] : ['\r\n', '\n'],
        max_record_size: MAX_RECORD_BYTES,
      });
  let failure: unknown;
  const fail = (err: unknown) => {
    failure ??= err;
    parser.destroy(toInputError(err, file));
  };
  source.on('error', fail);
  guard.on('error', fail);
  decoder.on('error', fail);
  source.pipe(guard).pipe(decoder).pipe(parser);
  return {
    records: parser[Symbol.asyncIterator]() as AsyncIterator<Parsed>,
    failure: () => failure,
    destroy: () => {
      source.destroy();
      parser.destroy();
      release();
    },
  };
}

/** Header indexes whose name is empty (after trimming, as the column plan trims). */
function unnamedIndexes(header: string[]): number[] {
  const unnamed: number[] = [];
  header.forEach((name, index) => {
    if (name.trim() === '') unnamed.push(index);
  });
  return unnamed;
}

/**
 * Refuse a file with a value under an empty header, naming the first row that has
 * one. Why a pass of its own: the value could not be sent, and found row by row it
 * made every such row `invalid` while the others went out: a shifted or unnamed
 * column is a whole-file mistake. The byte pre-check cannot see it without knowing the
 * header and splitting every field (its fast path looks only at line breaks), so this
 * parses the file once more with the row stream's own settings, and only for the rare
 * header with an empty name; an empty column under it (a trailing delimiter on every
 * line) passes.
 */
async function refuseDataUnderEmptyHeader(
  path: string,
  setup: ParseSetup,
  unnamed: number[],
): Promise<void> {
  // Without line numbers: csv-parse's info object per record would make this pass
  // ~5 s slower per million rows; the data-row number says where just as well.
  const stream = await startParse(path, { ...setup, lines: false });
  try {
    let row = -1; // the header comes first
    for (;;) {
      const next = await stream.records.next();
      if (next.done === true) return;
      row++;
      if (row === 0) continue;
      const record = next.value as string[];
      const index = unnamed.find((i) => (record[i] ?? '').trim() !== '');
      if (index !== undefined) throw unnamedDataError(setup.file, row, index + 1);
    }
  } catch (err) {
    throw toInputError(stream.failure() ?? err, setup.file);
  } finally {
    stream.destroy();
  }
}

/**
 * Open a CSV file as a stream of rows. Reads only the header up front (after the
 * pre-check); data rows are parsed as the consumer iterates, so a paused consumer
 * pauses the file read (backpressure) and memory does not grow with the file.
 *
 * The file must stay as it is while it is read: a file truncated, rewritten or
 * replaced meanwhile ends the iteration with `E_INPUT_CHANGED`, and the cut row is
 * never handed out (see file-guard.ts).
 *
 * @throws InputFileError (exit 2) for every file-level problem; `E_INPUT_NOT_FILE` for
 * a FIFO, socket or device.
 */
export async function openRows(path: string, options: ReadRowsOptions = {}): Promise<RowSource> {
  const file = options.displayName ?? path;
  const encoding = options.encoding ?? 'utf-8';
  await refuseNonFile(path, file);
  let head: Head;
  try {
    head = await readHead(path, encoding);
  } catch (err) {
    throw toInputError(err, file);
  }
  if (head.line === '') throw emptyFileError(file);
  const delimiter = options.delimiter ?? detectDelimiter(head.line);
  const check =
    options.precheck === false
      ? undefined
      : await checkFile(path, {
          file,
          delimiter,
          crLineEnds: head.crLineEnds,
          encoding,
          ...(options.hash === undefined ? {} : { hash: options.hash }),
        });
  const setup: ParseSetup = {
    file,
    delimiter,
    head,
    encoding,
    lines: options.lines === true,
    expected: check?.stamp,
  };
  const stream = await startParse(path, setup);
  const iterator = stream.records;
  let first: IteratorResult<Parsed>;
  try {
    first = await iterator.next();
  } catch (err) {
    stream.destroy();
    throw toInputError(stream.failure() ?? err, file);
  }
  if (first.done === true) {
    stream.destroy();
    throw emptyFileError(file);
  }
  const header = Array.isArray(first.value) ? first.value : first.value.record;
  const unnamed = unnamedIndexes(header);
  if (check !== undefined && unnamed.length > 0) {
    try {
      await refuseDataUnderEmptyHeader(path, setup, unnamed);
    } catch (err) {
      stream.destroy();
      throw err;
    }
  }

  async function* rows(): AsyncGenerator<InputRow> {
    let row = 0;
    try {
      while (true) {
        const next = await iterator.next();
        if (next.done === true) return;
        row++;
        const value = next.value;
        yield Array.isArray(value)
          ? { row, cells: value }
          : { row, line: value.info.lines, cells: value.record };
      }
    } catch (err) {
      throw toInputError(stream.failure() ?? err, file);
    } finally {
      stream.destroy();
    }
  }

  return {
    header,
    delimiter,
    lineCount: check?.lineCount,
    rows: rows(),
    close: () => stream.destroy(),
  };
}
