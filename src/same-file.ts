import { type Stats, statSync } from 'node:fs';
import { UsageError } from './errors.js';

/** A file a command reads, for {@link refuseOutputOverInput}. */
export interface NamedInput {
  /** Path as the user gave it; `undefined` or `-` (stdin) are skipped. */
  path: string | undefined;
  /** What it is, for the message: "the input file", "the results file", "--map". */
  what: string;
}

function statOrUndefined(path: string): Stats | undefined {
  try {
    return statSync(path);
  } catch {
    return undefined; // missing: cannot be the same file (a missing input is reported elsewhere)
  }
}

/**
 * Refuse an output path that is one of the command's inputs: the same device and inode,
 * so a hard link or a symlink to the input counts too. Writing there would replace the
 * file being read (`validate in.csv --invalid-out in.csv`) or the checkpoint a resume
 * needs (`report r.csv --failed-out r.csv`). Exit 2, before anything is opened.
 */
export function refuseOutputOverInput(
  output: { path: string | undefined; flag: string },
  inputs: NamedInput[],
): void {
  if (output.path === undefined || output.path === '-') return;
  const out = statOrUndefined(output.path);
  if (out === undefined) return;
  for (const input of inputs) {
    if (input.path === undefined || input.path === '-') continue;
    const stats = statOrUndefined(input.path);
    if (stats !== undefined && stats.dev === out.dev && stats.ino === out.ino) {
      throw new UsageError(
        `${output.flag} ${output.path} is ${input.what} (${input.path}) itself; it would be overwritten: choose another path`,
        'E_OUTPUT_IS_INPUT',
      );
    }
  }
}
