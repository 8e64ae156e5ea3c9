#!/usr/bin/env node
/**
 * The job state (`--state DIR`) at scale: nights of a nightly job on N ids (default
 * 1,000,000), each in its own process so that its peak RSS is its own.
 *
 *   npm run build && node bench/state.mjs [--ids N] [--json]
 *
 * - night 1: empty state, every row sent and confirmed: fold N lines, save N entries;
 * - night 2: 10 % of the rows changed: N lookups, N/10 sends journalled, fold, save;
 * - night 3: every row changed: N lookups, N sends, fold N lines into N entries (the
 *   worst save);
 * - lookups: load the N-id state, then N `isUnchanged` (hits and misses); the process's
 *   peak RSS against a bare process that only imports the module.
 *
 * Each child loads the CLI's V8 heap settings (dist/heap-tuning.js) first, as the CLI
 * does. Rows are not sent anywhere: the results lines are written as a run would (one per
 * row, `updated` or `unchanged`). Data goes to bench/.data/state/ and is removed after.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, rmSync, writeSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
const DATA = join(HERE, '.data', 'state');
const MODULE = join(HERE, '..', 'dist', 'pipeline', 'state', 'index.js');
const HEAP_TUNING = join(HERE, '..', 'dist', 'heap-tuning.js');
const HEADER = 'row,id,status,http_status,attempts,error,payload_sha256,finished_at\n';

/** A valid 64-hex payload hash for row `i` in version `v` of the input (distinct per (v, i)). */
function payloadSha(v, i) {
  return `${v.toString(16).padStart(8, '0')}${i.toString(16).padStart(24, '0')}`.padEnd(64, '0');
}

/** Which version of its payload row i has on night `night`. */
function versionOf(night, i) {
  if (night === 1) return 1;
  if (night === 2) return i % 10 === 0 ? 2 : 1;
  return 3;
}

const args = process.argv.slice(2);
const role = args[0] === '--role' ? args[1] : 'main';
const value = (name, fallback) => {
  const at = args.indexOf(name);
  return at === -1 ? fallback : args[at + 1];
};
const ids = Number(value('--ids', '1000000'));

const ms = (start) => Math.round(performance.now() - start);
const maxRssMb = () => Math.round((process.resourceUsage().maxRSS / 1024) * 10) / 10;

async function night(n) {
  const { openState, jobFingerprint } = await import(MODULE);
  const dir = join(DATA, 'dir');
  const results = join(DATA, `night-${n}.results.csv`);
  const fingerprint = jobFingerprint('http://bench.invalid', 'bench-key');
  let t = performance.now();
  const state = openState(dir, { fingerprint });
  const loadMs = ms(t);
  const fd = openSync(results, 'w');
  writeSync(fd, HEADER);
  state.startRun(results);
  const now = new Date().toISOString();
  let lookupMs = 0;
  let journalMs = 0;
  let sent = 0;
  let unchanged = 0;
  let chunk = '';
  for (let i = 0; i < ids; i++) {
    const id = `contact_${i}`;
    const sha = payloadSha(versionOf(n, i), i);
    t = performance.now();
    const same = state.isUnchanged(id, sha);
    lookupMs += performance.now() - t;
    if (same) {
      unchanged++;
      chunk += `${i + 1},${id},unchanged,,0,,${sha},${now}\n`;
    } else {
      t = performance.now();
      state.noteSending(id);
      journalMs += performance.now() - t;
      sent++;
      chunk += `${i + 1},${id},updated,200,1,,${sha},${now}\n`;
    }
    if (chunk.length > 1_000_000) {
      writeSync(fd, chunk);
      chunk = '';
    }
  }
  writeSync(fd, chunk);
  closeSync(fd);
  const rssBeforeCommitMb = Math.round(process.memoryUsage().rss / 1024 / 102.4) / 10;
  const cpu = process.cpuUsage();
  const done = await state.commit({
    startedAt: new Date(),
    finishedAt: new Date(),
    rows: ids,
    updated: sent,
    unchanged,
    failed: 0,
  });
  const commitCpu = process.cpuUsage(cpu);
  state.close();
  return {
    night: n,
    ids,
    loadMs,
    sent,
    unchanged,
    lookupMs: Math.round(lookupMs),
    journalUsPerSend: sent === 0 ? 0 : Math.round((journalMs / sent) * 1000 * 100) / 100,
    foldMs: Math.round(done.foldMs),
    saveMs: Math.round(done.saveMs),
    commitCpuMs: Math.round((commitCpu.user + commitCpu.system) / 1000),
    entries: done.count,
    rssBeforeCommitMb,
    peakRssMb: maxRssMb(),
  };
}

async function lookups() {
  const { openState, jobFingerprint } = await import(MODULE);
  const fingerprint = jobFingerprint('http://bench.invalid', 'bench-key');
  const baseRssMb = maxRssMb();
  let t = performance.now();
  const state = openState(join(DATA, 'dir'), { fingerprint });
  const loadMs = ms(t);
  let hits = 0;
  const cpu = process.cpuUsage();
  t = performance.now();
  for (let i = 0; i < ids; i++) {
    // every other id exists (night 3's payload: hits), the rest are misses
    if (state.isUnchanged(`contact_${i * 2}`, payloadSha(3, i * 2))) hits++;
  }
  const lookupMs = performance.now() - t;
  const cpuMs = process.cpuUsage(cpu).user / 1000;
  state.close();
  return {
    ids,
    loadMs,
    lookups: ids,
    hits,
    lookupsPerSecond: Math.round(ids / (lookupMs / 1000)),
    usPerLookup: Math.round((lookupMs / ids) * 1000 * 100) / 100,
    cpuUsPerLookup: Math.round((cpuMs / ids) * 1000 * 100) / 100,
    rssAfterImportMb: baseRssMb,
    peakRssMb: maxRssMb(),
  };
}

async function bare() {
  await import(MODULE);
  return { peakRssMb: maxRssMb() };
}

function child(roleName, extra = []) {
  const out = spawnSync(
    process.execPath,
    [fileURLToPath(import.meta.url), '--role', roleName, '--ids', String(ids), ...extra],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: 600_000 },
  );
  if (out.status !== 0) throw new Error(`${roleName} failed (${out.status ?? out.signal})`);
  return JSON.parse(out.stdout);
}

if (role === 'main') {
  rmSync(DATA, { recursive: true, force: true });
  mkdirSync(DATA, { recursive: true });
  const startedAt = new Date().toISOString();
  const loadBefore = loadavg()[0];
  try {
    const nights = [1, 2, 3].map((n) => child('night', ['--night', String(n)]));
    const look = child('lookups');
    const base = child('bare');
    const report = {
      startedAt,
      node: process.version,
      command: `node bench/state.mjs --ids ${ids}`,
      nights,
      lookups: look,
      bareProcessPeakRssMb: base.peakRssMb,
      loadAverage1m: { before: loadBefore, after: loadavg()[0] },
    };
    if (args.includes('--json')) console.log(JSON.stringify(report, null, 2));
    else {
      console.log(
        `state bench, ${ids.toLocaleString('en')} ids, ${process.version}, 1-min load ${report.loadAverage1m.before.toFixed(1)} → ${report.loadAverage1m.after.toFixed(1)}`,
      );
      console.table(
        nights.map((r) => ({
          night: r.night,
          sent: r.sent,
          unchanged: r.unchanged,
          'load ms': r.loadMs,
          'lookups ms': r.lookupMs,
          'journal µs/send': r.journalUsPerSend,
          'fold ms': r.foldMs,
          'save ms': r.saveMs,
          'commit CPU ms': r.commitCpuMs,
          'RSS before commit MB': r.rssBeforeCommitMb,
          'peak RSS MB': r.peakRssMb,
        })),
      );
      console.table([
        {
          'load ms': look.loadMs,
          'lookups/s': look.lookupsPerSecond,
          'µs/lookup': look.usPerLookup,
          'CPU µs/lookup': look.cpuUsPerLookup,
          hits: look.hits,
          'peak RSS MB': look.peakRssMb,
          'bare process MB': base.peakRssMb,
        },
      ]);
    }
  } finally {
    rmSync(DATA, { recursive: true, force: true });
  }
} else {
  // The CLI's V8 heap settings (src/heap-tuning.ts), so that peak RSS compares with a run's.
  await import(HEAP_TUNING);
  const result =
    role === 'night'
      ? await night(Number(value('--night', '1')))
      : role === 'lookups'
        ? await lookups()
        : await bare();
  process.stdout.write(`${JSON.stringify(result)}\n`);
}
