/**
 * limit/: how fast a run sends. limiter.ts (AdaptiveLimiter: a fixed --rate lowered on
 * 429s, or --rate auto through rate-search.ts; permits from the wall clock; concurrency),
 * rate-search.ts (pure, manual-clock tested: the search for the API's limit),
 * shared-budget.ts and redis-reply-fix.ts (one budget for every process on a key,
 * Bottleneck's Redis datastore, with the Redis 7 reply fix).
 */
import Bottleneck from 'bottleneck';
import pLimit, { type LimitFunction } from 'p-limit';
import { RateSearch } from './rate-search.js';
// Types only: a run without --redis does not load ioredis (about 60 ms of start-up).
import type { BudgetAnnouncement, SharedBudget } from './shared-budget.js';

/**
 * A fixed `--rate` on a shared budget: a 429 with `Retry-After` holds every process
 * for it and lowers nothing, unless it answers a request sent within this long after
 * the previous such hold ended. The processes together send exactly `--rate`, so an
 * isolated 429 says a burst arrived late and bunched up (a stalled event loop, here or
 * at the server), not that the rate is too high; halving the shared rate for it cost
 * every process seconds of recovery (bench/shared-budget.mjs at load 8-9: 199/s of
 * 300). Throttled again this soon after resuming, the rate itself is above the key's
 * limit, and it is lowered as on a private budget.
 */
export const SHARED_RETHROTTLE_WINDOW_MS = 3_000;
/** Lowest rate the adaptive limiter falls to, requests per second. */
export const MIN_RATE_PER_SECOND = 0.5;
/** On a 429 the rate is multiplied by this (multiplicative decrease). */
export const DECREASE_FACTOR = 0.5;
/**
 * 429s closer together than this are one congestion event, not several, even when
 * they answer requests sent after the last decrease (see `throttled`).
 */
export const DECREASE_COOLDOWN_MS = 100;
/**
 * Below the rate that drew the last 429, the rate climbs back by this share of the
 * remaining gap per second (quickly at first, slowly as it gets close)...
 */
export const RECOVER_GAP_SHARE_PER_SECOND = 0.5;
/**
 * ...and above it, probes upward by this share of the rate per second, a share that
 * doubles every {@link PROBE_DOUBLING_MS} without a 429, up to
 * {@link MAX_PROBE_SHARE_PER_SECOND}: careful at first near a limit just found, yet
 * back to full speed within a minute when the limit was raised or the 429 a fluke.
 */
export const PROBE_SHARE_PER_SECOND = 0.01;
export const PROBE_DOUBLING_MS = 3_000;
export const MAX_PROBE_SHARE_PER_SECOND = 0.25;
/**
 * Bottleneck jobs per second at most. Bottleneck's local store hops through
 * `setTimeout(0)` several times per job, which caps it near 400 jobs/s on a 2-core
 * machine (measured: bench/README). Above this many requests per second each
 * bottleneck job releases a small batch of requests instead of one.
 */
export const MAX_PACER_JOBS_PER_SECOND = 50;
/** Permits that may build up when pacer jobs run late, in batches (the largest burst). */
export const CATCH_UP_BATCHES = 2;
/**
 * Pacer jobs each process keeps registered ahead on a shared budget (a local pacer
 * needs one). Bottleneck's Redis script schedules a job at max(now, nextRequest) +
 * minTime: a registration that comes late loses the gap for good, and each job costs
 * three Redis round trips (submit, register, free) that a busy machine delays.
 * Measured on a shared 2-core machine (load average 15-20), three processes: one job
 * each reached 71/s of a 100/s budget; with AdaptiveLimiter at --rate 300 (50 jobs/s),
 * two each gave 271/s and 2.3 s for two survivors to take over a killed process's
 * share, four each 288/s and 1.0 s (bench/shared-budget.mjs). The price: after a
 * rate decrease, the jobs already registered still come at the old spacing
 * (4 jobs x 3 processes x 6 requests: about 0.25 s at 300/s).
 */
export const SHARED_PACER_JOBS_AHEAD = 4;
/** A shared pacer job that failed (Redis trouble) is asked for again after this long. */
const SHARED_RETRY_MS = 100;
/** Changes smaller than this share are not pushed to bottleneck (it re-drains on every update). */
const RATE_UPDATE_THRESHOLD = 0.02;

export interface LimiterOptions {
  /**
   * Upper bound on requests per second; 0 means no rate limit. `'auto'` searches for the
   * API's limit and holds just under it (see {@link RateSearch}).
   */
  ratePerSecond: number | 'auto';
  /**
   * `'auto'` only: the search never goes above this, requests per second (`--max-rate`).
   * @default DEFAULT_MAX_RATE_PER_SECOND (1000)
   */
  maxRatePerSecond?: number;
  /**
   * `'auto'` only: slow start begins at this rate, requests per second.
   * @default DEFAULT_INITIAL_RATE_PER_SECOND (10)
   */
  initialRatePerSecond?: number;
  /**
   * `'auto'` only: the limit an earlier run of the job found (the job state's learned
   * rate). Skips slow start: the run begins just under it, still backing off and probing.
   * @default undefined
   */
  knownLimitPerSecond?: number;
  /** Requests in flight at most. */
  concurrency: number;
  /** Called when the adaptive rate changes visibly (for the progress display). */
  onRateChange?: (ratePerSecond: number, reason: 'throttled' | 'recovered') => void;
  /** @default Date.now */
  now?: () => number;
  /**
   * Pace on a budget shared through Redis (`--redis`, see shared-budget.ts) instead of
   * a private one. The caller opens it and closes it after `stop()`.
   * @default undefined (a private budget)
   */
  shared?: SharedBudget;
}

/** What the progress line, `--log json` and the summary show of the rate. */
export interface RateView {
  mode: 'fixed' | 'auto';
  /** The rate in force now, requests per second; Infinity when unlimited. */
  currentRatePerSecond: number;
  /** `'auto'`: the API's limit as measured from its 429s; undefined until one came. */
  limitFoundPerSecond: number | undefined;
  /** `--rate` (fixed) or `--max-rate` (auto); Infinity when unlimited. */
  maxRatePerSecond: number;
}

/** Thrown (as the rejection of `schedule`) for jobs dropped by `stop()`. */
export class LimiterStoppedError extends Error {
  override name = 'LimiterStoppedError';
}

/**
 * Every request of a run goes through here.
 *
 * - p-limit bounds the requests in flight (`--concurrency`).
 * - bottleneck paces them (`minTime`), at most {@link MAX_PACER_JOBS_PER_SECOND}
 *   jobs/s; each job releases the permits earned by the wall clock since the last one
 *   (about one request, or a small batch at high rates), so late timers are caught up.
 *   Bottleneck's own reservoir refresh was not used: it refreshes on its own interval
 *   timer, which runs late under load just as `minTime` does.
 * - On top, congestion control in the style of TCP's AIMD: halve the rate on a 429,
 *   add back a little with every success, never above `--rate`; a run-wide pause when
 *   the server says when to come back (`Retry-After`); and, in an outage, one probe
 *   request per pause (`probeAfter`). A fixed rate on a shared budget keeps to the
 *   pause alone unless the 429s come back (see {@link SHARED_RETHROTTLE_WINDOW_MS}).
 */
export class AdaptiveLimiter {
  private readonly inFlight: LimitFunction;
  private readonly pacer: Bottleneck | undefined;
  private readonly shared: SharedBudget | undefined;
  private readonly stopListening: (() => void) | undefined;
  /** Shared: false until this process's pacing is in Redis; no pacer job before. */
  private sharedReady = true;
  private readonly now: () => number;
  private readonly onRateChange: LimiterOptions['onRateChange'];
  /** The ceiling, `--rate` (or `--max-rate` in auto mode); Infinity when unlimited. */
  readonly maxRatePerSecond: number;
  /** Set in auto mode: it decides the rate; the pacer below only enforces it. */
  private readonly search: RateSearch | undefined;
  private rate: number;
  /** The rate the pacer currently enforces. */
  private appliedRate: number;
  private batchSize = 1;
  private lastDecreaseAtMs = Number.NEGATIVE_INFINITY;
  /** The rate in force when the last 429 came: where the server's limit was last seen. */
  private throttledAtRate: number | undefined;
  /** When the rate last rose above `throttledAtRate` (probing started). */
  private probingSinceMs: number | undefined;
  private pausedUntilMs = 0;
  /** When the last hold for a 429's `Retry-After` (this process's or announced) ends. */
  private throttleHoldEndMs = Number.NEGATIVE_INFINITY;
  /** Outage probing: after the pause, one request goes out and the rest wait for `endProbe()`. */
  private probing = false;
  private probeSent = false;
  private resumeTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** Requests waiting for a pacing permit. */
  private waiters: Array<{ resolve: () => void; reject: (e: Error) => void }> = [];
  /** Pacer jobs asked for and not yet run: at most 1, or SHARED_PACER_JOBS_AHEAD when shared. */
  private pacerJobsPending = 0;
  /**
   * Permits earned and not yet used: `rate` per second of wall clock since
   * `creditAtMs`, capped at {@link CATCH_UP_BATCHES} batches. Counting from the clock
   * rather than handing out a fixed batch per bottleneck job means a job that fires
   * late (a busy event loop) grants more, instead of the lateness being lost for good
   * (at 400/s, 1 ms late per 20 ms job cost 5 % of the rate). The cap keeps idle time
   * from building up into a burst.
   */
  private credit = 0;
  private creditAtMs = Number.NaN;
  /** Sends in the current and previous second, to estimate the real rate when unlimited. */
  private windowStartMs = 0;
  private sentThisWindow = 0;
  private sentLastWindow = 0;

  constructor(options: LimiterOptions) {
    this.now = options.now ?? Date.now;
    this.onRateChange = options.onRateChange;
    if (options.ratePerSecond === 'auto') {
      this.search = new RateSearch({
        initialRatePerSecond: options.initialRatePerSecond,
        knownLimitPerSecond: options.knownLimitPerSecond,
        maxRatePerSecond: options.maxRatePerSecond,
        now: this.now,
        shared: options.shared !== undefined,
      });
      this.maxRatePerSecond = this.search.maxRatePerSecond;
      this.rate = this.search.ratePerSecond;
    } else {
      this.maxRatePerSecond =
        options.ratePerSecond > 0 ? options.ratePerSecond : Number.POSITIVE_INFINITY;
      this.rate = this.maxRatePerSecond;
    }
    this.appliedRate = this.rate;
    this.inFlight = pLimit({ concurrency: options.concurrency, rejectOnClear: true });
    this.shared = options.shared;
    if (this.shared === undefined) {
      // Even an unlimited run gets a pacer: a 429 must be able to slow it down.
      this.pacer = new Bottleneck({ maxConcurrent: null, ...this.pacing(this.rate) });
      return;
    }
    const shared = this.shared;
    this.pacer = shared.pacer;
    this.sharedReady = false;
    this.stopListening = shared.onAnnouncement((message) => this.adopt(message));
    // Joining a budget the others already slowed down: start where they are. In auto
    // mode, start at the budget's rate whichever way it differs: this process's slow
    // start from 10/s would otherwise pull every process down to it.
    void shared.lastRate().then(
      (rate) => {
        if (this.stopped) return;
        this.sharedReady = true;
        if (rate !== undefined && this.search !== undefined) {
          // Auto: the others' search is further along than this one's slow start.
          const joined = Math.min(rate, this.maxRatePerSecond);
          this.follow(joined);
          void this.pacer?.updateSettings(this.pacing(joined));
          this.onRateChange?.(joined, 'recovered');
        } else if (rate !== undefined && rate < this.rate) {
          this.throttledAtRate = rate;
          this.follow(rate);
          this.onRateChange?.(rate, 'throttled');
        } else {
          // This process's pacing goes to Redis, and the others learn it.
          void this.pacer?.updateSettings(this.pacing(this.rate));
          if (Number.isFinite(this.rate)) this.announceRate('recovered');
        }
        this.requestPermits();
      },
      () => {
        // Redis trouble at start; the connection watch decides what happens to the run.
        this.sharedReady = true;
        void this.pacer?.updateSettings(this.pacing(this.rate));
        this.requestPermits();
      },
    );
  }

  /** The current (adaptive) rate limit; Infinity when unlimited and never throttled. */
  get ratePerSecond(): number {
    return this.rate;
  }

  /** The rate in use and, in auto mode, the limit found: a snapshot for display. */
  get rateView(): Readonly<RateView> {
    return {
      mode: this.search === undefined ? 'fixed' : 'auto',
      currentRatePerSecond: this.rate,
      limitFoundPerSecond: this.search?.limitFoundPerSecond,
      maxRatePerSecond: this.maxRatePerSecond,
    };
  }

  /** Run `fn` when the concurrency cap, the rate and any pause allow. */
  schedule<T>(fn: () => Promise<T>): Promise<T> {
    if (this.stopped) return Promise.reject(new LimiterStoppedError('limiter stopped'));
    return this.inFlight(async () => {
      await this.permit();
      // A permit handed out just before a pause or a stop began must not slip through:
      // "no other request before Retry-After" and "stop at once" hold to the microsecond.
      while (this.now() < this.pausedUntilMs && !this.stopped) await this.permit();
      if (this.stopped) throw new LimiterStoppedError('limiter stopped');
      this.countSend();
      if (this.shared === undefined) return fn();
      // The global in-flight slot may be waited for across a lost Redis; a stop in that
      // wait leaves the request unsent, as a stop while waiting for a permit does.
      let started = false;
      return this.shared
        .runInFlight(() => {
          started = true;
          return fn();
        })
        .catch((err: unknown) => {
          if (!started && this.stopped) throw new LimiterStoppedError('limiter stopped');
          throw err;
        });
    }).catch((err: unknown) => {
      if (err instanceof Error && err.name === 'AbortError' && this.stopped) {
        throw new LimiterStoppedError('limiter stopped');
      }
      throw err;
    });
  }

  /**
   * A 429 came back: pause the whole run if the server said for how long, and slow down.
   *
   * One congestion event lowers the rate once: a 429 answering a request that was sent
   * before the last decrease says nothing about the new rate (TCP's "once per window"),
   * and 429s within {@link DECREASE_COOLDOWN_MS} of each other are one event.
   *
   * A fixed rate on a shared budget is not lowered by a 429 with `Retry-After` unless
   * the run was throttled again right after the previous hold (see
   * {@link SHARED_RETHROTTLE_WINDOW_MS}); the hold alone answers it.
   *
   * @param retryAfterMs the server's hint, if any
   * @param sentAtMs when the throttled request was sent (same clock as `now`)
   */
  throttled(retryAfterMs: number | undefined, sentAtMs?: number): void {
    const now = this.now();
    const held = retryAfterMs !== undefined && retryAfterMs > 0;
    const soonAfterHold =
      sentAtMs !== undefined &&
      sentAtMs >= this.throttleHoldEndMs &&
      sentAtMs - this.throttleHoldEndMs < SHARED_RETHROTTLE_WINDOW_MS;
    if (held) {
      this.holdForThrottle(now + retryAfterMs);
      this.shared?.announce({ kind: 'pause', forMs: retryAfterMs });
    }
    if (this.search !== undefined) {
      const rateThen = this.rate;
      if (this.search.throttled(sentAtMs) === 'decreased') {
        // For the other processes on a shared budget (see `adopt`).
        this.throttledAtRate = rateThen;
        this.setRate(this.search.ratePerSecond, 'throttled');
      }
      return;
    }
    if (this.shared !== undefined && held && !soonAfterHold) return;
    if (sentAtMs !== undefined && sentAtMs < this.lastDecreaseAtMs) return;
    if (now - this.lastDecreaseAtMs < DECREASE_COOLDOWN_MS) return;
    this.lastDecreaseAtMs = now;
    const base = Number.isFinite(this.rate) ? this.rate : Math.max(this.observedRate(), 10);
    this.throttledAtRate = base;
    this.probingSinceMs = undefined;
    this.setRate(Math.max(MIN_RATE_PER_SECOND, base * DECREASE_FACTOR), 'throttled');
  }

  /**
   * A request succeeded: raise the rate again, never above `--rate`. Each success adds
   * `step / rate`, so the rate grows by `step` per second of successes whatever it is.
   * Below the rate that drew the last 429 (the server's limit as last seen) it climbs
   * back by {@link RECOVER_GAP_SHARE_PER_SECOND} of the gap per second, fast while far
   * below and slowly when close; above it, it probes, slowly at first (see
   * {@link PROBE_SHARE_PER_SECOND}). So the run spends most of its time just under the
   * limit, yet finds out, at the cost of a rare 429, when the limit was raised.
   *
   * In auto mode the {@link RateSearch} decides instead, and also watches latency.
   *
   * @param latencyMs time from sending the request to its answer; auto mode stops
   *   growing the rate when it rises well above its baseline. Ignored with a fixed rate.
   */
  succeeded(latencyMs?: number): void {
    if (this.search !== undefined) {
      this.setRate(this.search.succeeded(latencyMs), 'recovered');
      return;
    }
    if (this.rate >= this.maxRatePerSecond) return;
    // Below --rate means a 429 was seen, so throttledAtRate is set.
    const limitSeen = this.throttledAtRate ?? this.maxRatePerSecond;
    let stepPerSecond: number;
    if (this.rate < limitSeen) {
      stepPerSecond = Math.max(
        (limitSeen - this.rate) * RECOVER_GAP_SHARE_PER_SECOND,
        limitSeen * PROBE_SHARE_PER_SECOND,
      );
    } else {
      const now = this.now();
      this.probingSinceMs ??= now;
      const share = Math.min(
        MAX_PROBE_SHARE_PER_SECOND,
        PROBE_SHARE_PER_SECOND * 2 ** ((now - this.probingSinceMs) / PROBE_DOUBLING_MS),
      );
      stepPerSecond = this.rate * share;
    }
    const next = this.rate + Math.max(0.1, stepPerSecond) / Math.max(this.rate, 1);
    this.setRate(Math.min(this.maxRatePerSecond, next), 'recovered');
  }

  /** A 429's `Retry-After`: hold every request, and remember when the hold ends. */
  private holdForThrottle(untilMs: number): void {
    this.throttleHoldEndMs = Math.max(this.throttleHoldEndMs, untilMs);
    this.pauseUntil(untilMs);
  }

  /** Hold every request until `untilMs` (epoch ms); extends, never shortens, a pause. */
  pauseUntil(untilMs: number): void {
    if (untilMs <= this.pausedUntilMs || this.stopped) return;
    this.pausedUntilMs = untilMs;
    this.resetCredit(untilMs);
    this.armResumeTimer();
  }

  private armResumeTimer(): void {
    if (this.resumeTimer !== undefined) clearTimeout(this.resumeTimer);
    this.resumeTimer = setTimeout(
      () => {
        this.resumeTimer = undefined;
        // Timers may fire a millisecond before the wall clock gets there; without this
        // nobody would ask for permits again and the run would stall.
        if (this.now() < this.pausedUntilMs) this.armResumeTimer();
        else this.requestPermits();
      },
      Math.max(1, this.pausedUntilMs - this.now()),
    );
  }

  /**
   * The server looks down: hold every request until `untilMs`, then let exactly one
   * through (a probe) and keep holding the rest until {@link endProbe}, or until the
   * next `probeAfter` when the probe failed too. A down server sees one request per
   * pause instead of the whole window.
   */
  probeAfter(untilMs: number): void {
    this.probing = true;
    this.probeSent = false;
    this.pauseUntil(untilMs);
    this.requestPermits();
  }

  /** The server answers again (or the run gave up waiting): release everything held. */
  endProbe(): void {
    if (!this.probing) return;
    this.probing = false;
    this.probeSent = false;
    this.requestPermits();
  }

  /** True between `probeAfter` and `endProbe`. */
  get isProbing(): boolean {
    return this.probing;
  }

  /** Epoch ms until which requests are held (0 or past when not paused). */
  get pausedUntil(): number {
    return this.pausedUntilMs;
  }

  /** Drop every request that has not started; requests already sending finish. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.stopListening?.();
    if (this.resumeTimer !== undefined) clearTimeout(this.resumeTimer);
    this.inFlight.clearQueue();
    for (const w of this.waiters.splice(0)) w.reject(new LimiterStoppedError('limiter stopped'));
    await this.pacer?.stop({ dropWaitingJobs: true });
  }

  /** Wait for a pacing permit: a pause, if any, then the rate. */
  private permit(): Promise<void> {
    if (this.stopped) return Promise.reject(new LimiterStoppedError('limiter stopped'));
    const now = this.now();
    if (now >= this.pausedUntilMs && !this.probing) {
      if (!Number.isFinite(this.rate)) return Promise.resolve();
      if (this.waiters.length === 0) {
        this.accrue(now);
        if (this.credit >= 1) {
          this.credit--;
          return Promise.resolve();
        }
      }
    }
    return new Promise((resolve, reject) => {
      this.waiters.push({ resolve, reject });
      this.requestPermits();
    });
  }

  /**
   * Ask bottleneck for the next batch of permits: one job at a time, or on a shared
   * budget up to SHARED_PACER_JOBS_AHEAD (see there why) while any request waits.
   */
  private requestPermits(): void {
    // Shared: the full SHARED_PACER_JOBS_AHEAD whenever a request waits, not only as
    // many as the waiters need at this instant. The requests sending hold their
    // concurrency slots, so few wait at a time: sized by the waiters, two processes at
    // --rate 300 --concurrency 16 kept 1-2 jobs ahead each and reached 262/s of 300
    // (bench/shared-budget.mjs); a batch granted with nobody waiting stays in `credit`.
    const ahead = this.shared === undefined ? 1 : SHARED_PACER_JOBS_AHEAD;
    if (this.pacerJobsPending >= ahead || this.stopped || this.waiters.length === 0) return;
    if (!this.sharedReady) return; // asked again once the pacing is in Redis
    if (this.now() < this.pausedUntilMs) return; // the resume timer asks again
    if (this.probing) {
      if (!this.probeSent) {
        this.probeSent = true;
        this.waiters.shift()?.resolve();
      }
      return; // endProbe() or the next probeAfter() asks again
    }
    if (!Number.isFinite(this.rate)) {
      for (const w of this.waiters.splice(0)) w.resolve();
      return;
    }
    this.pacerJobsPending++;
    this.pacer
      ?.schedule(this.shared?.pacerJobOptions ?? {}, async () => undefined)
      .then(
        () => {
          this.pacerJobsPending--;
          if (this.now() < this.pausedUntilMs || this.probing) {
            this.requestPermits();
            return;
          }
          if (this.shared === undefined) this.accrue(this.now());
          else this.grantBatch();
          while (this.credit >= 1 && this.waiters.length > 0) {
            this.waiters.shift()?.resolve();
            this.credit--;
          }
          this.requestPermits();
        },
        () => {
          this.pacerJobsPending--;
          // Local: only stop() rejects. Shared: a Redis error; the connection watch
          // (SharedBudget's onConnection) stops the run if Redis stays away.
          if (this.shared !== undefined && !this.stopped) {
            setTimeout(() => this.requestPermits(), SHARED_RETRY_MS);
          }
        },
      );
    this.requestPermits();
  }

  /**
   * Shared budget: each pacer job is one batch, exactly. The jobs of all processes are
   * spaced by `minTime` in Redis, so the wall clock since this process's last job
   * says nothing about what it may send (with three processes it would grant three
   * batches a job).
   */
  private grantBatch(): void {
    this.credit = Math.min(this.batchSize * CATCH_UP_BATCHES, this.credit + this.batchSize);
  }

  /**
   * Another process sharing the budget changed the rate or was told to wait: follow,
   * without announcing again. The new rate is already in Redis (its `minTime`); only
   * the local view changes. In auto mode the search is told too, so that its next
   * step starts from the budget's rate rather than this process's old one.
   */
  private adopt(message: BudgetAnnouncement): void {
    if (this.stopped) return;
    if (message.kind === 'pause') {
      this.holdForThrottle(this.now() + message.forMs);
      return;
    }
    const rate = Math.min(
      this.maxRatePerSecond,
      Math.max(MIN_RATE_PER_SECOND, message.ratePerSecond),
    );
    if (message.reason === 'throttled') {
      // A 429 answering a request sent before now belongs to the same event.
      this.lastDecreaseAtMs = this.now();
      if (this.search === undefined) {
        this.throttledAtRate = message.throttledAtRate ?? this.throttledAtRate;
        this.probingSinceMs = undefined;
      }
    }
    this.follow(
      rate,
      message.reason === 'throttled' ? (message.throttledAtRate ?? this.rate) : undefined,
    );
    this.onRateChange?.(rate, message.reason);
    this.requestPermits();
  }

  /** Take `rate` as the budget's rate, set elsewhere: no announcement, no Redis write. */
  private follow(rate: number, throttledAtRate?: number): void {
    this.search?.adopt(rate, throttledAtRate);
    this.rate = rate;
    this.appliedRate = rate;
    this.pacing(rate); // for batchSize; the minTime is in Redis already
    // The batches granted so far were spaced in Redis: they stay good at any rate.
  }

  /** Tell the other processes the rate this one set (and put it in Redis). */
  private announceRate(reason: 'throttled' | 'recovered'): void {
    this.shared?.announce({
      kind: 'rate',
      ratePerSecond: this.rate,
      reason,
      ...(this.throttledAtRate === undefined ? {} : { throttledAtRate: this.throttledAtRate }),
    });
  }

  /** Add the permits earned since the last look (see `credit`). */
  private accrue(now: number): void {
    // Shared: permits come only from pacer jobs (see grantBatch).
    if (this.shared !== undefined) return;
    if (Number.isNaN(this.creditAtMs)) {
      // The first job of the run: one batch, as a fixed-batch pacer would give.
      this.credit = this.batchSize;
      this.creditAtMs = now;
      return;
    }
    if (now <= this.creditAtMs) return;
    const earned = ((now - this.creditAtMs) * this.rate) / 1000;
    this.credit = Math.min(this.batchSize * CATCH_UP_BATCHES, this.credit + earned);
    this.creditAtMs = now;
  }

  /** Forget permits earned so far: after a pause or a rate change, pacing starts afresh. */
  private resetCredit(fromMs: number): void {
    this.credit = 0;
    this.creditAtMs = fromMs;
  }

  private pacing(rate: number): { minTime: number } {
    if (!Number.isFinite(rate)) {
      this.batchSize = 1;
      return { minTime: 0 };
    }
    this.batchSize = Math.max(1, Math.ceil(rate / MAX_PACER_JOBS_PER_SECOND));
    return { minTime: (this.batchSize * 1000) / rate };
  }

  private setRate(next: number, reason: 'throttled' | 'recovered'): void {
    const previous = this.rate;
    this.rate = next;
    const changed = !Number.isFinite(this.appliedRate)
      ? Number.isFinite(next)
      : Math.abs(next - this.appliedRate) / this.appliedRate > RATE_UPDATE_THRESHOLD ||
        next === this.maxRatePerSecond;
    if (!changed || next === this.appliedRate) return;
    this.appliedRate = next;
    if (this.shared !== undefined) {
      // Granted batches were spaced in Redis: they stay good (see grantBatch).
    } else if (this.search === undefined) this.resetCredit(this.now());
    else {
      // The search changes the rate every few ms while it grows; forgetting the permits
      // earned at the old rate each time would starve the run. Count them, then go on.
      const now = this.now();
      if (!Number.isNaN(this.creditAtMs) && now > this.creditAtMs) {
        this.credit = Math.min(
          this.batchSize * CATCH_UP_BATCHES,
          this.credit + ((now - this.creditAtMs) * previous) / 1000,
        );
        this.creditAtMs = now;
      }
    }
    void this.pacer?.updateSettings(this.pacing(next));
    this.announceRate(reason);
    this.onRateChange?.(next, reason);
    this.requestPermits();
  }

  private countSend(): void {
    const now = this.now();
    if (now - this.windowStartMs >= 1_000) {
      this.sentLastWindow = now - this.windowStartMs >= 2_000 ? 0 : this.sentThisWindow;
      this.sentThisWindow = 0;
      this.windowStartMs = now;
    }
    this.sentThisWindow++;
  }

  private observedRate(): number {
    return Math.max(this.sentLastWindow, this.sentThisWindow);
  }
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted === true) {
      resolve();
      return;
    }
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
