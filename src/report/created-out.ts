/**
 * `report --created-out ids.csv`: `row,key,id` of every row whose last line in an
 * import's results file is `created`, in row order: the contacts the import made, ready
 * to join back to the CRM or to feed an update.
 */
import { writeFileSync } from 'node:fs';
import { stringify } from 'csv-stringify/sync';
import { InputFileError } from '../errors.js';
import { scanResultsFile, unescapeId } from '../pipeline/results/scan.js';
import { refuseOutputOverInput } from '../same-file.js';
import type { RowsState } from './results-summary.js';

const SCAN_OPTIONS = {
  notResultsCode: 'E_NOT_RESULTS',
  malformedCode: 'E_RESULTS_MALFORMED',
  layouts: ['update', 'import'] as const,
};

/** Write the created rows of `results` to `out`; returns how many. */
export async function writeCreatedOut(options: {
  results: string;
  rows: RowsState;
  out: string;
}): Promise<{ path: string; rows: number }> {
  const { results, rows, out } = options;
  refuseOutputOverInput({ path: out, flag: '--created-out' }, [
    { path: results, what: 'the results file' },
  ]);
  const created: Array<[number, string, string]> = [];
  await scanResultsFile(results, SCAN_OPTIONS, (record) => {
    if (record.status !== 'created' || rows.lastLineOf[record.row] !== record.line) return;
    created.push([record.row, unescapeId(record.key), unescapeId(record.id)]);
  });
  created.sort((a, b) => a[0] - b[0]);
  // Keys come from a CRM and go back to a spreadsheet: no cell may run as a formula.
  const text = stringify(created, {
    header: true,
    columns: ['row', 'key', 'id'],
    escape_formulas: true,
  });
  try {
    writeFileSync(out, text);
  } catch (err) {
    throw new InputFileError(
      `cannot write the --created-out file: ${(err as Error).message}`,
      'E_CREATED_OUT',
      { file: out },
      { cause: err },
    );
  }
  return { path: out, rows: created.length };
}
