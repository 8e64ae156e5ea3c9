/**
 * Adaptive rate, issue 4: `--rate` set four times too high (600/s) against a server
 * that allows 150/s. Prints, per 429 hint style, the share of requests throttled and
 * the time to finish next to the ideal (rows ÷ 150/s), as a table and then as one line
 * of JSON (the last line of stdout).
 *
 *   npm run build && node bench/adaptive-rate.mjs [--quick] [--rows N] [--json]
 *
 * The mock server runs in its own process (`node dist/main.js mock-server --port 0`),
 * its URL read from its first stdout line, so it never competes with the CLI for an
 * event loop. Every child has a deadline and is killed if the benchmark ends early.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { killAll, killChildrenOnExit, run, startService } from './lib/children.mjs';
import { formatTable } from './lib/table.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CLI = join(ROOT, 'dist', 'main.js');
const API_KEY = 'bench-adaptive-key';
const SERVER_LIMIT_PER_SECOND = 150;
const CLIENT_RATE_PER_SECOND = 4 * SERVER_LIMIT_PER_SECOND;
const CONCURRENCY = 16;
/** Server latency, ms: a little, so requests overlap as they do against a real API. */
const LATENCY = '5-20';
const STYLES = ['seconds', 'http-date', 'x-ratelimit-reset', 'none'];
const DEFAULT_ROWS = 10_000;
const QUICK_ROWS = 3_000;
const SERVER_READY_TIMEOUT_MS = 15_000;
/** A run may take three times the ideal time plus a minute before it is killed. */
const slack = (rows) => (3 * rows * 1000) / SERVER_LIMIT_PER_SECOND + 60_000;
/** Issue 4's target. */
const TARGET_THROTTLED_SHARE = 0.05;

function parseArgs(argv) {
  const args = { rows: DEFAULT_ROWS, json: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--quick') args.rows = QUICK_ROWS;
    else if (a === '--json') args.json = true;
    else if (a === '--rows') {
      const n = Number(argv[++i]);
      if (!Number.isInteger(n) || n < 100) {
        throw new TypeError(`--rows: expected a whole number >= 100, got ${argv[i]}`);
      }
      args.rows = n;
    } else throw new TypeError(`unknown argument ${a} (expected --quick, --rows N, --json)`);
  }
  return args;
}

function writeInput(dir, rows) {
  const lines = ['id,name'];
  for (let i = 1; i <= rows; i++) lines.push(`${i},Name ${i}`);
  const path = join(dir, 'adaptive.csv');
  writeFileSync(path, `${lines.join('\n')}\n`);
  return path;
}

async function measure(style, input, dir, rows) {
  const server = await startService(
    process.execPath,
    [
      CLI,
      'mock-server',
      '--port',
      '0',
      '--api-key',
      API_KEY,
      '--rate-limit',
      String(SERVER_LIMIT_PER_SECOND),
      '--retry-after',
      style,
      '--latency',
      LATENCY,
    ],
    { ready: /listening on (http:\/\/\S+)/, readyTimeoutMs: SERVER_READY_TIMEOUT_MS },
  );
  try {
    const url = server.match[1];
    const out = join(dir, `${style}.results.csv`);
    const r = await run(
      process.execPath,
      [
        CLI,
        'update',
        input,
        '--out',
        out,
        '--force',
        '--base-url',
        url,
        '--rate',
        String(CLIENT_RATE_PER_SECOND),
        '--concurrency',
        String(CONCURRENCY),
        '--quiet',
        '--json',
      ],
      { timeoutMs: slack(rows), env: { CLERK_CHAT_API_KEY: API_KEY } },
    );
    if (r.timedOut) return { style, error: `killed after ${Math.round(slack(rows) / 1000)} s` };
    let summary;
    try {
      summary = JSON.parse(r.stdout);
    } catch {
      return { style, error: `exit ${r.code}, no JSON summary`, stderr: r.stderr.slice(-1_000) };
    }
    const { sent, throttled } = summary.requests;
    const seconds = summary.elapsedMs / 1000;
    return {
      style,
      exitCode: r.code,
      rows,
      updated: summary.counts.updated,
      requests: sent,
      throttled,
      throttledShare: sent > 0 ? throttled / sent : 0,
      seconds,
      idealSeconds: rows / SERVER_LIMIT_PER_SECOND,
      rowsPerSecond: rows / seconds,
      shareOfLimit: rows / seconds / SERVER_LIMIT_PER_SECOND,
    };
  } finally {
    await server.stop();
  }
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  killChildrenOnExit();
  const dir = mkdtempSync(join(tmpdir(), 'clerk-bulk-adaptive-'));
  try {
    const input = writeInput(dir, args.rows);
    const results = [];
    for (const style of STYLES) {
      if (!args.json) process.stderr.write(`adaptive: 429 hint ${style}, ${args.rows} rows...\n`);
      results.push(await measure(style, input, dir, args.rows));
    }
    const ok = results.every(
      (r) =>
        r.error === undefined &&
        r.exitCode === 0 &&
        r.updated === r.rows &&
        r.throttledShare < TARGET_THROTTLED_SHARE,
    );
    const report = {
      scenario: {
        serverLimitPerSecond: SERVER_LIMIT_PER_SECOND,
        clientRatePerSecond: CLIENT_RATE_PER_SECOND,
        concurrency: CONCURRENCY,
        latencyMs: LATENCY,
        rows: args.rows,
      },
      target: { throttledShareBelow: TARGET_THROTTLED_SHARE, everyRowUpdated: true },
      ok,
      results,
    };
    if (!args.json) {
      const rows = results.map((r) =>
        r.error !== undefined
          ? [r.style, r.error, '', '', '', '', '']
          : [
              r.style,
              r.requests,
              r.throttled,
              `${(r.throttledShare * 100).toFixed(2)}%`,
              `${r.seconds.toFixed(1)} s`,
              `${r.idealSeconds.toFixed(1)} s`,
              `${r.rowsPerSecond.toFixed(0)}/s (${(r.shareOfLimit * 100).toFixed(0)}%)`,
            ],
      );
      process.stdout.write(
        `--rate ${CLIENT_RATE_PER_SECOND} against a server allowing ${SERVER_LIMIT_PER_SECOND}/s, ` +
          `${args.rows} rows, --concurrency ${CONCURRENCY}, latency ${LATENCY} ms\n\n`,
      );
      process.stdout.write(
        `${formatTable(['429 hint', 'requests', '429s', 'throttled', 'finished in', 'ideal', 'rows/s (of limit)'], rows)}\n\n`,
      );
      process.stdout.write(
        `${ok ? 'target met' : 'TARGET MISSED'}: under 5% throttled, every row updated\n` +
          `(the server's bucket lets its first ${SERVER_LIMIT_PER_SECOND} requests through at once, ` +
          'so a little over 100% of the limit is possible)\n\n',
      );
    }
    process.stdout.write(`${JSON.stringify(report)}\n`);
    process.exitCode = ok ? 0 : 1;
  } finally {
    rmSync(dir, { recursive: true, force: true });
    killAll();
  }
}

main().catch((err) => {
  process.stderr.write(`bench/adaptive-rate: ${err instanceof Error ? err.message : err}\n`);
  killAll();
  process.exitCode = 1;
});
