import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'csv-stringify/sync';
import { describe, expect, it } from 'vitest';
import {
  formatResultLine,
  RESULTS_COLUMNS,
  ResultsWriter,
} from '../../../../src/pipeline/results/writer.js';
import { readResults, tempDir } from '../../../helpers.js';

const SHA = 'a'.repeat(64);
const at = new Date('2026-11-26T12:00:00.000Z');

describe('results lines', () => {
  it('have the columns of docs/results-and-resume.md in order', () => {
    expect(RESULTS_COLUMNS.join(',')).toBe(
      'row,id,status,http_status,attempts,error,payload_sha256,finished_at',
    );
  });

  it.each([
    [
      'a plain updated row',
      {
        row: 1,
        id: '42',
        status: 'updated',
        httpStatus: 200,
        attempts: 1,
        sha256: SHA,
        finishedAt: at,
      },
      `1,42,updated,200,1,,${SHA},2026-11-26T12:00:00.000Z\n`,
    ],
    [
      'an error with a comma and quotes',
      {
        row: 2,
        id: '7',
        status: 'failed',
        httpStatus: 400,
        attempts: 1,
        error: '400 Bad Request: "x", y',
        sha256: SHA,
        finishedAt: at,
      },
      `2,7,failed,400,1,"400 Bad Request: ""x"", y",${SHA},2026-11-26T12:00:00.000Z\n`,
    ],
    [
      'a formula in the error',
      {
        row: 3,
        id: '8',
        status: 'invalid',
        attempts: 0,
        error: '=HYPERLINK("x")',
        sha256: SHA,
        finishedAt: at,
      },
      `3,8,invalid,,0,"'=HYPERLINK(""x"")",${SHA},2026-11-26T12:00:00.000Z\n`,
    ],
    [
      'an id a spreadsheet would run',
      {
        row: 4,
        id: '-5',
        status: 'updated',
        httpStatus: 200,
        attempts: 1,
        sha256: SHA,
        finishedAt: at,
      },
      `4,'-5,updated,200,1,,${SHA},2026-11-26T12:00:00.000Z\n`,
    ],
    [
      'line breaks in an error',
      {
        row: 5,
        id: '9',
        status: 'failed',
        attempts: 6,
        error: 'a\nb\r\nc',
        sha256: SHA,
        finishedAt: at,
      },
      `5,9,failed,,6,a b c,${SHA},2026-11-26T12:00:00.000Z\n`,
    ],
    [
      'control characters in an invalid id',
      {
        row: 6,
        id: 'a\nb',
        status: 'invalid',
        attempts: 0,
        error: 'id: bad',
        sha256: SHA,
        finishedAt: at,
      },
      `6,a\\nb,invalid,,0,id: bad,${SHA},2026-11-26T12:00:00.000Z\n`,
    ],
  ] as const)('format %s', (_title, line, expected) => {
    expect(formatResultLine({ ...line })).toBe(expected);
  });

  it.each([
    '1001',
    'abc-DEF_9',
    'with space',
    'ünïcödé',
    '-5',
    '=1+1',
    '+1',
    '@x',
    '\uff1d1',
    '\uff0d1',
    '\uff20x',
    '\tx',
    'a,b',
    'a"b',
    'a\nb',
    'x\u007f',
    '',
    "'quoted",
  ])('write id %j as csv-stringify would, on the fast path or not', (id) => {
    for (const status of ['updated', 'unchanged', 'failed'] as const) {
      const line = {
        row: 7,
        id,
        status,
        httpStatus: 200,
        attempts: 1,
        sha256: SHA,
        finishedAt: at,
      };
      // biome-ignore lint/suspicious/noControlCharactersInRegex: as escapeControl does
      const escapedId = id.replace(/[\u0000-\u001f\u007f]/g, (c) => JSON.stringify(c).slice(1, -1));
      expect(formatResultLine(line)).toBe(
        stringify([[7, escapedId, status, 200, 1, '', SHA, at.toISOString()]], {
          escape_formulas: true,
          eof: true,
          record_delimiter: 'unix',
        }),
      );
    }
  });

  it('hide the API key wherever it would appear in an error', () => {
    const text = formatResultLine(
      {
        row: 1,
        id: '1',
        status: 'failed',
        attempts: 1,
        error: 'echo: key=sekrit-123',
        sha256: SHA,
        finishedAt: at,
      },
      (t) => t.split('sekrit-123').join('***'),
    );
    expect(text).not.toContain('sekrit-123');
    expect(text).toContain('key=***');
  });

  it('refuse to replace an existing file unless told to', () => {
    const dir = tempDir();
    const path = join(dir, 'r.csv');
    writeFileSync(path, 'precious\n');
    expect(() => ResultsWriter.open(path, 'create')).toThrow(
      expect.objectContaining({ code: 'E_RESULTS_EXISTS', exitCode: 2 }),
    );
    const w = ResultsWriter.open(path, 'overwrite');
    w.close();
    expect(readFileSync(path, 'utf8')).toBe(`${RESULTS_COLUMNS.join(',')}\n`);
  });

  it('fail with a clear error when the directory cannot be written', () => {
    expect(() => ResultsWriter.open('/nonexistent-dir/r.csv', 'create')).toThrow(
      expect.objectContaining({
        code: 'E_RESULTS_WRITE',
        message: expect.stringContaining('does not exist'),
      }),
    );
  });

  it('are written at once, one per call, readable while the writer is open', () => {
    const dir = tempDir();
    const path = join(dir, 'r.csv');
    const w = ResultsWriter.open(path, 'create');
    w.write({
      row: 1,
      id: 'x',
      status: 'updated',
      httpStatus: 200,
      attempts: 1,
      sha256: SHA,
      finishedAt: at,
    });
    expect(readResults(path)).toHaveLength(1);
    w.close();
  });
});
