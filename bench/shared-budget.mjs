#!/usr/bin/env node
// Three processes on one API key against a mock server limited to 300 requests/s:
// sharing one budget through Redis, then each on its own budget for contrast, then
// sharing with one of them killed (kill -9) halfway.
//
//   npm run build && node bench/shared-budget.mjs [--puts 6000] [--rate 300]
//
// Needs redis-server on the PATH and AdaptiveLimiter's `shared` option
// (limiter-wiring.patch). Targets with Redis: ≤ 5 % of PUTs throttled, accepted rate
// within 10 % of the limit, processes finishing within 15 % of each other; after the
// kill, the two others back at the full rate within 10 s.
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { killChildrenOnExit, startService } from './lib/children.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const CLI = join(ROOT, 'dist', 'main.js');
const WORKER = join(ROOT, 'bench', 'lib', 'shared-budget-worker.mjs');
const API_KEY = 'bench-shared-budget-key';
const PROCESSES = 3;
/** Workers start together this long after being spawned. */
const START_DELAY_MS = 2_000;

const { values } = parseArgs({
  options: { puts: { type: 'string', default: '6000' }, rate: { type: 'string', default: '300' } },
});
const PUTS = Number(values.puts);
const LIMIT_PER_SECOND = Number(values.rate);

const workers = new Set();
killChildrenOnExit();
process.on('exit', () => {
  for (const w of workers) w.kill('SIGKILL');
});

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

async function startRedis() {
  const port = await freePort();
  const service = await startService(
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--daemonize',
      'no',
    ],
    { ready: /Ready to accept connections/, readyTimeoutMs: 10_000 },
  );
  return { url: `redis://127.0.0.1:${port}`, stop: service.stop };
}

function worker(baseUrl, startAtMs, redisUrl) {
  const args = [
    WORKER,
    baseUrl,
    API_KEY,
    String(LIMIT_PER_SECOND),
    String(PUTS),
    String(startAtMs),
  ];
  if (redisUrl !== undefined) args.push(redisUrl);
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  workers.add(child);
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d) => {
    out += d;
  });
  child.stderr.setEncoding('utf8').on('data', (d) => {
    err += d;
  });
  const done = new Promise((resolve) => {
    child.once('close', (code, signal) => {
      workers.delete(child);
      resolve(code === 0 ? JSON.parse(out) : { failed: `${code ?? signal} ${err.trim()}` });
    });
  });
  return { child, done };
}

/** Accepted PUTs per second in [fromMs, toMs). */
function rate(times, fromMs, toMs) {
  return (times.filter((t) => t >= fromMs && t < toMs).length * 1000) / (toMs - fromMs);
}

const pct = (x) => `${(x * 100).toFixed(1)} %`;

async function scenario(name, baseUrl, redisUrl, killHalfway = false) {
  const startAtMs = Date.now() + START_DELAY_MS;
  const runs = Array.from({ length: PROCESSES }, () => worker(baseUrl, startAtMs, redisUrl));
  let killAtMs;
  if (killHalfway) {
    // Halfway through the victim's share: all three at a third of the limit each.
    killAtMs = startAtMs + ((PUTS / (LIMIT_PER_SECOND / PROCESSES)) * 1000) / 2;
    setTimeout(() => runs[0].child.kill('SIGKILL'), killAtMs - Date.now());
  }
  const results = await Promise.all(runs.map((r) => r.done));
  const done = results.filter((r) => r.failed === undefined);
  for (const r of results) if (r.failed !== undefined && !killHalfway) throw new Error(r.failed);
  const sent = done.reduce((n, r) => n + r.sent, 0);
  const throttled = done.reduce((n, r) => n + r.throttled, 0);
  const accepted = done.flatMap((r) => r.accepted);
  const first = Math.min(...done.map((r) => r.startedAtMs));
  const last = Math.max(...done.map((r) => r.finishedAtMs));
  const durations = done.map((r) => r.finishedAtMs - r.startedAtMs);
  const spread = (Math.max(...durations) - Math.min(...durations)) / Math.max(...durations);
  const row = {
    scenario: name,
    'throttled (429s / PUTs)': `${pct(throttled / sent)} (${throttled}/${sent})`,
    'accepted/s': (accepted.length / ((last - first) / 1000)).toFixed(1),
    'vs limit': pct(accepted.length / ((last - first) / 1000) / LIMIT_PER_SECOND - 1),
    'finish spread': pct(spread),
    'wall s': ((last - first) / 1000).toFixed(1),
  };
  if (killAtMs !== undefined) {
    const before = rate(accepted, killAtMs - 5_000, killAtMs);
    // The first 1-second window after the kill where the two others reach 90 % of the limit.
    let recoveredAfterMs;
    for (let t = killAtMs; t + 1_000 <= last; t += 250) {
      if (rate(accepted, t, t + 1_000) >= 0.9 * LIMIT_PER_SECOND) {
        recoveredAfterMs = t + 1_000 - killAtMs;
        break;
      }
    }
    row['finish spread'] = `${pct(spread)} (survivors)`;
    row['after kill'] =
      `survivors ${before.toFixed(0)}/s before -> ${rate(accepted, killAtMs + 1_000, killAtMs + 11_000).toFixed(0)}/s in the 10 s after; ` +
      `≥ 90 % of the limit ${recoveredAfterMs === undefined ? 'never' : `${(recoveredAfterMs / 1000).toFixed(2)} s`} after the kill`;
  }
  return row;
}

const redis = await startRedis();
const mock = await startService(
  process.execPath,
  [
    CLI,
    'mock-server',
    '--port',
    '0',
    '--api-key',
    API_KEY,
    '--ids',
    'any',
    '--rate-limit',
    String(LIMIT_PER_SECOND),
  ],
  { ready: /listening on (http:\/\/127\.0\.0\.1:\d+)/, readyTimeoutMs: 10_000 },
);
const baseUrl = mock.match[1];
console.log(
  `${PROCESSES} processes x ${PUTS} PUTs, each at --rate ${LIMIT_PER_SECOND}, mock server --rate-limit ${LIMIT_PER_SECOND} (${baseUrl})`,
);
try {
  const rows = [];
  rows.push(await scenario('shared (redis)', baseUrl, redis.url));
  rows.push(await scenario('separate budgets', baseUrl, undefined));
  rows.push(await scenario('shared, one kill -9 halfway', baseUrl, redis.url, true));
  for (const row of rows) console.log(JSON.stringify(row));
} finally {
  await mock.stop();
  await redis.stop();
}
