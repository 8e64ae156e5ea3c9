/**
 * The pre-check: one pass over the raw bytes before the first row is handed out, for
 * the problems that make the whole file unusable (encoding, NUL bytes, a quote never
 * closed, a huge record), the line count for the progress total, the run's input
 * fingerprint, and the file's stamp that the row stream then holds the file to.
 */
import { isUtf8 } from 'node:buffer';
import type { Hash } from 'node:crypto';
import { type FileHandle, open } from 'node:fs/promises';
import type { InputEncoding } from './encoding.js';
import { describeChange, type FileStamp, stampOf } from './file-guard.js';
import {
  badTextError,
  changedError,
  detectUtf16,
  endsInsideCharacterError,
  hasUtf8Bom,
  MAX_RECORD_BYTES,
  notUtf8Error,
  nulError,
  quoteNotClosedError,
  recordTooLargeError,
  toInputError,
  utf8BomError,
  utf16Error,
} from './input-errors.js';
import { firstBadUtf8Line } from './strict-utf8.js';

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
  /** The file's encoding; only UTF-8 is checked byte by byte for validity. @default 'utf-8' */
  encoding?: InputEncoding;
}

/** What {@link checkFile} found in a file it accepts. */
export interface FileCheck {
  /**
   * Physical lines, counted as the error messages count them (a last line without a
   * line break counts): the progress total.
   */
  lineCount: number;
  /** The file as the pass read it, every byte of it: what the row stream must find. */
  stamp: FileStamp;
}

/**
 * Scan a CSV file's raw bytes for the problems that make the whole file unusable:
 * the wrong encoding (UTF-16 or bytes that are not UTF-8 in a UTF-8 file, a UTF-8 BOM
 * in a file said to be in another), NUL bytes (binary), a quoted field never closed,
 * and a record over {@link MAX_RECORD_BYTES}. One pass with no decoding into strings,
 * about 0.2 s per million typical rows, so `update` can refuse a broken file before
 * it sends anything. The quoting rules are csv-parse's as {@link openRows} sets it
 * up: a `"` opens a quoted field only at the start of a field; elsewhere it is text.
 * A UTF-16 file is scanned as the UTF-8 it decodes to (line numbers and record sizes
 * are then those of the text), at the cost of one string per chunk.
 *
 * @throws InputFileError naming the line: `E_ENCODING`, `E_CSV_QUOTE_NOT_CLOSED`,
 * `E_CSV_MAX_RECORD_SIZE`, `E_INPUT_CHANGED` (the file changed during the pass), or a
 * read error (`E_INPUT_NOT_FOUND`...).
 */
export async function checkFile(path: string, options: CheckFileOptions): Promise<FileCheck> {
  const { file } = options;
  const encoding = options.encoding ?? 'utf-8';
  const checkUtf8 = encoding === 'utf-8';
  const utf16 = encoding === 'utf-16le' ? new TextDecoder('utf-16le', { fatal: true }) : undefined;
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
  const tooLarge = () =>
    recordTooLargeError(file, scan.recordLine, scan.state === QUOTED ? scan.quoteLine : undefined);

  // One buffer, reused for every read, and no copy of a whole chunk: a stream's fresh
  // 1 MiB buffer per read (plus a 1 MiB concat for the UTF-8 check) left ~40 MB of
  // freed memory that the allocator kept in RSS for the whole run (1M rows: RSS 44 ->
  // 84 MB over this pass; now 44 -> 51 MB).
  const buffer = Buffer.allocUnsafe(1024 * 1024);
  let handle: FileHandle | undefined;
  let stamp: FileStamp;
  /** Bytes of the file read (before any decoding). */
  let bytesTotal = 0;
  try {
    handle = await open(path, 'r');
    stamp = stampOf(await handle.stat());
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, null);
      if (bytesRead === 0) break;
      const raw = buffer.subarray(0, bytesRead);
      bytesTotal += bytesRead;
      options.hash?.update(raw);
      if (first) checkEncoding(raw, encoding, file);
      const chunk = utf16 === undefined ? raw : utf16Chunk(utf16, raw, file);
      let start = 0;
      if (first) {
        first = false;
        // The parser drops a BOM; so must the quote tracking, or `\uFEFF"id"` would
        // look like a quote in the middle of a field. (TextDecoder drops UTF-16's.)
        if (checkUtf8 && hasUtf8Bom(chunk)) start = 3;
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
      if (nul !== -1) throw nulError(file, scan.line);
      // UTF-8, up to the last line break of this chunk (after the NUL check: a binary
      // file is better called binary than Latin-1).
      if (!checkUtf8) {
        // Every byte is a character (or was decoded above): nothing to carry.
      } else if (lastBreak !== -1) {
        // The line the bytes after the last break start on (the next carry).
        const nextCarryLine =
          lineBefore + countBreaks(chunk, start, lastBreak + 1, crLineEnds, scan);
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
          throw notUtf8Error(file, carryLine + firstBadUtf8Line(block, crLineEnds));
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
    if (utf16 !== undefined) {
      try {
        utf16.decode();
      } catch (cause) {
        throw endsInsideCharacterError(file, 'utf-16le', scan.line, cause);
      }
    }
    // Changed during the pass: what was checked is not what will be read.
    const change =
      describeChange(stamp, stampOf(await handle.stat())) ??
      (bytesTotal === stamp.size ? undefined : `${bytesTotal} bytes read of ${stamp.size}`);
    if (change !== undefined) throw changedError(file, change);
  } catch (err) {
    throw toInputError(err, file);
  } finally {
    await handle?.close();
  }
  if (carry !== undefined && carry.length > 0 && !isUtf8(carry)) {
    throw notUtf8Error(file, carryLine + firstBadUtf8Line(carry, crLineEnds));
  }
  if (scan.state === QUOTED) throw quoteNotClosedError(file, scan.quoteLine);
  return { lineCount: endsWithBreak ? scan.line - 1 : scan.line, stamp };
}

/**
 * The start of the file against the encoding asked for: UTF-16 read as a one-byte
 * encoding would be refused as binary (its NUL bytes) with no word of the cause.
 */
function checkEncoding(first: Buffer, encoding: InputEncoding, file: string): void {
  if (encoding === 'utf-8') {
    const utf16 = detectUtf16(first);
    if (utf16 !== undefined) throw utf16Error(file, utf16);
    return;
  }
  if (hasUtf8Bom(first)) throw utf8BomError(file, encoding);
  const utf16 = detectUtf16(first);
  if (encoding === 'utf-16le' ? utf16 === 'utf-16be' : utf16 !== undefined) {
    throw utf16Error(file, utf16 ?? 'utf-16be');
  }
}

/** A UTF-16LE chunk as UTF-8 bytes, for the byte scanner. */
function utf16Chunk(decoder: InstanceType<typeof TextDecoder>, raw: Buffer, file: string): Buffer {
  try {
    return Buffer.from(decoder.decode(raw, { stream: true }), 'utf8');
  } catch (cause) {
    throw badTextError(file, 'utf-16le', cause);
  }
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
