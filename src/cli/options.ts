/**
 * cli/ turns a command line, `CLERK_BULK_*` variables and a `--config` file into
 * checked options, and owns nothing else (commands/ runs them):
 * - options.ts (this file): the option table, every option of every command declared
 *   once: flag, alias, help, type, default, check, commands, variable, resume;
 * - parse-argv.ts: the yargs builders and `--help`, generated from the table;
 * - help-text.ts: the environment, config and exit-code sections of `--help`;
 * - resolve-options.ts: flags over environment over config file over defaults, per
 *   command, every value checked with a message naming where it came from;
 * - config.ts: the update/validate checks that span options (key, mapping, stdin).
 *
 * No zod and no fs here: `--version` loads this file, and importing zod alone costs
 * about as much start-up time as the rest of `--version` (0.13-0.22 s vs 0.06-0.10 s
 * for a bare `node`, measured on the shared 2-core machine).
 */
import {
  DEFAULT_BASE_URL,
  DEFAULT_BATCH_SIZE,
  DEFAULT_CONCURRENCY,
  DEFAULT_EMPTY,
  DEFAULT_MAX_RATE_PER_SECOND,
  DEFAULT_RATE_PER_SECOND,
  DEFAULT_RETRIES,
  DEFAULT_TIMEOUT_MS,
} from '../defaults.js';

export const COMMANDS = [
  'update',
  'import',
  'sync',
  'validate',
  'report',
  'mock-server',
  'state',
] as const;
export type CommandName = (typeof COMMANDS)[number];

/** How a value is read and checked, whichever source it comes from. */
export type ValueKind =
  | { readonly type: 'boolean' }
  | {
      readonly type: 'number';
      /** Whole numbers only. */
      readonly integer: boolean;
      readonly min: number;
      readonly max: number;
      /** `min` itself is refused. @default false */
      readonly minExclusive?: boolean;
    }
  | {
      readonly type: 'string';
      readonly choices?: readonly string[];
      /** A file path: in a config file, relative to that file. */
      readonly path?: boolean;
      /** Never shown in a message (the API key). */
      readonly secret?: boolean;
      /** Applied before `check` (e.g. delimiter names to characters). */
      readonly normalize?: (value: string) => string;
      readonly check?: (value: string) => boolean;
    }
  | {
      /**
       * A number as `number` checks it, or one of a few words (`--rate auto`). A word
       * stays a string; anything else must be a number.
       */
      readonly type: 'number-or-word';
      readonly number: Extract<ValueKind, { type: 'number' }>;
      readonly words: readonly string[];
    };

export interface OptionSpec {
  /** The long flag without dashes; the config key; `CLERK_BULK_<FLAG>` by default. */
  readonly flag: string;
  readonly alias?: string;
  readonly describe: string;
  readonly kind: ValueKind;
  /** What a good value is, for `<source>: expected <expected>, got <value>`. */
  readonly expected: string;
  /** Applied when no source gives a value; none means "not set". */
  readonly default?: unknown;
  /** How `--help` shows the default when it is not a plain value. */
  readonly defaultHelp?: string;
  readonly commands: readonly CommandName[];
  /** The environment variable. @default `CLERK_BULK_<FLAG>` (dashes as underscores) */
  readonly env?: string;
  /** The printed resume command repeats it when it differs from the default. */
  readonly resume?: true | ((value: string) => string);
  /** Left out of `--help` (test knobs). */
  readonly hidden?: boolean;
}

const bool = () => ({ type: 'boolean' }) as const;
const int = (min: number, max: number) => ({ type: 'number', integer: true, min, max }) as const;
const text = () => ({ type: 'string' }) as const;
const path = () => ({ type: 'string', path: true }) as const;
const oneOf = <const C extends readonly string[]>(choices: C) =>
  ({ type: 'string', choices }) as const;
const share = () => ({ type: 'number', integer: false, min: 0, max: 1 }) as const;

/** Delimiter names accepted besides the character itself (a tab is hard to type). */
const DELIMITER_NAMES: Record<string, string> = {
  comma: ',',
  semicolon: ';',
  tab: '\t',
  '\\t': '\t',
  pipe: '|',
};

/**
 * What an HTTP header value can carry: visible Latin-1 and spaces. undici refuses any
 * other header value, so a bad key would only show at the first request, with the
 * input already read and the results file created; it is refused before either.
 */
const HEADER_VALUE = /^[\u0020-\u007e\u0080-\u00ff]+$/;

function isHttpUrl(value: string): boolean {
  // A query or fragment would be glued to every `/public/contacts/{id}`.
  return /^https?:\/\/[^/]/i.test(value) && !/[?#]/.test(value) && URL.canParse(value);
}

const MAX_ROWS = Number.MAX_SAFE_INTEGER;

function isRedisUrl(value: string): boolean {
  return /^rediss?:\/\/[^/]/i.test(value) && URL.canParse(value);
}

/**
 * The Redis URL as the resume command shows it: with the password as `***` (the
 * command is printed; keep the password in CLERK_BULK_REDIS_URL, which it overrides).
 */
function redisUrlShown(value: string): string {
  const url = new URL(value);
  if (url.password !== '') url.password = '***';
  return url.toString();
}

/** Every option of every command. The order is the order of `--help` and of the resume command. */
export const OPTIONS = [
  {
    flag: 'out',
    alias: 'o',
    describe: 'results CSV',
    kind: path(),
    expected: 'a file path',
    defaultHelp: '<input>.results.csv',
    commands: ['update', 'import', 'sync'],
  },
  {
    flag: 'resume',
    describe: 'continue from --out: skip rows already final there',
    kind: bool(),
    expected: 'a boolean',
    default: false,
    commands: ['update', 'import', 'sync'],
  },
  {
    flag: 'retry-failed',
    describe: 'with --resume: also re-send failed and invalid rows',
    kind: bool(),
    expected: 'a boolean',
    default: false,
    commands: ['update', 'import', 'sync'],
  },
  {
    flag: 'force',
    describe: 'overwrite an existing results file',
    kind: bool(),
    expected: 'a boolean',
    default: false,
    commands: ['update', 'import', 'sync'],
  },
  {
    flag: 'dry-run',
    describe: 'validate and print payloads, send nothing',
    kind: bool(),
    expected: 'a boolean',
    default: false,
    commands: ['update', 'import', 'sync'],
  },
  {
    flag: 'api-key',
    describe: 'API key (better: CLERK_CHAT_API_KEY)',
    kind: {
      type: 'string',
      secret: true,
      normalize: (v) => v.trim(),
      check: (v) => HEADER_VALUE.test(v),
    },
    expected: 'an API key of visible Latin-1 characters (it goes in an HTTP header)',
    commands: ['update', 'import', 'sync'],
  },
  {
    flag: 'config',
    describe: 'JSON file of options (keys as the flags; paths relative to the file)',
    kind: path(),
    expected: 'a file path',
    commands: ['update', 'import', 'sync', 'validate', 'report'],
    resume: true,
  },
  {
    flag: 'base-url',
    describe: 'API base URL',
    kind: { type: 'string', check: isHttpUrl },
    expected: 'an http(s) URL without query or fragment',
    default: DEFAULT_BASE_URL,
    commands: ['update', 'import', 'sync'],
    resume: true,
  },
  {
    flag: 'rate',
    describe: 'max requests per second, 0 = no limit, or auto: find the API limit',
    kind: {
      type: 'number-or-word',
      number: { type: 'number', integer: false, min: 0, max: Number.MAX_VALUE },
      words: ['auto'],
    },
    expected: 'requests per second (a number >= 0; 0 = no limit) or auto',
    default: DEFAULT_RATE_PER_SECOND,
    commands: ['update', 'import', 'sync'],
    resume: true,
  },
  {
    // No table default: an unset --max-rate is told apart from a given one, which is
    // refused next to a numeric --rate (config.ts). The search's own default applies.
    flag: 'max-rate',
    describe: 'with --rate auto: never go above this many requests per second',
    kind: { type: 'number', integer: false, min: 0, max: Number.MAX_VALUE, minExclusive: true },
    expected: 'requests per second (a number > 0)',
    defaultHelp: String(DEFAULT_MAX_RATE_PER_SECOND),
    commands: ['update', 'import', 'sync'],
    resume: true,
  },
  {
    flag: 'concurrency',
    describe: 'max requests in flight',
    kind: int(1, 1_000),
    expected: 'a whole number from 1 to 1000',
    default: DEFAULT_CONCURRENCY,
    commands: ['update', 'import', 'sync'],
    resume: true,
  },
  {
    flag: 'retries',
    describe: 'retries for 429, 408, 5xx, timeouts, network errors',
    kind: int(0, 100),
    expected: 'a whole number from 0 to 100',
    default: DEFAULT_RETRIES,
    commands: ['update', 'import', 'sync'],
    resume: true,
  },
  {
    flag: 'timeout',
    describe: 'per-request timeout in ms',
    kind: int(100, 3_600_000),
    expected: 'milliseconds, a whole number from 100 to 3600000',
    default: DEFAULT_TIMEOUT_MS,
    commands: ['update', 'import', 'sync'],
    resume: true,
  },
  {
    flag: 'map',
    describe: 'JSON file mapping CSV headers to fields',
    kind: path(),
    expected: 'a file path',
    defaultHelp: 'headers used as-is',
    commands: ['update', 'import', 'sync', 'validate'],
    resume: true,
  },
  {
    flag: 'empty',
    describe: 'an empty cell leaves the field unchanged (omit) or clears it (null)',
    kind: oneOf(['omit', 'null']),
    expected: '"omit" or "null"',
    default: DEFAULT_EMPTY,
    commands: ['update', 'import', 'sync', 'validate'],
    resume: true,
  },
  {
    flag: 'encoding',
    describe: 'character encoding of the input file',
    kind: oneOf(['utf-8', 'windows-1252', 'latin1', 'utf-16le']),
    expected: '"utf-8", "windows-1252", "latin1" or "utf-16le"',
    default: 'utf-8',
    commands: ['update', 'import', 'sync', 'validate'],
    resume: true,
  },
  {
    flag: 'delimiter',
    describe: 'field delimiter: one character, or comma, semicolon, tab, pipe',
    kind: {
      type: 'string',
      normalize: (v) => DELIMITER_NAMES[v.toLowerCase()] ?? v,
      check: (v) => v.length === 1 && v !== '"' && v !== '\n' && v !== '\r',
    },
    expected: 'one character (or comma, semicolon, tab, pipe)',
    defaultHelp: 'detected from the header',
    commands: ['update', 'import', 'sync', 'validate'],
    resume: (v) => (v === '\t' ? 'tab' : v),
  },
  {
    flag: 'limit',
    describe: 'process only the first N data rows',
    kind: int(1, MAX_ROWS),
    expected: 'a whole number of rows >= 1',
    defaultHelp: 'all',
    commands: ['update', 'import', 'sync', 'validate'],
    resume: true,
  },
  {
    flag: 'max-errors',
    describe: 'abort after N failed rows',
    kind: int(1, MAX_ROWS),
    expected: 'a whole number >= 1',
    defaultHelp: 'no limit',
    commands: ['update', 'import', 'sync'],
    resume: true,
  },
  {
    flag: 'state',
    describe:
      "job state directory: update sends only rows changed since the last confirmed run; import and sync remember each --key's contact, so no key is created twice",
    kind: path(),
    expected: 'a directory path',
    defaultHelp: 'none: update and import send every row; required by sync',
    commands: ['update', 'import', 'sync'],
    resume: true,
  },
  {
    flag: 'full',
    describe: 'with --state: send every row, changed or not (the state is still updated)',
    kind: bool(),
    expected: 'a boolean',
    default: false,
    commands: ['update'],
    resume: true,
  },
  {
    flag: 'redis',
    describe: 'share one rate budget with every job on the same key through this Redis',
    kind: { type: 'string', secret: true, check: isRedisUrl },
    expected: 'a redis:// or rediss:// URL, e.g. redis://127.0.0.1:6379',
    defaultHelp: 'none: a budget of its own',
    commands: ['update', 'import', 'sync'],
    env: 'CLERK_BULK_REDIS_URL',
    resume: redisUrlShown,
  },
  {
    flag: 'redis-optional',
    describe: 'with --redis: when Redis is unreachable at start, warn and run on its own budget',
    kind: bool(),
    expected: 'a boolean',
    default: false,
    commands: ['update', 'import', 'sync'],
    resume: true,
  },
  {
    flag: 'redis-max-in-flight',
    describe: 'with --redis: max requests in flight across every job on the key',
    kind: int(1, 10_000),
    expected: 'a whole number from 1 to 10000',
    defaultHelp: 'no global cap',
    commands: ['update', 'import', 'sync'],
    resume: true,
  },
  {
    // Shortens the wait for a lost Redis in tests; the library's default (60 s) applies when unset.
    flag: 'redis-give-up-ms',
    describe: 'how long a lost Redis is waited for, in ms',
    kind: int(100, 3_600_000),
    expected: 'milliseconds from 100 to 3600000',
    commands: ['update', 'import', 'sync'],
    hidden: true,
  },
  {
    flag: 'json',
    describe: 'print one JSON object on stdout, also on error (docs/json-output.md)',
    kind: bool(),
    expected: 'a boolean',
    default: false,
    commands: ['update', 'import', 'sync', 'validate', 'report', 'state'],
  },
  {
    flag: 'quiet',
    alias: 'q',
    describe: 'no progress output',
    kind: bool(),
    expected: 'a boolean',
    default: false,
    commands: ['update', 'import', 'sync'],
  },
  {
    flag: 'log',
    describe: 'progress lines and warnings (stderr) as text or JSON lines',
    kind: oneOf(['text', 'json']),
    expected: '"text" or "json"',
    default: 'text',
    commands: ['update', 'import', 'sync'],
  },
  {
    flag: 'progress-interval',
    describe: 'seconds between progress lines when not on a terminal',
    kind: int(1, 86_400),
    expected: 'seconds, a whole number from 1 to 86400',
    default: 10,
    commands: ['update', 'import', 'sync'],
  },
  {
    // Shortens retry waits in tests; the library's default (500 ms) applies when unset.
    flag: 'retry-base-ms',
    describe: 'first retry delay in ms',
    kind: int(1, 60_000),
    expected: 'milliseconds from 1 to 60000',
    commands: ['update', 'import', 'sync'],
    hidden: true,
  },
  {
    flag: 'show',
    describe: 'how many problems to list',
    kind: int(0, MAX_ROWS),
    expected: 'a whole number >= 0',
    default: 20,
    commands: ['validate'],
  },
  {
    flag: 'invalid-out',
    describe: 'write the invalid rows to this CSV, for fixing',
    kind: path(),
    expected: 'a file path',
    commands: ['validate'],
  },
  {
    flag: 'failed-out',
    describe: 'copy the input rows left to do, plus clerk_bulk_error, to this CSV',
    kind: path(),
    expected: 'a file path',
    commands: ['report'],
  },
  {
    flag: 'input',
    describe: 'with --failed-out: the CSV the run read',
    kind: path(),
    expected: 'a file path',
    defaultHelp: '<results> without .results.csv',
    commands: ['report'],
  },
  {
    flag: 'key',
    describe: 'column that identifies a row in your CRM (written to the results with the new id)',
    kind: text(),
    expected: 'a column name',
    defaultHelp: 'none',
    commands: ['import', 'sync', 'validate'],
    resume: true,
  },
  {
    flag: 'default-country',
    describe: 'country of phone numbers written without +code, e.g. US',
    kind: {
      type: 'string',
      normalize: (v) => v.trim().toUpperCase(),
      check: (v) => /^[A-Z]{2}$/.test(v),
    },
    expected: 'a two-letter country code such as US, GB or DE',
    defaultHelp: 'none: numbers need +code',
    commands: ['import', 'sync', 'validate'],
    resume: true,
  },
  {
    flag: 'batch-size',
    describe: 'contacts per batch request (each batch is one request against --rate)',
    kind: int(1, 1_000),
    expected: 'a whole number from 1 to 1000',
    default: DEFAULT_BATCH_SIZE,
    commands: ['import', 'sync'],
    resume: true,
  },
  {
    flag: 'resend-uncertain',
    describe: 'with --resume: send again the rows left uncertain (may duplicate them)',
    kind: bool(),
    expected: 'a boolean',
    default: false,
    commands: ['import', 'sync'],
  },
  {
    flag: 'import',
    describe: 'check the file as import reads it (a phone on every row, no id column)',
    kind: bool(),
    expected: 'a boolean',
    default: false,
    commands: ['validate'],
  },
  {
    flag: 'created-out',
    describe: 'write row,key,id of the contacts an import created to this CSV',
    kind: path(),
    expected: 'a file path',
    commands: ['report'],
  },
  // The mock server's options are its own: they are named CLERK_BULK_MOCK_* so that a
  // real CLERK_BULK_API_KEY never becomes the fake API's key.
  {
    flag: 'port',
    describe: 'port (0 = any free port)',
    kind: int(0, 65_535),
    expected: 'a whole number from 0 to 65535',
    default: 3000,
    commands: ['mock-server'],
    env: 'CLERK_BULK_MOCK_PORT',
  },
  {
    flag: 'api-key',
    describe: 'the key the fake API accepts',
    kind: text(),
    expected: 'a non-empty key',
    default: 'test-key',
    commands: ['mock-server'],
    env: 'CLERK_BULK_MOCK_API_KEY',
  },
  {
    flag: 'ids',
    describe: 'ids that exist: any, N, A-B or a,b,c',
    kind: text(),
    expected: 'any, N, A-B or a,b,c',
    default: 'any',
    commands: ['mock-server'],
    env: 'CLERK_BULK_MOCK_IDS',
  },
  {
    flag: 'rate-limit',
    describe: 'answer 429 above this many requests per second',
    kind: { type: 'number', integer: false, min: 0, max: Number.MAX_VALUE, minExclusive: true },
    expected: 'a number > 0',
    defaultHelp: 'no limit',
    commands: ['mock-server'],
    env: 'CLERK_BULK_MOCK_RATE_LIMIT',
  },
  {
    flag: 'retry-after',
    describe: 'how a 429 says when to come back: seconds, http-date, x-ratelimit-reset, none',
    kind: oneOf(['seconds', 'http-date', 'x-ratelimit-reset', 'none']),
    expected: 'seconds, http-date, x-ratelimit-reset or none',
    default: 'seconds',
    commands: ['mock-server'],
    env: 'CLERK_BULK_MOCK_RETRY_AFTER',
  },
  {
    flag: 'fail-rate',
    describe: 'share of requests answered with a 5xx (0..1)',
    kind: { type: 'number', integer: false, min: 0, max: 1 },
    expected: 'a share from 0 to 1',
    default: 0,
    commands: ['mock-server'],
    env: 'CLERK_BULK_MOCK_FAIL_RATE',
  },
  {
    flag: 'latency',
    describe: 'added latency in ms: N or MIN-MAX',
    kind: text(),
    expected: 'milliseconds as N or MIN-MAX',
    defaultHelp: '0',
    commands: ['mock-server'],
    env: 'CLERK_BULK_MOCK_LATENCY',
  },
  {
    flag: 'rate-limit-change',
    describe: 'later limits: PER_SECOND@REQUESTS or PER_SECOND@SECONDSs, comma-separated',
    kind: text(),
    expected: 'PER_SECOND@REQUESTS or PER_SECOND@SECONDSs (e.g. 100@6000 or 100@30s)',
    defaultHelp: 'the limit never changes',
    commands: ['mock-server'],
    env: 'CLERK_BULK_MOCK_RATE_LIMIT_CHANGE',
  },
  {
    flag: 'lost-response-rate',
    describe: 'share of writes applied, then the connection reset (0..1)',
    kind: share(),
    expected: 'a share from 0 to 1',
    default: 0,
    commands: ['mock-server'],
    env: 'CLERK_BULK_MOCK_LOST_RESPONSE_RATE',
  },
  {
    flag: 'lost-response-500-rate',
    describe: 'share of writes applied, then answered 500 (0..1)',
    kind: share(),
    expected: 'a share from 0 to 1',
    default: 0,
    commands: ['mock-server'],
    env: 'CLERK_BULK_MOCK_LOST_RESPONSE_500_RATE',
  },
  {
    flag: 'batch-max-contacts',
    describe: 'most contacts POST /public/contacts/batch takes',
    kind: int(1, 1_000_000),
    expected: 'a whole number from 1 to 1000000',
    default: 100,
    commands: ['mock-server'],
    env: 'CLERK_BULK_MOCK_BATCH_MAX_CONTACTS',
  },
  {
    flag: 'batch-status',
    describe: 'status of a successful batch: 200 or 201',
    kind: oneOf(['200', '201']),
    expected: '200 or 201',
    default: '200',
    commands: ['mock-server'],
    env: 'CLERK_BULK_MOCK_BATCH_STATUS',
  },
  {
    flag: 'seed',
    describe: 'seed for the random faults',
    kind: int(-MAX_ROWS, MAX_ROWS),
    expected: 'a whole number',
    default: 1,
    commands: ['mock-server'],
    env: 'CLERK_BULK_MOCK_SEED',
  },
] as const satisfies readonly OptionSpec[];

type Spec = (typeof OPTIONS)[number];

/** `retry-failed` → `retryFailed`, the key commands read. */
export type Camel<S extends string> = S extends `${infer H}-${infer T}`
  ? `${H}${Capitalize<Camel<T>>}`
  : S;

type SpecsOf<C extends CommandName, S = Spec> = S extends { commands: readonly (infer X)[] }
  ? C extends X
    ? S
    : never
  : never;

type ValueOf<S> = S extends { kind: { type: 'boolean' } }
  ? boolean
  : S extends { kind: { type: 'number' } }
    ? number
    : S extends { kind: { type: 'number-or-word'; words: readonly (infer W)[] } }
      ? number | W
      : S extends { kind: { choices: readonly (infer C)[] } }
        ? C
        : string;

/** The checked options of a command, keyed in camelCase; those without a default may be unset. */
export type OptionsOf<C extends CommandName> = {
  [S in SpecsOf<C> as S extends { flag: infer F extends string } ? Camel<F> : never]: S extends {
    default: unknown;
  }
    ? ValueOf<S>
    : ValueOf<S> | undefined;
};

/** The options `command` takes, in table order. */
export function optionsOf(command: CommandName): OptionSpec[] {
  return (OPTIONS as readonly OptionSpec[]).filter((o) => o.commands.includes(command));
}

export function camelCase(flag: string): string {
  return flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

/** `retryFailed` → `retry-failed`; a flag stays as it is. */
export function kebabCase(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

export function envName(option: OptionSpec): string {
  return option.env ?? `CLERK_BULK_${option.flag.toUpperCase().replace(/-/g, '_')}`;
}

/**
 * A boolean from the environment or a config file: 1/0, true/false, yes/no, on/off in
 * any case. Anything else is `undefined`, for the caller to refuse: a `dry-run` that
 * was asked for must never turn into a live run by being misread.
 */
export function toBoolean(value: unknown): boolean | undefined {
  if (typeof value === 'boolean') return value;
  if (value === 1 || value === 0) return value === 1;
  if (typeof value !== 'string') return undefined;
  const word = value.toLowerCase();
  if (word === '1' || word === 'true' || word === 'yes' || word === 'on') return true;
  if (word === '0' || word === 'false' || word === 'no' || word === 'off') return false;
  return undefined;
}

/**
 * A number typed as text: decimal only. `Number()` would also take `0x10`, `1e3`,
 * `0b1` and surrounding spaces; a number that does not look like what was meant is
 * refused rather than guessed.
 */
export function decimal(value: string): number | undefined {
  return /^[+-]?(\d+(\.\d*)?|\.\d+)$/.test(value) ? Number(value) : undefined;
}
