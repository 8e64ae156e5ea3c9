import { describe, expect, it } from 'vitest';
import { detectDelimiter, readHead } from '../../../../src/pipeline/input/delimiter.js';
import { tempDir, writeFile } from '../../../helpers.js';

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

describe('readHead', () => {
  it.each([
    ['utf-8', Buffer.from('\uFEFF\n  \nid;name\r1;Zoë\r'), 'id;name', true],
    ['utf-16le', Buffer.from('\uFEFFid\tname\r\n1\tZoë\r\n', 'utf16le'), 'id\tname', false],
    ['windows-1252', Buffer.from([0x69, 0x64, 0x2c, 0x80, 0x0a]), 'id,€', false],
  ] as const)('finds the first non-blank line of a %s file', async (encoding, bytes, line, cr) => {
    const path = writeFile(tempDir(), 'h.csv', bytes);
    await expect(readHead(path, encoding)).resolves.toEqual({ line, crLineEnds: cr });
  });
});
