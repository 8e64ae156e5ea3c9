/**
 * The limiter of a run, on a private budget or on one shared through Redis (`--redis`,
 * docs/shared-budget.md). Built here rather than in the runner so that every command
 * that sends (update, and the batch loops of import and sync) opens, watches and closes
 * the shared budget the same way.
 */
import { DEFAULT_BASE_URL, DEFAULT_CONCURRENCY, DEFAULT_RATE_PER_SECOND } from '../../defaults.js';
import { RunAbortedError } from '../../errors.js';
import { AdaptiveLimiter, type LimiterOptions } from '../limit/limiter.js';
// Types only: shared-budget.ts (and ioredis) is loaded when a run uses --redis.
import type { ConnectionEvent, SharedBudget, SharedBudgetError } from '../limit/shared-budget.js';
import type { Stopper } from './stopper.js';
import { runRate } from './summary.js';
import type { RunEvents, UpdateOptions } from './types.js';

export interface RunLimiterOptions {
  /** Requests per second at most, 0 for none, or `'auto'`. @default 10 */
  ratePerSecond?: number | 'auto';
  /** Requests in flight at most, in this process. @default 5 */
  concurrency?: number;
  /** Auto mode's ceiling, requests per second. @default DEFAULT_MAX_RATE_PER_SECOND */
  maxRatePerSecond?: number;
  /** Auto mode: the limit an earlier run found (skips slow start). @default undefined */
  knownLimitPerSecond?: number;
  /** The API, part of the shared budget's id. @default 'https://web-api.clerk.chat' */
  baseUrl?: string;
  /** Hashed into the shared budget's id; never sent to Redis. */
  apiKey?: string;
  /** No requests: no shared budget either. @default false */
  dryRun?: boolean;
  /** Share the budget through this Redis. @default undefined (a private budget) */
  redisUrl?: string;
  /** Redis unreachable at start: warn and go on privately. @default false */
  redisOptional?: boolean;
  /** Requests in flight at most across every process. @default undefined (no global cap) */
  redisMaxInFlight?: number;
  /** How long a lost Redis is waited for before the run stops. @default REDIS_RECONNECT_GIVE_UP_MS (60 s) */
  redisGiveUpMs?: number;
}

export interface RunLimiterHooks {
  /** Operator messages: Redis lost, back, or not used. */
  warn?: (message: string) => void;
  onRateChange?: LimiterOptions['onRateChange'];
  /**
   * Redis stayed away past the bounded reconnect: the run must stop (requests in
   * flight finish and are recorded) and report `error` (E_REDIS_LOST, exit 3).
   */
  onRedisLost?: (error: SharedBudgetError) => void;
}

export interface RunLimiter {
  readonly limiter: AdaptiveLimiter;
  /** The shared budget in use; undefined for a private one. */
  readonly shared: SharedBudget | undefined;
  /** Stop the limiter, then leave the shared budget. Safe to call twice. */
  close(): Promise<void>;
}

/**
 * Open the shared budget (when `redisUrl` is set and this is not a dry run), then
 * build the limiter on it. Throws `SharedBudgetError` (exit 2) when Redis cannot be
 * reached at start, unless `redisOptional`.
 */
export async function createRunLimiter(
  options: RunLimiterOptions,
  hooks: RunLimiterHooks = {},
): Promise<RunLimiter> {
  const shared = await openBudget(options, hooks);
  const limiter = new AdaptiveLimiter({
    ratePerSecond: options.ratePerSecond ?? DEFAULT_RATE_PER_SECOND,
    concurrency: options.concurrency ?? DEFAULT_CONCURRENCY,
    ...(options.maxRatePerSecond === undefined
      ? {}
      : { maxRatePerSecond: options.maxRatePerSecond }),
    ...(options.knownLimitPerSecond === undefined
      ? {}
      : { knownLimitPerSecond: options.knownLimitPerSecond }),
    ...(hooks.onRateChange === undefined ? {} : { onRateChange: hooks.onRateChange }),
    ...(shared === undefined ? {} : { shared }),
  });
  let closed = false;
  return {
    limiter,
    shared,
    async close() {
      if (closed) return;
      closed = true;
      await limiter.stop();
      await shared?.close();
    },
  };
}

async function openBudget(
  options: RunLimiterOptions,
  hooks: RunLimiterHooks,
): Promise<SharedBudget | undefined> {
  const { redisUrl } = options;
  if (redisUrl === undefined || redisUrl === '' || options.dryRun === true) return undefined;
  const { openSharedBudget, REDIS_RECONNECT_GIVE_UP_MS, SharedBudgetError, safeRedisUrl } =
    await import('../limit/shared-budget.js');
  const shown = safeRedisUrl(redisUrl);
  const giveUpMs = options.redisGiveUpMs ?? REDIS_RECONNECT_GIVE_UP_MS;
  const onConnection = (event: ConnectionEvent) => {
    if (event.state === 'lost') {
      hooks.warn?.(
        `lost Redis at ${shown}: requests wait for it to come back (up to ${Math.round(giveUpMs / 1000)} s)`,
      );
    } else if (event.state === 'restored') {
      hooks.warn?.(
        `Redis at ${shown} is back after ${(event.downMs / 1000).toFixed(1)} s: sending again`,
      );
    } else {
      hooks.onRedisLost?.(event.error);
    }
  };
  try {
    return await openSharedBudget({
      redisUrl,
      baseUrl: options.baseUrl ?? DEFAULT_BASE_URL,
      apiKey: options.apiKey ?? '',
      ...(options.redisMaxInFlight === undefined ? {} : { maxInFlight: options.redisMaxInFlight }),
      onConnection,
      reconnectGiveUpMs: giveUpMs,
    });
  } catch (err) {
    if (
      options.redisOptional === true &&
      err instanceof SharedBudgetError &&
      err.code === 'E_REDIS_UNREACHABLE'
    ) {
      hooks.warn?.(
        `${err.message}; --redis-optional: going on with this process's own rate budget`,
      );
      return undefined;
    }
    throw err;
  }
}

/** The limiter's share of a run's options (update and import alike). */
export function limiterOptionsFor(options: UpdateOptions, concurrency: number) {
  return {
    ratePerSecond: options.ratePerSecond ?? DEFAULT_RATE_PER_SECOND,
    concurrency,
    ...(options.maxRatePerSecond === undefined
      ? {}
      : { maxRatePerSecond: options.maxRatePerSecond }),
    ...(options.knownLimitPerSecond === undefined
      ? {}
      : { knownLimitPerSecond: options.knownLimitPerSecond }),
    ...(options.baseUrl === undefined ? {} : { baseUrl: options.baseUrl }),
    ...(options.apiKey === undefined ? {} : { apiKey: options.apiKey }),
    ...(options.dryRun === undefined ? {} : { dryRun: options.dryRun }),
    ...(options.redisUrl === undefined ? {} : { redisUrl: options.redisUrl }),
    ...(options.redisOptional === undefined ? {} : { redisOptional: options.redisOptional }),
    ...(options.redisMaxInFlight === undefined
      ? {}
      : { redisMaxInFlight: options.redisMaxInFlight }),
    ...(options.redisGiveUpMs === undefined ? {} : { redisGiveUpMs: options.redisGiveUpMs }),
  };
}

/**
 * The limiter of one run (update or import) with its watch on a shared budget: opened
 * before the results file (a Redis refused at start, exit 2, leaves nothing behind to
 * --force over), told the run's stopper once there is one, and asked at the end whether
 * a lost Redis cut the run short.
 */
interface BudgetWatch {
  stopper: Pick<Stopper, 'stop'> | undefined;
  lost: SharedBudgetError | undefined;
}

export class RunBudget {
  readonly #run: RunLimiter;
  readonly #watch: BudgetWatch;

  private constructor(run: RunLimiter, watch: BudgetWatch) {
    this.#run = run;
    this.#watch = watch;
  }

  static async open(
    options: UpdateOptions,
    concurrency: number,
    events: RunEvents,
  ): Promise<RunBudget> {
    const watch: BudgetWatch = { stopper: undefined, lost: undefined };
    let limiter: AdaptiveLimiter | undefined;
    const run = await createRunLimiter(limiterOptionsFor(options, concurrency), {
      warn: (message) => events.warn?.(message),
      onRateChange: (rate, reason) => {
        events.rate?.(rate, reason);
        if (limiter !== undefined) events.rateView?.(runRate(limiter.rateView));
      },
      onRedisLost: (error) => {
        watch.lost ??= error;
        watch.stopper?.stop(undefined);
      },
    });
    limiter = run.limiter;
    return new RunBudget(run, watch);
  }

  get limiter(): AdaptiveLimiter {
    return this.#run.limiter;
  }

  /** The Redis of the shared budget stayed away past the bounded reconnect, if it did. */
  get lost(): SharedBudgetError | undefined {
    return this.#watch.lost;
  }

  /** Stop the run through `stopper` when Redis is lost (at once if it already was). */
  watch(stopper: Pick<Stopper, 'stop'>): void {
    this.#watch.stopper = stopper;
    if (this.#watch.lost !== undefined) stopper.stop(undefined);
  }

  /**
   * Throw when a lost Redis cut the run short (exit 3, E_REDIS_LOST, with the resume
   * command). Lost after the last row was done, it cut nothing: the run stands.
   */
  throwIfCutShort(readAll: boolean, unfinished: number, sent: number, out: string): void {
    const lost = this.#watch.lost;
    if (lost !== undefined && (!readAll || unfinished > 0)) throw redisLostMidway(lost, sent, out);
  }

  close(): Promise<void> {
    return this.#run.close();
  }
}

/** The error to report for a run stopped because the Redis of its shared budget was lost. */
function redisLostMidway(err: SharedBudgetError, sent: number, out: string): RunAbortedError {
  return new RunAbortedError(
    `${err.message}; the run was stopped there after ${sent} request${sent === 1 ? '' : 's'} (every finished row is recorded in ${out})`,
    'E_REDIS_LOST',
    { cause: err },
  );
}
