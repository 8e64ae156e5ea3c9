/**
 * The manifest (`manifest.json`), pure: schema, job fingerprint, run history. It vouches
 * for one entries file by name, size and sha256, so a truncated, swapped or edited
 * entries file is found at load, and it carries its own sha256 so an edited manifest is
 * found too.
 *
 * Room to grow without a new format version: the schema keeps unknown top-level fields
 * and a save carries them over (issue 13's learned rate, issue 14's key → id file named
 * and vouched for like the entries file). A change an older reader would get wrong
 * bumps `version`; an older clerk-bulk then refuses the state (E_STATE_VERSION) instead
 * of dropping what it does not know.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { ENTRY_BYTES } from './entries.js';

export const MANIFEST_FORMAT = 'clerk-bulk-state';
export const MANIFEST_VERSION = 1;
/** Runs kept in the manifest's history (newest last). */
export const HISTORY_RUNS = 20;

/** Hex characters of the job fingerprint kept (128 bits). */
const FINGERPRINT_HEX = 32;

/**
 * The job's fingerprint: who the state belongs to, without the key. sha256 of a
 * domain tag, the base URL (without trailing slashes) and the key, truncated to 128
 * bits. It cannot be turned back into the key; it only tells whether two runs use the
 * same API and key.
 */
export function jobFingerprint(baseUrl: string, apiKey: string): string {
  return createHash('sha256')
    .update(`clerk-bulk-state-v1\0${baseUrl.replace(/\/+$/, '')}\0${apiKey}`)
    .digest('hex')
    .slice(0, FINGERPRINT_HEX);
}

const count = z.number().int().nonnegative();
const isoTime = z.string().refine((s) => !Number.isNaN(Date.parse(s)), 'an ISO date');

/** One run that committed into the state. */
export const runRecordSchema = z.object({
  startedAt: isoTime,
  finishedAt: isoTime,
  /** Input rows the run read. */
  rows: count,
  updated: count,
  unchanged: count,
  failed: count,
  /** Rows the run never sent (invalid, or left when it stopped). */
  other: count.optional(),
  /** Why the run stopped early (`interrupted`, `aborted`...), absent when it finished. */
  stopped: z.string().optional(),
  /** Whether the run was a `--resume`. */
  resume: z.boolean().optional(),
});
export type RunRecord = z.infer<typeof runRecordSchema>;

export const manifestSchema = z.looseObject({
  format: z.literal(MANIFEST_FORMAT),
  version: z.number().int().positive(),
  fingerprint: z.string().regex(/^[0-9a-f]{32}$/),
  updatedAt: isoTime,
  entries: z.object({
    /** File name inside the state directory (no path). */
    file: z.string().regex(/^entries-[0-9a-f]{16}\.bin$/),
    count,
    entryBytes: z.literal(ENTRY_BYTES),
    bytes: count,
    sha256: z.string().regex(/^[0-9a-f]{64}$/),
  }),
  runs: z.array(runRecordSchema),
  /**
   * The API's limit a `--rate auto` run measured (the next `--rate auto` run of the job
   * starts near it instead of from 10/s). Optional: older states and fixed-rate jobs
   * have none.
   */
  rate: z
    .object({ limitFoundPerSecond: z.number().positive().finite(), foundAt: isoTime })
    .optional(),
  /** sha256 of the manifest's JSON without this field: an edited manifest is refused. */
  manifestSha256: z.string().regex(/^[0-9a-f]{64}$/),
});
export type Manifest = z.infer<typeof manifestSchema>;

/** The manifest's own checksum: sha256 of its JSON with `manifestSha256` left out. */
export function manifestChecksum(manifest: Omit<Manifest, 'manifestSha256'>): string {
  const { manifestSha256: _, ...rest } = manifest as Manifest;
  return createHash('sha256').update(JSON.stringify(rest)).digest('hex');
}

/** The manifest's file text, with its checksum filled in. */
export function formatManifest(manifest: Omit<Manifest, 'manifestSha256'>): string {
  const { manifestSha256: _, ...rest } = manifest as Manifest;
  const full = { ...rest, manifestSha256: manifestChecksum(rest) };
  return `${JSON.stringify(full, null, 2)}\n`;
}

/** Add a run to the history, keeping the newest {@link HISTORY_RUNS}. */
export function withRun(runs: readonly RunRecord[], run: RunRecord): RunRecord[] {
  return [...runs, run].slice(-HISTORY_RUNS);
}
