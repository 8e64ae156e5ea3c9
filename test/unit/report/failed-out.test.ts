import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RESULTS_COLUMNS } from '../../../src/pipeline/results/writer.js';
import { writeFailedInputRows } from '../../../src/report/failed-out.js';
import { summariseResults } from '../../../src/report/results-summary.js';
import { tempDir, writeFile } from '../../helpers.js';

const SHA = 'c'.repeat(64);
const line = (row: number, status: string, error = '') =>
  `${row},id${row},${status},,1,${error},${SHA},2026-11-26T12:00:00.000Z`;

describe('writeFailedInputRows', () => {
  it.each([1, 2, 3, 1_000])(
    'gives the same file in input order however many rows it holds at once (%i)',
    async (rowsPerWindow) => {
      const dir = tempDir();
      const input = writeFile(
        dir,
        'in.csv',
        `id,name\n${Array.from({ length: 10 }, (_, i) => `id${i + 1},N${i + 1}`).join('\n')}\n`,
      );
      // Finish order, not row order; rows 2 and 9 resumed (their last line wins).
      const results = writeFile(
        dir,
        'r.csv',
        `${[
          RESULTS_COLUMNS.join(','),
          line(9, 'failed', 'e9 first'),
          line(3, 'failed', 'e3'),
          line(1, 'updated'),
          line(2, 'failed', 'e2'),
          line(10, 'invalid', 'e10'),
          line(5, 'updated'),
          line(6, 'failed', 'e6'),
          line(2, 'updated'),
          line(4, 'failed', 'e4'),
          line(9, 'failed', 'e9 last'),
          line(7, 'updated'),
        ].join('\n')}\n`,
      );
      const summary = await summariseResults(results);
      const out = join(dir, 'todo.csv');
      const rows = await writeFailedInputRows({
        results,
        rows: summary,
        input,
        out,
        rowsPerWindow,
      });
      expect(rows).toBe(5);
      expect(readFileSync(out, 'utf8')).toBe(
        'id,name,clerk_bulk_error\nid3,N3,e3\nid4,N4,e4\nid6,N6,e6\nid9,N9,e9 last\nid10,N10,e10\n',
      );
    },
  );
});
