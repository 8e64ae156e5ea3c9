import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type MockServer, startMockServer } from '../../src/mock-server/index.js';
import { CLI, csv, readResults, runCli, tempDir, writeFile } from '../helpers.js';

const KEY = 'output-test-key';
const env = { CLERK_CHAT_API_KEY: KEY };
let server: MockServer;
let dir: string;
let input: string;

beforeEach(async () => {
  server = await startMockServer({ apiKey: KEY, ids: 'any', latencyMs: [2, 6] });
  dir = tempDir();
  const rows = Array.from({ length: 300 }, (_, i) => [
    `${i + 1}`,
    i === 7 ? 'not-an-email' : `p${i}@example.com`,
  ]);
  input = writeFile(dir, 'in.csv', csv(['id', 'email'], rows));
});
afterEach(async () => {
  await server.close();
});

// biome-ignore lint/suspicious/noControlCharactersInRegex: looking for escape codes is the point
const ESCAPE = /\u001b\[/;

describe('output for people and for cron', () => {
  it('prints plain progress lines without escape codes when not on a terminal', async () => {
    const res = await runCli(
      [
        'update',
        input,
        '--out',
        join(dir, 'o.csv'),
        '--base-url',
        server.url,
        '--rate',
        '200',
        '--progress-interval',
        '1',
      ],
      { env },
    );
    expect(res.code).toBe(1);
    expect(res.stderr).not.toMatch(ESCAPE);
    expect(res.stdout).not.toMatch(ESCAPE);
    const lines = res.stderr.split('\n').filter((l) => l.startsWith('progress: '));
    expect(lines.length).toBeGreaterThanOrEqual(1);
    expect(lines.at(-1)).toMatch(
      /^progress: 300\/300 rows \(100%\), \d+ rows\/s; updated 299, failed 0, invalid 1$/,
    );
    expect(res.stdout).toMatch(/updated 299, failed 0, invalid 1 \(of 300 read\)/);
    expect(res.stdout).toMatch(/most common errors:\n\s+1 {2}email: not a valid email address/);
    expect(res.stdout).toContain(join(dir, 'o.csv'));
  });

  it('writes progress and warnings as JSON lines with --log json', async () => {
    const res = await runCli(
      [
        'update',
        input,
        '--out',
        join(dir, 'o.csv'),
        '--base-url',
        server.url,
        '--rate',
        '0',
        '--log',
        'json',
      ],
      { env },
    );
    const events = res.stderr
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { event: string; done?: number });
    expect(events.at(-1)).toMatchObject({
      event: 'progress',
      done: 300,
      total: 300,
      updated: 299,
      invalid: 1,
    });
  });

  it('prints only the JSON summary on stdout with --json', async () => {
    const res = await runCli(
      [
        'update',
        input,
        '--out',
        join(dir, 'o.csv'),
        '--base-url',
        server.url,
        '--rate',
        '0',
        '--json',
      ],
      { env },
    );
    const summary = JSON.parse(res.stdout) as {
      counts: Record<string, number>;
      exitCode: number;
      topErrors: unknown[];
    };
    expect(summary.counts).toMatchObject({ updated: 299, invalid: 1, failed: 0 });
    expect(summary.exitCode).toBe(1);
    expect(res.code).toBe(1);
  });

  it('prints nothing but the summary with --quiet', async () => {
    const res = await runCli(
      [
        'update',
        input,
        '--out',
        join(dir, 'o.csv'),
        '--base-url',
        server.url,
        '--rate',
        '0',
        '--quiet',
        '--progress-interval',
        '1',
      ],
      { env },
    );
    expect(res.stderr).toBe('');
    expect(res.stdout.startsWith('Finished.')).toBe(true);
  });

  it('draws a progress bar on a terminal', async () => {
    // `script` runs the CLI on a pseudo-terminal, as a person at a terminal would.
    const command = [
      process.execPath,
      CLI,
      'update',
      input,
      '--out',
      join(dir, 'o.csv'),
      '--base-url',
      server.url,
      '--rate',
      '300',
    ]
      .map((a) => `'${a}'`)
      .join(' ');
    const output = await new Promise<string>((resolve, reject) => {
      const child = spawn('script', ['-qfec', `stty cols 140; ${command}`, '/dev/null'], {
        env: { ...process.env, ...env },
      });
      let text = '';
      child.stdout.on('data', (d: Buffer) => {
        text += d.toString();
      });
      child.on('error', reject);
      child.on('close', () => resolve(text));
    });
    expect(output).toMatch(/\u2588+\u2591* \d+% \d+\/300 rows \d+\/s ETA/);
    expect(output).toMatch(/updated 299 failed 0 invalid 1/);
    expect(output).toContain('Finished.');
    expect(readResults(join(dir, 'o.csv'))).toHaveLength(300);
  });
});
