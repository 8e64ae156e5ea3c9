import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  RESULTS_HEADER,
  scanResultsFile,
  unescapeId,
} from '../../../../src/pipeline/results/scan.js';
import { formatResultLine } from '../../../../src/pipeline/results/writer.js';
import {
  hashId64,
  hashId64Bytes,
  isSha256Hex,
  mergeToBuffer,
  OutcomeLog,
} from '../../../../src/pipeline/state/entries.js';
import { foldResultsFile } from '../../../../src/pipeline/state/fold.js';

const dir = mkdtempSync(join(tmpdir(), 'fold-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const sha = (c: string) => c.repeat(64);
const at = new Date('2026-12-01T00:00:00.000Z');

/** The fold as the text scanner reads the file: the reference the byte reader must match. */
async function referenceFold(path: string): Promise<OutcomeLog> {
  const log = new OutcomeLog();
  await scanResultsFile(path, { notResultsCode: 'X', malformedCode: 'Y' }, (record) => {
    const id = unescapeId(record.id);
    if (record.status === 'updated') {
      if (isSha256Hex(record.sha256)) log.confirm(id, record.sha256);
      else log.forget(id);
    } else if (record.status === 'failed') log.forget(id);
  });
  return log;
}

function write(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

const line = (row: number, id: string, status: string, sha256 = '', error = '') =>
  formatResultLine({
    row,
    id,
    status: status as 'updated',
    attempts: status === 'updated' ? 1 : 0,
    ...(error === '' ? {} : { error }),
    sha256,
    finishedAt: at,
  });

describe('foldResultsFile', () => {
  it('hashes an ASCII id from its bytes as hashId64 does from its text', () => {
    for (const id of ['', 'a', 'contact_123', '9'.repeat(40), '-5', 'x y z']) {
      const bytes = Buffer.from(`,${id},`);
      expect({ ...hashId64Bytes(bytes, 1, bytes.length - 1) }).toEqual({ ...hashId64(id) });
    }
  });

  it('reads every kind of line as the text scanner does, and calls atSplit once at its line', async () => {
    const lines = [
      line(1, 'plain', 'updated', sha('a')),
      line(2, 'plain', 'updated', sha('B')), // upper-case hex, later line wins
      line(3, 'gone', 'failed', '', 'HTTP 500: "quoted" error, with a comma'),
      line(4, 'née', 'updated', sha('c')), // a non-ASCII id: decoded, not hashed as bytes
      line(5, '-5', 'updated', sha('d')), // written as '-5: unescaped
      line(6, 'same', 'unchanged', sha('e')),
      line(7, 'bad-hash', 'updated', 'not-a-hash'),
      line(8, 'with,comma', 'updated', sha('f')), // a quoted id
      line(9, 'invalid', 'invalid', sha('1')),
    ];
    const text = `\uFEFF${RESULTS_HEADER}\r\n${lines.join('').replace(/\n/g, '\r\n')}9,torn,upd`;
    const path = write('kinds.csv', text);
    const calls: number[] = [];
    const log = new OutcomeLog();
    const { counts } = await foldResultsFile(path, log, {
      splitAfterLine: 4,
      atSplit: (into) => calls.push(into.size),
    });
    expect(counts).toEqual({ lines: 9, updated: 5, failed: 1 });
    // Lines 2-4 (rows 1-3) came before the split: three outcomes.
    expect(calls).toEqual([3]);
    const bytes = mergeToBuffer(Buffer.alloc(0), 0, log, 1);
    const reference = mergeToBuffer(Buffer.alloc(0), 0, await referenceFold(path), 1);
    expect(bytes.count).toBe(4); // plain, née, -5, with,comma; gone and bad-hash forgotten
    expect(bytes.entries.equals(reference.entries)).toBe(true);
  });

  it('gives the same entries as the text scanner across chunk edges of a large file', async () => {
    const parts = [`${RESULTS_HEADER}\n`];
    for (let i = 1; i <= 30_000; i++) {
      const status = i % 10 === 0 ? 'failed' : i % 3 === 0 ? 'unchanged' : 'updated';
      parts.push(line(i, `id-${i % 20_000}`, status, (i % 16).toString(16).repeat(64)));
    }
    const path = write('large.csv', parts.join(''));
    const log = new OutcomeLog();
    const { counts } = await foldResultsFile(path, log);
    expect(counts.lines).toBe(30_000);
    const a = mergeToBuffer(Buffer.alloc(0), 0, log, 1);
    const b = mergeToBuffer(Buffer.alloc(0), 0, await referenceFold(path), 1);
    expect(a.entries.equals(b.entries)).toBe(true);
  });

  it('refuses a file that is not a results file, and a malformed line, naming the line', async () => {
    await expect(foldResultsFile(write('other.csv', 'id,name\n1,a\n'))).rejects.toMatchObject({
      code: 'E_STATE_NOT_RESULTS',
    });
    await expect(
      foldResultsFile(
        write('bad.csv', `${RESULTS_HEADER}\n${line(1, 'a', 'updated', sha('a'))}x,a,updated\n`),
      ),
    ).rejects.toMatchObject({ code: 'E_STATE_RESULTS_MALFORMED', location: { line: 3 } });
    await expect(
      foldResultsFile(write('short.csv', `${RESULTS_HEADER}\n1,a,updated\n`)),
    ).rejects.toMatchObject({ code: 'E_STATE_RESULTS_MALFORMED', location: { line: 2 } });
    // A header torn by a crash: an empty results file.
    const { counts } = await foldResultsFile(write('torn.csv', RESULTS_HEADER.slice(0, 10)));
    expect(counts.lines).toBe(0);
    await expect(foldResultsFile(write('long.csv', 'x'.repeat(400)))).rejects.toMatchObject({
      code: 'E_STATE_NOT_RESULTS',
    });
  });
});
