/**
 * `clerk-bulk validate` and `update --dry-run` through the real CLI, with the API key
 * in the environment as a real run would have it. A mock server runs for every test
 * (`update --dry-run` is even pointed at it) and must receive nothing.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  INPUT_FIXTURES as FIXTURES,
  mockServerPerTest,
  RAW_TERMINAL_CONTROL,
  ROOT,
  runCli,
  tempDir,
  updateArgv,
  writeFile,
} from '../helpers.js';

const KEY = 'sk_validate_key_5678';
const SPECTRUM = join(ROOT, 'node_modules', 'csv-spectrum', 'csvs');

const mock = mockServerPerTest({ apiKey: KEY, ids: 'any' });
let dir: string;
beforeEach(() => {
  dir = tempDir();
});
afterEach(() => {
  // Whatever the command, nothing reached the API.
  expect(mock.server.requests).toEqual([]);
});

/** Run with the API key in the environment. */
const cli = (args: string[]) => runCli(args, { env: { CLERK_CHAT_API_KEY: KEY } });

describe('clerk-bulk validate', () => {
  it('exits 0 and says so when every row is valid', async () => {
    const res = await cli(['validate', join(FIXTURES, 'clean.csv')]);
    expect(res.code).toBe(0);
    expect(res.stderr).toBe('');
    expect(res.stdout).toBe(`${join(FIXTURES, 'clean.csv')}: 3 rows, 3 valid, 0 invalid\n`);
  });

  it('exits 1 with a per-column summary and the first --show problems by row and line', async () => {
    const res = await cli(['validate', join(FIXTURES, 'to-fix.csv'), '--show', '2']);
    expect(res.code).toBe(1);
    expect(res.stdout.split('\n')).toEqual([
      `${join(FIXTURES, 'to-fix.csv')}: 6 rows, 2 valid, 4 invalid`,
      'problems by column:',
      '       2  email',
      '       1  id',
      '       1  public',
      '       1  (whole row)',
      'first 2 of 4 invalid rows (--show N for more):',
      '  row 2 (line 3): email: not a valid email address: "bob@"',
      '  row 3 (line 4): id: missing: the cell is empty; also invalid: "public"',
      '',
    ]);
  });

  it('lists every invalid row by default and none with --show 0', async () => {
    const all = await cli(['validate', join(FIXTURES, 'to-fix.csv')]);
    expect(all.stdout).toContain('invalid rows:\n');
    expect(all.stdout).toContain('row 4 (line 5): row has 2 fields, header has 4');
    const none = await cli(['validate', join(FIXTURES, 'to-fix.csv'), '--show', '0']);
    expect(none.code).toBe(1);
    expect(none.stdout).not.toContain('row 2');
    expect(none.stdout).toContain('problems by column:');
  });

  it('writes the invalid rows to --invalid-out: row, error, then the input columns', async () => {
    const out = join(dir, 'to-fix.invalid.csv');
    const res = await cli(['validate', join(FIXTURES, 'to-fix.csv'), '--invalid-out', out]);
    expect(res.code).toBe(1);
    expect(res.stdout).toContain(`invalid rows written to ${out}`);
    const rows = parse(readFileSync(out, 'utf8')) as string[][];
    expect(rows).toEqual([
      ['row', 'error', 'id', 'name', 'email', 'public'],
      ['2', 'email: not a valid email address: "bob@"', '2', 'Bob', 'bob@', 'no'],
      [
        '3',
        'id: missing: the cell is empty; also invalid: "public"',
        '',
        'Cy',
        'cy@example.com',
        'maybe',
      ],
      // A short row is padded so every cell stays under its header.
      ['4', 'row has 2 fields, header has 4', '4', 'Di', '', ''],
      // A cell a spreadsheet would run as a formula gets a leading quote.
      [
        '5',
        'email: not a valid email address: "not-an-email"',
        '5',
        "'=cmd|calc",
        'not-an-email',
        '1',
      ],
    ]);
  });

  it('refuses an --invalid-out it cannot write before reading anything (exit 2)', async () => {
    const res = await cli([
      'validate',
      join(FIXTURES, 'to-fix.csv'),
      '--invalid-out',
      join(dir, 'missing-dir', 'x.csv'),
    ]);
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/^clerk-bulk: .*missing-dir.*: cannot write the --invalid-out file/);
    expect(res.stdout).toBe('');
  });

  it.each([
    ['unclosed-quote.csv', 'line 4: a quoted field opened here is never closed'],
    ['unknown-columns.csv', 'unknown columns "Phone"'],
  ])('exits 2 for the file-level problem in %s, printing one line', async (file, message) => {
    const res = await cli(['validate', join(FIXTURES, file)]);
    expect(res.code).toBe(2);
    expect(res.stdout).toBe('');
    expect(res.stderr).toMatch(/^clerk-bulk: [^\n]+\n$/);
    expect(res.stderr).toContain(message);
  });

  it('reports 0 rows for a header-only file and exits 0', async () => {
    const res = await cli(['validate', join(FIXTURES, 'header-only.csv')]);
    expect(res.code).toBe(0);
    expect(res.stdout).toContain(': 0 rows, 0 valid, 0 invalid');
  });

  it('never replays terminal control characters from the cells', async () => {
    const res = await cli(['validate', join(FIXTURES, 'control-chars.csv')]);
    expect(res.code).toBe(1);
    expect(res.stdout + res.stderr).not.toMatch(RAW_TERMINAL_CONTROL);
    expect(res.stdout).toContain('name: contains a control character: "\\u001b[31mRed\\u001b[0m"');
    expect(res.stdout).toContain('"Car\\rriage"');
  });

  it('uses the mapping file like update does', async () => {
    const res = await cli([
      'validate',
      join(ROOT, 'samples', 'crm-export.csv'),
      '--map',
      join(ROOT, 'samples', 'crm-mapping.json'),
    ]);
    expect(res.code).toBe(0);
    expect(res.stdout).toContain('4 rows, 4 valid, 0 invalid');
  });

  it('reads csv-spectrum files (quoted quotes and line breaks) as valid rows', async () => {
    const map = writeFile(dir, 'map.json', JSON.stringify({ columns: { a: 'id', b: 'data.b' } }));
    for (const file of ['quotes_and_newlines.csv', 'escaped_quotes.csv']) {
      const res = await cli(['validate', join(SPECTRUM, file), '--map', map]);
      expect(res.stderr).toBe('');
      expect(res.code).toBe(0);
      expect(res.stdout).toContain(': 2 rows, 2 valid, 0 invalid');
    }
  });
});

describe('clerk-bulk update --dry-run', () => {
  it('prints each request it would send and sends none', async () => {
    const out = join(dir, 'dry.results.csv');
    const res = await cli(
      updateArgv(join(FIXTURES, 'to-fix.csv'), out, mock.server.url, '--dry-run'),
    );
    expect(res.code).toBe(1);
    const printed = res.stdout.split('\n').filter((l) => l.startsWith('row '));
    expect(printed).toEqual([
      'row 1: PUT /public/contacts/1 {"name":"Ann","email":"ann@example.com","public":true}',
      'row 6: PUT /public/contacts/6 {"name":"Ed","email":"ed@example.com","public":true}',
    ]);
  });

  it('prints payloads with control characters escaped', async () => {
    const out = join(dir, 'dry.results.csv');
    const res = await cli([
      'update',
      join(FIXTURES, 'control-chars.csv'),
      '--dry-run',
      '--out',
      out,
    ]);
    expect(res.stdout + res.stderr).not.toMatch(RAW_TERMINAL_CONTROL);
    expect(res.stdout).toContain(
      'row 5: PUT /public/contacts/5 {"name":"Cy","data":{"note":"\\u001b]0;pwned\\u0007"}}',
    );
  });
});
