import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RESULTS_COLUMNS } from '../../src/pipeline/results/writer.js';
import { runCli, tempDir, writeFile } from '../helpers.js';

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

  it('copies the rows left to do from the input with --failed-out, found beside the results', async () => {
    const dir = tempDir();
    writeFile(dir, 'in.csv', 'id,name\na,A\nb,B\nc,C\nd,D\ne,E\n');
    const results = join(dir, 'in.csv.results.csv');
    writeFileSync(results, readFileSync(resultsFile(lines)));
    const out = join(dir, 'todo.csv');
    const res = await runCli(['report', results, '--failed-out', out, '--json']);
    const summary = JSON.parse(res.stdout) as {
      rows: number;
      counts: Record<string, number>;
      failedOut: { path: string; rows: number; input: string };
    };
    expect(summary).toMatchObject({
      rows: 5,
      counts: { updated: 2, failed: 1, invalid: 2 },
      failedOut: { path: out, rows: 3, input: join(dir, 'in.csv') },
    });
    expect(readFileSync(out, 'utf8')).toBe(
      [
        'id,name,clerk_bulk_error',
        'c,C,"email: not a valid email address: ""x@"""',
        'd,D,404 Not Found: Contact not found',
        'e,E,"email: not a valid email address: ""y@"""',
        '',
      ].join('\n'),
    );
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

  it('keeps the input cells as they are in --failed-out, and neutralises only the error', async () => {
    const dir = tempDir();
    const input = writeFile(
      dir,
      'in.csv',
      '\uFEFFid;name;note\n-5;=HYPERLINK(1);x\n@home;Ann;"a;b"\n7;Bo;5" screen\n\'plain;Cy;\n',
    );
    const path = resultsFile([
      line(1, "'-5", 'failed', '404', '404 Not Found'),
      line(2, "'@home", 'failed', '404', '=bad'),
      line(3, '7', 'invalid', '', 'email: not a valid email address: "x@"'),
      line(4, "'plain", 'failed', '404', '+1 problem'),
    ]);
    const out = join(dir, 'todo.csv');
    const res = await runCli(['report', path, '--failed-out', out, '--input', input]);
    expect(res.code).toBe(1);
    // Same delimiter and byte-order mark as the input; quotes only where a cell needs them.
    expect(readFileSync(out, 'utf8')).toBe(
      [
        '\uFEFFid;name;note;clerk_bulk_error',
        '-5;=HYPERLINK(1);x;404 Not Found',
        `@home;Ann;"a;b";'=bad`,
        '7;Bo;"5"" screen";"email: not a valid email address: ""x@"""',
        `'plain;Cy;;'+1 problem`,
        '',
      ].join('\n'),
    );
  });

  it('says to pass --input when --failed-out finds no input beside the results, with exit 2', async () => {
    const path = resultsFile(lines);
    const out = join(tempDir(), 'todo.csv');
    const res = await runCli(['report', path, '--failed-out', out]);
    expect(res.code).toBe(2);
    expect(res.stderr).toBe(
      `clerk-bulk: --failed-out copies the rows from the input file, and none was found beside ${path}: pass it with --input FILE\n`,
    );
    const stdin = await runCli(['report', path, '--failed-out', out, '--input', '-']);
    expect(stdin.code).toBe(2);
    expect(stdin.stderr).toMatch(
      /^clerk-bulk: --input -: stdin cannot be read a second time;.*\n$/,
    );
    const alone = await runCli(['report', path, '--input', path]);
    expect(alone.code).toBe(2);
    expect(alone.stderr).toBe('clerk-bulk: --input is only used with --failed-out\n');
  });
});
