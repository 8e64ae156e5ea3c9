import { execFileSync } from 'node:child_process';
import { linkSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cliTestBed, runCli, updateArgv, writeRows } from '../helpers.js';

const KEY = 'operator-safety-key';

describe('operator safety: outputs that are not regular files', () => {
  const bed = cliTestBed(KEY);

  it('refuses a FIFO as --out at once, with exit 2, and sends nothing', async () => {
    const input = writeRows(bed.dir, 'in.csv', ['id', 'name'], 3, (n) => [n, `N${n}`]);
    const fifo = join(bed.dir, 'results.fifo');
    execFileSync('mkfifo', [fifo]);
    const started = Date.now();
    const result = await runCli(updateArgv(input, fifo, bed.server.url, '--resume'), {
      env: bed.env,
      timeoutMs: 10_000,
    });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('named pipe (FIFO)');
    expect(Date.now() - started).toBeLessThan(8_000);
    expect(bed.puts()).toHaveLength(0);
  });

  it('refuses a directory as --out with exit 2', async () => {
    const input = writeRows(bed.dir, 'in.csv', ['id', 'name'], 2, (n) => [n, `N${n}`]);
    const result = await runCli(updateArgv(input, bed.dir, bed.server.url, '--force'), {
      env: bed.env,
    });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('is a directory');
    expect(bed.puts()).toHaveLength(0);
  });
});

describe('operator safety: an output option never overwrites an input', () => {
  const bed = cliTestBed(KEY);

  it('validate refuses --invalid-out naming the input, and leaves the input as it was', async () => {
    const input = writeRows(bed.dir, 'ids.csv', ['id', 'email'], 3, (n) => [n, 'not-an-email']);
    const before = readFileSync(input, 'utf8');
    const result = await runCli(['validate', input, '--invalid-out', input]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--invalid-out');
    expect(result.stderr).toContain('the input file');
    expect(readFileSync(input, 'utf8')).toBe(before);
  });

  it('validate refuses --invalid-out naming the mapping file', async () => {
    const input = writeRows(bed.dir, 'ids.csv', ['id', 'Mail'], 2, (n) => [n, 'x@example.com']);
    const map = join(bed.dir, 'map.json');
    writeFileSync(map, JSON.stringify({ columns: { Mail: 'email' } }));
    expect((await runCli(['validate', input, '--map', map])).code).toBe(0);
    const result = await runCli(['validate', input, '--map', map, '--invalid-out', map]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('the --map file');
    expect(JSON.parse(readFileSync(map, 'utf8'))).toEqual({ columns: { Mail: 'email' } });
  });

  it('report refuses --failed-out naming the results file, also through a hard link', async () => {
    const input = writeRows(bed.dir, 'in.csv', ['id', 'name'], 3, (n) => [n, `N${n}`]);
    const out = join(bed.dir, 'r.csv');
    const run = await runCli(updateArgv(input, out, bed.server.url), { env: bed.env });
    expect(run.code).toBe(0);
    const before = readFileSync(out, 'utf8');
    const link = join(bed.dir, 'link.csv');
    linkSync(out, link);
    for (const target of [out, link]) {
      const result = await runCli(['report', out, '--failed-out', target]);
      expect(result.code).toBe(2);
      expect(result.stderr).toContain('the results file');
    }
    expect(readFileSync(out, 'utf8')).toBe(before);
  });
});
