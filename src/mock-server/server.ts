/**
 * The fake Clerk Chat contacts API on node:http: PUT a contact, POST one, POST a batch
 * (and GET a contact, plus the mock-only `GET /__admin/duplicates`). Each request is decided when its
 * headers arrive (auth, rate limit, script, faults), so the limiter sees true arrival
 * times; it is carried out once the body is read and the latency has passed, so
 * concurrent PUTs for one id really race, as they would against the real service.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { ContactsStore } from './contacts-store.js';
import { type CannedAnswer, type Disruption, Faults, type WriteTarget } from './faults.js';
import {
  CONTACT_NOT_FOUND_BODY,
  INTERNAL_ERROR_BODY,
  nestError,
  PAYLOAD_TOO_LARGE_BODY,
  proxyErrorPage,
  routeNotFound,
  TOO_MANY_REQUESTS_BODY,
  UNAUTHORIZED_BODY,
} from './nest-errors.js';
import {
  type CheckedRateLimit,
  checkApiKey,
  checkBatchOptions,
  checkFaults,
  checkLatency,
  checkRateLimit,
  checkScript,
  checkStartOptions,
  type LatencyRange,
} from './options.js';
import { createPrng } from './prng.js';
import { retryHeaders, ScheduledRateLimiter } from './rate-limit.js';
import { BATCH_SEGMENT, matchRoute } from './route.js';
import type {
  Contact,
  DuplicatePhone,
  MockServer,
  MockServerOptions,
  MockServerSettings,
  MockServerStats,
  RecordedRequest,
} from './types.js';
import {
  type CheckedCreate,
  checkBatch,
  checkCreate,
  checkUpdate,
  parseBody,
} from './validate-body.js';

/** body-parser's default limit; larger bodies get 413. */
const BODY_LIMIT_BYTES = 100 * 1024;
const JSON_TYPE = 'application/json; charset=utf-8';
const HTML_TYPE = 'text/html; charset=utf-8';
const UNAUTHORIZED = jsonAnswer(401, UNAUTHORIZED_BODY);

/** How the answer to a write that was applied goes missing, if it does. */
type Lost = false | 'reset' | 500;

/** What to do with a request, decided on arrival. */
type Plan =
  | { kind: 'answer'; answer: CannedAnswer }
  | { kind: 'get'; id: string }
  | { kind: 'duplicates' }
  | { kind: 'put'; id: string; lost: Lost }
  | { kind: 'create'; batch: boolean; lost: Lost }
  | { kind: 'bad-id'; segment: string }
  | Exclude<
      Disruption,
      { kind: 'answer' } | { kind: 'lost-response' } | { kind: 'lost-response-500' }
    >;

/** One request in flight. */
interface Exchange {
  req: IncomingMessage;
  res: ServerResponse;
  record: RecordedRequest | undefined;
  /** The id this PUT holds in the same-id overlap count, released when it finishes. */
  putId: string | undefined;
  closed: boolean;
}

/** Start the fake API; resolves once it is listening. */
export async function startMockServer(options: MockServerOptions = {}): Promise<MockServer> {
  const server = new FakeClerkServer(options);
  await server.listen();
  return server;
}

class FakeClerkServer implements MockServer {
  readonly requests: RecordedRequest[] = [];
  readonly stats: MockServerStats = {
    total: 0,
    byStatus: {},
    maxInFlight: 0,
    sameIdOverlaps: 0,
    updatesApplied: 0,
    contactsCreated: 0,
  };
  readonly #store: ContactsStore;
  readonly #batch: { maxContacts: number; status: 200 | 201 };
  readonly #http: Server;
  readonly #host: string;
  readonly #requestedPort: number;
  readonly #record: boolean;
  readonly #faults: Faults;
  readonly #latencyRandom: () => number;
  /** Pending latency timers, cleared on close() so nothing fires into a closed server. */
  readonly #timers = new Set<NodeJS.Timeout>();
  /** PUTs in flight per id, for `sameIdOverlaps`; entries are removed at zero. */
  readonly #putsInFlight = new Map<string, number>();
  #apiKey = 'test-key';
  #latency: LatencyRange = { minMs: 0, maxMs: 0 };
  #rateLimit: CheckedRateLimit | undefined;
  #limiter: ScheduledRateLimiter | undefined;
  #inFlight = 0;
  #seq = 0;
  #port = 0;
  #closing: Promise<void> | undefined;

  constructor(options: MockServerOptions) {
    const start = checkStartOptions(options);
    this.#host = start.host;
    this.#requestedPort = start.port;
    this.#record = start.record;
    this.#store = new ContactsStore(start.ids);
    this.#batch = checkBatchOptions(options);
    // Separate streams, so changing the latency does not change which requests fail.
    this.#faults = new Faults(start.seed);
    this.#latencyRandom = createPrng(start.seed ^ 0x5bd1e995);
    this.configure({
      apiKey: options.apiKey ?? 'test-key',
      latencyMs: options.latencyMs ?? 0,
      rateLimit: options.rateLimit,
      faults: options.faults ?? {},
      script: options.script ?? [],
    });
    this.#http = createServer(this.#onRequest);
  }

  get url(): string {
    const host = this.#host.includes(':') ? `[${this.#host}]` : this.#host;
    return `http://${host}:${this.#port}`;
  }

  get port(): number {
    return this.#port;
  }

  get contacts(): Map<string, Contact> {
    return this.#store.contacts;
  }

  duplicatePhones(): DuplicatePhone[] {
    return this.#store.duplicatePhones();
  }

  listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#http.once('error', reject);
      this.#http.listen(this.#requestedPort, this.#host, () => {
        this.#http.off('error', reject);
        this.#port = (this.#http.address() as AddressInfo).port;
        resolve();
      });
    });
  }

  configure(options: MockServerSettings): void {
    // Check everything before changing anything, so a bad option leaves the server as it was.
    const apiKey = 'apiKey' in options ? checkApiKey(options.apiKey ?? 'test-key') : undefined;
    const latency = 'latencyMs' in options ? checkLatency(options.latencyMs ?? 0) : undefined;
    const rateLimit = 'rateLimit' in options ? checkRateLimit(options.rateLimit) : undefined;
    const faults = 'faults' in options ? checkFaults(options.faults) : undefined;
    const script = 'script' in options ? checkScript(options.script) : undefined;
    if (apiKey !== undefined) this.#apiKey = apiKey;
    if (latency !== undefined) this.#latency = latency;
    if ('rateLimit' in options) {
      this.#rateLimit = rateLimit;
      this.#limiter =
        rateLimit === undefined
          ? undefined
          : new ScheduledRateLimiter(
              rateLimit.perSecond,
              rateLimit.burst,
              rateLimit.schedule,
              performance.now(),
            );
    }
    if (faults !== undefined) this.#faults.setRates(faults);
    if (script !== undefined) this.#faults.setScript(script);
  }

  reset(): void {
    this.requests.length = 0;
    this.#seq = 0;
    this.stats.total = 0;
    this.stats.byStatus = {};
    // Requests still in flight keep counting; the peak restarts from them.
    this.stats.maxInFlight = this.#inFlight;
    this.stats.sameIdOverlaps = 0;
    this.stats.updatesApplied = 0;
    this.stats.contactsCreated = 0;
  }

  close(): Promise<void> {
    this.#closing ??= new Promise((resolve) => {
      for (const timer of this.#timers) clearTimeout(timer);
      this.#timers.clear();
      // close() alone would wait for keep-alive and hung sockets; end them all now.
      this.#http.close(() => resolve());
      this.#http.closeAllConnections();
    });
    return this.#closing;
  }

  readonly #onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    const method = req.method ?? 'GET';
    const target = req.url ?? '/';
    const route = matchRoute(target);
    const id = route.kind === 'contact' ? route.id : undefined;

    this.stats.total++;
    this.#inFlight++;
    if (this.#inFlight > this.stats.maxInFlight) this.stats.maxInFlight = this.#inFlight;

    let record: RecordedRequest | undefined;
    if (this.#record) {
      record = {
        seq: ++this.#seq,
        method,
        path: target,
        id,
        body: undefined,
        rawBody: '',
        apiKeyPresent: req.headers.apikey !== undefined,
        status: 0,
        outcome: 'answered',
        receivedAtMs: performance.timeOrigin + performance.now(),
        finishedAtMs: undefined,
        responseHeaders: undefined,
      };
      this.requests.push(record);
    }

    let putId: string | undefined;
    if (method === 'PUT' && id !== undefined) {
      const inFlightForId = this.#putsInFlight.get(id) ?? 0;
      if (inFlightForId > 0) this.stats.sameIdOverlaps++;
      this.#putsInFlight.set(id, inFlightForId + 1);
      putId = id;
    }

    const exchange: Exchange = { req, res, record, putId, closed: false };
    // 'close' comes both after a finished answer and when the socket dies first, so
    // in-flight counts stay right for resets, hangs and clients that give up.
    res.once('close', () => this.#finish(exchange));
    // A client that hangs up mid-body must not crash the server with an unhandled 'error'.
    req.on('error', ignore);
    res.on('error', ignore);

    const plan = this.#decide(method, target, route, req);
    this.#readBody(exchange, plan);
  };

  #decide(
    method: string,
    target: string,
    route: ReturnType<typeof matchRoute>,
    req: IncomingMessage,
  ): Plan {
    const write = writeOf(method, route);
    const read =
      method === 'GET' && (route.kind === 'contact' || route.kind === 'admin-duplicates');
    // A PUT or GET whose id segment does not decode is the API's 400, not a missing route.
    const badId = route.kind === 'bad-id' && (method === 'PUT' || method === 'GET');
    if (write === undefined && !read && !badId) {
      return jsonAnswer(404, routeNotFound(method, target));
    }
    // The fake's own inspection route: no key, no limit, never disturbed.
    if (route.kind === 'admin-duplicates') return { kind: 'duplicates' };
    // Auth first: a wrong key learns nothing else, not even whether it is throttled.
    if (req.headers.apikey !== this.#apiKey) return UNAUTHORIZED;
    if (this.#limiter !== undefined && this.#rateLimit !== undefined) {
      const waitMs = this.#limiter.take(performance.now());
      if (waitMs > 0) {
        return {
          kind: 'answer',
          answer: {
            status: 429,
            body: TOO_MANY_REQUESTS_BODY,
            headers: {
              'content-type': JSON_TYPE,
              ...retryHeaders(this.#rateLimit.retryAfter, waitMs, Date.now()),
            },
          },
        };
      }
    }
    if (route.kind === 'bad-id') return { kind: 'bad-id', segment: route.segment };
    if (write === undefined) {
      return route.kind === 'contact'
        ? { kind: 'get', id: route.id }
        : jsonAnswer(404, routeNotFound(method, target));
    }
    // Script and faults disturb writes only: GETs are for inspecting the state.
    const disruption = this.#faults.next(write);
    let lost: Lost = false;
    if (disruption !== undefined) {
      switch (disruption.kind) {
        case 'answer':
          return { kind: 'answer', answer: disruption.answer };
        case 'lost-response':
          lost = 'reset';
          break;
        case 'lost-response-500':
          lost = 500;
          break;
        default:
          return disruption;
      }
    }
    return write.route === 'update'
      ? { kind: 'put', id: write.id, lost }
      : { kind: 'create', batch: write.route === 'batch', lost };
  }

  #readBody(exchange: Exchange, plan: Plan): void {
    // Bodies are only kept when someone will look at them.
    const keep = exchange.record !== undefined || plan.kind === 'put' || plan.kind === 'create';
    const chunks: Buffer[] = [];
    let bytes = 0;
    const { req } = exchange;
    req.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      if (keep && bytes <= BODY_LIMIT_BYTES) chunks.push(chunk);
    });
    req.on('end', () => {
      const raw =
        chunks.length === 0
          ? ''
          : chunks.length === 1
            ? (chunks[0] as Buffer).toString('utf8')
            : Buffer.concat(chunks).toString('utf8');
      const { record } = exchange;
      if (record !== undefined) {
        record.rawBody = raw;
        record.body = raw === '' ? undefined : parseOrRaw(raw);
      }
      const tooLarge = bytes > BODY_LIMIT_BYTES;
      if (plan.kind === 'hang') {
        this.#hang(exchange);
        return;
      }
      const delayMs = this.#drawLatencyMs();
      if (delayMs <= 0) {
        this.#carryOut(exchange, plan, raw, tooLarge);
        return;
      }
      const timer = setTimeout(() => {
        this.#timers.delete(timer);
        this.#carryOut(exchange, plan, raw, tooLarge);
      }, delayMs);
      this.#timers.add(timer);
    });
  }

  #carryOut(exchange: Exchange, plan: Plan, raw: string, tooLarge: boolean): void {
    try {
      switch (plan.kind) {
        case 'answer':
          this.#send(exchange, plan.answer.status, plan.answer.body, plan.answer.headers);
          return;
        case 'server-error':
          if (plan.status === 500) this.#sendJson(exchange, 500, INTERNAL_ERROR_BODY);
          else {
            this.#send(exchange, plan.status, proxyErrorPage(plan.status), {
              'content-type': HTML_TYPE,
            });
          }
          return;
        case 'reset':
          this.#destroy(exchange, 'reset');
          return;
        case 'bad-id':
          this.#sendJson(exchange, 400, nestError(400, `Failed to decode param '${plan.segment}'`));
          return;
        case 'get': {
          const contact = this.#store.get(plan.id);
          if (contact === undefined) this.#sendJson(exchange, 404, CONTACT_NOT_FOUND_BODY);
          else this.#sendJson(exchange, 200, JSON.stringify({ data: contact }));
          return;
        }
        case 'put':
          this.#put(exchange, plan.id, plan.lost, raw, tooLarge);
          return;
        case 'create':
          this.#create(exchange, plan.batch, plan.lost, raw, tooLarge);
          return;
        case 'duplicates':
          this.#sendJson(exchange, 200, JSON.stringify({ data: this.#store.duplicatePhones() }));
          return;
        case 'hang':
          this.#hang(exchange);
          return;
      }
    } catch {
      // A bug in the fake should look like a server bug to the client, not kill the process.
      this.#sendJson(exchange, 500, INTERNAL_ERROR_BODY);
    }
  }

  /**
   * A write's common path, in the real service's order: body parser (413, 400), then
   * `handle` (validation pipe and handler), then the answer, unless a fault eats it.
   */
  #write(
    exchange: Exchange,
    lost: Lost,
    raw: string,
    tooLarge: boolean,
    handle: (value: unknown) => { status: number; body: string },
  ): void {
    const parsed = tooLarge ? undefined : parseBody(raw, exchange.req.headers['content-type']);
    const answer =
      parsed === undefined
        ? { status: 413, body: PAYLOAD_TOO_LARGE_BODY }
        : !parsed.ok
          ? { status: 400, body: nestError(400, parsed.message) }
          : handle(parsed.value);
    this.#answerWrite(exchange, lost, answer.status, answer.body);
  }

  #put(exchange: Exchange, id: string, lost: Lost, raw: string, tooLarge: boolean): void {
    this.#write(exchange, lost, raw, tooLarge, (value) => {
      const checked = checkUpdate(value);
      if (!checked.ok) return { status: 400, body: nestError(400, checked.messages) };
      // Applied even if the client already gave up: the server does not know or care.
      const contact = this.#store.update(id, checked.update);
      if (contact === undefined) return { status: 404, body: CONTACT_NOT_FOUND_BODY };
      this.stats.updatesApplied++;
      return { status: 200, body: JSON.stringify({ data: contact }) };
    });
  }

  /**
   * `POST /public/contacts` (201, `{data: Contact}`) or `.../batch` (`{data: [Contact]}`
   * in request order). A batch is validated as a whole first, so a bad element creates
   * nothing; then every contact is created, even if the answer is then lost.
   */
  #create(exchange: Exchange, batch: boolean, lost: Lost, raw: string, tooLarge: boolean): void {
    this.#write(exchange, lost, raw, tooLarge, (value) => {
      const checked: CheckedCreate = batch
        ? checkBatch(value, this.#batch.maxContacts)
        : checkCreate(value);
      if (!checked.ok) return { status: 400, body: nestError(400, checked.messages) };
      const created = checked.contacts.map((fields) => this.#store.create(fields));
      this.stats.contactsCreated += created.length;
      return {
        status: batch ? this.#batch.status : 201,
        body: JSON.stringify({ data: batch ? created : created[0] }),
      };
    });
  }

  /** Send a write's answer, unless a lost-response fault eats it. */
  #answerWrite(exchange: Exchange, lost: Lost, status: number, body: string): void {
    if (lost === 'reset') this.#destroy(exchange, 'lost-response');
    else if (lost === 500) {
      this.#sendJson(exchange, 500, INTERNAL_ERROR_BODY, 'lost-response-500');
    } else this.#sendJson(exchange, status, body);
  }

  #sendJson(exchange: Exchange, status: number, body: string, outcome?: 'lost-response-500'): void {
    this.#send(exchange, status, body, { 'content-type': JSON_TYPE }, outcome);
  }

  #send(
    exchange: Exchange,
    status: number,
    body: string,
    headers: Record<string, string>,
    outcome?: 'lost-response-500',
  ): void {
    const { res, record } = exchange;
    // The client left during the latency: there is nobody to answer.
    if (exchange.closed || res.writableEnded) return;
    res.writeHead(status, { ...headers, 'content-length': Buffer.byteLength(body) });
    res.end(body);
    this.#count(outcome ?? status);
    if (record !== undefined) {
      record.status = status;
      record.responseHeaders = headers;
      if (outcome !== undefined) record.outcome = outcome;
    }
  }

  #destroy(exchange: Exchange, outcome: 'reset' | 'lost-response'): void {
    if (exchange.record !== undefined) exchange.record.outcome = outcome;
    this.#count(outcome);
    // An RST rather than a FIN: the client sees ECONNRESET, as with a crashed backend.
    if (!exchange.closed) exchange.req.socket.resetAndDestroy();
  }

  #hang(exchange: Exchange): void {
    if (exchange.record !== undefined) exchange.record.outcome = 'hang';
    this.#count('hang');
    // Nothing else: the socket stays open until the client gives up or close() ends it.
  }

  #count(key: number | string): void {
    const { byStatus } = this.stats;
    byStatus[key] = (byStatus[key] ?? 0) + 1;
  }

  #finish(exchange: Exchange): void {
    exchange.closed = true;
    this.#inFlight--;
    const { putId, record } = exchange;
    if (putId !== undefined) {
      const left = (this.#putsInFlight.get(putId) ?? 1) - 1;
      if (left <= 0) this.#putsInFlight.delete(putId);
      else this.#putsInFlight.set(putId, left);
    }
    if (record !== undefined) record.finishedAtMs = performance.timeOrigin + performance.now();
  }

  #drawLatencyMs(): number {
    const { minMs, maxMs } = this.#latency;
    if (maxMs === minMs) return minMs;
    return minMs + this.#latencyRandom() * (maxMs - minMs);
  }
}

/** Which write a request is, or undefined when it writes nothing. */
function writeOf(method: string, route: ReturnType<typeof matchRoute>): WriteTarget | undefined {
  if (method === 'PUT' && route.kind === 'contact') return { route: 'update', id: route.id };
  if (method !== 'POST') return undefined;
  if (route.kind === 'collection') return { route: 'create' };
  if (route.kind === 'contact' && route.id === BATCH_SEGMENT) return { route: 'batch' };
  return undefined;
}

function jsonAnswer(status: number, body: string): Plan {
  return { kind: 'answer', answer: { status, body, headers: { 'content-type': JSON_TYPE } } };
}

function parseOrRaw(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
}

function ignore(): void {}
