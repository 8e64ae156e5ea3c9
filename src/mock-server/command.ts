/**
 * `clerk-bulk mock-server`: start the fake API from command-line options and say where
 * it listens. The lead's yargs code calls this; the first line of output is read by
 * parent processes to learn the URL, so its wording is a contract.
 */
import { UsageError } from '../errors.js';
import { parseIdsSpec } from './ids-spec.js';
import { startMockServer } from './server.js';
import type { MockServer, MockServerOptions, RateLimitChange, RetryAfterStyle } from './types.js';

export { parseIdsSpec } from './ids-spec.js';

export interface MockServerCommandOptions {
  /** 0 = any free port. */
  port: number;
  apiKey: string;
  /** `any`, `500`, `1-500` or `a,b,c`. */
  ids: string;
  /** Requests per second before answering 429. @default no limit */
  rateLimit?: number;
  /**
   * `--rate-limit-change`: later limits, comma-separated, each `PER_SECOND@N` (after N
   * requests let through) or `PER_SECOND@Ts` (T seconds after start), e.g. `100@6000`.
   * Needs `rateLimit`. @default the limit never changes
   */
  rateLimitChange?: string;
  /** @default 'seconds' */
  retryAfter?: RetryAfterStyle;
  /** Share of PUTs answered with a 5xx, 0..1. @default 0 */
  failRate?: number;
  /** `20` or `10-50`. @default no latency */
  latencyMs?: string;
  /** @default 1 */
  seed?: number;
  /** Share of writes applied, then the connection reset, 0..1. @default 0 */
  lostResponseRate?: number;
  /** Share of writes applied, then answered 500, 0..1. @default 0 */
  lostResponse500Rate?: number;
  /** Most contacts a batch takes. @default 100 */
  batchMaxContacts?: number;
  /** Status of a successful batch. @default 200 */
  batchStatus?: 200 | 201;
}

/** Start the server (without recording, so it can run for days) and print where it is. */
export async function runMockServerCommand(
  opts: MockServerCommandOptions,
  io: { stdout: NodeJS.WritableStream },
): Promise<MockServer> {
  const options = toServerOptions(opts);
  let server: MockServer;
  try {
    server = await startMockServer(options);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE' || code === 'EACCES') {
      throw new UsageError(
        `cannot listen on 127.0.0.1:${opts.port}: ${code === 'EADDRINUSE' ? 'port already in use' : 'permission denied'}`,
        'E_MOCK_LISTEN',
        { cause: err },
      );
    }
    if (err instanceof TypeError) throw new UsageError(err.message, 'E_USAGE', { cause: err });
    throw err;
  }
  io.stdout.write(`clerk-bulk mock server listening on ${server.url}\n`);
  io.stdout.write(`${describeSettings(opts)}\n`);
  return server;
}

function toServerOptions(opts: MockServerCommandOptions): MockServerOptions {
  if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65_535) {
    throw new UsageError(`--port: expected an integer from 0 to 65535, got ${opts.port}`);
  }
  if (opts.apiKey === '') throw new UsageError('--api-key: expected a non-empty key');
  let ids: MockServerOptions['ids'];
  try {
    ids = parseIdsSpec(opts.ids);
  } catch (err) {
    throw new UsageError(`--ids: ${(err as Error).message}`, 'E_USAGE', { cause: err });
  }
  const options: MockServerOptions = {
    port: opts.port,
    host: '127.0.0.1',
    apiKey: opts.apiKey,
    ids,
    // A long-running server must not grow a list of every request it ever saw.
    record: false,
  };
  if (opts.rateLimit !== undefined) {
    if (!Number.isFinite(opts.rateLimit) || opts.rateLimit <= 0) {
      throw new UsageError(`--rate-limit: expected a number > 0, got ${opts.rateLimit}`);
    }
    options.rateLimit = { perSecond: opts.rateLimit, retryAfter: opts.retryAfter ?? 'seconds' };
  }
  if (opts.rateLimitChange !== undefined) {
    if (options.rateLimit === undefined) {
      throw new UsageError('--rate-limit-change: needs --rate-limit (the limit it changes)');
    }
    options.rateLimit.schedule = parseRateLimitChange(opts.rateLimitChange);
  }
  if (opts.failRate !== undefined) {
    if (!(opts.failRate >= 0 && opts.failRate <= 1)) {
      throw new UsageError(`--fail-rate: expected a share from 0 to 1, got ${opts.failRate}`);
    }
    options.faults = { serverErrorRate: opts.failRate };
  }
  // Checked by the server (checkFaults, checkBatchOptions): a TypeError becomes a UsageError.
  if (opts.lostResponseRate !== undefined && opts.lostResponseRate > 0) {
    options.faults = { ...options.faults, lostResponseRate: opts.lostResponseRate };
  }
  if (opts.lostResponse500Rate !== undefined && opts.lostResponse500Rate > 0) {
    options.faults = { ...options.faults, lostResponse500Rate: opts.lostResponse500Rate };
  }
  if (opts.batchMaxContacts !== undefined) options.batchMaxContacts = opts.batchMaxContacts;
  if (opts.batchStatus !== undefined) options.batchStatus = opts.batchStatus;
  if (opts.latencyMs !== undefined) options.latencyMs = parseLatencySpec(opts.latencyMs);
  if (opts.seed !== undefined) {
    if (!Number.isFinite(opts.seed))
      throw new UsageError(`--seed: expected a number, got ${opts.seed}`);
    options.seed = opts.seed;
  }
  return options;
}

/**
 * `100@6000` → 100/s after 6,000 requests let through; `100@30s` → 100/s from 30 s
 * after start; several, comma-separated, apply in order.
 */
export function parseRateLimitChange(spec: string): RateLimitChange[] {
  return spec.split(',').map((part) => {
    const match = /^\s*(\d+(?:\.\d+)?)\s*@\s*(\d+(?:\.\d+)?)(s?)\s*$/.exec(part);
    const perSecond = Number(match?.[1]);
    const after = Number(match?.[2]);
    if (match === null || !(perSecond > 0) || (match[3] === '' && !Number.isInteger(after))) {
      throw new UsageError(
        `--rate-limit-change: expected PER_SECOND@REQUESTS or PER_SECOND@SECONDSs ` +
          `(e.g. 100@6000 or 100@30s), comma-separated, got '${spec}'`,
      );
    }
    return match[3] === 's'
      ? { perSecond, afterMs: after * 1000 }
      : { perSecond, afterAllowed: after };
  });
}

/** `20` → 20 ms; `10-50` → uniform between 10 and 50 ms. */
export function parseLatencySpec(spec: string): number | [number, number] {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(?:-\s*(\d+(?:\.\d+)?)\s*)?$/.exec(spec);
  const minMs = Number(match?.[1]);
  const maxMs = match?.[2] === undefined ? minMs : Number(match[2]);
  if (match === null || !(minMs <= maxMs)) {
    throw new UsageError(
      `--latency: expected milliseconds as N or MIN-MAX (e.g. 10-50), got '${spec}'`,
    );
  }
  return match[2] === undefined ? minMs : [minMs, maxMs];
}

/** The second output line. The API key is left out on principle, even a fake one. */
function describeSettings(opts: MockServerCommandOptions): string {
  const parts = [`ids: ${opts.ids}`];
  parts.push(
    opts.rateLimit === undefined
      ? 'rate limit: none'
      : `rate limit: ${opts.rateLimit}/s (429 hint: ${opts.retryAfter ?? 'seconds'})`,
  );
  if (opts.rateLimitChange !== undefined) parts.push(`then: ${opts.rateLimitChange}`);
  parts.push(`latency: ${opts.latencyMs === undefined ? '0' : opts.latencyMs} ms`);
  parts.push(`fail rate: ${opts.failRate ?? 0}`);
  if ((opts.lostResponseRate ?? 0) > 0) parts.push(`lost response rate: ${opts.lostResponseRate}`);
  if ((opts.lostResponse500Rate ?? 0) > 0)
    parts.push(`lost response 500 rate: ${opts.lostResponse500Rate}`);
  parts.push(`seed: ${opts.seed ?? 1}`);
  return `${parts.join(', ')}; stop with Ctrl+C`;
}
