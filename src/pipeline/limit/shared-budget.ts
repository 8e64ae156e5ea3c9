/**
 * One rate budget for every clerk-bulk process that uses the same API key on the same
 * API: Bottleneck clustering on Redis (`--redis URL`).
 *
 * What is shared, and how:
 * - the pace: one Bottleneck with `datastore: "ioredis"` per (base URL, key). Its
 *   `minTime` and `nextRequest` live in Redis, so the pacer jobs of all processes
 *   together are spaced by `minTime`, whatever their number;
 * - the adaptive rate and pauses: a 429 or a Retry-After seen by one process is
 *   announced (`announce`) on the limiter's pub/sub channel; the others adopt it;
 * - optionally a cap on requests in flight across all processes (`maxInFlight`), a
 *   second clustered Bottleneck whose jobs are the requests themselves.
 *
 * Nothing secret goes to Redis: the limiter id is a hash of the key (see
 * {@link sharedBudgetId}), and Bottleneck stores only settings, counters and random
 * client ids under it.
 */
import { createHash, randomUUID } from 'node:crypto';
import Bottleneck from 'bottleneck';
import { ClerkBulkError, EXIT } from '../../errors.js';
import { BottleneckRedis } from './redis-reply-fix.js';

/** Time to reach Redis and get a PONG before the run gives up at start. */
export const REDIS_CONNECT_TIMEOUT_MS = 5_000;
/** How long a run waits for a lost Redis to come back before it stops (exit 3). */
export const REDIS_RECONNECT_GIVE_UP_MS = 60_000;
/**
 * Bottleneck's heartbeat and client timeout: a process that stopped answering
 * (kill -9, a frozen VM) is dropped from the budget after `clientTimeout`. Bottleneck's
 * defaults (5 s / 10 s) leave a dead process counted for up to 10 s; 1 s / 4 s keeps
 * that to a few seconds and still survives a 3-second stall of a busy event loop.
 */
export const HEARTBEAT_INTERVAL_MS = 1_000;
export const CLIENT_TIMEOUT_MS = 4_000;
/**
 * A request holds its global in-flight slot until it ends, or this long at most. Redis
 * cannot tell a slow request from a killed process, so a slot must expire on its own;
 * after a kill -9 the slot is free again {@link SLOT_EXPIRATION_MS} later. A request
 * still running after {@link SLOT_HOLD_MS} (rare: the API answers in ~100 ms) stops
 * counting against the cap, which is then exceeded by that one request.
 */
export const SLOT_HOLD_MS = 4_000;
export const SLOT_EXPIRATION_MS = 5_000;
/**
 * Redis releases a pacer job's weight this long after it was registered, if the
 * process that registered it never freed it (kill -9). The pace itself does not
 * depend on it: the pacer has no concurrency cap or reservoir, so a killed process's
 * share of the rate is the others' at once. But Bottleneck drops a silent client only
 * once nothing of it runs: without an expiration every kill left its few pacer jobs
 * counted as running, and the client in the budget's lists, for good. A job waiting
 * longer than this in the queue (several processes at a very low --rate) loses
 * nothing: its weight is unused, and the process still runs and frees it.
 */
export const PACER_JOB_EXPIRATION_MS = 5_000;
/**
 * How long the last announced rate is kept for processes that join later.
 *
 * Bottleneck's own keys get no expiry (its `timeout` option): with it, every Lua call
 * PEXPIREs the keys by `nextRequest + timeout - now`, and `nextRequest` is fractional
 * whenever `minTime` is (AdaptiveLimiter's is: 6 * 1000 / 163.3 = 36.7 ms), so Redis
 * refuses it ("ERR value is not an integer or out of range") and every job after the
 * first rate change failed to register: the run stalled. The keys left behind are a
 * few small ones per API and key; clients that stop are removed by the others.
 */
export const LAST_RATE_TTL_MS = 10 * 60_000;
// SHARED_PACER_JOBS_AHEAD (how many pacer jobs each process keeps registered ahead) is
// in limiter.ts, which must not load ioredis for a run without --redis.
export { SHARED_PACER_JOBS_AHEAD } from './limiter.js';

/** Hex characters of the sha256 kept in the id: 128 bits, no collision in practice. */
const ID_HASH_HEX_CHARS = 32;

/**
 * The shared limiter id for one API on one key: `clerk-bulk:` + the first 128 bits
 * (hex) of sha256(baseUrl + "\0" + apiKey). Every process with the same base URL and
 * key gets the same id; the key cannot be read back from it. The base URL is used as
 * given (after trimming a trailing `/`), so `https://web-api.clerk.chat` and
 * `https://web-api.clerk.chat/` share a budget.
 */
export function sharedBudgetId(baseUrl: string, apiKey: string): string {
  const digest = createHash('sha256')
    .update(`${baseUrl.replace(/\/+$/, '')}\0${apiKey}`)
    .digest('hex');
  return `clerk-bulk:${digest.slice(0, ID_HASH_HEX_CHARS)}`;
}

/** Redis could not be reached at start (exit 2), or was lost for too long (exit 3). */
export class SharedBudgetError extends ClerkBulkError {
  override name = 'SharedBudgetError';
  constructor(
    message: string,
    code: 'E_REDIS_URL' | 'E_REDIS_UNREACHABLE' | 'E_REDIS_LOST',
    options?: { cause?: unknown },
  ) {
    super(message, code, code === 'E_REDIS_LOST' ? EXIT.ABORTED : EXIT.USAGE, options);
  }
}

/** What one process tells the others. */
export type BudgetAnnouncement =
  | {
      kind: 'rate';
      ratePerSecond: number;
      reason: 'throttled' | 'recovered';
      /** The rate that drew the 429, for the others' recovery curve. */
      throttledAtRate?: number;
    }
  | {
      kind: 'pause';
      /** From when the message is received; not an epoch time, so clocks may differ. */
      forMs: number;
    };

/** The state of the Redis connection, as told to `onConnection`. */
export type ConnectionEvent =
  | { state: 'lost'; error: Error | undefined }
  | { state: 'restored'; downMs: number }
  | { state: 'failed'; error: SharedBudgetError };

export interface SharedBudgetOptions {
  /** `redis://[user:password@]host[:port][/db]` or `rediss://...`. */
  redisUrl: string;
  /** The API's base URL; part of the id. */
  baseUrl: string;
  /** Hashed into the id; never sent to Redis. */
  apiKey: string;
  /** Bottleneck `minTime` for a budget not yet in Redis. @default 0 */
  initialMinTimeMs?: number;
  /** Requests in flight at most, across all processes; undefined for no global cap. */
  maxInFlight?: number;
  /** Called when the connection is lost, comes back, or is given up on. */
  onConnection?: (event: ConnectionEvent) => void;
  /** @default REDIS_CONNECT_TIMEOUT_MS */
  connectTimeoutMs?: number;
  /** @default REDIS_RECONNECT_GIVE_UP_MS */
  reconnectGiveUpMs?: number;
  /** @default HEARTBEAT_INTERVAL_MS */
  heartbeatIntervalMs?: number;
  /** @default CLIENT_TIMEOUT_MS */
  clientTimeoutMs?: number;
  /** @default SLOT_HOLD_MS */
  slotHoldMs?: number;
  /** @default SLOT_EXPIRATION_MS */
  slotExpirationMs?: number;
  /** @default PACER_JOB_EXPIRATION_MS */
  pacerJobExpirationMs?: number;
}

/** What `AdaptiveLimiter` runs on when the budget is shared. */
export interface SharedBudget {
  /** The limiter id in Redis (see {@link sharedBudgetId}). */
  readonly id: string;
  /** The clustered pacer: use its `minTime` (via `updateSettings`) for the shared rate. */
  readonly pacer: Bottleneck;
  /** Options for every job on `pacer` (the expiration that frees a killed process's jobs). */
  readonly pacerJobOptions: Readonly<{ expiration: number }>;
  /** Run `fn` under the global in-flight cap; at once when there is none. */
  runInFlight<T>(fn: () => Promise<T>): Promise<T>;
  /** Tell every other process sharing the budget (not this one). */
  announce(message: BudgetAnnouncement): void;
  /** Listen to the others' announcements; returns the unsubscribe function. */
  onAnnouncement(listener: (message: BudgetAnnouncement) => void): () => void;
  /** The rate last announced by any process (kept 10 minutes), for a process joining. */
  lastRate(): Promise<number | undefined>;
  /** The connection state: `up`, `lost` (reconnecting), `failed` or `closed`. */
  readonly connection: 'up' | 'lost' | 'failed' | 'closed';
  /** Leave the budget and disconnect. Safe to call twice. */
  close(): Promise<void>;
}

/** `redis://user:***@host:port/db`: the URL with any password hidden. */
export function safeRedisUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(an invalid URL)';
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms (${what})`)), ms);
    promise.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(timer);
        reject(e);
      },
    );
  });
}

/**
 * Connect to Redis (a PING must answer within `connectTimeoutMs`, else
 * `E_REDIS_UNREACHABLE`, exit 2) and join the budget for `baseUrl` + `apiKey`.
 */
export async function openSharedBudget(options: SharedBudgetOptions): Promise<SharedBudget> {
  const connectTimeoutMs = options.connectTimeoutMs ?? REDIS_CONNECT_TIMEOUT_MS;
  const reconnectGiveUpMs = options.reconnectGiveUpMs ?? REDIS_RECONNECT_GIVE_UP_MS;
  const slotHoldMs = options.slotHoldMs ?? SLOT_HOLD_MS;
  const slotExpirationMs = options.slotExpirationMs ?? SLOT_EXPIRATION_MS;
  const shown = safeRedisUrl(options.redisUrl);
  let protocol: string;
  try {
    protocol = new URL(options.redisUrl).protocol;
  } catch (cause) {
    throw new SharedBudgetError(
      `--redis: expected a URL like redis://host:6379, got ${JSON.stringify(shown)}`,
      'E_REDIS_URL',
      { cause },
    );
  }
  if (protocol !== 'redis:' && protocol !== 'rediss:') {
    throw new SharedBudgetError(
      `--redis: expected a redis:// or rediss:// URL, got ${protocol}//...`,
      'E_REDIS_URL',
    );
  }

  // While connecting, fail at the first refusal instead of retrying for ever; once up,
  // ioredis reconnects on its own (and the give-up timer below bounds the wait).
  let starting = true;
  let lastError: Error | undefined;
  const client = new BottleneckRedis(options.redisUrl, {
    lazyConnect: true,
    connectTimeout: connectTimeoutMs,
    // Commands wait for the connection to come back rather than failing after 20
    // reconnect attempts; the give-up timer decides when waiting is over.
    maxRetriesPerRequest: null,
    retryStrategy: (times: number) => (starting ? null : Math.min(100 * times, 1_000)),
  });
  client.on('error', (err: Error) => {
    lastError = err;
  });
  try {
    await withTimeout(
      client.connect().then(() => client.ping()),
      connectTimeoutMs,
      'connect and PING',
    );
  } catch (cause) {
    client.disconnect();
    // ioredis rejects with "Connection is closed."; the socket's error says why.
    const reason =
      (lastError ?? cause) instanceof Error
        ? (lastError ?? (cause as Error)).message
        : String(cause);
    throw new SharedBudgetError(
      `cannot reach Redis at ${shown} for the shared rate budget: ${reason}`,
      'E_REDIS_UNREACHABLE',
      { cause },
    );
  }
  starting = false;
  // Bottleneck's subscriber is `client.duplicate()`; it must connect at once, since
  // Bottleneck waits for its "ready" before sending anything.
  client.options.lazyConnect = false;
  const connection = new Bottleneck.IORedisConnection({ client });

  const id = sharedBudgetId(options.baseUrl, options.apiKey);
  const common = {
    datastore: 'ioredis' as const,
    connection,
    clearDatastore: false,
    heartbeatInterval: options.heartbeatIntervalMs ?? HEARTBEAT_INTERVAL_MS,
    clientTimeout: options.clientTimeoutMs ?? CLIENT_TIMEOUT_MS,
  };
  const pacer = new Bottleneck({
    ...common,
    id,
    maxConcurrent: null,
    minTime: options.initialMinTimeMs ?? 0,
  });
  const inFlight =
    options.maxInFlight === undefined
      ? undefined
      : new Bottleneck({ ...common, id: `${id}:in-flight`, maxConcurrent: options.maxInFlight });
  const limiters = inFlight === undefined ? [pacer] : [pacer, inFlight];
  // Bottleneck reports heartbeat failures as "error" events; the connection watch below
  // is what acts on a lost Redis, so they only need to be kept from going unhandled.
  for (const l of limiters) l.on('error', () => undefined);

  let state: SharedBudget['connection'] = 'up';
  let lostAtMs = 0;
  let giveUpTimer: NodeJS.Timeout | undefined;
  const closeConnection = async (flush: boolean) => {
    if (giveUpTimer !== undefined) clearTimeout(giveUpTimer);
    // The connection first: once it is closed, removing a limiter skips UNSUBSCRIBE,
    // which would otherwise fail unhandled on the closing subscriber.
    // QUIT waits for an answer; with Redis gone that would never come.
    const closing = flush
      ? withTimeout(connection.disconnect(true), 2_000, 'QUIT').catch(() => undefined)
      : connection.disconnect(false);
    for (const l of limiters) await l.disconnect(false);
    await closing;
  };
  client.on('close', () => {
    if (state !== 'up') return;
    state = 'lost';
    lostAtMs = Date.now();
    options.onConnection?.({ state: 'lost', error: lastError });
    giveUpTimer = setTimeout(() => {
      if (state !== 'lost') return;
      state = 'failed';
      const reason = lastError === undefined ? '' : ` (${lastError.message})`;
      const error = new SharedBudgetError(
        `lost Redis at ${shown} for ${Math.round(reconnectGiveUpMs / 1000)} s${reason}`,
        'E_REDIS_LOST',
        { cause: lastError },
      );
      // The run stops its limiter first; closing then fails the waiting pacer jobs
      // of a limiter that no longer asks again.
      options.onConnection?.({ state: 'failed', error });
      void closeConnection(false);
    }, reconnectGiveUpMs);
  });
  client.on('ready', () => {
    if (state !== 'lost') return;
    state = 'up';
    if (giveUpTimer !== undefined) clearTimeout(giveUpTimer);
    options.onConnection?.({ state: 'restored', downMs: Date.now() - lostAtMs });
  });

  try {
    await withTimeout(
      Promise.all(limiters.map((l) => l.ready())),
      connectTimeoutMs,
      'set up the shared limiter',
    );
  } catch (cause) {
    state = 'closed';
    await closeConnection(false);
    throw new SharedBudgetError(
      `cannot set up the shared rate budget on Redis at ${shown}: ${
        cause instanceof Error ? cause.message : String(cause)
      }`,
      'E_REDIS_UNREACHABLE',
      { cause },
    );
  }

  const self = randomUUID();
  const listeners = new Set<(message: BudgetAnnouncement) => void>();
  pacer.on('message', (text: string) => {
    let parsed: { from?: unknown; message?: BudgetAnnouncement };
    try {
      parsed = JSON.parse(text) as typeof parsed;
    } catch {
      return; // not ours
    }
    if (parsed.from === self || parsed.message === undefined) return;
    for (const listener of listeners) listener(parsed.message);
  });
  const rateKey = `${id}:rate`;

  const pacerJobOptions = {
    expiration: options.pacerJobExpirationMs ?? PACER_JOB_EXPIRATION_MS,
  };

  return {
    id,
    pacer,
    pacerJobOptions,
    get connection() {
      return state;
    },
    async runInFlight<T>(fn: () => Promise<T>): Promise<T> {
      if (inFlight === undefined) return fn();
      let result: Promise<T> | undefined;
      // The Bottleneck job is the slot, not the request: it ends when the request does
      // or after slotHoldMs, so `expiration` (which would fail the job) never fires in
      // a live process; it only frees the slots of a killed one.
      await inFlight.schedule(
        { expiration: slotExpirationMs },
        () =>
          new Promise<void>((release) => {
            const timer = setTimeout(release, slotHoldMs);
            const done = () => {
              clearTimeout(timer);
              release();
            };
            result = fn();
            result.then(done, done);
          }),
      );
      return result as Promise<T>;
    },
    announce(message) {
      void pacer.publish(JSON.stringify({ from: self, message })).catch(() => undefined);
      if (message.kind === 'rate') {
        void client
          .set(rateKey, String(message.ratePerSecond), 'PX', LAST_RATE_TTL_MS)
          .catch(() => undefined);
      }
    },
    onAnnouncement(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async lastRate() {
      const text = await client.get(rateKey);
      const rate = text === null ? Number.NaN : Number(text);
      return Number.isFinite(rate) && rate > 0 ? rate : undefined;
    },
    async close() {
      if (state === 'closed') return;
      const flush = state === 'up';
      state = 'closed';
      listeners.clear();
      await closeConnection(flush);
    },
  };
}
