import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { InputFileError, UsageError } from '../errors.js';
import { type Mapping, parseMapping } from '../pipeline/payload/mapping.js';

export const DEFAULT_BASE_URL = 'https://web-api.clerk.chat';

/** Delimiter names accepted besides the character itself (a tab is hard to type). */
const DELIMITER_NAMES: Record<string, string> = {
  comma: ',',
  semicolon: ';',
  tab: '\t',
  '\\t': '\t',
  pipe: '|',
};

/** Numbers come as text from flags and env, as numbers from a config file. Text that is
 * not a number stays text, so the message shows what was typed, not `NaN`. */
const toNumber = (v: unknown) =>
  typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v)) ? Number(v) : v;

const int = (flag: string, min: number, max: number, what: string) =>
  z.preprocess(
    toNumber,
    z
      .number({ error: (i) => `--${flag}: expected ${what}, got ${show(i.input)}` })
      .int({ error: (i) => `--${flag}: expected ${what}, got ${show(i.input)}` })
      .min(min, { error: (i) => `--${flag}: expected ${what}, got ${show(i.input)}` })
      .max(max, { error: (i) => `--${flag}: expected ${what}, got ${show(i.input)}` }),
  );

function show(value: unknown): string {
  if (value === undefined) return 'nothing';
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}

/** The `update`/`validate` options as they come from yargs (flags, env, config file). */
const rawUpdateSchema = z.object({
  input: z.string({ error: 'missing the input CSV file' }).min(1, 'missing the input CSV file'),
  out: z.string().min(1).optional(),
  /** The `--config` file the options came from, if any (for the resume command). */
  config: z.string().min(1).optional(),
  resume: z.boolean().default(false),
  retryFailed: z.boolean().default(false),
  force: z.boolean().default(false),
  dryRun: z.boolean().default(false),
  apiKey: z.string().optional(),
  baseUrl: z
    .string()
    .default(DEFAULT_BASE_URL)
    .refine((v) => /^https?:\/\/[^/]/i.test(v) && URL.canParse(v), {
      error: (i) => `--base-url: expected an http(s) URL, got ${show(i.input)}`,
    }),
  rate: z
    .preprocess(
      toNumber,
      z
        .number({
          error: (i) =>
            `--rate: expected requests per second (a number >= 0; 0 = no limit), got ${show(i.input)}`,
        })
        .min(0, {
          error: (i) =>
            `--rate: expected requests per second (a number >= 0; 0 = no limit), got ${show(i.input)}`,
        })
        .refine(Number.isFinite, {
          error: (i) => `--rate: expected a finite number, got ${show(i.input)}`,
        }),
    )
    .default(10),
  concurrency: int('concurrency', 1, 1_000, 'a whole number from 1 to 1000').default(5),
  retries: int('retries', 0, 100, 'a whole number from 0 to 100').default(5),
  timeout: int(
    'timeout',
    100,
    3_600_000,
    'milliseconds, a whole number from 100 to 3600000',
  ).default(30_000),
  map: z.string().min(1).optional(),
  empty: z
    .enum(['omit', 'null'], {
      error: (i) => `--empty: expected "omit" or "null", got ${show(i.input)}`,
    })
    .default('omit'),
  delimiter: z
    .string()
    .transform((v) => DELIMITER_NAMES[v.toLowerCase()] ?? v)
    .refine((v) => v.length === 1 && v !== '"' && v !== '\n' && v !== '\r', {
      error: (i) =>
        `--delimiter: expected one character (or comma, semicolon, tab, pipe), got ${show(i.input)}`,
    })
    .optional(),
  limit: int('limit', 1, Number.MAX_SAFE_INTEGER, 'a whole number of rows >= 1').optional(),
  maxErrors: int('max-errors', 1, Number.MAX_SAFE_INTEGER, 'a whole number >= 1').optional(),
  json: z.boolean().default(false),
  log: z
    .enum(['text', 'json'], {
      error: (i) => `--log: expected "text" or "json", got ${show(i.input)}`,
    })
    .default('text'),
  quiet: z.boolean().default(false),
  progressInterval: int(
    'progress-interval',
    1,
    86_400,
    'seconds, a whole number from 1 to 86400',
  ).default(10),
  retryBaseMs: int('retry-base-ms', 1, 60_000, 'milliseconds from 1 to 60000').default(500),
});

export type UpdateConfig = z.output<typeof rawUpdateSchema> & {
  out: string;
  mapping: Mapping | undefined;
  /** Where the key came from, for messages (never the key itself). */
  apiKeySource: 'flag or CLERK_BULK_API_KEY' | 'CLERK_CHAT_API_KEY' | 'none';
};

/**
 * Check the update options into a Config: every value validated with an
 * expected-vs-got message, the mapping file read and checked, the key found.
 */
export function toUpdateConfig(
  raw: Record<string, unknown>,
  env: NodeJS.ProcessEnv = process.env,
  options: { requireKey?: boolean; needsOut?: boolean } = {},
): UpdateConfig {
  const parsed = rawUpdateSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new UsageError(issue?.message ?? 'invalid options', 'E_OPTION');
  }
  const value = parsed.data;
  let apiKey = value.apiKey;
  let apiKeySource: UpdateConfig['apiKeySource'] = 'flag or CLERK_BULK_API_KEY';
  if (apiKey === undefined || apiKey === '') {
    apiKey = env.CLERK_CHAT_API_KEY;
    apiKeySource = 'CLERK_CHAT_API_KEY';
  }
  if (apiKey === undefined || apiKey === '') {
    apiKey = undefined;
    apiKeySource = 'none';
    if (!value.dryRun && options.requireKey !== false) {
      throw new UsageError(
        'missing API key: set CLERK_CHAT_API_KEY (or pass --api-key), or use --dry-run',
        'E_NO_API_KEY',
      );
    }
  }
  if (value.retryFailed && !value.resume) {
    throw new UsageError('--retry-failed goes with --resume', 'E_OPTION');
  }
  if (value.resume && value.force) {
    throw new UsageError('--resume and --force contradict each other: pick one', 'E_OPTION');
  }
  if (value.input === '-' && value.out === undefined && options.needsOut !== false) {
    throw new UsageError(
      'reading the CSV from stdin ("-") needs --out for the results file',
      'E_OPTION',
    );
  }
  const out = value.out ?? `${value.input}${value.dryRun ? '.dry-run' : ''}.results.csv`;
  return {
    ...value,
    apiKey,
    apiKeySource,
    out,
    mapping: value.map === undefined ? undefined : readMapping(value.map),
  };
}

export function readMapping(path: string): Mapping {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new InputFileError(
      `cannot read the mapping file: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : (err as Error).message}`,
      'E_MAPPING',
      { file: path },
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new InputFileError(`not valid JSON: ${(err as Error).message}`, 'E_MAPPING', {
      file: path,
    });
  }
  return parseMapping(json, path);
}
