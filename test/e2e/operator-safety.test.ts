import { execFileSync } from 'node:child_process';
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
