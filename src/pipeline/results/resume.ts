import { closeSync, fstatSync, ftruncateSync, openSync } from 'node:fs';
import { InputFileError } from '../../errors.js';
import { type ResultsScan, scanResultsFile } from './scan.js';

/** Which rows an earlier run already finished. */
export interface ResumePlan {
  /** Rows whose last line is final (and so skipped unless their content changed). */
  readonly doneCount: number;
  /** Lines read from the results file. */
  readonly linesRead: number;
  /** Whether row `row` with this id and payload hash is already done. */
  isDone(row: number, id: string, sha256: string): boolean;
  /** For a done row: whether it ended `updated` (true) or `failed`/`invalid` (false). */
  wasUpdated(row: number): boolean;
  /** For a done row: the status its last line has; undefined for a row not done. */
  doneStatus(row: number): 'updated' | 'failed' | 'invalid' | undefined;
  /** Hash of the id last recorded for `row`, or undefined (for pairing checks). */
  recordedIdHash(row: number): number | undefined;
  /** Whether the last line was torn (a crash mid-write) and has been cut off. */
  readonly repairedTornLine: boolean;
}

// Per-row state codes. Typed arrays instead of a Map of objects: a 1,000,000-line
// results file then costs ~13 MB instead of ~200 MB.
const NONE = 0;
const DONE = 1;
const NOT_DONE = 2;
/** Final, but `failed` (or `invalid`): skipped on resume, yet the file is not all good. */
const DONE_FAILED = 3;
const DONE_INVALID = 4;

/** 32-bit FNV-1a: enough to notice that a row now holds another id. */
export function hashId(id: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) {
    h ^= id.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** The first 52 bits of the hex sha256, exact in a float64. */
export function shaKey(sha256: string): number {
  return Number.parseInt(sha256.slice(0, 13), 16);
}

/** Per-row state, hash of the id and payload hash, in typed arrays that grow. */
export class Rows {
  state = new Uint8Array(1024);
  idHash = new Uint32Array(1024);
  sha = new Float64Array(1024);

  ensure(row: number): void {
    if (row < this.state.length) return;
    let size = this.state.length;
    while (size <= row) size *= 2;
    const state = new Uint8Array(size);
    state.set(this.state);
    const idHash = new Uint32Array(size);
    idHash.set(this.idHash);
    const sha = new Float64Array(size);
    sha.set(this.sha);
    this.state = state;
    this.idHash = idHash;
    this.sha = sha;
  }
}

/**
 * Read a results file into a resume plan. A row is done when its last line has status
 * `updated` (or `failed`/`invalid` without `retryFailed`) and the same id and payload
 * hash as the row has now (docs/results-and-resume.md). `failed` lines caused by a
 * refused key (401/403) are never done: the key, not the row, was at fault.
 *
 * The whole file is read, header first, before a torn last line is cut off: a file
 * that is not a results file (or not readable as one) is left untouched.
 */
export async function loadResumePlan(
  path: string,
  options: { retryFailed: boolean },
): Promise<ResumePlan> {
  const rows = new Rows();
  let doneCount = 0;
  let scan: ResultsScan;
  try {
    scan = await scanResultsFile(
      path,
      { notResultsCode: 'E_RESUME_NOT_RESULTS', malformedCode: 'E_RESUME_MALFORMED' },
      ({ row, id, status, httpStatus, sha256 }) => {
        rows.ensure(row);
        const before = rows.state[row];
        let state: number;
        if (status === 'updated') state = DONE;
        else if (status === 'invalid') state = options.retryFailed ? NOT_DONE : DONE_INVALID;
        else if (status === 'failed') {
          // A refused key is the run's fault, not the row's: always send those again.
          const authRefused = httpStatus === '401' || httpStatus === '403';
          state = authRefused || options.retryFailed ? NOT_DONE : DONE_FAILED;
        } else state = NOT_DONE; // dry-run lines never count as sent; unchanged ones are checked again (cheap)
        const wasDone = before === DONE || before === DONE_FAILED || before === DONE_INVALID;
        const isDone = state !== NOT_DONE;
        if (!wasDone && isDone) doneCount++;
        else if (wasDone && !isDone) doneCount--;
        rows.state[row] = state;
        rows.idHash[row] = hashId(id);
        rows.sha[row] = shaKey(sha256);
      },
    );
  } catch (err) {
    if (err instanceof InputFileError) throw err;
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      // --resume with no results yet is a first run: lets a cron line always say --resume.
      return emptyPlan();
    }
    throw new InputFileError(
      `cannot read results file: ${(err as Error).message}`,
      'E_RESULTS_READ',
      { file: path },
      { cause: err },
    );
  }
  const repairedTornLine = scan.tornLine && cutTornLine(path, scan.validBytes, scan.size);
  const { state, idHash, sha } = rows;
  return {
    doneCount,
    linesRead: scan.lines,
    repairedTornLine,
    isDone(row, id, sha256) {
      const s = row < state.length ? state[row] : NONE;
      return (
        (s === DONE || s === DONE_FAILED || s === DONE_INVALID) &&
        idMatches(idHash[row], id) &&
        sha[row] === shaKey(sha256)
      );
    },
    wasUpdated(row) {
      return row < state.length && state[row] === DONE;
    },
    doneStatus(row) {
      const s = row < state.length ? state[row] : NONE;
      return s === DONE
        ? 'updated'
        : s === DONE_FAILED
          ? 'failed'
          : s === DONE_INVALID
            ? 'invalid'
            : undefined;
    },
    recordedIdHash(row) {
      return row < state.length && state[row] !== NONE ? idHash[row] : undefined;
    },
  };
}

/**
 * Cut a torn last line off (everything after `validBytes`), unless the file changed
 * since it was read. Returns whether it was cut.
 */
export function cutTornLine(path: string, validBytes: number, sizeWhenRead: number): boolean {
  try {
    const fd = openSync(path, 'r+');
    try {
      if (fstatSync(fd).size !== sizeWhenRead) return false;
      ftruncateSync(fd, validBytes);
      return true;
    } finally {
      closeSync(fd);
    }
  } catch (err) {
    throw new InputFileError(
      `cannot repair the torn last line of the results file: ${(err as Error).message}`,
      'E_RESULTS_READ',
      { file: path },
      { cause: err },
    );
  }
}

/**
 * The results file stores ids with csv-stringify's formula escaping (`-5` is written
 * `'-5`), so an id matches its recorded hash in either form.
 */
export function idMatches(recorded: number | undefined, id: string): boolean {
  return recorded === hashId(id) || recorded === hashId(`'${id}`);
}

/** Rows compared to decide whether a results file belongs to an input. */
export const PAIRING_SAMPLE_ROWS = 1_000;

/**
 * Catch `--resume` against a results file from another input before anything is sent:
 * if most of the first rows that both files know hold other ids, they do not belong
 * together. A few edited rows are fine (they are simply re-sent).
 */
export async function checkPairing(
  plan: ResumePlan,
  rows: AsyncIterable<{ row: number; cells: string[] }>,
  idIndex: number,
  files: { input: string; results: string },
): Promise<void> {
  let compared = 0;
  let mismatched = 0;
  let example: { row: number; id: string } | undefined;
  for await (const { row, cells } of rows) {
    if (row > PAIRING_SAMPLE_ROWS) break;
    const recorded = plan.recordedIdHash(row);
    if (recorded === undefined) continue;
    compared++;
    const id = (cells[idIndex] ?? '').trim();
    if (!idMatches(recorded, id)) {
      mismatched++;
      example ??= { row, id };
    }
  }
  if (compared > 0 && mismatched * 2 > compared && example !== undefined) {
    throw new InputFileError(
      `results file ${files.results} does not belong to this input: ${mismatched} of the first ${compared} rows it records hold other ids here (row ${example.row} is id "${example.id}"); choose the right --out, or start over with --force`,
      'E_RESUME_MISMATCH',
      { file: files.input },
    );
  }
}

function emptyPlan(): ResumePlan {
  return {
    doneCount: 0,
    linesRead: 0,
    repairedTornLine: false,
    isDone: () => false,
    wasUpdated: () => false,
    doneStatus: () => undefined,
    recordedIdHash: () => undefined,
  };
}
