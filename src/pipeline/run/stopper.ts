/**
 * How a run stops. Two levels: `signal` stops reading and sending (requests in flight
 * finish and are recorded); `hardSignal` also abandons the requests in flight. The
 * first reason given is the one the summary reports.
 */
import { setMaxListeners } from 'node:events';
import type { StopReason } from './types.js';

export interface StopperOptions {
  /** Aborting it is a graceful stop, reason `interrupted`. */
  signal?: AbortSignal | undefined;
  /** Aborting it is a hard stop, reason `interrupted`. */
  forceSignal?: AbortSignal | undefined;
  /** Called once, when the run first stops (the limiter drops what it holds). */
  onStop?: () => void;
}

export class Stopper {
  readonly #stopping = new AbortController();
  readonly #hardAbort = new AbortController();
  readonly #onStop: () => void;
  readonly #signal: AbortSignal | undefined;
  readonly #forceSignal: AbortSignal | undefined;
  readonly #onSignal = () => this.stop('interrupted');
  readonly #onForce = () => this.stop('interrupted', true);
  #reason: StopReason | undefined;

  /** Listens on the caller's signals until {@link dispose}; already aborted ones count. */
  constructor(options: StopperOptions = {}) {
    this.#onStop = options.onStop ?? (() => {});
    this.#signal = options.signal;
    this.#forceSignal = options.forceSignal;
    // Every request in flight and every retry wait listens on these two for the run's
    // whole life; the listener count is bounded by the window, not a leak.
    setMaxListeners(0, this.#stopping.signal, this.#hardAbort.signal);
    this.#signal?.addEventListener('abort', this.#onSignal, { once: true });
    this.#forceSignal?.addEventListener('abort', this.#onForce, { once: true });
    if (this.#signal?.aborted === true) this.#onSignal();
    if (this.#forceSignal?.aborted === true) this.#onForce();
  }

  /** Aborted once the run stops: read nothing more, send nothing more. */
  get signal(): AbortSignal {
    return this.#stopping.signal;
  }

  /** Aborted on a hard stop: requests in flight are abandoned too. */
  get hardSignal(): AbortSignal {
    return this.#hardAbort.signal;
  }

  get stopping(): boolean {
    return this.#stopping.signal.aborted;
  }

  /** Why the run stopped; undefined when it was not stopped, or for a fatal error. */
  get reason(): StopReason | undefined {
    return this.#reason;
  }

  /** Stop the run (`reason` undefined: a fatal error, reported on its own). */
  stop(reason: StopReason | undefined, hard = false): void {
    if (reason !== undefined) this.#reason ??= reason;
    if (!this.#stopping.signal.aborted) {
      this.#stopping.abort();
      this.#onStop();
    }
    if (hard) this.#hardAbort.abort();
  }

  /** Stop listening on the caller's signals. */
  dispose(): void {
    this.#signal?.removeEventListener('abort', this.#onSignal);
    this.#forceSignal?.removeEventListener('abort', this.#onForce);
  }
}
