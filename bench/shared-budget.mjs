#!/usr/bin/env node
// Three `clerk-bulk update` processes on one API key against a mock server limited to
// 300 requests/s (burst 30): sharing one budget through Redis (--redis), then each on
// its own budget for contrast, then sharing with one of them killed (kill -9) halfway.
//
//   npm run build && node bench/shared-budget.mjs [--rows 6000] [--rate 300] [--burst 30]
//
// Needs redis-server on the PATH. Targets with Redis: ≤ 5 % of PUTs throttled, accepted
// rate within 10 % of the limit, processes finishing within 15 % of each other; after
// the kill, the two others at ≥ 90 % of the limit within 10 s. Prints one JSON line
// per scenario, then a JSON summary line (what bench/run.mjs reads).
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { killChildrenOnExit, startService } from './lib/children.mjs';
import { ensureInput } from './lib/data.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const CLI = join(ROOT, 'dist', 'main.js');
const DATA = join(ROOT, 'bench', '.data');
const API_KEY = 'bench-shared-budget-key';
const PROCESSES = 3;
/** As the CLI's default --concurrency would be too few at 300/s with 20 ms round trips. */
const CONCURRENCY = 16;

const { values } = parseArgs({
  options: {
    rows: { type: 'string', default: '6000' },
    rate: { type: 'string', default: '300' },
    burst: { type: 'string', default: '30' },
  },
});
const ROWS = Number(values.rows);
const LIMIT_PER_SECOND = Number(values.rate);
const BURST = Number(values.burst);

killChildrenOnExit();

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
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { ready: /Ready to accept connections/, readyTimeoutMs: 10_000 },
  );
  return { url: `redis://127.0.0.1:${port}`, stop: service.stop };
}

/** One CLI process: `update` of its own copy of the input, --json summary on stdout. */
function cli(baseUrl, input, out, redisUrl) {
  const args = [
    CLI,
    'update',
    input,
    '--out',
    out,
    '--force',
    '--base-url',
    baseUrl,
    '--rate',
    String(LIMIT_PER_SECOND),
    '--concurrency',
    String(CONCURRENCY),
    '--quiet',
    '--json',
  ];
  if (redisUrl !== undefined) args.push('--redis', redisUrl);
  const child = spawn(process.execPath, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, CLERK_CHAT_API_KEY: API_KEY },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d) => {
    stdout += d;
  });
  child.stderr.setEncoding('utf8').on('data', (d) => {
    stderr += d;
  });
  const done = new Promise((resolve) => {
    child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return { child, done, out };
}

/** Accepted (updated) rows' finish times, epoch ms, from a results file. */
function acceptedTimes(out) {
  const lines = readFileSync(out, 'utf8').split('\n').slice(1);
  const times = [];
  for (const line of lines) {
    if (!line.includes(',updated,')) continue;
    const iso = /(\d{4}-\d\d-\d\dT[\d:.]+Z)\s*$/.exec(line)?.[1];
    if (iso !== undefined) times.push(Date.parse(iso));
  }
  return times.sort((a, b) => a - b);
}

/** Accepted PUTs per second in [fromMs, toMs). */
function rate(times, fromMs, toMs) {
  return (times.filter((t) => t >= fromMs && t < toMs).length * 1000) / (toMs - fromMs);
}

const pct = (x) => `${(x * 100).toFixed(1)} %`;

async function scenario(name, baseUrl, inputs, redisUrl, killHalfway = false) {
  // The kill watches the victim's results file: never the last scenario's.
  for (let n = 0; n < inputs.length; n++) {
    rmSync(join(DATA, `shared-${n}.results.csv`), { force: true });
  }
  const loadBefore = loadavg()[0];
  const runs = inputs.map((input, n) =>
    cli(baseUrl, input, join(DATA, `shared-${n}.results.csv`), redisUrl),
  );
  let killAtMs;
  if (killHalfway) {
    // Halfway through the victim's rows: all three at a third of the limit each.
    const victim = runs[0];
    const timer = setInterval(() => {
      let lines = 0;
      try {
        lines = readFileSync(victim.out, 'utf8').split('\n').length - 2;
      } catch {
        return;
      }
      if (lines >= ROWS / 2) {
        clearInterval(timer);
        killAtMs = Date.now();
        victim.child.kill('SIGKILL');
      }
    }, 50);
    victim.done.then(() => clearInterval(timer));
  }
  const results = await Promise.all(runs.map((r) => r.done));
  const finished = [];
  let sent = 0;
  let throttled = 0;
  for (const [n, r] of results.entries()) {
    if (killHalfway && n === 0) continue;
    if (r.code !== 0) throw new Error(`${name}: process ${n} exited ${r.code}: ${r.stderr}`);
    const summary = JSON.parse(r.stdout.trim().split('\n').at(-1));
    sent += summary.requests.sent;
    throttled += summary.requests.throttled;
    finished.push(acceptedTimes(runs[n].out));
  }
  const accepted = finished.flat().sort((a, b) => a - b);
  const first = accepted[0];
  const last = accepted.at(-1);
  const durations = finished.map((t) => t.at(-1) - t[0]);
  const spread = (Math.max(...durations) - Math.min(...durations)) / Math.max(...durations);
  const acceptedPerSecond = accepted.length / ((last - first) / 1000);
  const row = {
    scenario: name,
    throttled: `${pct(throttled / sent)} (${throttled}/${sent})`,
    acceptedPerSecond: Number(acceptedPerSecond.toFixed(1)),
    vsLimit: pct(acceptedPerSecond / LIMIT_PER_SECOND - 1),
    finishSpread: pct(spread),
    wallSeconds: Number(((last - first) / 1000).toFixed(1)),
    // Other work on a shared 2-core machine moves every figure: the load says how much.
    loadAverage1m: `${loadBefore.toFixed(1)} -> ${loadavg()[0].toFixed(1)}`,
    throttledShare: throttled / sent,
    spread,
  };
  if (killAtMs !== undefined) {
    const before = rate(accepted, killAtMs - 5_000, killAtMs);
    let recoveredAfterMs;
    for (let t = killAtMs; t + 1_000 <= last; t += 250) {
      if (rate(accepted, t, t + 1_000) >= 0.9 * LIMIT_PER_SECOND) {
        recoveredAfterMs = t + 1_000 - killAtMs;
        break;
      }
    }
    row.finishSpread = `${pct(spread)} (survivors)`;
    row.acceptedPerSecond = `${row.acceptedPerSecond} (survivors only)`;
    row.vsLimit = '-';
    row.survivorsBefore = Number(before.toFixed(0));
    row.survivorsAfter10s = Number(
      rate(accepted, killAtMs + 1_000, Math.min(last, killAtMs + 11_000)).toFixed(0),
    );
    row.recoveredAfterSeconds =
      recoveredAfterMs === undefined ? null : Number((recoveredAfterMs / 1000).toFixed(2));
  }
  return row;
}

mkdirSync(DATA, { recursive: true });
// Each process its own copy (the lock file keeps two runs off one input).
const inputs = [];
for (let n = 0; n < PROCESSES; n++) {
  const input = join(DATA, `shared-${n}-${ROWS}.csv`);
  await ensureInput(input, ROWS);
  inputs.push(input);
}
const redis = await startRedis();
const mock = await startService(
  process.execPath,
  [
    join(ROOT, 'bench', 'lib', 'burst-mock-server.mjs'),
    API_KEY,
    String(LIMIT_PER_SECOND),
    String(BURST),
  ],
  { ready: /listening on (http:\/\/127\.0\.0\.1:\d+)/, readyTimeoutMs: 10_000 },
);
const baseUrl = mock.match[1];
const command = `node bench/shared-budget.mjs --rows ${ROWS} --rate ${LIMIT_PER_SECOND} --burst ${BURST}`;
process.stderr.write(
  `${PROCESSES} x clerk-bulk update (${ROWS} rows, --rate ${LIMIT_PER_SECOND}, --concurrency ${CONCURRENCY}); mock server limited to ${LIMIT_PER_SECOND}/s, burst ${BURST}\n`,
);
try {
  const rows = [];
  rows.push(await scenario('shared (--redis)', baseUrl, inputs, redis.url));
  rows.push(await scenario('separate budgets (no --redis)', baseUrl, inputs, undefined));
  rows.push(await scenario('shared, one kill -9 halfway', baseUrl, inputs, redis.url, true));
  for (const row of rows) process.stdout.write(`${JSON.stringify(row)}\n`);
  const [shared, , killed] = rows;
  const targets = [
    {
      name: 'shared: throttled share',
      value: pct(shared.throttledShare),
      target: '≤ 5 %',
      pass: shared.throttledShare <= 0.05,
    },
    {
      name: 'shared: accepted rate vs limit',
      value: shared.vsLimit,
      target: 'within 10 %',
      pass: Math.abs(shared.acceptedPerSecond / LIMIT_PER_SECOND - 1) <= 0.1,
    },
    {
      name: 'shared: finish spread',
      value: pct(shared.spread),
      target: '≤ 15 %',
      pass: shared.spread <= 0.15,
    },
    {
      name: 'kill -9: survivors at ≥ 90 % of the limit',
      value: killed.recoveredAfterSeconds === null ? 'never' : `${killed.recoveredAfterSeconds} s`,
      target: '≤ 10 s',
      pass: killed.recoveredAfterSeconds !== null && killed.recoveredAfterSeconds <= 10,
    },
  ];
  process.stdout.write(`${JSON.stringify({ command, rows, targets })}\n`);
} finally {
  await mock.stop();
  await redis.stop();
  for (let n = 0; n < PROCESSES; n++)
    rmSync(join(DATA, `shared-${n}.results.csv`), { force: true });
}
