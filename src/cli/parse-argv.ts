import { createRequire } from 'node:module';
import yargs, { type Argv } from 'yargs';
import { UsageError } from '../errors.js';
import { VERSION } from '../version.js';

const require = createRequire(import.meta.url);

export { VERSION };

/** What the command line asked for, before option checking (config.ts does that). */
export type Invocation = Command & {
  /** Things to tell the user before running (e.g. a config file others can read). */
  warnings: string[];
};

type Command =
  | { command: 'update'; options: Record<string, unknown> }
  | { command: 'validate'; options: Record<string, unknown> }
  | { command: 'report'; options: Record<string, unknown> }
  | { command: 'mock-server'; options: Record<string, unknown> }
  /** `--help` or `--version` was printed by yargs: nothing left to do. */
  | { command: 'none' };

const UPDATE_EPILOG = `Examples:
  clerk-bulk update contacts.csv                       # key from CLERK_CHAT_API_KEY
  clerk-bulk update contacts.csv --dry-run             # check and show payloads, send nothing
  clerk-bulk update contacts.csv --resume              # continue an interrupted run
  clerk-bulk update contacts.csv --resume --retry-failed
  clerk-bulk update export.csv --map mapping.json --rate 20 --out nightly.results.csv
  crm-export | clerk-bulk update - --out nightly.results.csv   # CSV from stdin`;

/** Options shared by `update` and `validate`: how to read and check the input. */
function inputOptions(y: Argv): Argv {
  return y
    .positional('input', { type: 'string', describe: 'CSV file of contact changes (- for stdin)' })
    .option('map', { type: 'string', describe: 'JSON file mapping CSV headers to fields' })
    .option('empty', {
      type: 'string',
      choices: ['omit', 'null'],
      describe: 'an empty cell leaves the field unchanged (omit) or clears it (null)',
    })
    .option('delimiter', {
      type: 'string',
      describe: 'field delimiter (default: detected from the header)',
    })
    .option('limit', { type: 'string', describe: 'process only the first N data rows' })
    .option('config', { type: 'string', describe: 'JSON file with any of these options' });
}

/**
 * The yargs definitions only: argv → command and raw options. Values are checked by
 * config.ts so that flags, environment and config file get the same messages.
 */
/**
 * yargs drops a lone `-` (yargs/yargs-parser#381, open), the usual name for stdin.
 * It travels through the parser as this token, which no real argument can be (argv
 * strings cannot hold NUL), and is turned back into `-` after.
 */
const DASH = '\u0000-';

function restoreDash(options: Record<string, unknown>): Record<string, unknown> {
  for (const [key, value] of Object.entries(options)) {
    if (value === DASH) options[key] = '-';
  }
  return options;
}

export function parseArgv(argv: string[]): Invocation {
  let invocation: Command | undefined;
  const warnings: string[] = [];
  const parser = yargs(argv.map((arg) => (arg === '-' ? DASH : arg)))
    .scriptName('clerk-bulk')
    .usage('$0 <command> [options]\n\nBulk-update Clerk Chat contacts from a CSV file.')
    .env('CLERK_BULK')
    .parserConfiguration({ 'parse-numbers': false, 'parse-positional-numbers': false })
    .config('config', 'JSON file with any of these options', (path) =>
      readConfigFile(path, warnings),
    )
    .command(
      'update <input>',
      'update contacts, one PUT per row',
      (y) =>
        inputOptions(y)
          .option('out', {
            alias: 'o',
            type: 'string',
            describe: 'results CSV [default: <input>.results.csv]',
          })
          .option('resume', {
            type: 'boolean',
            describe: 'continue from --out: skip rows already final there',
          })
          .option('retry-failed', {
            type: 'boolean',
            describe: 'with --resume: also re-send failed and invalid rows',
          })
          .option('force', { type: 'boolean', describe: 'overwrite an existing results file' })
          .option('dry-run', {
            type: 'boolean',
            describe: 'validate and print payloads, send nothing',
          })
          .option('api-key', { type: 'string', describe: 'API key (better: CLERK_CHAT_API_KEY)' })
          .option('base-url', {
            type: 'string',
            describe: 'API base URL [default: https://web-api.clerk.chat]',
          })
          .option('rate', {
            type: 'string',
            describe: 'max requests per second, 0 = no limit [default: 10]',
          })
          .option('concurrency', {
            type: 'string',
            describe: 'max requests in flight [default: 5]',
          })
          .option('retries', {
            type: 'string',
            describe: 'retries for 429, 408, 5xx, timeouts, network errors [default: 5]',
          })
          .option('timeout', {
            type: 'string',
            describe: 'per-request timeout in ms [default: 30000]',
          })
          .option('max-errors', { type: 'string', describe: 'abort after N failed rows' })
          .option('json', {
            type: 'boolean',
            describe: 'print the final summary as JSON on stdout',
          })
          .option('quiet', { alias: 'q', type: 'boolean', describe: 'no progress output' })
          .option('log', {
            type: 'string',
            choices: ['text', 'json'],
            describe: 'progress lines and warnings as text or JSON lines (stderr) [default: text]',
          })
          .option('progress-interval', {
            type: 'string',
            describe: 'seconds between progress lines when not on a terminal [default: 10]',
          })
          .option('retry-base-ms', { type: 'string', hidden: true })
          .epilog(UPDATE_EPILOG),
      (args) => {
        invocation = { command: 'update', options: args };
      },
    )
    .command(
      'validate <input>',
      'check every row, send nothing',
      (y) =>
        inputOptions(y)
          .option('show', { type: 'string', describe: 'how many problems to list [default: 20]' })
          .option('invalid-out', {
            type: 'string',
            describe: 'write the invalid rows to this CSV, for fixing',
          })
          .epilog(
            'Examples:\n  clerk-bulk validate contacts.csv\n  clerk-bulk validate export.csv --map mapping.json --invalid-out to-fix.csv',
          ),
      (args) => {
        invocation = { command: 'validate', options: args };
      },
    )
    .command(
      'report <results>',
      'summarise a results file',
      (y) =>
        y
          .positional('results', { type: 'string', describe: 'results CSV written by update' })
          .option('json', { type: 'boolean', describe: 'print the summary as JSON' })
          .option('failed-out', {
            type: 'string',
            describe: 'copy the input rows left to do, plus clerk_bulk_error, to this CSV',
          })
          .option('input', {
            type: 'string',
            describe:
              'with --failed-out: the CSV the run read [default: <results> without .results.csv]',
          })
          .epilog(
            'Examples:\n  clerk-bulk report contacts.csv.results.csv\n  clerk-bulk report contacts.csv.results.csv --failed-out fix.csv',
          ),
      (args) => {
        invocation = { command: 'report', options: args };
      },
    )
    .command(
      'mock-server',
      'run the built-in fake Clerk Chat API on 127.0.0.1',
      (y) =>
        y
          .option('port', { type: 'string', describe: 'port (0 = any free port) [default: 3000]' })
          .option('api-key', {
            type: 'string',
            describe: 'the key the fake API accepts [default: test-key]',
          })
          .option('ids', {
            type: 'string',
            describe: 'ids that exist: any, N, A-B or a,b,c [default: any]',
          })
          .option('rate-limit', {
            type: 'string',
            describe: 'answer 429 above this many requests per second',
          })
          .option('retry-after', {
            type: 'string',
            choices: ['seconds', 'http-date', 'x-ratelimit-reset', 'none'],
            describe: 'how a 429 says when to come back [default: seconds]',
          })
          .option('fail-rate', {
            type: 'string',
            describe: 'share of requests answered with a 5xx (0..1)',
          })
          .option('latency', { type: 'string', describe: 'added latency in ms: N or MIN-MAX' })
          .option('seed', { type: 'string', describe: 'seed for the random faults' })
          .epilog(
            'Examples:\n  clerk-bulk mock-server --port 3000 --ids 1-500 --rate-limit 50 --latency 20-80',
          ),
      (args) => {
        invocation = { command: 'mock-server', options: args };
      },
    )
    .demandCommand(1, 'say which command: update, validate, report or mock-server')
    .strict()
    .version(VERSION)
    .alias('h', 'help')
    .wrap(Math.min(110, process.stdout.columns ?? 100))
    .exitProcess(false)
    .fail((message, error) => {
      throw error instanceof UsageError
        ? error
        : new UsageError(message ?? error?.message ?? 'bad usage');
    });
  parser.parseSync();
  if (invocation !== undefined && 'options' in invocation) restoreDash(invocation.options);
  return { ...(invocation ?? { command: 'none' }), warnings };
}

function readConfigFile(path: string, warnings: string[]): Record<string, unknown> {
  const { readFileSync, statSync } = require('node:fs') as typeof import('node:fs');
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new UsageError(
      `--config ${path}: cannot read it (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
      'E_CONFIG',
    );
  }
  try {
    const value = JSON.parse(text) as unknown;
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      throw new Error('expected a JSON object of options');
    }
    const options = value as Record<string, unknown>;
    // Paths in a job file are relative to the file, so a job folder can move as a whole.
    const { dirname, isAbsolute, resolve } = require('node:path') as typeof import('node:path');
    for (const key of ['map', 'out', 'failed-out', 'failedOut', 'invalid-out', 'invalidOut']) {
      const v = options[key];
      if (typeof v === 'string' && v !== '' && !isAbsolute(v))
        options[key] = resolve(dirname(path), v);
    }
    const hasKey = 'apiKey' in options || 'api-key' in options;
    // A key in a file that group or others can read is a leak waiting to happen.
    if (hasKey && (statSync(path).mode & 0o077) !== 0) {
      warnings.push(
        `${path} holds an API key and other users can read it; run: chmod 600 ${path} (or use CLERK_CHAT_API_KEY)`,
      );
    }
    return options;
  } catch (err) {
    throw new UsageError(`--config ${path}: ${(err as Error).message}`, 'E_CONFIG');
  }
}
