import { existsSync, linkSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cliTestBed, csv, readResults, runCli, updateArgv, writeFile } from '../helpers.js';

const KEY = 'failed-out-key';

/** A CRM-style export that needs a mapping, as most real inputs do. */
const HEADER = ['Contact ID', 'Full Name', 'E-mail', 'Owner'];
const MAPPING = JSON.stringify({
  columns: { 'Contact ID': 'id', 'Full Name': 'name', 'E-mail': 'email', Owner: null },
});
/** Rows 3 and 6 name contacts that do not exist (404); rows 5 and 8 have a bad email. */
const ROWS = [
  ['1', 'Ann', 'ann@example.com', 'x'],
  ['2', 'Bob', 'bob@example.com', 'x'],
  ['98', 'Cy, Jr.', 'cy@example.com', 'x'],
  ['4', 'Di', 'di@example.com', 'x'],
  ['5', 'Ed', 'ed@', 'x'],
  ['99', 'Flo', 'flo@example.com', 'x'],
  ['7', 'Gus', 'gus@example.com', 'x'],
  ['8', 'Hal', 'hal@@', 'x'],
];

describe('report --failed-out against a real run', () => {
  const bed = cliTestBed(KEY, { ids: Array.from({ length: 12 }, (_, i) => String(i + 1)) });

  /** Run update on ROWS; returns the input, mapping and results paths. */
  async function firstRun() {
    const input = writeFile(bed.dir, 'contacts.csv', csv(HEADER, ROWS));
    const map = writeFile(bed.dir, 'map.json', MAPPING);
    const results = join(bed.dir, 'contacts.csv.results.csv');
    const run = await runCli(updateArgv(input, results, bed.server.url, '--map', map), {
      env: bed.env,
    });
    expect(run.code).toBe(1);
    return { input, map, results };
  }

  it('writes a file that, once fixed, goes back to update as is and updates those rows', async () => {
    const { map, results } = await firstRun();
    const fix = join(bed.dir, 'fix.csv');
    const report = await runCli(['report', results, '--failed-out', fix]);
    expect(report.code).toBe(1);
    expect(report.stderr).toBe('');
    expect(report.stdout).toContain('4 rows left to do copied from');
    expect(readFileSync(fix, 'utf8')).toBe(
      [
        'Contact ID,Full Name,E-mail,Owner,clerk_bulk_error',
        '98,"Cy, Jr.",cy@example.com,x,404 Not Found: Contact not found',
        '5,Ed,ed@,x,"E-mail: not a valid email address: ""ed@"""',
        '99,Flo,flo@example.com,x,404 Not Found: Contact not found',
        '8,Hal,hal@@,x,"E-mail: not a valid email address: ""hal@@"""',
        '',
      ].join('\n'),
    );

    // Fixed in the file, as in a spreadsheet: right ids, right emails; 99 stays wrong.
    writeFileSync(
      fix,
      readFileSync(fix, 'utf8')
        .replace('98,"Cy, Jr."', '11,"Cy, Jr."')
        .replace('ed@,', 'ed@example.com,')
        .replace('hal@@,', 'hal@example.com,'),
    );
    const fixResults = join(bed.dir, 'fix.results.csv');
    bed.server.requests.length = 0;
    const again = await runCli(updateArgv(fix, fixResults, bed.server.url, '--map', map), {
      env: bed.env,
    });
    expect(again.stderr).not.toMatch(/unknown column/);
    expect(again.code).toBe(1);
    const lines = readResults(fixResults);
    expect(lines.map((l) => [l.row, l.id, l.status])).toEqual(
      expect.arrayContaining([
        ['1', '11', 'updated'],
        ['2', '5', 'updated'],
        ['3', '99', 'failed'],
        ['4', '8', 'updated'],
      ]),
    );
    expect(lines).toHaveLength(4);
    // The error column is never sent.
    const bodies = bed.puts().map((p) => p.rawBody);
    expect(bodies).toHaveLength(4);
    for (const body of bodies) expect(body).not.toContain('404');
    expect(bed.puts().find((p) => p.id === '11')?.body).toEqual({
      name: 'Cy, Jr.',
      email: 'cy@example.com',
    });

    // The fix file failing again: its own clerk_bulk_error column gets the new error.
    const fix2 = join(bed.dir, 'fix2.csv');
    const second = await runCli(['report', fixResults, '--failed-out', fix2, '--input', fix]);
    expect(second.code).toBe(1);
    expect(readFileSync(fix2, 'utf8')).toBe(
      [
        'Contact ID,Full Name,E-mail,Owner,clerk_bulk_error',
        '99,Flo,flo@example.com,x,404 Not Found: Contact not found',
        '',
      ].join('\n'),
    );
  });

  it('refuses an input that no longer matches the results, naming the row and the id, and writes nothing', async () => {
    const { input, results } = await firstRun();
    writeFileSync(input, readFileSync(input, 'utf8').replace('99,Flo', '1234,Flo'));
    const fix = join(bed.dir, 'fix.csv');
    const report = await runCli(['report', results, '--failed-out', fix]);
    expect(report.code).toBe(2);
    expect(report.stderr).toBe(
      `clerk-bulk: ${input} does not match ${results}: row 6 holds no cell "99" (the input changed since the run?)\n`,
    );
    expect(existsSync(fix)).toBe(false);
  });

  it('refuses --failed-out naming the input file, also through a hard link', async () => {
    const { input, results } = await firstRun();
    const before = readFileSync(input, 'utf8');
    const link = join(bed.dir, 'link.csv');
    linkSync(input, link);
    for (const target of [input, link]) {
      const report = await runCli(['report', results, '--failed-out', target]);
      expect(report.code).toBe(2);
      expect(report.stderr).toContain('is the input file');
    }
    expect(readFileSync(input, 'utf8')).toBe(before);
  });

  it('finds the input of a dry run from its results name and copies every row left to do', async () => {
    const input = writeFile(bed.dir, 'contacts.csv', csv(HEADER, ROWS));
    const map = writeFile(bed.dir, 'map.json', MAPPING);
    const run = await runCli(['update', input, '--map', map, '--dry-run'], { env: bed.env });
    expect(run.code).toBe(1);
    const fix = join(bed.dir, 'todo.csv');
    const report = await runCli([
      'report',
      `${input}.dry-run.results.csv`,
      '--failed-out',
      fix,
      '--json',
    ]);
    expect(JSON.parse(report.stdout).failedOut).toEqual({ path: fix, rows: 8, input });
    const copied = readFileSync(fix, 'utf8').trimEnd().split('\n');
    expect(copied).toHaveLength(9);
    expect(copied[5]).toBe('5,Ed,ed@,x,"E-mail: not a valid email address: ""ed@"""');
    expect(copied[6]).toBe('99,Flo,flo@example.com,x,');
  });
});
