/**
 * The run: stream the input, validate every row, send the valid ones through the
 * limiter, and record every row's outcome. This module only wires the pieces together:
 * prepare.ts (everything before sending), stopper.ts (how a run stops),
 * ordered-window.ts (backpressure and same-id order), recorder.ts (results file and
 * tally), skips.ts (resume), summary.ts; send/ holds the row sender, the retry policy
 * and the outage monitor.
 */
import {
  DEFAULT_BASE_URL,
  DEFAULT_CONCURRENCY,
  DEFAULT_RETRIES,
  DEFAULT_TIMEOUT_MS,
} from '../../defaults.js';
import { InputFileError, ResultsWriteError, RunAbortedError } from '../../errors.js';
import { outcomeError } from '../payload/to-payload.js';
import { recordCompleteRun, startFingerprint } from '../results/sidecar.js';
import type { ResultsWriter } from '../results/writer.js';
import { type ContactClient, contactPath, createContactClient } from '../send/client.js';
import { OutageMonitor } from '../send/outage.js';
import { RETRY_BASE_DELAY_MS } from '../send/retry-policy.js';
import { RowSender, type RowSenderOptions } from '../send/row-sender.js';
import {
  type JobState,
  learnedLimitPerSecond,
  type RunInfo,
  StateWriteError,
} from '../state/index.js';
import { OrderedWindow } from './ordered-window.js';
import { type CompletedRun, type PreparedRun, prepareRun } from './prepare.js';
import { RowRecorder } from './recorder.js';
import { RunBudget } from './run-limiter.js';
import { ResumeSkips } from './skips.js';
import { Stopper } from './stopper.js';
import { buildSummary, NO_REQUESTS, NO_ROWS, NO_SKIPS, plannedRate, runRate } from './summary.js';
import type { RequestCounts, RunEvents, RunSummary, StateOutcome, UpdateOptions } from './types.js';

export {
  OUTAGE_FIRST_PAUSE_MS,
  OUTAGE_GIVE_UP_MS,
  OUTAGE_MAX_PAUSE_MS,
  OUTAGE_THRESHOLD,
} from '../send/outage.js';
export {
  backoffMs,
  classify,
  RETRY_BASE_DELAY_MS,
  RETRY_MAX_DELAY_MS,
} from '../send/retry-policy.js';
export type {
  RunEvents,
  RunRate,
  RunSummary,
  StateOutcome,
  StopReason,
  UpdateOptions,
} from './types.js';

/**
 * Run the main job: stream `input`, validate every row, PUT the valid ones through the
 * rate limiter, and record every row's outcome in `out`. Returns the summary; throws
 * only for problems found before anything is sent (bad file, bad options) and for a
 * results file that stops accepting writes.
 */
export async function runUpdate(options: UpdateOptions): Promise<RunSummary> {
  const startedAt = Date.now();
  const events = options.events ?? {};
  const fingerprint = startFingerprint(options);
  const concurrency = options.concurrency ?? DEFAULT_CONCURRENCY;
  // --rate auto with a job state: start near the limit an earlier run of the job found.
  const learned =
    options.ratePerSecond === 'auto' &&
    options.state !== undefined &&
    options.knownLimitPerSecond === undefined
      ? learnedLimitPerSecond(options.state)
      : undefined;
  const budget = await RunBudget.open(
    learned === undefined ? options : { ...options, knownLimitPerSecond: learned },
    concurrency,
    events,
  );
  let prepared: Awaited<ReturnType<typeof prepareRun>>;
  try {
    prepared = await prepareRun(options, fingerprint);
  } catch (err) {
    await budget.close();
    throw err;
  }
  if (prepared.complete !== undefined) {
    prepared.lock.release();
    await budget.close();
    return alreadyComplete(prepared, options, startedAt);
  }
  const { source, writer, resume, state, lock } = prepared;
  let client: ContactClient | undefined;
  try {
    const { limiter } = budget;
    events.rateView?.(runRate(limiter.rateView));
    const sending = openSending(options, { budget, writer, events, concurrency });
    client = sending.client;
    const { stopper, recorder, sender } = sending;
    // After the results file is open (a resume's torn line cut), before any request.
    if (client !== undefined) state?.startRun(options.out);
    const skips = resume === undefined ? undefined : new ResumeSkips(resume);
    const window = new OrderedWindow(Math.max(64, concurrency * 4), (err) => recorder.fail(err));
    const read = await readRows(prepared, options, {
      events,
      stopper,
      recorder,
      sender,
      skips,
      window,
      state,
    });
    const requests = await sending.settle(window);
    // The batched `unchanged` lines go out before the state folds the file.
    try {
      writer.close();
    } catch (err) {
      recorder.fail(err);
    }
    const counts = { ...recorder.counts };
    const stateOutcome =
      state === undefined
        ? undefined
        : options.dryRun === true
          ? { dir: state.dir }
          : await commitState(state, {
              startedAt: new Date(startedAt),
              finishedAt: new Date(),
              rows: read.rowsRead,
              updated: counts.updated,
              unchanged: counts.unchanged,
              failed: counts.failed,
              other: Math.max(0, read.rowsRead - counts.updated - counts.unchanged - counts.failed),
              stopped:
                stopper.reason ??
                (recorder.fatal !== undefined ||
                read.error !== undefined ||
                budget.lost !== undefined
                  ? 'aborted'
                  : undefined),
              resume: options.resume === true,
              ...learnedRate(budget.limiter.rateView, learned),
            });
    if (recorder.fatal !== undefined) throw recorder.fatal;
    if (read.error !== undefined) throw stoppedMidway(read.error, requests.sent, options.out);
    const summary = buildSummary({
      input: prepared.inputName,
      resultsPath: options.out,
      dryRun: options.dryRun === true,
      rowsRead: read.rowsRead,
      counts,
      skipped: { ...(skips?.counts ?? NO_SKIPS) },
      requests,
      elapsedMs: Date.now() - startedAt,
      stopped: stopper.reason,
      readAll: read.readAll,
      topErrors: recorder.topErrors(),
      rate: runRate(limiter.rateView),
    });
    if (stateOutcome !== undefined) summary.state = stateOutcome;
    budget.throwIfCutShort(read.readAll, summary.unfinished, requests.sent, options.out);
    const skipped = skips?.counts;
    await recordCompleteRun(fingerprint, summary, {
      out: options.out,
      limit: options.limit,
      skipped,
    });
    return summary;
  } finally {
    source.close();
    try {
      writer.close();
    } catch {
      // Already reported above, or the run is failing for another reason.
    }
    await client?.close();
    await budget.close();
    state?.close();
    lock.release();
  }
}

/**
 * Record the run in the job state, whatever stopped it (the results file is the
 * journal: folding it is always right). A save that fails is reported in the summary
 * (the CLI exits 3), not thrown: the run's own outcome still stands.
 */
async function commitState(state: JobState, run: RunInfo): Promise<StateOutcome> {
  try {
    const result = await state.commit(run);
    return { dir: state.dir, ids: result.count, saveMs: result.foldMs + result.saveMs };
  } catch (err) {
    if (!(err instanceof StateWriteError)) throw err;
    return { dir: state.dir, error: err.message };
  }
}

/** The summary of a resume that found the run already complete (the sidecar's record). */
function alreadyComplete(run: CompletedRun, options: UpdateOptions, startedAt: number): RunSummary {
  const { rows, counts } = run.complete;
  const summary = buildSummary({
    input: run.inputName,
    resultsPath: options.out,
    dryRun: false,
    rowsRead: rows,
    counts: NO_ROWS,
    skipped: counts,
    requests: NO_REQUESTS,
    elapsedMs: Date.now() - startedAt,
    stopped: undefined,
    readAll: true,
    topErrors: [],
    rate: plannedRate(options),
  });
  const events = options.events;
  events?.start?.({
    input: run.inputName,
    resultsPath: options.out,
    alreadyDone: rows,
    dryRun: false,
  });
  events?.total?.(rows);
  return summary;
}

/** The row sender with the run's retry options and its own outage monitor. */
export function createRowSender(
  options: UpdateOptions,
  parts: Omit<RowSenderOptions, 'outage' | 'retries' | 'retryBaseDelayMs'>,
): RowSender {
  const retryBaseDelayMs = options.retryBaseDelayMs ?? RETRY_BASE_DELAY_MS;
  const outage = new OutageMonitor({
    hold: parts.limiter,
    retryBaseDelayMs,
    warn: (message) => parts.events.warn?.(message),
  });
  return new RowSender({
    ...parts,
    outage,
    retries: options.retries ?? DEFAULT_RETRIES,
    retryBaseDelayMs,
  });
}

/** What {@link readRows} works with. */
interface ReadContext {
  events: RunEvents;
  stopper: Stopper;
  recorder: RowRecorder;
  /** Undefined for a dry run. */
  sender: RowSender | undefined;
  skips: ResumeSkips | undefined;
  window: OrderedWindow;
  /** `--state`: rows it holds already are recorded `unchanged` instead of sent. */
  state: JobState | undefined;
}

/** How reading went. */
interface ReadOutcome {
  /** Data rows read (after `limit`). */
  rowsRead: number;
  /** The reader reached the end of the file (or of `limit`) without being stopped. */
  readAll: boolean;
  /** What stopped the reader midway, if anything did. */
  error: unknown;
}

/**
 * Read the rows one by one: skip those an earlier run finished, record the invalid and
 * dry-run ones at once, and put the others in the window to be sent. Returns once the
 * last row is in the window (or the run stopped); the rows in it may still be sending.
 */
async function readRows(
  prepared: PreparedRun,
  options: UpdateOptions,
  { events, stopper, recorder, sender, skips, window, state }: ReadContext,
): Promise<ReadOutcome> {
  const { source, validate } = prepared;
  const full = options.full === true;
  let rowsRead = 0;
  try {
    for await (const input of source.rows) {
      if (stopper.stopping) return { rowsRead, readAll: false, error: undefined };
      if (options.limit !== undefined && input.row > options.limit) break;
      rowsRead++;
      const row = input.row;
      const outcome = validate(input.cells);
      if (skips?.isDone(row, outcome.id, outcome.sha256) === true) {
        skips.skip(row);
        events.skipped?.(row);
        continue;
      }
      const { id, sha256 } = outcome;
      if (!outcome.ok) {
        recorder.record({
          row,
          id,
          status: 'invalid',
          attempts: 0,
          error: outcomeError(outcome),
          sha256,
          finishedAt: new Date(),
        });
        continue;
      }
      const { body } = outcome;
      if (state !== undefined) {
        // In file order, where rows are taken: an id sent earlier in this run (or by a
        // killed run since the last commit) is never `unchanged` (see isUnchanged).
        if (!full && state.isUnchanged(id, sha256)) {
          recorder.recordUnchanged({
            row,
            id,
            status: 'unchanged',
            attempts: 0,
            sha256,
            finishedAt: new Date(),
          });
          continue;
        }
        try {
          state.noteSending(id);
        } catch (err) {
          // Like a results line that cannot be written: this row is not sent.
          recorder.fail(err);
          return { rowsRead, readAll: false, error: undefined };
        }
      }
      if (sender === undefined) {
        events.dryRun?.({ row, id, method: 'PUT', path: contactPath(id), body });
        recorder.record({
          row,
          id,
          status: 'dry-run',
          attempts: 0,
          sha256,
          finishedAt: new Date(),
        });
        continue;
      }
      skips?.resend(id);
      window.add(id, async () => {
        const line = await sender.send(row, id, body, sha256);
        if (line !== undefined) recorder.record(line);
      });
      while (window.full && !stopper.stopping) await window.slotFreed();
    }
  } catch (err) {
    // The file broke midway (a read error, a file changed under the run) or an event
    // callback threw. Stop sending, but let the rows in flight finish and be recorded
    // before reporting it, so that the results file says what landed.
    stopper.stop(undefined);
    return { rowsRead, readAll: false, error: err };
  }
  return { rowsRead, readAll: true, error: undefined };
}

/**
 * The error to report for a reader that failed midway. Before any request went out it
 * is the input error itself (exit 2: nothing sent). After, the run was cut short with
 * some rows landed: exit 3, and the results file says which.
 */
export function stoppedMidway(err: unknown, sent: number, out: string): unknown {
  if (!(err instanceof InputFileError) || sent === 0) return err;
  return new RunAbortedError(
    `${err.message}; the run was stopped there after ${sent} request${sent === 1 ? '' : 's'} (every finished row is recorded in ${out})`,
    'E_INPUT_MIDRUN',
    { cause: err },
  );
}

export { ResultsWriteError, RunAbortedError };

/**
 * The limit to remember in the job state: one `--rate auto` measured in this run, not
 * the one it was seeded with (that keeps its first `foundAt`).
 */
function learnedRate(
  view: { mode: 'fixed' | 'auto'; limitFoundPerSecond: number | undefined },
  seeded: number | undefined,
): { rate?: { limitFoundPerSecond: number; foundAt: Date } } {
  const found = view.limitFoundPerSecond;
  if (view.mode !== 'auto' || found === undefined || found === seeded) return {};
  return { rate: { limitFoundPerSecond: Math.round(found * 10) / 10, foundAt: new Date() } };
}

/**
 * The sending half of a run, the same for update and import: the HTTP client (none for
 * a dry run), the stopper (its stop also stops the limiter, and a lost Redis stops it),
 * the recorder of results lines, and the row sender.
 */
export function openSending(
  options: UpdateOptions,
  context: { budget: RunBudget; writer: ResultsWriter; events: RunEvents; concurrency: number },
) {
  const { budget, writer, events, concurrency } = context;
  const { limiter } = budget;
  const client =
    options.dryRun === true
      ? undefined
      : createContactClient({
          baseUrl: options.baseUrl ?? DEFAULT_BASE_URL,
          apiKey: options.apiKey ?? '',
          timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
          connections: concurrency,
        });
  const stopper = new Stopper({
    signal: options.signal,
    forceSignal: options.forceSignal,
    onStop: () => void limiter.stop(),
  });
  budget.watch(stopper);
  const recorder = new RowRecorder(writer, { events, stopper, maxErrors: options.maxErrors });
  const sender = client && createRowSender(options, { client, limiter, stopper, events });
  /** Once reading is over: let the rows in flight finish, stop pacing; what was sent. */
  const settle = async (window: OrderedWindow): Promise<RequestCounts> => {
    await window.drain();
    stopper.dispose();
    await limiter.stop();
    return sender?.requests ?? NO_REQUESTS;
  };
  return { client, stopper, recorder, sender, settle };
}
