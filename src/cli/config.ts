/**
 * The `update` and `validate` configuration: checks that involve more than one option
 * or a file, on top of the per-option checks of resolve-options.ts.
 */
import { readFileSync } from 'node:fs';
import { InputFileError, UsageError } from '../errors.js';
import { type Mapping, parseMapping } from '../pipeline/payload/mapping.js';
import { camelCase, type OptionSpec, type OptionsOf, optionsOf } from './options.js';
import { checkOption } from './resolve-options.js';

export { DEFAULT_BASE_URL } from '../defaults.js';

/** The update/validate options after resolve-options.ts: every value already checked. */
type Checked = OptionsOf<'update'> & { input: string };

export type UpdateConfig = Checked & {
  out: string;
  mapping: Mapping | undefined;
  /** Where the key came from, for messages (never the key itself). */
  apiKeySource: 'flag or CLERK_BULK_API_KEY' | 'CLERK_CHAT_API_KEY' | 'none';
};

const API_KEY_OPTION = optionsOf('update').find((o) => o.flag === 'api-key') as OptionSpec;

/**
 * The update checks that span options, on options resolve-options.ts has checked one
 * by one: the key found (and checked, from CLERK_CHAT_API_KEY too), the combinations
 * that contradict each other refused, the mapping file read and checked.
 */
export function toUpdateConfig(
  checked: Partial<OptionsOf<'update'>> & Record<string, unknown>,
  env: NodeJS.ProcessEnv = process.env,
  options: { requireKey?: boolean; needsOut?: boolean } = {},
): UpdateConfig {
  const { input } = checked;
  if (typeof input !== 'string' || input === '')
    throw new UsageError('missing the input CSV file', 'E_OPTION');
  // validate resolves only the options it takes: the others keep their defaults.
  const filled: Record<string, unknown> = { ...checked, input };
  for (const option of optionsOf('update')) {
    const key = camelCase(option.flag);
    if (filled[key] === undefined) filled[key] = option.default;
  }
  const value = filled as Checked;
  let apiKey = value.apiKey;
  let apiKeySource: UpdateConfig['apiKeySource'] = 'flag or CLERK_BULK_API_KEY';
  // validate sends nothing: a key in its environment is none of its business.
  if ((apiKey === undefined || apiKey === '') && options.requireKey !== false) {
    const fromEnv = env.CLERK_CHAT_API_KEY;
    // Trimmed and checked as --api-key is: a key file saved on Windows ends in CR LF.
    apiKey =
      fromEnv === undefined || fromEnv.trim() === ''
        ? undefined
        : (checkOption(API_KEY_OPTION, fromEnv, 'CLERK_CHAT_API_KEY') as string);
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
  if (value.full && value.state === undefined) {
    throw new UsageError('--full goes with --state', 'E_OPTION');
  }
  if (value.resume && value.force) {
    throw new UsageError('--resume and --force contradict each other: pick one', 'E_OPTION');
  }
  // Refused rather than ignored: someone who wrote --max-rate expects it to bound the
  // run, and with a numeric --rate it would bound nothing.
  if (value.maxRate !== undefined && value.rate !== 'auto') {
    throw new UsageError(
      `--max-rate caps --rate auto; with --rate ${value.rate} it would do nothing: drop it, or use --rate auto`,
      'E_OPTION',
    );
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
