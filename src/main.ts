#!/usr/bin/env node
/**
 * The bin entry: parse argv, run the command, map errors to exit codes. This is the
 * only place that decides how the process ends.
 */
// First: caps V8 heap growth before anything else is loaded (see heap-tuning.ts).
import './heap-tuning.js';
import { EventEmitter } from 'node:events';
// Commands are imported when chosen, so `--version` and `--help` start fast.
import { parseArgv } from './cli/parse-argv.js';
import { ClerkBulkError, EXIT } from './errors.js';
import { errorJson, formatJson, jsonAsked } from './report/json-output.js';
import { safeText } from './report/safe-text.js';

/**
 * Whether an error exit prints the JSON error object on stdout. Read from argv and the
 * environment first, so that a failure of option checking itself is reported as JSON
 * when `--json` was asked; the checked options (config file included) replace it once
 * they are known.
 */
const jsonOutput = jsonAsked(process.argv.slice(2), process.env);

async function main(argv: string[]): Promise<number> {
  const io = {
    stdin: process.stdin,
    stdout: process.stdout,
    stderr: process.stderr,
    signals: new EventEmitter(),
  };
  const invocation = parseArgv(argv);
  if (invocation.command === 'none') return EXIT.OK;
  if (invocation.command === 'usage') {
    process.stderr.write(`${invocation.help}\n`);
    return EXIT.USAGE;
  }
  const { resolveOptions } = await import('./cli/resolve-options.js');
  const warn = (warnings: string[]) => {
    for (const warning of warnings) process.stderr.write(`warning: ${safeText(warning)}\n`);
  };
  switch (invocation.command) {
    case 'update': {
      await watchSignals(io.signals);
      const { options, warnings } = resolveOptions({ ...invocation, command: 'update' });
      warn(warnings);
      jsonOutput.json = options.json;
      const { toUpdateConfig } = await import('./cli/config.js');
      const { updateCommand } = await import('./commands/update.js');
      return updateCommand(toUpdateConfig(options), io);
    }
    case 'import': {
      await watchSignals(io.signals);
      const { options, warnings } = resolveOptions({ ...invocation, command: 'import' });
      warn(warnings);
      jsonOutput.json = options.json;
      const { toImportConfig, importCommand } = await import('./commands/import.js');
      return importCommand(toImportConfig(options), io);
    }
    case 'sync': {
      await watchSignals(io.signals);
      const { options, warnings } = resolveOptions({ ...invocation, command: 'sync' });
      warn(warnings);
      jsonOutput.json = options.json;
      const { toImportConfig, importCommand } = await import('./commands/import.js');
      return importCommand(toImportConfig(options, process.env, 'sync'), io);
    }
    case 'validate': {
      const { options, warnings } = resolveOptions({ ...invocation, command: 'validate' });
      warn(warnings);
      jsonOutput.json = options.json;
      const { toUpdateConfig } = await import('./cli/config.js');
      const { validateCommand } = await import('./commands/validate.js');
      const config = toUpdateConfig(options, process.env, { requireKey: false, needsOut: false });
      return validateCommand(
        config,
        {
          show: options.show,
          invalidOut: options.invalidOut,
          json: options.json,
          create: options.import,
          key: options.key,
          defaultCountry: options.defaultCountry,
        },
        io,
      );
    }
    case 'report': {
      const { options, warnings } = resolveOptions({ ...invocation, command: 'report' });
      warn(warnings);
      jsonOutput.json = options.json;
      const { reportCommand } = await import('./commands/report.js');
      return reportCommand(options, io);
    }
    case 'state': {
      const { options, warnings } = resolveOptions({ ...invocation, command: 'state' });
      warn(warnings);
      const { stateCommand } = await import('./commands/state.js');
      return stateCommand(options, io);
    }
    case 'mock-server': {
      const { options: o, warnings } = resolveOptions({ ...invocation, command: 'mock-server' });
      warn(warnings);
      const { runMockServerCommand } = await import('./mock-server/command.js');
      // Listening for the stop signal before the URL is printed: a parent that reads
      // the URL and stops the server at once would otherwise kill it (Node's default
      // for SIGTERM) and see no exit code (seen once in a full test run, loaded machine).
      const stopped = new Promise<void>((resolve) => {
        process.once('SIGINT', () => resolve());
        process.once('SIGTERM', () => resolve());
      });
      const server = await runMockServerCommand(
        {
          port: o.port,
          apiKey: o.apiKey,
          ids: o.ids,
          retryAfter: o.retryAfter,
          failRate: o.failRate,
          seed: o.seed,
          lostResponseRate: o.lostResponseRate,
          lostResponse500Rate: o.lostResponse500Rate,
          batchMaxContacts: o.batchMaxContacts,
          batchStatus: o.batchStatus === '201' ? 201 : 200,
          ...(o.rateLimitChange === undefined ? {} : { rateLimitChange: o.rateLimitChange }),
          ...(o.rateLimit === undefined ? {} : { rateLimit: o.rateLimit }),
          ...(o.latency === undefined ? {} : { latencyMs: o.latency }),
        },
        { stdout: process.stdout },
      );
      await stopped;
      await server.close();
      return EXIT.OK;
    }
  }
}

/**
 * Stop signals for a command that sends: the first asks for a clean stop and the
 * second abandons the requests in flight (both handled by the command, through
 * `stops`); a third means the operator wants out now, whatever is still running.
 * Every finished row is already on disk.
 */
async function watchSignals(stops: EventEmitter): Promise<void> {
  const { watchStopSignals, exitCodeForSignal } = await import('./commands/signals.js');
  watchStopSignals(process, (signal, count, counter) => {
    if (count < 3) {
      stops.emit('stop', signal, count);
      return;
    }
    process.stderr.write(
      `clerk-bulk: third signal (${signal}): exiting now; unfinished rows are sent on resume\n`,
    );
    process.exit(exitCodeForSignal(counter.first ?? signal));
  });
}

let settled = false;
// If the event loop ever runs dry with main() still pending, that is a bug (a promise
// nobody resolves); without this guard Node would exit 0 as if the run had succeeded.
process.on('beforeExit', () => {
  if (settled) return;
  settled = true;
  const message = 'internal error: the run ended without finishing its work';
  if (jsonOutput.json)
    process.stdout.write(formatJson(errorJson(new Error(message), jsonOutput.command)));
  process.stderr.write(`clerk-bulk: ${message}\n`);
  process.exitCode = 1;
});

main(process.argv.slice(2)).then(
  (code) => {
    settled = true;
    process.exitCode = code;
  },
  (err: unknown) => {
    settled = true;
    // stderr keeps its human line either way; stdout gets the contract's error object.
    if (jsonOutput.json) process.stdout.write(formatJson(errorJson(err, jsonOutput.command)));
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
