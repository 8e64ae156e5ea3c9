/**
 * One job's state, opened for a run: lookups while the run goes, a commit at its end.
 *
 * What the state may claim: "the API last confirmed payload P for id X". It is written
 * only by {@link JobState.commit}, from the results file (fold.ts), so it never
 * records a hash the API did not confirm. The other half of safety is never to keep a
 * claim that may have gone stale: an id whose request went out without a known outcome
 * (a kill -9 mid-flight, a send aborted by a second signal, a `failed` after a timeout)
 * may now hold something else at the API. For those the run journals every id before
 * its request goes out (`sending.log`, one 8-byte write(2) per sent row, like the
 * results file), and a commit forgets every journalled id unless this run's part of the results
 * file confirms it again. The journal is removed only after a commit has saved; a run
 * that opens a state with a journal left by a killed run treats those ids as unknown
 * (never `unchanged`) and forgets them at its own commit.
 */
import {
  closeSync,
  existsSync,
  fstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { acquireLock, type Lock, LockedError, lockPathOf, readHolder } from '../../lock-file.js';
import { describeFsError } from '../results/writer.js';
import {
  CheckIndex,
  type ConfirmedEntry,
  hashId64,
  hexWord,
  JOURNAL_RECORD_BYTES,
  journalRecord,
  LITTLE_ENDIAN,
  OutcomeLog,
  PagedEntries,
  type ReadAt,
  readJournal,
  type SortedIdHashes,
  sortJournal,
} from './entries.js';
import { StateError, StateWriteError } from './errors.js';
import { countLinesBefore, type FoldCounts, foldResultsFile } from './fold.js';
import { KEY_TABLE_FILE } from './key-table.js';
import { type Manifest, type RunRecord, withRun } from './manifest.js';
import {
  FileSpill,
  type IndexedState,
  loadState,
  MANIFEST_FILE,
  openIndexedState,
  readFully,
  readManifest,
  type SaveHooks,
  saveState,
} from './store.js';

/** The journal of ids a run has started sending since the last commit. */
export const SENDING_LOG = 'sending.log';
/** The lock's base path inside a state directory (the lock file is `state.lock`). */
const LOCK_BASE = 'state';

export interface OpenStateOptions {
  /** {@link jobFingerprint} of the run's base URL and key. */
  fingerprint: string;
  /**
   * Create the directory when it does not exist (a first run). Otherwise a missing
   * directory is an error.
   * @default true
   */
  create?: boolean;
  /**
   * Read the state without locking it or writing anything (a dry run): a missing
   * directory is an empty state, {@link JobState.noteSending} only marks the id in
   * memory, and `startRun` / `commit` refuse. A run going on may be saving meanwhile:
   * a load that finds the entries file just replaced is tried once more.
   * @default false
   */
  readOnly?: boolean;
}

/** What a finished (or stopped) run tells the state for its history. */
export interface RunInfo {
  startedAt: Date;
  finishedAt: Date;
  /** Input rows read. */
  rows: number;
  updated: number;
  unchanged: number;
  failed: number;
  /** Rows not sent for other reasons (invalid, left when stopped). */
  other?: number;
  /** Why the run stopped early; undefined when it finished its input. */
  stopped?: string | undefined;
  resume?: boolean;
  /** A limit `--rate auto` measured in this run, kept for the next (see Manifest.rate). */
  rate?: { limitFoundPerSecond: number; foundAt: Date };
}

/** What {@link JobState.commit} did. */
export interface CommitResult {
  manifest: Manifest;
  /** Entries in the saved state. */
  count: number;
  /** What the fold read from the results file. */
  fold: FoldCounts;
  /** Ids forgotten for want of a known outcome (journalled sends, before the fold). */
  journalled: number;
  /** Wall time of the fold and of the save, ms. */
  foldMs: number;
  saveMs: number;
}

/**
 * Open (and lock) the state in `dir` for a run. Refuses, with a {@link StateError} (exit
 * 2), a directory of another job (`E_STATE_FOREIGN`), a damaged state
 * (`E_STATE_CORRUPT`), a newer format (`E_STATE_VERSION`), a directory that is not a
 * state directory (`E_STATE_NOT_STATE`); a state in use by a live run with a
 * {@link LockedError} (`E_STATE_LOCKED`, exit 2). Nothing is written until
 * {@link JobState.startRun} / {@link JobState.commit}.
 */
export function openState(dir: string, options: OpenStateOptions): JobState {
  if (options.readOnly === true) return openReadOnly(dir, options.fingerprint);
  if (!existsSync(dir)) {
    if (options.create === false) {
      throw new StateError(`state directory ${dir} does not exist`, 'E_STATE_READ', dir);
    }
    try {
      mkdirSync(dir, { recursive: true });
    } catch (err) {
      throw new StateError(
        `cannot create state directory ${dir}: ${describeFsError(err)}`,
        'E_STATE_READ',
        dir,
        { cause: err },
      );
    }
  } else if (!statSync(dir).isDirectory()) {
    throw new StateError(`--state ${dir} is not a directory`, 'E_STATE_NOT_STATE', dir);
  }
  let lock: Lock;
  try {
    lock = acquireLock(join(dir, LOCK_BASE), {
      what: `state directory ${dir}`,
      code: 'E_STATE_LOCKED',
    });
  } catch (err) {
    if (err instanceof LockedError) throw err;
    throw new StateError(
      `cannot lock state directory ${dir}: ${describeFsError(err)}`,
      'E_STATE_READ',
      dir,
      { cause: err },
    );
  }
  try {
    const loaded = openIndexedState(dir);
    try {
      if (loaded.manifest !== undefined && loaded.manifest.fingerprint !== options.fingerprint) {
        throw foreignError(dir);
      }
      return new JobState(dir, options.fingerprint, loaded, lock, loadJournal(dir));
    } catch (err) {
      if (loaded.fd !== undefined) closeSync(loaded.fd);
      throw err;
    }
  } catch (err) {
    lock.release();
    throw err;
  }
}

function openReadOnly(dir: string, fingerprint: string): JobState {
  if (!existsSync(dir)) {
    const empty = EMPTY_INDEX;
    return new JobState(dir, fingerprint, empty, undefined, new Uint32Array(0));
  }
  if (!statSync(dir).isDirectory()) {
    throw new StateError(`--state ${dir} is not a directory`, 'E_STATE_NOT_STATE', dir);
  }
  let loaded: IndexedState;
  try {
    loaded = openIndexedState(dir);
  } catch (err) {
    // A commit renames a new entries file in and removes the old one: read again.
    if (!(err instanceof StateError) || err.code !== 'E_STATE_CORRUPT') throw err;
    loaded = openIndexedState(dir);
  }
  try {
    if (loaded.manifest !== undefined && loaded.manifest.fingerprint !== fingerprint) {
      throw foreignError(dir);
    }
    return new JobState(dir, fingerprint, loaded, undefined, loadJournal(dir));
  } catch (err) {
    if (loaded.fd !== undefined) closeSync(loaded.fd);
    throw err;
  }
}

function foreignError(dir: string): StateError {
  return new StateError(
    `state directory ${dir} belongs to another job (another --base-url or API key); give each job its own --state directory`,
    'E_STATE_FOREIGN',
    dir,
  );
}

const EMPTY_INDEX: IndexedState = {
  manifest: undefined,
  count: 0,
  directory: new Uint32Array(65_537),
  checks: new Uint32Array(0),
  fd: undefined,
};

/** Bytes of the journal read at a time by a commit (a whole number of records). */
const JOURNAL_CHUNK_BYTES = 128 * 1024 * JOURNAL_RECORD_BYTES;

/**
 * Each complete journal record of `dir`, in the order written, as an id hash (a torn
 * last record, from a kill mid-write, is left out: that send never started). Read in
 * 1 MB chunks. Returns how many there were.
 */
function forEachJournalRecord(dir: string, each: (hi: number, lo: number) => void): number {
  let fd: number;
  try {
    fd = openSync(join(dir, SENDING_LOG), 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw err;
  }
  try {
    const chunk = Buffer.allocUnsafe(JOURNAL_CHUNK_BYTES);
    const records = Math.floor(fstatSync(fd).size / JOURNAL_RECORD_BYTES);
    let position = 0;
    let done = 0;
    while (done < records) {
      const want = Math.min(records - done, JOURNAL_CHUNK_BYTES / JOURNAL_RECORD_BYTES);
      let got = 0;
      while (got < want * JOURNAL_RECORD_BYTES) {
        const n = readSync(fd, chunk, got, want * JOURNAL_RECORD_BYTES - got, position + got);
        if (n === 0) return done;
        got += n;
      }
      for (let k = 0; k < want; k++) {
        each(
          chunk.readUInt32LE(k * JOURNAL_RECORD_BYTES + 4),
          chunk.readUInt32LE(k * JOURNAL_RECORD_BYTES),
        );
      }
      position += got;
      done += want;
    }
    return done;
  } finally {
    closeSync(fd);
  }
}

/** The journal's id hashes, sorted (a torn last record, from a kill mid-write, is skipped). */
function loadJournal(dir: string): SortedIdHashes {
  try {
    if (!LITTLE_ENDIAN) return readJournal(readFileSync(join(dir, SENDING_LOG)));
    const fd = openSync(join(dir, SENDING_LOG), 'r');
    try {
      const records = Math.floor(fstatSync(fd).size / JOURNAL_RECORD_BYTES);
      const values = new BigUint64Array(records);
      const bytes = Buffer.from(values.buffer);
      let off = 0;
      while (off < bytes.length) {
        const n = readSync(fd, bytes, off, bytes.length - off, off);
        if (n === 0) break;
        off += n;
      }
      return sortJournal(values.subarray(0, Math.floor(off / JOURNAL_RECORD_BYTES)));
    } finally {
      closeSync(fd);
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new Uint32Array(0);
    throw new StateError(
      `cannot read ${join(dir, SENDING_LOG)}: ${describeFsError(err)}`,
      'E_STATE_READ',
      dir,
      { cause: err },
    );
  }
}

/** A state opened by one run. Use one per run; `close()` it whatever happens. */
export class JobState {
  readonly dir: string;
  readonly fingerprint: string;
  #manifest: Manifest | undefined;
  #count: number;
  /** The entries file, open for lookups (read at the commit); undefined when empty. */
  #entriesFd: number | undefined;
  #sorted: PagedEntries;
  /** The per-row lookup, in memory (see CheckIndex). */
  #index: CheckIndex;
  #lock: Lock | undefined;
  /** Opened without a lock (a dry run): lookups only. */
  readonly #readOnly: boolean;
  #closed = false;
  /**
   * Per entry: 1 when the id must be sent whatever its hash — sent earlier in this run
   * (see {@link JobState.isUnchanged}) or journalled by a killed run. 1 byte per entry.
   */
  #mustSend: Uint8Array;
  /** Journal records found at open (sends of killed runs, never committed). */
  readonly #journalledAtOpen: number;
  #journalFd: number | undefined;
  #resultsPath: string | undefined;
  #resultsOffset = 0;
  readonly #record = Buffer.alloc(JOURNAL_RECORD_BYTES);
  #committed = false;

  /** @internal use {@link openState}. */
  constructor(
    dir: string,
    fingerprint: string,
    loaded: IndexedState,
    lock: Lock | undefined,
    journal: SortedIdHashes,
  ) {
    this.#readOnly = lock === undefined;
    this.dir = dir;
    this.fingerprint = fingerprint;
    this.#manifest = loaded.manifest;
    this.#count = loaded.count;
    this.#entriesFd = loaded.fd;
    const fd = loaded.fd;
    const file = loaded.manifest?.entries.file ?? '';
    this.#sorted = new PagedEntries(loaded.count, loaded.directory, (into, bytes, position) => {
      if (fd === undefined) throw new Error('no entries file');
      readFully(dir, file, fd, into, bytes, position);
    });
    this.#index = new CheckIndex(loaded.directory, loaded.checks);
    this.#lock = lock;
    this.#mustSend = new Uint8Array(loaded.count);
    this.#journalledAtOpen = journal.length / 2;
    for (let k = 0; k < journal.length; k += 2) {
      const index = this.#sorted.find(journal[k + 1] as number, journal[k] as number);
      if (index !== -1) this.#mustSend[index] = 1;
    }
  }

  /** Ids in the state. */
  get size(): number {
    return this.#count;
  }

  /** The manifest as loaded; undefined for a new state. */
  get manifest(): Manifest | undefined {
    return this.#manifest;
  }

  /** Sends journalled by a killed run, found at open (those ids are never `unchanged`). */
  get journalledAtOpen(): number {
    return this.#journalledAtOpen;
  }

  /** What the state knows about `id`: the payload hash last confirmed and when. */
  lookup(id: string): ConfirmedEntry | undefined {
    this.#usable();
    const h = hashId64(id);
    const index = this.#sorted.find(h.hi, h.lo);
    return index === -1 ? undefined : this.#sorted.entryAt(index);
  }

  /**
   * Whether a row may be skipped as `unchanged`: its payload sha256 (64 hex chars)
   * equals the one last confirmed for its id, and its id has not been sent in this run
   * (nor by a killed run since the last commit).
   *
   * Why the second condition: rows X→A (row 1) and X→B (row 5) with the state at X=B.
   * Row 1 differs, so it is sent and the API now holds A; row 5 equals the state, but
   * skipping it would leave A. So once an id is sent in a run, every later row of that
   * id is sent too. This needs the run to call `isUnchanged` and {@link noteSending}
   * for one id's rows in file order — which holds where rows are taken in order.
   */
  isUnchanged(id: string, payloadSha256Hex: string): boolean {
    this.#usable();
    if (payloadSha256Hex.length !== 64) return false;
    const p0 = hexWord(payloadSha256Hex, 0);
    const p1 = hexWord(payloadSha256Hex, 8);
    if (p0 === -1 || p1 === -1) return false;
    const h = hashId64(id);
    const index = this.#index.find(h.hi, h.lo, p0, p1);
    return index !== -1 && this.#mustSend[index] === 0;
  }

  /**
   * Start a run that writes results file `resultsPath`: call after the results file is
   * opened (and a resume's torn line repaired), before the first request. Notes where
   * this run's lines start and opens the journal. Throws {@link StateWriteError} (exit
   * 3) when the journal cannot be written.
   */
  startRun(resultsPath: string): void {
    this.#usable();
    if (this.#readOnly) throw new Error('startRun on a state opened read-only');
    this.#resultsPath = resultsPath;
    try {
      this.#resultsOffset = existsSync(resultsPath) ? statSync(resultsPath).size : 0;
      this.#journalFd ??= openSync(join(this.dir, SENDING_LOG), 'a', 0o644);
    } catch (err) {
      throw new StateWriteError(
        `cannot write ${join(this.dir, SENDING_LOG)}: ${describeFsError(err)}`,
        this.dir,
        { cause: err },
      );
    }
  }

  /**
   * Note that a request for `id` is about to go out: journal it (so a kill -9 before
   * its outcome makes the next run forget the id) and mark it sent in this run. Call
   * for every row that is sent, before its request, in the same file order as
   * {@link isUnchanged}. one write(2) of 8 bytes. Throws
   * {@link StateWriteError} (exit 3) on a full disk: do not send that row.
   */
  noteSending(id: string): void {
    this.#usable();
    const h = hashId64(id);
    const index = this.#sorted.find(h.hi, h.lo);
    if (index !== -1) this.#mustSend[index] = 1;
    if (this.#readOnly) return;
    const fd = this.#journalFd;
    if (fd === undefined) throw new Error('noteSending before startRun');
    try {
      writeSync(fd, journalRecord(h.hi, h.lo, this.#record));
    } catch (err) {
      throw new StateWriteError(
        `cannot write ${join(this.dir, SENDING_LOG)}: ${describeFsError(err)}; the run was stopped`,
        this.dir,
        { cause: err },
      );
    }
  }

  /**
   * Record the run: fold the results file given to {@link startRun} into the state and
   * save it atomically, then clear the journal. Call at the end of every run that
   * called `startRun`, whatever its stop reason (finished, interrupted, aborted): the
   * results file only holds outcomes, so folding it is always right. On failure
   * ({@link StateWriteError}, exit 3) the previous state stays valid and the journal
   * stays, so the next run re-sends what this one could not record.
   *
   * The outcomes, in this order: the results file's lines from before this run
   * (earlier attempts of a `--resume`); then "forget" for every journalled id (this
   * run's sends and any killed run's); then this run's lines, which confirm again what
   * landed. An id sent without a results line stays forgotten.
   */
  async commit(run: RunInfo, hooks: SaveHooks = {}): Promise<CommitResult> {
    this.#usable();
    const resultsPath = this.#resultsPath;
    if (resultsPath === undefined) throw new Error('commit before startRun');
    const foldStart = performance.now();
    // The run's lookups are over: their memory (9 bytes per id) is not needed next to
    // the fold's.
    this.#index = new CheckIndex(EMPTY_INDEX.directory, EMPTY_INDEX.checks);
    this.#mustSend = new Uint8Array(0);
    const spill = new FileSpill(this.dir);
    try {
      return await this.#foldAndSave(run, resultsPath, spill, foldStart, hooks);
    } finally {
      spill.close();
    }
  }

  async #foldAndSave(
    run: RunInfo,
    resultsPath: string,
    spill: FileSpill,
    foldStart: number,
    hooks: SaveHooks,
  ): Promise<CommitResult> {
    const log = new OutcomeLog(spill);
    let counts: FoldCounts;
    let journalled = 0;
    try {
      const afterLine = await countLinesBefore(resultsPath, this.#resultsOffset);
      ({ counts } = await foldResultsFile(resultsPath, log, {
        splitAfterLine: afterLine,
        // Every journalled id is forgotten after the earlier attempts' lines and before
        // this run's: only this run's lines confirm it again.
        atSplit: (into) => {
          journalled = forEachJournalRecord(this.dir, (hi, lo) => into.forgetHash(hi, lo));
        },
      }));
    } catch (err) {
      // At the end of a run requests have gone out: exit 3, not the input errors' 2.
      throw new StateWriteError(
        `cannot record the run in state ${this.dir}: folding ${resultsPath}: ${(err as Error).message}; the previous state is kept, and the next run sends again what this one could not record`,
        this.dir,
        { cause: err },
      );
    }
    const foldMs = performance.now() - foldStart;
    const saveStart = performance.now();
    const record: RunRecord = {
      startedAt: run.startedAt.toISOString(),
      finishedAt: run.finishedAt.toISOString(),
      rows: run.rows,
      updated: run.updated,
      unchanged: run.unchanged,
      failed: run.failed,
      ...(run.other === undefined ? {} : { other: run.other }),
      ...(run.stopped === undefined ? {} : { stopped: run.stopped }),
      ...(run.resume === undefined ? {} : { resume: run.resume }),
    };
    // The merge reads the old entries from their file in 458 KB windows: never the
    // whole 28 MB (at 1M ids) next to this run's outcomes.
    const manifest = saveState(
      this.dir,
      { manifest: this.#manifest, entries: this.#entriesReader(), count: this.#count },
      log,
      Math.floor(run.finishedAt.getTime() / 1000),
      {
        fingerprint: this.fingerprint,
        updatedAt: new Date().toISOString(),
        runs: withRun(this.#manifest?.runs ?? [], record),
        ...(run.rate === undefined
          ? {}
          : {
              rate: {
                limitFoundPerSecond: run.rate.limitFoundPerSecond,
                foundAt: run.rate.foundAt.toISOString(),
              },
            }),
      },
      hooks,
    );
    const saveMs = performance.now() - saveStart;
    this.#closeJournal();
    try {
      rmSync(join(this.dir, SENDING_LOG), { force: true });
    } catch {
      // A journal left behind only makes the next run send those ids again.
    }
    // The lookups are now stale: a run commits once, at its end; reopen the state to
    // look up again.
    this.#committed = true;
    this.#manifest = manifest;
    this.#closeEntries();
    this.#mustSend = new Uint8Array(0);
    this.#resultsPath = undefined;
    return {
      manifest,
      count: manifest.entries.count,
      fold: counts,
      journalled,
      foldMs,
      saveMs,
    };
  }

  /** Programming errors, not user errors: the integration calls things out of order. */
  #usable(): void {
    if (this.#closed) throw new Error('the state is closed');
    if (this.#committed) throw new Error('the state was committed: reopen it to use it again');
  }

  #closeJournal(): void {
    if (this.#journalFd === undefined) return;
    const fd = this.#journalFd;
    this.#journalFd = undefined;
    closeSync(fd);
  }

  /** Reads of the old entries file for the merge (the state is locked: it cannot change). */
  #entriesReader(): ReadAt | Buffer {
    const fd = this.#entriesFd;
    if (fd === undefined) return Buffer.alloc(0);
    const file = this.#manifest?.entries.file ?? '';
    return (into, bytes, position) => readFully(this.dir, file, fd, into, bytes, position);
  }

  #closeEntries(): void {
    if (this.#entriesFd === undefined) return;
    const fd = this.#entriesFd;
    this.#entriesFd = undefined;
    closeSync(fd);
  }

  /** Close the journal and the entries file, and release the lock. Idempotent. */
  close(): void {
    this.#closed = true;
    this.#closeEntries();
    this.#closeJournal();
    this.#lock?.release();
    this.#lock = undefined;
  }
}

/** What `clerk-bulk state DIR` shows. */
export interface StateDescription {
  dir: string;
  /** False when the directory holds no saved state yet. */
  exists: boolean;
  ids: number;
  /** CRM keys with their Clerk Chat ids (`sync`, `import --key`); 0 without a key table. */
  keys: number;
  updatedAt: string | undefined;
  fingerprint: string | undefined;
  entriesBytes: number;
  runs: RunRecord[];
  /** Sends journalled and not yet committed (a run going on, or killed). */
  pendingSends: number;
  /** The run holding the lock, if any (it may be dead: the next run takes it over). */
  lockedBy: { pid: number; host: string; startedAt: string } | undefined;
}

/**
 * Describe the state in `dir` without locking it or reading the entries (a run may be
 * going on): the manifest's figures, the journal's length and the lock's holder.
 * Throws {@link StateError} for a damaged manifest or a directory that is not a state.
 */
/**
 * CRM keys with a confirmed Clerk Chat id in the key table of `sync` / `import --key`
 * (keys.csv, an append-only log: the last line per key wins); 0 without one.
 */
function countKeys(dir: string): number {
  let text: string;
  try {
    text = readFileSync(join(dir, KEY_TABLE_FILE), 'utf8');
  } catch {
    return 0;
  }
  const last = new Map<string, string>();
  const rows = parse(text, { comment: '#', from_line: 1, relax_column_count: true }) as string[][];
  for (const [key, , status] of rows.slice(1)) {
    if (key !== undefined && status !== undefined) last.set(key, status);
  }
  let confirmed = 0;
  for (const status of last.values()) if (status === 'confirmed') confirmed++;
  return confirmed;
}

export function describeState(dir: string): StateDescription {
  if (!existsSync(dir)) {
    throw new StateError(`state directory ${dir} does not exist`, 'E_STATE_READ', dir);
  }
  const holder = readHolder(lockPathOf(join(dir, LOCK_BASE)));
  const lockedBy =
    holder === undefined
      ? undefined
      : { pid: holder.pid, host: holder.host, startedAt: holder.startedAt };
  let pendingSends = 0;
  try {
    pendingSends = Math.floor(statSync(join(dir, SENDING_LOG)).size / JOURNAL_RECORD_BYTES);
  } catch {
    // no journal
  }
  const keys = countKeys(dir);
  if (!existsSync(join(dir, MANIFEST_FILE))) {
    loadState(dir); // refuses a directory that is not a state directory
    return {
      dir,
      exists: false,
      ids: 0,
      keys,
      updatedAt: undefined,
      fingerprint: undefined,
      entriesBytes: 0,
      runs: [],
      pendingSends,
      lockedBy,
    };
  }
  const manifest = readManifest(dir);
  return {
    dir,
    exists: true,
    ids: manifest.entries.count,
    keys,
    updatedAt: manifest.updatedAt,
    fingerprint: manifest.fingerprint,
    entriesBytes: manifest.entries.bytes,
    runs: manifest.runs,
    pendingSends,
    lockedBy,
  };
}

/**
 * The API limit a `--rate auto` run of this job measured, from the state's manifest;
 * undefined when there is none or the state cannot be read (opening it for the run
 * reports that). Read before the run opens the state: the limiter is built first.
 */
export function learnedLimitPerSecond(dir: string): number | undefined {
  try {
    if (!existsSync(join(dir, MANIFEST_FILE))) return undefined;
    return readManifest(dir).rate?.limitFoundPerSecond;
  } catch {
    return undefined;
  }
}
