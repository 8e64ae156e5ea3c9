import { createReadStream } from 'node:fs';
import { Transform, type TransformCallback } from 'node:stream';
import { CsvError, parse } from 'csv-parse';
import { InputFileError } from '../errors.js';

/** One data row of the input file. */
export interface InputRow {
  /** 1-based data-row number, header excluded: the `row` column of the results. */
  row: number;
  /** 1-based physical line where the row ends (quoted line breaks span lines). */
  line: number;
  cells: string[];
}

export interface RowSource {
  /** The header record as read (not yet trimmed or checked). */
  header: string[];
  delimiter: string;
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
}

const CANDIDATE_DELIMITERS = [',', ';', '\t', '|'] as const;
/** Largest cell we accept; a bigger one is almost surely a broken quote swallowing the file. */
export const MAX_CELL_BYTES = 8 * 1024 * 1024;

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

/** Lines into `chunk` before the first byte sequence that is not UTF-8 (0 when unsure). */
function firstBadUtf8Line(chunk: Buffer): number {
  // Decode line by line; the line that throws is the culprit.
  const decoder = new TextDecoder('utf-8', { fatal: true });
  let start = 0;
  let line = 0;
  while (start < chunk.length) {
    let end = chunk.indexOf(10, start);
    if (end === -1) end = chunk.length;
    try {
      decoder.decode(chunk.subarray(start, end));
    } catch {
      return line;
    }
    line++;
    start = end + 1;
  }
  return 0;
}

/** Read the first line (up to 64 KiB) to detect the delimiter before parsing. */
async function readHeaderLine(path: string): Promise<string> {
  const stream = createReadStream(path, { start: 0, end: 64 * 1024 - 1 });
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  const head = Buffer.concat(chunks)
    .toString('utf8')
    .replace(/^\uFEFF/, '');
  const nl = head.search(/\r?\n/);
  return nl === -1 ? head : head.slice(0, nl);
}

/** Map csv-parse's errors to our one-line file errors. */
function toInputError(err: unknown, file: string): InputFileError {
  if (err instanceof InputFileError) return err;
  if (err instanceof CsvError) {
    const line = (err as CsvError & { lines?: number }).lines;
    const messages: Record<string, string> = {
      CSV_QUOTE_NOT_CLOSED: 'a quoted field is never closed (missing ")',
      CSV_INVALID_CLOSING_QUOTE: 'a quote inside a field is not escaped (write "" for ")',
      CSV_NON_TRIMABLE_CHAR_AFTER_CLOSING_QUOTE: 'text after a closing quote',
      CSV_MAX_RECORD_SIZE: `a record is larger than ${MAX_CELL_BYTES / 1024 / 1024} MiB (a broken quote?)`,
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
  let headerLine: string;
  try {
    headerLine = await readHeaderLine(path);
  } catch (err) {
    throw toInputError(err, file);
  }
  if (headerLine.trim() === '') {
    throw new InputFileError('the file is empty (no header line)', 'E_EMPTY_FILE', {
      file,
      line: 1,
    });
  }
  const delimiter = options.delimiter ?? detectDelimiter(headerLine);

  const source = createReadStream(path, { highWaterMark: 256 * 1024 });
  const decoder = new StrictUtf8Decoder(file);
  const parser = parse({
    delimiter,
    bom: true,
    info: true,
    // Ragged rows become row-level `invalid` results instead of killing the run.
    relax_column_count: true,
    skip_empty_lines: true,
    // Files stitched together from several sources mix CRLF and LF.
    record_delimiter: ['\r\n', '\n', '\r'],
    max_record_size: MAX_CELL_BYTES,
  });
  let failure: unknown;
  const fail = (err: unknown) => {
    failure ??= err;
    parser.destroy(toInputError(err, file));
  };
  source.on('error', fail);
  decoder.on('error', fail);
  source.pipe(decoder).pipe(parser);

  const iterator = parser[Symbol.asyncIterator]() as AsyncIterator<{
    record: string[];
    info: { lines: number };
  }>;
  let first: IteratorResult<{ record: string[]; info: { lines: number } }>;
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
  const header = first.value.record;

  async function* rows(): AsyncGenerator<InputRow> {
    let row = 0;
    try {
      while (true) {
        const next = await iterator.next();
        if (next.done === true) return;
        row++;
        yield { row, line: next.value.info.lines, cells: next.value.record };
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
    rows: rows(),
    close: () => {
      source.destroy();
      parser.destroy();
    },
  };
}

/**
 * Count newline bytes, fast, for the progress bar's total. Quoted line breaks make it
 * an upper bound; blank lines too. Good enough for a progress estimate.
 */
export async function countLines(path: string): Promise<number> {
  let lines = 0;
  let last = 10;
  for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 })) {
    const buf = chunk as Buffer;
    let i = buf.indexOf(10);
    while (i !== -1) {
      lines++;
      i = buf.indexOf(10, i + 1);
    }
    if (buf.length > 0) last = buf[buf.length - 1] ?? 10;
  }
  // A last line without a trailing newline still counts.
  return last === 10 ? lines : lines + 1;
}
