/**
 * The mock server in its own process, started through its command module
 * (`runMockServerCommand`) with options given as one JSON argument, so a benchmark can
 * use options the CLI table does not declare yet (`rateLimitChange`). It stops on
 * SIGTERM; its first stdout line says where it listens.
 *
 *   node bench/lib/mock-server-child.mjs '{"port":0,"apiKey":"k","ids":"any","rateLimit":150}'
 */
import { runMockServerCommand } from '../../dist/mock-server/index.js';

const options = JSON.parse(process.argv[2] ?? '{}');
const server = await runMockServerCommand(options, { stdout: process.stdout });
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.once(signal, () => {
    server.close().finally(() => process.exit(0));
  });
}
