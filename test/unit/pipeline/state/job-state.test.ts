import { spawn } from 'node:child_process';
import {
  appendFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LockedError } from '../../../../src/lock-file.js';
import { formatResultLine, RESULTS_COLUMNS } from '../../../../src/pipeline/results/writer.js';
import { hashId64, journalRecord } from '../../../../src/pipeline/state/entries.js';
import {
  describeState,
  type JobState,
  jobFingerprint,
  openState,
  type RunInfo,
  SENDING_LOG,
  StateError,
  StateWriteError,
} from '../../../../src/pipeline/state/index.js';
import { tempDir } from '../../../helpers.js';

const FP = jobFingerprint('https://web-api.clerk.chat', 'key-1');
const sha = (c: string) => c.repeat(64);
const RUN: RunInfo = {
  startedAt: new Date('2026-12-01T01:00:00Z'),
  finishedAt: new Date('2026-12-01T01:10:00Z'),
  rows: 0,
  updated: 0,
  unchanged: 0,
  failed: 0,
};

type Outcome = [id: string, status: 'updated' | 'failed' | 'invalid' | 'dry-run', sha256: string];

/** Append results lines (writing the header first if the file is new). */
function appendResults(path: string, outcomes: Outcome[], firstRow = 1): void {
  if (!existsSync(path)) writeFileSync(path, `${RESULTS_COLUMNS.join(',')}\n`);
  const text = outcomes
    .map(([id, status, sha256], i) =>
      formatResultLine({
        row: firstRow + i,
        id,
        status,
        httpStatus: status === 'updated' ? 200 : status === 'failed' ? 500 : undefined,
        attempts: 1,
        sha256,
        finishedAt: new Date(),
      }),
    )
    .join('');
  appendFileSync(path, text);
}

/** One run: open, note every sent row, write its results, commit, close. */
async function run(dir: string, outcomes: Outcome[], fingerprint = FP) {
  const state = openState(dir, { fingerprint });
  try {
    const results = join(dir, '..', `results-${Date.now()}-${Math.random()}.csv`);
    writeFileSync(results, `${RESULTS_COLUMNS.join(',')}\n`);
    state.startRun(results);
    for (const [id, status] of outcomes) if (status !== 'invalid') state.noteSending(id);
    appendResults(results, outcomes);
    return await state.commit({ ...RUN, rows: outcomes.length });
  } finally {
    state.close();
  }
}

function withState<T>(dir: string, use: (state: JobState) => T): T {
  const state = openState(dir, { fingerprint: FP });
  try {
    return use(state);
  } finally {
    state.close();
  }
}

function stateError(fn: () => unknown): StateError {
  try {
    fn();
  } catch (err) {
    if (err instanceof StateError) return err;
    throw err;
  }
  throw new Error('expected a StateError');
}

function entriesFile(dir: string): string {
  const name = readdirSync(dir).find((n) => n.startsWith('entries-'));
  if (name === undefined) throw new Error('no entries file');
  return join(dir, name);
}

describe('job state', () => {
  it('records only confirmed payloads, and finds them again after a reopen', async () => {
    const dir = join(tempDir(), 'state');
    const result = await run(dir, [
      ['a', 'updated', sha('1')],
      ['b', 'failed', sha('2')],
      ['c', 'invalid', sha('3')],
      ['d', 'dry-run', sha('4')],
      ["'-5", 'updated', sha('5')], // written escaped: the id is -5
    ]);
    expect(result.count).toBe(2);
    expect(result.fold).toEqual({ lines: 5, updated: 2, failed: 1 });
    withState(dir, (state) => {
      expect(state.size).toBe(2);
      expect(state.lookup('a')).toEqual({
        payloadHash: '1'.repeat(32),
        confirmedAtS: RUN.finishedAt.getTime() / 1000,
      });
      expect(state.isUnchanged('a', sha('1'))).toBe(true);
      expect(state.isUnchanged('a', sha('9'))).toBe(false);
      expect(state.isUnchanged('-5', sha('5'))).toBe(true);
      expect(state.isUnchanged('b', sha('2'))).toBe(false);
      expect(state.isUnchanged('c', sha('3'))).toBe(false);
      expect(state.isUnchanged('d', sha('4'))).toBe(false);
      expect(state.isUnchanged('a', 'not a hash')).toBe(false);
    });
  });

  it('keeps the last line per id, and forgets an id whose last line failed', async () => {
    const dir = join(tempDir(), 'state');
    await run(dir, [
      ['x', 'updated', sha('a')],
      ['y', 'updated', sha('a')],
    ]);
    await run(dir, [
      ['x', 'updated', sha('b')],
      ['x', 'updated', sha('c')],
      // a timeout after the retries: y may now hold anything at the API
      ['y', 'failed', sha('d')],
    ]);
    withState(dir, (state) => {
      expect(state.lookup('x')?.payloadHash).toBe('c'.repeat(32));
      expect(state.lookup('y')).toBeUndefined();
    });
  });

  it('sends every later row of an id once one row of it was sent in the run', async () => {
    const dir = join(tempDir(), 'state');
    await run(dir, [['x', 'updated', sha('b')]]);
    withState(dir, (state) => {
      state.startRun(join(dir, '..', 'r.csv'));
      // row 1: X→A differs from the state (B): sent
      expect(state.isUnchanged('x', sha('a'))).toBe(false);
      state.noteSending('x');
      // row 5: X→B equals the state, but the API now holds A: must be sent too
      expect(state.isUnchanged('x', sha('b'))).toBe(false);
    });
  });

  it('never skips an id whose send was cut off by a kill, and forgets it at the next commit', async () => {
    const dir = join(tempDir(), 'state');
    await run(dir, [
      ['x', 'updated', sha('a')],
      ['y', 'updated', sha('a')],
    ]);
    // A run sends x→B and is killed before any outcome: journal written, no results
    // line, no commit, lock left behind (released here as a kill would not).
    const killed = openState(dir, { fingerprint: FP });
    const killedResults = join(dir, '..', 'killed.csv');
    writeFileSync(killedResults, `${RESULTS_COLUMNS.join(',')}\n`);
    killed.startRun(killedResults);
    killed.noteSending('x');
    killed.close();
    expect(existsSync(join(dir, SENDING_LOG))).toBe(true);

    // The next night sends x→A again: the state says A, but the API may hold B.
    const next = openState(dir, { fingerprint: FP });
    try {
      expect(next.journalledAtOpen).toBe(1);
      expect(next.isUnchanged('x', sha('a'))).toBe(false);
      expect(next.isUnchanged('y', sha('a'))).toBe(true);
      const results = join(dir, '..', 'next.csv');
      writeFileSync(results, `${RESULTS_COLUMNS.join(',')}\n`);
      next.startRun(results);
      // this run only got to y (unchanged: no line that changes anything)
      const done = await next.commit(RUN);
      expect(done.journalled).toBe(1);
    } finally {
      next.close();
    }
    expect(existsSync(join(dir, SENDING_LOG))).toBe(false);
    withState(dir, (state) => {
      expect(state.lookup('x')).toBeUndefined();
      expect(state.isUnchanged('y', sha('a'))).toBe(true);
    });
  });

  it('on --resume, keeps what earlier attempts confirmed and what this run confirmed again', async () => {
    const dir = join(tempDir(), 'state');
    await run(dir, [['x', 'updated', sha('b')]]);
    const results = join(dir, '..', 'resumed.csv');
    // Attempt 1: x→A confirmed, then z→C in flight when killed.
    const first = openState(dir, { fingerprint: FP });
    writeFileSync(results, `${RESULTS_COLUMNS.join(',')}\n`);
    first.startRun(results);
    first.noteSending('x');
    appendResults(results, [['x', 'updated', sha('a')]], 1);
    first.noteSending('z');
    first.close();
    // Attempt 2 (--resume): row 1 done; row 2 (z→C) sent again and confirmed; row 3
    // x→B: the state says B, but x was sent by the killed attempt: sent.
    const resume = openState(dir, { fingerprint: FP });
    try {
      resume.startRun(results);
      expect(resume.isUnchanged('x', sha('b'))).toBe(false);
      resume.noteSending('z');
      resume.noteSending('x');
      appendResults(
        results,
        [
          ['z', 'updated', sha('c')],
          ['x', 'updated', sha('b')],
        ],
        2,
      );
      await resume.commit({ ...RUN, resume: true });
    } finally {
      resume.close();
    }
    withState(dir, (state) => {
      expect(state.lookup('z')?.payloadHash).toBe('c'.repeat(32));
      expect(state.lookup('x')?.payloadHash).toBe('b'.repeat(32));
    });
  });

  it('forgets an id confirmed by an earlier attempt but sent again by a killed one without outcome', async () => {
    const dir = join(tempDir(), 'state');
    const results = join(dir, '..', 'r.csv');
    // Attempt 1 confirms x→A and commits.
    let s = openState(dir, { fingerprint: FP });
    writeFileSync(results, `${RESULTS_COLUMNS.join(',')}\n`);
    s.startRun(results);
    s.noteSending('x');
    appendResults(results, [['x', 'updated', sha('a')]], 1);
    await s.commit(RUN);
    s.close();
    // Attempt 2 (--resume) sends x→B (row 2) and is killed mid-flight.
    s = openState(dir, { fingerprint: FP });
    s.startRun(results);
    s.noteSending('x');
    s.close();
    // Attempt 3 (--resume --limit 1) sends nothing, and commits: the fold reads
    // "x updated A" from attempt 1, but x's value at the API is unknown since row 2.
    s = openState(dir, { fingerprint: FP });
    s.startRun(results);
    await s.commit(RUN);
    s.close();
    withState(dir, (state) => expect(state.lookup('x')).toBeUndefined());
  });

  it('takes over the lock of a run killed with SIGKILL mid-send, and does not trust what it was sending', async () => {
    const dir = join(tempDir(), 'state');
    await run(dir, [
      ['x', 'updated', sha('a')],
      ['y', 'updated', sha('a')],
    ]);
    const h = hashId64('x');
    const record = journalRecord(h.hi, h.lo, Buffer.alloc(8)).toString('hex');
    // A run that holds the state's lock and has journalled a send of x, then waits.
    const script = `
      const fs = require('node:fs');
      const fd = fs.openSync(${JSON.stringify(join(dir, 'state.lock'))}, 'wx');
      fs.writeSync(fd, JSON.stringify({ pid: process.pid, host: require('node:os').hostname(),
        startedAt: new Date().toISOString(), token: 'killed' }));
      fs.closeSync(fd);
      fs.appendFileSync(${JSON.stringify(join(dir, SENDING_LOG))}, Buffer.from('${record}', 'hex'));
      process.stdout.write('sending\\n');
      setInterval(() => {}, 1000);
    `;
    const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', () => resolve());
      child.on('exit', (code) => reject(new Error(`child exited with ${code}`)));
    });
    expect(() => openState(dir, { fingerprint: FP })).toThrow(`pid ${child.pid}`);
    child.kill('SIGKILL');
    await exited;
    withState(dir, (state) => {
      expect(state.journalledAtOpen).toBe(1);
      expect(state.isUnchanged('x', sha('a'))).toBe(false);
      expect(state.isUnchanged('y', sha('a'))).toBe(true);
    });
  });

  it('refuses a state directory of another job, naming the reason on one line', async () => {
    const dir = join(tempDir(), 'state');
    await run(dir, [['a', 'updated', sha('1')]]);
    for (const other of [
      jobFingerprint('https://web-api.clerk.chat', 'key-2'),
      jobFingerprint('http://127.0.0.1:9999', 'key-1'),
    ]) {
      const err = stateError(() => openState(dir, { fingerprint: other }));
      expect(err.code).toBe('E_STATE_FOREIGN');
      expect(err.exitCode).toBe(2);
      expect(err.message).not.toContain('\n');
    }
    // refused without keeping the lock
    withState(dir, (state) => expect(state.size).toBe(1));
  });

  it('derives the fingerprint from base URL and key without showing the key', () => {
    expect(FP).toMatch(/^[0-9a-f]{32}$/);
    expect(jobFingerprint('https://web-api.clerk.chat/', 'key-1')).toBe(FP);
    expect(jobFingerprint('https://web-api.clerk.chat', 'key-2')).not.toBe(FP);
    expect(jobFingerprint('https://web-api.clerk.chat', 'key-1')).toBe(FP);
  });

  it('refuses a second run on the same state while the first holds it', () => {
    const dir = join(tempDir(), 'state');
    const first = openState(dir, { fingerprint: FP });
    try {
      let caught: unknown;
      try {
        openState(dir, { fingerprint: FP });
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(LockedError);
      expect((caught as LockedError).code).toBe('E_STATE_LOCKED');
      expect((caught as LockedError).message).toContain(`pid ${process.pid}`);
    } finally {
      first.close();
    }
    withState(dir, () => undefined);
  });

  describe('refuses a damaged state instead of reading it as empty', () => {
    async function saved() {
      const dir = join(tempDir(), 'state');
      await run(
        dir,
        Array.from({ length: 50 }, (_, i): Outcome => [`id${i}`, 'updated', sha('7')]),
      );
      return dir;
    }

    it.each([
      [
        'a truncated entries file',
        (dir: string) => truncateSync(entriesFile(dir), 28 * 49),
        'bytes',
      ],
      [
        'a flipped byte in the entries file',
        (dir: string) => {
          const path = entriesFile(dir);
          const bytes = readFileSync(path);
          bytes[100] = (bytes[100] ?? 0) ^ 1;
          writeFileSync(path, bytes);
        },
        'sha256',
      ],
      [
        'an edited manifest',
        (dir: string) => {
          const path = join(dir, 'manifest.json');
          writeFileSync(path, readFileSync(path, 'utf8').replace('"count": 50', '"count": 49'));
        },
        'checksum',
      ],
      [
        'a manifest whose date was changed with its checksum left alone',
        (dir: string) => {
          const path = join(dir, 'manifest.json');
          const m = JSON.parse(readFileSync(path, 'utf8'));
          m.updatedAt = '2020-01-01T00:00:00.000Z';
          writeFileSync(path, JSON.stringify(m));
        },
        'checksum',
      ],
      [
        'a truncated manifest',
        (dir: string) => truncateSync(join(dir, 'manifest.json'), 40),
        'JSON',
      ],
      ['a missing entries file', (dir: string) => rmSync(entriesFile(dir)), 'missing'],
    ])('%s', async (_name, damage, says) => {
      const dir = await saved();
      damage(dir);
      const err = stateError(() => openState(dir, { fingerprint: FP }));
      expect(err.code).toBe('E_STATE_CORRUPT');
      expect(err.exitCode).toBe(2);
      expect(err.message).toContain(says);
      // the lock was not kept
      expect(existsSync(join(dir, 'state.lock'))).toBe(false);
    });

    it('refuses a state written by a newer format', async () => {
      const dir = await saved();
      const path = join(dir, 'manifest.json');
      writeFileSync(path, readFileSync(path, 'utf8').replace('"version": 1', '"version": 2'));
      expect(stateError(() => openState(dir, { fingerprint: FP })).code).toBe('E_STATE_VERSION');
    });
  });

  it('refuses a directory that holds other files', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'notes.txt'), 'mine');
    expect(stateError(() => openState(dir, { fingerprint: FP })).code).toBe('E_STATE_NOT_STATE');
  });

  it('keeps the old state when a save is cut off between the entries file and the manifest', async () => {
    const dir = join(tempDir(), 'state');
    await run(dir, [['a', 'updated', sha('1')]]);
    const before = readFileSync(join(dir, 'manifest.json'), 'utf8');
    const state = openState(dir, { fingerprint: FP });
    const results = join(dir, '..', 'cut.csv');
    writeFileSync(results, `${RESULTS_COLUMNS.join(',')}\n`);
    state.startRun(results);
    state.noteSending('a');
    appendResults(results, [['a', 'updated', sha('2')]]);
    await expect(
      state.commit(RUN, {
        afterEntries: () => {
          throw Object.assign(new Error('killed'), { code: 'EIO' });
        },
      }),
    ).rejects.toBeInstanceOf(StateWriteError);
    state.close();
    expect(readFileSync(join(dir, 'manifest.json'), 'utf8')).toBe(before);
    withState(dir, (s) => {
      expect(s.lookup('a')?.payloadHash).toBe('1'.repeat(32));
      // the journal survived the failed save: a is not trusted until a commit saves
      expect(s.isUnchanged('a', sha('1'))).toBe(false);
    });
  });

  it('keeps the old state and exits 3 when the manifest cannot be written', async () => {
    const dir = join(tempDir(), 'state');
    await run(dir, [['a', 'updated', sha('1')]]);
    // A directory where the temp manifest goes: the write fails like a full disk would.
    mkdirSync(join(dir, 'manifest.json.tmp'));
    const state = openState(dir, { fingerprint: FP });
    const results = join(dir, '..', 'full.csv');
    writeFileSync(results, `${RESULTS_COLUMNS.join(',')}\n`);
    state.startRun(results);
    state.noteSending('b');
    appendResults(results, [['b', 'updated', sha('2')]]);
    let caught: unknown;
    try {
      await state.commit(RUN);
    } catch (err) {
      caught = err;
    }
    state.close();
    expect(caught).toBeInstanceOf(StateWriteError);
    expect((caught as StateWriteError).exitCode).toBe(3);
    expect((caught as StateWriteError).message).toContain('previous state is kept');
    withState(dir, (s) => {
      expect(s.size).toBe(1);
      expect(s.lookup('b')).toBeUndefined();
    });
  });

  it('keeps the old state and exits 3 when the results file cannot be read at the end', async () => {
    const dir = join(tempDir(), 'state');
    await run(dir, [['a', 'updated', sha('1')]]);
    const state = openState(dir, { fingerprint: FP });
    const results = join(dir, '..', 'gone.csv');
    writeFileSync(results, 'not,a,results,file\n');
    state.startRun(results);
    state.noteSending('a');
    const err = await state.commit(RUN).catch((e: unknown) => e);
    state.close();
    expect(err).toBeInstanceOf(StateWriteError);
    expect((err as StateWriteError).exitCode).toBe(3);
    withState(dir, (s) => {
      expect(s.lookup('a')?.payloadHash).toBe('1'.repeat(32));
      expect(s.isUnchanged('a', sha('1'))).toBe(false);
    });
  });

  it('describes the state: ids, last update, runs, pending sends and holder', async () => {
    const dir = join(tempDir(), 'state');
    await run(dir, [['a', 'updated', sha('1')]]);
    await run(dir, [['b', 'updated', sha('1')]]);
    const held = openState(dir, { fingerprint: FP });
    try {
      const d = describeState(dir);
      expect(d).toMatchObject({ exists: true, ids: 2, fingerprint: FP, pendingSends: 0 });
      expect(d.runs).toHaveLength(2);
      expect(d.runs[1]).toMatchObject({ rows: 1, startedAt: RUN.startedAt.toISOString() });
      expect(d.lockedBy?.pid).toBe(process.pid);
      expect(Date.parse(d.updatedAt ?? '')).toBeGreaterThan(0);
    } finally {
      held.close();
    }
    expect(describeState(dir).lockedBy).toBeUndefined();
    expect(describeState(tempDir())).toMatchObject({ exists: false, ids: 0 });
  });
});
