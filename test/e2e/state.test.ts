import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  cliTestBed,
  csv,
  readResults,
  runCli,
  spawnCli,
  updateArgv,
  waitForLines,
  writeFile,
} from '../helpers.js';

const KEY = 'state-key';

/** Rows of an export: id and name; `shuffleSeed` reorders them (a nightly export's order is not stable). */
function exportFile(
  dir: string,
  name: string,
  names: ReadonlyMap<string, string>,
  shuffleSeed = 0,
): string {
  const rows = [...names.entries()].map(([id, n]) => [id, n]);
  let seed = shuffleSeed;
  if (seed > 0) {
    for (let i = rows.length - 1; i > 0; i--) {
      seed = (Math.imul(seed, 1_103_515_245) + 12_345) >>> 0;
      const j = seed % (i + 1);
      [rows[i], rows[j]] = [rows[j] as string[], rows[i] as string[]];
    }
  }
  return writeFile(dir, name, csv(['id', 'name'], rows));
}

function names(count: number, version: (id: number) => string): Map<string, string> {
  return new Map(Array.from({ length: count }, (_, i) => [String(i + 1), version(i + 1)]));
}

/** Statuses of a results file, counted. */
function statuses(out: string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const line of readResults(out)) counts[line.status] = (counts[line.status] ?? 0) + 1;
  return counts;
}

describe('update --state', () => {
  const bed = cliTestBed(KEY);
  const run = (input: string, out: string, ...more: string[]) =>
    runCli(updateArgv(input, out, bed.server.url, '--state', join(bed.dir, 'state'), ...more), {
      env: bed.env,
    });
  const putsPerId = () => {
    const counts = new Map<string, number>();
    for (const put of bed.puts())
      counts.set(put.id as string, (counts.get(put.id as string) ?? 0) + 1);
    return counts;
  };

  it('sends only the changed and the new rows the second time, the rest ends unchanged', async () => {
    const first = exportFile(
      bed.dir,
      'night1.csv',
      names(50, (n) => `P${n}`),
    );
    const r1 = await run(first, join(bed.dir, 'r1.csv'), '--quiet');
    expect(r1.code).toBe(0);
    expect(bed.puts()).toHaveLength(50);
    bed.server.reset();

    const next = names(55, (n) => (n % 10 === 0 ? `P${n} v2` : `P${n}`));
    const second = exportFile(bed.dir, 'night2.csv', next, 7);
    const r2 = await run(second, join(bed.dir, 'r2.csv'), '--json', '--log', 'json');
    expect(r2.code).toBe(0);
    // The last progress line (written at the end) counts them too.
    const progress = r2.stderr
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
      .filter((e) => e.event === 'progress')
      .pop();
    expect(progress).toMatchObject({ done: 55, updated: 10, unchanged: 45 });
    const sent = [...putsPerId().keys()].sort((a, b) => Number(a) - Number(b));
    expect(sent).toEqual(['10', '20', '30', '40', '50', '51', '52', '53', '54', '55']);
    expect([...putsPerId().values()].every((n) => n === 1)).toBe(true);
    expect(statuses(join(bed.dir, 'r2.csv'))).toEqual({ updated: 10, unchanged: 45 });
    const json = JSON.parse(r2.stdout);
    expect(json.counts).toMatchObject({ updated: 10, unchanged: 45, failed: 0 });
    expect(json.state).toMatchObject({ ids: 55 });
    for (const [id, name] of next) expect(bed.server.contacts.get(id)?.name).toBe(name);

    // The unchanged lines carry the hash and no attempt; report counts them as done.
    const line = readResults(join(bed.dir, 'r2.csv')).find((l) => l.status === 'unchanged');
    expect(line).toMatchObject({ attempts: '0', http_status: '' });
    expect(line?.payload_sha256).toMatch(/^[0-9a-f]{64}$/);
    const report = await runCli(['report', join(bed.dir, 'r2.csv')]);
    expect(report.code).toBe(0);
    expect(report.stdout).toContain('updated 10, unchanged 45, failed 0');
  });

  it('never skips a row whose last send failed: a lost answer may have landed', async () => {
    const v1 = names(6, (n) => `P${n}`);
    const input = exportFile(bed.dir, 'v1.csv', v1);
    expect((await run(input, join(bed.dir, 'r1.csv'), '--quiet')).code).toBe(0);
    // The server applies v2 but every answer is lost: the rows fail, the API holds v2.
    bed.server.configure({ faults: { lostResponseRate: 1 } });
    const v2 = exportFile(
      bed.dir,
      'v2.csv',
      names(6, (n) => `P${n} v2`),
    );
    const lost = await run(v2, join(bed.dir, 'r2.csv'), '--quiet', '--retries', '0');
    expect(lost.code).toBe(1);
    expect(statuses(join(bed.dir, 'r2.csv'))).toEqual({ failed: 6 });
    expect(bed.server.contacts.get('1')?.name).toBe('P1 v2');
    bed.server.configure({ faults: {} });
    bed.server.reset();
    // Back to v1: the state knew v1 for these ids, but they are forgotten, so all are sent.
    const back = await run(input, join(bed.dir, 'r3.csv'), '--quiet');
    expect(back.code).toBe(0);
    expect(bed.puts()).toHaveLength(6);
    for (const [id, name] of v1) expect(bed.server.contacts.get(id)?.name).toBe(name);
  });

  it('--full sends every row and still records them; a dry run then shows them unchanged', async () => {
    const input = exportFile(
      bed.dir,
      'in.csv',
      names(20, (n) => `P${n}`),
    );
    expect((await run(input, join(bed.dir, 'r1.csv'), '--quiet')).code).toBe(0);
    const full = await run(input, join(bed.dir, 'r2.csv'), '--quiet', '--full');
    expect(full.code).toBe(0);
    expect(bed.puts()).toHaveLength(40);
    expect(statuses(join(bed.dir, 'r2.csv'))).toEqual({ updated: 20 });
    const dry = await run(input, join(bed.dir, 'dry.csv'), '--dry-run');
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain('unchanged 20');
    expect(statuses(join(bed.dir, 'dry.csv'))).toEqual({ unchanged: 20 });
    expect(bed.puts()).toHaveLength(40);
    // --full alone is refused.
    const alone = await runCli(
      updateArgv(input, join(bed.dir, 'x.csv'), bed.server.url, '--full'),
      {
        env: bed.env,
      },
    );
    expect(alone.code).toBe(2);
    expect(alone.stderr).toBe('clerk-bulk: --full goes with --state\n');
  });

  it('prints a resume command that repeats --state and --full, and that command records the retried row', async () => {
    const input = exportFile(
      bed.dir,
      'in.csv',
      names(5, (n) => `P${n}`),
    );
    bed.server.configure({ script: [{ id: '3', respond: { status: 500, body: 'down' } }] });
    const out = join(bed.dir, 'r.csv');
    const first = await run(input, out, '--full', '--retries', '0');
    expect(first.code).toBe(1);
    const command = /clerk-bulk update .*/.exec(first.stdout)?.[0] ?? '';
    expect(command).toContain(`--state ${join(bed.dir, 'state')}`);
    expect(command).toMatch(/ --full( |$)/);
    expect(command).toContain('--retry-failed');
    const again = await runCli(command.split(' ').slice(1), { env: bed.env });
    expect(again.code).toBe(0);
    const shown = JSON.parse((await runCli(['state', join(bed.dir, 'state'), '--json'])).stdout);
    expect(shown.ids).toBe(5);
    expect(shown.runs.map((r: { resume?: boolean }) => r.resume === true)).toEqual([false, true]);
  });

  it('lets a dry run read a state that a running run holds, without taking its lock', async () => {
    const input = exportFile(
      bed.dir,
      'in.csv',
      names(8, (n) => `P${n}`),
    );
    expect((await run(input, join(bed.dir, 'r1.csv'), '--quiet')).code).toBe(0);
    const holder = spawn('sleep', ['30']);
    const lockPath = join(bed.dir, 'state', 'state.lock');
    try {
      const lock = { pid: holder.pid, host: hostname(), startedAt: 'now', token: 't' };
      writeFileSync(lockPath, JSON.stringify(lock));
      const dry = await run(input, join(bed.dir, 'dry.csv'), '--dry-run', '--quiet');
      expect(dry.code).toBe(0);
      expect(statuses(join(bed.dir, 'dry.csv'))).toEqual({ unchanged: 8 });
      expect(JSON.parse(readFileSync(lockPath, 'utf8')).pid).toBe(holder.pid);
      const real = await run(input, join(bed.dir, 'r2.csv'), '--quiet');
      expect(real.code).toBe(2);
      expect(real.stderr).toContain(`is in use by pid ${holder.pid}`);
    } finally {
      holder.kill('SIGKILL');
    }
  });

  it('clerk-bulk state DIR shows the ids, the last update and the runs (also as JSON)', async () => {
    const input = exportFile(
      bed.dir,
      'in.csv',
      names(12, (n) => `P${n}`),
    );
    expect((await run(input, join(bed.dir, 'r1.csv'), '--quiet')).code).toBe(0);
    expect((await run(input, join(bed.dir, 'r2.csv'), '--quiet')).code).toBe(0);
    const shown = await runCli(['state', join(bed.dir, 'state')]);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(/: 12 ids, last updated \d{4}-/);
    expect(shown.stdout).toMatch(/12 rows: updated 12, unchanged 0, failed 0\n/);
    expect(shown.stdout).toMatch(/12 rows: updated 0, unchanged 12, failed 0\n/);
    const json = JSON.parse((await runCli(['state', join(bed.dir, 'state'), '--json'])).stdout);
    expect(json).toMatchObject({ ids: 12, exists: true, pendingSends: 0 });
    expect(json.runs).toHaveLength(2);
    // Neither the key nor anything of it but the one-way fingerprint is stored.
    for (const name of readdirSync(join(bed.dir, 'state'))) {
      expect(readFileSync(join(bed.dir, 'state', name)).includes(KEY)).toBe(false);
    }
    const missing = await runCli(['state', join(bed.dir, 'nope')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/^clerk-bulk: state directory .* does not exist\n$/);
  });

  it('refuses, with exit 2 and one line, a state of another job, an edited one and a truncated one', async () => {
    const input = exportFile(
      bed.dir,
      'in.csv',
      names(30, (n) => `P${n}`),
    );
    expect((await run(input, join(bed.dir, 'r1.csv'), '--quiet')).code).toBe(0);
    bed.server.reset();
    const state = join(bed.dir, 'state');

    const other = await runCli(
      updateArgv(input, join(bed.dir, 'o.csv'), bed.server.url, '--state', state),
      { env: { CLERK_CHAT_API_KEY: 'another-key' } },
    );
    expect(other.code).toBe(2);
    expect(other.stderr).toMatch(/^clerk-bulk: state directory .* belongs to another job .*\n$/);
    expect(other.stderr).not.toContain('another-key');

    const manifestPath = join(state, 'manifest.json');
    const manifest = readFileSync(manifestPath, 'utf8');
    writeFileSync(manifestPath, manifest.replace(/"count": 30/, '"count": 29'));
    const edited = await run(input, join(bed.dir, 'e.csv'), '--quiet');
    expect(edited.code).toBe(2);
    expect(edited.stderr).toMatch(/^clerk-bulk: state in .* is damaged: .*\n$/);
    expect((await runCli(['state', state])).code).toBe(2);
    writeFileSync(manifestPath, manifest);

    const entries = readdirSync(state).find((n) => n.startsWith('entries-')) as string;
    const bytes = readFileSync(join(state, entries));
    writeFileSync(join(state, entries), bytes.subarray(0, bytes.length - 28));
    const truncated = await run(input, join(bed.dir, 't.csv'), '--quiet');
    expect(truncated.code).toBe(2);
    expect(truncated.stderr).toMatch(/is damaged: entries file .* has \d+ bytes/);
    const shown = await runCli(['state', state]);
    expect(shown.code).toBe(2);
    expect(shown.stderr).toContain('is damaged');
    expect(bed.puts()).toHaveLength(0);
  });

  it('refuses a second run on a state in use, naming the pid, and takes over the lock of a killed run', async () => {
    const input = exportFile(
      bed.dir,
      'in.csv',
      names(4_000, (n) => `P${n}`),
    );
    bed.server.configure({ latencyMs: 5 });
    const state = join(bed.dir, 'state');
    const args = updateArgv(input, join(bed.dir, 'a.csv'), bed.server.url, '--state', state);
    const { child, done } = spawnCli([...args, '--quiet', '--rate', '200'], bed.env);
    await waitForLines(join(bed.dir, 'a.csv'), 20);
    const second = await runCli(
      updateArgv(input, join(bed.dir, 'b.csv'), bed.server.url, '--state', state, '--quiet'),
      { env: bed.env },
    );
    expect(second.code).toBe(2);
    expect(second.stderr).toContain(`state directory ${state} is in use by pid ${child.pid}`);
    expect(existsSync(join(bed.dir, 'b.csv'))).toBe(false);
    child.kill('SIGKILL');
    await done;
    bed.server.configure({ latencyMs: 0 });
    const after = await runCli(
      updateArgv(input, join(bed.dir, 'c.csv'), bed.server.url, '--state', state, '--rate', '0'),
      { env: bed.env },
    );
    expect(after.code).toBe(0);
    expect(readResults(join(bed.dir, 'c.csv'))).toHaveLength(4_000);
  });

  // Needs root to mount a tmpfs (CI and the dev machines run as root), like disk-full.test.ts.
  it.skipIf(process.getuid?.() !== 0)(
    'keeps the old state and exits 3 when the disk is full at the save, and sends no row it cannot journal',
    async () => {
      const disk = join(bed.dir, 'disk');
      mkdirSync(disk);
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=16k', 'tmpfs', disk], { stdio: 'ignore' });
      try {
        const state = join(disk, 'state');
        const small = exportFile(
          bed.dir,
          'small.csv',
          names(10, (n) => `P${n}`),
        );
        const ok = await runCli(
          updateArgv(small, join(bed.dir, 'r1.csv'), bed.server.url, '--state', state, '--quiet'),
          { env: bed.env },
        );
        expect(ok.code).toBe(0);
        // 500 ids: a 4 KB journal fits, 14 KB of new entries do not.
        const mid = exportFile(
          bed.dir,
          'mid.csv',
          names(500, (n) => `P${n}`),
        );
        const full = await runCli(
          updateArgv(mid, join(bed.dir, 'r2.csv'), bed.server.url, '--state', state, '--rate', '0'),
          { env: bed.env },
        );
        expect(full.code).toBe(3);
        expect(full.stdout).toMatch(/state: .* not saved \(cannot save state .*no space left/);
        expect(statuses(join(bed.dir, 'r2.csv'))).toEqual({ updated: 490, unchanged: 10 });
        const shown = await runCli(['state', state]);
        expect(shown.stdout).toContain(': 10 ids');
        expect(shown.stdout).toContain('490 sends not yet recorded');
        bed.server.reset();
        // 2,000 rows: the journal itself fills the disk; a row whose send cannot be
        // journalled is not sent.
        const big = exportFile(
          bed.dir,
          'big.csv',
          names(2_000, (n) => `P${n} v2`),
        );
        const stopped = await runCli(
          updateArgv(big, join(bed.dir, 'r3.csv'), bed.server.url, '--state', state, '--rate', '0'),
          { env: bed.env },
        );
        expect(stopped.code).toBe(3);
        expect(stopped.stderr).toMatch(/cannot write .*sending\.log: no space left on the device/);
        const journalled = readFileSync(join(state, 'sending.log')).length / 8;
        expect(bed.puts().length).toBeLessThanOrEqual(journalled - 490);
      } finally {
        execFileSync('umount', [disk]);
      }
    },
  );
});

describe('the lock on the results file', () => {
  const bed = cliTestBed(KEY, { latencyMs: 2 });

  it('refuses an overlapping --resume run on the same --out, naming the pid, and sends nothing twice', async () => {
    const input = exportFile(
      bed.dir,
      'in.csv',
      names(3_000, (n) => `P${n}`),
    );
    const out = join(bed.dir, 'out.csv');
    const base = updateArgv(input, out, bed.server.url, '--resume', '--quiet');
    const args = [...base, '--rate', '0'];
    // The first run is slow enough to be overlapped.
    const { child, done } = spawnCli([...base, '--rate', '200'], bed.env);
    await waitForLines(out, 50);
    const second = await runCli(args, { env: bed.env });
    expect(second.code).toBe(2);
    expect(second.stderr).toBe(
      `clerk-bulk: results file ${out} is in use by pid ${child.pid} since ${JSON.parse(readFileSync(`${out}.lock`, 'utf8')).startedAt}; if no such run is going on, delete ${out}.lock\n`,
    );
    child.kill('SIGKILL');
    expect((await done).signal).toBe('SIGKILL');
    // The lock of the killed run is taken over.
    expect(existsSync(`${out}.lock`)).toBe(true);
    const resumed = await runCli(args, { env: bed.env });
    expect(resumed.code).toBe(0);
    expect(existsSync(`${out}.lock`)).toBe(false);
    const ids = new Set(bed.puts().map((p) => p.id));
    expect(ids.size).toBe(3_000);
  });

  it('is taken by a dry run too', async () => {
    const input = exportFile(
      bed.dir,
      'in.csv',
      names(3, (n) => `P${n}`),
    );
    const out = join(bed.dir, 'dry.csv');
    const holder = spawn('sleep', ['30']);
    try {
      writeFileSync(
        `${out}.lock`,
        JSON.stringify({
          pid: holder.pid,
          host: (await import('node:os')).hostname(),
          startedAt: new Date().toISOString(),
          token: 'abc',
        }),
      );
      const dry = await runCli(updateArgv(input, out, bed.server.url, '--dry-run', '--force'));
      expect(dry.code).toBe(2);
      expect(dry.stderr).toContain(`is in use by pid ${holder.pid}`);
    } finally {
      holder.kill('SIGKILL');
    }
    rmSync(`${out}.lock`);
    const dry = await runCli(updateArgv(input, out, bed.server.url, '--dry-run', '--force'));
    expect(dry.code).toBe(0);
  });
});
