/**
 * argv → which command, its positional argument and the flags given, with yargs
 * builders generated from the option table (options.ts). Only the command line is read
 * here: environment and config file are read per command by resolve-options.ts, so
 * that a variable or config key meant for one command cannot break another.
 */
import yargs, { type Argv } from 'yargs';
import { UsageError } from '../errors.js';
import { VERSION } from '../version.js';
import { generalHelp, sourcesHelp } from './help-text.js';
import {
  COMMANDS,
  type CommandName,
  camelCase,
  OPTIONS,
  type OptionSpec,
  optionsOf,
  toBoolean,
} from './options.js';

export { VERSION };

/** What the command line asked for, before option checking (resolve-options.ts does that). */
export type Invocation =
  | {
      command: CommandName;
      /** The positional argument: `input` (update, validate) or `results` (report). */
      args: Record<string, string>;
      /** The flags given on the command line, as yargs read them, keyed in camelCase. */
      flags: Record<string, unknown>;
    }
  /** `--help` or `--version` was printed by yargs: nothing left to do. */
  | { command: 'none' }
  /** No command at all: `help` is the usage to print before exiting 2. */
  | { command: 'usage'; help: string };

const COMMAND_LINES: Record<CommandName, { usage: string; describe: string; epilog: string }> = {
  update: {
    usage: 'update <input>',
    describe: 'update contacts, one PUT per row',
    epilog: `Examples:
  clerk-bulk update contacts.csv                       # key from CLERK_CHAT_API_KEY
  clerk-bulk update contacts.csv --dry-run             # check and show payloads, send nothing
  clerk-bulk update contacts.csv --resume              # continue an interrupted run
  clerk-bulk update contacts.csv --resume --retry-failed
  clerk-bulk update export.csv --map mapping.json --rate 20 --out nightly.results.csv
  crm-export | clerk-bulk update - --out nightly.results.csv   # CSV from stdin`,
  },
  import: {
    usage: 'import <input>',
    describe: 'create contacts, in batches (one new contact per row)',
    epilog: `Examples:
  clerk-bulk import new.csv --dry-run                  # check and show payloads, send nothing
  clerk-bulk import crm.csv --map mapping.json --key crm_id --default-country US
  clerk-bulk import crm.csv --key crm_id --resume      # continue an interrupted import
  clerk-bulk import crm.csv --resume --resend-uncertain  # only once you checked Clerk Chat`,
  },
  sync: {
    usage: 'sync <input>',
    describe: 'upsert by your own key: create new keys, update changed ones, skip the rest',
    epilog: `Examples:
  clerk-bulk sync crm.csv --key crm_id --state ./crm-state --map mapping.json --default-country US
  clerk-bulk sync crm.csv --key crm_id --state ./crm-state --out nightly.results.csv --force`,
  },
  validate: {
    usage: 'validate <input>',
    describe: 'check every row, send nothing',
    epilog:
      'Examples:\n  clerk-bulk validate contacts.csv\n  clerk-bulk validate export.csv --map mapping.json --invalid-out to-fix.csv\n  clerk-bulk validate new.csv --import --default-country US   # as import reads it',
  },
  report: {
    usage: 'report <results>',
    describe: 'summarise a results file',
    epilog:
      'Examples:\n  clerk-bulk report contacts.csv.results.csv\n  clerk-bulk report crm.csv.results.csv --created-out ids.csv',
  },
  state: {
    usage: 'state <dir>',
    describe: 'show a job state directory (--state): ids, last update, runs',
    epilog:
      'Examples:\n  clerk-bulk state /var/lib/clerk-bulk/nightly\n  clerk-bulk state nightly-state --json',
  },
  'mock-server': {
    usage: 'mock-server',
    describe: 'run the built-in fake Clerk Chat API on 127.0.0.1',
    epilog:
      'Examples:\n  clerk-bulk mock-server --port 3000 --ids 1-500 --rate-limit 50 --latency 20-80',
  },
};

const POSITIONALS: Partial<Record<CommandName, { name: string; describe: string }>> = {
  update: { name: 'input', describe: 'CSV file of contact changes (- for stdin)' },
  import: { name: 'input', describe: 'CSV file of new contacts (- for stdin)' },
  sync: { name: 'input', describe: 'CSV file of contacts keyed by --key (- for stdin)' },
  validate: { name: 'input', describe: 'CSV file of contact changes (- for stdin)' },
  report: { name: 'results', describe: 'results CSV written by update or import' },
  state: { name: 'dir', describe: 'state directory given to update --state' },
};

/**
 * yargs drops a lone `-` (yargs/yargs-parser#381, open), the usual name for stdin.
 * It travels through the parser as this token, which no real argument can be (argv
 * strings cannot hold NUL), and is turned back into `-` after.
 */
const DASH = '\u0000-';

function helpDefault(option: OptionSpec): string | undefined {
  if (option.defaultHelp !== undefined) return option.defaultHelp;
  if (option.default === undefined || option.kind.type === 'boolean') return undefined;
  return String(option.default);
}

/** The yargs builder of one command, from the table. */
function addOptions(y: Argv, command: CommandName): Argv {
  const positional = POSITIONALS[command];
  if (positional !== undefined)
    y.positional(positional.name, { type: 'string', describe: positional.describe });
  for (const option of optionsOf(command)) {
    const defaultDescription = helpDefault(option);
    y.option(option.flag, {
      // Every value reaches resolve-options.ts as typed: yargs' own number parsing
      // reads `0x10` as 16 and `fast` as NaN.
      type: option.kind.type === 'boolean' ? 'boolean' : 'string',
      describe: option.describe,
      ...(option.alias === undefined ? {} : { alias: option.alias }),
      ...(defaultDescription === undefined ? {} : { defaultDescription }),
      ...(option.hidden === true ? { hidden: true } : {}),
    });
    // Listed as a number too, only so that `--help` says [number]: a key that yargs
    // also knows as a string is never converted (yargs-parser's maybeCoerceNumber).
    if (option.kind.type === 'number') y.number(option.flag);
  }
  return y.epilog(`${COMMAND_LINES[command].epilog}\n\n${sourcesHelp(command)}`);
}

const BOOLEAN_FLAGS = new Set(
  (OPTIONS as readonly OptionSpec[]).filter((o) => o.kind.type === 'boolean').map((o) => o.flag),
);

/**
 * yargs reads `--dry-run=maybe` as false, silently: a dry run asked for would send.
 * `--flag=<word>` for a boolean is read here with the words env and config accept.
 */
function booleanAssignments(arg: string): string {
  const match = /^--(no-)?([a-z][a-z-]*)=(.*)$/s.exec(arg);
  if (match === null || !BOOLEAN_FLAGS.has(match[2] as string)) return arg;
  const [, no, flag, word] = match;
  const value = toBoolean(word);
  if (value === undefined)
    throw new UsageError(`--${flag}: expected a boolean, got ${JSON.stringify(word)}`, 'E_OPTION');
  return value === (no === undefined) ? `--${flag}` : `--no-${flag}`;
}

export function parseArgv(argv: string[]): Invocation {
  let invocation: Invocation | undefined;
  const tokens = argv.map((arg) => (arg === '-' ? DASH : booleanAssignments(arg)));
  let parser = yargs(tokens)
    .scriptName('clerk-bulk')
    .usage('$0 <command> [options]\n\nBulk-update Clerk Chat contacts from a CSV file.')
    .parserConfiguration({ 'parse-numbers': false, 'parse-positional-numbers': false });
  for (const command of COMMANDS) {
    const line = COMMAND_LINES[command];
    parser = parser.command(
      line.usage,
      line.describe,
      (y) => addOptions(y, command),
      (args) => {
        invocation = toInvocation(command, args);
      },
    );
  }
  parser = parser
    .demandCommand(
      1,
      'say which command: update, import, sync, validate, report, state or mock-server',
    )
    .recommendCommands()
    .strict()
    .version(VERSION)
    .alias('h', 'help')
    .epilog(generalHelp())
    .wrap(Math.min(110, process.stdout.columns ?? 100))
    .exitProcess(false)
    .fail((message, error) => {
      if (error instanceof UsageError) throw error;
      throw new UsageError(explain(message ?? error?.message ?? 'bad usage', argv), 'E_USAGE');
    });
  if (argv.length === 0) {
    let help = '';
    parser.showHelp((text: string) => {
      help = text;
    });
    return { command: 'usage', help };
  }
  parser.parseSync();
  return invocation ?? { command: 'none' };
}

function toInvocation(command: CommandName, args: Record<string, unknown>): Invocation {
  const flags: Record<string, unknown> = {};
  for (const option of optionsOf(command)) {
    const value = args[camelCase(option.flag)];
    if (value !== undefined) flags[camelCase(option.flag)] = value === DASH ? '-' : value;
  }
  const positional: Record<string, string> = {};
  const name = POSITIONALS[command]?.name;
  const value = name === undefined ? undefined : args[name];
  if (name !== undefined && typeof value === 'string')
    positional[name] = value === DASH ? '-' : value;
  return { command, args: positional, flags };
}

/** yargs' message, made into one line that says what to do. */
function explain(message: string, argv: string[]): string {
  const first = argv[0] ?? '';
  const command = (COMMANDS as readonly string[]).includes(first)
    ? (first as CommandName)
    : undefined;
  if (command !== undefined && message.startsWith('Not enough non-option arguments')) {
    return `missing the ${POSITIONALS[command]?.name} file: clerk-bulk ${COMMAND_LINES[command].usage}`;
  }
  const recommended = /^Did you mean (.+)\?$/.exec(message);
  if (recommended !== null) return `unknown command "${first}": did you mean ${recommended[1]}?`;
  const unknown = /^Unknown arguments?: ([^,]+)/.exec(message);
  if (unknown === null) return message;
  const name = (unknown[1] as string).trim();
  const token = argv
    .map((a) => a.replace(/=.*$/s, ''))
    .find((a) => a === `--${name}` || a === `--no-${name}` || a === `-${name}`);
  const asOption = token !== undefined;
  if (command === undefined && !asOption) {
    return `unknown command "${name}": say update, import, sync, validate, report, state or mock-server`;
  }
  if (!asOption) return `unexpected argument "${name}"`;
  const flags = [...(command === undefined ? [] : optionsOf(command).map((o) => o.flag)), 'help'];
  const guess = closest(token.replace(/^-+/, ''), flags);
  return `unknown option ${token}${guess === undefined ? '' : ` (did you mean --${guess}?)`}${
    command === undefined ? '' : `; see clerk-bulk ${command} --help`
  }`;
}

/** The candidate nearest to `word` by edit distance, if it is near enough to be a typo. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(word.length / 3)) + 1;
  for (const candidate of candidates) {
    const d = editDistance(word, candidate);
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitute = (previous[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current[j] = Math.min(
        substitute,
        (previous[j] as number) + 1,
        (current[j - 1] as number) + 1,
      );
    }
    previous = current;
  }
  return previous[b.length] as number;
}
