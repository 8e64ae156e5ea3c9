import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkPairing, loadResumePlan } from '../../../../src/pipeline/results/resume.js';
import { RESULTS_COLUMNS } from '../../../../src/pipeline/results/writer.js';
import { tempDir } from '../../../helpers.js';

const SHA = 'a'.repeat(64);

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

  it('cuts off a torn last line after reading the file, and counts only whole lines', async () => {
    const path = resultsFile([line(1, 'a', 'updated', '200'), '2,b,upd']);
    const plan = await loadResumePlan(path, { retryFailed: false });
    expect(plan.repairedTornLine).toBe(true);
    expect(plan.linesRead).toBe(1);
    expect(readFileSync(path, 'utf8').endsWith('Z\n')).toBe(true);
    const again = await loadResumePlan(path, { retryFailed: false });
    expect(again.repairedTornLine).toBe(false);
    expect(again.isDone(1, 'a', SHA)).toBe(true);
  });

  it('leaves a file that is not a results file untouched, even without a final newline', async () => {
    const path = join(tempDir(), 'x.csv');
    const bytes = 'id,name\n1,a\n2,torn';
    writeFileSync(path, bytes);
    await expect(loadResumePlan(path, { retryFailed: false })).rejects.toMatchObject({
      code: 'E_RESUME_NOT_RESULTS',
      exitCode: 2,
    });
    expect(readFileSync(path, 'utf8')).toBe(bytes);
    writeFileSync(path, 'id,name');
    await expect(loadResumePlan(path, { retryFailed: false })).rejects.toMatchObject({
      code: 'E_RESUME_NOT_RESULTS',
    });
    expect(readFileSync(path, 'utf8')).toBe('id,name');
  });

  it('leaves a results file with a malformed line untouched', async () => {
    const path = resultsFile([line(1, 'a', 'updated', '200'), 'x,b\n', '3,c,upd']);
    const before = readFileSync(path);
    await expect(loadResumePlan(path, { retryFailed: false })).rejects.toMatchObject({
      code: 'E_RESUME_MALFORMED',
      location: { line: 3 },
    });
    expect(readFileSync(path).equals(before)).toBe(true);
  });

  it('treats a header torn by a crash as an empty results file and cuts it', async () => {
    const path = join(tempDir(), 'r.csv');
    writeFileSync(path, 'row,id,sta');
    const plan = await loadResumePlan(path, { retryFailed: false });
    expect(plan.linesRead).toBe(0);
    expect(plan.repairedTornLine).toBe(true);
    expect(readFileSync(path, 'utf8')).toBe('');
  });

  it('reads quoted ids and errors like any other line', async () => {
    const path = resultsFile([
      '1,"a,b",failed,404,1,"404 Not Found: ""a,b"" is unknown",' +
        SHA +
        ',2026-11-26T12:00:00.000Z\n',
      `2,'=1+1,updated,200,1,,${SHA},2026-11-26T12:00:00.000Z\r\n`,
    ]);
    const plan = await loadResumePlan(path, { retryFailed: false });
    expect(plan.isDone(1, 'a,b', SHA)).toBe(true);
    expect(plan.doneStatus(1)).toBe('failed');
    expect(plan.isDone(2, '=1+1', SHA)).toBe(true);
    expect(plan.doneStatus(2)).toBe('updated');
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
