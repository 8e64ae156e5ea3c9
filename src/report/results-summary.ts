import { InputFileError } from '../errors.js';
import { type ResultsRecord, type ResultsScan, scanResultsFile } from '../pipeline/results/scan.js';
import { errorKind } from '../pipeline/results/tally.js';
import type { ResultsLayout, RowStatus } from '../pipeline/results/writer.js';

// Appended, never reordered: the index + 1 is a row's code below (1 = updated).
const STATUSES: readonly RowStatus[] = [
  'updated',
  'failed',
  'invalid',
  'dry-run',
  'unchanged',
  'created',
  'uncertain',
  'sending',
];
/** The final, good statuses: a row whose last line has another is left to do. */
const GOOD: ReadonlySet<RowStatus> = new Set<RowStatus>(['updated', 'unchanged', 'created']);
/** Indexed by a row's code: 1 when that status is good (code 0: no line). */
const GOOD_CODE = Uint8Array.from([0, ...STATUSES.map((s) => (GOOD.has(s) ? 1 : 0))]);

/** Counts per final status: a row whose last line is an intent (`sending`) is `uncertain`. */
export type ReportCounts = Record<Exclude<RowStatus, 'sending'>, number>;
/** Distinct error kinds remembered; more are grouped as "(other errors)". */
const MAX_KINDS = 1_000;

export interface ResultsFileSummary {
  path: string;
  /** Lines read (a row resumed several times has several). */
  lines: number;
  /** Distinct rows, by the last line for each. */
  rows: number;
  counts: ReportCounts;
  /** Update's format or import's (whose rows may be `created` or `uncertain`). */
  layout: ResultsLayout;
  /** Rows whose last line is `uncertain` (or an intent with no outcome), in row order. */
  uncertainRows: number[];
  topErrors: Array<{ error: string; count: number }>;
  /**
   * The file does not end with a newline: its last line was torn by a crash mid-write
   * and was ignored (`update --resume` cuts it off and sends that row again).
   */
  tornLastLine: boolean;
}

const SCAN_OPTIONS = {
  notResultsCode: 'E_NOT_RESULTS',
  malformedCode: 'E_RESULTS_MALFORMED',
  layouts: ['update', 'import'] as const,
};

/** Read every data line of a results file (shared reader, same checks as resume). */
async function scan(path: string, onLine: (record: ResultsRecord) => void): Promise<ResultsScan> {
  try {
    return await scanResultsFile(path, SCAN_OPTIONS, onLine);
  } catch (err) {
    if (err instanceof InputFileError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw new InputFileError(
      code === 'ENOENT' ? 'file not found' : `cannot read it: ${(err as Error).message}`,
      'E_RESULTS_READ',
      { file: path },
      { cause: err },
    );
  }
}

/** Per-row state of a summary, indexed by row number: not part of the JSON. */
export interface RowsState {
  /** The physical line of each row's last line (0: the file has none). */
  lastLineOf: Uint32Array;
  /**
   * 1 when the row's last line is not `updated`, `unchanged` or `created` (a row left to
   * do), else 0.
   */
  toDo: Uint8Array;
}

/**
 * Summarise a results file the way resume reads it: the last line for each row wins.
 * Per-row state lives in typed arrays, so a million-line file stays small in memory.
 */
export async function summariseResults(path: string): Promise<ResultsFileSummary & RowsState> {
  let status = new Uint8Array(1024);
  let kind = new Int32Array(1024);
  let lastLineOf = new Uint32Array(1024);
  const kinds: string[] = [];
  const kindIndex = new Map<string, number>();
  const scanned = await scan(path, (record) => {
    const { row, line } = record;
    const s = STATUSES.indexOf(record.status as RowStatus);
    if (s === -1) {
      throw new InputFileError(
        `malformed results line: unknown status "${record.status}"`,
        'E_RESULTS_MALFORMED',
        { file: path, line },
      );
    }
    if (row >= status.length) {
      let size = status.length;
      while (size <= row) size *= 2;
      status = grow(status, new Uint8Array(size));
      kind = grow(kind, new Int32Array(size));
      lastLineOf = grow(lastLineOf, new Uint32Array(size));
    }
    status[row] = s + 1;
    lastLineOf[row] = line;
    const error = record.error;
    if (error === '') {
      kind[row] = -1;
    } else {
      const k = errorKind(error);
      let index = kindIndex.get(k);
      if (index === undefined && kinds.length < MAX_KINDS) {
        index = kinds.push(k) - 1;
        kindIndex.set(k, index);
      }
      kind[row] = index ?? MAX_KINDS;
    }
  });
  const counts: ReportCounts = {
    updated: 0,
    failed: 0,
    invalid: 0,
    'dry-run': 0,
    unchanged: 0,
    created: 0,
    uncertain: 0,
  };
  const kindCounts = new Map<number, number>();
  const uncertainRows: number[] = [];
  let rows = 0;
  for (let row = 1; row < status.length; row++) {
    const s = status[row] ?? 0;
    if (s === 0) continue;
    rows++;
    const final = STATUSES[s - 1] as RowStatus;
    counts[final === 'sending' ? 'uncertain' : final]++;
    if (final === 'sending' || final === 'uncertain') uncertainRows.push(row);
    const k = kind[row] ?? -1;
    if (GOOD_CODE[s] !== 1 && k >= 0) kindCounts.set(k, (kindCounts.get(k) ?? 0) + 1);
  }
  const topErrors = [...kindCounts.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 5)
    .map(([k, count]) => ({ error: kinds[k] ?? '(other errors)', count }));
  return {
    path,
    lines: scanned.lines,
    rows,
    counts,
    layout: scanned.layout,
    uncertainRows,
    topErrors,
    tornLastLine: scanned.tornLine,
    lastLineOf,
    toDo: status.map((s) => (s !== 0 && GOOD_CODE[s] !== 1 ? 1 : 0)),
  };
}

function grow<T extends Uint8Array | Int32Array | Uint32Array>(from: T, to: T): T {
  to.set(from);
  return to;
}
