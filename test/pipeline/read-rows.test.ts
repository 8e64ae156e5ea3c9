import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { countLines, detectDelimiter, openRows } from '../../src/pipeline/read-rows.js';
import { tempDir, writeFile } from '../helpers.js';

async function readAll(text: string | Buffer, delimiter?: string) {
  const path = writeFile(tempDir(), 'in.csv', text);
  const source = await openRows(path, { delimiter });
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

describe('countLines', () => {
  it.each([
    ['id\n1\n2\n', 3],
    ['id\n1\n2', 3],
    ['', 0],
  ])('%j has %i lines', async (text, n) => {
    expect(await countLines(writeFile(tempDir(), 'c.csv', text))).toBe(n);
  });
});
