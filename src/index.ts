/**
 * clerk-bulk as a library: the same pipeline as the CLI, driven from code.
 *
 * ```ts
 * import { updateContacts } from 'clerk-bulk';
 * const summary = await updateContacts({ input: 'contacts.csv', out: 'contacts.results.csv', apiKey });
 * ```
 */
import { type RunSummary, runUpdate, type UpdateOptions } from './pipeline/run/run-update.js';

export {
  ClerkBulkError,
  EXIT,
  InputFileError,
  ResultsWriteError,
  RunAbortedError,
  UsageError,
} from './errors.js';
export { LockedError } from './lock-file.js';
export type { MockServer, MockServerOptions } from './mock-server/index.js';
export { startMockServer } from './mock-server/index.js';
export type { DataType, Mapping } from './pipeline/payload/mapping.js';
export { parseMapping } from './pipeline/payload/mapping.js';
export type { ResultLine, RowStatus } from './pipeline/results/writer.js';
export { RESULTS_COLUMNS } from './pipeline/results/writer.js';
export type {
  RunEvents,
  RunSummary,
  StateOutcome,
  StopReason,
  UpdateOptions,
} from './pipeline/run/run-update.js';
export { describeState, StateError, StateWriteError } from './pipeline/state/index.js';

/**
 * Update contacts from a CSV file. Resolves with the run's summary, also when rows
 * failed or the run was stopped (see `summary.stopped`); rejects for problems found
 * before anything is sent (bad file, bad options, results file exists or in use by
 * another run, a `state` directory of another job or damaged) and when the results file
 * stops accepting writes. With `state`, unchanged rows are not sent; a state that could
 * not be saved is in `summary.state.error` (the CLI exits 3).
 */
export async function updateContacts(options: UpdateOptions): Promise<RunSummary> {
  if (options.dryRun !== true && (options.apiKey === undefined || options.apiKey === '')) {
    throw new TypeError(
      'updateContacts: expected `apiKey` (a non-empty string) unless `dryRun` is set',
    );
  }
  return runUpdate(options);
}
