/**
 * `npm run demo`: the main job end to end against the built-in mock server. Starts the
 * fake API on a free port, runs the real CLI on samples/contacts.csv, prints where the
 * results are, and stops the server. Not part of the published package.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startMockServer } from './mock-server/index.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const input = join(root, 'samples', 'contacts.csv');
const out = join(mkdtempSync(join(tmpdir(), 'clerk-bulk-demo-')), 'contacts.results.csv');
const apiKey = 'demo-key';

// Contacts 1001–1298 exist; 1299 and 1300 do not, so two rows end `failed` with a 404.
const ids = Array.from({ length: 298 }, (_, i) => String(1001 + i));
const server = await startMockServer({
  apiKey,
  ids,
  latencyMs: [20, 120],
  faults: { serverErrorRate: 0.02 },
  seed: 7,
  record: true,
});
process.stdout.write(`mock Clerk Chat API listening on ${server.url}\n`);
process.stdout.write(
  `running: clerk-bulk update samples/contacts.csv --base-url ${server.url} --rate 40 --concurrency 8\n\n`,
);

const code = await new Promise<number>((done) => {
  const child = spawn(
    process.execPath,
    [
      join(root, 'dist', 'main.js'),
      'update',
      input,
      '--out',
      out,
      '--base-url',
      server.url,
      '--rate',
      '40',
      '--concurrency',
      '8',
      '--progress-interval',
      '2',
    ],
    { stdio: 'inherit', env: { ...process.env, CLERK_CHAT_API_KEY: apiKey } },
  );
  child.on('exit', (c, signal) => done(c ?? (signal === null ? 1 : 130)));
});
await server.close();

process.stdout.write(`\nclerk-bulk exited with code ${code}`);
if (code === 1) {
  process.stdout.write(
    ' (expected: the sample has invalid rows on purpose, and two contacts do not exist)',
  );
}
process.stdout.write(
  `\nthe mock server received ${server.stats.total} requests and applied ${server.stats.updatesApplied} updates\n`,
);
process.stdout.write(`results file: ${out}\n`);
process.exitCode = code === 0 || code === 1 ? 0 : code;
