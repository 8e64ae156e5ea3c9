/**
 * `--rate auto`: find the rate the API accepts and hold just under it. Pure: no timers,
 * no I/O; the clock is injected, so every step is tested with a manual clock.
 *
 * 1. Slow start: from `initialRatePerSecond`, double the rate every
 *    {@link SLOW_START_DOUBLING_MS} of successes (ACK-clocked, as TCP: a rate the run
 *    does not use does not grow).
 * 2. The first 429 ends slow start: the rate is halved (the limit lies below the rate
 *    that drew it), then climbs back fast towards that rate until the next 429.
 * 3. Every later 429 measures the limit: successes between two 429s ÷ time between
 *    them. A token bucket is empty at both 429s, so what it let through in between is
 *    exactly its refill, `limit × time` (fixed windows behave the same); tokens lost to
 *    a full bucket only make the figure lower, never higher. The rate then settles at
 *    {@link SETTLE_SHARE} of that figure.
 * 4. Above the settle point the rate probes upward slowly, faster the longer no 429
 *    comes, so a raised limit is found; never above `maxRatePerSecond`.
 * 5. Latency brake: while the mean latency is well above its baseline (the API slows
 *    down under the load) the rate stops growing.
 */

/**
 * Slow start's first rate when none is given: today's `--rate` default, the rate the
 * tool has always used against an unknown API.
 */
export const DEFAULT_INITIAL_RATE_PER_SECOND = 10;
/**
 * The search never goes above this unless told (`--max-rate`). Clerk Chat publishes no
 * limit; a per-key limit of a SaaS API is usually tens to a few hundred requests per
 * second, and 1,000/s is still under what one 2-core run sends (about 7,000 rows/s
 * measured against the mock server, .notes/perf.md) so the cap, not the machine,
 * bounds the damage against an API that slows down instead of answering 429.
 */
export const DEFAULT_MAX_RATE_PER_SECOND = 1_000;
/** The search never goes below this. */
export const MIN_AUTO_RATE_PER_SECOND = 0.5;
/**
 * Slow start doubles the rate every this many ms of successes: 10/s → 1,000/s in
 * 3.3 s. At 1 s per doubling the ramp alone cost 12 % of a 30 s run at 1,000/s.
 */
export const SLOW_START_DOUBLING_MS = 500;
/** The rate settles at this share of the limit measured: close, yet a 429 stays rare. */
export const SETTLE_SHARE = 0.95;
/** Even when the measured limit says otherwise, a 429 lowers the rate by at least this. */
export const MIN_DECREASE_FACTOR = 0.9;
/** The first 429 (the end of slow start) halves the rate, as TCP does. */
export const FIRST_DECREASE_FACTOR = 0.5;
/** 429s closer together than this are one congestion event (see AdaptiveLimiter). */
export const THROTTLE_COOLDOWN_MS = 100;
/**
 * Two 429s closer than this give no measurement: a few ms of latency jitter would
 * swing the figure by several per cent.
 */
export const MIN_MEASURE_INTERVAL_MS = 1_000;
/**
 * A limit measured below this share of the rate that drew the 429 is doubted: a stall
 * of the client (a busy machine) also lowers the count between two 429s. Measured on
 * the shared machine: 54/s against a limit of 100/s, then 60 s of slow probing. So the
 * rate climbs back fast to halfway between the figure and that rate (as BIC-TCP's
 * binary search does); if the figure was right, the next 429 confirms it.
 */
export const DOUBT_SHARE = 0.7;
/** Below the settle point, climb back by this share of the gap per second. */
export const RECOVER_GAP_SHARE_PER_SECOND = 0.5;
/**
 * Above the settle point, probe upward by this share of the limit per second at first,
 * doubling every {@link PROBE_DOUBLING_MS} without a 429, up to
 * {@link MAX_PROBE_SHARE_PER_SECOND}.
 */
export const PROBE_SHARE_PER_SECOND = 0.01;
export const PROBE_DOUBLING_MS = 10_000;
/**
 * Each probe past the limit costs a 429 and the server's pause (at least 1 s with
 * `Retry-After` in whole seconds: 3 % of a 30 s run); doubling every 5 s up to 20 %/s
 * drew one every ~12 s at 1,000/s.
 */
export const MAX_PROBE_SHARE_PER_SECOND = 0.1;
/** Latency mean: exponentially weighted, this weight for each new sample. */
export const LATENCY_EWMA_WEIGHT = 0.1;
/** Samples before the latency mean is trusted as a baseline. */
export const LATENCY_WARMUP_SAMPLES = 20;
/**
 * The latency is "risen" above this multiple of its baseline, and at least
 * {@link LATENCY_RISE_MIN_MS} above it: a loopback or LAN baseline of a few ms would
 * otherwise brake on scheduling noise.
 */
export const LATENCY_RISE_FACTOR = 2;
export const LATENCY_RISE_MIN_MS = 50;
/**
 * The rate grows only while the run uses it: the successes of the last
 * {@link USE_WINDOW_MS} reached this share of the rate in force when it began (TCP's
 * congestion window validation, RFC 7661). Without it a run held back by
 * `--concurrency` (16 connections at 12.5 ms each cap near 1,280/s; 790/s measured on
 * the shared machine) pushed the rate to `--max-rate` with nothing sent at it, and a
 * burst at that rate would follow any drop in latency.
 */
export const USED_RATE_SHARE = 0.7;
export const USE_WINDOW_MS = 500;
/** The baseline follows a lasting rise in latency this slowly (share per sample). */
const BASELINE_DRIFT_PER_SAMPLE = 0.001;

export type RateSearchPhase = 'slow-start' | 'steady';

export interface RateSearchOptions {
  /**
   * Slow start begins here, requests per second.
   * @default DEFAULT_INITIAL_RATE_PER_SECOND (10)
   */
  initialRatePerSecond?: number;
  /**
   * A limit an earlier run found (the job state's learned rate): no slow start; the
   * search begins at {@link SETTLE_SHARE} of it in the steady phase, and still backs
   * off and probes upward.
   * @default undefined (slow start)
   */
  knownLimitPerSecond?: number;
  /**
   * The search never goes above this, requests per second (`--max-rate`).
   * @default DEFAULT_MAX_RATE_PER_SECOND (1000)
   */
  maxRatePerSecond?: number;
  /** @default Date.now */
  now?: () => number;
  /**
   * The rate is a budget shared with other processes (`--redis`): this process sees
   * only its share of the successes, so it cannot tell whether the rate is used, nor
   * measure the limit between two 429s from them. Growth then only stops at a 429 or a
   * latency rise, and a 429 gives an upper bound (the rate that drew it), never a
   * measured limit.
   * @default false
   */
  shared?: boolean;
}

/** What `throttled` did with a 429. */
export type ThrottleOutcome = 'ignored' | 'decreased';

export class RateSearch {
  readonly maxRatePerSecond: number;
  readonly #now: () => number;
  #rate: number;
  #phase: RateSearchPhase;
  /** The limit measured between two 429s; undefined until then. */
  #limitFound: number | undefined;
  /** Where the limit is believed to be: measured, or an upper bound (the rate that drew a 429). */
  #estimate: number | undefined;
  /** Successes (2xx) so far, and where the last congestion event was. */
  #successes = 0;
  #firstSuccessAtMs: number | undefined;
  #lastDecreaseAtMs = Number.NEGATIVE_INFINITY;
  #successesAtLastDecrease = 0;
  /** Where the rate climbs back to quickly after a 429; above it, it only probes. */
  #settleTarget: number | undefined;
  /** When the rate last rose above the settle point (probing started). */
  #probingSinceMs: number | undefined;
  #latencyMeanMs: number | undefined;
  #latencyBaselineMs: number | undefined;
  #latencySamples = 0;
  #useWindowStartMs: number | undefined;
  #useWindowRate = 0;
  #useWindowSuccesses = 0;
  /** Whether the last window used the rate (see {@link USED_RATE_SHARE}). */
  #rateUsed = true;
  readonly #shared: boolean;

  constructor(options: RateSearchOptions = {}) {
    this.#now = options.now ?? Date.now;
    this.#shared = options.shared === true;
    this.maxRatePerSecond = checkRate(
      'maxRatePerSecond',
      options.maxRatePerSecond ?? DEFAULT_MAX_RATE_PER_SECOND,
    );
    const known = options.knownLimitPerSecond;
    if (known !== undefined) {
      this.#limitFound = checkRate('knownLimitPerSecond', known);
      this.#estimate = this.#limitFound;
      this.#phase = 'steady';
      this.#rate = this.#clamp(known * SETTLE_SHARE);
    } else {
      this.#phase = 'slow-start';
      this.#rate = this.#clamp(
        checkRate(
          'initialRatePerSecond',
          options.initialRatePerSecond ?? DEFAULT_INITIAL_RATE_PER_SECOND,
        ),
      );
    }
  }

  /** The rate to send at now, requests per second. */
  get ratePerSecond(): number {
    return this.#rate;
  }

  /**
   * The API's limit as measured between two 429s (or given as `knownLimitPerSecond`),
   * requests per second; undefined until then.
   */
  get limitFoundPerSecond(): number | undefined {
    return this.#limitFound;
  }

  get phase(): RateSearchPhase {
    return this.#phase;
  }

  /** True while the latency mean is well above its baseline (growth is held). */
  get latencyRisen(): boolean {
    const mean = this.#latencyMeanMs;
    const base = this.#latencyBaselineMs;
    if (mean === undefined || base === undefined) return false;
    return mean > Math.max(base * LATENCY_RISE_FACTOR, base + LATENCY_RISE_MIN_MS);
  }

  /**
   * A request succeeded (2xx). Grows the rate unless the latency has risen.
   * @param latencyMs the request's time from send to answer, if measured
   * @returns the new rate
   */
  succeeded(latencyMs?: number): number {
    const now = this.#now();
    this.#successes++;
    this.#firstSuccessAtMs ??= now;
    if (!this.#shared) this.#noteUse(now);
    if (latencyMs !== undefined && Number.isFinite(latencyMs) && latencyMs >= 0) {
      this.#noteLatency(latencyMs);
    }
    if (this.latencyRisen) {
      // The API slows down under this load: more would queue, not go faster. A hold, not
      // the end of slow start: a hiccup of a busy machine (seen at 4 s of a 1,000/s run
      // on 2 shared cores) would otherwise leave the run creeping up at 1 %/s for 20 s.
      return this.#rate;
    }
    if (this.#rate >= this.maxRatePerSecond || !this.#rateUsed) return this.#rate;
    if (this.#phase === 'slow-start') {
      // ×2 per DOUBLING of successes at this rate: each success is 1/(rate × T) of it.
      const perSuccess = 2 ** (1000 / (SLOW_START_DOUBLING_MS * Math.max(this.#rate, 1)));
      this.#rate = this.#clamp(this.#rate * perSuccess);
      return this.#rate;
    }
    // Steady: a limit is known (from a 429, a seed) or growth was braked by latency.
    const target = this.#settleTarget ?? (this.#estimate ?? this.#rate) * SETTLE_SHARE;
    let stepPerSecond: number;
    if (this.#rate < target) {
      this.#probingSinceMs = undefined;
      stepPerSecond = Math.max(
        (target - this.#rate) * RECOVER_GAP_SHARE_PER_SECOND,
        target * PROBE_SHARE_PER_SECOND,
      );
    } else {
      this.#probingSinceMs ??= now;
      const share = Math.min(
        MAX_PROBE_SHARE_PER_SECOND,
        PROBE_SHARE_PER_SECOND * 2 ** ((now - this.#probingSinceMs) / PROBE_DOUBLING_MS),
      );
      stepPerSecond = Math.max(target, this.#rate * SETTLE_SHARE) * share;
    }
    // Each success adds step/rate: the rate grows by `step` per second of successes.
    this.#rate = this.#clamp(this.#rate + Math.max(0.01, stepPerSecond) / Math.max(this.#rate, 1));
    return this.#rate;
  }

  /**
   * A 429 came back. One congestion event lowers the rate once: 429s answering requests
   * sent before the last decrease, or within {@link THROTTLE_COOLDOWN_MS} of it, are
   * part of the same event.
   * @param sentAtMs when the throttled request was sent (same clock as `now`)
   */
  throttled(sentAtMs?: number): ThrottleOutcome {
    const now = this.#now();
    if (sentAtMs !== undefined && sentAtMs < this.#lastDecreaseAtMs) return 'ignored';
    if (now - this.#lastDecreaseAtMs < THROTTLE_COOLDOWN_MS) return 'ignored';
    const rateNow = this.#rate;
    let next: number;
    const intervalMs = now - this.#lastDecreaseAtMs;
    if (intervalMs >= MIN_MEASURE_INTERVAL_MS && Number.isFinite(intervalMs) && !this.#shared) {
      // Measured: what the API let through since the last 429 (see step 3 above).
      const accepted = this.#successes - this.#successesAtLastDecrease;
      const measured = Math.max(MIN_AUTO_RATE_PER_SECOND, (accepted * 1000) / intervalMs);
      this.#limitFound = measured;
      this.#estimate = measured;
      this.#settleTarget =
        measured < DOUBT_SHARE * rateNow
          ? ((measured + rateNow) / 2) * SETTLE_SHARE
          : measured * SETTLE_SHARE;
    } else {
      // The first 429, or one too soon after the last: only an upper bound. (The success
      // rate since the start was tried as a first figure: the slow ramp from 10/s made
      // it 642/s against a limit of 1,000/s, and the run crept up from there.)
      this.#estimate = Math.min(this.#estimate ?? rateNow, rateNow);
      this.#settleTarget = this.#estimate * SETTLE_SHARE;
    }
    if (this.#phase === 'slow-start') {
      this.#phase = 'steady';
      next = rateNow * FIRST_DECREASE_FACTOR;
    } else {
      next = Math.min(rateNow * MIN_DECREASE_FACTOR, this.#estimate * SETTLE_SHARE);
    }
    this.#lastDecreaseAtMs = now;
    this.#successesAtLastDecrease = this.#successes;
    this.#probingSinceMs = undefined;
    this.#rate = this.#clamp(next);
    return 'decreased';
  }

  /** True while the successes keep up with the rate, so growing it is meaningful. */
  get rateUsed(): boolean {
    return this.#rateUsed;
  }

  /**
   * Another process sharing the budget set the rate (`shared`): go on from there. A
   * decrease there is this search's congestion event too: slow start ends, 429s of
   * requests sent before now are part of it, and the rate that drew it bounds the
   * limit.
   * @param throttledAtRatePerSecond the rate that drew the other process's 429, if one did
   */
  adopt(ratePerSecond: number, throttledAtRatePerSecond?: number): void {
    this.#rate = this.#clamp(ratePerSecond);
    if (throttledAtRatePerSecond === undefined) return;
    const now = this.#now();
    this.#phase = 'steady';
    this.#estimate = Math.min(this.#estimate ?? throttledAtRatePerSecond, throttledAtRatePerSecond);
    this.#settleTarget = this.#estimate * SETTLE_SHARE;
    this.#lastDecreaseAtMs = now;
    this.#successesAtLastDecrease = this.#successes;
    this.#probingSinceMs = undefined;
  }

  #noteUse(now: number): void {
    if (this.#useWindowStartMs === undefined) {
      this.#useWindowStartMs = now;
      this.#useWindowRate = this.#rate;
    }
    const elapsedMs = now - this.#useWindowStartMs;
    if (elapsedMs >= USE_WINDOW_MS) {
      const successRate = (this.#useWindowSuccesses * 1000) / elapsedMs;
      this.#rateUsed = successRate >= USED_RATE_SHARE * this.#useWindowRate;
      this.#useWindowStartMs = now;
      this.#useWindowRate = this.#rate;
      this.#useWindowSuccesses = 0;
    }
    this.#useWindowSuccesses++;
  }

  #noteLatency(latencyMs: number): void {
    this.#latencySamples++;
    const mean =
      this.#latencyMeanMs === undefined
        ? latencyMs
        : this.#latencyMeanMs + (latencyMs - this.#latencyMeanMs) * LATENCY_EWMA_WEIGHT;
    this.#latencyMeanMs = mean;
    if (this.#latencySamples < LATENCY_WARMUP_SAMPLES) return;
    const base = this.#latencyBaselineMs;
    if (base === undefined || mean < base) this.#latencyBaselineMs = mean;
    else this.#latencyBaselineMs = base + (mean - base) * BASELINE_DRIFT_PER_SAMPLE;
  }

  #clamp(rate: number): number {
    return Math.min(this.maxRatePerSecond, Math.max(MIN_AUTO_RATE_PER_SECOND, rate));
  }
}

function checkRate(option: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new TypeError(
      `rate search: expected \`${option}\` to be a number > 0, got ${String(value)}`,
    );
  }
  return value;
}
