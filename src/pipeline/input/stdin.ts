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
import { InputFileError, UsageError } from '../../errors.js';

/** The input "path" that means stdin. */
export const STDIN = '-';
/** What messages and summaries call it. */
export const STDIN_NAME = 'stdin';

export interface SpooledInput {
  path: string;
  remove(): void;
}

export async function spoolStdin(
  stdin: NodeJS.ReadableStream & { isTTY?: boolean },
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
  try {
    await pipeline(stdin, createWriteStream(path, { mode: 0o600 }));
  } catch (cause) {
    remove();
    throw new InputFileError(
      `cannot read it: ${(cause as Error).message}`,
      'E_INPUT_UNREADABLE',
      { file: STDIN_NAME },
      { cause },
    );
  }
  return { path, remove };
}
