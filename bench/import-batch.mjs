/**
 * Rows per second of `import` by batch size at a fixed request rate, against the mock
 * server with 20-80 ms of latency per answer: the figures behind DEFAULT_BATCH_SIZE.
 *
 *   npm run build && node bench/import-batch.mjs [rows] [rate]
 *
 * Each batch size runs twice on a fresh server (first run shown, then the second); the
 * table goes to stdout.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CLI = join(ROOT, 'dist', 'main.js');
const { startMockServer } = await import(join(ROOT, 'dist', 'mock-server', 'index.js'));
const ROWS = Number(process.argv[2] ?? 3_000);
const RATE = Number(process.argv[3] ?? 10);
const KEY = 'bench-key';
const exec = promisify(execFile);

/** Run a child to its end; never throws for a non-zero exit. */
async function run(file, args, options) {
  try {
    await exec(file, args, options);
    return { code: 0, stderr: '' };
  } catch (err) {
    return { code: err.code, stderr: err.stderr };
  }
}

const dir = mkdtempSync(join(tmpdir(), 'clerk-bulk-bench-import-'));
const input = join(dir, 'in.csv');
const lines = ['name,phone'];
for (let n = 1; n <= ROWS; n++) lines.push(`Person ${n},+1415${String(5_000_000 + n)}`);
writeFileSync(input, `${lines.join('\n')}\n`);

console.log(`import of ${ROWS} rows at --rate ${RATE} (requests/s), mock latency 20-80 ms`);
console.log('batch  requests  seconds  rows/s (run 1, run 2)');
try {
  for (const batch of [10, 25, 50, 100]) {
    const figures = [];
    let requests = 0;
    for (let i = 0; i < 2; i++) {
      const server = await startMockServer({ apiKey: KEY, latencyMs: [20, 80] });
      const out = join(dir, `out-${batch}-${i}.csv`);
      const started = process.hrtime.bigint();
      // Asynchronous: the mock server runs in this process and must keep answering.
      const res = await run(
        process.execPath,
        [
          CLI,
          'import',
          input,
          '--out',
          out,
          '--base-url',
          server.url,
          '--quiet',
          '--rate',
          String(RATE),
          '--batch-size',
          String(batch),
        ],
        { env: { ...process.env, CLERK_CHAT_API_KEY: KEY } },
      );
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      requests = server.requests.length;
      await server.close();
      if (res.code !== 0) throw new Error(`batch ${batch}: exit ${res.code}: ${res.stderr}`);
      figures.push({ seconds, rowsPerSecond: ROWS / seconds });
    }
    const [a, b] = figures;
    console.log(
      `${String(batch).padStart(5)}  ${String(requests).padStart(8)}  ${a.seconds.toFixed(1).padStart(7)}  ${a.rowsPerSecond.toFixed(0)}, ${b.rowsPerSecond.toFixed(0)}`,
    );
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
