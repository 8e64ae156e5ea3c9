/**
 * The mock server in its own process with a token-bucket limit and a chosen burst
 * (the CLI's `--rate-limit` takes the burst equal to the rate, which hides a short
 * overshoot). Records nothing. Stops on SIGTERM; prints `listening on <url>`.
 *
 *   node bench/lib/burst-mock-server.mjs <apiKey> <perSecond> <burst>
 */
import { startMockServer } from '../../dist/index.js';

const [apiKey, perSecond, burst] = process.argv.slice(2);
const server = await startMockServer({
  apiKey,
  ids: 'any',
  record: false,
  rateLimit: { perSecond: Number(perSecond), burst: Number(burst), retryAfter: 'seconds' },
});
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.once(signal, () => {
    server.close().finally(() => process.exit(0));
  });
}
process.stdout.write(`listening on ${server.url}\n`);
