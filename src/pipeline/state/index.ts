/**
 * The job state (`--state DIR`): what the API last confirmed for each contact id of one
 * job (one base URL and key), so that a nightly run sends only what changed. Later also
 * the CRM key → Clerk Chat id map of `sync` and the rate `--rate auto` learned.
 *
 * Pure parts: entries.ts (binary entries, lookup, merge), manifest.ts (schema,
 * fingerprint). I/O: store.ts (load with checks, atomic save), fold.ts (results file →
 * outcomes), job-state.ts (open + lock, lookups, journal, commit; describe). The lock
 * itself is src/lock-file.ts.
 *
 * A run with `--state` (see JobState's JSDoc for the why of each step): `openState`
 * before reading the input; `startRun(out)` once the results file is open (and a
 * resume's torn line cut); per row, in file order, `isUnchanged(id, sha256)` →
 * `unchanged` line, else `noteSending(id)` then send; at the end, whatever stopped the
 * run, `commit(runInfo)`; always `close()`.
 */
export { type ConfirmedEntry, hashId64 } from './entries.js';
export { StateError, type StateUsageCode, StateWriteError } from './errors.js';
export { type FoldCounts, foldResultsFile } from './fold.js';
export {
  type CommitResult,
  describeState,
  JobState,
  learnedLimitPerSecond,
  type OpenStateOptions,
  openState,
  type RunInfo,
  SENDING_LOG,
  type StateDescription,
} from './job-state.js';
export { jobFingerprint, type Manifest, type RunRecord } from './manifest.js';
