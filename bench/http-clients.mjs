/**
 * Which HTTP client for the PUTs (issue 7): the same keep-alive loop through each
 * candidate against the mock server (in its own process), reporting requests per
 * second and, more telling on a machine where the server is the bottleneck, the
 * client's own CPU time per request.
 *
 *   npm run build && node bench/http-clients.mjs [--seconds N] [--json]
 *
 * Each client runs in a fresh child process (so one client's JIT and heap do not
 * colour the next), one after another, for the same time and concurrency.
 */
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { killAll, killChildrenOnExit, run, startService } from './lib/children.mjs';
import { formatTable } from './lib/table.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CLI = join(ROOT, 'dist', 'main.js');
const SELF = fileURLToPath(import.meta.url);
const API_KEY = 'bench-key';
const CONCURRENCY = 32;
const DEFAULT_SECONDS = 10;
const CLIENTS = ['fetch', 'undici-request', 'pool-request', 'pool-dispatch', 'node-http'];
const HEADERS = {
  'content-type': 'application/json',
  accept: 'application/json',
  apikey: API_KEY,
  'user-agent': 'clerk-bulk-bench',
};
const BODY = JSON.stringify({
  name: 'Ada Lovelace',
  email: 'ada@example.com',
  public: true,
  data: { tier: 'gold' },
});

/** One PUT through `client`; resolves with the status. Response bodies are drained. */
async function makeSender(client, url) {
  const origin = new URL(url).origin;
  switch (client) {
    case 'fetch':
      return async (path) => {
        const res = await fetch(origin + path, { method: 'PUT', headers: HEADERS, body: BODY });
        await res.arrayBuffer();
        return res.status;
      };
    case 'undici-request': {
      const { request, Agent } = await import('undici');
      const dispatcher = new Agent({ connections: CONCURRENCY });
      return async (path) => {
        const res = await request(origin + path, {
          method: 'PUT',
          headers: HEADERS,
          body: BODY,
          dispatcher,
        });
        await res.body.dump();
        return res.statusCode;
      };
    }
    case 'pool-request': {
      const { Pool } = await import('undici');
      const pool = new Pool(origin, { connections: CONCURRENCY, pipelining: 1 });
      return async (path) => {
        const res = await pool.request({ method: 'PUT', path, headers: HEADERS, body: BODY });
        await res.body.dump();
        return res.statusCode;
      };
    }
    case 'pool-dispatch': {
      // The lowest level undici offers: no Readable per response, no AbortSignal.
      const { Pool } = await import('undici');
      const pool = new Pool(origin, { connections: CONCURRENCY, pipelining: 1 });
      return (path) =>
        new Promise((done, fail) => {
          let status = 0;
          pool.dispatch(
            { method: 'PUT', path, headers: HEADERS, body: BODY },
            {
              onConnect() {},
              onHeaders(statusCode) {
                status = statusCode;
                return true;
              },
              onData() {
                return true;
              },
              onComplete() {
                done(status);
              },
              onError: fail,
            },
          );
        });
    }
    case 'node-http': {
      const http = await import('node:http');
      const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
      const { hostname, port } = new URL(url);
      return (path) =>
        new Promise((done, fail) => {
          const req = http.request(
            { hostname, port, path, method: 'PUT', headers: HEADERS, agent },
            (res) => {
              res.resume();
              res.on('end', () => done(res.statusCode ?? 0));
              res.on('error', fail);
            },
          );
          req.on('error', fail);
          req.end(BODY);
        });
    }
    default:
      throw new TypeError(`unknown client ${client}`);
  }
}

/** Child mode: hammer `url` through `client` for `seconds`, print one JSON line. */
async function child(client, url, seconds) {
  const send = await makeSender(client, url);
  let next = 0;
  let ok = 0;
  let failed = 0;
  const cpuBefore = process.cpuUsage();
  const startedAt = performance.now();
  const deadline = startedAt + seconds * 1000;
  const worker = async () => {
    while (performance.now() < deadline && failed < 1_000) {
      try {
        const status = await send(`/public/contacts/${800_000_000 + next++}`);
        if (status >= 200 && status < 300) ok++;
        else failed++;
      } catch {
        failed++;
      }
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const elapsedMs = performance.now() - startedAt;
  const cpu = process.cpuUsage(cpuBefore);
  process.stdout.write(
    `${JSON.stringify({
      client,
      requests: ok,
      failed,
      requestsPerSecond: Math.round((ok / elapsedMs) * 1000),
      clientCpuMicrosPerRequest: Math.round((cpu.user + cpu.system) / Math.max(1, ok)),
      maxRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
    })}\n`,
  );
  process.exit(0); // keep-alive sockets would otherwise hold the child open
}

async function main() {
  const argv = process.argv.slice(2);
  if (argv[0] === '--child') {
    await child(argv[1], argv[2], Number(argv[3]));
    return;
  }
  let seconds = DEFAULT_SECONDS;
  let json = false;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--json') json = true;
    else if (argv[i] === '--seconds') {
      seconds = Number(argv[++i]);
      if (!Number.isFinite(seconds) || seconds < 1 || seconds > 600) {
        throw new TypeError(`--seconds: expected 1 to 600, got ${argv[i]}`);
      }
    } else throw new TypeError(`unknown argument ${argv[i]} (expected --seconds N, --json)`);
  }
  killChildrenOnExit();
  const server = await startService(
    process.execPath,
    [CLI, 'mock-server', '--port', '0', '--api-key', API_KEY, '--ids', 'any'],
    { ready: /listening on (http:\/\/127\.0\.0\.1:\d+)/, readyTimeoutMs: 15_000 },
  );
  const url = server.match[1];
  const results = [];
  try {
    // A first pass warms the server's JIT so the first client is not penalised.
    await run(process.execPath, [SELF, '--child', 'pool-request', url, '2'], {
      timeoutMs: 60_000,
    });
    for (const client of CLIENTS) {
      process.stderr.write(`http-clients: ${client}, ${seconds} s x ${CONCURRENCY}\n`);
      const r = await run(process.execPath, [SELF, '--child', client, url, String(seconds)], {
        timeoutMs: seconds * 1000 + 60_000,
      });
      try {
        results.push(JSON.parse(r.stdout.trim().split('\n').pop() ?? ''));
      } catch {
        results.push({ client, error: `exit ${r.code}: ${r.stderr.slice(0, 500)}` });
      }
    }
  } finally {
    await server.stop();
  }
  if (json) {
    process.stdout.write(`${JSON.stringify({ concurrency: CONCURRENCY, seconds, results })}\n`);
    return;
  }
  process.stdout.write(
    `${formatTable(
      ['client', 'req/s', 'client CPU µs/req', 'peak RSS MB'],
      results.map((r) => [
        r.client,
        r.requestsPerSecond ?? r.error,
        r.clientCpuMicrosPerRequest ?? '',
        r.maxRssMb ?? '',
      ]),
    )}\n`,
  );
}

main().then(
  () => killAll(),
  (err) => {
    process.stderr.write(`http-clients: ${err instanceof Error ? err.message : String(err)}\n`);
    killAll();
    process.exitCode = 1;
  },
);
