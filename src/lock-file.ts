/**
 * An exclusive lock on a path, for one process at a time: `<path>.lock`, created with
 * O_EXCL and holding `{pid, host, startedAt, token}`. Used for a job state directory
 * (two runs on one state would each record half the truth) and for a results file (two
 * overlapping `--resume` runs on one `--out` would both send the rows left to do).
 *
 * A lock whose pid is dead on this host (a `kill -9`, a power cut) is taken over. A
 * lock held by a live pid, or written on another host (a shared drive: whether that pid
 * lives cannot be told from here), is refused with an error naming the holder.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, readFileSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { ClerkBulkError, EXIT } from './errors.js';

/** What a lock file holds (JSON). */
export interface LockHolder {
  pid: number;
  host: string;
  /** ISO time the lock was taken. */
  startedAt: string;
  /** Random: tells this holder's file from a later one with a reused pid. */
  token: string;
}

/** The lock is held by another run (or cannot be judged stale). Exit 2: nothing was sent. */
export class LockedError extends ClerkBulkError {
  override name = 'LockedError';
  /** The holder as read from the lock file; undefined when it could not be read. */
  readonly holder: LockHolder | undefined;
  readonly lockPath: string;
  constructor(
    message: string,
    code: string,
    lockPath: string,
    holder: LockHolder | undefined,
    options?: { cause?: unknown },
  ) {
    super(message, code, EXIT.USAGE, options);
    this.lockPath = lockPath;
    this.holder = holder;
  }
}

export interface LockOptions {
  /** What is locked, for messages: `state directory /x`, `results file y.csv`. */
  what?: string;
  /**
   * Error code when the lock is held.
   * @default 'E_LOCKED'
   */
  code?: string;
}

/** A held lock. `release()` is idempotent; the lock is also released when the process exits. */
export interface Lock {
  readonly path: string;
  readonly holder: LockHolder;
  release(): void;
}

/**
 * A takeover guard older than this is itself stale: a takeover holds it for a few
 * milliseconds (read, unlink, create), so only a process killed inside that window
 * leaves one behind.
 */
const GUARD_STALE_MS = 10_000;

/** Where the lock of `path` lives. */
export function lockPathOf(path: string): string {
  return `${path}.lock`;
}

/**
 * Take the lock on `path` (the file `<path>.lock`), or throw {@link LockedError}.
 *
 * Races: creation is O_EXCL, so of two fresh runs exactly one wins. Taking over a dead
 * holder's lock is read → unlink → create, which two processes could interleave (B
 * unlinking the lock A just created); so a takeover happens only inside a second
 * O_EXCL file, `<path>.lock.takeover`, and re-reads the lock there: the file is
 * unlinked only if it still holds the same dead holder's token. A fresh O_EXCL create
 * that slips in between our unlink and create wins, and we report it as the holder.
 */
export function acquireLock(path: string, options: LockOptions = {}): Lock {
  const lockPath = lockPathOf(path);
  const what = options.what ?? path;
  const code = options.code ?? 'E_LOCKED';
  const holder: LockHolder = {
    pid: process.pid,
    host: hostname(),
    startedAt: new Date().toISOString(),
    token: randomBytes(8).toString('hex'),
  };
  if (!tryCreate(lockPath, holder)) {
    const current = readHolder(lockPath);
    if (current === undefined || !isStale(current)) {
      throw heldError(lockPath, what, code, current);
    }
    takeOver(lockPath, current, holder, what, code);
  }
  return heldLock(lockPath, holder);
}

function heldLock(lockPath: string, holder: LockHolder): Lock {
  let held = true;
  const release = () => {
    if (!held) return;
    held = false;
    process.removeListener('exit', release);
    // Only our own file: a lock taken over after we were wrongly judged dead is not ours.
    if (readHolder(lockPath)?.token === holder.token) {
      try {
        unlinkSync(lockPath);
      } catch {
        // already gone
      }
    }
  };
  // 'exit' covers a normal end and process.exit(); signals end through main.ts's exit
  // path; a kill -9 leaves the file, which the next run finds stale.
  process.on('exit', release);
  return { path: lockPath, holder, release };
}

/** O_EXCL create with the holder's JSON; false if the file exists. */
function tryCreate(lockPath: string, holder: LockHolder): boolean {
  let fd: number;
  try {
    fd = openSync(lockPath, 'wx', 0o644);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
  try {
    writeSync(fd, `${JSON.stringify(holder)}\n`);
  } finally {
    closeSync(fd);
  }
  return true;
}

function takeOver(
  lockPath: string,
  stale: LockHolder,
  holder: LockHolder,
  what: string,
  code: string,
): void {
  const guard = `${lockPath}.takeover`;
  if (!tryCreate(guard, holder)) {
    removeIfOld(guard);
    if (!tryCreate(guard, holder)) {
      throw heldError(lockPath, what, code, readHolder(lockPath), 'another run is taking it over');
    }
  }
  try {
    const now = readHolder(lockPath);
    if (now !== undefined && now.token !== stale.token) {
      throw heldError(lockPath, what, code, now);
    }
    if (now !== undefined) unlinkSync(lockPath);
    if (!tryCreate(lockPath, holder)) throw heldError(lockPath, what, code, readHolder(lockPath));
  } finally {
    try {
      unlinkSync(guard);
    } catch {
      // gone already
    }
  }
}

function removeIfOld(path: string): void {
  try {
    if (Date.now() - statSync(path).mtimeMs > GUARD_STALE_MS) unlinkSync(path);
  } catch {
    // gone: the next create decides
  }
}

/** The holder in a lock file, or undefined if it is missing, empty or unreadable. */
export function readHolder(lockPath: string): LockHolder | undefined {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(lockPath, 'utf8'));
  } catch {
    return undefined;
  }
  const h = value as Partial<LockHolder> | null;
  if (
    h === null ||
    typeof h !== 'object' ||
    !Number.isSafeInteger(h.pid) ||
    (h.pid as number) <= 0 ||
    typeof h.host !== 'string' ||
    typeof h.startedAt !== 'string' ||
    typeof h.token !== 'string'
  ) {
    return undefined;
  }
  return h as LockHolder;
}

/**
 * Dead on this host: `kill(pid, 0)` says ESRCH. EPERM means alive (another user's). A
 * pid reused by an unrelated live process keeps the lock: refused, never taken — the
 * message tells the user how to remove it.
 */
function isStale(holder: LockHolder): boolean {
  if (holder.host !== hostname()) return false;
  if (holder.pid === process.pid) return false;
  try {
    process.kill(holder.pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

function heldError(
  lockPath: string,
  what: string,
  code: string,
  holder: LockHolder | undefined,
  why?: string,
): LockedError {
  const by =
    holder === undefined
      ? 'another run (its lock file cannot be read)'
      : holder.host === hostname()
        ? `pid ${holder.pid} since ${holder.startedAt}`
        : `pid ${holder.pid} on host ${holder.host} since ${holder.startedAt}`;
  return new LockedError(
    `${what} is in use by ${by}${why === undefined ? '' : ` (${why})`}; if no such run is going on, delete ${lockPath}`,
    code,
    lockPath,
    holder,
  );
}
