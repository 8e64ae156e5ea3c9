/**
 * The closing sections of `--help`: where options can also come from, and what the
 * exit code means. Generated from the option table, so a new option is listed here
 * without anyone editing this file.
 */
import { type CommandName, envName, optionsOf } from './options.js';

/** SPEC §7, as `--help` states it. */
const EXIT_CODES = `Exit codes:
  0    every row done          1    finished, some rows failed or invalid
  2    usage, configuration or input error: nothing sent
  3    aborted (key refused, --max-errors, input broken midway, results unwritable)
  130  interrupted by SIGINT   143  by SIGTERM or SIGHUP`;

const BOOLEANS = 'booleans: 1/0, true/false, yes/no, on/off';

/** Environment, config file and exit codes for one command's `--help`. */
export function sourcesHelp(command: CommandName): string {
  const options = optionsOf(command).filter((o) => o.hidden !== true);
  const names = options.map(envName).join(', ');
  const lines = ['Environment (flags win over it, it wins over --config):'];
  if (command === 'update' || command === 'import' || command === 'sync')
    lines.push('  CLERK_CHAT_API_KEY  the API key');
  lines.push(`  CLERK_BULK_<OPTION> any option (${BOOLEANS}):`, ...wrap(names, '    '));
  if (options.some((o) => o.flag === 'config')) {
    lines.push(
      '',
      'Config file (--config FILE): a JSON object of options named as the flags, e.g.',
      '  {"rate": 20, "dry-run": true, "map": "mapping.json"}',
      '  Paths are relative to the file. Keys another command takes are ignored here,',
      '  so one job file can serve update and validate.',
    );
  }
  lines.push('', EXIT_CODES);
  return lines.join('\n');
}

/** The top-level `--help`: what every command shares. */
export function generalHelp(): string {
  return `Environment:
  CLERK_CHAT_API_KEY        the API key
  CLERK_BULK_<OPTION>       any option of update, import, sync, validate and report
  CLERK_BULK_MOCK_<OPTION>  any option of mock-server
  (${BOOLEANS}; each command reads only its own)
Config file: --config FILE, a JSON object of options named as the flags.
Without a command, clerk-bulk prints this help and exits 2.

${EXIT_CODES}`;
}

function wrap(words: string, indent: string, width = 80): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of words.split(' ')) {
    if (line !== '' && indent.length + line.length + word.length + 1 > width) {
      lines.push(indent + line.trimEnd());
      line = '';
    }
    line += `${word} `;
  }
  if (line !== '') lines.push(indent + line.trimEnd());
  return lines;
}
