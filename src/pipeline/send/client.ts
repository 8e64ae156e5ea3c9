/**
 * send/: everything about putting one row on the wire. client.ts (the undici client,
 * whose results never throw), contact-path.ts, error-message.ts and retry-after.ts (what
 * an answer says), retry-policy.ts (pure: what a result means, how long to wait),
 * outage.ts (an API that is down, not bad rows) and row-sender.ts (one row, with its
 * retries, through the limiter).
 */
import type { Dispatcher } from 'undici';
import { Pool } from 'undici';
import { redactor } from '../../report/redact.js';
import { contactPath } from './contact-path.js';
import { describeHttpError } from './error-message.js';
import { retryAfterMs } from './retry-after.js';

export { contactPath };

/** What one PUT came back with. */
export type SendResult =
  /** `body`: the answer's text, kept for a create only (it holds the new ids). */
  | { kind: 'ok'; status: number; body?: string }
  | { kind: 'http-error'; status: number; message: string; retryAfterMs: number | undefined }
  | { kind: 'network-error'; code: string; message: string }
  | { kind: 'timeout'; message: string }
  /** Our own abort (a second Ctrl-C): the outcome is unknown, the row is re-sent on resume. */
  | { kind: 'aborted' };

export interface ContactClient {
  /** PUT `body` to `/public/contacts/{id}`. Never throws: every outcome is a value. */
  put(id: string, body: string, signal?: AbortSignal): Promise<SendResult>;
  /**
   * POST `body` to `/public/contacts` (one contact) or `/public/contacts/batch`. The ok
   * result carries the answer's body (the created contacts). Never throws.
   */
  post(route: 'create' | 'batch', body: string, signal?: AbortSignal): Promise<SendResult>;
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

/** Error bodies are kept up to this many bytes; the message shows ~300 characters anyway. */
const MAX_ERROR_BODY_BYTES = 64 * 1024;
/**
 * A create's answer is kept up to this many bytes: 100 contacts of ~1 KB each and room
 * to spare. A longer answer is cut, fails to parse, and its rows become `uncertain`.
 */
const MAX_CREATED_BODY_BYTES = 8 * 1024 * 1024;

const CREATE_PATHS = { create: '/public/contacts', batch: '/public/contacts/batch' } as const;

type Controller = Dispatcher.DispatchController;
type Headers = Record<string, string | string[] | undefined>;

/**
 * One PUT in flight: undici's dispatch handler and our own bookkeeping in one object.
 * A class rather than closures: one small object per request, no AbortController, no
 * timer, no listener (those were most of the per-request garbage and CPU before).
 * The promise is settled exactly once; whatever undici reports after that (the error
 * that our own abort causes) is ignored.
 */
class PutRequest implements Dispatcher.DispatchHandler {
  settled = false;
  controller: Controller | undefined;
  status = 0;
  headers: Headers | undefined;
  chunks: Buffer[] | undefined;
  bytes = 0;

  constructor(
    readonly client: Sender,
    readonly deadline: number,
    readonly signal: AbortSignal | undefined,
    readonly resolve: (result: SendResult) => void,
    /** Keep a 2xx answer's body (creates: it holds the new ids). */
    readonly keepOkBody = false,
  ) {}

  settle(result: SendResult): void {
    if (this.settled) return;
    this.settled = true;
    this.client.inFlight.delete(this);
    this.resolve(result);
  }

  /** Settle now (deadline, hard abort) and cut the request off if it has started. */
  cancel(result: SendResult): void {
    this.settle(result);
    this.controller?.abort(new Error('request cancelled'));
  }

  onRequestStart(controller: Controller): void {
    // Cancelled while it was still queued in the pool: never put it on the wire.
    if (this.settled) controller.abort(new Error('request cancelled'));
    else this.controller = controller;
  }

  onResponseStart(_controller: Controller, statusCode: number, headers: Headers): void {
    this.status = statusCode;
    // 2xx bodies of updates are drained and dropped; only error answers (and a
    // create's answer) keep headers and body.
    if (statusCode < 200 || statusCode >= 300 || this.keepOkBody) {
      this.headers = headers;
      this.chunks = [];
    }
  }

  onResponseData(_controller: Controller, chunk: Buffer): void {
    const max =
      this.keepOkBody && this.status >= 200 && this.status < 300
        ? MAX_CREATED_BODY_BYTES
        : MAX_ERROR_BODY_BYTES;
    if (this.chunks === undefined || this.bytes >= max) return;
    const room = max - this.bytes;
    const kept = chunk.length > room ? chunk.subarray(0, room) : chunk;
    this.chunks.push(kept);
    this.bytes += kept.length;
  }

  onResponseEnd(): void {
    const status = this.status;
    if (this.chunks === undefined) {
      this.settle({ kind: 'ok', status });
      return;
    }
    const headers = this.headers ?? {};
    const text = Buffer.concat(this.chunks, this.bytes).toString('utf8');
    if (status >= 200 && status < 300) {
      this.settle({ kind: 'ok', status, body: text });
      return;
    }
    const contentType = String(headers['content-type'] ?? '');
    this.settle({
      kind: 'http-error',
      status,
      message: describeHttpError(status, text, contentType, this.client.redact),
      retryAfterMs:
        status === 429 || status === 503 ? retryAfterMs(headers, Date.now()) : undefined,
    });
  }

  onResponseError(_controller: Controller | undefined, err: Error): void {
    if (this.settled) return;
    const e = err as { code?: string; message?: string; cause?: { code?: string } };
    const code = e.cause?.code ?? e.code ?? 'ERR_NETWORK';
    this.settle({ kind: 'network-error', code, message: networkMessage(code, e.message) });
  }
}

/** What a PutRequest needs from its client. */
interface Sender {
  readonly inFlight: Set<PutRequest>;
  /** Hides the API key in error messages, before they are cut to length. */
  readonly redact: (text: string) => string;
}

/**
 * HTTP client for the contacts endpoint. undici's Pool with keep-alive is used instead
 * of `fetch` (about 10× less CPU per request, .notes/perf.md §1), through its lowest
 * public layer, `dispatch` with a handler: no response Readable, no per-request
 * AbortController, timer or listener. Deadlines are checked by one sweep timer for
 * all requests in flight; a hard abort cancels them all at once.
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
  const timeoutMs = options.timeoutMs;
  const timeoutMessage = `no answer within ${timeoutMs} ms`;
  const sender: Sender = { inFlight: new Set(), redact: redactor(options.apiKey) };
  const inFlight = sender.inFlight;

  // One deadline sweep for every request in flight. A request times out between its
  // deadline and one sweep step later (a tenth of the timeout, 10 ms to 1 s).
  const sweepMs = Math.min(1_000, Math.max(10, Math.floor(timeoutMs / 10)));
  let sweeper: NodeJS.Timeout | undefined;
  const sweep = () => {
    if (inFlight.size === 0) {
      clearInterval(sweeper);
      sweeper = undefined;
      return;
    }
    const now = Date.now();
    for (const request of inFlight) {
      if (request.deadline <= now) request.cancel({ kind: 'timeout', message: timeoutMessage });
    }
  };

  // One listener per run signal (not one per request): a hard abort settles every
  // request in flight as `aborted` and cuts it off.
  const watched: Array<{ signal: AbortSignal; onAbort: () => void }> = [];
  const watch = (signal: AbortSignal) => {
    if (watched.some((w) => w.signal === signal)) return;
    const onAbort = () => {
      for (const request of inFlight) {
        if (request.signal === signal) request.cancel({ kind: 'aborted' });
      }
    };
    signal.addEventListener('abort', onAbort, { once: true });
    watched.push({ signal, onAbort });
  };

  function put(id: string, body: string, signal?: AbortSignal): Promise<SendResult> {
    return send('PUT', contactPath(id), body, signal, false);
  }

  function post(route: 'create' | 'batch', body: string, signal?: AbortSignal) {
    return send('POST', CREATE_PATHS[route], body, signal, true);
  }

  function send(
    method: 'PUT' | 'POST',
    path: string,
    body: string,
    signal: AbortSignal | undefined,
    keepOkBody: boolean,
  ): Promise<SendResult> {
    if (signal !== undefined) {
      if (signal.aborted) return Promise.resolve({ kind: 'aborted' });
      watch(signal);
    }
    return new Promise<SendResult>((resolve) => {
      const request = new PutRequest(sender, Date.now() + timeoutMs, signal, resolve, keepOkBody);
      inFlight.add(request);
      if (sweeper === undefined) {
        sweeper = setInterval(sweep, sweepMs);
        // Never what keeps the process alive: sockets in use do that.
        sweeper.unref();
      }
      pool.dispatch({ method, path: prefix + path, headers, body }, request);
    });
  }

  async function close(): Promise<void> {
    // Requests still in flight keep their deadlines while the pool drains them.
    if (inFlight.size === 0) {
      clearInterval(sweeper);
      sweeper = undefined;
    }
    for (const { signal, onAbort } of watched) signal.removeEventListener('abort', onAbort);
    watched.length = 0;
    await pool.close();
  }

  return { put, post, close };
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
