/**
 * results/: the results file, the run's checkpoint. writer.ts (append-only, one write
 * per finished row), scan.ts (the fast line reader used by resume and report),
 * resume.ts and import-resume.ts (what an earlier run settled), sidecar.ts (the
 * <out>.complete.json record that lets a finished run resume at once), tally.ts
 * (counts per status and the most common errors).
 */
import { closeSync, fstatSync, ftruncateSync, openSync, statSync, writeSync } from 'node:fs';
import { stringify } from 'csv-stringify/sync';
import { ResultsWriteError, UsageError } from '../../errors.js';

/** Columns of the results CSV, in order (docs/results-and-resume.md). */
export const RESULTS_COLUMNS = [
  'row',
  'id',
  'status',
  'http_status',
  'attempts',
  'error',
  'payload_sha256',
  'finished_at',
] as const;

/**
 * Columns of an import's results CSV: update's, with the row's `--key` cell after `row`
 * (empty without `--key`), and `id` the contact the API created. A header of its own,
 * so update's format stays as it was and neither run can resume from the other's file.
 */
export const IMPORT_RESULTS_COLUMNS = [
  'row',
  'key',
  'id',
  'status',
  'http_status',
  'attempts',
  'error',
  'payload_sha256',
  'finished_at',
] as const;

/** Which results format a file has: update's or import's (docs/results-and-resume.md). */
export type ResultsLayout = 'update' | 'import';

/**
 * `unchanged` (with `--state`): update: the payload equals the one the API last
 * confirmed for the id, so the row was not sent (attempts 0; resume checks such rows
 * again); import and sync: the key's contact already holds this payload.
 * `created` and `uncertain` are import's; `sending` is import's intent line, written
 * before a create goes out and followed by the row's outcome (a row whose last line is
 * `sending` was in flight when its run died: resume makes it `uncertain`).
 */
export type RowStatus =
  | 'updated'
  | 'failed'
  | 'invalid'
  | 'dry-run'
  | 'unchanged'
  | 'created'
  | 'uncertain'
  | 'sending';

/** One row's final outcome in this run. */
export interface ResultLine {
  row: number;
  /** The contact id (update), or the id the API gave the new contact (import; '' until then). */
  id: string;
  /** Import only: the row's `--key` cell ('' without `--key`). */
  key?: string | undefined;
  status: RowStatus;
  /** Last HTTP status seen; absent when nothing was sent or no answer came. */
  httpStatus?: number | undefined;
  /** Requests sent for this row (0 for invalid and dry-run rows). */
  attempts: number;
  error?: string | undefined;
  sha256: string;
  finishedAt: Date;
}

export type OpenMode =
  /** a new file; refuse if it exists */
  | 'create'
  /** add to an existing file (resume) */
  | 'append'
  /** replace an existing file (--force) */
  | 'overwrite';

const HEADER_LINES: Record<ResultsLayout, string> = {
  update: `${RESULTS_COLUMNS.join(',')}\n`,
  import: `${IMPORT_RESULTS_COLUMNS.join(',')}\n`,
};

/**
 * A results path must be a regular file or not exist yet. Opening a FIFO blocks in
 * `open(2)` until a reader comes, with signals unheard; a device or a directory cannot
 * hold an append-only checkpoint to resume from. Checked before anything is read.
 */
export function refuseNonRegularResults(path: string): void {
  let kind: string | undefined;
  try {
    const stats = statSync(path);
    if (stats.isFile()) return;
    kind = stats.isFIFO()
      ? 'a named pipe (FIFO)'
      : stats.isDirectory()
        ? 'a directory'
        : stats.isCharacterDevice() || stats.isBlockDevice()
          ? 'a device'
          : stats.isSocket()
            ? 'a socket'
            : 'not a regular file';
  } catch {
    return; // missing (created later) or unreadable (open reports it)
  }
  throw new UsageError(
    `results file ${path} is ${kind}; --out needs a regular file (one that exists, or a new one)`,
    'E_OUT_NOT_FILE',
  );
}

/**
 * Bytes of `unchanged` lines held before one write(2). A lost `unchanged` line costs
 * nothing: resume and the state treat the row as not done and check it again.
 */
export const UNCHANGED_BUFFER_BYTES = 64 * 1024;

/**
 * Append-only results file. Every line is written with one `write(2)` as the row
 * finishes: nothing is buffered in the process, so `kill -9` loses at most the rows
 * still in flight, and a full disk shows up at the row that hit it. The one exception
 * is {@link ResultsWriter.writeUnchanged}: those lines record no request, so they are
 * gathered into 64 KB writes (1M unchanged rows: ~16,000 writes instead of 1M).
 */
export class ResultsWriter {
  private fd: number | undefined;
  /** `unchanged` lines not yet written; always written before any other line. */
  private pending: string[] = [];
  private pendingBytes = 0;
  readonly path: string;
  private readonly redact: (text: string) => string;
  readonly layout: ResultsLayout;

  private constructor(
    path: string,
    fd: number,
    redact: (text: string) => string,
    layout: ResultsLayout,
  ) {
    this.path = path;
    this.fd = fd;
    this.redact = redact;
    this.layout = layout;
  }

  /**
   * Open (and create) the results file. Fails before anything is sent when the file
   * exists and may not be touched, or the directory is not writable.
   */
  static open(
    path: string,
    mode: OpenMode,
    options: {
      redact?: (text: string) => string;
      /** Which header and columns. @default 'update' */
      layout?: ResultsLayout;
    } = {},
  ): ResultsWriter {
    refuseNonRegularResults(path);
    const flags = mode === 'create' ? 'wx' : mode === 'append' ? 'a' : 'w';
    let fd: number;
    try {
      fd = openSync(path, flags, 0o644);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') {
        throw new UsageError(
          `results file ${path} already exists; add --resume to continue that run, --force to overwrite it, or choose another --out`,
          'E_RESULTS_EXISTS',
        );
      }
      throw new ResultsWriteError(`cannot open results file ${path}: ${describeFsError(err)}`, {
        cause: err,
      });
    }
    const layout = options.layout ?? 'update';
    const writer = new ResultsWriter(path, fd, options.redact ?? ((t) => t), layout);
    if (fstatSync(fd).size === 0) writer.writeRaw(HEADER_LINES[layout]);
    return writer;
  }

  /** Write one row's outcome. Throws ResultsWriteError when the disk refuses. */
  write(line: ResultLine): void {
    const text = formatResultLine(line, this.redact, this.layout);
    if (this.pending.length > 0) this.writeRaw(this.takePending() + text, true);
    else this.writeRaw(text, true);
  }

  /**
   * Write several lines with one `write(2)`: import's intent lines for a whole batch,
   * so that a crash leaves all of them or (a torn last line aside) none.
   */
  writeAll(lines: readonly ResultLine[]): void {
    if (lines.length === 0) return;
    const text = lines.map((line) => formatResultLine(line, this.redact, this.layout)).join('');
    this.writeRaw(this.takePending() + text, true);
  }

  /**
   * Write an `unchanged` line, batched (see {@link UNCHANGED_BUFFER_BYTES}): it reaches
   * the file with the next other line, when the batch is full, or at {@link flush} /
   * {@link close}.
   */
  writeUnchanged(line: ResultLine): void {
    const text = formatResultLine(line, this.redact, this.layout);
    this.pending.push(text);
    this.pendingBytes += text.length;
    if (this.pendingBytes >= UNCHANGED_BUFFER_BYTES) this.flush();
  }

  /** Write the batched `unchanged` lines now. */
  flush(): void {
    if (this.pending.length > 0) this.writeRaw(this.takePending(), true);
  }

  private takePending(): string {
    const text = this.pending.join('');
    this.pending = [];
    this.pendingBytes = 0;
    return text;
  }

  private writeRaw(text: string, midRun = false): void {
    if (this.fd === undefined) throw new ResultsWriteError(`results file ${this.path} is closed`);
    const buf = Buffer.from(text, 'utf8');
    let off = 0;
    try {
      while (off < buf.length) off += writeSync(this.fd, buf, off, buf.length - off);
    } catch (err) {
      // A disk that fills up mid-line leaves half a line: cut it, so the file stays
      // clean for --resume (which would also repair it, but a clean file is better).
      if (off > 0) {
        try {
          ftruncateSync(this.fd, fstatSync(this.fd).size - off);
        } catch {
          // the torn line stays; resume repairs it
        }
      }
      throw new ResultsWriteError(
        midRun
          ? `cannot write results file ${this.path}: ${describeFsError(err)}; the run was stopped`
          : `cannot write results file ${this.path}: ${describeFsError(err)}`,
        { cause: err, midRun },
      );
    }
  }

  /**
   * Write what is batched, then close. A write that fails here throws (after closing):
   * the lines lost are `unchanged` ones, which the next run checks again.
   */
  close(): void {
    if (this.fd === undefined) return;
    try {
      this.flush();
    } finally {
      this.closeFd();
    }
  }

  private closeFd(): void {
    if (this.fd === undefined) return;
    const fd = this.fd;
    this.fd = undefined;
    closeSync(fd);
  }
}

let lastMs = Number.NaN;
let lastIso = '';

/**
 * `date.toISOString()`, remembered for the last millisecond asked: the rows of a run
 * finish many to a millisecond (1M `unchanged` rows in ~8 s), and the conversion was
 * a third of a plain line's formatting.
 */
function isoTime(date: Date): string {
  const ms = date.getTime();
  if (ms !== lastMs) {
    lastIso = date.toISOString();
    lastMs = ms;
  }
  return lastIso;
}

/**
 * Format one results line. csv-stringify does the quoting, and `escape_formulas`
 * prefixes a `'` to cells a spreadsheet would run as a formula (=, +, -, @, tab, CR).
 */
export function formatResultLine(
  line: ResultLine,
  redact: (text: string) => string = (t) => t,
  layout: ResultsLayout = 'update',
): string {
  // Most lines need no quoting, escaping or formula guard: built directly, they cost
  // a fraction of a csv-stringify call (which validates its options on every call), the
  // largest share of the writer's time in a run of 1M `unchanged` lines.
  const key = line.key ?? '';
  if (
    (line.error === undefined || line.error === '') &&
    PLAIN_CELL.test(line.id) &&
    (layout === 'update' || key === '' || PLAIN_CELL.test(key))
  ) {
    const lead = layout === 'import' ? `${line.row},${key}` : `${line.row}`;
    return `${lead},${line.id},${line.status},${line.httpStatus ?? ''},${line.attempts},,${line.sha256},${isoTime(line.finishedAt)}\n`;
  }
  const lead = layout === 'import' ? [line.row, escapeControl(key)] : [line.row];
  return stringify(
    [
      [
        ...lead,
        escapeControl(line.id),
        line.status,
        line.httpStatus ?? '',
        line.attempts,
        line.error === undefined ? '' : oneLine(redact(line.error)),
        line.sha256,
        line.finishedAt.toISOString(),
      ],
    ],
    { escape_formulas: true, eof: true, record_delimiter: 'unix' },
  );
}

/**
 * A cell csv-stringify would write as it is: not empty, no quote, comma or control
 * character, and no first character a spreadsheet reads as a formula (csv-stringify's
 * `escape_formulas` list, fullwidth forms included).
 */
const PLAIN_CELL =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters need escaping
  /^[^=+\-@\t\r",\u0000-\u001f\u007f\uff1d\uff0b\uff0d\uff20][^",\u0000-\u001f\u007f]*$/;

/** Errors are one readable line: collapse line breaks and other control characters. */
function oneLine(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: stripping them is the point
  return text.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
}

/**
 * Ids of invalid rows may hold control characters; show them escaped (`\n`) so that
 * every results line is one physical line, which the torn-line repair relies on.
 */
export function escapeControl(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: escaping them is the point
  return text.replace(/[\u0000-\u001f\u007f]/g, (c) => JSON.stringify(c).slice(1, -1));
}

export function describeFsError(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  switch (e.code) {
    case 'ENOSPC':
      return 'no space left on the device';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EROFS':
      return 'read-only file system';
    case 'ENOENT':
      return 'the directory does not exist';
    case 'EISDIR':
      return 'it is a directory';
    default:
      return e.message ?? String(err);
  }
}
