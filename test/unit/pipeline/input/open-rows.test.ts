import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  checkFile,
  detectDelimiter,
  MAX_RECORD_BYTES,
  openRows,
} from '../../../../src/pipeline/input/open-rows.js';
import { ROOT, tempDir, writeFile } from '../../../helpers.js';

async function readAll(text: string | Buffer, delimiter?: string) {
  const path = writeFile(tempDir(), 'in.csv', text);
  const source = await openRows(path, { delimiter, lines: true });
  const rows = [];
  for await (const r of source.rows) rows.push(r);
  return { header: source.header, delimiter: source.delimiter, rows };
}

describe('detectDelimiter', () => {
  it.each([
    ['id,name,email', ','],
    ['id;name;email', ';'],
    ['id\tname\temail', '\t'],
    ['id|name', '|'],
    ['"a;b",c,d', ','],
    ['id', ','],
  ])('%j → %j', (line, expected) => {
    expect(detectDelimiter(line)).toBe(expected);
  });
});

describe('openRows', () => {
  it('numbers data rows from 1 and reports the line each ends on', async () => {
    const { header, rows } = await readAll('id,name\n1,"Ann\nLee"\n\n2,Bob\n');
    expect(header).toEqual(['id', 'name']);
    expect(rows).toEqual([
      { row: 1, line: 3, cells: ['1', 'Ann\nLee'] },
      { row: 2, line: 5, cells: ['2', 'Bob'] },
    ]);
  });

  it.each([
    ['a BOM and CRLF', '\uFEFFid,name\r\n1,Ann\r\n2,Bob\r\n'],
    ['no trailing newline', 'id,name\n1,Ann\n2,Bob'],
    ['mixed line endings', 'id,name\r\n1,Ann\n2,Bob\r\n'],
  ])('reads a file with %s', async (_title, text) => {
    const { header, rows } = await readAll(text);
    expect(header).toEqual(['id', 'name']);
    expect(rows.map((r) => r.cells)).toEqual([
      ['1', 'Ann'],
      ['2', 'Bob'],
    ]);
  });

  it('keeps multi-byte UTF-8 intact across chunk boundaries', async () => {
    const name = 'Zoë Ğüneş 山田 🎉'.repeat(20_000);
    const { rows } = await readAll(`id,name\n1,${name}\n`);
    expect(rows[0]?.cells[1]).toBe(name);
  });

  it('detects a semicolon file and honours an explicit delimiter', async () => {
    expect((await readAll('id;name\n1;Ann\n')).rows[0]?.cells).toEqual(['1', 'Ann']);
    expect((await readAll('id,name\n1,Ann\n', '\t')).rows[0]?.cells).toEqual(['1,Ann']);
  });

  it('keeps ragged rows for the validator to report', async () => {
    const { rows } = await readAll('id,name\n1,Ann,extra\n2\n');
    expect(rows.map((r) => r.cells)).toEqual([['1', 'Ann', 'extra'], ['2']]);
  });

  it.each([
    ['an empty file', '', 'E_EMPTY_FILE'],
    ['a whitespace-only file', '  \n\n', 'E_EMPTY_FILE'],
    ['UTF-16', Buffer.from('\uFEFFid,name\n', 'utf16le'), 'E_ENCODING'],
    [
      'Latin-1 bytes',
      Buffer.concat([
        Buffer.from('id,name\n1,'),
        Buffer.from([0x4d, 0xfc, 0x6c]),
        Buffer.from('\n'),
      ]),
      'E_ENCODING',
    ],
    ['binary with NUL bytes', Buffer.from([0x69, 0x64, 0x0a, 0x00, 0x01, 0x02]), 'E_ENCODING'],
    ['an unclosed quote', 'id,name\n1,"Ann\n2,Bob\n', 'E_CSV_QUOTE_NOT_CLOSED'],
  ])('refuses %s with a file error naming the file', async (_title, text, code) => {
    await expect(readAll(text)).rejects.toMatchObject({
      code,
      exitCode: 2,
      message: expect.stringContaining('in.csv'),
    });
  });

  it('names the line of the first byte that is not UTF-8', async () => {
    const bad = Buffer.concat([
      Buffer.from('id,name\n1,Ann\n2,'),
      Buffer.from([0xe9]),
      Buffer.from('\n'),
    ]);
    await expect(readAll(bad)).rejects.toMatchObject({
      message: expect.stringContaining('line 3'),
    });
  });

  it('refuses a missing file with a one-line error', async () => {
    await expect(openRows(join(tempDir(), 'missing.csv'))).rejects.toMatchObject({
      code: 'E_INPUT_NOT_FOUND',
    });
  });
});

describe('openRows: messy files', () => {
  it('finds the header below leading blank lines', async () => {
    const { header, rows } = await readAll('\n  \nid;name\n1;Ann\n');
    expect(header).toEqual(['id', 'name']);
    expect(rows.map((r) => r.cells)).toEqual([['1', 'Ann']]);
  });

  it('skips lines holding only delimiters and blanks, without counting them as rows', async () => {
    const { rows } = await readAll('id,name\n1,Ann\n,\n , \n"",""\n2,Bob\n,,\n');
    expect(rows.map((r) => [r.row, r.cells])).toEqual([
      [1, ['1', 'Ann']],
      [2, ['2', 'Bob']],
    ]);
  });

  it('reads a quote inside an unquoted cell, or after a closing quote, as text', async () => {
    const { rows } = await readAll('id,name\n1,5" screen\n2,"Cy" Lee\n3,"a ""b"""\n');
    expect(rows.map((r) => r.cells[1])).toEqual(['5" screen', '"Cy" Lee', 'a "b"']);
  });

  it('reads a BOM followed by a quoted header', async () => {
    expect((await readAll('\uFEFF"id","name"\n1,Ann\n')).header).toEqual(['id', 'name']);
  });

  it('ends records at a bare CR only in a file whose lines end that way', async () => {
    expect((await readAll('id,name\r1,Ann\r2,Bob\r')).rows.map((r) => r.cells)).toEqual([
      ['1', 'Ann'],
      ['2', 'Bob'],
    ]);
    // Elsewhere a stray CR stays in its cell, for the cell's check to refuse.
    const { rows } = await readAll('id,name\n1,Car\rriage\n2,Bob\r\n');
    expect(rows.map((r) => r.cells)).toEqual([
      ['1', 'Car\rriage'],
      ['2', 'Bob'],
    ]);
  });

  it.each([
    ['an unclosed quote, naming the line it opens on', 'id,name\n1,Ann\n2,"Bob\n3,Cy\n', 3],
    ['an unclosed quote at the very end', 'id,name\n1,Ann\n2,"', 3],
  ])('refuses %s before handing out any row', async (_title, text, line) => {
    await expect(readAll(text)).rejects.toMatchObject({
      code: 'E_CSV_QUOTE_NOT_CLOSED',
      location: { line },
    });
  });

  it('refuses UTF-16 without a BOM', async () => {
    await expect(readAll(Buffer.from('id,name\n1,Ann\n', 'utf16le'))).rejects.toMatchObject({
      code: 'E_ENCODING',
      message: expect.stringContaining('UTF-16'),
    });
  });

  it('still refuses a broken file midway when the pre-check is off', async () => {
    const path = writeFile(tempDir(), 'in.csv', 'id,name\n1,Ann\n2,"Bob\n3,Cy\n');
    const source = await openRows(path, { precheck: false });
    const seen: string[][] = [];
    await expect(
      (async () => {
        for await (const r of source.rows) seen.push(r.cells);
      })(),
    ).rejects.toMatchObject({ code: 'E_CSV_QUOTE_NOT_CLOSED', exitCode: 2 });
    expect(seen).toEqual([['1', 'Ann']]);
  });
});

describe('checkFile', () => {
  const check = (text: string | Buffer, delimiter = ',', crLineEnds = false) =>
    checkFile(writeFile(tempDir(), 'c.csv', text), { file: 'c.csv', delimiter, crLineEnds });
  // Enough rows to span several 1 MiB read chunks.
  const manyRows = Array.from({ length: 60_000 }, (_, i) => `${i},Name number ${i}\n`).join('');

  it('accepts quoted delimiters, line breaks and doubled quotes, counting lines', async () => {
    await expect(check('id,name\n1,"a,b\nc ""d"""\r\n2,x')).resolves.toBe(4);
    await expect(check('id;name\n1;"a;b"\n', ';')).resolves.toBe(2);
    await expect(check(`id,name\n${manyRows}`)).resolves.toBe(60_001);
  });

  it('names the line of a bad byte far into the file, past the first chunk', async () => {
    const bad = Buffer.concat([Buffer.from(`id,name\n${manyRows}x,`), Buffer.from([0xe9, 0x0a])]);
    await expect(check(bad)).rejects.toMatchObject({
      code: 'E_ENCODING',
      location: { line: 60_002 },
    });
  });

  it('names the line of a quote opened far into the file', async () => {
    await expect(check(`id,name\n${manyRows}x,"open\ny,z\n`)).rejects.toMatchObject({
      code: 'E_CSV_QUOTE_NOT_CLOSED',
      location: { line: 60_002 },
    });
  });

  it('names the line of a NUL byte', async () => {
    await expect(check(Buffer.from('id,name\n1,Ann\n2,B\u0000b\n'))).rejects.toMatchObject({
      code: 'E_ENCODING',
      location: { line: 3 },
      message: expect.stringContaining('NUL'),
    });
  });

  it('refuses a record over the size limit, quoted or not, naming where it starts', async () => {
    const big = 'x'.repeat(MAX_RECORD_BYTES + 10);
    await expect(check(`id,name\n1,Ann\n2,${big}\n3,Bob\n`)).rejects.toMatchObject({
      code: 'E_CSV_MAX_RECORD_SIZE',
      location: { line: 3 },
    });
    await expect(check(`id,name\n1,"${big}"\n2,x\n`)).rejects.toMatchObject({
      code: 'E_CSV_MAX_RECORD_SIZE',
      location: { line: 2 },
    });
    await expect(check(`id,name\n1,"${big}\n2,x\n`)).rejects.toMatchObject({
      code: 'E_CSV_MAX_RECORD_SIZE',
      location: { line: 2 },
      message: expect.stringContaining('quoted field opened on line 2'),
    });
  });

  it('counts lines in a CR file', async () => {
    await expect(check('id,name\r1,Ann\r2,"Bob\r3,x\r', ',', true)).rejects.toMatchObject({
      location: { line: 3 },
    });
  });
});

describe('csv-spectrum', () => {
  const dir = join(ROOT, 'node_modules', 'csv-spectrum');
  const names = readdirSync(join(dir, 'csvs')).map((f) => f.replace(/\.csv$/, ''));
  // The package's expected JSON disagrees with its own CSV on one value (a phone
  // number); the CSV is what the reader reads.
  const knownErrata: Record<string, Record<string, string>> = {
    location_coordinates: { 'Contact Phone Number': '2095257564' },
  };

  it('has its files', () => {
    expect(names.length).toBeGreaterThanOrEqual(12);
  });

  it.each(names)('%s.csv reads as its expected JSON', async (name) => {
    const source = await openRows(join(dir, 'csvs', `${name}.csv`));
    const records: Array<Record<string, string>> = [];
    for await (const r of source.rows) {
      records.push(Object.fromEntries(source.header.map((h, i) => [h, r.cells[i] ?? ''])));
    }
    const parsed = JSON.parse(readFileSync(join(dir, 'json', `${name}.json`), 'utf8')) as
      | Record<string, string>
      | Array<Record<string, string>>;
    const expected = (Array.isArray(parsed) ? parsed : [parsed]).map((r) => ({
      ...r,
      ...knownErrata[name],
    }));
    expect(records).toEqual(expected);
  });
});

describe('line count', () => {
  it.each([
    ['id\n1\n2\n', 3],
    ['id\n1\n2', 3],
    ['id\r\n1\r\n"2\n3"\r\n', 4],
    ['\uFEFFid\r1\r2\r', 3],
  ])('the pre-check counts %j as %i lines', async (text, n) => {
    const source = await openRows(writeFile(tempDir(), 'c.csv', text));
    source.close();
    expect(source.lineCount).toBe(n);
  });

  it('reads rows without line numbers unless asked', async () => {
    const source = await openRows(writeFile(tempDir(), 'c.csv', 'id\n1\n'));
    const rows = [];
    for await (const r of source.rows) rows.push(r);
    expect(rows).toEqual([{ row: 1, cells: ['1'] }]);
  });
});
