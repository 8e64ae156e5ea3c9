import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RESULTS_COLUMNS } from '../../src/pipeline/results/writer.js';
import { readResults, runCli, tempDir, writeFile } from '../helpers.js';

const SHA = 'b'.repeat(64);
const line = (row: number, id: string, status: string, http: string, error = '') =>
  `${row},${id},${status},${http},1,"${error.replace(/"/g, '""')}",${SHA},2026-11-26T12:00:00.000Z`;

function resultsFile(lines: string[]): string {
  return writeFile(tempDir(), 'r.csv', `${RESULTS_COLUMNS.join(',')}\n${lines.join('\n')}\n`);
}

describe('clerk-bulk report', () => {
  const lines = [
    line(1, 'a', 'updated', '200'),
    line(2, 'b', 'failed', '503', '503 Service Unavailable (after 6 attempts)'),
    line(3, 'c', 'invalid', '', 'email: not a valid email address: "x@"'),
    line(4, 'd', 'failed', '404', '404 Not Found: Contact not found'),
    line(2, 'b', 'updated', '200'), // row 2 resumed and fixed: the last line wins
    line(5, 'e', 'invalid', '', 'email: not a valid email address: "y@"'),
  ];

  it('summarises the last line per row, with the most common errors', async () => {
    const res = await runCli(['report', resultsFile(lines)]);
    expect(res.code).toBe(1);
    expect(res.stdout).toMatch(/5 rows \(6 lines\)/);
    expect(res.stdout).toMatch(/updated 2, failed 1, invalid 2/);
    expect(res.stdout).toMatch(/2 {2}email: not a valid email address: "…"/);
    expect(res.stdout).not.toMatch(/503/);
  });

  it('writes the rows left to do with --failed-out', async () => {
    const dir = tempDir();
    const out = join(dir, 'todo.csv');
    const res = await runCli(['report', resultsFile(lines), '--failed-out', out, '--json']);
    const summary = JSON.parse(res.stdout) as {
      rows: number;
      counts: Record<string, number>;
      failedOut: { rows: number };
    };
    expect(summary).toMatchObject({
      rows: 5,
      counts: { updated: 2, failed: 1, invalid: 2 },
      failedOut: { rows: 3 },
    });
    const todo = readResults(out) as unknown as Array<Record<string, string>>;
    expect(todo.map((r) => [r.row, r.id, r.status])).toEqual([
      ['3', 'c', 'invalid'],
      ['4', 'd', 'failed'],
      ['5', 'e', 'invalid'],
    ]);
  });

  it('exits 0 when every row is updated', async () => {
    const res = await runCli(['report', resultsFile([line(1, 'a', 'updated', '200')])]);
    expect(res.code).toBe(0);
  });

  it('refuses a file that is not a results file with exit 2', async () => {
    const res = await runCli(['report', writeFile(tempDir(), 'x.csv', 'id,name\n1,a\n')]);
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/not a clerk-bulk results file/);
    const missing = await runCli(['report', join(tempDir(), 'nope.csv')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/nope\.csv.*file not found/);
  });

  it('ignores a torn last line (a crash mid-write) with a note', async () => {
    const path = resultsFile([line(1, 'a', 'updated', '200'), line(2, 'b', 'failed', '404')]);
    writeFileSync(path, `${readFileSync(path, 'utf8')}3,c,upd`);
    const res = await runCli(['report', path]);
    expect(res.stderr).toBe('');
    expect(res.code).toBe(1);
    expect(res.stdout).toMatch(/2 rows \(2 lines\)/);
    expect(res.stdout).toMatch(/last line is torn .* ignored/);
    const json = JSON.parse((await runCli(['report', path, '--json'])).stdout) as {
      rows: number;
      tornLastLine: boolean;
    };
    expect(json).toMatchObject({ rows: 2, tornLastLine: true });
  });

  it('writes ids to --failed-out as they were in the input, so the file can be fed back', async () => {
    const dir = tempDir();
    const out = join(dir, 'todo.csv');
    const path = resultsFile([
      line(1, "'-5", 'failed', '404', '404 Not Found'),
      line(2, "'=HYPERLINK(1)", 'failed', '404', '=bad'),
      line(3, "'@home", 'invalid', '', 'email: not a valid email address: "x@"'),
      line(4, "'plain", 'failed', '404'),
      line(5, '"a,b"', 'failed', '404'),
    ]);
    const res = await runCli(['report', path, '--failed-out', out]);
    expect(res.code).toBe(1);
    const todo = readResults(out) as unknown as Array<Record<string, string>>;
    expect(todo.map((r) => r.id)).toEqual(['-5', '=HYPERLINK(1)', '@home', "'plain", 'a,b']);
    // The error cell is still neutralised for spreadsheets.
    expect(todo[1]?.error).toBe("'=bad");
  });
});
