/**
 * The import run: stream the input, validate every row, gather the valid ones into
 * batches and create them through the limiter (one request per batch), recording every
 * row's outcome. The same pieces as an update (prepare, limiter, stopper, recorder,
 * ordered window, summary, row sender and its outage monitor); what differs is that a
 * create is not idempotent: each batch's intent is written before it goes out, and a
 * row that may have been created is never sent again on its own (`uncertain`).
 */
import {
  DEFAULT_BASE_URL,
  DEFAULT_BATCH_SIZE,
  DEFAULT_CONCURRENCY,
  DEFAULT_RETRIES,
} from '../../defaults.js';
import { outcomeError, updateBodyFor } from '../payload/to-payload.js';
import type { SkippedCounts } from '../results/sidecar.js';
import { startFingerprint } from '../results/sidecar.js';
import type { ResultLine } from '../results/writer.js';
import { BatchSender, type CreateRow, UNCERTAIN_NOTE } from '../send/batch-sender.js';
import { type ContactClient, contactPath } from '../send/client.js';
import type { RowSender } from '../send/row-sender.js';
import { KeyTable } from '../state/key-table.js';
import { jobFingerprint } from '../state/manifest.js';
import { OrderedWindow } from './ordered-window.js';
import { type PreparedRun, prepareRun } from './prepare.js';
import type { RowRecorder } from './recorder.js';
import { RunBudget } from './run-limiter.js';
import { openSending, stoppedMidway } from './run-update.js';
import type { Stopper } from './stopper.js';
import { buildSummary, runRate } from './summary.js';
import type { ImportOptions, RunEvents, RunSummary } from './types.js';

export { DEFAULT_BATCH_SIZE };

/** The path shown for a dry run's rows. */
const BATCH_PATH = '/public/contacts/batch';

/** Run an import (see the module comment). Throws only before anything is sent. */
export async function runImport(options: ImportOptions): Promise<RunSummary> {
  const startedAt = Date.now();
  const events = options.events ?? {};
  const concurrency = options.concurrency ?? DEFAULT_CONCURRENCY;
  // As in an update (run-update.ts): the shared budget (--redis) is opened before the
  // results file, and a Redis that stays away stops the run with the resume command.
  const budget = await RunBudget.open(options, concurrency, events);
  let prepared: Awaited<ReturnType<typeof prepareRun>>;
  try {
    prepared = await prepareRun(options, startFingerprint(options));
  } catch (err) {
    await budget.close();
    throw err;
  }
  if (prepared.complete !== undefined) {
    prepared.lock.release();
    await budget.close();
    throw new Error('an import has no complete-run record');
  }
  const { source, writer, lock } = prepared;
  const { limiter } = budget;
  let client: ContactClient | undefined;
  let keys: KeyTable | undefined;
  try {
    if (options.stateDir !== undefined) {
      const fingerprint = jobFingerprint(options.baseUrl ?? DEFAULT_BASE_URL, options.apiKey ?? '');
      // A dry run reads the table, so that it shows what the run would do: PUTs for
      // known keys, nothing for unchanged ones, creates for the rest.
      keys =
        options.dryRun === true
          ? KeyTable.openReadOnly(options.stateDir, fingerprint)
          : KeyTable.open(options.stateDir, fingerprint);
    }
    events.rateView?.(runRate(limiter.rateView));
    const sending = openSending(options, { budget, writer, events, concurrency });
    client = sending.client;
    const { stopper, recorder, sender } = sending;
    const batches =
      sender &&
      new BatchSender({
        sender,
        stopper,
        // One write for the whole batch, before it goes out (and one to the key table);
        // a refused write throws there and the batch is not sent.
        intent: (lines) => {
          writer.writeAll(lines);
          keys?.noteSending(lines.map((line) => line.key ?? ''));
        },
        retries: options.retries ?? DEFAULT_RETRIES,
        ...(options.retryBaseDelayMs === undefined
          ? {}
          : { retryBaseDelayMs: options.retryBaseDelayMs }),
      });
    // Batches in the window: enough to keep every connection busy while the next fills.
    const window = new OrderedWindow(Math.max(2, concurrency * 2), (err) => recorder.fail(err));
    const skipped: Required<SkippedCounts> = {
      updated: 0,
      failed: 0,
      invalid: 0,
      created: 0,
      uncertain: 0,
    };
    const read = await readRows(prepared, options, {
      events,
      stopper,
      recorder,
      batches,
      window,
      skipped,
      sender,
      keys,
    });
    const requests = await sending.settle(window);
    if (recorder.fatal !== undefined) throw recorder.fatal;
    if (read.error !== undefined) throw stoppedMidway(read.error, requests.sent, options.out);
    const summary = buildSummary({
      input: prepared.inputName,
      resultsPath: options.out,
      dryRun: options.dryRun === true,
      rowsRead: read.rowsRead,
      counts: { ...recorder.counts },
      skipped,
      requests,
      elapsedMs: Date.now() - startedAt,
      stopped: stopper.reason,
      readAll: read.readAll,
      topErrors: recorder.topErrors(),
      rate: runRate(limiter.rateView),
    });
    budget.throwIfCutShort(read.readAll, summary.unfinished, requests.sent, options.out);
    return { ...summary, operation: 'create' };
  } finally {
    source.close();
    try {
      writer.close();
    } finally {
      keys?.close();
      await client?.close();
      await budget.close();
      lock.release();
    }
  }
}

interface ReadContext {
  events: RunEvents;
  stopper: Stopper;
  recorder: RowRecorder;
  /** Undefined for a dry run. */
  batches: BatchSender | undefined;
  window: OrderedWindow;
  skipped: Required<SkippedCounts>;
  /** Undefined for a dry run: sync's PUTs. */
  sender: RowSender | undefined;
  /** The job state's key table (`--state`); undefined without it. */
  keys: KeyTable | undefined;
}

/**
 * Read the rows: skip those an earlier run settled, record invalid and dry-run rows at
 * once, and gather the others into batches for the window.
 */
async function readRows(
  prepared: PreparedRun,
  options: ImportOptions,
  { events, stopper, recorder, batches, window, skipped, sender, keys }: ReadContext,
): Promise<{ rowsRead: number; readAll: boolean; error: unknown }> {
  const { source, validate, importResume } = prepared;
  const batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
  let batch: CreateRow[] = [];
  let batchNumber = 0;
  let rowsRead = 0;
  /** Sync and import with `--state`: the row each key was first seen on in this file. */
  const keyRows = new Map<string, number>();
  const waitForRoom = async () => {
    while (window.full && !stopper.stopping) await window.slotFreed();
  };
  const flush = async () => {
    if (batch.length === 0 || batches === undefined) return;
    const rows = batch;
    batch = [];
    window.add(`batch ${++batchNumber}`, async () => {
      for (const line of await batches.send(rows)) {
        recorder.record(line);
        settleKey(keys, line);
      }
    });
    await waitForRoom();
  };
  try {
    for await (const input of source.rows) {
      if (stopper.stopping) return { rowsRead, readAll: false, error: undefined };
      if (options.limit !== undefined && input.row > options.limit) break;
      rowsRead++;
      const row = input.row;
      const outcome = validate(input.cells);
      const { key, sha256 } = outcome;
      const line = (status: ResultLine['status'], error?: string): ResultLine => ({
        row,
        key,
        id: '',
        status,
        attempts: 0,
        error,
        sha256,
        finishedAt: new Date(),
      });
      switch (importResume?.stateOf(row) ?? 'none') {
        case 'created':
        case 'settled':
          // Done whatever the row holds now: creating it again would duplicate it.
          skipped.created++;
          events.skipped?.(row);
          continue;
        case 'uncertain':
          if (options.resendUncertain === true) break;
          skipped.uncertain++;
          events.skipped?.(row);
          continue;
        case 'sending':
          if (options.resendUncertain === true) break;
          // The earlier run died with this row in flight: say so once, in this run.
          recorder.record(
            line(
              'uncertain',
              `sent by a run that stopped before its answer came; ${UNCERTAIN_NOTE}`,
            ),
          );
          continue;
        case 'failed':
        case 'invalid': {
          const state = importResume?.stateOf(row);
          if (options.retryFailed === true || importResume?.sameContent(row, sha256) !== true) {
            break;
          }
          if (state === 'failed') skipped.failed++;
          else skipped.invalid++;
          events.skipped?.(row);
          continue;
        }
        default:
          break;
      }
      if (!outcome.ok) {
        recorder.record(line('invalid', outcomeError(outcome)));
        continue;
      }
      if (keys !== undefined) {
        const first = keyRows.get(key);
        if (first !== undefined) {
          // Two rows with one key would make two contacts (or race two PUTs).
          recorder.record(line('invalid', `${options.key}: the key is already on row ${first}`));
          continue;
        }
        keyRows.set(key, row);
        const known = keys.lookup(key);
        if (known?.state === 'uncertain' && options.resendUncertain !== true) {
          recorder.record(
            line(
              'uncertain',
              `an earlier run's create of this key has no known outcome; ${UNCERTAIN_NOTE}`,
            ),
          );
          continue;
        }
        if (known?.state === 'known') {
          const put = options.sync === true ? updateBodyFor(outcome.payload) : undefined;
          if (known.sha256 === sha256 || put === undefined) {
            // Nothing new for this contact; or an import, which never updates.
            recorder.record({ ...line('unchanged'), id: known.id });
            continue;
          }
          if (batches === undefined) {
            events.dryRun?.({
              row,
              id: known.id,
              method: 'PUT',
              path: contactPath(known.id),
              body: put.body,
            });
            recorder.record({ ...line('dry-run'), id: known.id, sha256: put.sha256 });
            continue;
          }
          const putSender = sender as RowSender;
          window.add(`id ${known.id}`, async () => {
            const sent = await putSender.send(row, known.id, put.body, put.sha256);
            if (sent === undefined) return;
            recorder.record({ ...sent, key });
            if (sent.status === 'updated') keys.confirm(key, known.id, sha256);
          });
          await waitForRoom();
          continue;
        }
      }
      if (batches === undefined) {
        events.dryRun?.({ row, id: '', method: 'POST', path: BATCH_PATH, body: outcome.body });
        recorder.record(line('dry-run'));
        continue;
      }
      batch.push({ row, key, body: outcome.body, sha256 });
      if (batch.length >= batchSize) await flush();
    }
    if (!stopper.stopping) await flush();
  } catch (err) {
    // As in an update: stop sending, let the batches in flight finish and be recorded.
    stopper.stop(undefined);
    return { rowsRead, readAll: false, error: err };
  }
  return { rowsRead, readAll: true, error: undefined };
}

/** Write a create's outcome to the key table: its id, or what is known of it. */
function settleKey(keys: KeyTable | undefined, line: ResultLine): void {
  if (keys === undefined || line.key === undefined) return;
  if (line.status === 'created') keys.confirm(line.key, line.id, line.sha256);
  else if (line.status === 'uncertain') keys.uncertain(line.key);
  else if (line.status === 'failed') keys.refused(line.key);
}
