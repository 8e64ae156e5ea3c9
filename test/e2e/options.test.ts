import { chmodSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { envName, OPTIONS, type OptionSpec } from '../../src/cli/options.js';
import { VERSION } from '../../src/version.js';
import { cliTestBed, csv, readResults, runCli, spawnCli, writeFile } from '../helpers.js';

const KEY = 'options-e2e-key';
const bed = cliTestBed(KEY);

const INPUT = csv(
  ['id', 'name'],
  [
    ['1', 'Ada'],
    ['2', 'Grace'],
  ],
);

/**
 * A valid value for every variable the option table knows, all set at once for every
 * command. A new option fails the first test until it gets a value here.
 */
function everyVariable(dir: string, baseUrl: string): Record<string, string> {
  const config = writeFile(dir, 'job.json', JSON.stringify({ retries: 2, show: 5, json: false }));
  chmodSync(config, 0o600);
  return {
    CLERK_BULK_OUT: join(dir, 'out.csv'),
    CLERK_BULK_RESUME: '0',
    CLERK_BULK_RETRY_FAILED: 'no',
    CLERK_BULK_FORCE: 'off',
    CLERK_BULK_DRY_RUN: '1',
    CLERK_BULK_API_KEY: KEY,
    CLERK_BULK_CONFIG: config,
    CLERK_BULK_BASE_URL: baseUrl,
    CLERK_BULK_RATE: 'auto',
    CLERK_BULK_MAX_RATE: '200',
    CLERK_BULK_CONCURRENCY: '2',
    CLERK_BULK_RETRIES: '1',
    CLERK_BULK_TIMEOUT: '5000',
    CLERK_BULK_MAP: writeFile(dir, 'map.json', '{"columns": {}}'),
    CLERK_BULK_EMPTY: 'omit',
    CLERK_BULK_DELIMITER: 'comma',
    CLERK_BULK_ENCODING: 'utf-8',
    CLERK_BULK_LIMIT: '100',
    CLERK_BULK_MAX_ERRORS: '10',
    // A dry run reads the state without creating or locking it.
    CLERK_BULK_STATE: join(dir, 'state'),
    CLERK_BULK_FULL: 'no',
    CLERK_BULK_REDIS_URL: 'redis://127.0.0.1:9',
    CLERK_BULK_REDIS_OPTIONAL: 'no',
    CLERK_BULK_REDIS_MAX_IN_FLIGHT: '8',
    CLERK_BULK_REDIS_GIVE_UP_MS: '1000',
    CLERK_BULK_JSON: 'false',
    CLERK_BULK_QUIET: 'TRUE',
    CLERK_BULK_LOG: 'text',
    CLERK_BULK_PROGRESS_INTERVAL: '10',
    CLERK_BULK_RETRY_BASE_MS: '10',
    CLERK_BULK_SHOW: '5',
    // The input's id column: a key validate accepts on an update file.
    CLERK_BULK_KEY: 'id',
    CLERK_BULK_DEFAULT_COUNTRY: 'US',
    CLERK_BULK_BATCH_SIZE: '10',
    CLERK_BULK_RESEND_UNCERTAIN: 'no',
    CLERK_BULK_IMPORT: '0',
    CLERK_BULK_CREATED_OUT: join(dir, 'created.csv'),
    CLERK_BULK_INVALID_OUT: join(dir, 'invalid.csv'),
    CLERK_BULK_FAILED_OUT: join(dir, 'failed.csv'),
    // The input the report copies rows from (written by the test as in.csv).
    CLERK_BULK_INPUT: join(dir, 'in.csv'),
    CLERK_BULK_MOCK_PORT: '0',
    CLERK_BULK_MOCK_API_KEY: KEY,
    CLERK_BULK_MOCK_IDS: 'any',
    CLERK_BULK_MOCK_RATE_LIMIT: '1000',
    CLERK_BULK_MOCK_RETRY_AFTER: 'seconds',
    CLERK_BULK_MOCK_FAIL_RATE: '0',
    CLERK_BULK_MOCK_LATENCY: '0',
    CLERK_BULK_MOCK_SEED: '7',
    CLERK_BULK_MOCK_RATE_LIMIT_CHANGE: '500@10s',
    CLERK_BULK_MOCK_LOST_RESPONSE_RATE: '0',
    CLERK_BULK_MOCK_LOST_RESPONSE_500_RATE: '0',
    CLERK_BULK_MOCK_BATCH_MAX_CONTACTS: '50',
    CLERK_BULK_MOCK_BATCH_STATUS: '201',
    CLERK_BULK_DEBUG: '1',
  };
}

describe('CLERK_BULK_* variables', () => {
  it('leave every command working while every variable the table knows is set', async () => {
    const env = everyVariable(bed.dir, bed.server.url);
    const known = (OPTIONS as readonly OptionSpec[]).map(envName);
    expect(Object.keys(env).sort()).toEqual([...known, 'CLERK_BULK_DEBUG'].sort());
    const input = writeFile(bed.dir, 'in.csv', INPUT);

    const update = await runCli(['update', input, '--dry-run'], { env });
    expect(update.stderr).toBe('warning: dry run: nothing will be sent\n');
    expect(update.code).toBe(0);
    expect(readResults(env.CLERK_BULK_OUT as string).map((r) => r.status)).toEqual([
      'dry-run',
      'dry-run',
    ]);
    expect(bed.server.requests).toHaveLength(0);

    const validate = await runCli(['validate', input], { env });
    expect(validate).toMatchObject({ code: 0, stderr: '' });
    expect(validate.stdout).toMatch(/2 rows, 2 valid, 0 invalid/);

    const report = await runCli(['report', env.CLERK_BULK_OUT as string], { env });
    expect(report.stderr).toBe('');
    // Dry-run rows are rows left to do.
    expect(report.code).toBe(1);
    expect(report.stdout).toMatch(/2 rows left to do copied from .*in\.csv to .*failed\.csv/);

    for (const argv of [
      ['--help'],
      ['update', '--help'],
      ['import', '--help'],
      ['sync', '--help'],
      ['mock-server', '--help'],
    ]) {
      expect(await runCli(argv, { env })).toMatchObject({ code: 0, stderr: '' });
    }
    expect(await runCli(['--version'], { env })).toMatchObject({
      code: 0,
      stdout: `${VERSION}\n`,
    });

    const mock = spawnCli(['mock-server'], env);
    const firstLine = await new Promise<string>((resolve) => {
      let out = '';
      mock.child.stdout.on('data', (d: Buffer) => {
        out += String(d);
        if (out.includes('\n')) resolve(out.split('\n')[0] as string);
      });
      mock.child.on('close', () => resolve(out));
    });
    expect(firstLine).toMatch(/^clerk-bulk mock server listening on http:\/\/127\.0\.0\.1:\d+$/);
    mock.child.kill('SIGTERM');
    expect(await mock.done).toMatchObject({ code: 0, stderr: '' });
  });
});

describe('a dry run asked for outside the command line', () => {
  it.each(['1', 'yes', 'on', 'TRUE'])('sends nothing with CLERK_BULK_DRY_RUN=%s', async (word) => {
    const input = writeFile(bed.dir, 'in.csv', INPUT);
    const out = join(bed.dir, 'out.csv');
    const res = await runCli(['update', input, '--out', out, '--base-url', bed.server.url], {
      env: { ...bed.env, CLERK_BULK_DRY_RUN: word, CLERK_BULK_QUIET: '1' },
    });
    expect(res.code).toBe(0);
    expect(bed.server.requests).toHaveLength(0);
    expect(readResults(out).map((r) => r.status)).toEqual(['dry-run', 'dry-run']);
  });

  it('sends nothing with "dry-run": "yes" in a config file', async () => {
    const input = writeFile(bed.dir, 'in.csv', INPUT);
    const config = writeFile(bed.dir, 'job.json', JSON.stringify({ 'dry-run': 'yes' }));
    const out = join(bed.dir, 'out.csv');
    const res = await runCli(
      ['update', input, '--out', out, '--base-url', bed.server.url, '--config', config, '-q'],
      { env: bed.env },
    );
    expect(res.code).toBe(0);
    expect(bed.server.requests).toHaveLength(0);
    expect(readResults(out).map((r) => r.status)).toEqual(['dry-run', 'dry-run']);
  });

  it('refuses a value that is not a boolean, before reading anything', async () => {
    const input = writeFile(bed.dir, 'in.csv', INPUT);
    const out = join(bed.dir, 'out.csv');
    const res = await runCli(['update', input, '--out', out, '--base-url', bed.server.url], {
      env: { ...bed.env, CLERK_BULK_DRY_RUN: 'maybe' },
    });
    expect(res).toMatchObject({
      code: 2,
      stderr: 'clerk-bulk: CLERK_BULK_DRY_RUN: expected a boolean, got "maybe"\n',
    });
    expect(bed.server.requests).toHaveLength(0);
    expect(existsSync(out)).toBe(false);
  });
});

describe('the API key', () => {
  it('is trimmed of a Windows line ending', async () => {
    const input = writeFile(bed.dir, 'in.csv', INPUT);
    const out = join(bed.dir, 'out.csv');
    const res = await runCli(['update', input, '--out', out, '--base-url', bed.server.url, '-q'], {
      env: { CLERK_CHAT_API_KEY: `${KEY}\r\n` },
    });
    expect(res.code).toBe(0);
    // The mock answers 401 to any other key.
    expect(bed.puts().map((r) => r.status)).toEqual([200, 200]);
  });

  it('is refused, unseen, when no HTTP header can carry it', async () => {
    const input = writeFile(bed.dir, 'in.csv', INPUT);
    const out = join(bed.dir, 'out.csv');
    const res = await runCli(['update', input, '--out', out, '--base-url', bed.server.url], {
      env: { CLERK_CHAT_API_KEY: `${KEY}\u0007x` },
    });
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/^clerk-bulk: CLERK_CHAT_API_KEY: expected an API key .*\n$/);
    expect(res.stderr + res.stdout).not.toContain(KEY);
    expect(bed.server.requests).toHaveLength(0);
    expect(existsSync(out)).toBe(false);
  });

  it('in a config file others can read is warned about once', async () => {
    const input = writeFile(bed.dir, 'in.csv', INPUT);
    const config = writeFile(bed.dir, 'job.json', JSON.stringify({ 'api-key': KEY }));
    chmodSync(config, 0o644);
    const res = await runCli(['update', input, '--dry-run', '--config', config, '-q'], {
      env: {},
    });
    expect(res.code).toBe(0);
    expect(res.stderr.match(/chmod 600/g)).toHaveLength(1);
    expect(res.stderr).not.toContain(KEY);
  });
});

describe('usage', () => {
  it('shows numeric options as numbers with their defaults, and where else options come from', async () => {
    const res = await runCli(['update', '--help']);
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/--concurrency .*\[number\] \[default: 5\]/);
    // A number or a word: yargs labels it a string; the text says `auto`.
    expect(res.stdout).toMatch(/--rate .*or auto[^\n]*\s+\[string\] \[default: 10\]/);
    expect(res.stdout).toMatch(/--max-rate .*\s+\[number\] \[default: 1000\]/);
    expect(res.stdout).toMatch(/--timeout .*\[number\] \[default: 30000\]/);
    expect(res.stdout).toMatch(/CLERK_CHAT_API_KEY/);
    expect(res.stdout).toMatch(/CLERK_BULK_DRY_RUN/);
    expect(res.stdout).toMatch(/Config file \(--config FILE\)/);
    expect(res.stdout).toMatch(/143 {2}by SIGTERM or SIGHUP\n$/);
  });

  it('prints the usage and exits 2 without a command', async () => {
    const res = await runCli([]);
    expect(res.code).toBe(2);
    expect(res.stdout).toBe('');
    expect(res.stderr).toMatch(/^clerk-bulk <command> \[options\]/);
    expect(res.stderr).toMatch(/clerk-bulk update <input>/);
  });

  it.each([
    [
      ['validate', 'in.csv', '--show', 'abc'],
      'clerk-bulk: --show: expected a whole number >= 0, got "abc"\n',
    ],
    [
      ['update', 'in.csv', '--limit', '0x10'],
      'clerk-bulk: --limit: expected a whole number of rows >= 1, got "0x10"\n',
    ],
    [['updte', 'in.csv'], 'clerk-bulk: unknown command "updte": did you mean update?\n'],
  ])('refuses %j in one line with exit 2', async (argv, stderr) => {
    expect(await runCli(argv, { env: bed.env })).toMatchObject({ code: 2, stdout: '', stderr });
  });
});
