/**
 * The run's defaults, shared by the CLI's option table (src/cli/options.ts) and the
 * library, so that `--help`, the resume command and `updateContacts()` agree.
 * No imports: the CLI loads this before it knows which command runs.
 */

/** The Clerk Chat API (SPEC §2). */
export const DEFAULT_BASE_URL = 'https://web-api.clerk.chat';
/** Requests per second at most; 0 means no limit. */
export const DEFAULT_RATE_PER_SECOND = 10;
/**
 * `--rate auto` never goes above this unless told (`--max-rate`); the search's
 * reasons are beside DEFAULT_MAX_RATE_PER_SECOND in pipeline/limit/rate-search.ts,
 * which must stay equal (a test checks).
 */
export const DEFAULT_MAX_RATE_PER_SECOND = 1_000;
/** Requests in flight at most. */
export const DEFAULT_CONCURRENCY = 5;
/** Retries for 429, 408, 5xx, timeouts and network errors. */
export const DEFAULT_RETRIES = 5;
/** Per-request deadline. */
export const DEFAULT_TIMEOUT_MS = 30_000;
/** What an empty cell means: leave the field unchanged. */
export const DEFAULT_EMPTY = 'omit';
/**
 * Contacts per batch create. Measured against the mock server at a fixed 10 requests/s
 * (bench/import-batch.mjs; figures in docs/api-trouble.md): rows/s grow with the batch,
 * since the rate limit counts requests, not rows. 50 rather than the mock's maximum of
 * 100: a batch one bad row refuses is re-sent one row at a time (50 requests, not 100),
 * and a lost answer leaves 50 rows `uncertain`, not 100.
 */
export const DEFAULT_BATCH_SIZE = 50;
