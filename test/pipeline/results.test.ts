import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatResultLine, RESULTS_COLUMNS, ResultsWriter } from '../../src/pipeline/results.js';
import { checkPairing, loadResumePlan, repairTornLine } from '../../src/pipeline/resume.js';
import { readResults, tempDir } from '../helpers.js';

const SHA = 'a'.repeat(64);
const at = new Date('2026-11-26T12:00:00.000Z');

describe('results lines', () => {
  it('have the columns of SPEC §5 in order', () => {
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

describe('resume plan', () => {
  function resultsFile(lines: string[]): string {
    const dir = tempDir();
    const path = join(dir, 'r.csv');
    writeFileSync(path, `${RESULTS_COLUMNS.join(',')}\n${lines.join('')}`);
    return path;
  }
  const line = (row: number, id: string, status: string, http = '', sha = SHA) =>
    `${row},${id},${status},${http},1,,${sha},2026-11-26T12:00:00.000Z\n`;

  it('counts a row done only when its last line is final with the same id and hash', async () => {
    const path = resultsFile([
      line(1, 'a', 'updated', '200'),
      line(2, 'b', 'failed', '500'),
      line(3, 'c', 'invalid'),
      line(4, 'd', 'failed', '404'),
      line(4, 'd', 'updated', '200'),
      line(5, 'e', 'updated', '200'),
      line(5, 'e', 'failed', '401'),
      line(6, 'f', 'dry-run'),
    ]);
    const plan = await loadResumePlan(path, { retryFailed: false });
    expect([1, 2, 3, 4, 5, 6].map((r) => plan.isDone(r, 'abcdef'[r - 1] as string, SHA))).toEqual([
      true,
      true,
      true,
      true,
      false,
      false,
    ]);
    expect(plan.doneCount).toBe(4);
    expect(plan.isDone(1, 'other', SHA)).toBe(false);
    expect(plan.isDone(1, 'a', 'b'.repeat(64))).toBe(false);
    expect(plan.isDone(99, 'a', SHA)).toBe(false);
    const retry = await loadResumePlan(path, { retryFailed: true });
    expect([1, 2, 3, 4].map((r) => retry.isDone(r, 'abcd'[r - 1] as string, SHA))).toEqual([
      true,
      false,
      false,
      true,
    ]);
  });

  it('matches an id that was written with formula escaping', async () => {
    const plan = await loadResumePlan(resultsFile([line(1, "'-5", 'updated', '200')]), {
      retryFailed: false,
    });
    expect(plan.isDone(1, '-5', SHA)).toBe(true);
  });

  it('cuts off a torn last line', async () => {
    const path = resultsFile([line(1, 'a', 'updated', '200'), '2,b,upd']);
    expect(repairTornLine(path)).toBe(true);
    expect(readFileSync(path, 'utf8').endsWith('Z\n')).toBe(true);
    expect(repairTornLine(path)).toBe(false);
    const plan = await loadResumePlan(path, { retryFailed: false });
    expect(plan.linesRead).toBe(1);
  });

  it('treats a missing results file as a first run', async () => {
    const plan = await loadResumePlan(join(tempDir(), 'none.csv'), { retryFailed: false });
    expect(plan.doneCount).toBe(0);
  });

  it('refuses a file that is not a results file', async () => {
    const dir = tempDir();
    const path = join(dir, 'x.csv');
    writeFileSync(path, 'id,name\n1,a\n');
    await expect(loadResumePlan(path, { retryFailed: false })).rejects.toMatchObject({
      code: 'E_RESUME_NOT_RESULTS',
      exitCode: 2,
    });
  });

  it('catches a results file that belongs to another input', async () => {
    const plan = await loadResumePlan(
      resultsFile([
        line(1, 'a', 'updated', '200'),
        line(2, 'b', 'updated', '200'),
        line(3, 'c', 'updated', '200'),
      ]),
      { retryFailed: false },
    );
    async function* rows(ids: string[]) {
      let row = 0;
      for (const id of ids) yield { row: ++row, cells: [id, 'x'] };
    }
    const files = { input: 'in.csv', results: 'r.csv' };
    await expect(checkPairing(plan, rows(['x', 'y', 'z']), 0, files)).rejects.toMatchObject({
      code: 'E_RESUME_MISMATCH',
    });
    // One edited id among three is an edit, not another file.
    await expect(checkPairing(plan, rows(['a', 'b', 'EDITED']), 0, files)).resolves.toBeUndefined();
  });
});
