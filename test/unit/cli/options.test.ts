import { chmodSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { toUpdateConfig } from '../../../src/cli/config.js';
import { envName, OPTIONS, type OptionSpec } from '../../../src/cli/options.js';
import { parseArgv } from '../../../src/cli/parse-argv.js';
import { resolveOptions } from '../../../src/cli/resolve-options.js';
import { resumeCommand } from '../../../src/commands/update.js';
import { DEFAULT_MAX_RATE_PER_SECOND } from '../../../src/defaults.js';
import { DEFAULT_MAX_RATE_PER_SECOND as SEARCH_MAX_RATE_PER_SECOND } from '../../../src/pipeline/limit/rate-search.js';
import { tempDir, writeFile } from '../../helpers.js';

function resolve(argv: string[], env: Record<string, string> = {}) {
  const invocation = parseArgv(argv);
  if (!('flags' in invocation)) throw new Error(`no command in ${argv.join(' ')}`);
  return resolveOptions(invocation, env);
}

function updateConfig(argv: string[], env: Record<string, string> = {}) {
  return toUpdateConfig(resolve(['update', 'in.csv', ...argv], env).options, env);
}

function configFile(options: Record<string, unknown>): string {
  return writeFile(tempDir(), 'job.json', JSON.stringify(options));
}

const refusal = (message: RegExp) =>
  expect.objectContaining({ exitCode: 2, message: expect.stringMatching(message) });

describe('the option table', () => {
  it('gives every option of a command its own flag and variable', () => {
    for (const command of ['update', 'validate', 'report', 'mock-server'] as const) {
      const options = (OPTIONS as readonly OptionSpec[]).filter((o) =>
        o.commands.includes(command),
      );
      expect(new Set(options.map((o) => o.flag)).size).toBe(options.length);
    }
    const names = (OPTIONS as readonly OptionSpec[]).map(envName);
    expect(new Set(names).size).toBe(names.length);
  });
});

describe('booleans from the environment and a config file', () => {
  it.each([
    ['1', true],
    ['yes', true],
    ['on', true],
    ['TRUE', true],
    ['Yes', true],
    ['0', false],
    ['no', false],
    ['OFF', false],
    ['False', false],
  ])('reads CLERK_BULK_DRY_RUN=%s as %s', (word, expected) => {
    expect(updateConfig([], { CLERK_BULK_DRY_RUN: word, CLERK_CHAT_API_KEY: 'k' }).dryRun).toBe(
      expected,
    );
  });

  it.each([
    ['yes', true],
    [true, true],
    [1, true],
    ['Off', false],
    [false, false],
  ])('reads "dry-run": %j in a config file as %s', (value, expected) => {
    const file = configFile({ 'dry-run': value });
    expect(updateConfig(['--config', file], { CLERK_CHAT_API_KEY: 'k' }).dryRun).toBe(expected);
  });

  it.each(['CLERK_BULK_DRY_RUN', 'CLERK_BULK_QUIET', 'CLERK_BULK_JSON', 'CLERK_BULK_RESUME'])(
    'refuses %s=maybe, naming the variable',
    (name) => {
      expect(() => updateConfig([], { [name]: 'maybe', CLERK_CHAT_API_KEY: 'k' })).toThrow(
        refusal(new RegExp(`^${name}: expected a boolean, got "maybe"$`)),
      );
    },
  );

  it('refuses a config value that is not a boolean, naming the file and the key', () => {
    const file = configFile({ 'dry-run': 'maybe' });
    expect(() => updateConfig(['--config', file])).toThrow(
      refusal(/^--config .*job\.json: dry-run: expected a boolean, got "maybe"$/),
    );
    const camel = configFile({ force: 2 });
    expect(() => updateConfig(['--config', camel], { CLERK_CHAT_API_KEY: 'k' })).toThrow(
      refusal(/job\.json: force: expected a boolean, got 2$/),
    );
  });

  it.each([
    [['--dry-run=yes'], true],
    [['--dry-run=0'], false],
    [['--no-dry-run=no'], true],
  ])('reads %j with the same words', (argv, expected) => {
    expect(updateConfig(argv, { CLERK_CHAT_API_KEY: 'k' }).dryRun).toBe(expected);
  });

  it('refuses --dry-run=maybe instead of reading it as false', () => {
    expect(() => updateConfig(['--dry-run=maybe'], { CLERK_CHAT_API_KEY: 'k' })).toThrow(
      refusal(/^--dry-run: expected a boolean, got "maybe"$/),
    );
  });
});

describe('numbers', () => {
  it.each(['0x10', '1e3', ' 12', '12 ', '0b1', '', 'Infinity'])('refuses --limit %j', (text) => {
    expect(() => updateConfig(['--limit', text], { CLERK_CHAT_API_KEY: 'k' })).toThrow(
      refusal(/^--limit: expected a whole number of rows >= 1, got /),
    );
  });

  it('refuses a non-decimal number from the environment, naming the variable', () => {
    expect(() => updateConfig([], { CLERK_BULK_LIMIT: '0x10', CLERK_CHAT_API_KEY: 'k' })).toThrow(
      refusal(/^CLERK_BULK_LIMIT: expected a whole number of rows >= 1, got "0x10"$/),
    );
  });

  it('takes numbers from a config file as JSON numbers or decimal text', () => {
    const file = configFile({ rate: 2.5, limit: '40' });
    expect(updateConfig(['--config', file], { CLERK_CHAT_API_KEY: 'k' })).toMatchObject({
      rate: 2.5,
      limit: 40,
    });
  });

  it('refuses validate --show abc', () => {
    expect(() => resolve(['validate', 'in.csv', '--show', 'abc'])).toThrow(
      refusal(/^--show: expected a whole number >= 0, got "abc"$/),
    );
    expect(resolve(['validate', 'in.csv']).options.show).toBe(20);
  });
});

describe('options read per command', () => {
  it('ignores variables of options a command does not take', () => {
    const env = { CLERK_BULK_RATE: '20', CLERK_BULK_DRY_RUN: '1', CLERK_BULK_DEBUG: '1' };
    expect(resolve(['report', 'r.csv'], env).options).toEqual({
      results: 'r.csv',
      config: undefined,
      json: false,
      failedOut: undefined,
    });
    expect(resolve(['validate', 'in.csv'], env).options).not.toHaveProperty('rate');
  });

  it('lets update and validate share a config file, each taking its own keys', () => {
    const dir = tempDir();
    writeFile(dir, 'm.json', '{"columns": {}}');
    const file = writeFile(
      dir,
      'job.json',
      JSON.stringify({ rate: 20, 'dry-run': true, map: 'm.json', show: 3, 'invalid-out': 'x.csv' }),
    );
    expect(resolve(['validate', 'in.csv', '--config', file]).options).toMatchObject({
      show: 3,
      map: `${dir}/m.json`,
      invalidOut: `${dir}/x.csv`,
    });
    const update = resolve(['update', 'in.csv', '--config', file]);
    expect(update.options).toMatchObject({ rate: 20, dryRun: true });
    expect(update.warnings).toEqual([]);
  });

  it('warns once about config keys no command takes', () => {
    const file = configFile({ rate: 20, rat: 3, colour: 'red' });
    expect(resolve(['update', 'in.csv', '--config', file]).warnings).toEqual([
      `--config ${file}: ignoring "rat", "colour": no command takes them`,
    ]);
  });

  it('lets validate run whatever CLERK_CHAT_API_KEY holds: it sends nothing', () => {
    const env = { CLERK_CHAT_API_KEY: 'bad\u0001key' };
    const { options } = resolve(['validate', 'in.csv'], env);
    const config = toUpdateConfig(options, env, { requireKey: false, needsOut: false });
    expect(config.apiKey).toBeUndefined();
  });

  it('reads the mock server options from CLERK_BULK_MOCK_* only', () => {
    const env = { CLERK_BULK_API_KEY: 'real-key', CLERK_BULK_MOCK_PORT: '0' };
    expect(resolve(['mock-server'], env).options).toMatchObject({ apiKey: 'test-key', port: 0 });
    expect(() => resolve(['mock-server'], { CLERK_BULK_MOCK_PORT: '70000' })).toThrow(
      refusal(/^CLERK_BULK_MOCK_PORT: expected a whole number from 0 to 65535, got 70000$/),
    );
  });
});

describe('the API key and the base URL', () => {
  it('trims the key of surrounding whitespace (a key file saved on Windows)', () => {
    expect(updateConfig([], { CLERK_CHAT_API_KEY: '  secret\r\n' }).apiKey).toBe('secret');
    expect(updateConfig(['--api-key', 'secret\r\n']).apiKey).toBe('secret');
    expect(updateConfig([], { CLERK_BULK_API_KEY: '\tsecret ' }).apiKey).toBe('secret');
  });

  it.each([
    ['CLERK_CHAT_API_KEY', 'sec\u0001ret'],
    ['CLERK_CHAT_API_KEY', 'sec\nret'],
    ['CLERK_BULK_API_KEY', 'ключ-secret'],
    ['CLERK_BULK_API_KEY', 'sec\u2028ret'],
  ])('refuses %s holding a key no HTTP header can carry, without showing it', (name, key) => {
    let error: unknown;
    try {
      updateConfig([], { [name]: key });
    } catch (err) {
      error = err;
    }
    expect(error).toMatchObject({ exitCode: 2, message: expect.stringMatching(`^${name}: `) });
    expect((error as Error).message).not.toMatch(/secret|sec|ret/);
  });

  it.each([
    'https://web-api.clerk.chat?x=1',
    'https://web-api.clerk.chat/?',
    'https://web-api.clerk.chat/#top',
  ])('refuses --base-url %s', (url) => {
    expect(() => updateConfig(['--base-url', url], { CLERK_CHAT_API_KEY: 'k' })).toThrow(
      refusal(/^--base-url: expected an http\(s\) URL without query or fragment/),
    );
  });
});

describe('the resume command', () => {
  it('repeats the options the table marks, when they differ from the default', () => {
    const dir = tempDir();
    const file = writeFile(dir, 'job.json', '{}');
    chmodSync(file, 0o600);
    const config = updateConfig(
      [
        ...['--config', file, '--rate', '20', '--delimiter', 'tab', '--limit', '7'],
        ...['--api-key', 'secret', '--concurrency', '5', '--quiet', '--out', 'r.csv'],
      ],
      {},
    );
    expect(resumeCommand(config, { retryFailed: true })).toBe(
      `clerk-bulk update in.csv --out r.csv --resume --retry-failed --config ${file} --rate 20 --delimiter tab --limit 7`,
    );
  });
});

describe('the command line itself', () => {
  it.each([
    [['updat', 'in.csv'], /^unknown command "updat": did you mean update\?$/],
    [['frobnicate'], /^unknown command "frobnicate": say update, import, sync, validate, report/],
    [['update', 'in.csv', '--dry-rnu'], /^unknown option --dry-rnu \(did you mean --dry-run\?\)/],
    [['update', 'in.csv', '--concurency', '3'], /did you mean --concurrency\?/],
    [['validate', 'in.csv', '--rate', '3'], /^unknown option --rate; see clerk-bulk validate/],
    [['update', 'a.csv', 'b.csv'], /^unexpected argument "b.csv"$/],
    [['report'], /^missing the results file: clerk-bulk report <results>$/],
  ])('answers %j with one line that says what to do', (argv, message) => {
    expect(() => parseArgv(argv)).toThrow(refusal(message));
  });

  it('hands back the usage when no command is given', () => {
    const invocation = parseArgv([]);
    expect(invocation.command).toBe('usage');
    expect(invocation.command === 'usage' && invocation.help).toMatch(/clerk-bulk <command>/);
  });

  it('keeps a lone - as stdin', () => {
    expect(resolve(['update', '-', '--out', '-']).options).toMatchObject({ input: '-', out: '-' });
  });
});

describe('--rate: a number or auto', () => {
  it.each([
    [['--rate', 'auto'], {}, 'auto'],
    [['--rate', 'AUTO'], {}, 'auto'],
    [['--rate', '2.5'], {}, 2.5],
    [['--rate', '0'], {}, 0],
    [[], { CLERK_BULK_RATE: 'auto' }, 'auto'],
    [[], { CLERK_BULK_RATE: '40' }, 40],
    [[], {}, 10],
  ])('reads %j with %j as %j', (argv, env, expected) => {
    expect(updateConfig(['--dry-run', ...argv], env as Record<string, string>).rate).toBe(expected);
  });

  it('reads auto and a number from a config file', () => {
    expect(updateConfig(['--dry-run', '--config', configFile({ rate: 'auto' })]).rate).toBe('auto');
    expect(updateConfig(['--dry-run', '--config', configFile({ rate: 7 })]).rate).toBe(7);
  });

  it.each([
    [['--rate', 'fast'], /^--rate: expected requests per second .* or auto, got "fast"$/],
    [['--rate', '-1'], /^--rate: expected .* or auto, got -1$/],
    [['--rate', '0x10'], /^--rate: expected .* or auto, got "0x10"$/],
    [['--rate', 'auto', '--max-rate', '0'], /^--max-rate: expected .*> 0\), got 0$/],
  ])('refuses %j', (argv, message) => {
    expect(() => updateConfig(['--dry-run', ...argv])).toThrow(refusal(message));
  });

  it('refuses --max-rate next to a numeric --rate, which it would not bound', () => {
    expect(() => updateConfig(['--dry-run', '--rate', '20', '--max-rate', '50'])).toThrow(
      refusal(/^--max-rate caps --rate auto; with --rate 20 it would do nothing/),
    );
    expect(() => updateConfig(['--dry-run', '--max-rate', '50'])).toThrow(
      refusal(/with --rate 10 it would do nothing/),
    );
  });

  it('leaves --max-rate unset unless given, and takes it with --rate auto', () => {
    expect(updateConfig(['--dry-run', '--rate', 'auto']).maxRate).toBeUndefined();
    expect(
      updateConfig(['--dry-run'], { CLERK_BULK_RATE: 'auto', CLERK_BULK_MAX_RATE: '250' }).maxRate,
    ).toBe(250);
  });

  it('repeats --rate auto and --max-rate in the resume command', () => {
    const config = updateConfig(['--out', 'r.csv', '--rate', 'auto', '--max-rate', '300'], {
      CLERK_CHAT_API_KEY: 'k',
    });
    expect(resumeCommand(config, { retryFailed: false })).toBe(
      'clerk-bulk update in.csv --out r.csv --resume --rate auto --max-rate 300',
    );
  });

  it('keeps the CLI default cap equal to the search module default', () => {
    expect(DEFAULT_MAX_RATE_PER_SECOND).toBe(SEARCH_MAX_RATE_PER_SECOND);
  });
});
