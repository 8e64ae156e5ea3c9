/**
 * How a run hears stop signals: SIGINT (Ctrl-C), SIGTERM (kill, systemd, `timeout`)
 * and SIGHUP (the terminal closed) all ask for a clean stop. The first one stops
 * reading and lets the requests in flight finish; a second abandons them; a third
 * exits at once (main.ts). The first signal also decides the exit code: 130 for
 * SIGINT, 143 for SIGTERM and SIGHUP (128 + 15, what a shell reports for a TERM).
 */
import { EXIT, type ExitCode } from '../errors.js';

export const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
export type StopSignal = (typeof STOP_SIGNALS)[number];

/**
 * A repeat of SIGTERM or SIGHUP this soon after the previous one is the same request,
 * not a second signal: supervisors and `timeout`-style wrappers send TERM to the
 * process and to its group, so one "stop" can arrive twice within milliseconds.
 * Ctrl-C is a person: a second one is always meant.
 */
export const REPEAT_WINDOW_MS = 1_000;

/** The exit code of a run stopped by `signal`. */
export function exitCodeForSignal(signal: StopSignal): ExitCode {
  return signal === 'SIGINT' ? EXIT.INTERRUPTED : EXIT.TERMINATED;
}

/** What a stop signal means, given the ones before it. Pure, for tests. */
export class SignalCounter {
  #count = 0;
  #first: StopSignal | undefined;
  #last: { signal: StopSignal; atMs: number } | undefined;

  /** The first signal heard, which decides the exit code. */
  get first(): StopSignal | undefined {
    return this.#first;
  }

  /** Count `signal` heard at `nowMs`: 1 = stop, 2 = abandon in flight, 3 = exit now; 0 = a repeat. */
  hear(signal: StopSignal, nowMs: number): number {
    const last = this.#last;
    this.#last = { signal, atMs: nowMs };
    if (
      last !== undefined &&
      signal !== 'SIGINT' &&
      last.signal === signal &&
      nowMs - last.atMs < REPEAT_WINDOW_MS
    ) {
      return 0;
    }
    this.#first ??= signal;
    this.#count++;
    return this.#count;
  }
}

/**
 * Listen for the stop signals on `emitter` (the process) and call `onSignal` with each
 * one that counts. Returns a function that stops listening.
 */
export function watchStopSignals(
  emitter: NodeJS.EventEmitter,
  onSignal: (signal: StopSignal, count: number, counter: SignalCounter) => void,
  counter = new SignalCounter(),
  now: () => number = Date.now,
): () => void {
  const listeners = STOP_SIGNALS.map((signal) => {
    const listener = () => {
      const count = counter.hear(signal, now());
      if (count > 0) onSignal(signal, count, counter);
    };
    emitter.on(signal, listener);
    return { signal, listener };
  });
  return () => {
    for (const { signal, listener } of listeners) emitter.off(signal, listener);
  };
}
