import { chmodSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { toUpdateConfig } from '../../../src/cli/config.js';
import { parseArgv } from '../../../src/cli/parse-argv.js';
import { resolveOptions } from '../../../src/cli/resolve-options.js';
import { tempDir, writeFile } from '../../helpers.js';

/** argv + environment → the resolved options of the command argv names. */
function resolve(argv: string[], env: Record<string, string> = {}) {
  const invocation = parseArgv(argv);
  if (!('flags' in invocation)) throw new Error(`no command in ${argv.join(' ')}`);
  return resolveOptions(invocation, env);
}

/** argv + environment → the checked update options, as the CLI computes them. */
function configFor(argv: string[], env: Record<string, string> = {}) {
  return toUpdateConfig(resolve(['update', 'in.csv', ...argv], env).options, env);
}

describe('argv → options', () => {
  it.each([
    [
      'the defaults',
      [],
      {},
      {
        out: 'in.csv.results.csv',
        rate: 10,
        concurrency: 5,
        retries: 5,
        timeout: 30_000,
        empty: 'omit',
        baseUrl: 'https://web-api.clerk.chat',
        resume: false,
        dryRun: false,
        json: false,
        quiet: false,
        log: 'text',
      },
    ],
    [
      'every flag',
      [
        '-o',
        'r.csv',
        '--rate',
        '2.5',
        '--concurrency',
        '8',
        '--retries',
        '0',
        '--timeout',
        '1000',
        '--empty',
        'null',
        '--delimiter',
        'tab',
        '--limit',
        '10',
        '--max-errors',
        '3',
        '--json',
        '--quiet',
        '--base-url',
        'http://127.0.0.1:9',
      ],
      {},
      {
        out: 'r.csv',
        rate: 2.5,
        concurrency: 8,
        retries: 0,
        timeout: 1000,
        empty: 'null',
        delimiter: '\t',
        limit: 10,
        maxErrors: 3,
        json: true,
        quiet: true,
        baseUrl: 'http://127.0.0.1:9',
      },
    ],
    [
      'a dry run names its own results file',
      ['--dry-run'],
      {},
      { out: 'in.csv.dry-run.results.csv', dryRun: true },
    ],
    ['--rate 0 means no limit', ['--rate', '0'], {}, { rate: 0 }],
    [
      'options from the environment',
      [],
      { CLERK_BULK_RATE: '20', CLERK_BULK_CONCURRENCY: '7', CLERK_BULK_QUIET: 'true' },
      { rate: 20, concurrency: 7, quiet: true },
    ],
    ['flags over the environment', ['--rate', '30'], { CLERK_BULK_RATE: '20' }, { rate: 30 }],
  ])('%s', (_title, argv, env, expected) => {
    expect(configFor(argv, { CLERK_CHAT_API_KEY: 'k', ...env })).toMatchObject(expected);
  });

  it('takes the key from CLERK_CHAT_API_KEY, and the flag over it', () => {
    expect(configFor([], { CLERK_CHAT_API_KEY: 'from-env' }).apiKey).toBe('from-env');
    expect(configFor(['--api-key', 'from-flag'], { CLERK_CHAT_API_KEY: 'from-env' }).apiKey).toBe(
      'from-flag',
    );
  });

  it('applies flags over environment over config file over defaults', () => {
    const dir = tempDir();
    const file = writeFile(
      dir,
      'job.json',
      JSON.stringify({ rate: 3, concurrency: 2, retries: 9, map: 'm.json' }),
    );
    writeFile(dir, 'm.json', '{"columns": {}}');
    const config = configFor(['--config', file, '--rate', '4'], {
      CLERK_CHAT_API_KEY: 'k',
      CLERK_BULK_CONCURRENCY: '6',
    });
    expect(config).toMatchObject({ rate: 4, concurrency: 6, retries: 9, timeout: 30_000 });
  });

  it('warns when a config file holding the key is readable by others', () => {
    const dir = tempDir();
    const file = writeFile(dir, 'job.json', JSON.stringify({ apiKey: 'secret-in-file' }));
    chmodSync(file, 0o644);
    const open = resolve(['update', 'in.csv', '--config', file]);
    expect(open.warnings).toHaveLength(1);
    expect(open.warnings.join()).toMatch(/chmod 600/);
    expect(open.warnings.join()).not.toContain('secret-in-file');
    chmodSync(file, 0o600);
    expect(resolve(['update', 'in.csv', '--config', file]).warnings).toEqual([]);
  });

  it.each([
    [['--rate', 'fast'], /--rate: expected .*got "fast"/],
    [['--rate', '-1'], /--rate: expected .*got -1/],
    [['--concurrency', '0'], /--concurrency: expected a whole number from 1 to 1000, got 0/],
    [['--concurrency', '2.5'], /--concurrency: expected a whole number/],
    [['--timeout', '5'], /--timeout: expected milliseconds/],
    [['--delimiter', ';;'], /--delimiter: expected one character/],
    [
      ['--base-url', 'ftp://x'],
      /--base-url: expected an http\(s\) URL without query or fragment, got "ftp:\/\/x"/,
    ],
    [['--retry-failed'], /--retry-failed goes with --resume/],
    [['--resume', '--force'], /contradict/],
    [['--empty', 'zero'], /--empty: expected "omit" or "null", got "zero"/],
    [['--no-such-flag'], /unknown option --no-such-flag/],
  ])('refuses %j with a clear message and exit 2', (argv, message) => {
    expect(() => configFor(argv, { CLERK_CHAT_API_KEY: 'k' })).toThrow(
      expect.objectContaining({ exitCode: 2, message: expect.stringMatching(message) }),
    );
  });

  it('asks for a key unless it is a dry run', () => {
    expect(() => configFor([])).toThrow(expect.objectContaining({ code: 'E_NO_API_KEY' }));
    expect(configFor(['--dry-run']).apiKey).toBeUndefined();
  });
});
