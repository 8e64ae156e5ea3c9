import type { InputEncoding } from '../input/open-rows.js';
/**
 * The run's public shapes: its options, the events it reports and the summary it
 * returns. Types only, so that any module (the sidecar, the report) can name them
 * without importing the runner.
 */
import type { Mapping } from '../payload/mapping.js';
import type { CountryCode } from '../payload/phone.js';
import type { StatusCounts } from '../results/tally.js';
import type { ResultLine } from '../results/writer.js';

export interface UpdateOptions {
  /** Input CSV path. */
  input: string;
  /** What to call the input in messages and the summary. @default input */
  inputName?: string;
  /** Results CSV path. */
  out: string;
  /** Continue from `out`, skipping rows already final there. */
  resume?: boolean;
  /** With `resume`: also re-send rows that ended `failed` or `invalid`. */
  retryFailed?: boolean;
  /** Replace an existing results file. */
  force?: boolean;
  /** Validate and report payloads; send nothing. */
  dryRun?: boolean;
  /** Required unless `dryRun`. Never printed or written anywhere. */
  apiKey?: string;
  /** @default 'https://web-api.clerk.chat' */
  baseUrl?: string;
  /**
   * Requests per second at most; 0 for no limit; `'auto'` finds the API's limit from
   * its 429s and holds just under it (docs/performance.md). @default 10
   */
  ratePerSecond?: number | 'auto';
  /**
   * `'auto'` only (ignored with a numeric rate): the search never goes above this,
   * requests per second. @default 1000
   */
  maxRatePerSecond?: number;
  /**
   * `'auto'` only: the limit an earlier run of the same job found (its summary's
   * `rate.limitFoundPerSecond`, kept in the job state). The run starts just under it
   * instead of at 10/s, still backing off on a 429 and probing upward.
   * @default undefined (slow start from 10/s)
   */
  knownLimitPerSecond?: number;
  /** Requests in flight at most. @default 5 */
  concurrency?: number;
  /** Retries for 429, 5xx, timeouts and network errors. @default 5 */
  retries?: number;
  /** Per-request deadline. @default 30000 */
  timeoutMs?: number;
  /** Column mapping (already parsed and checked). */
  mapping?: Mapping;
  /** What an empty cell means. @default 'omit' */
  empty?: 'omit' | 'null';
  /** Field delimiter; detected from the header when absent. */
  delimiter?: string;
  /** Character encoding of the input (UTF-8 is checked strictly). @default 'utf-8' */
  encoding?: InputEncoding;
  /** Process only the first N data rows. */
  limit?: number;
  /** Abort after this many failed rows. */
  maxErrors?: number;
  /**
   * Base of the exponential backoff. Outage pauses and the outage give-up time scale
   * with it too (tests use a few ms to keep every wait short). @default 500
   */
  retryBaseDelayMs?: number;
  /**
   * Share one rate budget with every process on the same base URL and key through
   * this Redis (`redis://[user:password@]host[:port][/db]`; docs/shared-budget.md).
   * Ignored for a dry run. @default undefined (a private budget)
   */
  redisUrl?: string;
  /**
   * With `redisUrl`: when Redis cannot be reached at start, warn and run on a private
   * budget instead of failing with `E_REDIS_UNREACHABLE`. @default false
   */
  redisOptional?: boolean;
  /**
   * With `redisUrl`: requests in flight at most across every process sharing the
   * budget (each still keeps to its own `concurrency`). @default undefined (no global cap)
   */
  redisMaxInFlight?: number;
  /**
   * With `redisUrl`: how long a lost Redis is waited for (requests held) before the
   * run stops with `E_REDIS_LOST`, exit 3. @default 60000
   */
  redisGiveUpMs?: number;
  /** Aborting it stops reading; requests already sent finish and are recorded. */
  signal?: AbortSignal;
  /** Aborting it also abandons requests in flight (their rows are re-sent on resume). */
  forceSignal?: AbortSignal;
  /**
   * Job state directory (created on first use): rows whose payload equals the one the
   * API last confirmed for their id are not sent but recorded `unchanged`; the state
   * then records what this run confirmed (docs/state.md). It assumes nobody changed
   * these contacts in Clerk Chat since; `full` repairs that.
   */
  state?: string;
  /** With `state`: send every row, unchanged or not; the state is still updated. @default false */
  full?: boolean;
  /** Progress and messages; every method optional. */
  events?: RunEvents;
}

/** `import`: create one contact per row, in batches (docs/results-and-resume.md). */
export interface ImportOptions extends UpdateOptions {
  operation: 'create';
  /** Header of the column that identifies a row in the CRM; written in the results. */
  key?: string;
  /** Country of phone numbers written without a country code, e.g. `US`. */
  defaultCountry?: CountryCode;
  /** Contacts per `POST /public/contacts/batch` (one request against the rate). @default 50 */
  batchSize?: number;
  /** With `resume`: send again the rows left `uncertain` (may create duplicates). */
  resendUncertain?: boolean;
  /**
   * Job state directory: its key table maps each `key` to the contact created for it,
   * so a key is never created twice, across runs and results files. Needs `key`.
   */
  stateDir?: string;
  /** `sync`: a known key whose payload changed is updated (PUT); else it is `unchanged`. @default false */
  sync?: boolean;
}

export interface RunEvents {
  /** Once, before the first row: the results path and rows already done (resume). */
  start?(info: { input: string; resultsPath: string; alreadyDone: number; dryRun: boolean }): void;
  /** The fast line pre-count finished: about this many data rows in the file. */
  total?(estimatedRows: number): void;
  /** A row reached its final state in this run. */
  row?(line: ResultLine, counts: Readonly<StatusCounts>): void;
  /** A row was skipped because an earlier run finished it. */
  skipped?(row: number): void;
  /** A request will be retried. */
  retry?(info: { row: number; attempt: number; reason: string; delayMs: number }): void;
  /** The adaptive rate changed. */
  rate?(ratePerSecond: number, reason: 'throttled' | 'recovered'): void;
  /**
   * The rate in use and the limit found: once before the first request, then with
   * every visible change (each `rate` event).
   */
  rateView?(view: RunRate): void;
  /** Something the operator should know (rate lowered, outage pause...). */
  warn?(message: string): void;
  /**
   * Dry run: the request that would be sent: a PUT of an update (or of a sync's known
   * key), or the POST of an import's create (`path` is the batch endpoint).
   */
  dryRun?(info: {
    row: number;
    id: string;
    method: 'PUT' | 'POST';
    path: string;
    body: string;
  }): void;
}

export type StopReason = 'interrupted' | 'auth' | 'max-errors';

export interface RunSummary {
  input: string;
  resultsPath: string;
  dryRun: boolean;
  /** Data rows read in this run (after `limit`). */
  rowsRead: number;
  counts: StatusCounts & {
    /** Rows finished by an earlier run and skipped (resume). */
    alreadyDone: number;
    /** Of those, rows that ended `failed` or `invalid` there (resume with --retry-failed). */
    alreadyDoneNotUpdated: number;
    /** Import: of those, rows left `uncertain` there (not re-sent without --resend-uncertain). */
    alreadyUncertain?: number;
  };
  /** `create` for an import; absent for an update. */
  operation?: 'create';
  requests: RequestCounts;
  elapsedMs: number;
  /** Rows finished per second of this run. */
  rowsPerSecond: number;
  stopped: StopReason | undefined;
  /** Rows read but left unfinished (stopped run): a resume sends them. */
  unfinished: number;
  topErrors: Array<{ error: string; count: number }>;
  /** The rate: fixed, or what `--rate auto` found. Always present; null means none. */
  rate: RunRate;
  /** With `state`: what became of the job state; undefined without one. */
  state?: StateOutcome;
}

/**
 * The rate of a run, requests per second rounded to 0.1; null where there is no
 * figure (unlimited, or no limit found), so that JSON shows every key.
 */
export interface RunRate {
  mode: 'fixed' | 'auto';
  /** The rate in force (at the end, for the summary); null when unlimited. */
  currentPerSecond: number | null;
  /**
   * `'auto'`: the API's limit as measured from its 429s (or the one given as
   * `knownLimitPerSecond`); null when none was found up to `maxPerSecond`. A job state
   * keeps it for the next run's `knownLimitPerSecond`.
   */
  limitFoundPerSecond: number | null;
  /** `--rate` (fixed) or `--max-rate` (auto); null when unlimited. */
  maxPerSecond: number | null;
}

/** The job state after a run (`--state`). */
export interface StateOutcome {
  dir: string;
  /** Ids in the state once saved; undefined when not saved (a dry run reads it only). */
  ids?: number;
  /** Wall time of the save (fold of the results file + write), ms. */
  saveMs?: number;
  /**
   * Why the state could not be saved (disk full...). The previous state is kept and
   * the next run re-sends what this one could not record; the CLI exits 3.
   */
  error?: string;
}

/** Requests of one run: every one sent, the 429s among them, and the retries scheduled. */
export interface RequestCounts {
  sent: number;
  throttled: number;
  retried: number;
}
