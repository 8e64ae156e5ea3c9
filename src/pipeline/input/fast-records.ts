/**
 * CSV records without csv-parse for the lines that do not need it.
 *
 * Why it exists: csv-parse costs ~2.4 µs per row, ~20-25 % of the CPU of a nightly
 * run whose rows are nearly all unchanged, and most lines of a contact file hold no
 * quote at all. Such a line is its fields split on the delimiter; only text with a `"`
 * in it needs a CSV parser. What it saved: see "Measured" below.
 *
 * How it stays exactly csv-parse (same records, same errors, same line numbers):
 * - A run of complete lines without `"` is split here: on '\n', a '\r' before it
 *   dropped (the '\r\n' record delimiter; a bare '\r' elsewhere stays in the field,
 *   as csv-parse keeps it), fields split on the one-char delimiter. A record whose
 *   every field `.trim()` is '' is dropped: that is csv-parse's skip_empty_lines (an
 *   empty line is the record ['']) and skip_records_with_empty_values (isRecordEmpty).
 *   A last line without a line break is a record as it is (its '\r' kept).
 * - A line whose quotes all enclose whole fields, nothing else (`"Turing, Grace"`:
 *   opening at a field start, closing before a delimiter or the line end, no `"` or
 *   '\r' inside) is split here too (splitQuoted): csv-parse reads each such field as
 *   what its quotes hold. The bench file has one in 10 rows.
 * - Any other line with a `"` starts a segment given to csv-parse/sync with the same options.
 *   A segment always starts at a record boundary and ends after a '\n'. If csv-parse
 *   says the quote is not closed, the cut was inside a quoted field: the segment grows
 *   to every complete line available (then to later chunks) and is parsed again. A
 *   segment that parses without that error ended at a real record boundary, so its
 *   records are the ones the streaming parser would emit for that text.
 * - Anything else (a lone quote never closed, a record csv-parse refuses as too
 *   large, a segment that keeps growing, text that is not well-formed UTF-16, Buffer
 *   chunks) hands the rest of the input, from the last record boundary, to a
 *   streaming csv-parse: always correct. Its errors count lines from where it started,
 *   so their `lines` is shifted by the physical lines before, counted as csv-parse
 *   counts them (every '\r' and '\n' it visits; it skips the '\n' of a '\r\n' record
 *   delimiter, but not of a quoted '\r\n').
 * - The BOM is dropped at the start of the text only, as `bom: true` does.
 *
 * Only for the options it reproduces (see {@link canUseFastRecords}): no `info`, no
 * bare-CR record delimiters, a one-char delimiter that is not `"`, '\r' or '\n'.
 */
import { Transform, type TransformCallback } from 'node:stream';
import { CsvError, type Options, type Parser, parse } from 'csv-parse';
import { parse as parseSync } from 'csv-parse/sync';

/*
 * Measured (2026-12-01, Node 20.20, 2 vCPU, load average 1.6-3.5, before and after in
 * alternation; bench/.data/contacts-1000000.csv, 1M rows, one in 10 with a quoted cell):
 * - parse only (the file read as 64 KB UTF-8 strings into the parser, records counted):
 *   csv-parse 2.61-2.69 s CPU, FastRecords 0.72-0.80 s (3 runs each);
 * - openRows as update reads the file (pre-check included): 3.23-3.56 s CPU before,
 *   1.27-1.38 s after (3 each);
 * - a night with 990,000 rows unchanged (update --state, contacts-1000000-changed.csv,
 *   10,000 sent to the mock server): 12.5-14.4 s wall, 13.1-14.7 s user before;
 *   10.2-11.9 s wall, 11.0-12.5 s user after (5 each);
 * - validate asks for line numbers (csv-parse's info), so it keeps csv-parse: 9.4-10.6 s
 *   wall either way.
 */

/** Options of the streaming parser the fast path stands in for. */
export interface FastRecordOptions {
  delimiter: string;
  maxRecordSize: number;
  /** Tests only: a smaller {@link MAX_SEGMENT_CHARS}, {@link MAX_SEGMENT_TRIES}. */
  maxSegmentChars?: number;
  maxSegmentTries?: number;
}

/** A segment that grows past this, or is parsed this many times, goes to the stream. */
const MAX_SEGMENT_CHARS = 1024 * 1024;
const MAX_SEGMENT_TRIES = 8;

/** The fast path reproduces csv-parse only with these settings. */
export function canUseFastRecords(delimiter: string, info: boolean, crLineEnds: boolean): boolean {
  return (
    !info &&
    !crLineEnds &&
    delimiter.length === 1 &&
    delimiter !== '"' &&
    delimiter !== '\r' &&
    delimiter !== '\n'
  );
}

/** The csv-parse options the fast path stands in for (the ones open-rows.ts uses). */
export function csvParseOptions(options: FastRecordOptions, bom: boolean): Options {
  return {
    delimiter: options.delimiter,
    bom,
    relax_column_count: true,
    relax_quotes: true,
    skip_empty_lines: true,
    skip_records_with_empty_values: true,
    record_delimiter: ['\r\n', '\n'],
    max_record_size: options.maxRecordSize,
  };
}

/** Occurrences of `needle` (one char or two) in text[from, to). */
function countOf(text: string, needle: string, from: number, to: number): number {
  let n = 0;
  let at = text.indexOf(needle, from);
  while (at !== -1 && at + needle.length <= to) {
    n++;
    at = text.indexOf(needle, at + needle.length);
  }
  return n;
}

function isQuoteNotClosed(err: unknown): boolean {
  return err instanceof CsvError && err.code === 'CSV_QUOTE_NOT_CLOSED';
}

/**
 * A Transform taking the decoded text (strings) and giving records (string arrays),
 * the same records and errors as csv-parse with {@link csvParseOptions}.
 */
export class FastRecords extends Transform {
  private readonly delimiter: string;
  private readonly maxLineChars: number;
  /** Text not yet turned into records: always starts at a record boundary. */
  private rest = '';
  /** The text so far began (the BOM was looked at). */
  private started = false;
  /** csv-parse's line number at the start of `rest`: 1 + CR/LF it visited before. */
  private line = 1;
  /** `rest` begins with a quoted segment that failed this many times. */
  private tries = 0;
  /** Set once the rest of the input goes to a streaming csv-parse. */
  private stream: Parser | undefined;
  private streamLine = 1;

  constructor(private readonly options: FastRecordOptions) {
    super({ readableObjectMode: true, decodeStrings: false });
    this.delimiter = options.delimiter;
    // A line of this many UTF-16 units holds at most 3 bytes per unit: longer lines
    // may be over max_record_size, and csv-parse decides.
    this.maxLineChars = Math.floor(options.maxRecordSize / 3);
  }

  override _transform(chunk: unknown, _enc: BufferEncoding, callback: TransformCallback): void {
    if (this.stream === undefined && (typeof chunk !== 'string' || !isWellFormed(chunk))) {
      // Bytes, or a lone surrogate (csv-parse would see U+FFFD): csv-parse decides.
      this.toStream();
      const rest = this.takeRest();
      if (rest !== '') (this.stream as unknown as Parser).write(rest);
    }
    if (this.stream !== undefined) {
      this.writeStream(chunk as string | Buffer, callback);
      return;
    }
    let text = chunk as string;
    if (!this.started) {
      if (text === '') {
        callback();
        return;
      }
      this.started = true;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    this.rest = this.rest === '' ? text : this.rest + text;
    try {
      this.parseRest(false);
    } catch (err) {
      callback(err as Error);
      return;
    }
    // A line that goes on past what one record may hold (a file without line breaks):
    // csv-parse refuses it as it reads; holding it here would grow `rest` (and rescan
    // it) with every chunk.
    if (this.stream === undefined && this.rest.length > this.maxLineChars) this.toStream();
    if (this.stream !== undefined) this.writeStream(this.takeRest(), callback);
    else callback();
  }

  override _flush(callback: TransformCallback): void {
    if (this.stream === undefined) {
      try {
        this.parseRest(true);
      } catch (err) {
        callback(err as Error);
        return;
      }
    }
    const stream = this.stream;
    if (stream === undefined) {
      callback();
      return;
    }
    const rest = this.takeRest();
    if (rest !== '') stream.write(rest);
    // An error of the stream destroys this transform (see toStream).
    stream.once('end', () => callback());
    stream.end();
  }

  override _destroy(err: Error | null, callback: (error: Error | null) => void): void {
    this.stream?.destroy();
    callback(err);
  }

  private takeRest(): string {
    const rest = this.rest;
    this.rest = '';
    return rest;
  }

  /** From here on, csv-parse streams the input: `rest` is fed to it first. */
  private toStream(): void {
    const stream = parse(csvParseOptions(this.options, !this.started));
    this.started = true;
    this.streamLine = this.line;
    stream.on('data', (record: string[]) => this.push(record));
    stream.on('error', (err) => {
      // Its lines count from where it started.
      const e = err as CsvError & { lines?: number };
      if (typeof e.lines === 'number') e.lines += this.streamLine - 1;
      this.destroy(err);
    });
    this.stream = stream;
  }

  private writeStream(text: string | Buffer, callback: TransformCallback): void {
    const stream = this.stream as Parser;
    if (text === '' || text.length === 0) {
      callback();
      return;
    }
    stream.write(text, () => callback());
  }

  /**
   * Turn the complete lines of `rest` into records (all of it at the end), leaving
   * the unfinished last line, or a quoted segment that needs more text, in `rest`.
   */
  private parseRest(end: boolean): void {
    const text = this.rest;
    const delimiter = this.delimiter;
    const limit = end ? text.length : text.lastIndexOf('\n') + 1;
    let pos = 0;
    let quote = text.indexOf('"');
    if (quote === -1) quote = text.length;
    while (pos < limit) {
      let nl = text.indexOf('\n', pos);
      const lineEnd = nl === -1 || nl >= limit ? limit : nl + 1;
      if (nl >= limit) nl = -1;
      let record: string[] | undefined;
      if (lineEnd - pos <= this.maxLineChars) {
        // The line without its record delimiter ('\n' or '\r\n'); a last line without
        // a line break keeps its '\r', as csv-parse does.
        let contentEnd = nl === -1 ? lineEnd : nl;
        if (nl !== -1 && contentEnd > pos && text.charCodeAt(contentEnd - 1) === 13) contentEnd--;
        const line = text.slice(pos, contentEnd);
        if (quote >= lineEnd) {
          record = line.split(delimiter);
          // csv-parse visits every '\r' and '\n' but the '\n' of a '\r\n' delimiter.
          this.line += nl === -1 ? 0 : 1;
          if (line.indexOf('\r') !== -1) this.line += countOf(line, '\r', 0, line.length);
        } else {
          record = splitQuoted(line, delimiter);
          if (record !== undefined) this.line += nl === -1 ? 0 : 1;
        }
      }
      if (record === undefined) {
        const used = this.parseSegment(text, pos, lineEnd, limit, end);
        if (used === 0) break; // needs more text, or went to the stream
        pos += used;
      } else {
        pos = lineEnd;
        if (!isEmpty(record)) this.push(record);
      }
      if (quote < pos) {
        quote = text.indexOf('"', pos);
        if (quote === -1) quote = text.length;
      }
    }
    this.rest = pos === 0 ? text : text.slice(pos);
  }

  /**
   * Parse the segment starting at `start` (a record boundary) with csv-parse/sync:
   * first through `lineEnd`, then, when the quote is not closed there, through
   * `limit`. Returns the chars used; 0 when it needs more text or the input went to
   * the stream (the caller keeps the text from `start` in `rest`).
   */
  private parseSegment(
    text: string,
    start: number,
    lineEnd: number,
    limit: number,
    end: boolean,
  ): number {
    const options = csvParseOptions(this.options, false);
    const ends = this.tries === 0 && lineEnd < limit ? [lineEnd, limit] : [limit];
    for (const stop of ends) {
      const segment = text.slice(start, stop);
      let records: string[][];
      try {
        records = parseSync(segment, options) as string[][];
      } catch (err) {
        if (isQuoteNotClosed(err) && (stop < limit || !end)) continue;
        // Not closed at the end of the input, too large: csv-parse says so.
        this.rest = text.slice(start);
        this.toStream();
        return 0;
      }
      this.tries = 0;
      // After a segment without a line break at its end nothing is left to parse.
      if (segment.endsWith('\n')) this.line += this.linesOf(segment, options);
      for (const record of records) this.push(record);
      return stop - start;
    }
    // The quote goes on past the text there is: wait for more, within limits.
    this.tries++;
    const { maxSegmentTries = MAX_SEGMENT_TRIES, maxSegmentChars = MAX_SEGMENT_CHARS } =
      this.options;
    if (this.tries >= maxSegmentTries || limit - start > maxSegmentChars) {
      this.rest = text.slice(start);
      this.toStream();
    }
    return 0;
  }

  /** CR and LF csv-parse visits in a segment that ends at a record boundary. */
  private linesOf(segment: string, options: Options): number {
    const breaks =
      countOf(segment, '\r', 0, segment.length) + countOf(segment, '\n', 0, segment.length);
    const crlf = countOf(segment, '\r\n', 0, segment.length);
    if (crlf === 0) return breaks;
    // A segment ending at a record boundary ends with a record delimiter: its '\r\n'
    // cannot be quoted (a quote open at its '\r' would still be open after its '\n').
    if (crlf === 1 && segment.endsWith('\r\n')) return breaks - 1;
    // Which '\r\n' are record delimiters (one visit) and which quoted (two) takes a
    // parser: a quote opened after the segment is never closed, and the error says
    // on which line the parser was.
    try {
      parseSync(`${segment}"`, options);
    } catch (err) {
      const lines = (err as { lines?: unknown }).lines;
      if (isQuoteNotClosed(err) && typeof lines === 'number') return lines - 1;
      throw err;
    }
    throw new Error('fast-records: a segment did not end at a record boundary');
  }
}

/**
 * The fields of a line (without its record delimiter) whose quotes all enclose whole
 * fields: `"..."` opening at the start of the line or after a delimiter, closing
 * before a delimiter or the end of the line, with no `"` and no '\r' inside. That is
 * how spreadsheets write a cell with the delimiter in it (`"Turing, Grace"`), ~10 % of
 * the bench file's rows, and csv-parse reads each such field as what the quotes hold.
 * Undefined for anything else (`""` escapes, `5" screen`, text after a closing quote,
 * an odd number of quotes, a '\r'): csv-parse reads that line.
 */
function splitQuoted(line: string, delimiter: string): string[] | undefined {
  if (line.indexOf('\r') !== -1) return undefined;
  // Even parts are outside quotes, odd parts inside.
  const parts = line.split('"');
  const last = parts.length - 1;
  if (last % 2 !== 0) return undefined;
  const record: string[] = [];
  for (let i = 0; i <= last; i += 2) {
    const outside = parts[i] as string;
    const first = i === 0;
    const final = i === last;
    if (outside === '') {
      // A quote at the start or end of the line; elsewhere `""` or `"a""b"`.
      if (!first && !final) return undefined;
    } else {
      // After a closing quote, a delimiter; before an opening one, a delimiter.
      if (!first && outside[0] !== delimiter) return undefined;
      if (!final && outside[outside.length - 1] !== delimiter) return undefined;
      // The unquoted fields between: those delimiters themselves end no field. A
      // middle part of one delimiter (`"a","b"`) holds no field.
      if (first || final || outside.length > 1) {
        const inner = outside.slice(first ? 0 : 1, final ? outside.length : outside.length - 1);
        for (const field of inner.split(delimiter)) record.push(field);
      }
    }
    if (!final) record.push(parts[i + 1] as string);
  }
  return record;
}

/** No lone surrogate: UTF-8 encodes the text as it is (String#isWellFormed, Node 20). */
function isWellFormed(text: string): boolean {
  return (text as unknown as { isWellFormed(): boolean }).isWellFormed();
}

/** csv-parse's isRecordEmpty: every field blank. */
function isEmpty(record: string[]): boolean {
  for (let i = 0; i < record.length; i++) {
    if ((record[i] as string).trim() !== '') return false;
  }
  return true;
}
