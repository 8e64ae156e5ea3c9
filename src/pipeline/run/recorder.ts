/**
 * Where every finished row goes: one line in the results file, then the tally and the
 * `row` event. A line that cannot be written is fatal: nothing more may be sent once an
 * outcome cannot be written down.
 */
import { type StatusCounts, Tally } from '../results/tally.js';
import type { ResultLine, ResultsWriter } from '../results/writer.js';
import type { Stopper } from './stopper.js';
import type { RunEvents } from './types.js';

export interface RecorderOptions {
  events: RunEvents;
  stopper: Stopper;
  /** Stop the run (`max-errors`) once this many rows failed. */
  maxErrors?: number | undefined;
}

export class RowRecorder {
  readonly #writer: Pick<ResultsWriter, 'write'> & Partial<Pick<ResultsWriter, 'writeUnchanged'>>;
  readonly #events: RunEvents;
  readonly #stopper: Stopper;
  readonly #maxErrors: number | undefined;
  readonly #tally = new Tally();
  /** The error that ended the run (a write that failed, a task that threw). */
  #fatal: unknown;

  constructor(
    writer: Pick<ResultsWriter, 'write'> & Partial<Pick<ResultsWriter, 'writeUnchanged'>>,
    options: RecorderOptions,
  ) {
    this.#writer = writer;
    this.#events = options.events;
    this.#stopper = options.stopper;
    this.#maxErrors = options.maxErrors;
  }

  /** Write down one row's outcome; ignored once the run has failed. */
  record(line: ResultLine): void {
    if (this.#fatal !== undefined) return;
    try {
      this.#writer.write(line);
    } catch (err) {
      this.fail(err);
      return;
    }
    this.#tally.addLine(line);
    this.#events.row?.(line, this.#tally.counts);
    const maxErrors = this.#maxErrors;
    if (
      line.status === 'failed' &&
      maxErrors !== undefined &&
      this.#tally.counts.failed >= maxErrors &&
      this.#stopper.reason === undefined
    ) {
      this.#events.warn?.(
        `stopping: ${this.#tally.counts.failed} rows failed (--max-errors ${maxErrors})`,
      );
      this.#stopper.stop('max-errors');
    }
  }

  /**
   * Write down an `unchanged` row (`--state`): batched by the writer, since a lost
   * `unchanged` line only means the row is checked again next time.
   */
  recordUnchanged(line: ResultLine): void {
    if (this.#fatal !== undefined) return;
    try {
      if (this.#writer.writeUnchanged === undefined) this.#writer.write(line);
      else this.#writer.writeUnchanged(line);
    } catch (err) {
      this.fail(err);
      return;
    }
    this.#tally.addLine(line);
    this.#events.row?.(line, this.#tally.counts);
  }

  /** End the run for `err` (the first one counts), abandoning requests in flight. */
  fail(err: unknown): void {
    this.#fatal ??= err;
    this.#stopper.stop(undefined, true);
  }

  /** What ended the run, if anything did; thrown once the rows in flight are done. */
  get fatal(): unknown {
    return this.#fatal;
  }

  get counts(): Readonly<StatusCounts> {
    return this.#tally.counts;
  }

  topErrors(): Array<{ error: string; count: number }> {
    return this.#tally.topErrors();
  }
}
