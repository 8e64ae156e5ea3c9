/**
 * The loopback ceiling: the least a client can do per request (undici Pool, keep-alive,
 * bodies prepared in a loop, responses dumped) against the same server, at the same
 * concurrency, for the same wall time as the CLI run it is compared with.
 */
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import { bodyFor } from './data.mjs';

/**
 * @param {{ url: string, apiKey: string, concurrency: number, durationMs: number, firstId: number }} options
 *   Ids `firstId`, `firstId + 1`, ... are sent, each once.
 */
export async function measureCeiling(options) {
  const pool = new Pool(options.url, {
    connections: options.concurrency,
    pipelining: 1,
    keepAliveTimeout: 30_000,
  });
  // The same headers the CLI sends, so the server does the same work.
  const headers = {
    'content-type': 'application/json',
    accept: 'application/json',
    apikey: options.apiKey,
    'user-agent': 'clerk-bulk-bench',
  };
  let next = 0;
  let ok = 0;
  let other = 0;
  let errors = 0;
  const startedAt = performance.now();
  const deadline = startedAt + options.durationMs;
  const worker = async () => {
    // Bounded by the deadline; a failing server ends the loop early via `errors`.
    while (performance.now() < deadline && errors < 1_000) {
      const id = options.firstId + next++;
      try {
        const res = await pool.request({
          method: 'PUT',
          path: `/public/contacts/${id}`,
          headers,
          body: bodyFor(id),
        });
        await res.body.dump();
        if (res.statusCode >= 200 && res.statusCode < 300) ok++;
        else other++;
      } catch {
        errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, worker));
  const elapsedMs = performance.now() - startedAt;
  await pool.close();
  return {
    requests: ok,
    non2xx: other,
    errors,
    elapsedMs: Math.round(elapsedMs),
    requestsPerSecond: (ok / elapsedMs) * 1000,
  };
}
