import { execFileSync } from 'node:child_process';
import {
  appendFileSync,
  readdirSync,
  readFileSync,
  truncateSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type InputEncoding, openRows } from '../../../../src/pipeline/input/open-rows.js';
import { INPUT_FIXTURES, ROOT, tempDir, writeFile } from '../../../helpers.js';

async function readAll(text: string | Buffer, delimiter?: string) {
  const path = writeFile(tempDir(), 'in.csv', text);
  const source = await openRows(path, { delimiter, lines: true });
  const rows = [];
  for await (const r of source.rows) rows.push(r);
  return { header: source.header, delimiter: source.delimiter, rows };
}

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

describe('openRows: a file that changes while it is read', () => {
  const cell = (n: number) => `Name ${n} ${'x'.repeat(40)}`;
  // ~1 MB: well past what the row stream reads ahead (256 KiB and the parser's buffers).
  const text = `id,name\n${Array.from({ length: 20_000 }, (_, i) => `${i + 1},${cell(i + 1)}\n`).join('')}`;

  /** Read rows, calling `change` once row 10 is out; the rows seen and how it ended. */
  async function readChanging(path: string, change: () => void) {
    const source = await openRows(path);
    const seen: Array<{ row: number; cells: string[] }> = [];
    const ended = (async () => {
      for await (const r of source.rows) {
        seen.push(r);
        if (r.row === 10) change();
      }
    })();
    return { seen, ended };
  }

  it('fails when the file is truncated midway, and never hands out the cut row', async () => {
    const path = writeFile(tempDir(), 'in.csv', text);
    // The cut falls inside the value of row 15,000.
    const cutAt = text.indexOf(`\n15000,`) + 12;
    const { seen, ended } = await readChanging(path, () => truncateSync(path, cutAt));
    await expect(ended).rejects.toMatchObject({
      code: 'E_INPUT_CHANGED',
      exitCode: 2,
      message: expect.stringContaining(
        `in.csv: the file changed while it was being read (it shrank`,
      ),
    });
    expect(seen.length).toBeLessThan(15_000);
    for (const r of seen) expect(r.cells).toEqual([String(r.row), cell(r.row)]);
  });

  it('fails when rows are appended while it is read', async () => {
    const path = writeFile(tempDir(), 'in.csv', text);
    const { ended } = await readChanging(path, () => appendFileSync(path, '20001,late\n'));
    await expect(ended).rejects.toMatchObject({
      code: 'E_INPUT_CHANGED',
      message: expect.stringContaining('it grew'),
    });
  });

  it('fails when the file is rewritten in place with the same size', async () => {
    const path = writeFile(tempDir(), 'in.csv', text);
    const { ended } = await readChanging(path, () => {
      writeFileSync(path, text.replace(/x/g, 'y'));
      utimesSync(path, new Date(), new Date(Date.now() + 5_000));
    });
    await expect(ended).rejects.toMatchObject({
      code: 'E_INPUT_CHANGED',
      message: expect.stringContaining('it was rewritten'),
    });
  });

  it('fails when the file is replaced by another one', async () => {
    const dir = tempDir();
    const path = writeFile(dir, 'in.csv', text);
    const other = writeFile(dir, 'other.csv', text);
    const { ended } = await readChanging(path, () => execFileSync('mv', [other, path]));
    await expect(ended).rejects.toMatchObject({
      code: 'E_INPUT_CHANGED',
      message: expect.stringContaining('replaced by another file'),
    });
  });
});

describe('openRows: paths that are not files', () => {
  it('refuses a FIFO at once, saying to use - for stdin', async () => {
    const path = join(tempDir(), 'pipe.csv');
    execFileSync('mkfifo', [path]);
    await expect(openRows(path)).rejects.toMatchObject({
      code: 'E_INPUT_NOT_FILE',
      exitCode: 2,
      message: expect.stringMatching(
        /^.*pipe\.csv: is a pipe \(FIFO\), not a regular file.*use - for stdin/,
      ),
    });
  });

  it('refuses a directory', async () => {
    await expect(openRows(tempDir())).rejects.toMatchObject({
      code: 'E_INPUT_NOT_FOUND',
      message: expect.stringContaining('is a directory'),
    });
  });
});

describe('openRows: encodings', () => {
  async function readFixture(name: string, encoding?: InputEncoding) {
    const source = await openRows(join(INPUT_FIXTURES, name), { encoding });
    const rows = [];
    for await (const r of source.rows) rows.push(r.cells);
    return {
      header: source.header,
      delimiter: source.delimiter,
      rows,
      lineCount: source.lineCount,
    };
  }

  it('reads windows-1252, where 0x80-0x9F are letters and signs', async () => {
    const { rows } = await readFixture('windows-1252.csv', 'windows-1252');
    expect(rows).toEqual([
      ['1', 'Müller “Mo”', 'Café costs €5'],
      ['2', 'Ann', '–'],
    ]);
  });

  it('reads latin1 as ISO-8859-1, byte for code point', async () => {
    expect((await readFixture('latin1-iso.csv', 'latin1')).rows).toEqual([
      ['1', 'Müller'],
      ['2', 'Señor Ñandú'],
    ]);
    // The C1 range stays control characters (for the cell checks to refuse), not €.
    expect((await readFixture('windows-1252.csv', 'latin1')).rows[0]?.[2]).toBe(
      'Café costs \u00805',
    );
  });

  it('reads UTF-16LE with a BOM: tab-separated, CRLF, quotes and characters beyond Latin-1', async () => {
    const { header, delimiter, rows, lineCount } = await readFixture('utf16le-tab.csv', 'utf-16le');
    expect(header).toEqual(['id', 'name']);
    expect(delimiter).toBe('\t');
    expect(lineCount).toBe(3);
    expect(rows).toEqual([
      ['1', 'Zoë 山田'],
      ['2', 'Ann, "Lee"'],
    ]);
    expect((await readFixture('utf16le-bom.csv', 'utf-16le')).rows).toEqual([['1', 'Ann']]);
  });

  it('checks a UTF-16LE file before the rows like any other', async () => {
    const path = writeFile(
      tempDir(),
      'u.csv',
      Buffer.from('\uFEFFid,name\n1,Ann\n2,"Bob\n', 'utf16le'),
    );
    await expect(openRows(path, { encoding: 'utf-16le' })).rejects.toMatchObject({
      code: 'E_CSV_QUOTE_NOT_CLOSED',
      location: { line: 3 },
    });
  });

  it.each([
    [
      'Latin-1 read as UTF-8',
      'latin1.csv',
      undefined,
      'save it as UTF-8, or use --encoding windows-1252 to read it as it is',
    ],
    ['UTF-16LE read as UTF-8', 'utf16le-bom.csv', undefined, 'or use --encoding utf-16le'],
    ['UTF-16LE read as windows-1252', 'utf16le-bom.csv', 'windows-1252', 'use --encoding utf-16le'],
    ['UTF-16BE read as UTF-16LE', 'utf16be-nobom.csv', 'utf-16le', 'the file is UTF-16 text'],
    ['UTF-8 with a BOM read as windows-1252', 'bom-crlf.csv', 'windows-1252', 'so it is UTF-8'],
  ] as const)('refuses %s, naming the option', async (_title, name, encoding, fragment) => {
    await expect(readFixture(name, encoding)).rejects.toMatchObject({
      code: 'E_ENCODING',
      exitCode: 2,
      message: expect.stringContaining(fragment),
    });
  });
});

describe('openRows: columns with an empty header', () => {
  it('refuses a file with data under an empty header, naming the row and the column', async () => {
    await expect(
      readAll('id,,email\n1,,ann@example.com\n2, ,b@x.com\n3,Bob,bob@example.com\n4,Cy,c@x.com\n'),
    ).rejects.toMatchObject({
      code: 'E_HEADER_EMPTY_WITH_DATA',
      exitCode: 2,
      location: { row: 3 },
      message: expect.stringMatching(
        /in\.csv row 3: column 2 has no header but holds data: give it a header, or delete the column$/,
      ),
    });
  });

  it('reads a file whose empty header is over an empty column (a trailing delimiter)', async () => {
    const { header, rows } = await readAll('id,name,\n1,Ann,\n2,Bob, \n');
    expect(header).toEqual(['id', 'name', '']);
    expect(rows.map((r) => r.cells)).toEqual([
      ['1', 'Ann', ''],
      ['2', 'Bob', ' '],
    ]);
  });

  it('leaves the rows to the validator without the pre-check', async () => {
    const path = writeFile(tempDir(), 'in.csv', 'id,,email\n1,x,a@x.com\n');
    const source = await openRows(path, { precheck: false });
    const rows = [];
    for await (const r of source.rows) rows.push(r.cells);
    expect(rows).toEqual([['1', 'x', 'a@x.com']]);
  });
});
