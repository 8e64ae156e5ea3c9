import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MockServer, startMockServer } from '../../src/mock-server/index.js';
import { readResults, runCli, tempDir, updateArgv, writeRows } from '../helpers.js';

/** A 32 KiB tmpfs: a disk that fills up after a few hundred results lines. */
function mountTinyDisk(dir: string): boolean {
  try {
    mkdirSync(dir, { recursive: true });
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=32k', 'tmpfs', dir], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const KEY = 'disk-key';
// Not tempDir(): that is removed after each test, while the disk is still mounted.
const root = mkdtempSync(join(tmpdir(), 'clerk-bulk-disk-'));
const disk = join(root, 'disk');
const mounted = mountTinyDisk(disk);
let server: MockServer;

beforeAll(async () => {
  server = await startMockServer({ apiKey: KEY, ids: 'any' });
});
afterAll(async () => {
  await server.close();
  if (mounted) execFileSync('umount', [disk]);
  rmSync(root, { recursive: true, force: true });
});

describe('a disk that fills up mid-run', () => {
  // Needs root to mount a tmpfs (CI and the dev machines run as root); skipped elsewhere.
  it.skipIf(!mounted)(
    'stops the run, sends nothing it cannot record, and says how to continue',
    async () => {
      const input = writeRows(tempDir(), 'in.csv', ['id', 'name'], 2_000, (n) => [
        `${n}`,
        `Person ${n}`,
      ]);
      const out = join(disk, 'out.csv');
      const concurrency = 4;
      const res = await runCli(
        updateArgv(
          input,
          out,
          server.url,
          '--rate',
          '0',
          '--concurrency',
          `${concurrency}`,
          '--quiet',
        ),
        { env: { CLERK_CHAT_API_KEY: KEY } },
      );
      expect(res.code).toBe(3);
      expect(res.stderr).toMatch(/no space left on the device.*--resume/);
      expect(res.stderr.trim().split('\n')).toHaveLength(1);
      const recorded = readResults(out).length;
      expect(recorded).toBeGreaterThan(0);
      expect(recorded).toBeLessThan(2_000);
      const sent = server.requests.filter((r) => r.method === 'PUT').length;
      // Only the requests already in flight when the write failed went out unrecorded.
      expect(sent - recorded).toBeLessThanOrEqual(concurrency + 1);
    },
  );
});
