#!/usr/bin/env node
/**
 * The bin entry: parse argv, run the command, map errors to exit codes. This is the
 * only place that decides how the process ends.
 */
// First: caps V8 heap growth before anything else is loaded (see heap-tuning.ts).
import './heap-tuning.js';
// Commands are imported when chosen, so `--version` and `--help` start fast.
import { parseArgv } from './cli/parse-argv.js';
import { ClerkBulkError, EXIT } from './errors.js';
import { safeText } from './report/safe-text.js';

async function main(argv: string[]): Promise<number> {
  const io = {
    stdin: process.stdin,
    stdout: process.stdout,
    stderr: process.stderr,
    signals: process,
  };
  const invocation = parseArgv(argv);
  for (const warning of invocation.warnings)
    process.stderr.write(`warning: ${safeText(warning)}\n`);
  switch (invocation.command) {
    case 'none':
      return EXIT.OK;
    case 'update': {
      exitOnThirdSignal();
      const { toUpdateConfig } = await import('./cli/config.js');
      const { updateCommand } = await import('./commands/update.js');
      return updateCommand(toUpdateConfig(invocation.options), io);
    }
    case 'validate': {
      const { toUpdateConfig } = await import('./cli/config.js');
      const { validateCommand } = await import('./commands/validate.js');
      const config = toUpdateConfig(invocation.options, process.env, {
        requireKey: false,
        needsOut: false,
      });
      const show = Number(invocation.options.show ?? 20);
      return validateCommand(
        config,
        {
          show: Number.isFinite(show) && show >= 0 ? show : 20,
          invalidOut: invocation.options.invalidOut as string | undefined,
        },
        io,
      );
    }
    case 'report': {
      const { reportCommand } = await import('./commands/report.js');
      return reportCommand(invocation.options, io);
    }
    case 'mock-server': {
      const { runMockServerCommand } = await import('./mock-server/command.js');
      const o = invocation.options;
      const server = await runMockServerCommand(
        {
          port: Number(o.port ?? 3000),
          apiKey: String(o.apiKey ?? 'test-key'),
          ids: String(o.ids ?? 'any'),
          ...(o.rateLimit === undefined ? {} : { rateLimit: Number(o.rateLimit) }),
          ...(o.retryAfter === undefined ? {} : { retryAfter: o.retryAfter as 'seconds' }),
          ...(o.failRate === undefined ? {} : { failRate: Number(o.failRate) }),
          ...(o.latency === undefined ? {} : { latencyMs: String(o.latency) }),
          ...(o.seed === undefined ? {} : { seed: Number(o.seed) }),
        },
        { stdout: process.stdout },
      );
      await new Promise<void>((resolve) => {
        const shutdown = () => resolve();
        process.once('SIGINT', shutdown);
        process.once('SIGTERM', shutdown);
      });
      await server.close();
      return EXIT.OK;
    }
  }
}

/**
 * The update command answers a first SIGINT/SIGTERM by finishing the requests in flight
 * and a second by abandoning them (see commands/update.ts). A third means the operator
 * wants out now, whatever is still running; every finished row is already on disk.
 */
function exitOnThirdSignal(): void {
  let signals = 0;
  const onSignal = () => {
    signals++;
    if (signals < 3) return;
    process.stderr.write(
      'clerk-bulk: third signal: exiting now; unfinished rows are sent on resume\n',
    );
    process.exit(EXIT.INTERRUPTED);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}

let settled = false;
// If the event loop ever runs dry with main() still pending, that is a bug (a promise
// nobody resolves); without this guard Node would exit 0 as if the run had succeeded.
process.on('beforeExit', () => {
  if (settled) return;
  settled = true;
  process.stderr.write('clerk-bulk: internal error: the run ended without finishing its work\n');
  process.exitCode = 1;
});

main(process.argv.slice(2)).then(
  (code) => {
    settled = true;
    process.exitCode = code;
  },
  (err: unknown) => {
    settled = true;
    if (err instanceof ClerkBulkError) {
      const hint = err.hint === undefined ? '' : `; ${err.hint}`;
      process.stderr.write(`clerk-bulk: ${safeText(err.message + hint)}\n`);
      process.exitCode = err.exitCode;
      return;
    }
    // A bug, not a user error: one line, and the stack only on request.
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`clerk-bulk: internal error: ${safeText(message)}\n`);
    if (process.env.CLERK_BULK_DEBUG === '1' && err instanceof Error) {
      process.stderr.write(`${err.stack ?? ''}\n`);
    } else {
      process.stderr.write('clerk-bulk: set CLERK_BULK_DEBUG=1 to see the stack trace\n');
    }
    process.exitCode = 1;
  },
);
