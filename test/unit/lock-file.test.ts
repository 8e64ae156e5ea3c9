import { spawn } from 'node:child_process';
import { existsSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { acquireLock, LockedError, lockPathOf, readHolder } from '../../src/lock-file.js';
import { tempDir } from '../helpers.js';

/**
 * A child process that creates the lock file the way acquireLock does (O_EXCL, its own
 * pid) and then waits; resolves once the file is there.
 */
function childHolder(lockPath: string) {
  const script = `
    const fs = require('node:fs');
    const fd = fs.openSync(${JSON.stringify(lockPath)}, 'wx');
    fs.writeSync(fd, JSON.stringify({ pid: process.pid, host: require('node:os').hostname(),
      startedAt: new Date().toISOString(), token: 'child' }) + '\\n');
    fs.closeSync(fd);
    process.stdout.write('held\\n');
    setInterval(() => {}, 1000);
  `;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const held = new Promise<void>((resolve, reject) => {
    child.stdout.on('data', () => resolve());
    child.on('exit', (code) => reject(new Error(`holder exited with ${code}`)));
  });
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  return { child, held, exited };
}

describe('lock file', () => {
  it('writes pid, host and start time, and removes the file on release', () => {
    const path = join(tempDir(), 'state');
    const lock = acquireLock(path);
    expect(lock.path).toBe(`${path}.lock`);
    const holder = readHolder(lock.path);
    expect(holder).toMatchObject({ pid: process.pid, host: hostname() });
    expect(Number.isNaN(Date.parse(holder?.startedAt ?? ''))).toBe(false);
    lock.release();
    expect(existsSync(lock.path)).toBe(false);
    lock.release(); // idempotent
  });

  it('refuses a second holder with its pid, exit 2 and the code asked for', () => {
    const path = join(tempDir(), 'out.csv');
    const first = acquireLock(path);
    // Same process, so the pid is alive: the second attempt must be refused.
    let caught: unknown;
    try {
      acquireLock(path, { what: 'results file out.csv', code: 'E_RESULTS_LOCKED' });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(LockedError);
    const err = caught as LockedError;
    expect(err.code).toBe('E_RESULTS_LOCKED');
    expect(err.exitCode).toBe(2);
    expect(err.holder?.pid).toBe(process.pid);
    expect(err.message).toContain(`results file out.csv is in use by pid ${process.pid}`);
    expect(err.message).toContain(lockPathOf(path));
    first.release();
    acquireLock(path).release();
  });

  it('refuses a lock held by a live child process, and takes it over once the child is killed with SIGKILL', async () => {
    const path = join(tempDir(), 'state');
    const { child, held, exited } = childHolder(lockPathOf(path));
    await held;
    expect(() => acquireLock(path)).toThrow(`pid ${child.pid}`);
    child.kill('SIGKILL');
    await exited;
    const lock = acquireLock(path);
    expect(readHolder(lock.path)?.pid).toBe(process.pid);
    lock.release();
  });

  it('does not take over a lock written on another host', () => {
    const path = join(tempDir(), 'state');
    writeFileSync(
      lockPathOf(path),
      JSON.stringify({
        pid: 999_999,
        host: 'elsewhere',
        startedAt: '2026-01-01T00:00:00Z',
        token: 't',
      }),
    );
    expect(() => acquireLock(path)).toThrow('pid 999999 on host elsewhere');
  });

  it('refuses a lock file it cannot read rather than guessing', () => {
    const path = join(tempDir(), 'state');
    writeFileSync(lockPathOf(path), '');
    expect(() => acquireLock(path)).toThrow('its lock file cannot be read');
  });

  it('does not remove a lock that another run took over after this one was judged dead', () => {
    const path = join(tempDir(), 'state');
    const lock = acquireLock(path);
    const theirs = JSON.stringify({ pid: 1, host: hostname(), startedAt: 'x', token: 'theirs' });
    writeFileSync(lock.path, theirs);
    lock.release();
    expect(readFileSync(lock.path, 'utf8')).toBe(theirs);
  });

  it('refuses while another run is in the middle of a takeover', () => {
    const path = join(tempDir(), 'state');
    // A dead holder (2^22 + 1 is above the largest pid_max Linux allows) and a fresh
    // takeover guard.
    writeFileSync(
      lockPathOf(path),
      JSON.stringify({ pid: 2 ** 22 + 1, host: hostname(), startedAt: 'x', token: 'dead' }),
    );
    writeFileSync(`${lockPathOf(path)}.takeover`, '{}');
    expect(() => acquireLock(path)).toThrow('another run is taking it over');
  });

  it('takes over when the takeover guard itself was left by a run killed mid-takeover', () => {
    const path = join(tempDir(), 'state');
    writeFileSync(
      lockPathOf(path),
      JSON.stringify({ pid: 2 ** 22 + 1, host: hostname(), startedAt: 'x', token: 'dead' }),
    );
    const guard = `${lockPathOf(path)}.takeover`;
    writeFileSync(guard, '{}');
    const minuteAgo = new Date(Date.now() - 60_000);
    utimesSync(guard, minuteAgo, minuteAgo);
    const lock = acquireLock(path);
    expect(readHolder(lock.path)?.pid).toBe(process.pid);
    expect(existsSync(guard)).toBe(false);
    lock.release();
  });
});
