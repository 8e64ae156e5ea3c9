import { setMaxListeners } from 'node:events';
import pLimit from 'p-limit';
import { ResultsWriteError, RunAbortedError } from '../errors.js';
import { planColumns } from './columns.js';
import { AdaptiveLimiter, LimiterStoppedError, sleep } from './limiter.js';
import type { Mapping } from './mapping.js';
import { countLines, openRows } from './read-rows.js';
import type { ResultLine } from './results.js';
import { ResultsWriter } from './results.js';
import type { ResumePlan } from './resume.js';
import { checkPairing, loadResumePlan } from './resume.js';
import type { ContactClient, SendResult } from './send.js';
import { createContactClient } from './send.js';
import { type StatusCounts, Tally } from './tally.js';
import { contactPath, createRowValidator } from './to-payload.js';

/** Backoff for retries: full jitter over `base * 2^(attempt-1)`, capped. */
export const RETRY_BASE_DELAY_MS = 500;
export const RETRY_MAX_DELAY_MS = 30_000;
/** This many server errors in a row across the run means an outage: pause everything. */
export const OUTAGE_THRESHOLD = 10;
export const OUTAGE_MAX_PAUSE_MS = 5 * 60_000;

export interface UpdateOptions {
  /** Input CSV path. */
  input: string;
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
  /** Base of the exponential backoff. @default 500 */
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
 * Run the main job: stream `input`, validate every row, PUT the valid ones through the
 * rate limiter, and record every row's outcome in `out`. Returns the summary; throws
 * only for problems found before anything is sent (bad file, bad options) and for a
 * results file that stops accepting writes.
 */
export async function runUpdate(options: UpdateOptions): Promise<RunSummary> {
  const startedAt = Date.now();
  const dryRun = options.dryRun === true;
  const concurrency = options.concurrency ?? 5;
  const retries = options.retries ?? 5;
  const retryBaseMs = options.retryBaseDelayMs ?? RETRY_BASE_DELAY_MS;
  const events = options.events ?? {};
  const apiKey = options.apiKey ?? '';
  const redact = (text: string) => (apiKey.length >= 4 ? text.split(apiKey).join('***') : text);

  const source = await openRows(options.input, { delimiter: options.delimiter });
  let writer: ResultsWriter | undefined;
  let client: ContactClient | undefined;
  try {
    const plan = planColumns(source.header, {
      file: options.input,
      ...(options.mapping === undefined ? {} : { mapping: options.mapping }),
    });
    const validate = createRowValidator(plan, { empty: options.empty ?? 'omit' });

    let resume: ResumePlan | undefined;
    if (options.resume === true) {
      resume = await loadResumePlan(options.out, { retryFailed: options.retryFailed === true });
      if (resume.linesRead > 0) {
        const again = await openRows(options.input, { delimiter: source.delimiter });
        try {
          await checkPairing(resume, again.rows, plan.idIndex, {
            input: options.input,
            results: options.out,
          });
        } finally {
          again.close();
        }
      }
    }
    writer = ResultsWriter.open(
      options.out,
      options.resume === true ? 'append' : options.force === true ? 'overwrite' : 'create',
      { redact },
    );
    const out = writer;
    events.start?.({
      input: options.input,
      resultsPath: options.out,
      alreadyDone: resume?.doneCount ?? 0,
      dryRun,
    });
    countLines(options.input).then(
      (lines) => {
        const estimate = Math.max(0, lines - 1);
        events.total?.(options.limit === undefined ? estimate : Math.min(options.limit, estimate));
      },
      () => {},
    );

    const tally = new Tally();
    const requests = { sent: 0, throttled: 0, retried: 0 };
    let stopped: StopReason | undefined;
    let fatal: unknown;
    let rowsRead = 0;
    let alreadyDone = 0;
    let alreadyDoneNotUpdated = 0;
    let consecutiveServerErrors = 0;
    let outagePauses = 0;

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

    /** Send one row, retrying as the policy says. `undefined`: not final, re-send on resume. */
    const sendRow = async (row: number, id: string, body: string, sha256: string) => {
      if (http === undefined) return undefined;
      let attempt = 0;
      while (true) {
        if (stopping.signal.aborted) return undefined;
        attempt++;
        let result: SendResult;
        try {
          result = await limiter.schedule(() => {
            requests.sent++;
            return http.put(id, body, hardAbort.signal);
          });
        } catch (err) {
          if (err instanceof LimiterStoppedError) return undefined;
          throw err;
        }
        const action = classify(result);
        const status =
          result.kind === 'http-error' || result.kind === 'ok' ? result.status : undefined;
        const line = (s: 'updated' | 'failed', error?: string): ResultLine => ({
          row,
          id,
          status: s,
          httpStatus: status,
          attempts: attempt,
          error,
          sha256,
          finishedAt: new Date(),
        });
        if (action !== 'retry') consecutiveServerErrors = 0;
        switch (action) {
          case 'done':
            limiter.succeeded();
            return line('updated');
          case 'aborted':
            return undefined;
          case 'auth':
            if (stopped !== 'auth') {
              events.warn?.(
                `the API refused the key (${describe(result)}); stopping: every row would fail`,
              );
            }
            stop('auth');
            return line(
              'failed',
              `${describe(result)} (the API key was refused; the run was stopped)`,
            );
          case 'failed':
            return line('failed', describe(result));
          case 'throttled':
          case 'retry': {
            let delayMs: number;
            if (action === 'throttled') {
              requests.throttled++;
              const hint = result.kind === 'http-error' ? result.retryAfterMs : undefined;
              limiter.throttled(hint);
              delayMs = Math.max(hint ?? 0, backoffMs(attempt, retryBaseMs));
            } else {
              consecutiveServerErrors++;
              delayMs = backoffMs(attempt, retryBaseMs);
              if (consecutiveServerErrors >= OUTAGE_THRESHOLD) {
                // Looks like an outage, not a bad row: hold the whole run with growing
                // waits instead of burning every row's retries into `failed`.
                consecutiveServerErrors = 0;
                outagePauses++;
                const pauseMs = Math.min(OUTAGE_MAX_PAUSE_MS, 1_000 * 2 ** outagePauses);
                limiter.pauseUntil(Date.now() + pauseMs);
                events.warn?.(
                  `${OUTAGE_THRESHOLD} server errors in a row (${describe(result)}); pausing ${Math.round(pauseMs / 1000)} s`,
                );
                attempt--; // the outage, not the row, is to blame
              }
            }
            if (attempt > retries)
              return line('failed', `${describe(result)} (after ${attempt} attempts)`);
            requests.retried++;
            events.retry?.({ row, attempt, reason: describe(result), delayMs });
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

    for await (const input of source.rows) {
      if (stopping.signal.aborted) break;
      if (options.limit !== undefined && input.row > options.limit) break;
      rowsRead++;
      const outcome = validate(input.cells);
      if (resume?.isDone(input.row, outcome.id, outcome.sha256) === true) {
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
          error:
            outcome.column === undefined
              ? outcome.message
              : `${outcome.column}: ${outcome.message}`,
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
    await Promise.all(tasks);
    options.signal?.removeEventListener('abort', onSignal);
    options.forceSignal?.removeEventListener('abort', onForce);
    await limiter.stop();
    if (fatal !== undefined) throw fatal;

    const elapsedMs = Date.now() - startedAt;
    const finished =
      tally.counts.updated + tally.counts.failed + tally.counts.invalid + tally.counts['dry-run'];
    return {
      input: options.input,
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
  } finally {
    source.close();
    writer?.close();
    await client?.close();
  }
}

export { ResultsWriteError, RunAbortedError };
