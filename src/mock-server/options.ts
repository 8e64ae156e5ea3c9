/**
 * Checks on the mock server's options. Bad options throw a TypeError that says what
 * was expected and what was given, so a typo in a test fails loudly instead of
 * quietly running without the fault it meant to inject.
 */
import type {
  FaultOptions,
  MockServerOptions,
  RateLimitChange,
  RetryAfterStyle,
  ScriptStep,
} from './types.js';

export interface LatencyRange {
  minMs: number;
  maxMs: number;
}

export interface CheckedRateLimit {
  perSecond: number;
  burst: number;
  retryAfter: RetryAfterStyle;
  schedule: RateLimitChange[];
}

export interface CheckedStartOptions {
  port: number;
  host: string;
  ids: Iterable<string> | number | 'any';
  seed: number;
  record: boolean;
}

/** The fake accepts a fake key and has no TLS: it must never be reachable from another host. */
const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '::1']);
const RETRY_AFTER_STYLES: readonly RetryAfterStyle[] = [
  'seconds',
  'http-date',
  'x-ratelimit-reset',
  'none',
];

export function checkStartOptions(options: MockServerOptions): CheckedStartOptions {
  const port = options.port ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    fail('port', 'an integer from 0 to 65535', port);
  }
  const host = options.host ?? '127.0.0.1';
  if (!LOOPBACK_HOSTS.has(host))
    fail('host', 'a loopback address (127.0.0.1, ::1, localhost)', host);
  const ids = options.ids ?? 'any';
  if (typeof ids === 'number' && (!Number.isInteger(ids) || ids < 0)) {
    fail('ids', "a count (a non-negative integer), a list of ids or 'any'", ids);
  }
  if (typeof ids === 'string' && ids !== 'any') {
    fail('ids', "a count, a list of ids or 'any'", ids);
  }
  const seed = options.seed ?? 1;
  if (!Number.isFinite(seed)) fail('seed', 'a finite number', seed);
  return { port, host, ids, seed, record: options.record ?? true };
}

export function checkApiKey(apiKey: unknown): string {
  if (typeof apiKey !== 'string' || apiKey === '') fail('apiKey', 'a non-empty string', apiKey);
  return apiKey;
}

export function checkLatency(latencyMs: unknown): LatencyRange {
  if (typeof latencyMs === 'number' && Number.isFinite(latencyMs) && latencyMs >= 0) {
    return { minMs: latencyMs, maxMs: latencyMs };
  }
  if (Array.isArray(latencyMs) && latencyMs.length === 2) {
    const [minMs, maxMs] = latencyMs as unknown[];
    if (
      typeof minMs === 'number' &&
      typeof maxMs === 'number' &&
      Number.isFinite(maxMs) &&
      minMs >= 0 &&
      minMs <= maxMs
    ) {
      return { minMs, maxMs };
    }
  }
  return fail('latencyMs', 'a number >= 0 or [min, max] with 0 <= min <= max', latencyMs);
}

export function checkRateLimit(rateLimit: unknown): CheckedRateLimit | undefined {
  if (rateLimit === undefined) return undefined;
  if (typeof rateLimit !== 'object' || rateLimit === null) {
    return fail('rateLimit', '{ perSecond, burst?, retryAfter? } or undefined', rateLimit);
  }
  const { perSecond, burst, retryAfter, schedule } = rateLimit as Record<string, unknown>;
  if (typeof perSecond !== 'number' || !Number.isFinite(perSecond) || perSecond <= 0) {
    fail('rateLimit.perSecond', 'a number > 0', perSecond);
  }
  const checkedBurst = burst ?? Math.max(1, perSecond);
  if (typeof checkedBurst !== 'number' || !Number.isFinite(checkedBurst) || checkedBurst < 1) {
    fail('rateLimit.burst', 'a number >= 1', burst);
  }
  const style = retryAfter ?? 'seconds';
  if (!RETRY_AFTER_STYLES.includes(style as RetryAfterStyle)) {
    fail('rateLimit.retryAfter', `one of ${RETRY_AFTER_STYLES.join(', ')}`, retryAfter);
  }
  return {
    perSecond,
    burst: checkedBurst,
    retryAfter: style as RetryAfterStyle,
    schedule: checkSchedule(schedule),
  };
}

function checkSchedule(schedule: unknown): RateLimitChange[] {
  if (schedule === undefined) return [];
  if (!Array.isArray(schedule)) return fail('rateLimit.schedule', 'an array of changes', schedule);
  schedule.forEach((change: unknown, i) => {
    const where = `rateLimit.schedule[${i}]`;
    if (typeof change !== 'object' || change === null) fail(where, 'an object', change);
    const { perSecond, burst, afterAllowed, afterMs } = change as Record<string, unknown>;
    if (typeof perSecond !== 'number' || !Number.isFinite(perSecond) || perSecond <= 0) {
      fail(`${where}.perSecond`, 'a number > 0', perSecond);
    }
    if (
      burst !== undefined &&
      !(typeof burst === 'number' && Number.isFinite(burst) && burst >= 1)
    ) {
      fail(`${where}.burst`, 'a number >= 1', burst);
    }
    if ((afterAllowed === undefined) === (afterMs === undefined)) {
      fail(where, 'exactly one of afterAllowed and afterMs', change);
    }
    if (
      afterAllowed !== undefined &&
      !(Number.isInteger(afterAllowed) && (afterAllowed as number) >= 0)
    ) {
      fail(`${where}.afterAllowed`, 'an integer >= 0', afterAllowed);
    }
    if (
      afterMs !== undefined &&
      !(typeof afterMs === 'number' && Number.isFinite(afterMs) && afterMs >= 0)
    ) {
      fail(`${where}.afterMs`, 'a number >= 0', afterMs);
    }
  });
  return schedule as RateLimitChange[];
}

export function checkFaults(faults: unknown): FaultOptions {
  if (faults === undefined) return {};
  if (typeof faults !== 'object' || faults === null) {
    return fail('faults', 'an object of rates', faults);
  }
  const rates = faults as Record<string, unknown>;
  let sum = 0;
  for (const name of [
    'serverErrorRate',
    'resetRate',
    'hangRate',
    'lostResponseRate',
    'lostResponse500Rate',
  ]) {
    const rate = rates[name] ?? 0;
    if (typeof rate !== 'number' || !(rate >= 0 && rate <= 1)) {
      fail(`faults.${name}`, 'a probability from 0 to 1', rate);
    }
    sum += rate;
  }
  if (sum > 1) fail('faults', 'rates that add up to at most 1', sum);
  return rates as FaultOptions;
}

export function checkScript(script: unknown): ScriptStep[] {
  if (script === undefined) return [];
  if (!Array.isArray(script)) return fail('script', 'an array of steps', script);
  script.forEach((step: unknown, i) => {
    const where = `script[${i}]`;
    if (typeof step !== 'object' || step === null) fail(where, 'an object', step);
    const { id, times, respond, route } = step as Record<string, unknown>;
    if (id !== undefined && typeof id !== 'string') fail(`${where}.id`, 'a string', id);
    if (route !== undefined && route !== 'update' && route !== 'create' && route !== 'batch') {
      fail(`${where}.route`, "'update', 'create' or 'batch'", route);
    }
    if (id !== undefined && route !== undefined && route !== 'update') {
      fail(`${where}.route`, "'update' (or nothing) when an id is given", route);
    }
    if (times !== undefined && (!Number.isInteger(times) || (times as number) < 1)) {
      fail(`${where}.times`, 'an integer >= 1', times);
    }
    if (
      respond === 'reset' ||
      respond === 'hang' ||
      respond === 'lost-response' ||
      respond === 'lost-response-500'
    ) {
      return;
    }
    const status = (respond as { status?: unknown } | null)?.status;
    if (typeof status !== 'number' || !Number.isInteger(status) || status < 100 || status > 599) {
      fail(
        `${where}.respond`,
        "{ status: 100..599, body?, headers? } or 'reset' | 'hang' | 'lost-response' | 'lost-response-500'",
        respond,
      );
    }
  });
  return script as ScriptStep[];
}

function fail(option: string, expected: string, got: unknown): never {
  let shown: string;
  try {
    shown = typeof got === 'string' ? `'${got}'` : (JSON.stringify(got) ?? String(got));
  } catch {
    shown = String(got);
  }
  throw new TypeError(`mock server: expected \`${option}\` to be ${expected}, got ${shown}`);
}

/** The batch options of a start: see MockServerOptions. */
export function checkBatchOptions(options: MockServerOptions): {
  maxContacts: number;
  status: 200 | 201;
} {
  const maxContacts = options.batchMaxContacts ?? 100;
  if (!Number.isInteger(maxContacts) || maxContacts < 1) {
    fail('batchMaxContacts', 'an integer >= 1', maxContacts);
  }
  const status = options.batchStatus ?? 200;
  if (status !== 200 && status !== 201) fail('batchStatus', '200 or 201', status);
  return { maxContacts, status };
}
