/**
 * The outage monitor: tells an API that is down from rows that are bad, run-wide, as
 * each answer arrives. During an outage the run holds every request and sends one probe
 * per pause (the limiter does the holding), and a request that fails then is not
 * charged to its row's retries.
 */
import type { SendResult } from './client.js';
import { describe, RETRY_BASE_DELAY_MS } from './retry-policy.js';

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

/** What the monitor needs from the limiter: hold the run, one probe per pause. */
export interface OutageHold {
  /** Hold every request until `untilMs`, then let one through. */
  probeAfter(untilMs: number): void;
  /** Release everything held. */
  endProbe(): void;
}

export interface OutageMonitorOptions {
  hold: OutageHold;
  /** The run's retry base; pauses and the give-up time scale with it. @default 500 */
  retryBaseDelayMs?: number;
  /** Messages for the operator. */
  warn?: (message: string) => void;
  /** The clock (epoch ms). @default Date.now */
  now?: () => number;
}

/** `850 ms`, `12 s`, `3 min`: for messages about waits. */
export function formatSeconds(ms: number): string {
  if (ms < 1_000) return `${Math.round(ms)} ms`;
  if (ms < 120_000) return `${Math.round(ms / 1_000)} s`;
  return `${Math.round(ms / 60_000)} min`;
}

export class OutageMonitor {
  readonly #hold: OutageHold;
  readonly #warn: (message: string) => void;
  readonly #now: () => number;
  /** Pauses and the give-up time are for the default retry base; this scales them. */
  readonly #waitScale: number;
  /** Requests in a row that met a 5xx, a timeout or a network error. */
  #troubleStreak = 0;
  #outage: { startedAtMs: number; pauses: number; pauseEndsAtMs: number } | undefined;
  /** The last outage was given up on; no new one starts until the API answers again. */
  #givenUp = false;

  constructor(options: OutageMonitorOptions) {
    this.#hold = options.hold;
    this.#warn = options.warn ?? (() => {});
    this.#now = options.now ?? Date.now;
    this.#waitScale = (options.retryBaseDelayMs ?? RETRY_BASE_DELAY_MS) / RETRY_BASE_DELAY_MS;
  }

  /** True while the run is paused for an outage. */
  get inOutage(): boolean {
    return this.#outage !== undefined;
  }

  /** The API answered (anything but a 5xx): an outage, if any, is over. */
  answered(): void {
    this.#troubleStreak = 0;
    this.#givenUp = false;
    if (this.#outage === undefined) return;
    const downMs = this.#now() - this.#outage.startedAtMs;
    this.#outage = undefined;
    this.#hold.endProbe();
    this.#warn(`the API answers again after ${formatSeconds(downMs)}; going on`);
  }

  /**
   * A 5xx, timeout or network error for a request sent at `sentAtMs`. Returns true when
   * it is blamed on an outage rather than on the row, so it does not count against the
   * row's retries.
   */
  trouble(result: SendResult, sentAtMs: number): boolean {
    this.#troubleStreak++;
    if (this.#outage !== undefined) {
      // Requests sent before the current pause ended were already in flight when it
      // began; only the probe sent after it says the API is still down.
      if (sentAtMs >= this.#outage.pauseEndsAtMs) this.#nextPause(result);
      return true;
    }
    if (this.#givenUp || this.#troubleStreak < OUTAGE_THRESHOLD) return false;
    this.#outage = { startedAtMs: this.#now(), pauses: 0, pauseEndsAtMs: 0 };
    this.#nextPause(result);
    return this.#outage !== undefined;
  }

  /** Hold the run for the next, longer outage pause, or give up waiting. */
  #nextPause(result: SendResult): void {
    const outage = this.#outage;
    if (outage === undefined) return;
    const now = this.#now();
    const downMs = now - outage.startedAtMs;
    if (downMs >= OUTAGE_GIVE_UP_MS * this.#waitScale) {
      this.#outage = undefined;
      this.#givenUp = true;
      this.#hold.endProbe();
      this.#warn(
        `the API has failed every request for ${formatSeconds(downMs)} (${describe(result)}); ` +
          'no more waiting: rows now fail after their retries',
      );
      return;
    }
    outage.pauses++;
    const pauseMs = Math.round(
      Math.min(OUTAGE_MAX_PAUSE_MS, OUTAGE_FIRST_PAUSE_MS * 2 ** (outage.pauses - 1)) *
        this.#waitScale,
    );
    outage.pauseEndsAtMs = now + pauseMs;
    this.#hold.probeAfter(outage.pauseEndsAtMs);
    this.#warn(
      outage.pauses === 1
        ? `${OUTAGE_THRESHOLD} requests in a row failed (${describe(result)}); the API looks down: ` +
            `pausing ${formatSeconds(pauseMs)}, then trying one request`
        : `the API is still down (${describe(result)}); pausing ${formatSeconds(pauseMs)}`,
    );
  }
}
