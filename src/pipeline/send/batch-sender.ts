/**
 * Create a batch of contacts: one `POST /public/contacts/batch` through the row
 * sender's limiter and reactions (a batch is one request against the rate), retried
 * only when the answer proves nothing was created (create-policy.ts). A batch the API
 * refuses (400/422: one bad contact refuses them all) is split: each of its rows is
 * sent alone to `POST /public/contacts`, so the bad ones are found and the others
 * still created. Every row gets its own line.
 */
import { DEFAULT_RETRIES } from '../../defaults.js';
import { sleep } from '../limit/limiter.js';
import type { ResultLine, RowStatus } from '../results/writer.js';
import type { Stopper } from '../run/stopper.js';
import type { SendResult } from './client.js';
import { createdIds, nothingCreated } from './create-policy.js';
import { describe, RETRY_BASE_DELAY_MS, retryDelayMs } from './retry-policy.js';
import type { RowSender } from './row-sender.js';

/** One valid row to create. */
export interface CreateRow {
  row: number;
  /** The `--key` cell ('' without `--key`). */
  key: string;
  /** The contact's JSON (one element of the batch's `contacts`). */
  body: string;
  sha256: string;
}

export interface BatchSenderOptions {
  sender: RowSender;
  stopper: Stopper;
  /**
   * Write the intent lines (`sending`) of these rows, with one write: called inside the
   * limiter's job right before their first request goes out. Throws when the results
   * file refuses the write, and then nothing is sent.
   */
  intent: (lines: ResultLine[]) => void;
  /** Retries for answers that prove nothing was created (429, ...). @default 5 */
  retries?: number;
  /** Base of the exponential backoff. @default 500 */
  retryBaseDelayMs?: number;
}

/** Why a row is `uncertain`: the end of every such line's error. */
export const UNCERTAIN_NOTE =
  'it may have been created: not re-sent (check Clerk Chat, or resume with --resend-uncertain)';

export class BatchSender {
  readonly #sender: RowSender;
  readonly #stopper: Stopper;
  readonly #intent: (lines: ResultLine[]) => void;
  readonly #retries: number;
  readonly #retryBaseMs: number;

  constructor(options: BatchSenderOptions) {
    this.#sender = options.sender;
    this.#stopper = options.stopper;
    this.#intent = options.intent;
    this.#retries = options.retries ?? DEFAULT_RETRIES;
    this.#retryBaseMs = options.retryBaseDelayMs ?? RETRY_BASE_DELAY_MS;
  }

  /**
   * Create `rows` (one batch). Returns one final line per row; none when the run
   * stopped before anything was sent (the rows are sent on resume).
   */
  async send(rows: readonly CreateRow[]): Promise<ResultLine[]> {
    const route = rows.length === 1 ? 'create' : 'batch';
    const body =
      route === 'create'
        ? (rows[0] as CreateRow).body
        : `{"contacts":[${rows.map((r) => r.body).join(',')}]}`;
    const outcome = await this.#create(rows, route, body, true);
    if (outcome.kind !== 'split') return outcome.lines;
    // One bad contact refused the batch, and so nothing was created: each row alone.
    const lines = await Promise.all(
      rows.map(async (row) => {
        const single = await this.#create([row], 'create', row.body, false);
        const done = single.kind === 'split' ? [] : single.lines;
        // Attempts spent on the batch count for each of its rows.
        for (const line of done) line.attempts += outcome.attempts;
        return done;
      }),
    );
    return lines.flat();
  }

  /** One create request, retried while that is safe; `split` for a refused batch. */
  async #create(
    rows: readonly CreateRow[],
    route: 'create' | 'batch',
    body: string,
    writeIntent: boolean,
  ): Promise<{ kind: 'lines'; lines: ResultLine[] } | { kind: 'split'; attempts: number }> {
    let attempts = 0;
    let charged = 0;
    let intentWritten = !writeIntent;
    const lines = (
      status: RowStatus,
      result: SendResult | undefined,
      error?: string,
      ids?: string[],
    ) =>
      rows.map((row, i) => ({
        row: row.row,
        key: row.key,
        id: ids?.[i] ?? '',
        status,
        httpStatus:
          result?.kind === 'ok' || result?.kind === 'http-error' ? result.status : undefined,
        attempts,
        error,
        sha256: row.sha256,
        finishedAt: new Date(),
      }));
    while (true) {
      const sent = await this.#sender.attempt((client, signal) => {
        if (!intentWritten) {
          this.#intent(lines('sending', undefined));
          intentWritten = true;
        }
        attempts++;
        return client.post(route, body, signal);
      });
      if (sent === undefined) {
        // Stopped before this request went out. Every earlier attempt proved that
        // nothing was created (or there was none): the rows are simply not done.
        // A row of a refused batch already has its intent line: say it was not created.
        if (attempts === 0 && writeIntent) return { kind: 'lines', lines: [] };
        return { kind: 'lines', lines: lines('failed', undefined, STOPPED_BEFORE_RETRY) };
      }
      const { result, action, blamed } = sent;
      switch (action) {
        case 'done': {
          const read = createdIds(result.kind === 'ok' ? result.body : undefined, rows.length);
          if (read.ok)
            return { kind: 'lines', lines: lines('created', result, undefined, read.ids) };
          return {
            kind: 'lines',
            lines: lines('uncertain', result, `created, but ${read.message}; ${UNCERTAIN_NOTE}`),
          };
        }
        case 'aborted':
          return {
            kind: 'lines',
            lines: lines('uncertain', result, `abandoned in flight; ${UNCERTAIN_NOTE}`),
          };
        case 'auth':
          return {
            kind: 'lines',
            lines: lines(
              'failed',
              result,
              `${describe(result)} (the API key was refused; the run was stopped)`,
            ),
          };
        case 'failed': {
          const status = result.kind === 'http-error' ? result.status : 0;
          if (rows.length > 1 && (status === 400 || status === 422)) {
            return { kind: 'split', attempts };
          }
          return { kind: 'lines', lines: lines('failed', result, describe(result)) };
        }
        case 'throttled':
        case 'retry': {
          if (!nothingCreated(result)) {
            return {
              kind: 'lines',
              lines: lines('uncertain', result, `${describe(result)}; ${UNCERTAIN_NOTE}`),
            };
          }
          if (!blamed) charged++;
          if (charged > this.#retries) {
            const tries = `${attempts} attempt${attempts === 1 ? '' : 's'}`;
            return {
              kind: 'lines',
              lines: lines('failed', result, `${describe(result)} (after ${tries})`),
            };
          }
          const delayMs = retryDelayMs(result, charged, this.#retryBaseMs);
          this.#sender.noteRetry({
            row: (rows[0] as CreateRow).row,
            attempt: attempts,
            reason: describe(result),
            delayMs,
          });
          await sleep(delayMs, this.#stopper.signal);
          break;
        }
      }
    }
  }
}

/** A create that was refused safely (429...) and then not sent again: nothing was created. */
const STOPPED_BEFORE_RETRY =
  'the run stopped before it was sent again (nothing was created); resume with --retry-failed';
