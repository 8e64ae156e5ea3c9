import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import {
  type ResultsRecord,
  scanResultsFile,
  unescapeId,
} from '../../../../src/pipeline/results/scan.js';
import {
  formatResultLine,
  RESULTS_COLUMNS,
  type ResultLine,
} from '../../../../src/pipeline/results/writer.js';
import { tempDir } from '../../../helpers.js';

const SHA = 'c'.repeat(64);
const OPTIONS = { notResultsCode: 'E_NOT_RESULTS', malformedCode: 'E_MALFORMED' };

async function scanAll(path: string) {
  const records: Array<Omit<ResultsRecord, 'cells'>> = [];
  const scan = await scanResultsFile(path, OPTIONS, ({ cells: _, ...r }) => records.push({ ...r }));
  return { scan, records };
}

function fileOf(text: string): string {
  const path = join(tempDir(), 'r.csv');
  writeFileSync(path, text);
  return path;
}

describe('results file scanner', () => {
  it('reads every line exactly as csv-parse does, quoted cells and multi-byte text included', async () => {
    const ids = ['plain', '-5', '=SUM(A1)', '@x', 'a,b', 'say "hi"', 'é€😀', 'tab\there', ''];
    const errors = ['', 'email: not a valid email address: "x@"', '404 Not Found', '+1 rows, odd'];
    const lines: ResultLine[] = ids.map((id, i) => ({
      row: i + 1,
      id,
      status: i % 2 === 0 ? 'updated' : 'failed',
      httpStatus: i % 2 === 0 ? 200 : undefined,
      attempts: 1,
      error: errors[i % errors.length],
      sha256: SHA,
      finishedAt: new Date('2026-11-26T12:00:00.000Z'),
    }));
    const text = `${RESULTS_COLUMNS.join(',')}\n${lines.map((l) => formatResultLine(l)).join('')}`;
    const { scan, records } = await scanAll(fileOf(text));
    const expected = (parse(text, { columns: true }) as Array<Record<string, string>>).map(
      (r, i) => ({
        line: i + 2,
        row: Number(r.row),
        id: r.id,
        key: '',
        status: r.status,
        httpStatus: r.http_status,
        error: r.error,
        sha256: r.payload_sha256,
      }),
    );
    expect(records).toEqual(expected);
    expect(scan).toMatchObject({ lines: ids.length, tornLine: false, empty: false });
  });

  it('reads lines that cross its read chunks, multi-byte characters split included', async () => {
    const rows = 60_000; // ~7 MB: more than one 4 MiB chunk
    let text = `${RESULTS_COLUMNS.join(',')}\n`;
    for (let row = 1; row <= rows; row++) {
      text += `${row},id-${row}-ééé😀,updated,200,1,,${SHA},2026-11-26T12:00:00.000Z\n`;
    }
    const seen: string[] = [];
    const scan = await scanResultsFile(fileOf(text), OPTIONS, (r) => {
      if (r.id !== `id-${r.row}-ééé😀` || r.line !== r.row + 1) seen.push(r.id);
    });
    expect(seen).toEqual([]);
    expect(scan.lines).toBe(rows);
    expect(scan.validBytes).toBe(scan.size);
  });

  it('reports a torn last line without passing it on', async () => {
    const whole = `${RESULTS_COLUMNS.join(',')}\n1,a,updated,200,1,,${SHA},2026-11-26T12:00:00.000Z\n`;
    const { scan, records } = await scanAll(fileOf(`${whole}2,b,upd`));
    expect(records.map((r) => r.id)).toEqual(['a']);
    expect(scan).toMatchObject({ lines: 1, tornLine: true, validBytes: Buffer.byteLength(whole) });
  });

  it('accepts a BOM and CRLF line ends', async () => {
    const text = `\uFEFF${RESULTS_COLUMNS.join(',')}\r\n1,a,updated,200,1,,${SHA},2026-11-26T12:00:00.000Z\r\n`;
    const { records } = await scanAll(fileOf(text));
    expect(records).toMatchObject([{ row: 1, id: 'a', status: 'updated', sha256: SHA }]);
  });

  it.each([
    ['another header', 'id,name\n1,a\n', 'E_NOT_RESULTS', 1],
    ['5 MB without a line break', 'x'.repeat(5 * 1024 * 1024), 'E_NOT_RESULTS', 1],
    [
      'a row that is not a number',
      `${RESULTS_COLUMNS.join(',')}\n0x1,a,updated,200,1,,${SHA},t\n`,
      'E_MALFORMED',
      2,
    ],
    ['too few cells', `${RESULTS_COLUMNS.join(',')}\n1,a,updated\n`, 'E_MALFORMED', 2],
    [
      'an unclosed quote',
      `${RESULTS_COLUMNS.join(',')}\n1,"a,updated,200,1,,${SHA},t\n`,
      'E_MALFORMED',
      2,
    ],
  ])('refuses %s with its code and line', async (_name, text, code, line) => {
    await expect(scanAll(fileOf(text))).rejects.toMatchObject({ code, location: { line } });
  });

  it.each([
    ["'-5", '-5'],
    ["'=1+1", '=1+1'],
    ["'@home", '@home'],
    ["'+44", '+44'],
    ["'\tx", '\tx'],
    ["'plain", "'plain"],
    ['plain', 'plain'],
    ["'", "'"],
  ])('unescapes the written id %j to the input id %j', (written, input) => {
    expect(unescapeId(written)).toBe(input);
  });
});
