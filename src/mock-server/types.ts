/**
 * Public types of the built-in mock server: its options, what it records, and the
 * Contact it stores. Kept apart from the implementation so callers can import them
 * with `import type` and nothing else.
 */

/** A Clerk Chat contact, as the API answers it (see api/update-contact.txt). */
export interface Contact {
  id: string;
  teamId: string;
  createdByUserId: string;
  name: string | null;
  /** E.164, e.g. `+15550001234`. */
  phone: string;
  email: string | null;
  /** Appears only in answers: the public API cannot set it. */
  externalId: string | null;
  /** Appears only in answers: the public API cannot set it. */
  optOut: boolean;
  avatarURL: string | null;
  public: boolean;
  data: Record<string, unknown>;
  attributes: unknown[];
  /** ISO 8601. */
  created: string;
  /** ISO 8601; strictly later after every applied update. */
  updated: string;
}

/** How a 429 tells the client when to come back. */
export type RetryAfterStyle = 'seconds' | 'http-date' | 'x-ratelimit-reset' | 'none';

/** One step of a changing rate limit: the new limit and when it applies (one of the two). */
export interface RateLimitChange {
  /** The new limit, requests per second. */
  perSecond: number;
  /** @default the new perSecond (at least 1) */
  burst?: number;
  /** Applies once this many requests were let through since the limit was set. */
  afterAllowed?: number;
  /** Applies this many ms after the limit was set (server start or `configure`). */
  afterMs?: number;
}

export interface RateLimitOptions {
  /** Requests allowed per second, on average. Fractions are allowed (0.5 = one every 2 s). */
  perSecond: number;
  /**
   * Requests allowed at once after a quiet spell (the bucket size).
   * @default perSecond (at least 1)
   */
  burst?: number;
  /**
   * `seconds`: `Retry-After: <integer seconds until a token is free, at least 1>`;
   * `http-date`: `Retry-After: <HTTP-date>`; `x-ratelimit-reset`:
   * `X-RateLimit-Reset: <unix epoch seconds>`; `none`: no hint at all.
   * @default 'seconds'
   */
  retryAfter?: RetryAfterStyle;
  /**
   * Later changes of the limit, applied in order, e.g. 300/s then
   * `[{ perSecond: 100, afterAllowed: 6_000 }]`: a limit that drops in the middle of a run.
   * @default [] (the limit never changes)
   */
  schedule?: RateLimitChange[];
}

/**
 * Rates apply to every write: PUT, `POST /public/contacts` and `POST /public/contacts/batch`
 * (one draw per request, so a batch fails or lands as a whole).
 */
export interface FaultOptions {
  /** Share of writes answered 500, 502 or 503 (502/503 with an HTML body, as a proxy sends). @default 0 */
  serverErrorRate?: number;
  /** Share of writes whose connection is reset without an answer. @default 0 */
  resetRate?: number;
  /** Share of writes accepted and never answered (the client must time out); hung sockets are destroyed on close(). @default 0 */
  hangRate?: number;
  /** Share of writes that are applied (updated, created), then the connection reset: the client never learns it landed. @default 0 */
  lostResponseRate?: number;
  /** Share of writes that are applied, then answered 500 (a failure after the commit): the client is told it failed. @default 0 */
  lostResponse500Rate?: number;
}

/** A canned answer: an object body is sent as JSON, a string as raw text (e.g. an HTML error page). */
export interface ScriptedResponse {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

/** Which write a request is: PUT to a contact, POST one contact, POST a batch. */
export type WriteRoute = 'update' | 'create' | 'batch';

export interface ScriptStep {
  /** Only PUTs to this contact id consume the step (so `id` implies `route: 'update'`). @default any id */
  id?: string;
  /** Only writes of this kind consume the step. @default any write */
  route?: WriteRoute;
  /** How many matching writes it answers. @default 1 */
  times?: number;
  /**
   * A canned answer (nothing is applied), or a fault: `lost-response` applies the write
   * and resets the connection, `lost-response-500` applies it and answers 500.
   */
  respond: ScriptedResponse | 'reset' | 'hang' | 'lost-response' | 'lost-response-500';
}

/** A phone held by several contacts (see MockServer.duplicatePhones). */
export interface DuplicatePhone {
  phone: string;
  /** Ids holding it, in the order the server came to hold them. */
  ids: string[];
}

export interface MockServerOptions {
  /** @default 0 (a random free port) */
  port?: number;
  /** Interface to bind. Never bind anything but loopback: the fake accepts a fake key. @default '127.0.0.1' */
  host?: string;
  /** The only key accepted in the `apiKey` header. @default 'test-key' */
  apiKey?: string;
  /**
   * Which contact ids exist: a list, a count N meaning ids "1".."N", or 'any' (every
   * id exists). Contacts are created lazily on their first successful GET or PUT, so
   * `contacts` holds only the ones touched so far.
   * @default 'any'
   */
  ids?: Iterable<string> | number | 'any';
  /** Latency added to every answer (and reset), ms: a number, or [min, max] drawn uniformly. @default 0 */
  latencyMs?: number | [number, number];
  /** Token bucket; requests over it get 429 and do not consume tokens. @default undefined (no limit) */
  rateLimit?: RateLimitOptions | undefined;
  /** Probability per PUT of each fault, drawn from a PRNG seeded by `seed`. @default no faults */
  faults?: FaultOptions;
  /**
   * Scripted answers for deterministic tests, consumed in order: each PUT takes the
   * first step whose `id` matches (or that has none). Checked after auth and the rate
   * limit, before random faults.
   * @default []
   */
  script?: ScriptStep[];
  /** Seed of the PRNGs behind faults and latency ranges. @default 1 */
  seed?: number;
  /** Keep every request in `requests`. Turn off for million-row benchmarks. @default true */
  record?: boolean;
  /**
   * Most contacts `POST /public/contacts/batch` takes; more is a 400 and nothing is
   * created. The API documents no limit: 100 is this fake's assumption (a common cap,
   * e.g. HubSpot's batch create), so a client must keep its batches configurable.
   * @default 100
   */
  batchMaxContacts?: number;
  /**
   * Status of a successful batch. The documentation gives none; NestJS answers 201 to a
   * POST unless told otherwise, so a client should accept either.
   * @default 200
   */
  batchStatus?: 200 | 201;
}

export interface RecordedRequest {
  /** 1-based arrival order (restarts after reset()). */
  seq: number;
  method: string;
  /** The request target as received, still percent-encoded. */
  path: string;
  /** The decoded id when the path is `/public/contacts/{id}` (whatever the method), else undefined. */
  id: string | undefined;
  /** The body parsed as JSON, or the raw string when it is not JSON, or undefined when empty. */
  body: unknown;
  rawBody: string;
  apiKeyPresent: boolean;
  /** Status answered; 0 for reset, hang, lost-response, and while still in flight (500 for lost-response-500). */
  status: number;
  outcome: 'answered' | 'reset' | 'hang' | 'lost-response' | 'lost-response-500';
  /** Epoch ms with sub-millisecond precision. */
  receivedAtMs: number;
  /** When the answer was finished or the socket closed; undefined while in flight (a hang until the client gives up). */
  finishedAtMs: number | undefined;
  /**
   * Headers of the answer as sent (names lower-case), e.g. a 429's `retry-after`, so a
   * test can check the client kept out of the window it announced. Undefined until
   * answered, and for reset, hang and lost-response.
   */
  responseHeaders: Record<string, string> | undefined;
}

export interface MockServerStats {
  /** Requests received. */
  total: number;
  /** Answers by status ('200', '429', ...), plus 'reset', 'hang', 'lost-response' and 'lost-response-500'. */
  byStatus: Record<string, number>;
  /** Most requests in flight at once (from request received to answer finished or socket closed). */
  maxInFlight: number;
  /** Times a PUT for an id arrived while another PUT for the same id was still in flight. */
  sameIdOverlaps: number;
  /** PUTs whose update was stored (including lost responses). */
  updatesApplied: number;
  /** Contacts created by POST and batch POST (including lost responses). */
  contactsCreated: number;
}

export type MockServerSettings = Partial<
  Pick<MockServerOptions, 'latencyMs' | 'rateLimit' | 'faults' | 'script' | 'apiKey'>
>;

export interface MockServer {
  /** e.g. 'http://127.0.0.1:53211' */
  readonly url: string;
  readonly port: number;
  /** Every request in arrival order (empty when `record` is false). */
  readonly requests: RecordedRequest[];
  /** Contacts touched so far, by id. */
  readonly contacts: Map<string, Contact>;
  readonly stats: MockServerStats;
  /** Change settings while running; keys left out keep their value, `rateLimit: undefined` removes the limit. */
  configure(options: MockServerSettings): void;
  /** Clear `requests` and `stats` (not contacts), in place. */
  reset(): void;
  /**
   * Phones held by more than one contact where at least one was created through POST:
   * empty when a client never created a contact twice. Mock-only, also served as
   * `GET /__admin/duplicates`. Untouched seed contacts are left out: their made-up
   * phones can collide by chance.
   */
  duplicatePhones(): DuplicatePhone[];
  /** Stop listening and destroy every socket, hung or idle, so it never hangs. */
  close(): Promise<void>;
}
