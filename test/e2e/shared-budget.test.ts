// Separate processes sharing one budget through a real redis-server: the combined pace
// of their pacer jobs, and what a process killed with kill -9 leaves behind. The
// processes run test/fixtures/shared-budget/child.mjs over the built dist/.
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  openSharedBudget,
  type SharedBudget,
  sharedBudgetId,
} from '../../src/pipeline/limit/shared-budget.js';
import { ROOT } from '../helpers.js';
import { hasRedisServer, type RedisServer, startRedisServer } from '../redis-server.js';

const CHILD = join(ROOT, 'test', 'fixtures', 'shared-budget', 'child.mjs');
/** 100 pacer jobs per second across every process. */
const MIN_TIME_MS = 10;
const PACE_MS = 3_500;
/** Processes start together this long after being spawned (node start-up on 2 busy cores). */
const START_DELAY_MS = 1_500;

interface Child {
  process: ChildProcess;
  stdout: Promise<string>;
  /** Resolves when the child printed `line`. */
  printed(line: string): Promise<void>;
}

const children: ChildProcess[] = [];

function child(...args: string[]): Child {
  const proc = spawn(process.execPath, [CHILD, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(proc);
  let out = '';
  let err = '';
  const waiters: Array<{ line: string; resolve: () => void }> = [];
  proc.stdout?.setEncoding('utf8').on('data', (d: string) => {
    out += d;
    for (const w of waiters) if (out.includes(`${w.line}\n`)) w.resolve();
  });
  proc.stderr?.setEncoding('utf8').on('data', (d: string) => {
    err += d;
  });
  const stdout = new Promise<string>((resolve, reject) => {
    proc.on('close', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`child exited ${code}: ${err}`)),
    );
  });
  // A child killed on purpose is never read; its rejection is not an error then.
  stdout.catch(() => undefined);
  return {
    process: proc,
    stdout,
    printed: (line) =>
      new Promise((resolve) => {
        if (out.includes(`${line}\n`)) resolve();
        else waiters.push({ line, resolve });
      }),
  };
}

/** Jobs per second that ran in [fromMs, toMs) over all the children's job times. */
function ratePerSecond(times: number[], fromMs: number, toMs: number): number {
  return (times.filter((t) => t >= fromMs && t < toMs).length * 1000) / (toMs - fromMs);
}

/** The span in which every process was running jobs: last first job to first last job. */
function together(perProcess: number[][]): [number, number] {
  const firsts = perProcess.map((t) => t[0] ?? Number.POSITIVE_INFINITY);
  const lasts = perProcess.map((t) => t.at(-1) ?? Number.NEGATIVE_INFINITY);
  return [Math.max(...firsts), Math.min(...lasts)];
}

describe.skipIf(!hasRedisServer())('a budget shared by separate processes', () => {
  let server: RedisServer;
  beforeAll(async () => {
    server = await startRedisServer();
  });
  afterAll(async () => {
    await server.stop();
  });
  afterEach(() => {
    for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
  });

  it('keeps three processes together within 10 % of one rate', async () => {
    const startAtMs = Date.now() + START_DELAY_MS;
    const runs = [1, 2, 3].map(() =>
      child('pace', server.url, String(MIN_TIME_MS), String(startAtMs), String(PACE_MS)),
    );
    const outputs = await Promise.all(runs.map((r) => r.stdout));
    const perProcess = outputs.map((o) => (JSON.parse(o) as { times: number[] }).times);
    const all = perProcess.flat();
    // While all three were pacing: node may start late on a busy machine.
    const [fromMs, toMs] = together(perProcess);
    expect(toMs - fromMs).toBeGreaterThan(1_000);
    const rate = ratePerSecond(all, fromMs, toMs);
    expect(rate).toBeGreaterThan(90);
    expect(rate).toBeLessThan(110);
    // Each took a share; none was starved.
    for (const times of perProcess)
      expect(times.length).toBeGreaterThan(PACE_MS / 1000 / 3 / 2 / (MIN_TIME_MS / 1000));
  });

  it('gives the rate of a process killed with kill -9 to the others at once', async () => {
    const startAtMs = Date.now() + START_DELAY_MS;
    const [victim, ...survivors] = [1, 2, 3].map(() =>
      child('pace', server.url, String(MIN_TIME_MS), String(startAtMs), String(PACE_MS)),
    );
    const killAtMs = startAtMs + PACE_MS / 2;
    setTimeout(() => victim?.process.kill('SIGKILL'), killAtMs - Date.now());
    const outputs = await Promise.all(survivors.map((r) => r.stdout));
    const perProcess = outputs.map((o) => (JSON.parse(o) as { times: number[] }).times);
    const all = perProcess.flat();
    // Two processes, and the full 100/s, from the moment after the kill.
    const [, toMs] = together(perProcess);
    expect(toMs - killAtMs).toBeGreaterThan(1_000);
    const rate = ratePerSecond(all, killAtMs + 100, toMs);
    expect(rate).toBeGreaterThan(90);
    expect(rate).toBeLessThan(110);
  });

  it('releases the pacer jobs of a process killed with kill -9, and drops it from the budget', async () => {
    // Bottleneck's bookkeeping for the budget the children share.
    const keys = `b_${sharedBudgetId('http://127.0.0.1:9', 'test-key-shared')}`;
    const admin = new Redis(server.url);
    let budget: SharedBudget | undefined;
    try {
      const startAtMs = Date.now() + START_DELAY_MS;
      const victim = child('pace', server.url, '50', String(startAtMs), '60000', '500');
      await expect
        .poll(async () => Number(await admin.hget(`${keys}_settings`, 'running')), {
          timeout: 10_000,
        })
        .toBeGreaterThan(0);
      const [victimId] = await admin.zrange(`${keys}_client_last_seen`, 0, -1);
      expect(victimId).toBeDefined();
      victim.process.kill('SIGKILL');
      // A live process on the budget: its heartbeats run Bottleneck's clean-up.
      budget = await openSharedBudget({
        redisUrl: server.url,
        baseUrl: 'http://127.0.0.1:9',
        apiKey: 'test-key-shared',
      });
      // Its registered pacer jobs expire, then it is dropped after the client timeout.
      await expect
        .poll(() => admin.zscore(`${keys}_client_running`, victimId ?? ''), {
          timeout: 15_000,
          interval: 250,
        })
        .toBeNull();
      expect(await admin.zscore(`${keys}_client_last_seen`, victimId ?? '')).toBeNull();
      expect(Number(await admin.hget(`${keys}_settings`, 'running'))).toBe(0);
    } finally {
      await budget?.close();
      await admin.quit();
    }
  });

  it('frees the in-flight slots of a process killed with kill -9 within a few seconds', async () => {
    const slots = 2;
    const holder = child('hold', server.url, String(slots));
    await holder.printed('holding');
    const heldSinceMs = Date.now();
    let budget: SharedBudget | undefined;
    try {
      budget = await openSharedBudget({
        redisUrl: server.url,
        baseUrl: 'http://127.0.0.1:9',
        apiKey: 'test-key-shared',
        maxInFlight: slots,
      });
      let acquired = 0;
      const b = budget;
      const requests = Array.from({ length: slots }, () =>
        b.runInFlight(async () => {
          acquired++;
        }),
      );
      // While the holder lives, its slots are its own.
      await new Promise((r) => setTimeout(r, 500));
      expect(acquired).toBe(0);
      holder.process.kill('SIGKILL');
      await Promise.all(requests);
      // The holder's slots expire 3 s after they were taken (its slotExpirationMs),
      // noticed at the next heartbeat (1 s).
      const freedAfterMs = Date.now() - heldSinceMs;
      expect(freedAfterMs).toBeGreaterThan(1_500);
      expect(freedAfterMs).toBeLessThan(6_000);
    } finally {
      await budget?.close();
    }
  });
});
