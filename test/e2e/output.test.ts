import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  CLI,
  mockServerPerTest,
  readResults,
  runCli,
  tempDir,
  updateArgv,
  writeRows,
} from '../helpers.js';

const KEY = 'output-test-key';
const env = { CLERK_CHAT_API_KEY: KEY };
const mock = mockServerPerTest({ apiKey: KEY, ids: 'any', latencyMs: [2, 6] });
let dir: string;
let input: string;

beforeEach(() => {
  dir = tempDir();
  input = writeRows(dir, 'in.csv', ['id', 'email'], 300, (n) => [
    `${n}`,
    n === 8 ? 'not-an-email' : `p${n - 1}@example.com`,
  ]);
});

/** `update` of the 300-row input against the mock server, results to `o.csv`. */
const update = (...more: string[]) =>
  runCli(updateArgv(input, join(dir, 'o.csv'), mock.server.url, ...more), { env });

// biome-ignore lint/suspicious/noControlCharactersInRegex: looking for escape codes is the point
const ESCAPE = /\u001b\[/;

describe('output for people and for cron', () => {
  it('prints plain progress lines without escape codes when not on a terminal', async () => {
    const res = await update('--rate', '200', '--progress-interval', '1');
    expect(res.code).toBe(1);
    expect(res.stderr).not.toMatch(ESCAPE);
    expect(res.stdout).not.toMatch(ESCAPE);
    const lines = res.stderr.split('\n').filter((l) => l.startsWith('progress: '));
    expect(lines.length).toBeGreaterThanOrEqual(1);
    expect(lines.at(-1)).toMatch(
      /^progress: 300\/300 rows \(100%\), \d+ rows\/s; updated 299, failed 0, invalid 1; rate 200\/s$/,
    );
    expect(res.stdout).toMatch(/updated 299, failed 0, invalid 1 \(of 300 read\)/);
    expect(res.stdout).toMatch(/most common errors:\n\s+1 {2}email: not a valid email address/);
    expect(res.stdout).toContain(join(dir, 'o.csv'));
  });

  it('writes progress and warnings as JSON lines with --log json', async () => {
    const res = await update('--rate', '0', '--log', 'json');
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
    const res = await update('--rate', '0', '--json');
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
    const res = await update('--rate', '0', '--quiet', '--progress-interval', '1');
    expect(res.stderr).toBe('');
    expect(res.stdout.startsWith('Finished.')).toBe(true);
  });

  it('draws a progress bar on a terminal', async () => {
    // `script` runs the CLI on a pseudo-terminal, as a person at a terminal would.
    const command = [
      process.execPath,
      CLI,
      ...updateArgv(input, join(dir, 'o.csv'), mock.server.url, '--rate', '300'),
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
