import { closeSync, createReadStream, fstatSync, ftruncateSync, openSync, readSync } from 'node:fs';
import { CsvError, parse } from 'csv-parse';
import { InputFileError } from '../errors.js';
import { RESULTS_COLUMNS } from './results.js';

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
/** Final, but `failed` or `invalid`: skipped on resume, yet the file is not all good. */
const DONE_NOT_UPDATED = 3;

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
function shaKey(sha256: string): number {
  return Number.parseInt(sha256.slice(0, 13), 16);
}

class Rows {
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
 * If the file does not end with a newline, the last line was torn by a crash: cut it
 * off so appended lines start clean. Returns whether anything was cut.
 */
export function repairTornLine(path: string): boolean {
  const fd = openSync(path, 'r+');
  try {
    const size = fstatSync(fd).size;
    if (size === 0) return false;
    const tail = Buffer.alloc(Math.min(size, 64 * 1024));
    let end = size;
    // Walk back in 64 KiB steps to the last newline.
    while (end > 0) {
      const start = Math.max(0, end - tail.length);
      const n = readSync(fd, tail, 0, end - start, start);
      const nl = tail.subarray(0, n).lastIndexOf(10);
      if (nl !== -1) {
        const keep = start + nl + 1;
        if (keep === size) return false;
        ftruncateSync(fd, keep);
        return true;
      }
      end = start;
    }
    ftruncateSync(fd, 0);
    return true;
  } finally {
    closeSync(fd);
  }
}

/**
 * Read a results file into a resume plan. A row is done when its last line has status
 * `updated` (or `failed`/`invalid` without `retryFailed`) and the same id and payload
 * hash as the row has now (SPEC §5). `failed` lines caused by a refused key (401/403)
 * are never done: the key, not the row, was at fault.
 */
export async function loadResumePlan(
  path: string,
  options: { retryFailed: boolean },
): Promise<ResumePlan> {
  const rows = new Rows();
  let linesRead = 0;
  let doneCount = 0;
  let repairedTornLine = false;
  try {
    repairedTornLine = repairTornLine(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      // --resume with no results yet is a first run: lets a cron line always say --resume.
      return emptyPlan();
    }
    throw new InputFileError(
      `cannot open results file: ${(err as Error).message}`,
      'E_RESULTS_READ',
      {
        file: path,
      },
    );
  }

  const source = createReadStream(path, { highWaterMark: 1024 * 1024 });
  const parser = parse({ bom: true, relax_column_count: true });
  // pipe() does not forward errors: a file that vanished must reach the loop below.
  source.on('error', (err) => parser.destroy(err));
  source.pipe(parser);
  let line = 0;
  try {
    for await (const record of parser as AsyncIterable<string[]>) {
      line++;
      if (line === 1) {
        if (record.join(',') !== RESULTS_COLUMNS.join(',')) {
          throw new InputFileError(
            `not a clerk-bulk results file: expected header "${RESULTS_COLUMNS.join(',')}"`,
            'E_RESUME_NOT_RESULTS',
            { file: path, line: 1 },
          );
        }
        continue;
      }
      const [rowText, id, status, httpStatus, , , sha] = record;
      const row = Number(rowText);
      if (!Number.isSafeInteger(row) || row < 1 || id === undefined || sha === undefined) {
        throw new InputFileError('malformed results line', 'E_RESUME_MALFORMED', {
          file: path,
          line,
        });
      }
      linesRead++;
      rows.ensure(row);
      const before = rows.state[row];
      let state: number;
      if (status === 'updated') state = DONE;
      else if (status === 'invalid') state = options.retryFailed ? NOT_DONE : DONE_NOT_UPDATED;
      else if (status === 'failed') {
        // A refused key is the run's fault, not the row's: always send those again.
        const authRefused = httpStatus === '401' || httpStatus === '403';
        state = authRefused || options.retryFailed ? NOT_DONE : DONE_NOT_UPDATED;
      } else state = NOT_DONE; // dry-run lines never count as sent
      const wasDone = before === DONE || before === DONE_NOT_UPDATED;
      const isDone = state === DONE || state === DONE_NOT_UPDATED;
      if (!wasDone && isDone) doneCount++;
      else if (wasDone && !isDone) doneCount--;
      rows.state[row] = state;
      rows.idHash[row] = hashId(id);
      rows.sha[row] = shaKey(sha);
    }
  } catch (err) {
    if (err instanceof InputFileError) throw err;
    if (err instanceof CsvError) {
      throw new InputFileError(`malformed results file: ${err.message}`, 'E_RESUME_MALFORMED', {
        file: path,
      });
    }
    throw err;
  }
  return {
    doneCount,
    linesRead,
    repairedTornLine,
    isDone(row, id, sha256) {
      return (
        row < rows.state.length &&
        (rows.state[row] === DONE || rows.state[row] === DONE_NOT_UPDATED) &&
        idMatches(rows.idHash[row], id) &&
        rows.sha[row] === shaKey(sha256)
      );
    },
    wasUpdated(row) {
      return row < rows.state.length && rows.state[row] === DONE;
    },
    recordedIdHash(row) {
      return row < rows.state.length && rows.state[row] !== NONE ? rows.idHash[row] : undefined;
    },
  };
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
    recordedIdHash: () => undefined,
  };
}
