import { Pool } from 'undici';
import { describeHttpError } from './error-message.js';
import { retryAfterMs } from './retry-after.js';
import { contactPath } from './to-payload.js';

/** What one PUT came back with. */
export type SendResult =
  | { kind: 'ok'; status: number }
  | { kind: 'http-error'; status: number; message: string; retryAfterMs: number | undefined }
  | { kind: 'network-error'; code: string; message: string }
  | { kind: 'timeout'; message: string }
  /** Our own abort (a second Ctrl-C): the outcome is unknown, the row is re-sent on resume. */
  | { kind: 'aborted' };

export interface ContactClient {
  /** PUT `body` to `/public/contacts/{id}`. Never throws: every outcome is a value. */
  put(id: string, body: string, signal?: AbortSignal): Promise<SendResult>;
  close(): Promise<void>;
}

export interface ContactClientOptions {
  /** API base URL, optionally with a path prefix. */
  baseUrl: string;
  apiKey: string;
  /** Whole-request deadline, connect to last body byte. */
  timeoutMs: number;
  /** Keep-alive connections to open at most (the run's concurrency). */
  connections: number;
}

/**
 * HTTP client for the contacts endpoint. undici's Pool with keep-alive is used instead
 * of `fetch`: it skips the WHATWG stream machinery, which is most of fetch's per-request
 * cost, and gives one bounded pool of reusable connections per run.
 */
export function createContactClient(options: ContactClientOptions): ContactClient {
  const base = new URL(options.baseUrl);
  const prefix = base.pathname.replace(/\/+$/, '');
  const pool = new Pool(base.origin, {
    connections: options.connections,
    pipelining: 1,
    keepAliveTimeout: 30_000,
    // The whole-request deadline below is what users set; these are just backstops.
    headersTimeout: 0,
    bodyTimeout: 0,
  });
  // Built once: only the path and body differ per row.
  const headers = {
    'content-type': 'application/json',
    accept: 'application/json',
    apikey: options.apiKey,
    'user-agent': 'clerk-bulk',
  };

  async function put(id: string, body: string, signal?: AbortSignal): Promise<SendResult> {
    // One controller per request, aborted by the deadline or by the run. Not
    // AbortSignal.any/timeout: on Node 20 those keep every request's signal alive on
    // the long-lived run signal, which grows memory and slows each request down.
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, options.timeoutMs);
    const onAbort = () => controller.abort();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const res = await pool.request({
        method: 'PUT',
        path: prefix + contactPath(id),
        headers,
        body,
        signal: controller.signal,
      });
      if (res.statusCode >= 200 && res.statusCode < 300) {
        await res.body.dump();
        return { kind: 'ok', status: res.statusCode };
      }
      const text = await res.body.text();
      const contentType = String(res.headers['content-type'] ?? '');
      return {
        kind: 'http-error',
        status: res.statusCode,
        message: describeHttpError(res.statusCode, text, contentType),
        retryAfterMs:
          res.statusCode === 429 || res.statusCode === 503
            ? retryAfterMs(res.headers, Date.now())
            : undefined,
      };
    } catch (err) {
      if (signal?.aborted === true) return { kind: 'aborted' };
      if (timedOut) {
        return { kind: 'timeout', message: `no answer within ${options.timeoutMs} ms` };
      }
      const e = err as { code?: string; message?: string; cause?: { code?: string } };
      const code = e.cause?.code ?? e.code ?? 'ERR_NETWORK';
      return { kind: 'network-error', code, message: networkMessage(code, e.message) };
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    }
  }

  return { put, close: () => pool.close() };
}

function networkMessage(code: string, message: string | undefined): string {
  switch (code) {
    case 'ECONNREFUSED':
      return 'connection refused';
    case 'ECONNRESET':
    case 'UND_ERR_SOCKET':
      return 'connection reset before an answer came';
    case 'ENOTFOUND':
      return 'host not found';
    case 'ETIMEDOUT':
    case 'UND_ERR_CONNECT_TIMEOUT':
      return 'connection timed out';
    default:
      return `network error ${code}${message === undefined ? '' : `: ${message}`}`;
  }
}
