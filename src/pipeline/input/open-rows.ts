import { isUtf8 } from 'node:buffer';
import type { Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { Transform, type TransformCallback } from 'node:stream';
import { CsvError, parse } from 'csv-parse';
import { InputFileError } from '../../errors.js';

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
   * closed, a record over {@link MAX_RECORD_BYTES}) before the first row is handed
   * out, so that a broken file is refused before anything is sent rather than midway.
   * About 0.2 s per million rows. Without it the same problems still end the
   * iteration with an InputFileError, but only when the reader reaches them.
   * @default true
   */
  precheck?: boolean;
  /** With the pre-check: fed every byte of the file (see {@link CheckFileOptions.hash}). */
  hash?: Hash;
  /** Give each row the line it ends on ({@link InputRow.line}). @default false */
  lines?: boolean;
}

const CANDIDATE_DELIMITERS = [',', ';', '\t', '|'] as const;
/**
 * Largest record (one row, all its cells) we accept, in bytes. A bigger one is almost
 * surely a broken quote swallowing the file; a real contact is a few hundred bytes.
 */
export const MAX_RECORD_BYTES = 8 * 1024 * 1024;
/** How much of the file is read to find the header line and detect the delimiter. */
const HEAD_BYTES = 64 * 1024;

/**
 * Count delimiter candidates in the header line, outside quotes, and pick the most
 * frequent. A one-column file (just `id`) has none and gets the comma.
 */
export function detectDelimiter(headerLine: string): string {
  let best: string = ',';
  let bestCount = 0;
  for (const candidate of CANDIDATE_DELIMITERS) {
    let count = 0;
    let quoted = false;
    for (const ch of headerLine) {
      if (ch === '"') quoted = !quoted;
      else if (!quoted && ch === candidate) count++;
    }
    if (count > bestCount) {
      best = candidate;
      bestCount = count;
    }
  }
  return best;
}

/**
 * Decodes bytes as strict UTF-8 and refuses what is not text, naming the line.
 * csv-parse would otherwise turn bad bytes into U+FFFD silently and we would send
 * mangled names to the API.
 */
class StrictUtf8Decoder extends Transform {
  private readonly decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });
  private line = 1;
  private first = true;

  constructor(private readonly file: string) {
    super({ readableObjectMode: false, decodeStrings: true, encoding: 'utf8' });
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, callback: TransformCallback): void {
    if (this.first) {
      this.first = false;
      if (
        chunk.length >= 2 &&
        ((chunk[0] === 0xff && chunk[1] === 0xfe) || (chunk[0] === 0xfe && chunk[1] === 0xff))
      ) {
        callback(
          new InputFileError(
            'the file is UTF-16 text; save it as UTF-8 (CSV UTF-8 in Excel)',
            'E_ENCODING',
            { file: this.file, line: 1 },
          ),
        );
        return;
      }
    }
    const nul = chunk.indexOf(0);
    if (nul !== -1) {
      callback(
        new InputFileError(
          'the file contains NUL bytes: it is binary, not CSV text',
          'E_ENCODING',
          { file: this.file, line: this.line + countNewlines(chunk, 0, nul) },
        ),
      );
      return;
    }
    let text: string;
    try {
      text = this.decoder.decode(chunk, { stream: true });
    } catch (cause) {
      callback(
        new InputFileError(
          'the file is not valid UTF-8 (Latin-1 or Windows-1252?); save it as UTF-8',
          'E_ENCODING',
          { file: this.file, line: this.line + firstBadUtf8Line(chunk) },
          { cause },
        ),
      );
      return;
    }
    this.line += countNewlines(chunk, 0, chunk.length);
    callback(null, text);
  }

  override _flush(callback: TransformCallback): void {
    try {
      const rest = this.decoder.decode();
      callback(null, rest === '' ? undefined : rest);
    } catch (cause) {
      callback(
        new InputFileError(
          'the file ends inside a UTF-8 character',
          'E_ENCODING',
          {
            file: this.file,
            line: this.line,
          },
          { cause },
        ),
      );
    }
  }
}

function countNewlines(buf: Buffer, from: number, to: number): number {
  let n = 0;
  let i = buf.indexOf(10, from);
  while (i !== -1 && i < to) {
    n++;
    i = buf.indexOf(10, i + 1);
  }
  return n;
}

/**
 * Line breaks in `chunk` before the line holding the first byte sequence that is not
 * UTF-8 (0 when unsure). Breaks are counted as the scanner counts them.
 */
function firstBadUtf8Line(chunk: Buffer, crLineEnds = false): number {
  let start = 0;
  let line = 0;
  for (let i = 0; i <= chunk.length; i++) {
    const b = i < chunk.length ? chunk[i] : LF;
    if (!(b === LF || (crLineEnds && b === CR))) continue;
    if (!isUtf8(chunk.subarray(start, i))) return line;
    if (!(b === LF && crLineEnds && chunk[i - 1] === CR)) line++;
    start = i + 1;
  }
  return 0;
}

/** The first non-blank line of the file and how it ends. */
interface Head {
  /** The first line that is not blank, without its line break ('' if there is none). */
  line: string;
  /**
   * The line ends in a bare CR (old Mac / Excel for Mac 2011 exports): CR alone then
   * ends records. Otherwise only LF and CRLF do, and a stray CR in an unquoted cell
   * stays in the cell, where the cell's check sees it, instead of silently cutting
   * the row in two.
   */
  crLineEnds: boolean;
}

/** Read the first non-blank line (within the first 64 KiB) to detect the delimiter. */
async function readHead(path: string): Promise<Head> {
  const stream = createReadStream(path, { start: 0, end: HEAD_BYTES - 1 });
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  const head = Buffer.concat(chunks)
    .toString('utf8')
    .replace(/^\uFEFF/, '');
  const match = /^[ \t]*[^\r\n \t][^\r\n]*(\r\n|\n|\r(?!\n)|$)/m.exec(head);
  if (match === null) return { line: '', crLineEnds: false };
  const ending = match[1] ?? '';
  return { line: match[0].slice(0, match[0].length - ending.length), crLineEnds: ending === '\r' };
}

const LF = 0x0a;
const CR = 0x0d;
const QUOTE = 0x22;
const NUL = 0x00;
// Scanner states: where the byte being looked at stands in the CSV grammar.
const FIELD_START = 0;
const UNQUOTED = 1;
const QUOTED = 2;
/** Just saw a `"` inside a quoted field: it closes the field or starts a `""`. */
const QUOTE_IN_QUOTED = 3;
// Byte classes for the scanner's look-up table.
const ORDINARY = 0;
const KIND_LF = 1;
const KIND_CR = 2;
const KIND_QUOTE = 3;
const KIND_DELIMITER = 4;

/** Options of {@link checkFile}. */
export interface CheckFileOptions {
  /** Name used in error messages. */
  file: string;
  /** The field delimiter the parser will use. */
  delimiter: string;
  /** A bare CR ends records (see {@link openRows}). @default false */
  crLineEnds?: boolean;
  /** Fed every byte of the file as the pass reads it (the run's input fingerprint). */
  hash?: Hash;
}

/**
 * Scan a CSV file's raw bytes for the problems that make the whole file unusable:
 * UTF-16, NUL bytes (binary), bytes that are not UTF-8, a quoted field never closed,
 * and a record over {@link MAX_RECORD_BYTES}. One pass with no decoding into strings,
 * about 0.2 s per million typical rows, so `update` can refuse a broken file before
 * it sends anything. The quoting rules are csv-parse's as {@link openRows} sets it
 * up: a `"` opens a quoted field only at the start of a field; elsewhere it is text.
 *
 * Returns the number of physical lines, counted as the error messages count them (a
 * last line without a line break counts), for the progress total.
 *
 * @throws InputFileError naming the line: `E_ENCODING`, `E_CSV_QUOTE_NOT_CLOSED`,
 * `E_CSV_MAX_RECORD_SIZE`, or a read error (`E_INPUT_NOT_FOUND`...).
 */
export async function checkFile(path: string, options: CheckFileOptions): Promise<number> {
  const { file } = options;
  const crLineEnds = options.crLineEnds === true;
  // A multi-character delimiter cannot be matched byte by byte; quoting is then left
  // to the parser, which still refuses a broken quote when it reaches it.
  const delimiter = options.delimiter.length === 1 ? options.delimiter.charCodeAt(0) : -1;
  const trackQuotes = delimiter !== -1 && delimiter < 0x80;
  const scan: ScanState = {
    state: FIELD_START,
    line: 1,
    recordStart: 0,
    recordLine: 1,
    quoteLine: 0,
    prevWasCr: false,
    crLineEnds,
    byteKind: new Uint8Array(256),
  };
  scan.byteKind[LF] = KIND_LF;
  scan.byteKind[CR] = KIND_CR;
  if (trackQuotes) {
    scan.byteKind[QUOTE] = KIND_QUOTE;
    scan.byteKind[delimiter] = KIND_DELIMITER;
  }
  let offset = 0; // file offset of the current chunk's first byte
  let first = true;
  /** The last byte read ends a line (or nothing was read). */
  let endsWithBreak = true;
  // Bytes after the last line break, whose UTF-8 is checked with the next chunk: a
  // line break byte is never part of a multi-byte UTF-8 sequence, so cutting there
  // never splits a character.
  let carry: Buffer | undefined;
  let carryLine = 1;
  const tooLarge = (): InputFileError => {
    const mib = MAX_RECORD_BYTES / 1024 / 1024;
    return new InputFileError(
      scan.state === QUOTED
        ? `a record starting here is larger than ${mib} MiB: the quoted field opened on line ${scan.quoteLine} is probably never closed (missing ")`
        : `a record starting here is larger than ${mib} MiB`,
      'E_CSV_MAX_RECORD_SIZE',
      { file, line: scan.recordLine },
    );
  };

  // One buffer, reused for every read, and no copy of a whole chunk: a stream's fresh
  // 1 MiB buffer per read (plus a 1 MiB concat for the UTF-8 check) left ~40 MB of
  // freed memory that the allocator kept in RSS for the whole run (1M rows: RSS 44 ->
  // 84 MB over this pass; now 44 -> 51 MB).
  const buffer = Buffer.allocUnsafe(1024 * 1024);
  let handle: FileHandle | undefined;
  try {
    handle = await open(path, 'r');
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, null);
      if (bytesRead === 0) break;
      const chunk = buffer.subarray(0, bytesRead);
      options.hash?.update(chunk);
      let start = 0;
      if (first) {
        first = false;
        if (isUtf16(chunk)) {
          throw new InputFileError(
            'the file is UTF-16 text; save it as UTF-8 (CSV UTF-8 in Excel)',
            'E_ENCODING',
            { file, line: 1 },
          );
        }
        // The parser drops a BOM; so must the quote tracking, or `\uFEFF"id"` would
        // look like a quote in the middle of a field.
        if (chunk[0] === 0xef && chunk[1] === 0xbb && chunk[2] === 0xbf) start = 3;
      }

      const nul = chunk.indexOf(NUL, start);
      const end = nul === -1 ? chunk.length : nul;
      const lineBefore = scan.line;
      const lastBreak = Math.max(chunk.lastIndexOf(LF), crLineEnds ? chunk.lastIndexOf(CR) : -1);
      // Most chunks of most files hold no quote at all: then only line breaks matter,
      // and native indexOf finds them several times faster than the byte loop.
      const plain =
        scan.state !== QUOTED &&
        scan.state !== QUOTE_IN_QUOTED &&
        (!trackQuotes || chunk.indexOf(QUOTE, start) === -1);
      const fits = plain
        ? scanUnquoted(scan, chunk, start, end, offset, trackQuotes ? delimiter : -1)
        : scanBytes(scan, chunk, start, end, offset);
      if (!fits) throw tooLarge();
      // The line the bytes after the last break start on (the next carry).
      const nextCarryLine =
        lastBreak === -1
          ? carryLine
          : lineBefore + countBreaks(chunk, start, lastBreak + 1, crLineEnds, scan);
      if (nul !== -1) {
        throw new InputFileError(
          'the file contains NUL bytes: it is binary, not CSV text',
          'E_ENCODING',
          { file, line: scan.line },
        );
      }
      // UTF-8, up to the last line break of this chunk (after the NUL check: a binary
      // file is better called binary than Latin-1).
      if (lastBreak !== -1) {
        const head = chunk.subarray(0, lastBreak + 1);
        // Checked in two parts cut after the first line break (an ASCII byte is never
        // inside a multi-byte character, so valid + valid = valid): only the carry and
        // one line are copied. The whole block is built only to name the bad line.
        let cut = head.indexOf(LF);
        if (cut === -1 && crLineEnds) cut = head.indexOf(CR);
        cut = cut === -1 ? head.length : cut + 1;
        const valid =
          carry === undefined
            ? isUtf8(head)
            : isUtf8(Buffer.concat([carry, head.subarray(0, cut)])) && isUtf8(head.subarray(cut));
        if (!valid) {
          const block = carry === undefined ? head : Buffer.concat([carry, head]);
          throw new InputFileError(
            'the file is not valid UTF-8 (Latin-1 or Windows-1252?); save it as UTF-8',
            'E_ENCODING',
            { file, line: carryLine + firstBadUtf8Line(block, crLineEnds) },
          );
        }
        // A copy: the next read overwrites `buffer`.
        carry = Buffer.from(chunk.subarray(lastBreak + 1));
        carryLine = nextCarryLine;
      } else {
        carry = carry === undefined ? Buffer.from(chunk) : Buffer.concat([carry, chunk]);
      }

      scan.prevWasCr = chunk[chunk.length - 1] === CR;
      if (chunk.length > start) {
        const last = chunk[chunk.length - 1];
        endsWithBreak = last === LF || (crLineEnds && last === CR);
      }
      // The record still open at the end of the chunk; finished ones were checked.
      if (offset + chunk.length - scan.recordStart > MAX_RECORD_BYTES) throw tooLarge();
      offset += chunk.length;
    }
  } catch (err) {
    throw toInputError(err, file);
  } finally {
    await handle?.close();
  }
  if (carry !== undefined && carry.length > 0 && !isUtf8(carry)) {
    throw new InputFileError(
      'the file is not valid UTF-8 (Latin-1 or Windows-1252?); save it as UTF-8',
      'E_ENCODING',
      { file, line: carryLine + firstBadUtf8Line(carry, crLineEnds) },
    );
  }
  if (scan.state === QUOTED) {
    throw new InputFileError(
      'a quoted field opened here is never closed (missing ")',
      'E_CSV_QUOTE_NOT_CLOSED',
      { file, line: scan.quoteLine },
    );
  }
  return endsWithBreak ? scan.line - 1 : scan.line;
}

/** Where {@link checkFile}'s scan stands between chunks. */
interface ScanState {
  state: number;
  /** Current physical line, 1-based. */
  line: number;
  /** File offset and line where the current record began. */
  recordStart: number;
  recordLine: number;
  /** Line of the `"` that opened the current quoted field. */
  quoteLine: number;
  /** The previous chunk ended with a CR (a CRLF may straddle two chunks). */
  prevWasCr: boolean;
  crLineEnds: boolean;
  /** ORDINARY, KIND_LF... per byte value. */
  byteKind: Uint8Array;
}

/**
 * Run the CSV state machine over `chunk[start, end)`; false when a finished record is
 * larger than {@link MAX_RECORD_BYTES} (the state then points at it). Hot loop: the
 * state lives in locals and is written back once.
 */
function scanBytes(
  scan: ScanState,
  chunk: Buffer,
  start: number,
  end: number,
  offset: number,
): boolean {
  const { byteKind, crLineEnds } = scan;
  let { state, line, recordStart, recordLine, quoteLine } = scan;
  let ok = true;
  for (let i = start; i < end; i++) {
    const kind = byteKind[chunk[i] as number] as number;
    if (kind === ORDINARY) {
      if (state === FIELD_START) state = UNQUOTED;
      continue;
    }
    let recordEnd = false;
    if (kind === KIND_LF) {
      // In a CR file, the LF of a CRLF is the same line break as its CR.
      const afterCr = i > 0 ? chunk[i - 1] === CR : scan.prevWasCr;
      if (!(crLineEnds && afterCr)) line++;
      recordEnd = true;
    } else if (kind === KIND_CR && crLineEnds) {
      line++;
      recordEnd = true;
    }
    switch (state) {
      case FIELD_START:
        if (kind === KIND_QUOTE) {
          state = QUOTED;
          quoteLine = line;
          continue;
        }
        break;
      case UNQUOTED:
        break;
      case QUOTED:
        if (kind === KIND_QUOTE) state = QUOTE_IN_QUOTED;
        continue;
      case QUOTE_IN_QUOTED:
        if (kind === KIND_QUOTE) {
          state = QUOTED;
          continue;
        }
        // Else the field is closed; `"abc"def` (text after the closing quote) is kept
        // as text by csv-parse with relax_quotes, so the field goes on unquoted.
        break;
    }
    if (kind === KIND_DELIMITER) state = FIELD_START;
    else if (recordEnd) {
      state = FIELD_START;
      if (offset + i - recordStart > MAX_RECORD_BYTES) {
        ok = false;
        break;
      }
      recordStart = offset + i + 1;
      recordLine = line;
    } else state = UNQUOTED;
  }
  Object.assign(scan, { state, line, recordStart, recordLine, quoteLine });
  return ok;
}

/** {@link scanBytes} for a stretch with no `"` and no open quoted field. */
function scanUnquoted(
  scan: ScanState,
  chunk: Buffer,
  start: number,
  end: number,
  offset: number,
  delimiter: number,
): boolean {
  if (start >= end) return true;
  const { crLineEnds } = scan;
  let { line, recordStart, recordLine } = scan;
  let ok = true;
  const breakAt = (i: number) => {
    if (offset + i - recordStart > MAX_RECORD_BYTES) return false;
    recordStart = offset + i + 1;
    recordLine = line;
    return true;
  };
  for (let i = chunk.indexOf(LF, start); i !== -1 && i < end; i = chunk.indexOf(LF, i + 1)) {
    const afterCr = i > 0 ? chunk[i - 1] === CR : scan.prevWasCr;
    if (crLineEnds && afterCr) continue; // counted with its CR below
    line++;
    if (!crLineEnds && !breakAt(i)) {
      ok = false;
      break;
    }
  }
  if (crLineEnds && ok) {
    // Breaks are CR, CRLF or a lone LF: merge both kinds in file order.
    line = scan.line;
    for (let i = start; i < end; i++) {
      const b = chunk[i];
      const lone = b === LF && !(i > 0 ? chunk[i - 1] === CR : scan.prevWasCr);
      if (b !== CR && !lone) continue;
      line++;
      if (!breakAt(i)) {
        ok = false;
        break;
      }
    }
  }
  const last = chunk[end - 1] as number;
  const state =
    last === LF || (crLineEnds && last === CR) || last === delimiter ? FIELD_START : UNQUOTED;
  Object.assign(scan, { state, line, recordStart, recordLine });
  return ok;
}

/** Line breaks in `chunk[start, end)`, counted as {@link scanBytes} counts them. */
function countBreaks(
  chunk: Buffer,
  start: number,
  end: number,
  crLineEnds: boolean,
  scan: ScanState,
): number {
  let n = 0;
  for (let i = chunk.indexOf(LF, start); i !== -1 && i < end; i = chunk.indexOf(LF, i + 1)) {
    const afterCr = i > 0 ? chunk[i - 1] === CR : scan.prevWasCr;
    if (!(crLineEnds && afterCr)) n++;
  }
  if (crLineEnds) {
    for (let i = chunk.indexOf(CR, start); i !== -1 && i < end; i = chunk.indexOf(CR, i + 1)) n++;
  }
  return n;
}

/** UTF-16 with a BOM, or without one but with the zero bytes ASCII text has in UTF-16. */
function isUtf16(chunk: Buffer): boolean {
  if (chunk.length < 2) return false;
  if ((chunk[0] === 0xff && chunk[1] === 0xfe) || (chunk[0] === 0xfe && chunk[1] === 0xff)) {
    return true;
  }
  return (
    chunk.length >= 4 &&
    ((chunk[1] === 0 && chunk[3] === 0 && chunk[0] !== 0) ||
      (chunk[0] === 0 && chunk[2] === 0 && chunk[1] !== 0))
  );
}

/** Map csv-parse's errors to our one-line file errors. */
function toInputError(err: unknown, file: string): InputFileError {
  if (err instanceof InputFileError) return err;
  if (err instanceof CsvError) {
    const line = (err as CsvError & { lines?: number }).lines;
    const messages: Record<string, string> = {
      CSV_QUOTE_NOT_CLOSED: 'a quoted field is never closed (missing ") before the end of the file',
      CSV_INVALID_CLOSING_QUOTE: 'a quote inside a field is not escaped (write "" for ")',
      CSV_NON_TRIMABLE_CHAR_AFTER_CLOSING_QUOTE: 'text after a closing quote',
      CSV_MAX_RECORD_SIZE: `a record is larger than ${MAX_RECORD_BYTES / 1024 / 1024} MiB (a broken quote?)`,
    };
    return new InputFileError(
      messages[err.code] ?? err.message,
      `E_CSV_${err.code.replace(/^CSV_/, '')}`,
      line === undefined ? { file } : { file, line },
      { cause: err },
    );
  }
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT') return new InputFileError('file not found', 'E_INPUT_NOT_FOUND', { file });
  if (code === 'EISDIR')
    return new InputFileError('is a directory, not a CSV file', 'E_INPUT_NOT_FOUND', { file });
  if (code === 'EACCES')
    return new InputFileError('permission denied', 'E_INPUT_UNREADABLE', { file });
  return new InputFileError(
    `cannot read the file: ${(err as Error | undefined)?.message ?? String(err)}`,
    'E_INPUT_UNREADABLE',
    { file },
    { cause: err },
  );
}

/**
 * Open a CSV file as a stream of rows. Reads only the header up front; data rows are
 * parsed as the consumer iterates, so a paused consumer pauses the file read
 * (backpressure) and memory does not grow with the file.
 */
export async function openRows(path: string, options: ReadRowsOptions = {}): Promise<RowSource> {
  const file = options.displayName ?? path;
  let head: Head;
  try {
    head = await readHead(path);
  } catch (err) {
    throw toInputError(err, file);
  }
  if (head.line === '') {
    throw new InputFileError('the file is empty (no header line)', 'E_EMPTY_FILE', {
      file,
      line: 1,
    });
  }
  const delimiter = options.delimiter ?? detectDelimiter(head.line);
  const lineCount =
    options.precheck === false
      ? undefined
      : await checkFile(path, {
          file,
          delimiter,
          crLineEnds: head.crLineEnds,
          ...(options.hash === undefined ? {} : { hash: options.hash }),
        });
  const withLines = options.lines === true;

  const source = createReadStream(path, { highWaterMark: 256 * 1024 });
  const decoder = new StrictUtf8Decoder(file);
  const parser = parse({
    delimiter,
    bom: true,
    info: withLines,
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
  decoder.on('error', fail);
  source.pipe(decoder).pipe(parser);

  // Records are `{record, info}` with `info: true`, plain string arrays without.
  type Parsed = string[] | { record: string[]; info: { lines: number } };
  const iterator = parser[Symbol.asyncIterator]() as AsyncIterator<Parsed>;
  let first: IteratorResult<Parsed>;
  try {
    first = await iterator.next();
  } catch (err) {
    source.destroy();
    throw toInputError(failure ?? err, file);
  }
  if (first.done === true) {
    throw new InputFileError('the file is empty (no header line)', 'E_EMPTY_FILE', {
      file,
      line: 1,
    });
  }
  const header = Array.isArray(first.value) ? first.value : first.value.record;

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
      throw toInputError(failure ?? err, file);
    } finally {
      source.destroy();
    }
  }

  return {
    header,
    delimiter,
    lineCount,
    rows: rows(),
    close: () => {
      source.destroy();
      parser.destroy();
    },
  };
}
