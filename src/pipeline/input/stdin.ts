/**
 * `-` as the input file: the CSV comes on stdin. It is copied to a private temporary
 * file first, so that everything a file gets works the same: the whole-file check
 * before the first request, the row count for progress, and the pairing check on
 * resume (pipe the same data again). The copy is removed when the command ends.
 */
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { InputFileError, InterruptedError, UsageError } from '../../errors.js';

/** The input "path" that means stdin. */
export const STDIN = '-';
/** What messages and summaries call it. */
export const STDIN_NAME = 'stdin';

export interface SpooledInput {
  path: string;
  remove(): void;
}

/** Options of {@link spoolStdin}. */
export interface SpoolOptions {
  /** Where SIGINT and SIGTERM come from. @default process */
  signals?: NodeJS.EventEmitter;
}

/**
 * Copy stdin to a private temporary file. A SIGINT or SIGTERM during the copy stops
 * it at once and removes the copy: the copy waits on the writer of the pipe, which
 * may never finish, and the update command's own handlers (finish the requests in
 * flight, then abandon them) have nothing to act on yet, so before this the first
 * two Ctrl-C did nothing and the third exited leaving the copy behind.
 *
 * @throws UsageError `E_STDIN_TTY`; InputFileError `E_INPUT_UNREADABLE`;
 * InterruptedError (exit 130 or 143) when a signal stops the copy.
 */
export async function spoolStdin(
  stdin: NodeJS.ReadableStream & { isTTY?: boolean },
  options: SpoolOptions = {},
): Promise<SpooledInput> {
  if (stdin.isTTY === true) {
    throw new UsageError(
      'input "-" reads the CSV from stdin, but stdin is a terminal: pipe the file in (… | clerk-bulk update - --out results.csv)',
      'E_STDIN_TTY',
    );
  }
  const dir = mkdtempSync(join(tmpdir(), 'clerk-bulk-stdin-'));
  const remove = () => rmSync(dir, { recursive: true, force: true });
  const path = join(dir, 'stdin.csv');
  const signals = options.signals ?? process;
  const stop = new AbortController();
  let caught: 'SIGINT' | 'SIGTERM' | undefined;
  const onInt = () => {
    caught ??= 'SIGINT';
    stop.abort();
  };
  const onTerm = () => {
    caught ??= 'SIGTERM';
    stop.abort();
  };
  signals.on('SIGINT', onInt);
  signals.on('SIGTERM', onTerm);
  // A closed terminal stops the copy as SIGTERM does (exit 143).
  signals.on('SIGHUP', onTerm);
  try {
    await pipeline(stdin, createWriteStream(path, { mode: 0o600 }), { signal: stop.signal });
  } catch (cause) {
    remove();
    if (caught !== undefined) {
      throw new InterruptedError(
        `${STDIN_NAME}: ${caught} while copying the input; stopped, nothing was sent`,
        caught,
        { cause },
      );
    }
    throw new InputFileError(
      `cannot read it: ${(cause as Error).message}`,
      'E_INPUT_UNREADABLE',
      { file: STDIN_NAME },
      { cause },
    );
  } finally {
    signals.off('SIGINT', onInt);
    signals.off('SIGTERM', onTerm);
    signals.off('SIGHUP', onTerm);
  }
  return { path, remove };
}
