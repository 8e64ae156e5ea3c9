// One clerk-bulk-like process for bench/shared-budget.mjs: AdaptiveLimiter + the undici
// client from dist/, PUTting `count` contacts, each retried until accepted (as a run
// retries a 429). With a Redis URL the limiter runs on the shared budget (needs the
// `shared` option of AdaptiveLimiter: limiter-wiring.patch).
//   node shared-budget-worker.mjs <baseUrl> <apiKey> <ratePerSecond> <count> <startAtMs> [redisUrl]
// Prints one JSON line: accepted times (epoch ms), PUTs sent, 429s, start and end.
import { AdaptiveLimiter } from '../../dist/pipeline/limit/limiter.js';
import { openSharedBudget } from '../../dist/pipeline/limit/shared-budget.js';
import { createContactClient } from '../../dist/pipeline/send/client.js';

const [baseUrl, apiKey, rateText, countText, startAtText, redisUrl] = process.argv.slice(2);
const ratePerSecond = Number(rateText);
const count = Number(countText);
/** As the CLI's default window: requests in flight per process. */
const CONCURRENCY = 16;

const shared =
  redisUrl === undefined || redisUrl === ''
    ? undefined
    : await openSharedBudget({
        redisUrl,
        baseUrl,
        apiKey,
        onConnection: (e) => process.stderr.write(`redis: ${e.state}\n`),
      });
const limiter = new AdaptiveLimiter({ ratePerSecond, concurrency: CONCURRENCY, shared });
const client = createContactClient({
  baseUrl,
  apiKey,
  timeoutMs: 30_000,
  connections: CONCURRENCY,
});
const body = JSON.stringify({ name: 'Bench' });

await new Promise((r) => setTimeout(r, Math.max(0, Number(startAtText) - Date.now())));
const startedAtMs = Date.now();
const accepted = [];
let sent = 0;
let throttled = 0;
let next = 0;

async function lane() {
  while (next < count) {
    const id = String(process.pid * 100_000 + next++);
    for (;;) {
      let sentAtMs = 0;
      const result = await limiter.schedule(async () => {
        sentAtMs = Date.now();
        sent++;
        const r = await client.put(id, body);
        // Inside the job, as the run does: no request starts between a 429 and the pause.
        if (r.kind === 'http-error' && r.status === 429) {
          throttled++;
          limiter.throttled(r.retryAfterMs, sentAtMs);
        } else if (r.kind === 'ok') {
          limiter.succeeded();
        }
        return r;
      });
      if (result.kind === 'ok') {
        accepted.push(Date.now());
        break;
      }
      if (!(result.kind === 'http-error' && result.status === 429)) {
        throw new Error(`unexpected answer: ${JSON.stringify(result)}`);
      }
    }
  }
}

await Promise.all(Array.from({ length: CONCURRENCY }, lane));
const finishedAtMs = Date.now();
await limiter.stop();
await client.close();
await shared?.close();
process.stdout.write(
  `${JSON.stringify({ startedAtMs, finishedAtMs, sent, throttled, accepted })}\n`,
);
