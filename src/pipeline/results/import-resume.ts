/**
 * Resume of an import: what each row's last line in the results file says about it.
 * Unlike an update, a row once sent is never sent again on its own: a `created` row is
 * done whatever its content now (creating it again would duplicate it), and a row whose
 * last line is the intent (`sending`) or `uncertain` may exist in Clerk Chat already.
 */
import { InputFileError } from '../../errors.js';
import { cutTornLine, hashId, PAIRING_SAMPLE_ROWS, Rows, shaKey } from './resume.js';
import { type ResultsScan, scanResultsFile } from './scan.js';

/** What an earlier run left for one row. */
export type ImportRowState =
  /** Not in the file, or only as `dry-run`: to do. */
  | 'none'
  | 'created'
  /** Sync: `updated` or `unchanged`, done as `created` is. */
  | 'settled'
  | 'uncertain'
  /** The intent was written and nothing after it: the run died with the row in flight. */
  | 'sending'
  | 'failed'
  /** `failed` because the key was refused: the row was not at fault, always sent again. */
  | 'failed-auth'
  | 'invalid';

const STATES: readonly ImportRowState[] = [
  'none',
  'created',
  'uncertain',
  'sending',
  'failed',
  'failed-auth',
  'invalid',
  'settled',
];

export interface ImportResumePlan {
  /** Lines read from the results file. */
  readonly linesRead: number;
  /** Rows whose last line is `created` (or, in a sync, `updated` or `unchanged`). */
  readonly createdCount: number;
  /** Whether the last line was torn (a crash mid-write) and has been cut off. */
  readonly repairedTornLine: boolean;
  /** What the row's last line says. */
  stateOf(row: number): ImportRowState;
  /** Whether the row's last line was written for this payload hash. */
  sameContent(row: number, sha256: string): boolean;
  /** Whether the row's last line was written for this key cell. */
  sameKey(row: number, key: string): boolean;
}

/**
 * Read an import's results file. A file in update's format (or anything else) is
 * refused before anything is sent; a torn last line is cut off once the file is read.
 */
export async function loadImportResumePlan(path: string): Promise<ImportResumePlan> {
  const rows = new Rows();
  let createdCount = 0;
  let scan: ResultsScan;
  try {
    scan = await scanResultsFile(
      path,
      {
        notResultsCode: 'E_RESUME_NOT_RESULTS',
        malformedCode: 'E_RESUME_MALFORMED',
        layouts: ['import'],
      },
      ({ row, key, status, httpStatus, sha256, line }) => {
        rows.ensure(row);
        let state: ImportRowState;
        switch (status) {
          case 'created':
          case 'uncertain':
          case 'sending':
          case 'invalid':
            state = status;
            break;
          case 'failed':
            state = httpStatus === '401' || httpStatus === '403' ? 'failed-auth' : 'failed';
            break;
          case 'dry-run':
            state = 'none';
            break;
          case 'updated':
          case 'unchanged':
            state = 'settled';
            break;
          default:
            throw new InputFileError(
              `malformed results line: unknown status "${status}"`,
              'E_RESUME_MALFORMED',
              { file: path, line },
            );
        }
        const before = STATES[rows.state[row] ?? 0];
        if (before === 'created' || before === 'settled') createdCount--;
        if (state === 'created' || state === 'settled') createdCount++;
        rows.state[row] = STATES.indexOf(state);
        rows.idHash[row] = hashId(key);
        rows.sha[row] = shaKey(sha256);
      },
    );
  } catch (err) {
    if (err instanceof InputFileError) throw err;
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return emptyPlan();
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
    linesRead: scan.lines,
    createdCount,
    repairedTornLine,
    stateOf: (row) => (row < state.length ? (STATES[state[row] ?? 0] ?? 'none') : 'none'),
    sameContent: (row, sha256) => row < sha.length && sha[row] === shaKey(sha256),
    // The key is written with formula escaping, as ids are.
    sameKey: (row, key) =>
      row < idHash.length && (idHash[row] === hashId(key) || idHash[row] === hashId(`'${key}`)),
  };
}

function emptyPlan(): ImportResumePlan {
  return {
    linesRead: 0,
    createdCount: 0,
    repairedTornLine: false,
    stateOf: () => 'none',
    sameContent: () => false,
    sameKey: () => false,
  };
}

/**
 * Catch `import --resume` against the results file of another input before anything is
 * sent: among the first rows both know, most must hold the key (with `--key`) or the
 * content (without) that the results file recorded. A few edited rows are fine.
 */
export async function checkImportPairing(
  plan: ImportResumePlan,
  rows: AsyncIterable<{ row: number; cells: string[] }>,
  check: (row: number, cells: string[]) => boolean,
  files: { input: string; results: string },
): Promise<void> {
  let compared = 0;
  let mismatched = 0;
  let example: number | undefined;
  for await (const { row, cells } of rows) {
    if (row > PAIRING_SAMPLE_ROWS) break;
    if (plan.stateOf(row) === 'none') continue;
    compared++;
    if (!check(row, cells)) {
      mismatched++;
      example ??= row;
    }
  }
  if (compared > 0 && mismatched * 2 > compared && example !== undefined) {
    throw new InputFileError(
      `results file ${files.results} does not belong to this input: ${mismatched} of the first ${compared} rows it records differ here (row ${example} first); choose the right --out, or start over with --force`,
      'E_RESUME_MISMATCH',
      { file: files.input },
    );
  }
}
