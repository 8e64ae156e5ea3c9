/**
 * The `<out>.complete.json` sidecar: a fingerprint of a run that finished reading its
 * whole input, so that `--resume` of that finished run can say "nothing left to do"
 * without reading a million rows and a million results lines again.
 *
 * It is an optimisation, never a source of truth: anything unexpected about it
 * (missing, unreadable, another version, any mismatch) means the full resume, which
 * goes by the results file alone. Deleting it is always safe.
 */

import { createHash, type Hash } from 'node:crypto';
import { existsSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { open, writeFile } from 'node:fs/promises';
import { DEFAULT_EMPTY } from '../../defaults.js';
import { VERSION } from '../../version.js';
import type { RunSummary, UpdateOptions } from '../run/types.js';
import type { OpenMode } from './writer.js';

/** Bump when the sidecar's meaning changes: older ones are then ignored. */
export const SIDECAR_VERSION = 1;

/** Another version may build payloads differently: its sidecars do not count. */
const TOOL_VERSION = VERSION;

/** Where the sidecar of results file `out` lives. */
export function sidecarPath(out: string): string {
  return `${out}.complete.json`;
}

interface FileStamp {
  size: number;
  mtimeMs: number;
}

/** What the sidecar holds (JSON). */
export interface CompleteRunRecord {
  version: typeof SIDECAR_VERSION;
  input: FileStamp & { sha256: string };
  /** Hash of what shapes payloads besides the input bytes (see {@link optionsFingerprint}). */
  options: string;
  /** Data rows in the input. */
  rows: number;
  /** Final status of every row (last results line per row). */
  counts: { updated: number; failed: number; invalid: number };
  /** The results file right after its last line was written. */
  results: FileStamp;
}

/** What a run notes at its start, to write the sidecar at its end. */
export interface RunFingerprint {
  input: string;
  /** The input's size and mtime when the run started; undefined if it could not be read. */
  inputAtStart: FileStamp | undefined;
  /** {@link optionsFingerprint} of the run's options. */
  options: string;
  /** Fed the input's bytes by the run's pre-check pass (read-rows.ts): no second read. */
  inputHash: Hash;
}

/** Rows a resume skipped, by the status their last line has. */
export type SkippedCounts = {
  updated: number;
  failed: number;
  invalid: number;
  /** Import: rows an earlier run created. */
  created?: number;
  /** Import: rows an earlier run left uncertain (not re-sent). */
  uncertain?: number;
};

function stamp(path: string): FileStamp | undefined {
  try {
    const s = statSync(path);
    return s.isFile() ? { size: s.size, mtimeMs: s.mtimeMs } : undefined;
  } catch {
    return undefined;
  }
}

function sameStamp(a: FileStamp | undefined, b: FileStamp | undefined): boolean {
  return a !== undefined && b !== undefined && a.size === b.size && a.mtimeMs === b.mtimeMs;
}

async function sha256OfFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  // One reused buffer: a stream's fresh 1 MiB chunks add ~30 MB of RSS over a 64 MB
  // file. (A run's own sidecar hash comes from its pre-check pass instead.)
  const buffer = Buffer.allocUnsafe(256 * 1024);
  const file = await open(path, 'r');
  try {
    while (true) {
      const { bytesRead } = await file.read(buffer, 0, buffer.length, null);
      if (bytesRead === 0) break;
      hash.update(buffer.subarray(0, bytesRead));
    }
  } finally {
    await file.close();
  }
  return hash.digest('hex');
}

/**
 * Hash of what shapes payloads besides the input bytes: the mapping's content, what an
 * empty cell means, the delimiter asked for (a detected one follows from the bytes),
 * and the tool version.
 */
export function optionsFingerprint(
  options: Pick<UpdateOptions, 'mapping' | 'empty' | 'delimiter' | 'encoding'>,
): string {
  const shape = [
    TOOL_VERSION,
    options.mapping ?? null,
    options.empty ?? DEFAULT_EMPTY,
    options.delimiter ?? null,
  ];
  // Appended only when set, so sidecars of UTF-8 runs stay valid across this change.
  if (options.encoding !== undefined && options.encoding !== 'utf-8') shape.push(options.encoding);
  return createHash('sha256').update(JSON.stringify(shape)).digest('hex');
}

/** Note, as a run starts, what its sidecar will be checked against. */
export function startFingerprint(options: UpdateOptions): RunFingerprint {
  return {
    input: options.input,
    inputAtStart: stamp(options.input),
    options: optionsFingerprint(options),
    inputHash: createHash('sha256'),
  };
}

function readRecord(out: string): CompleteRunRecord | undefined {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(sidecarPath(out), 'utf8'));
  } catch {
    return undefined;
  }
  const r = value as Partial<CompleteRunRecord> | null;
  const isCount = (n: unknown) => Number.isSafeInteger(n) && (n as number) >= 0;
  const isStamp = (s: Partial<FileStamp> | undefined) =>
    isCount(s?.size) && typeof s?.mtimeMs === 'number';
  if (
    r === null ||
    typeof r !== 'object' ||
    r.version !== SIDECAR_VERSION ||
    !isStamp(r.input) ||
    typeof r.input?.sha256 !== 'string' ||
    typeof r.options !== 'string' ||
    !isCount(r.rows) ||
    !isCount(r.counts?.updated) ||
    !isCount(r.counts?.failed) ||
    !isCount(r.counts?.invalid) ||
    !isStamp(r.results)
  ) {
    return undefined;
  }
  const record = r as CompleteRunRecord;
  const { updated, failed, invalid } = record.counts;
  return updated + failed + invalid === record.rows ? record : undefined;
}

/**
 * `--resume` of a run that is already complete: when the sidecar matches the input
 * (size, mtime and the sha256 of its bytes), the options and the results file (size
 * and mtime), and `--retry-failed` has nothing to re-send, return its record: the
 * summary then follows from it without reading a row. Otherwise undefined: do the full
 * resume.
 */
export async function findCompleteRun(
  options: UpdateOptions,
  fingerprint: RunFingerprint,
): Promise<CompleteRunRecord | undefined> {
  if (options.dryRun === true || options.signal?.aborted === true) return undefined;
  const record = readRecord(options.out);
  if (record === undefined) return undefined;
  const notUpdated = record.counts.failed + record.counts.invalid;
  if (
    record.options !== fingerprint.options ||
    (options.limit !== undefined && options.limit < record.rows) ||
    (options.retryFailed === true && notUpdated > 0) ||
    !sameStamp(record.results, stamp(options.out)) ||
    !sameStamp(record.input, fingerprint.inputAtStart)
  ) {
    return undefined;
  }
  try {
    if ((await sha256OfFile(options.input)) !== record.input.sha256) return undefined;
  } catch {
    return undefined;
  }
  return record;
}

/**
 * Remove the sidecar before a run writes to the results file. Not when the run is
 * about to be refused for finding the results file already there (`create` mode).
 */
export function discardSidecar(out: string, mode: OpenMode): void {
  if (mode === 'create' && existsSync(out)) return;
  try {
    rmSync(sidecarPath(out), { force: true });
  } catch {
    // A sidecar that cannot be removed no longer matches the results file either.
  }
}

/**
 * Write the sidecar after a run that read its whole input: not a dry run, not stopped,
 * no `--limit` cut, every row read finished, and the input the same size and mtime as
 * when the run started. Written to a temporary file and renamed into place; any
 * failure just leaves no sidecar.
 */
export async function recordCompleteRun(
  fingerprint: RunFingerprint,
  summary: RunSummary,
  context: { out: string; limit: number | undefined; skipped: SkippedCounts | undefined },
): Promise<void> {
  if (
    summary.dryRun ||
    summary.stopped !== undefined ||
    summary.unfinished > 0 ||
    (context.limit !== undefined && summary.rowsRead >= context.limit)
  ) {
    return;
  }
  const path = sidecarPath(context.out);
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    const results = stamp(context.out);
    const inputBefore = fingerprint.inputAtStart;
    // The hash was taken between these two stamps: an edit in between shows in them.
    if (results === undefined || inputBefore === undefined) return;
    if (!sameStamp(inputBefore, stamp(fingerprint.input))) return;
    const sha256 = fingerprint.inputHash.digest('hex');
    const c = summary.counts;
    const skipped = context.skipped ?? { updated: 0, failed: 0, invalid: 0 };
    const counts = {
      updated: c.updated + skipped.updated,
      failed: c.failed + skipped.failed,
      invalid: c.invalid + skipped.invalid,
    };
    // Every row read must be accounted for exactly once, or the record is not trusted.
    if (counts.updated + counts.failed + counts.invalid !== summary.rowsRead) return;
    const record: CompleteRunRecord = {
      version: SIDECAR_VERSION,
      input: { ...inputBefore, sha256 },
      options: fingerprint.options,
      rows: summary.rowsRead,
      counts,
      results,
    };
    await writeFile(tmp, `${JSON.stringify(record, null, 2)}\n`);
    renameSync(tmp, path);
  } catch {
    try {
      rmSync(tmp, { force: true });
    } catch {
      // nothing more to do: no sidecar is the safe outcome
    }
  }
}
