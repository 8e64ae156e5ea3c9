/**
 * Reading and writing a state directory: load with every check, save atomically.
 *
 * Layout of a state directory:
 *
 *   manifest.json              what the state is (manifest.ts); names the entries file
 *   entries-<sha16>.bin        the sorted entries (entries.ts); <sha16> = its sha256's start
 *   state.lock                 held by the run using the state (lock-file.ts)
 *   sending.log                ids a run has started sending (job-state.ts)
 *   *.tmp                      a save in progress (or killed mid-way; removed next save)
 *
 * Save order: entries to a temp file, fsync, rename to its content-named file; then the
 * manifest to a temp file, fsync, rename over manifest.json; fsync the directory; only
 * then remove the entries file the old manifest named. Until the manifest rename the
 * old manifest and the old entries file are untouched, so a crash or a full disk at any
 * point leaves the old state loadable (and a stray new entries file, removed later).
 */
import { createHash } from 'node:crypto';
import {
  closeSync,
  fstatSync,
  fsyncSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { describeFsError } from '../results/writer.js';
import {
  DirectoryBuilder,
  ENTRY_BYTES,
  isSorted,
  type OutcomeLog,
  type ReadAt,
  type RunSpill,
} from './entries.js';
import { StateError, StateWriteError } from './errors.js';
import {
  formatManifest,
  MANIFEST_FORMAT,
  MANIFEST_VERSION,
  type Manifest,
  manifestChecksum,
  manifestSchema,
} from './manifest.js';

export const MANIFEST_FILE = 'manifest.json';
/** Files a state directory may hold besides the entries files. */
// keys.csv and keys.lock: the key → id table of `sync` and `import --key` (key-table.ts).
const OWN_FILES =
  /^(manifest\.json|state\.lock(\.takeover)?|sending\.log|entries-[0-9a-f]{16}\.bin|keys\.csv|keys\.lock(\.takeover)?|.*\.tmp)$/;

/** A loaded state: its manifest (undefined for a new, empty state) and its entries. */
export interface LoadedState {
  manifest: Manifest | undefined;
  entries: Buffer;
  count: number;
}

/** Whether `name` is a file clerk-bulk keeps in a state directory. */
export function isOwnFile(name: string): boolean {
  return OWN_FILES.test(name);
}

/**
 * Load the state in `dir`. No manifest (a new directory, or one whose first run never
 * saved) is an empty state. Anything wrong with what is there is refused, never read as
 * empty: a state that silently lost its entries would re-send everything (harmless),
 * but one that loaded half of them could not be told from a good one.
 */
export function loadState(dir: string): LoadedState {
  const names = listStateDir(dir);
  if (!names.includes(MANIFEST_FILE)) {
    return { manifest: undefined, entries: Buffer.alloc(0), count: 0 };
  }
  const manifest = readManifest(dir);
  return { manifest, entries: readEntries(dir, manifest), count: manifest.entries.count };
}

/** A state checked as {@link loadState} does, its entries left on disk (see PagedEntries). */
export interface IndexedState {
  manifest: Manifest | undefined;
  count: number;
  /** The bucket directory of the entries (PagedEntries, CheckIndex). */
  directory: Uint32Array;
  /** Per entry its check, for lookups in memory (CheckIndex). */
  checks: Uint32Array;
  /** The entries file, open for reading; undefined for an empty state. Close it when done. */
  fd: number | undefined;
}

/** Bytes read per chunk while checking an entries file: a whole number of entries (~1 MB). */
const CHECK_CHUNK_BYTES = Math.floor((1024 * 1024) / ENTRY_BYTES) * ENTRY_BYTES;

/**
 * Check the state in `dir` with every check of {@link loadState} (size, sha256, order),
 * reading the entries file in 1 MB chunks, and keep it open instead of in memory.
 */
export function openIndexedState(dir: string): IndexedState {
  const names = listStateDir(dir);
  const emptyDirectory = new DirectoryBuilder().finish();
  if (!names.includes(MANIFEST_FILE)) {
    return {
      manifest: undefined,
      count: 0,
      directory: emptyDirectory,
      checks: new Uint32Array(0),
      fd: undefined,
    };
  }
  const manifest = readManifest(dir);
  const { file, bytes, sha256 } = manifest.entries;
  const fd = openEntries(dir, file);
  try {
    const size = fstatSync(fd).size;
    if (size !== bytes) {
      throw corrupt(dir, `entries file ${file} has ${size} bytes, the manifest says ${bytes}`);
    }
    const hash = createHash('sha256');
    const builder = new DirectoryBuilder(manifest.entries.count);
    const chunk = Buffer.allocUnsafe(Math.min(CHECK_CHUNK_BYTES, Math.max(bytes, ENTRY_BYTES)));
    let off = 0;
    while (off < bytes) {
      const want = Math.min(chunk.length, bytes - off);
      readFully(dir, file, fd, chunk, want, off);
      const part = chunk.subarray(0, want);
      hash.update(part);
      builder.add(part);
      off += want;
    }
    if (hash.digest('hex') !== sha256) {
      throw corrupt(dir, `entries file ${file} does not match the manifest's sha256`);
    }
    if (!builder.sorted) throw corrupt(dir, `entries file ${file} is not in order`);
    return {
      manifest,
      count: manifest.entries.count,
      directory: builder.finish(),
      checks: builder.checks,
      fd,
    };
  } catch (err) {
    closeSync(fd);
    throw err;
  }
}

/** Read exactly `bytes` bytes at `position` of an entries file into `into`. */
export function readFully(
  dir: string,
  file: string,
  fd: number,
  into: Buffer,
  bytes: number,
  position: number,
): void {
  let off = 0;
  while (off < bytes) {
    const n = readSync(fd, into, off, bytes - off, position + off);
    if (n === 0) throw corrupt(dir, `entries file ${file} ended early`);
    off += n;
  }
}

function openEntries(dir: string, file: string): number {
  const path = join(dir, file);
  try {
    return openSync(path, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw corrupt(dir, `entries file ${file} is missing`, err);
    }
    throw new StateError(`cannot read ${path}: ${describeFsError(err)}`, 'E_STATE_READ', dir, {
      cause: err,
    });
  }
}

/** The files of a state directory, refusing one that holds anything else. */
function listStateDir(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (err) {
    throw new StateError(
      `cannot read state directory ${dir}: ${describeFsError(err)}`,
      'E_STATE_READ',
      dir,
      { cause: err },
    );
  }
  const foreign = names.filter((n) => !isOwnFile(n));
  if (foreign.length > 0) {
    throw new StateError(
      `${dir} is not a clerk-bulk state directory (it holds ${foreign.slice(0, 3).join(', ')}); give an empty or new directory`,
      'E_STATE_NOT_STATE',
      dir,
    );
  }
  return names;
}

function corrupt(dir: string, why: string, cause?: unknown): StateError {
  return new StateError(
    `state in ${dir} is damaged: ${why}; restore it from a backup, or start over with an empty --state directory and --full`,
    'E_STATE_CORRUPT',
    dir,
    cause === undefined ? undefined : { cause },
  );
}

/** Read and check manifest.json. */
export function readManifest(dir: string): Manifest {
  const path = join(dir, MANIFEST_FILE);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    if (err instanceof SyntaxError) throw corrupt(dir, `${MANIFEST_FILE} is not JSON`, err);
    throw new StateError(`cannot read ${path}: ${describeFsError(err)}`, 'E_STATE_READ', dir, {
      cause: err,
    });
  }
  const head = raw as { format?: unknown; version?: unknown } | null;
  if (head !== null && typeof head === 'object' && head.format === MANIFEST_FORMAT) {
    if (typeof head.version === 'number' && head.version > MANIFEST_VERSION) {
      throw new StateError(
        `state in ${dir} was written by a newer clerk-bulk (format ${head.version}; this one reads ${MANIFEST_VERSION}); upgrade clerk-bulk`,
        'E_STATE_VERSION',
        dir,
      );
    }
  }
  const parsed = manifestSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw corrupt(
      dir,
      `${MANIFEST_FILE}: ${issue === undefined ? 'invalid' : `${issue.path.join('.') || '(top)'}: ${issue.message}`}`,
    );
  }
  const manifest = parsed.data;
  if (manifestChecksum(raw as Manifest) !== manifest.manifestSha256) {
    throw corrupt(dir, `${MANIFEST_FILE} was changed after it was written (checksum mismatch)`);
  }
  const e = manifest.entries;
  if (e.bytes !== e.count * ENTRY_BYTES) {
    throw corrupt(dir, `${MANIFEST_FILE} says ${e.count} entries in ${e.bytes} bytes`);
  }
  return manifest;
}

/** Read the entries file the manifest names, checking size, sha256 and order. */
function readEntries(dir: string, manifest: Manifest): Buffer {
  const { file, bytes, sha256, count } = manifest.entries;
  const path = join(dir, file);
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw corrupt(dir, `entries file ${file} is missing`, err);
    }
    throw new StateError(`cannot read ${path}: ${describeFsError(err)}`, 'E_STATE_READ', dir, {
      cause: err,
    });
  }
  try {
    const size = fstatSync(fd).size;
    if (size !== bytes) {
      throw corrupt(dir, `entries file ${file} has ${size} bytes, the manifest says ${bytes}`);
    }
    // One allocation of the final size, filled in place: no second copy at load.
    const entries = Buffer.allocUnsafe(bytes);
    let off = 0;
    while (off < bytes) {
      const n = readSync(fd, entries, off, Math.min(bytes - off, 8 * 1024 * 1024), off);
      if (n === 0) throw corrupt(dir, `entries file ${file} ended early`);
      off += n;
    }
    if (createHash('sha256').update(entries).digest('hex') !== sha256) {
      throw corrupt(dir, `entries file ${file} does not match the manifest's sha256`);
    }
    if (!isSorted(entries, count)) throw corrupt(dir, `entries file ${file} is not in order`);
    return entries;
  } finally {
    closeSync(fd);
  }
}

/** Hooks for tests: simulate a crash between the steps of a save. */
export interface SaveHooks {
  /** Called after the new entries file is in place, before the manifest is written. */
  afterEntries?: () => void;
}

/** What a save writes besides the entries. */
export type ManifestFields = Omit<Manifest, 'entries' | 'manifestSha256' | 'format' | 'version'>;

/**
 * Save `old` merged with `log` into `dir`, atomically (see the file comment). Entries
 * confirmed by `log` get `confirmedAtS`. On failure the old state is left as it was
 * and a {@link StateWriteError} is thrown. Returns the new manifest.
 */
export function saveState(
  dir: string,
  old: Omit<LoadedState, 'entries'> & { entries: Buffer | ReadAt },
  log: OutcomeLog,
  confirmedAtS: number,
  fields: ManifestFields,
  hooks: SaveHooks = {},
): Manifest {
  const entriesTmp = join(dir, 'entries.tmp');
  const manifestTmp = join(dir, `${MANIFEST_FILE}.tmp`);
  let step = 'write the entries';
  try {
    const hash = createHash('sha256');
    let count = 0;
    const fd = openSync(entriesTmp, 'w', 0o644);
    try {
      count = log.mergeInto(old.entries, old.count, confirmedAtS, (chunk) => {
        hash.update(chunk);
        let off = 0;
        while (off < chunk.length) off += writeSync(fd, chunk, off, chunk.length - off);
      });
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    const sha256 = hash.digest('hex');
    const file = `entries-${sha256.slice(0, 16)}.bin`;
    renameSync(entriesTmp, join(dir, file));
    hooks.afterEntries?.();
    step = 'write the manifest';
    const { format: _f, version: _v, ...carried } = old.manifest ?? {};
    const body = {
      ...carried,
      ...fields,
      format: MANIFEST_FORMAT,
      version: MANIFEST_VERSION,
      entries: { file, count, entryBytes: ENTRY_BYTES, bytes: count * ENTRY_BYTES, sha256 },
    } as Omit<Manifest, 'manifestSha256'>;
    const text = formatManifest(body);
    const mfd = openSync(manifestTmp, 'w', 0o644);
    try {
      const buf = Buffer.from(text);
      let off = 0;
      while (off < buf.length) off += writeSync(mfd, buf, off, buf.length - off);
      fsyncSync(mfd);
    } finally {
      closeSync(mfd);
    }
    renameSync(manifestTmp, join(dir, MANIFEST_FILE));
    syncDir(dir);
    removeStale(dir, file);
    return manifestSchema.parse(JSON.parse(text));
  } catch (err) {
    for (const tmp of [entriesTmp, manifestTmp]) {
      try {
        rmSync(tmp, { force: true });
      } catch {
        // a leftover temp file is removed by the next save
      }
    }
    if (err instanceof StateWriteError) throw err;
    throw new StateWriteError(
      `cannot save state in ${dir} (${step}): ${describeFsError(err)}; the previous state is kept, and the next run sends again what this one could not record`,
      dir,
      { cause: err },
    );
  }
}

/** fsync the directory so the renames survive a power cut (not possible everywhere). */
function syncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // Some platforms cannot fsync a directory; the renames are still atomic.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Remove entries files other than `keep` and leftover temp files. */
function removeStale(dir: string, keep: string): void {
  for (const name of readdirSync(dir)) {
    if (name === keep) continue;
    if (/^entries-[0-9a-f]{16}\.bin$/.test(name) || name.endsWith('.tmp')) {
      try {
        rmSync(join(dir, name), { force: true });
      } catch {
        // harmless leftover
      }
    }
  }
}

/**
 * The sorted runs of a commit's outcomes, as temp files in the state directory
 * (`outcomes-<n>.tmp`: a save removes leftovers of a killed one). Close it when done:
 * that closes and removes them.
 */
export class FileSpill implements RunSpill {
  readonly #dir: string;
  readonly #files: { path: string; fd: number }[] = [];

  constructor(dir: string) {
    this.#dir = dir;
  }

  put(run: Buffer): ReadAt {
    const name = `outcomes-${this.#files.length}.tmp`;
    const path = join(this.#dir, name);
    const fd = openSync(path, 'w+', 0o600);
    this.#files.push({ path, fd });
    let off = 0;
    while (off < run.length) off += writeSync(fd, run, off, run.length - off, off);
    return (into, bytes, position) => readFully(this.#dir, name, fd, into, bytes, position);
  }

  close(): void {
    for (const { path, fd } of this.#files.splice(0)) {
      try {
        closeSync(fd);
        rmSync(path, { force: true });
      } catch {
        // a leftover temp file is removed by the next save
      }
    }
  }
}
