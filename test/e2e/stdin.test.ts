// `-` as the input: the CSV comes on stdin, for pipelines such as
// `psql ... | clerk-bulk update - --out results.csv`.
import { execFileSync, spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  CLI,
  type CliResult,
  cliTestBed,
  csv,
  lastLinePerRow,
  readResults,
  runCli,
  tempDir,
  updateArgv,
} from '../helpers.js';

const bed = cliTestBed('stdin-test-key');
const { env, puts } = bed;
const rows = (n: number, version: string) =>
  csv(
    ['id', 'name'],
    Array.from({ length: n }, (_, i) => [`${i + 1}`, `Person ${i + 1} ${version}`]),
  );
const spools = () => readdirSync(tmpdir()).filter((f) => f.startsWith('clerk-bulk-stdin-'));

describe('input "-" (stdin)', () => {
  it('updates every row, names the input "stdin", resumes from the same data piped again', async () => {
    const out = join(bed.dir, 'out.csv');
    const before = spools().length;
    const first = await runCli([...updateArgv('-', out, bed.server.url), '--rate', '0', '--json'], {
      env,
      stdin: rows(50, 'v1'),
    });
    expect(first.code).toBe(0);
    expect(JSON.parse(first.stdout)).toMatchObject({ input: 'stdin', counts: { updated: 50 } });
    expect(puts()).toHaveLength(50);
    expect(spools().length).toBe(before); // the temporary copy is gone

    // The same data again, two rows edited: only those are sent.
    const edited = rows(50, 'v1')
      .replace('Person 7 v1', 'Person 7 v2')
      .replace('Person 9 v1', 'P9');
    bed.server.reset();
    const again = await runCli(
      [...updateArgv('-', out, bed.server.url), '--rate', '0', '--resume', '--json'],
      { env, stdin: edited },
    );
    expect(again.code).toBe(0);
    expect(puts().map((r) => r.id)).toEqual(['7', '9']);
    expect(lastLinePerRow(readResults(out)).size).toBe(50);
  });

  it('is checked like a file: bad bytes are refused naming stdin and the line, nothing sent', async () => {
    const res = await runCli(updateArgv('-', join(bed.dir, 'out.csv'), bed.server.url), {
      env,
      stdin: Buffer.from('id,name\n1,Ada\n2,Jos\xe9\n', 'latin1'),
    });
    expect(res.code).toBe(2);
    expect(res.stderr).toBe(
      'clerk-bulk: stdin line 3: the file is not valid UTF-8 (Latin-1 or Windows-1252?); save it as UTF-8, or use --encoding windows-1252 to read it as it is\n',
    );
    expect(puts()).toHaveLength(0);
  });

  it('needs --out for update, not for validate', async () => {
    const update = await runCli(['update', '-', '--base-url', bed.server.url], {
      env,
      stdin: rows(2, 'v1'),
    });
    expect(update.code).toBe(2);
    expect(update.stderr).toMatch(/stdin \("-"\) needs --out/);
    const validate = await runCli(['validate', '-'], { stdin: rows(2, 'v1') });
    expect(validate.code).toBe(0);
    expect(validate.stdout).toMatch(/^stdin: 2 rows, 2 valid, 0 invalid/);
  });
});

/** The CLI with a stdin that stays open (a writer still busy), its temporary folder `tmp`. */
function spawnWithOpenStdin(args: string[], env: Record<string, string>, tmp: string) {
  const clean: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !k.startsWith('CLERK_BULK_') && k !== 'CLERK_CHAT_API_KEY') clean[k] = v;
  }
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { ...clean, ...env, TMPDIR: tmp },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
  });
  // Never a hang: a child still there after 20 s is killed (and the test fails on it).
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  const done = new Promise<CliResult>((resolve) => {
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
  return { child, done };
}

/** The bytes copied so far into the stdin copy under `tmp` (0 while there is none). */
function copiedBytes(tmp: string): number {
  for (const dir of readdirSync(tmp).filter((f) => f.startsWith('clerk-bulk-stdin-'))) {
    try {
      return statSync(join(tmp, dir, 'stdin.csv')).size;
    } catch {
      // the folder is there, the file not yet
    }
  }
  return 0;
}

describe('a signal while stdin is being copied', () => {
  it.each([
    ['update', 'SIGINT', 130],
    ['update', 'SIGTERM', 143],
    ['validate', 'SIGINT', 130],
  ] as const)(
    '%s stops at the first %s, exits %i and removes the copy',
    async (command, signal, code) => {
      const tmp = tempDir();
      const args =
        command === 'update'
          ? [...updateArgv('-', join(bed.dir, 'out.csv'), bed.server.url), '--quiet']
          : ['validate', '-'];
      const { child, done } = spawnWithOpenStdin(args, env, tmp);
      child.stdin.write(rows(3, 'v1'));
      const deadline = Date.now() + 15_000;
      while (copiedBytes(tmp) === 0 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(copiedBytes(tmp)).toBeGreaterThan(0);

      const signalledAt = Date.now();
      child.kill(signal);
      const res = await done;
      expect(res.code, res.stderr).toBe(code);
      expect(Date.now() - signalledAt).toBeLessThan(5_000);
      expect(res.stderr).toContain(
        `clerk-bulk: stdin: ${signal} while copying the input; stopped, nothing was sent\n`,
      );
      expect(res.stderr).not.toMatch(/\n\s+at /);
      expect(readdirSync(tmp)).toEqual([]);
      expect(puts()).toHaveLength(0);
    },
  );
});

describe('a pipe given as the input path', () => {
  it('refuses /dev/stdin on a pipe, saying to use - for stdin, and sends nothing', async () => {
    const res = await runCli(updateArgv('/dev/stdin', join(bed.dir, 'out.csv'), bed.server.url), {
      env,
      stdin: rows(2, 'v1'),
      timeoutMs: 20_000,
    });
    expect(res.code, res.stderr).toBe(2);
    expect(res.stderr).toMatch(
      /^clerk-bulk: \/dev\/stdin: is a (pipe \(FIFO\)|socket), not a regular file: .*use - for stdin/,
    );
    expect(puts()).toHaveLength(0);
  });

  it('refuses a FIFO at once instead of waiting for a writer', async () => {
    const fifo = join(bed.dir, 'pipe.csv');
    execFileSync('mkfifo', [fifo]);
    const res = await runCli(updateArgv(fifo, join(bed.dir, 'out.csv'), bed.server.url), {
      env,
      timeoutMs: 20_000,
    });
    expect(res.code, res.stderr).toBe(2);
    expect(res.stderr).toMatch(
      /pipe\.csv: is a pipe \(FIFO\), not a regular file: .*use - for stdin/,
    );
  });
});
