/**
 * Every error the input stage reports, written once: the encoding checks of the
 * pre-check and of the row stream, read errors, csv-parse's errors, and a file that
 * changes under the reader all build their message here, so both passes say the
 * same thing about the same file.
 */
import { CsvError } from 'csv-parse';
import { InputFileError } from '../../errors.js';

/**
 * Largest record (one row, all its cells) we accept, in bytes. A bigger one is almost
 * surely a broken quote swallowing the file; a real contact is a few hundred bytes.
 */
export const MAX_RECORD_BYTES = 8 * 1024 * 1024;

const MAX_RECORD_MIB = MAX_RECORD_BYTES / 1024 / 1024;

/**
 * Which UTF-16 a chunk starting the file looks like: a BOM, or the zero bytes ASCII
 * text has in UTF-16 (every other byte). The one check both passes use.
 */
export function detectUtf16(chunk: Uint8Array): 'utf-16le' | 'utf-16be' | undefined {
  if (chunk.length < 2) return undefined;
  if (chunk[0] === 0xff && chunk[1] === 0xfe) return 'utf-16le';
  if (chunk[0] === 0xfe && chunk[1] === 0xff) return 'utf-16be';
  if (chunk.length < 4) return undefined;
  if (chunk[1] === 0 && chunk[3] === 0 && chunk[0] !== 0) return 'utf-16le';
  if (chunk[0] === 0 && chunk[2] === 0 && chunk[1] !== 0) return 'utf-16be';
  return undefined;
}

/** The file starts with a UTF-8 byte order mark. */
export function hasUtf8Bom(chunk: Uint8Array): boolean {
  return chunk[0] === 0xef && chunk[1] === 0xbb && chunk[2] === 0xbf;
}

/** UTF-16 where UTF-8 was expected; little-endian files can be read with the option. */
export function utf16Error(file: string, kind: 'utf-16le' | 'utf-16be'): InputFileError {
  const how =
    kind === 'utf-16le'
      ? 'save it as UTF-8 (CSV UTF-8 in Excel), or use --encoding utf-16le'
      : 'save it as UTF-8 (CSV UTF-8 in Excel)';
  return new InputFileError(`the file is UTF-16 text; ${how}`, 'E_ENCODING', { file, line: 1 });
}

export function notUtf8Error(file: string, line: number, cause?: unknown): InputFileError {
  return new InputFileError(
    'the file is not valid UTF-8 (Latin-1 or Windows-1252?); save it as UTF-8, or use --encoding windows-1252 to read it as it is',
    'E_ENCODING',
    { file, line },
    cause === undefined ? undefined : { cause },
  );
}

export function endsInsideCharacterError(
  file: string,
  encoding: 'utf-8' | 'utf-16le',
  line: number | undefined,
  cause?: unknown,
): InputFileError {
  return new InputFileError(
    `the file ends inside a ${encoding === 'utf-8' ? 'UTF-8' : 'UTF-16'} character`,
    'E_ENCODING',
    line === undefined ? { file } : { file, line },
    cause === undefined ? undefined : { cause },
  );
}

/** Bytes that are not text in the encoding given (an odd UTF-16 byte, a lone surrogate). */
export function badTextError(file: string, encoding: string, cause?: unknown): InputFileError {
  return new InputFileError(
    `the file is not valid ${encoding} text; check --encoding`,
    'E_ENCODING',
    { file },
    cause === undefined ? undefined : { cause },
  );
}

/** A UTF-8 BOM with another encoding asked for: the file is UTF-8, the option is wrong. */
export function utf8BomError(file: string, encoding: string): InputFileError {
  return new InputFileError(
    `the file starts with a UTF-8 byte order mark, so it is UTF-8, not ${encoding}: leave out --encoding`,
    'E_ENCODING',
    { file, line: 1 },
  );
}

export function nulError(file: string, line: number): InputFileError {
  return new InputFileError(
    'the file contains NUL bytes: it is binary, not CSV text',
    'E_ENCODING',
    { file, line },
  );
}

export function emptyFileError(file: string): InputFileError {
  return new InputFileError('the file is empty (no header line)', 'E_EMPTY_FILE', {
    file,
    line: 1,
  });
}

export function quoteNotClosedError(file: string, line: number): InputFileError {
  return new InputFileError(
    'a quoted field opened here is never closed (missing ")',
    'E_CSV_QUOTE_NOT_CLOSED',
    { file, line },
  );
}

/** A record over {@link MAX_RECORD_BYTES}; `quoteLine` when a quoted field is still open. */
export function recordTooLargeError(
  file: string,
  line: number,
  quoteLine?: number,
): InputFileError {
  return new InputFileError(
    quoteLine === undefined
      ? `a record starting here is larger than ${MAX_RECORD_MIB} MiB`
      : `a record starting here is larger than ${MAX_RECORD_MIB} MiB: the quoted field opened on line ${quoteLine} is probably never closed (missing ")`,
    'E_CSV_MAX_RECORD_SIZE',
    { file, line },
  );
}

/**
 * The file was truncated, rewritten, appended to, replaced or removed while it was
 * being read: rows read after that may be cut or mixed, so the read stops there.
 */
export function changedError(file: string, what: string): InputFileError {
  return new InputFileError(
    `the file changed while it was being read (${what}); rows after that point were not read: keep the file unchanged during a run`,
    'E_INPUT_CHANGED',
    { file },
  );
}

/** What a path that is not a regular file is, for the message; undefined for a file. */
export type NotFileKind = 'a pipe (FIFO)' | 'a socket' | 'a terminal or device' | 'a directory';

/**
 * A FIFO, socket or device as the input path: the input is read more than once
 * (the pre-check, then the rows), which a pipe cannot do.
 */
export function notRegularFileError(file: string, kind: NotFileKind): InputFileError {
  if (kind === 'a directory') {
    return new InputFileError('is a directory, not a CSV file', 'E_INPUT_NOT_FOUND', { file });
  }
  return new InputFileError(
    `is ${kind}, not a regular file: the input is read twice (checked, then sent), so use - for stdin (… | clerk-bulk update - --out results.csv)`,
    'E_INPUT_NOT_FILE',
    { file },
  );
}

/** Data under a header that is empty: it could not be sent, so the file is refused. */
export function unnamedDataError(file: string, row: number, column: number): InputFileError {
  return new InputFileError(
    `column ${column} has no header but holds data: give it a header, or delete the column`,
    'E_HEADER_EMPTY_WITH_DATA',
    { file, row },
  );
}

/** Map read errors and csv-parse's errors to our one-line file errors. */
export function toInputError(err: unknown, file: string): InputFileError {
  if (err instanceof InputFileError) return err;
  if (err instanceof CsvError) {
    const line = (err as CsvError & { lines?: number }).lines;
    const messages: Record<string, string> = {
      CSV_QUOTE_NOT_CLOSED: 'a quoted field is never closed (missing ") before the end of the file',
      CSV_INVALID_CLOSING_QUOTE: 'a quote inside a field is not escaped (write "" for ")',
      CSV_NON_TRIMABLE_CHAR_AFTER_CLOSING_QUOTE: 'text after a closing quote',
      CSV_MAX_RECORD_SIZE: `a record is larger than ${MAX_RECORD_MIB} MiB (a broken quote?)`,
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
  if (code === 'EISDIR') return notRegularFileError(file, 'a directory');
  if (code === 'EACCES')
    return new InputFileError('permission denied', 'E_INPUT_UNREADABLE', { file });
  return new InputFileError(
    `cannot read the file: ${(err as Error | undefined)?.message ?? String(err)}`,
    'E_INPUT_UNREADABLE',
    { file },
    { cause: err },
  );
}
