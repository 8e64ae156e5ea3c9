import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { MAX_RECORD_BYTES } from '../../../../src/pipeline/input/input-errors.js';
import { checkFile } from '../../../../src/pipeline/input/precheck.js';
import { tempDir, writeFile } from '../../../helpers.js';

describe('checkFile', () => {
  const check = async (text: string | Buffer, delimiter = ',', crLineEnds = false) =>
    (await checkFile(writeFile(tempDir(), 'c.csv', text), { file: 'c.csv', delimiter, crLineEnds }))
      .lineCount;
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

describe('checkFile: what it hands on', () => {
  it('returns the stamp of the file it read and feeds the hash every byte', async () => {
    const path = writeFile(tempDir(), 'c.csv', '\uFEFFid,name\n1,Zoë\n');
    const hash = createHash('sha256');
    const { lineCount, stamp } = await checkFile(path, { file: 'c.csv', delimiter: ',', hash });
    const stats = statSync(path);
    expect(lineCount).toBe(2);
    expect(stamp).toEqual({
      dev: stats.dev,
      ino: stats.ino,
      size: stats.size,
      mtimeMs: stats.mtimeMs,
    });
    expect(hash.digest('hex')).toBe(createHash('sha256').update(readFileSync(path)).digest('hex'));
  });

  it('skips the UTF-8 check for a one-byte encoding but still refuses NUL bytes', async () => {
    const latin = Buffer.from('id,name\n1,M\xfcller\n2,B\x00b\n', 'latin1');
    await expect(
      checkFile(writeFile(tempDir(), 'c.csv', latin), {
        file: 'c.csv',
        delimiter: ',',
        encoding: 'windows-1252',
      }),
    ).rejects.toMatchObject({ code: 'E_ENCODING', location: { line: 3 } });
  });

  it('refuses a UTF-16LE file that ends inside a character', async () => {
    const odd = Buffer.concat([Buffer.from('id\n1\n', 'utf16le'), Buffer.from([0x41])]);
    await expect(
      checkFile(writeFile(tempDir(), 'c.csv', odd), {
        file: 'c.csv',
        delimiter: ',',
        encoding: 'utf-16le',
      }),
    ).rejects.toMatchObject({ code: 'E_ENCODING', message: expect.stringContaining('UTF-16') });
  });
});
