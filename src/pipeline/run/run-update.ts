import { setMaxListeners } from 'node:events';
import { type Stats, statSync } from 'node:fs';
import pLimit from 'p-limit';
import { InputFileError, ResultsWriteError, RunAbortedError, UsageError } from '../../errors.js';
import { openRows } from '../input/open-rows.js';
import { AdaptiveLimiter, LimiterStoppedError, sleep } from '../limit/limiter.js';
import { planColumns } from '../payload/columns.js';
import type { Mapping } from '../payload/mapping.js';
import { contactPath, createRowValidator, outcomeError } from '../payload/to-payload.js';
import type { ResumePlan } from '../results/resume.js';
import { checkPairing, loadResumePlan } from '../results/resume.js';
import {
  completedRunSummary,
  countSkips,
  discardSidecar,
  recordCompleteRun,
  type SkippedCounts,
  startFingerprint,
} from '../results/sidecar.js';
import { type StatusCounts, Tally } from '../results/tally.js';
import type { ResultLine } from '../results/writer.js';
import { ResultsWriter, refuseNonRegularResults } from '../results/writer.js';
import type { ContactClient, SendResult } from '../send/client.js';
import { createContactClient } from '../send/client.js';

/** Backoff for retries: full jitter over `base * 2^(attempt-1)`, capped. */
export const RETRY_BASE_DELAY_MS = 500;
export const RETRY_MAX_DELAY_MS = 30_000;
/**
 * This many requests in a row across the run failing with a 5xx, a timeout or a
 * network error (no answer of any other kind in between) means an outage, not bad rows.
 */
export const OUTAGE_THRESHOLD = 10;
/**
 * Outage pauses: the first lasts this long, each next one twice as long, up to
 * {@link OUTAGE_MAX_PAUSE_MS}. Like every wait here, they scale with the retry base
 * (these figures are for the default 500 ms), so tests can shrink them.
 */
export const OUTAGE_FIRST_PAUSE_MS = 1_000;
export const OUTAGE_MAX_PAUSE_MS = 60_000;
/**
 * An outage that lasts this long is given up on: the run stops pausing and rows go
 * back to their own retries, then `failed`, so a server that never comes back cannot
 * keep a run alive for ever.
 */
export const OUTAGE_GIVE_UP_MS = 30 * 60_000;

export interface UpdateOptions {
  /** Input CSV path. */
  input: string;
  /** What to call the input in messages and the summary. @default input */
  inputName?: string;
  /** Results CSV path. */
  out: string;
  /** Continue from `out`, skipping rows already final there. */
  resume?: boolean;
  /** With `resume`: also re-send rows that ended `failed` or `invalid`. */
  retryFailed?: boolean;
  /** Replace an existing results file. */
  force?: boolean;
  /** Validate and report payloads; send nothing. */
  dryRun?: boolean;
  /** Required unless `dryRun`. Never printed or written anywhere. */
  apiKey?: string;
  /** @default 'https://web-api.clerk.chat' */
  baseUrl?: string;
  /** Requests per second at most; 0 for no limit. @default 10 */
  ratePerSecond?: number;
  /** Requests in flight at most. @default 5 */
  concurrency?: number;
  /** Retries for 429, 5xx, timeouts and network errors. @default 5 */
  retries?: number;
  /** Per-request deadline. @default 30000 */
  timeoutMs?: number;
  /** Column mapping (already parsed and checked). */
  mapping?: Mapping;
  /** What an empty cell means. @default 'omit' */
  empty?: 'omit' | 'null';
  /** Field delimiter; detected from the header when absent. */
  delimiter?: string;
  /** Process only the first N data rows. */
  limit?: number;
  /** Abort after this many failed rows. */
  maxErrors?: number;
  /**
   * Base of the exponential backoff. Outage pauses and the outage give-up time scale
   * with it too (tests use a few ms to keep every wait short). @default 500
   */
  retryBaseDelayMs?: number;
  /** Aborting it stops reading; requests already sent finish and are recorded. */
  signal?: AbortSignal;
  /** Aborting it also abandons requests in flight (their rows are re-sent on resume). */
  forceSignal?: AbortSignal;
  /** Progress and messages; every method optional. */
  events?: RunEvents;
}

export interface RunEvents {
  /** Once, before the first row: the results path and rows already done (resume). */
  start?(info: { input: string; resultsPath: string; alreadyDone: number; dryRun: boolean }): void;
  /** The fast line pre-count finished: about this many data rows in the file. */
  total?(estimatedRows: number): void;
  /** A row reached its final state in this run. */
  row?(line: ResultLine, counts: Readonly<StatusCounts>): void;
  /** A row was skipped because an earlier run finished it. */
  skipped?(row: number): void;
  /** A request will be retried. */
  retry?(info: { row: number; attempt: number; reason: string; delayMs: number }): void;
  /** The adaptive rate changed. */
  rate?(ratePerSecond: number, reason: 'throttled' | 'recovered'): void;
  /** Something the operator should know (rate lowered, outage pause...). */
  warn?(message: string): void;
  /** Dry run: the request that would be sent. */
  dryRun?(info: { row: number; id: string; path: string; body: string }): void;
}

export type StopReason = 'interrupted' | 'auth' | 'max-errors';

export interface RunSummary {
  input: string;
  resultsPath: string;
  dryRun: boolean;
  /** Data rows read in this run (after `limit`). */
  rowsRead: number;
  counts: StatusCounts & {
    /** Rows finished by an earlier run and skipped (resume). */
    alreadyDone: number;
    /** Of those, rows that ended `failed` or `invalid` there (resume with --retry-failed). */
    alreadyDoneNotUpdated: number;
  };
  requests: { sent: number; throttled: number; retried: number };
  elapsedMs: number;
  /** Rows finished per second of this run. */
  rowsPerSecond: number;
  stopped: StopReason | undefined;
  /** Rows read but left unfinished (stopped run): a resume sends them. */
  unfinished: number;
  topErrors: Array<{ error: string; count: number }>;
}

type Action = 'done' | 'auth' | 'failed' | 'throttled' | 'retry' | 'aborted';

/** What to do with one send result. Pure. */
export function classify(result: SendResult): Action {
  switch (result.kind) {
    case 'ok':
      return 'done';
    case 'aborted':
      return 'aborted';
    case 'timeout':
    case 'network-error':
      return 'retry';
    case 'http-error': {
      const s = result.status;
      if (s === 401 || s === 403) return 'auth';
      if (s === 429) return 'throttled';
      if (s === 408 || s >= 500) return 'retry';
      return 'failed';
    }
  }
}

/** Full-jitter exponential backoff (AWS architecture blog's "full jitter"). */
export function backoffMs(attempt: number, baseMs: number, random = Math.random): number {
  const ceiling = Math.min(RETRY_MAX_DELAY_MS, baseMs * 2 ** (attempt - 1));
  return Math.round(random() * ceiling);
}

/** `850 ms`, `12 s`, `3 min`: for messages about waits. */
function formatSeconds(ms: number): string {
  if (ms < 1_000) return `${Math.round(ms)} ms`;
  if (ms < 120_000) return `${Math.round(ms / 1_000)} s`;
  return `${Math.round(ms / 60_000)} min`;
}

function describe(result: SendResult): string {
  switch (result.kind) {
    case 'ok':
      return `${result.status}`;
    case 'http-error':
      return result.message;
    case 'network-error':
    case 'timeout':
      return result.message;
    case 'aborted':
      return 'aborted';
  }
}

/**
 * `--out` naming the input itself (or a hard link or symlink to it) would have the
 * results overwrite or append to the rows being read.
 */
function refuseSameFile(input: string, out: string): void {
  let a: Stats | undefined;
  let b: Stats | undefined;
  try {
    a = statSync(input);
    b = statSync(out);
  } catch {
    return; // one of them does not exist: not the same file (a missing input is reported later)
  }
  if (a.dev === b.dev && a.ino === b.ino) {
    throw new UsageError(
      `--out ${out} is the input file itself; the results need a file of their own (without --out they go to ${input}.results.csv)`,
      'E_OUT_IS_INPUT',
    );
  }
}

/**
 * The error to report for a reader that failed midway. Before any request went out it
 * is the input error itself (exit 2: nothing sent). After, the run was cut short with
 * some rows landed: exit 3, and the results file says which.
 */
function stoppedMidway(err: unknown, sent: number, out: string): unknown {
  if (!(err instanceof InputFileError) || sent === 0) return err;
  return new RunAbortedError(
    `${err.message}; the run was stopped there after ${sent} request${sent === 1 ? '' : 's'} (every finished row is recorded in ${out})`,
    'E_INPUT_MIDRUN',
    { cause: err },
  );
}

/**
 * Run the main job: stream `input`, validate every row, PUT the valid ones through the
 * rate limiter, and record every row's outcome in `out`. Returns the summary; throws
 * only for problems found before anything is sent (bad file, bad options) and for a
 * results file that stops accepting writes.
 */
export async function runUpdate(options: UpdateOptions): Promise<RunSummary> {
  const startedAt = Date.now();
  // First: resume and the sidecar read the results file, and a FIFO would block there.
  refuseNonRegularResults(options.out);
  // The <out>.complete.json sidecar (fingerprint.ts): resuming a finished run reads nothing.
  const fingerprint = startFingerprint(options);
  if (options.resume === true) {
    const complete = await completedRunSummary(options, fingerprint, startedAt);
    if (complete !== undefined) {
      const { input, resultsPath, rowsRead } = complete;
      options.events?.start?.({ input, resultsPath, alreadyDone: rowsRead, dryRun: false });
      options.events?.total?.(rowsRead);
      return complete;
    }
  }
  const dryRun = options.dryRun === true;
  const concurrency = options.concurrency ?? 5;
  const retries = options.retries ?? 5;
  const retryBaseMs = options.retryBaseDelayMs ?? RETRY_BASE_DELAY_MS;
  const events = options.events ?? {};
  const apiKey = options.apiKey ?? '';
  const redact = (text: string) => (apiKey.length >= 4 ? text.split(apiKey).join('***') : text);

  refuseSameFile(options.input, options.out);
  const inputName = options.inputName ?? options.input;
  const source = await openRows(options.input, {
    delimiter: options.delimiter,
    displayName: inputName,
    hash: fingerprint.inputHash,
  });
  let writer: ResultsWriter | undefined;
  let client: ContactClient | undefined;
  try {
    const plan = planColumns(source.header, {
      file: inputName,
      ...(options.mapping === undefined ? {} : { mapping: options.mapping }),
    });
    const validate = createRowValidator(plan, { empty: options.empty ?? 'omit' });

    let resume: (ResumePlan & { skipped: SkippedCounts }) | undefined;
    if (options.resume === true) {
      resume = countSkips(
        await loadResumePlan(options.out, { retryFailed: options.retryFailed === true }),
      );
      if (resume.linesRead > 0) {
        // The first openRows already checked the whole file: no second precheck pass.
        const again = await openRows(options.input, {
          delimiter: source.delimiter,
          displayName: inputName,
          precheck: false,
        });
        try {
          await checkPairing(resume, again.rows, plan.idIndex, {
            input: inputName,
            results: options.out,
          });
        } finally {
          again.close();
        }
      }
    }
    const openMode =
      options.resume === true ? 'append' : options.force === true ? 'overwrite' : 'create';
    discardSidecar(options.out, openMode);
    writer = ResultsWriter.open(options.out, openMode, { redact });
    const out = writer;
    events.start?.({
      input: inputName,
      resultsPath: options.out,
      alreadyDone: resume?.doneCount ?? 0,
      dryRun,
    });
    if (source.lineCount !== undefined) {
      const estimate = Math.max(0, source.lineCount - 1);
      events.total?.(options.limit === undefined ? estimate : Math.min(options.limit, estimate));
    }

    const tally = new Tally();
    const requests = { sent: 0, throttled: 0, retried: 0 };
    let stopped: StopReason | undefined;
    let fatal: unknown;
    /** What stopped the reader midway, if anything did. */
    let readError: unknown;
    let rowsRead = 0;
    let alreadyDone = 0;
    let alreadyDoneNotUpdated = 0;
    // Outage detection (see OUTAGE_THRESHOLD): run-wide, updated as each answer arrives.
    const waitScale = retryBaseMs / RETRY_BASE_DELAY_MS;
    let troubleStreak = 0;
    let outage: { startedAtMs: number; pauses: number; pauseEndsAtMs: number } | undefined;
    /** The last outage was given up on; no new one starts until the API answers again. */
    let outageGivenUp = false;

    const stopping = new AbortController();
    const hardAbort = new AbortController();
    // Every request in flight and every retry wait listens on these two for the run's
    // whole life; the listener count is bounded by the window, not a leak.
    setMaxListeners(0, stopping.signal, hardAbort.signal);
    const limiter = new AdaptiveLimiter({
      ratePerSecond: options.ratePerSecond ?? 10,
      concurrency,
      onRateChange: (rate, reason) => events.rate?.(rate, reason),
    });
    if (!dryRun) {
      client = createContactClient({
        baseUrl: options.baseUrl ?? 'https://web-api.clerk.chat',
        apiKey,
        timeoutMs: options.timeoutMs ?? 30_000,
        connections: concurrency,
      });
    }
    const http = client;

    const stop = (reason: StopReason | undefined, hard = false) => {
      if (reason !== undefined) stopped ??= reason;
      if (!stopping.signal.aborted) {
        stopping.abort();
        void limiter.stop();
      }
      if (hard) hardAbort.abort();
    };
    const onSignal = () => stop('interrupted');
    const onForce = () => stop('interrupted', true);
    options.signal?.addEventListener('abort', onSignal, { once: true });
    options.forceSignal?.addEventListener('abort', onForce, { once: true });
    if (options.signal?.aborted === true) onSignal();
    if (options.forceSignal?.aborted === true) onForce();

    const record = (line: ResultLine) => {
      if (fatal !== undefined) return;
      try {
        out.write(line);
      } catch (err) {
        // Nothing more may be sent once an outcome cannot be written down.
        fatal = err;
        stop(undefined, true);
        return;
      }
      tally.addLine(line);
      events.row?.(line, tally.counts);
      if (
        line.status === 'failed' &&
        options.maxErrors !== undefined &&
        tally.counts.failed >= options.maxErrors &&
        stopped === undefined
      ) {
        events.warn?.(
          `stopping: ${tally.counts.failed} rows failed (--max-errors ${options.maxErrors})`,
        );
        stop('max-errors');
      }
    };

    /** The API answered (anything but a 5xx): an outage, if any, is over. */
    const noteAnswer = () => {
      troubleStreak = 0;
      outageGivenUp = false;
      if (outage === undefined) return;
      const downMs = Date.now() - outage.startedAtMs;
      outage = undefined;
      limiter.endProbe();
      events.warn?.(`the API answers again after ${formatSeconds(downMs)}; going on`);
    };

    /** Hold the run for the next, longer outage pause, or give up waiting. */
    const nextOutagePause = (result: SendResult) => {
      if (outage === undefined) return;
      const now = Date.now();
      const downMs = now - outage.startedAtMs;
      if (downMs >= OUTAGE_GIVE_UP_MS * waitScale) {
        outage = undefined;
        outageGivenUp = true;
        limiter.endProbe();
        events.warn?.(
          `the API has failed every request for ${formatSeconds(downMs)} (${describe(result)}); ` +
            'no more waiting: rows now fail after their retries',
        );
        return;
      }
      outage.pauses++;
      const pauseMs = Math.round(
        Math.min(OUTAGE_MAX_PAUSE_MS, OUTAGE_FIRST_PAUSE_MS * 2 ** (outage.pauses - 1)) * waitScale,
      );
      outage.pauseEndsAtMs = now + pauseMs;
      limiter.probeAfter(outage.pauseEndsAtMs);
      events.warn?.(
        outage.pauses === 1
          ? `${OUTAGE_THRESHOLD} requests in a row failed (${describe(result)}); the API looks down: ` +
              `pausing ${formatSeconds(pauseMs)}, then trying one request`
          : `the API is still down (${describe(result)}); pausing ${formatSeconds(pauseMs)}`,
      );
    };

    /**
     * A 5xx, timeout or network error. Returns true when it is blamed on an outage
     * rather than on the row, so it does not count against the row's retries.
     */
    const noteTrouble = (result: SendResult, sentAtMs: number): boolean => {
      troubleStreak++;
      if (outage !== undefined) {
        // Requests sent before the current pause ended were already in flight when it
        // began; only the probe sent after it says the API is still down.
        if (sentAtMs >= outage.pauseEndsAtMs) nextOutagePause(result);
        return true;
      }
      if (outageGivenUp || troubleStreak < OUTAGE_THRESHOLD) return false;
      outage = { startedAtMs: Date.now(), pauses: 0, pauseEndsAtMs: 0 };
      nextOutagePause(result);
      return outage !== undefined;
    };

    /**
     * Run-wide reaction to one answer. Called inside the limiter's job, before its
     * in-flight slot is freed, so no queued request can start between a 429 (or a 401)
     * arriving and the run pausing (or stopping). Returns whether an outage is to blame.
     */
    const react = (result: SendResult, action: Action, sentAtMs: number): boolean => {
      switch (action) {
        case 'done':
          limiter.succeeded();
          noteAnswer();
          return false;
        case 'failed':
          noteAnswer();
          return false;
        case 'throttled':
          requests.throttled++;
          limiter.throttled(
            result.kind === 'http-error' ? result.retryAfterMs : undefined,
            sentAtMs,
          );
          noteAnswer();
          return false;
        case 'auth':
          if (stopped !== 'auth') {
            events.warn?.(
              `the API refused the key (${describe(result)}); stopping: every row would fail`,
            );
          }
          stop('auth');
          return false;
        case 'retry': {
          // A 503 may say when to come back; that holds for the whole run, like a 429's.
          const hint = result.kind === 'http-error' ? result.retryAfterMs : undefined;
          if (hint !== undefined && hint > 0) limiter.pauseUntil(Date.now() + hint);
          return noteTrouble(result, sentAtMs);
        }
        case 'aborted':
          return false;
      }
    };

    /** Send one row, retrying as the policy says. `undefined`: not final, re-send on resume. */
    const sendRow = async (row: number, id: string, body: string, sha256: string) => {
      if (http === undefined) return undefined;
      /** Requests sent for this row (the results' `attempts`). */
      let attempts = 0;
      /** Of those, the ones counted against --retries (an outage's are not). */
      let charged = 0;
      while (true) {
        if (stopping.signal.aborted) return undefined;
        let sent: { result: SendResult; action: Action; blamed: boolean } | undefined;
        try {
          sent = await limiter.schedule(async () => {
            if (stopping.signal.aborted) return undefined;
            requests.sent++;
            attempts++;
            const sentAtMs = Date.now();
            const result = await http.put(id, body, hardAbort.signal);
            const action = classify(result);
            return { result, action, blamed: react(result, action, sentAtMs) };
          });
        } catch (err) {
          if (err instanceof LimiterStoppedError) return undefined;
          throw err;
        }
        if (sent === undefined) return undefined;
        const { result, action, blamed } = sent;
        const status =
          result.kind === 'http-error' || result.kind === 'ok' ? result.status : undefined;
        const line = (s: 'updated' | 'failed', error?: string): ResultLine => ({
          row,
          id,
          status: s,
          httpStatus: status,
          attempts,
          error,
          sha256,
          finishedAt: new Date(),
        });
        switch (action) {
          case 'done':
            return line('updated');
          case 'aborted':
            return undefined;
          case 'auth':
            return line(
              'failed',
              `${describe(result)} (the API key was refused; the run was stopped)`,
            );
          case 'failed':
            return line('failed', describe(result));
          case 'throttled':
          case 'retry': {
            if (!blamed) charged++;
            if (charged > retries) {
              return line(
                'failed',
                `${describe(result)} (after ${attempts} attempt${attempts === 1 ? '' : 's'})`,
              );
            }
            // The server's hint already holds the whole run (limiter); waiting for it here
            // too keeps the row from queueing early.
            const hint = result.kind === 'http-error' ? result.retryAfterMs : undefined;
            const delayMs = Math.max(hint ?? 0, backoffMs(Math.max(1, charged), retryBaseMs));
            requests.retried++;
            events.retry?.({ row, attempt: attempts, reason: describe(result), delayMs });
            await sleep(delayMs, stopping.signal);
            break;
          }
        }
      }
    };

    // The bounded window: rows being sent, waiting for retry, or queued behind a row
    // with the same id. The reader is not asked for more while it is full, which is
    // the backpressure that keeps memory flat however large the file.
    const windowSize = Math.max(64, concurrency * 4);
    const window = pLimit(windowSize);
    let slotFreed: (() => void) | undefined;
    const tasks = new Set<Promise<void>>();
    // Rows with the same id run one after another, in file order: the last row wins.
    const lastById = new Map<string, Promise<void>>();

    /** The reader reached the end of the file (or of `--limit`) without being stopped. */
    let readAll = true;
    /**
     * Resume: ids of the rows sent again in this run. A later row with one of these ids
     * is sent again too, even if an earlier run finished it, so that rows with the same
     * id still land in file order and the last row in the file wins.
     */
    const resentIds = resume === undefined ? undefined : new Set<string>();
    try {
      for await (const input of source.rows) {
        if (stopping.signal.aborted) {
          readAll = false;
          break;
        }
        if (options.limit !== undefined && input.row > options.limit) break;
        rowsRead++;
        const outcome = validate(input.cells);
        if (
          // (isDone last: fingerprint.ts counts the rows it says are done as skipped.)
          resentIds?.has(outcome.id) !== true &&
          resume?.isDone(input.row, outcome.id, outcome.sha256) === true
        ) {
          alreadyDone++;
          if (!resume.wasUpdated(input.row)) alreadyDoneNotUpdated++;
          events.skipped?.(input.row);
          continue;
        }
        if (!outcome.ok) {
          record({
            row: input.row,
            id: outcome.id,
            status: 'invalid',
            attempts: 0,
            error: outcomeError(outcome),
            sha256: outcome.sha256,
            finishedAt: new Date(),
          });
          continue;
        }
        if (dryRun) {
          events.dryRun?.({
            row: input.row,
            id: outcome.id,
            path: contactPath(outcome.id),
            body: outcome.body,
          });
          record({
            row: input.row,
            id: outcome.id,
            status: 'dry-run',
            attempts: 0,
            sha256: outcome.sha256,
            finishedAt: new Date(),
          });
          continue;
        }
        const { id, body, sha256 } = outcome;
        const row = input.row;
        resentIds?.add(id);
        const previous = lastById.get(id);
        const task = window(async () => {
          if (previous !== undefined) await previous;
          const line = await sendRow(row, id, body, sha256);
          if (line !== undefined) record(line);
        }).catch((err: unknown) => {
          fatal ??= err;
          stop(undefined, true);
        });
        const done = task.finally(() => {
          tasks.delete(done);
          if (lastById.get(id) === done) lastById.delete(id);
          slotFreed?.();
        });
        tasks.add(done);
        lastById.set(id, done);
        // p-limit counts a task as pending until it starts, so active + pending is the
        // number of rows in the window right now.
        while (window.activeCount + window.pendingCount >= windowSize && !stopping.signal.aborted) {
          await new Promise<void>((resolve) => {
            slotFreed = resolve;
          });
          slotFreed = undefined;
        }
      }
    } catch (err) {
      // The file broke midway (a read error, a file changed under the run) or an event
      // callback threw. Stop sending, but let the rows in flight finish and be recorded
      // before reporting it, so that the results file says what landed.
      readError = err;
      readAll = false;
      stop(undefined);
    }
    await Promise.all(tasks);
    options.signal?.removeEventListener('abort', onSignal);
    options.forceSignal?.removeEventListener('abort', onForce);
    await limiter.stop();
    if (fatal !== undefined) throw fatal;
    if (readError !== undefined) throw stoppedMidway(readError, requests.sent, options.out);
    // A signal that came after the last row was read and every row finished anyway
    // interrupted nothing.
    const finished =
      tally.counts.updated + tally.counts.failed + tally.counts.invalid + tally.counts['dry-run'];
    if (stopped === 'interrupted' && readAll && rowsRead === finished + alreadyDone) {
      stopped = undefined;
    }

    const elapsedMs = Date.now() - startedAt;
    const summary: RunSummary = {
      input: inputName,
      resultsPath: options.out,
      dryRun,
      rowsRead,
      counts: { ...tally.counts, alreadyDone, alreadyDoneNotUpdated },
      requests,
      elapsedMs,
      rowsPerSecond: elapsedMs > 0 ? (finished / elapsedMs) * 1000 : 0,
      stopped,
      unfinished: Math.max(0, rowsRead - finished - alreadyDone),
      topErrors: tally.topErrors(),
    };
    await recordCompleteRun(fingerprint, summary, {
      out: options.out,
      limit: options.limit,
      skipped: resume?.skipped,
    });
    return summary;
  } finally {
    source.close();
    writer?.close();
    await client?.close();
  }
}

export { ResultsWriteError, RunAbortedError };
