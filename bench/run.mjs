/**
 * `npm run bench`: the figures of issue 7, measured in one run on this machine.
 *
 *   node bench/run.mjs [--quick] [--only name[,name...]] [--json]
 *
 * Names: startup, throughput (rows/s next to the loopback ceiling, with peak memory),
 * resume, rate, adaptive, auto (`update --rate auto` against a hidden limit: issue 13),
 * state (two nights of `--state`: issue 16). `--quick` uses 20k/100k rows instead of
 * 200k/1M. The table
 * goes to stdout (`--json`: the JSON instead); the JSON of a full run is written to
 * bench/results.json, of a quick or partial run to bench/.data/.
 *
 * Every child (mock server, CLI runs) is a separate process with a deadline, killed if
 * the benchmark ends early.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, totalmem } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { measureCeiling } from './lib/ceiling.mjs';
import { killAll, killChildrenOnExit, run, startService } from './lib/children.mjs';
import { ensureChangedInput, ensureInput } from './lib/data.mjs';
import { formatTable } from './lib/table.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const BENCH = join(ROOT, 'bench');
const DATA = join(BENCH, '.data');
const CLI = join(ROOT, 'dist', 'main.js');
const PROBE_URL = pathToFileURL(join(BENCH, 'rss-probe.mjs')).href;
const ADAPTIVE = join(BENCH, 'adaptive-rate.mjs');
const API_KEY = 'bench-key';
const CONCURRENCY = 32;
const MB = 1024 * 1024;

/** Targets of issue 7. */
const TARGET_CEILING_RATIO = 0.4;
const TARGET_PEAK_RSS_MB = 120;
const TARGET_RATE_SHARE = 0.95;
const TARGET_RESUME_MS = 3_000;
/** Issue 16: a night with 1 % changed rows against the first night's time, and the save. */
const TARGET_STATE_TIME_RATIO = 0.1;
const TARGET_STATE_SAVE_MS = 3_000;
/** Every 100th row changes between the two nights of the state bench (1 %). */
const STATE_CHANGE_EVERY = 100;

const RATE_PER_SECOND = 400;
const STARTUP_RUNS = 10;
/** Deadlines: generous, but every child has one. */
const STARTUP_TIMEOUT_MS = 15_000;
const SERVER_READY_TIMEOUT_MS = 15_000;
const ADAPTIVE_TIMEOUT_MS = 10 * 60_000;
const MAX_CEILING_MS = 15 * 60_000;
/** Each fresh server is warmed up this long (ids far above any input's) before measuring. */
const WARMUP_MS = 2_000;
const WARMUP_FIRST_ID = 900_000_000;
/** A CLI run may take this long per row (plus a minute) before it is killed: 300 rows/s. */
const CLI_MS_PER_ROW = 1000 / 300;

const SECTIONS = ['startup', 'throughput', 'resume', 'rate', 'adaptive', 'auto', 'state'];

/**
 * `--rate auto` (issue 13): the CLI itself against `mock-server --rate-limit L`, a limit
 * it is not told. As bench/auto-rate.mjs (which drives the limiter alone): 16 requests
 * in flight, server latency 5-20 ms; at L = 1,000/s 1-5 ms and `--max-rate 2000`
 * (16 connections at 12.5 ms mean cap near 1,280/s; the default cap would only test
 * reaching it).
 */
const AUTO_CONCURRENCY = 16;
const AUTO_CASES = [
  { limit: 20, rows: 600, maxRatio: 1.3, max429Share: 0.03 },
  { limit: 150, rows: 6_000, maxRatio: 1.2, max429Share: 0.02 },
  {
    limit: 1_000,
    rows: 30_000,
    maxRatio: 1.2,
    max429Share: 0.02,
    latency: '1-5',
    maxRate: 2_000,
  },
  {
    limit: 300,
    rows: 12_000,
    change: { perSecond: 100, afterAllowed: 6_000 },
    maxRatio: 1.3,
    max429Share: 0.03,
  },
];

function parseArgs(argv) {
  const args = { quick: false, json: false, only: new Set(SECTIONS) };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--quick') args.quick = true;
    else if (arg === '--json') args.json = true;
    else if (arg === '--only' || arg.startsWith('--only=')) {
      const value = arg === '--only' ? argv[++i] : arg.slice('--only='.length);
      const names = (value ?? '').split(',').filter((n) => n !== '');
      const unknown = names.filter((n) => !SECTIONS.includes(n));
      if (names.length === 0 || unknown.length > 0) {
        throw new TypeError(
          `--only: expected one or more of ${SECTIONS.join(', ')} (comma-separated), got ${JSON.stringify(value ?? '')}`,
        );
      }
      args.only = new Set(names);
    } else {
      throw new TypeError(
        `unknown argument ${JSON.stringify(arg)}; expected --quick, --only, --json`,
      );
    }
  }
  return args;
}

const log = (message) => process.stderr.write(`bench: ${message}\n`);
const round = (n, digits = 0) => (n === undefined ? undefined : Number(n.toFixed(digits)));
const rel = (p) => relative(ROOT, p);

function gitDescribe() {
  try {
    const head = readFileSync(join(ROOT, '.git', 'HEAD'), 'utf8').trim();
    if (!head.startsWith('ref: ')) return head;
    const ref = head.slice(5);
    const refPath = join(ROOT, '.git', ref);
    return existsSync(refPath) ? `${ref} ${readFileSync(refPath, 'utf8').trim()}` : ref;
  } catch {
    return 'unknown';
  }
}

/** Files under src/ that differ from HEAD (the build measured includes them). */
async function uncommittedSrc() {
  try {
    const r = await run('git', ['status', '--porcelain', '--', 'src'], {
      cwd: ROOT,
      timeoutMs: STARTUP_TIMEOUT_MS,
    });
    return r.code === 0 ? r.stdout.split('\n').filter((l) => l.trim() !== '').length : undefined;
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------------

async function startMockServer(extraArgs) {
  const args = [CLI, 'mock-server', '--port', '0', '--api-key', API_KEY, '--ids', 'any'];
  args.push(...extraArgs);
  const service = await startService(process.execPath, args, {
    ready: /listening on (http:\/\/127\.0\.0\.1:\d+)/,
    readyTimeoutMs: SERVER_READY_TIMEOUT_MS,
  });
  return {
    url: service.match[1],
    pid: service.pid,
    stop: service.stop,
    command: `node dist/main.js ${args.slice(1).join(' ')}`,
  };
}

/**
 * Run `clerk-bulk update` with the memory probe preloaded; returns the JSON summary,
 * the probe's memory figures and the wall time of the whole process.
 */
async function runUpdate({ input, out, url, rows, rate, extra = [] }) {
  const memoryFile = `${out}.memory.json`;
  rmSync(memoryFile, { force: true });
  const cliArgs = [
    'update',
    input,
    '--out',
    out,
    '--base-url',
    url,
    '--api-key',
    API_KEY,
    '--rate',
    String(rate),
    '--concurrency',
    String(CONCURRENCY),
    '--quiet',
    '--json',
    ...extra,
  ];
  const args = ['--import', PROBE_URL, CLI, ...cliArgs];
  const result = await run(process.execPath, args, {
    cwd: ROOT,
    timeoutMs: 60_000 + rows * CLI_MS_PER_ROW,
    env: { BENCH_MEMORY_OUT: memoryFile },
  });
  const command = `node --import ./bench/rss-probe.mjs dist/main.js ${cliArgs
    .map((a) => (a.startsWith('/') ? rel(a) : a))
    .join(' ')}`;
  if (result.timedOut) throw new Error(`${command}: killed after its deadline`);
  let summary;
  try {
    summary = JSON.parse(result.stdout.trim().split('\n').pop() ?? '');
  } catch {
    throw new Error(
      `${command}: exit ${result.code}, no JSON summary on stdout\n${result.stderr.slice(0, 2_000)}`,
    );
  }
  let memory;
  try {
    const m = JSON.parse(readFileSync(memoryFile, 'utf8'));
    memory = {
      peakRssMb: round(m.maxRssKb / 1024, 1),
      peakHeapUsedMb: round(m.maxHeapUsedBytes / MB, 1),
      peakHeapTotalMb: round(m.maxHeapTotalBytes / MB, 1),
      peakExternalMb: round(m.maxExternalBytes / MB, 1),
      peakArrayBuffersMb: round(m.maxArrayBuffersBytes / MB, 1),
      userCpuUs: m.userCpuUs,
      systemCpuUs: m.systemCpuUs,
      // [s, rss MB, heapUsed MB] once a second: flat or growing?
      series: m.series,
    };
  } catch {
    memory = undefined;
  }
  return { summary, memory, exitCode: result.code, wallMs: round(result.wallMs), command };
}

function checkAllUpdated(summary, rows, what) {
  const c = summary.counts;
  if (c.updated !== rows || c.failed !== 0 || c.invalid !== 0) {
    throw new Error(`${what}: expected ${rows} rows updated, got ${JSON.stringify(c)}`);
  }
}

/** Record of a finished large run, so `--only resume` can reuse it. */
function finishedMarker(out) {
  return `${out}.finished.json`;
}

function isFinishedRun(out, input, rows) {
  try {
    const m = JSON.parse(readFileSync(finishedMarker(out), 'utf8'));
    return (
      m.rows === rows && m.outBytes === statSync(out).size && m.inputBytes === statSync(input).size
    );
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------

async function benchStartup() {
  const samples = [];
  for (let i = 0; i < STARTUP_RUNS; i++) {
    const r = await run(process.execPath, [CLI, '--version'], {
      cwd: ROOT,
      timeoutMs: STARTUP_TIMEOUT_MS,
    });
    if (r.code !== 0) throw new Error(`--version: exit ${r.code}: ${r.stderr}`);
    samples.push(r.wallMs);
  }
  const sorted = [...samples].sort((a, b) => a - b);
  const median = (sorted[4] + sorted[5]) / 2;
  // One more with the probe, for the baseline memory of a process that does nothing.
  const memoryFile = join(DATA, 'version.memory.json');
  await run(process.execPath, ['--import', PROBE_URL, CLI, '--version'], {
    cwd: ROOT,
    timeoutMs: STARTUP_TIMEOUT_MS,
    env: { BENCH_MEMORY_OUT: memoryFile },
  });
  let peakRssMb;
  try {
    peakRssMb = round(JSON.parse(readFileSync(memoryFile, 'utf8')).maxRssKb / 1024, 1);
  } catch {
    peakRssMb = undefined;
  }
  return {
    command: 'node dist/main.js --version',
    runs: STARTUP_RUNS,
    medianMs: round(median),
    minMs: round(sorted[0]),
    maxMs: round(sorted[sorted.length - 1]),
    peakRssMb,
  };
}

async function benchThroughput(server, rows) {
  const input = join(DATA, `contacts-${rows}.csv`);
  const out = join(DATA, `contacts-${rows}.results.csv`);
  log(`throughput: ${rows} rows, --rate 0 --concurrency ${CONCURRENCY}`);
  rmSync(finishedMarker(out), { force: true });
  const loadBefore = loadavg()[0];
  const cli = await runUpdate({ input, out, url: server.url, rows, rate: 0, extra: ['--force'] });
  checkAllUpdated(cli.summary, rows, cli.command);
  writeFileSync(
    finishedMarker(out),
    JSON.stringify({ rows, outBytes: statSync(out).size, inputBytes: statSync(input).size }),
  );
  const durationMs = Math.min(MAX_CEILING_MS, Math.max(1_000, cli.summary.elapsedMs));
  log(`ceiling: undici Pool x${CONCURRENCY} for ${Math.round(durationMs / 1000)} s`);
  const ceiling = await measureCeiling({
    url: server.url,
    apiKey: API_KEY,
    concurrency: CONCURRENCY,
    durationMs,
    // Ids the CLI run did not touch: the server creates a contact for each, as it did
    // for every row of the CLI run, so both pay the same server-side work.
    firstId: rows + 1,
  });
  const ratio = cli.summary.rowsPerSecond / ceiling.requestsPerSecond;
  return {
    rows,
    command: cli.command,
    rowsPerSecond: round(cli.summary.rowsPerSecond),
    elapsedMs: cli.summary.elapsedMs,
    wallMs: cli.wallMs,
    exitCode: cli.exitCode,
    ceiling: { ...ceiling, requestsPerSecond: round(ceiling.requestsPerSecond) },
    ratio: round(ratio, 3),
    // Other work on the machine skews both figures; the 1-minute load says how much.
    loadAverage1m: { before: round(loadBefore, 2), after: round(loadavg()[0], 2) },
    memory: cli.memory,
  };
}

async function benchResume(server, rows) {
  const input = join(DATA, `contacts-${rows}.csv`);
  const out = join(DATA, `contacts-${rows}.results.csv`);
  if (!isFinishedRun(out, input, rows)) {
    log(`resume: no finished ${rows}-row run to resume; running it first`);
    const first = await runUpdate({
      input,
      out,
      url: server.url,
      rows,
      rate: 0,
      extra: ['--force'],
    });
    checkAllUpdated(first.summary, rows, first.command);
    writeFileSync(
      finishedMarker(out),
      JSON.stringify({ rows, outBytes: statSync(out).size, inputBytes: statSync(input).size }),
    );
  }
  // Both paths, honestly labelled: first the full resume (no sidecar: every input row
  // rebuilt and hashed, every results line read), which also writes <out>.complete.json;
  // then the fast path that sidecar allows, checked to have left it untouched.
  const sidecar = `${out}.complete.json`;
  rmSync(sidecar, { force: true });
  log(`resume: a finished ${rows}-row run, full path (no ${rel(sidecar)})`);
  const full = await runUpdate({ input, out, url: server.url, rows, rate: 0, extra: ['--resume'] });
  checkNothingLeft(full, rows);
  if (!existsSync(sidecar)) throw new Error(`${full.command}: wrote no ${rel(sidecar)}`);
  const before = statSync(sidecar);
  log(`resume: a finished ${rows}-row run, fast path (${rel(sidecar)} matches)`);
  const r = await runUpdate({ input, out, url: server.url, rows, rate: 0, extra: ['--resume'] });
  checkNothingLeft(r, rows);
  const after = statSync(sidecar);
  if (after.ino !== before.ino || after.mtimeMs !== before.mtimeMs) {
    throw new Error(`${r.command}: took the full path (the sidecar was rewritten)`);
  }
  const c = r.summary.counts;
  return {
    rows,
    command: r.command,
    path: 'fast (<out>.complete.json matched)',
    wallMs: r.wallMs,
    elapsedMs: r.summary.elapsedMs,
    alreadyDone: c.alreadyDone,
    requestsSent: r.summary.requests.sent,
    exitCode: r.exitCode,
    peakRssMb: r.memory?.peakRssMb,
    peakHeapUsedMb: r.memory?.peakHeapUsedMb,
    fullPath: {
      command: `rm ${rel(sidecar)}; ${full.command}`,
      wallMs: full.wallMs,
      elapsedMs: full.summary.elapsedMs,
      peakRssMb: full.memory?.peakRssMb,
      peakHeapUsedMb: full.memory?.peakHeapUsedMb,
    },
  };
}

/**
 * Two nights of a job with `--state`, at the throughput section's unlimited rate: the
 * first sends every row and builds the state; the second reads an export with 1 % of
 * rows changed and must send exactly those, in under a tenth of the first's time.
 */
async function benchState(rows) {
  const input = join(DATA, `contacts-${rows}.csv`);
  const changedInput = join(DATA, `contacts-${rows}-changed.csv`);
  await ensureInput(input, rows);
  if (await ensureChangedInput(changedInput, rows, STATE_CHANGE_EVERY))
    log(`generated ${rows} rows, every ${STATE_CHANGE_EVERY}th changed`);
  const changed = Math.floor(rows / STATE_CHANGE_EVERY);
  const stateDir = join(DATA, `state-${rows}`);
  rmSync(stateDir, { recursive: true, force: true });
  const server = await startMockServer([]);
  try {
    await measureCeiling({
      url: server.url,
      apiKey: API_KEY,
      concurrency: CONCURRENCY,
      durationMs: WARMUP_MS,
      firstId: WARMUP_FIRST_ID,
    });
    const nights = [];
    for (const [night, file] of [
      [1, input],
      [2, changedInput],
    ]) {
      log(`state: night ${night}, ${rows} rows, --state ${rel(stateDir)}`);
      const out = join(DATA, `state-${rows}-night${night}.results.csv`);
      const r = await runUpdate({
        input: file,
        out,
        url: server.url,
        rows,
        rate: 0,
        extra: ['--force', '--state', stateDir],
      });
      const c = r.summary.counts;
      const wantSent = night === 1 ? rows : changed;
      if (c.updated !== wantSent || c.unchanged !== rows - wantSent || c.failed + c.invalid > 0) {
        throw new Error(
          `${r.command}: expected ${wantSent} updated and ${rows - wantSent} unchanged, got ${JSON.stringify(c)}`,
        );
      }
      if (r.summary.requests.sent !== wantSent || r.summary.state?.ids !== rows) {
        throw new Error(
          `${r.command}: ${r.summary.requests.sent} requests, state ${JSON.stringify(r.summary.state)}`,
        );
      }
      nights.push({
        night,
        command: r.command,
        sent: r.summary.requests.sent,
        unchanged: c.unchanged,
        wallMs: r.wallMs,
        elapsedMs: r.summary.elapsedMs,
        saveMs: round(r.summary.state.saveMs),
        cpuMs:
          r.memory === undefined
            ? undefined
            : round((r.memory.userCpuUs + r.memory.systemCpuUs) / 1000),
        peakRssMb: r.memory?.peakRssMb,
        peakHeapUsedMb: r.memory?.peakHeapUsedMb,
        loadAverage1m: round(loadavg()[0], 2),
      });
    }
    const [first, second] = nights;
    return {
      rows,
      changed,
      server: server.command,
      nights,
      timeRatio: round(second.wallMs / first.wallMs, 3),
      cpuRatio:
        first.cpuMs === undefined || second.cpuMs === undefined
          ? undefined
          : round(second.cpuMs / first.cpuMs, 3),
    };
  } finally {
    await server.stop();
  }
}

/** A resume of a finished run: everything already done, nothing sent. */
function checkNothingLeft(r, rows) {
  const c = r.summary.counts;
  if (c.alreadyDone !== rows || r.summary.requests.sent !== 0) {
    throw new Error(
      `${r.command}: expected ${rows} already done and nothing sent, got ${JSON.stringify(r.summary)}`,
    );
  }
}

async function benchRate(rows) {
  const input = join(DATA, `contacts-${rows}.csv`);
  const out = join(DATA, `rate-${rows}.results.csv`);
  await ensureInput(input, rows);
  const server = await startMockServer(['--rate-limit', String(RATE_PER_SECOND)]);
  log(
    `rate: ${rows} rows at --rate ${RATE_PER_SECOND} against --rate-limit ${RATE_PER_SECOND} (${server.url})`,
  );
  try {
    const loadBefore = loadavg()[0];
    const r = await runUpdate({
      input,
      out,
      url: server.url,
      rows,
      rate: RATE_PER_SECOND,
      extra: ['--force'],
    });
    checkAllUpdated(r.summary, rows, r.command);
    const achieved = (r.summary.counts.updated / r.summary.elapsedMs) * 1000;
    return {
      rows,
      serverCommand: server.command,
      command: r.command,
      ratePerSecond: RATE_PER_SECOND,
      achievedPerSecond: round(achieved, 1),
      share: round(achieved / RATE_PER_SECOND, 3),
      throttled: r.summary.requests.throttled,
      retried: r.summary.requests.retried,
      elapsedMs: r.summary.elapsedMs,
      wallMs: r.wallMs,
      // Timer lateness under load is what costs fidelity; the load says how much there was.
      loadAverage1m: { before: round(loadBefore, 2), after: round(loadavg()[0], 2) },
    };
  } finally {
    await server.stop();
  }
}

async function benchAdaptive(quick) {
  if (!existsSync(ADAPTIVE)) return { skipped: 'bench/adaptive-rate.mjs does not exist' };
  log('adaptive: node bench/adaptive-rate.mjs');
  const r = await run(process.execPath, [ADAPTIVE, ...(quick ? ['--quick'] : [])], {
    cwd: ROOT,
    timeoutMs: ADAPTIVE_TIMEOUT_MS,
  });
  const command = `node bench/adaptive-rate.mjs${quick ? ' --quick' : ''}`;
  if (r.timedOut) return { command, error: `killed after ${ADAPTIVE_TIMEOUT_MS / 1000} s` };
  const text = r.stdout.trim();
  const candidates = [text, ...text.split('\n').reverse()];
  for (const candidate of candidates) {
    try {
      return { command, exitCode: r.code, result: JSON.parse(candidate) };
    } catch {
      // try the next
    }
  }
  return { command, exitCode: r.code, error: 'no JSON on stdout', stderr: r.stderr.slice(-2_000) };
}

function autoIdealSeconds(c) {
  if (c.change === undefined) return c.rows / c.limit;
  const first = Math.min(c.rows, c.change.afterAllowed);
  return first / c.limit + (c.rows - first) / c.change.perSecond;
}

/**
 * When the run first finished 90 % of `limit` rows in one progress interval (1 s), in
 * seconds from its start: read from its `--log json` progress lines, which carry the
 * rate too. Resolution: one interval.
 */
function reached90Seconds(lines, limit, startMs) {
  let previous = { done: 0, ms: startMs };
  for (const line of lines) {
    const ms = Date.parse(line.time);
    const perSecond = ((line.done - previous.done) * 1000) / Math.max(1, ms - previous.ms);
    if (perSecond >= 0.9 * limit) return (ms - startMs) / 1000;
    previous = { done: line.done, ms };
  }
  return undefined;
}

async function benchAuto() {
  const cases = [];
  for (const c of AUTO_CASES) {
    const input = join(DATA, `contacts-${c.rows}.csv`);
    const out = join(DATA, `auto-${c.limit}-${c.rows}.results.csv`);
    await ensureInput(input, c.rows);
    const serverArgs = ['--rate-limit', String(c.limit), '--latency', c.latency ?? '5-20'];
    if (c.change !== undefined) {
      serverArgs.push('--rate-limit-change', `${c.change.perSecond}@${c.change.afterAllowed}`);
    }
    const server = await startMockServer(serverArgs);
    const cliArgs = [
      ...['update', input, '--out', out, '--force', '--base-url', server.url],
      ...['--api-key', API_KEY, '--rate', 'auto', '--concurrency', String(AUTO_CONCURRENCY)],
      ...(c.maxRate === undefined ? [] : ['--max-rate', String(c.maxRate)]),
      ...['--json', '--log', 'json', '--progress-interval', '1'],
    ];
    const command = `node dist/main.js ${cliArgs.map((a) => (a.startsWith('/') ? rel(a) : a)).join(' ')}`;
    const ideal = autoIdealSeconds(c);
    log(`auto: ${server.command} | ${command}`);
    try {
      const loadBefore = loadavg()[0];
      const r = await run(process.execPath, [CLI, ...cliArgs], {
        cwd: ROOT,
        timeoutMs: (3 * ideal + 60) * 1000,
      });
      if (r.timedOut) throw new Error(`${command}: killed after its deadline`);
      const summary = JSON.parse(r.stdout.trim().split('\n').pop() ?? '');
      checkAllUpdated(summary, c.rows, command);
      const progress = r.stderr
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l))
        .filter((l) => l.event === 'progress');
      const endMs = progress.length > 0 ? Date.parse(progress.at(-1).time) : Date.now();
      const seconds = summary.elapsedMs / 1000;
      const share = summary.requests.throttled / summary.requests.sent;
      cases.push({
        limit: c.change === undefined ? `${c.limit}` : `${c.limit} → ${c.change.perSecond}`,
        rows: c.rows,
        serverCommand: server.command,
        command,
        seconds: round(seconds, 1),
        idealSeconds: round(ideal, 1),
        ratio: round(seconds / ideal, 2),
        throttled: summary.requests.throttled,
        throttledShare: round(share, 4),
        reached90Seconds: reached90Seconds(progress, c.limit, endMs - summary.elapsedMs),
        rate: summary.rate,
        // What the default --rate 10 would take, for the default decision (docs/performance.md).
        atDefaultRateSeconds: round(c.rows / Math.min(10, c.limit), 0),
        target: `≤ ${c.maxRatio}×, ≤ ${c.max429Share * 100} %`,
        pass: seconds / ideal <= c.maxRatio && share <= c.max429Share,
        loadAverage1m: { before: round(loadBefore, 2), after: round(loadavg()[0], 2) },
      });
    } finally {
      await server.stop();
    }
  }
  return { concurrency: AUTO_CONCURRENCY, cases };
}

// ---------------------------------------------------------------------------------

function targets(results, sizes) {
  const list = [];
  for (const t of results.throughput ?? []) {
    list.push({
      name: `rows/s ÷ loopback ceiling, ${t.rows} rows`,
      value: t.ratio,
      target: `>= ${TARGET_CEILING_RATIO}`,
      pass: t.ratio >= TARGET_CEILING_RATIO,
    });
  }
  const large = (results.throughput ?? []).find((t) => t.rows === sizes.large);
  if (large?.memory !== undefined) {
    list.push({
      name: `peak RSS, ${large.rows} rows (MB)`,
      value: large.memory.peakRssMb,
      target: `<= ${TARGET_PEAK_RSS_MB}`,
      pass: large.memory.peakRssMb <= TARGET_PEAK_RSS_MB,
    });
  }
  if (results.rate !== undefined) {
    list.push({
      name: `achieved share of --rate ${RATE_PER_SECOND}`,
      value: results.rate.share,
      target: `>= ${TARGET_RATE_SHARE}`,
      pass: results.rate.share >= TARGET_RATE_SHARE,
    });
    list.push({
      name: '429s at --rate = server limit',
      value: results.rate.throttled,
      target: '= 0',
      pass: results.rate.throttled === 0,
    });
  }
  for (const a of results.auto?.cases ?? []) {
    list.push({
      name: `--rate auto, hidden limit ${a.limit}/s, ${a.rows} rows: time ÷ ideal, 429 share`,
      value: `${a.ratio}, ${round(a.throttledShare * 100, 2)} %`,
      target: a.target,
      pass: a.pass,
    });
  }
  if (results.resume !== undefined) {
    list.push({
      name: `resume of a finished ${results.resume.rows}-row run, fast path (ms)`,
      value: results.resume.wallMs,
      target: `< ${TARGET_RESUME_MS}`,
      pass: results.resume.wallMs < TARGET_RESUME_MS,
    });
  }
  if (results.state !== undefined) {
    const st = results.state;
    list.push({
      name: `--state night with 1 % changed ÷ first night, ${st.rows} rows (wall)`,
      value: st.timeRatio,
      target: `< ${TARGET_STATE_TIME_RATIO}`,
      pass: st.timeRatio < TARGET_STATE_TIME_RATIO,
    });
    const peak = Math.max(...st.nights.map((n) => n.peakRssMb ?? Number.POSITIVE_INFINITY));
    list.push({
      name: `peak RSS with ${st.rows} ids in the state (MB)`,
      value: peak,
      target: `<= ${TARGET_PEAK_RSS_MB}`,
      pass: peak <= TARGET_PEAK_RSS_MB,
    });
    const save = Math.max(...st.nights.map((n) => n.saveMs));
    list.push({
      name: `state save after a ${st.rows}-row run (ms)`,
      value: save,
      target: `< ${TARGET_STATE_SAVE_MS}`,
      pass: save < TARGET_STATE_SAVE_MS,
    });
  }
  return list;
}

function report(results) {
  const lines = [];
  const m = results.machine;
  lines.push(
    `clerk-bulk bench — ${results.quick ? 'QUICK (targets are for the full sizes)' : 'full'} — node ${m.node}, ${m.cpus} cpu (${m.cpuModel}), ${results.git}${results.uncommittedSrc ? ` + ${results.uncommittedSrc} uncommitted src files` : ''}`,
  );
  lines.push('');
  if (results.throughput?.length) {
    lines.push(
      formatTable(
        [
          'rows',
          'CLI rows/s',
          'ceiling req/s',
          'ratio',
          'elapsed s',
          'peak RSS MB',
          'peak heap MB',
          'CPU µs/row',
        ],
        results.throughput.map((t) => [
          t.rows,
          t.rowsPerSecond,
          t.ceiling.requestsPerSecond,
          t.ratio,
          round(t.elapsedMs / 1000, 1),
          t.memory?.peakRssMb ?? '?',
          t.memory?.peakHeapUsedMb ?? '?',
          t.memory?.userCpuUs === undefined
            ? '?'
            : round((t.memory.userCpuUs + t.memory.systemCpuUs) / t.rows, 1),
        ]),
      ),
    );
    lines.push('');
  }
  if (results.auto?.cases.length) {
    const f = (x, d = 1) => (x === undefined || x === null ? '—' : x.toFixed(d));
    lines.push(
      formatTable(
        [
          'L /s',
          'rows',
          'time',
          'ideal',
          'ratio',
          '429 %',
          'to 90 % of L',
          'limit found',
          'at --rate 10',
          'target',
        ],
        results.auto.cases.map((a) => [
          a.limit,
          a.rows,
          `${f(a.seconds)} s`,
          `${f(a.idealSeconds)} s`,
          f(a.ratio, 2),
          `${f(a.throttledShare * 100, 2)} %`,
          a.reached90Seconds === undefined ? 'never' : `${f(a.reached90Seconds)} s`,
          a.rate.limitFoundPerSecond === null ? 'none' : `${f(a.rate.limitFoundPerSecond, 0)}/s`,
          `${a.atDefaultRateSeconds} s`,
          a.target,
        ]),
      ),
    );
    lines.push('');
  }
  const misc = [];
  if (results.startup !== undefined) {
    const s = results.startup;
    misc.push([
      '--version start-up (median of 10)',
      `${s.medianMs} ms (min ${s.minMs}, max ${s.maxMs}; RSS ${s.peakRssMb} MB)`,
    ]);
  }
  if (results.rate !== undefined) {
    const r = results.rate;
    misc.push([
      `rate fidelity, ${r.rows} rows`,
      `${r.achievedPerSecond}/s of ${r.ratePerSecond}/s (${round(r.share * 100, 1)}%), ${r.throttled} × 429`,
    ]);
  }
  if (results.resume !== undefined) {
    const r = results.resume;
    misc.push([
      `resume finished ${r.rows}-row run (fast path)`,
      `${r.wallMs} ms wall (RSS ${r.peakRssMb} MB)`,
    ]);
    if (r.fullPath !== undefined) {
      misc.push([
        `resume finished ${r.rows}-row run (full path, no sidecar)`,
        `${r.fullPath.wallMs} ms wall (RSS ${r.fullPath.peakRssMb} MB)`,
      ]);
    }
  }
  if (results.state !== undefined) {
    for (const n of results.state.nights) {
      misc.push([
        `--state night ${n.night}, ${results.state.rows} rows`,
        `${n.sent} sent, ${n.unchanged} unchanged: ${n.wallMs} ms wall, ${n.cpuMs} ms CPU, save ${n.saveMs} ms, RSS ${n.peakRssMb} MB`,
      ]);
    }
  }
  if (results.adaptive !== undefined) {
    const a = results.adaptive;
    misc.push(['adaptive-rate.mjs', a.skipped ?? a.error ?? `exit ${a.exitCode}, JSON in results`]);
  }
  if (misc.length > 0) {
    lines.push(formatTable(['measure', 'figure'], misc));
    lines.push('');
  }
  if (results.targets.length > 0) {
    lines.push(
      formatTable(
        ['target', 'value', 'wanted', ''],
        results.targets.map((t) => [t.name, t.value, t.target, t.pass ? 'PASS' : 'FAIL']),
      ),
    );
  }
  return `${lines.join('\n')}\n`;
}

/** Format the JSON as the repo's formatter would, so `npm run check` stays green. */
async function formatJson(path) {
  const biome = join(ROOT, 'node_modules', '@biomejs', 'biome', 'bin', 'biome');
  if (!existsSync(biome)) return;
  await run(process.execPath, [biome, 'format', '--write', path], {
    cwd: ROOT,
    timeoutMs: STARTUP_TIMEOUT_MS,
  });
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  if (!existsSync(CLI)) throw new Error('dist/main.js is missing: run `npm run build` first');
  killChildrenOnExit();
  mkdirSync(DATA, { recursive: true });
  const sizes = args.quick
    ? { small: 20_000, large: 100_000, rate: 2_000 }
    : { small: 200_000, large: 1_000_000, rate: 8_000 };
  const full = !args.quick && args.only.size === SECTIONS.length;

  const results = {
    date: new Date().toISOString(),
    quick: args.quick,
    sections: [...args.only],
    git: gitDescribe(),
    // The figures are of the working tree that was built, which may differ from HEAD.
    uncommittedSrc: await uncommittedSrc(),
    machine: {
      node: process.version,
      cpus: availableParallelism(),
      cpuModel: cpus()[0]?.model ?? 'unknown',
      memoryMb: Math.round(totalmem() / MB),
    },
    concurrency: CONCURRENCY,
  };

  if (args.only.has('startup')) {
    log('startup: node dist/main.js --version × 10');
    results.startup = await benchStartup();
  }

  if (args.only.has('throughput') || args.only.has('resume')) {
    for (const rows of [sizes.small, sizes.large]) {
      if (await ensureInput(join(DATA, `contacts-${rows}.csv`), rows))
        log(`generated ${rows} rows`);
    }
    if (args.only.has('throughput')) results.throughput = [];
    for (const rows of [sizes.small, sizes.large]) {
      const wantResume = rows === sizes.large && args.only.has('resume');
      if (!args.only.has('throughput') && !wantResume) continue;
      // A fresh, warmed-up server per size: both the CLI and the ceiling then meet a
      // server with JIT-compiled handlers and a contact store of similar size.
      const server = await startMockServer([]);
      results.server = server.command;
      log(`mock server ${server.url} (pid ${server.pid})`);
      try {
        await measureCeiling({
          url: server.url,
          apiKey: API_KEY,
          concurrency: CONCURRENCY,
          durationMs: WARMUP_MS,
          firstId: WARMUP_FIRST_ID,
        });
        if (args.only.has('throughput'))
          results.throughput.push(await benchThroughput(server, rows));
        if (wantResume) results.resume = await benchResume(server, rows);
      } finally {
        await server.stop();
      }
    }
  }

  if (args.only.has('rate')) results.rate = await benchRate(sizes.rate);
  if (args.only.has('adaptive')) results.adaptive = await benchAdaptive(args.quick);
  if (args.only.has('auto')) results.auto = await benchAuto();
  if (args.only.has('state')) results.state = await benchState(sizes.large);

  results.targets = targets(results, sizes);
  const jsonPath = full
    ? join(BENCH, 'results.json')
    : join(DATA, `results-${args.quick ? 'quick' : 'partial'}.json`);
  writeFileSync(jsonPath, `${JSON.stringify(results, null, 2)}\n`);
  await formatJson(jsonPath);
  if (args.json) process.stdout.write(`${JSON.stringify(results)}\n`);
  else process.stdout.write(report(results));
  log(`JSON written to ${rel(jsonPath)}`);
}

main().then(
  () => {
    killAll();
  },
  (err) => {
    process.stderr.write(`bench: ${err instanceof Error ? err.message : String(err)}\n`);
    killAll();
    process.exitCode = 1;
  },
);
