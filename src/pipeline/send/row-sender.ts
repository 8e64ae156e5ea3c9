/**
 * Send one row, retrying as the retry policy says, through the limiter. Reacts run-wide
 * to every answer (slows down on a 429, stops on a refused key, notes an outage) before
 * the limiter frees the request's slot.
 */

import { DEFAULT_RETRIES } from '../../defaults.js';
import type { AdaptiveLimiter } from '../limit/limiter.js';
import { LimiterStoppedError, sleep } from '../limit/limiter.js';
import type { ResultLine } from '../results/writer.js';
import type { Stopper } from '../run/stopper.js';
import type { RequestCounts, RunEvents } from '../run/types.js';
import type { ContactClient, SendResult } from './client.js';
import type { OutageMonitor } from './outage.js';
import {
  type Action,
  classify,
  describe,
  LongWaitNotice,
  RETRY_BASE_DELAY_MS,
  retryAfterHintMs,
  retryDelayMs,
} from './retry-policy.js';

export interface RowSenderOptions {
  client: ContactClient;
  limiter: AdaptiveLimiter;
  outage: OutageMonitor;
  stopper: Stopper;
  events: RunEvents;
  /** Retries for 429, 5xx, timeouts and network errors (an outage's are free). @default 5 */
  retries?: number;
  /** Base of the exponential backoff. @default 500 */
  retryBaseDelayMs?: number;
}

/** One request's answer, what it means, and whether an outage is to blame. */
export interface Sent {
  result: SendResult;
  action: Action;
  /** An outage is to blame, not the row: not charged to its retries. */
  blamed: boolean;
}

export class RowSender {
  /** Requests of the run so far. */
  readonly requests: RequestCounts = { sent: 0, throttled: 0, retried: 0 };
  readonly #longWait = new LongWaitNotice();
  readonly #client: ContactClient;
  readonly #limiter: AdaptiveLimiter;
  readonly #outage: OutageMonitor;
  readonly #stopper: Stopper;
  readonly #events: RunEvents;
  readonly #retries: number;
  readonly #retryBaseMs: number;

  constructor(options: RowSenderOptions) {
    this.#client = options.client;
    this.#limiter = options.limiter;
    this.#outage = options.outage;
    this.#stopper = options.stopper;
    this.#events = options.events;
    this.#retries = options.retries ?? DEFAULT_RETRIES;
    this.#retryBaseMs = options.retryBaseDelayMs ?? RETRY_BASE_DELAY_MS;
  }

  /** Send one row. `undefined`: not final (stopped, abandoned), re-sent on resume. */
  async send(
    row: number,
    id: string,
    body: string,
    sha256: string,
  ): Promise<ResultLine | undefined> {
    const stopping = this.#stopper.signal;
    /** Requests sent for this row (the results' `attempts`). */
    let attempts = 0;
    /** Of those, the ones counted against --retries (an outage's are not). */
    let charged = 0;
    while (true) {
      if (stopping.aborted) return undefined;
      const sent = await this.attempt((client, signal) => {
        attempts++;
        return client.put(id, body, signal);
      });
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
          if (charged > this.#retries) {
            return line(
              'failed',
              `${describe(result)} (after ${attempts} attempt${attempts === 1 ? '' : 's'})`,
            );
          }
          const delayMs = retryDelayMs(result, charged, this.#retryBaseMs);
          this.requests.retried++;
          this.#events.retry?.({ row, attempt: attempts, reason: describe(result), delayMs });
          await sleep(delayMs, stopping);
          break;
        }
      }
    }
  }

  /**
   * One request through the limiter, and the run's reaction to its answer (the same for
   * a PUT, a create and a batch create: each is one request against the rate). `request`
   * runs inside the limiter's job, after the stop check; it gets the client and the hard
   * abort signal. `undefined`: the run stopped before the request went out.
   */
  async attempt(
    request: (client: ContactClient, signal: AbortSignal) => Promise<SendResult>,
  ): Promise<Sent | undefined> {
    const stopping = this.#stopper.signal;
    try {
      return await this.#limiter.schedule(async () => {
        if (stopping.aborted) return undefined;
        this.requests.sent++;
        const sentAtMs = Date.now();
        // Latency for `--rate auto`'s brake: from just before the request to its result,
        // on the monotonic clock (Date.now() may step).
        const startedAtMs = performance.now();
        const result = await request(this.#client, this.#stopper.hardSignal);
        const latencyMs = performance.now() - startedAtMs;
        const action = classify(result);
        return { result, action, blamed: this.#react(result, action, sentAtMs, latencyMs) };
      });
    } catch (err) {
      if (err instanceof LimiterStoppedError) return undefined;
      throw err;
    }
  }

  /** Count a retry and tell the events (a sender that retries on its own, e.g. a batch). */
  noteRetry(info: { row: number; attempt: number; reason: string; delayMs: number }): void {
    this.requests.retried++;
    this.#events.retry?.(info);
  }

  #sayLongWait(hintMs: number | undefined, cause: string): void {
    const line = this.#longWait.notice(hintMs, Date.now(), cause);
    if (line !== undefined) this.#events.warn?.(line);
  }

  /**
   * Run-wide reaction to one answer. Called inside the limiter's job, before its
   * in-flight slot is freed, so no queued request can start between a 429 (or a 401)
   * arriving and the run pausing (or stopping). Returns whether an outage is to blame.
   */
  #react(result: SendResult, action: Action, sentAtMs: number, latencyMs: number): boolean {
    switch (action) {
      case 'done':
        this.#limiter.succeeded(latencyMs);
        this.#outage.answered();
        return false;
      case 'failed':
        this.#outage.answered();
        return false;
      case 'throttled':
        this.requests.throttled++;
        this.#sayLongWait(retryAfterHintMs(result), '429');
        this.#limiter.throttled(retryAfterHintMs(result), sentAtMs);
        this.#outage.answered();
        return false;
      case 'auth':
        if (this.#stopper.reason !== 'auth') {
          this.#events.warn?.(
            `the API refused the key (${describe(result)}); stopping: every row would fail`,
          );
        }
        this.#stopper.stop('auth');
        return false;
      case 'retry': {
        // A 503 may say when to come back; that holds for the whole run, like a 429's.
        const hint = retryAfterHintMs(result);
        if (hint !== undefined && hint > 0) {
          this.#sayLongWait(hint, describe(result));
          this.#limiter.pauseUntil(Date.now() + hint);
        }
        return this.#outage.trouble(result, sentAtMs);
      }
      case 'aborted':
        return false;
    }
  }
}
