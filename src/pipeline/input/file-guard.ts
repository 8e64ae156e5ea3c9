/**
 * The input as a file: refuse what is not a regular file (a FIFO, /dev/stdin on a
 * pipe, a device), and notice a file that changes while it is read.
 *
 * Why the reader watches the file: the rows are read while the run sends them, up to
 * hours after the pre-check. A file truncated in that time used to end the stream
 * early, csv-parse then handed out the cut last line as a row, and its cut-off value
 * was sent as if the run had finished normally. Now every chunk the row stream reads
 * is checked against what the pre-check saw (size, mtime, device and inode, through
 * the open descriptor and through the path), and the stream must end after exactly
 * the pre-check's byte count, which is what makes its line count the row stream's too.
 * Two stat calls per 256 KiB read: unmeasurable next to parsing it.
 */
import { fstatSync, type Stats, statSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Transform, type TransformCallback } from 'node:stream';
import type { InputFileError } from '../../errors.js';
import {
  changedError,
  type NotFileKind,
  notRegularFileError,
  toInputError,
} from './input-errors.js';

/** What identifies one version of a file. */
export interface FileStamp {
  dev: number;
  ino: number;
  /** Bytes. */
  size: number;
  mtimeMs: number;
}

export function stampOf(stats: Stats): FileStamp {
  return { dev: stats.dev, ino: stats.ino, size: stats.size, mtimeMs: stats.mtimeMs };
}

/** How `now` differs from `before`, for {@link changedError}; undefined when it does not. */
export function describeChange(before: FileStamp, now: FileStamp | undefined): string | undefined {
  if (now === undefined) return 'it was removed or renamed';
  if (now.dev !== before.dev || now.ino !== before.ino) return 'it was replaced by another file';
  if (now.size < before.size) return `it shrank from ${before.size} to ${now.size} bytes`;
  if (now.size > before.size) return `it grew from ${before.size} to ${now.size} bytes`;
  if (now.mtimeMs !== before.mtimeMs) return 'it was rewritten';
  return undefined;
}

function kindOf(stats: Stats): NotFileKind | undefined {
  if (stats.isFile()) return undefined;
  if (stats.isDirectory()) return 'a directory';
  if (stats.isFIFO()) return 'a pipe (FIFO)';
  if (stats.isSocket()) return 'a socket';
  return 'a terminal or device';
}

/**
 * Refuse an input path that is not a regular file, before anything opens it: opening
 * a FIFO blocks until a writer comes, and a pipe cannot be read twice. A stat never
 * blocks, and follows /dev/stdin to what stdin really is (a file redirected with `<`
 * is a regular file and is read as one).
 *
 * @throws InputFileError `E_INPUT_NOT_FILE`, or the read errors of {@link toInputError}.
 */
export async function refuseNonFile(path: string, file: string): Promise<void> {
  let stats: Stats;
  try {
    stats = await stat(path);
  } catch (err) {
    throw toInputError(err, file);
  }
  const kind = kindOf(stats);
  if (kind !== undefined) throw notRegularFileError(file, kind);
}

/**
 * The current stamp of the open file `fd` if the path still names the same file, else
 * the path's own stamp (or undefined when the path is gone).
 */
function currentStamp(fd: number, path: string): FileStamp | undefined {
  const open = stampOf(fstatSync(fd));
  let named: FileStamp;
  try {
    named = stampOf(statSync(path));
  } catch {
    return undefined;
  }
  return named.dev === open.dev && named.ino === open.ino ? open : named;
}

/**
 * Passes the file's bytes through unchanged, and fails with `E_INPUT_CHANGED` as soon
 * as the file differs from `expected`, or ends before or after `expected.size` bytes.
 * It fails instead of ending, so the parser never flushes a cut last line as a row.
 * `fd` must stay open until `done` is called (the stream reading it must not close it).
 */
export class ChangeGuard extends Transform {
  private bytes = 0;

  constructor(
    private readonly fd: number,
    private readonly path: string,
    private readonly file: string,
    private readonly expected: FileStamp,
    /** Called once the last check is done: the descriptor may then be closed. */
    private readonly done: () => void,
  ) {
    super();
  }

  private check(): InputFileError | undefined {
    const change = describeChange(this.expected, currentStamp(this.fd, this.path));
    return change === undefined ? undefined : changedError(this.file, change);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.length;
    const error = this.check();
    if (error !== undefined) callback(error);
    else callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    const error =
      this.check() ??
      (this.bytes === this.expected.size
        ? undefined
        : changedError(
            this.file,
            `${this.bytes} bytes read where the file had ${this.expected.size}`,
          ));
    this.done();
    callback(error);
  }
}
