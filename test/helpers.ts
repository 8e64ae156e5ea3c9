import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'csv-parse/sync';
import { afterEach, beforeEach } from 'vitest';
import {
  type MockServer,
  type MockServerOptions,
  startMockServer,
} from '../src/mock-server/index.js';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const CLI = join(ROOT, 'dist', 'main.js');
/** The messy-input corpus: one file per case, outcomes in test/e2e/input-corpus.test.ts. */
export const INPUT_FIXTURES = join(ROOT, 'test', 'fixtures', 'input');
/** A raw ESC or CSI in output: a terminal would run it instead of showing it. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: looking for raw ESC and CSI
export const RAW_TERMINAL_CONTROL = /[\u001b\u009b]/;

const made: string[] = [];
afterEach(() => {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A fresh temporary folder, removed after the test. */
export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'clerk-bulk-test-'));
  made.push(dir);
  return dir;
}

/** Write `text` to `dir/name` and return the path. */
export function writeFile(dir: string, name: string, text: string | Buffer): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

/** A CSV from a header and rows (cells are quoted only when needed). */
export function csv(header: string[], rows: Array<Array<string | number | boolean>>): string {
  const quote = (v: string | number | boolean) => {
    const s = String(v);
    return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  return `${[header, ...rows].map((r) => r.map(quote).join(',')).join('\n')}\n`;
}

/**
 * Write a CSV of `count` data rows to `dir/name` and return the path; row n (from 1)
 * holds `cells(n)`.
 */
export function writeRows(
  dir: string,
  name: string,
  header: string[],
  count: number,
  cells: (n: number) => Array<string | number | boolean>,
): string {
  return writeFile(
    dir,
    name,
    csv(
      header,
      Array.from({ length: count }, (_, i) => cells(i + 1)),
    ),
  );
}

/** The argv of `update <input> --out <out> --base-url <baseUrl>`, then `more`. */
export function updateArgv(
  input: string,
  out: string,
  baseUrl: string,
  ...more: string[]
): string[] {
  return ['update', input, '--out', out, '--base-url', baseUrl, ...more];
}

/**
 * A mock server started before each test of the calling file and closed after it:
 * `const mock = mockServerPerTest({...})`, then `mock.server` inside the tests.
 */
export function mockServerPerTest(options: MockServerOptions): { readonly server: MockServer } {
  let current: MockServer | undefined;
  beforeEach(async () => {
    current = await startMockServer(options);
  });
  // The server stays readable after it is closed, for a file's own afterEach checks.
  afterEach(async () => {
    await current?.close();
  });
  return {
    get server(): MockServer {
      if (current === undefined) throw new Error('the mock server starts before each test');
      return current;
    },
  };
}

/**
 * What most end-to-end test files set up: a mock server per test taking `apiKey`, a
 * fresh temp folder per test, the env that hands the CLI the key, and the PUTs the
 * server received.
 */
export function cliTestBed(apiKey: string, options: Partial<MockServerOptions> = {}) {
  const mock = mockServerPerTest({ apiKey, ids: 'any', ...options });
  let dir = '';
  beforeEach(() => {
    dir = tempDir();
  });
  return {
    env: { CLERK_CHAT_API_KEY: apiKey },
    get server(): MockServer {
      return mock.server;
    },
    get dir(): string {
      return dir;
    },
    puts: () => mock.server.requests.filter((r) => r.method === 'PUT'),
  };
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Run the built CLI as a child process, as a user would, and wait for it to end. */
export async function runCli(
  args: string[],
  options: {
    env?: Record<string, string>;
    timeoutMs?: number;
    cwd?: string;
    /** Piped to the CLI's stdin (which is otherwise closed). */
    stdin?: string | Buffer;
  } = {},
): Promise<CliResult> {
  const { child, done } = spawnCli(args, options.env, options.cwd, options.stdin);
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 50_000);
  try {
    return await done;
  } finally {
    clearTimeout(timer);
  }
}

export interface ResultRow {
  row: string;
  id: string;
  status: string;
  http_status: string;
  attempts: string;
  error: string;
  payload_sha256: string;
  finished_at: string;
}

/** Every line of a results file, as objects. */
export function readResults(path: string): ResultRow[] {
  return parse(readFileSync(path, 'utf8'), { columns: true }) as ResultRow[];
}

/** The last line per row number (what resume goes by). */
export function lastLinePerRow(lines: ResultRow[]): Map<number, ResultRow> {
  const byRow = new Map<number, ResultRow>();
  for (const line of lines) byRow.set(Number(line.row), line);
  return byRow;
}

/**
 * Start the CLI and hand back the child, for tests that signal or kill it mid-run.
 * The child gets this environment minus any CLERK_BULK_* or key variables, plus `env`.
 */
export function spawnCli(
  args: string[],
  env: Record<string, string> = {},
  cwd = ROOT,
  stdin?: string | Buffer,
) {
  const clean: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !k.startsWith('CLERK_BULK_') && k !== 'CLERK_CHAT_API_KEY') clean[k] = v;
  }
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd,
    env: { ...clean, ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  // Without data, stdin is at its end at once, as with `< /dev/null`.
  child.stdin.end(stdin);
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
  });
  const done = new Promise<CliResult>((resolvePromise) => {
    child.on('close', (code, signal) => resolvePromise({ code, signal, stdout, stderr }));
  });
  return { child, done };
}

/** Resolve once `path` holds at least `lines` newline characters. */
export async function waitForLines(path: string, lines: number, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const text = readFileSync(path);
      let n = 0;
      for (let i = text.indexOf(10); i !== -1; i = text.indexOf(10, i + 1)) n++;
      if (n >= lines) return;
    } catch {
      // not created yet
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`${path} did not reach ${lines} lines in ${timeoutMs} ms`);
}
