import { createReadStream, createWriteStream } from 'node:fs';
import { parse } from 'csv-parse';
import { stringify } from 'csv-stringify';
import { InputFileError } from '../errors.js';
import { RESULTS_COLUMNS, type RowStatus } from '../pipeline/results.js';
import { errorKind } from '../pipeline/tally.js';

const STATUSES: readonly RowStatus[] = ['updated', 'failed', 'invalid', 'dry-run'];
/** Distinct error kinds remembered; more are grouped as "(other errors)". */
const MAX_KINDS = 1_000;

export interface ResultsFileSummary {
  path: string;
  /** Lines read (a row resumed several times has several). */
  lines: number;
  /** Distinct rows, by the last line for each. */
  rows: number;
  counts: Record<RowStatus, number>;
  topErrors: Array<{ error: string; count: number }>;
}

type Line = { line: number; record: string[] };

async function* readLines(path: string): AsyncGenerator<Line> {
  const source = createReadStream(path);
  const parser = parse({ bom: true, relax_column_count: true });
  // pipe() does not forward errors: a missing file must reach the loop below.
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
            'E_NOT_RESULTS',
            { file: path, line: 1 },
          );
        }
        continue;
      }
      yield { line, record };
    }
  } catch (err) {
    if (err instanceof InputFileError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw new InputFileError(
      code === 'ENOENT' ? 'file not found' : `cannot read it: ${(err as Error).message}`,
      'E_RESULTS_READ',
      { file: path, line },
    );
  }
}

/**
 * Summarise a results file the way resume reads it: the last line for each row wins.
 * Per-row state lives in typed arrays, so a million-line file stays small in memory.
 */
export async function summariseResults(
  path: string,
): Promise<ResultsFileSummary & { lastLineOf: Uint32Array }> {
  let status = new Uint8Array(1024);
  let kind = new Int32Array(1024);
  let lastLineOf = new Uint32Array(1024);
  const kinds: string[] = [];
  const kindIndex = new Map<string, number>();
  let lines = 0;
  for await (const { line, record } of readLines(path)) {
    const row = Number(record[0]);
    const s = STATUSES.indexOf(record[2] as RowStatus);
    if (!Number.isSafeInteger(row) || row < 1 || s === -1) {
      throw new InputFileError('malformed results line', 'E_RESULTS_MALFORMED', {
        file: path,
        line,
      });
    }
    lines++;
    if (row >= status.length) {
      let size = status.length;
      while (size <= row) size *= 2;
      status = grow(status, new Uint8Array(size));
      kind = grow(kind, new Int32Array(size));
      lastLineOf = grow(lastLineOf, new Uint32Array(size));
    }
    status[row] = s + 1;
    lastLineOf[row] = line;
    const error = record[5] ?? '';
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
  }
  const counts: Record<RowStatus, number> = { updated: 0, failed: 0, invalid: 0, 'dry-run': 0 };
  const kindCounts = new Map<number, number>();
  let rows = 0;
  for (let row = 1; row < status.length; row++) {
    const s = status[row] ?? 0;
    if (s === 0) continue;
    rows++;
    counts[STATUSES[s - 1] as RowStatus]++;
    const k = kind[row] ?? -1;
    if (s !== 1 && k >= 0) kindCounts.set(k, (kindCounts.get(k) ?? 0) + 1);
  }
  const topErrors = [...kindCounts.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 5)
    .map(([k, count]) => ({ error: kinds[k] ?? '(other errors)', count }));
  return { path, lines, rows, counts, topErrors, lastLineOf };
}

/**
 * Write the rows left to do (last line `failed`, `invalid` or `dry-run`) to a CSV:
 * `row,id,status,http_status,error`, for fixing or for a targeted re-run.
 */
export async function writeRowsToRetry(
  path: string,
  lastLineOf: Uint32Array,
  out: string,
): Promise<number> {
  const file = createWriteStream(out);
  const closed = new Promise<void>((resolve, reject) => {
    file.on('finish', resolve);
    file.on('error', reject);
  });
  const csv = stringify({
    header: true,
    columns: ['row', 'id', 'status', 'http_status', 'error'],
    escape_formulas: true,
  });
  csv.pipe(file);
  let written = 0;
  for await (const { line, record } of readLines(path)) {
    const row = Number(record[0]);
    if (lastLineOf[row] !== line || record[2] === 'updated') continue;
    written++;
    if (!csv.write([record[0], record[1], record[2], record[3], record[5]])) {
      await new Promise((r) => csv.once('drain', r));
    }
  }
  csv.end();
  await closed;
  return written;
}

function grow<T extends Uint8Array | Int32Array | Uint32Array>(from: T, to: T): T {
  to.set(from);
  return to;
}
