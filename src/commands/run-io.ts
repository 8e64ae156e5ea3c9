/**
 * What `update`, `import` and `sync` set up the same way around a run: the progress
 * display, the redaction of everything printed, the warnings before the run, and the
 * stop signals (io.signals' `stop` events: the first asks for a clean stop, the second
 * abandons what is in flight; main.ts handles the third).
 */
import type { UpdateConfig } from '../cli/config.js';
import { ClerkBulkError, EXIT } from '../errors.js';
import { createProgress, type Progress } from '../report/progress.js';
import { redactor } from '../report/redact.js';
import type { StopSignal } from './signals.js';
import type { CommandIo } from './update.js';

/** What a command says on a stop signal, after `SIGTERM: ` / `SIGTERM again: `. */
export interface StopWords {
  /** The first signal: a clean stop. */
  first: string;
  /** The second signal: what is in flight is abandoned. */
  second: string;
}

export interface RunIo {
  /** stdout, every write redacted: an API may echo the key in an error. */
  stdout: { write(text: string): void };
  redact: (text: string) => string;
  /** The display; its warnings are redacted (progress lines carry only counts). */
  progress: Progress;
  /** Aborted by the first stop signal. */
  graceful: AbortSignal;
  /** Aborted by the second. */
  force: AbortSignal;
  /** The first stop signal heard, for the exit code. */
  firstSignal(): StopSignal | undefined;
  /** Start hearing stop signals (once the run's own clean stop applies). */
  listen(): void;
  /** Stop the display and stop hearing signals. */
  close(): void;
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '[::1]' || host.startsWith('127.');
}

/** Set up the display and the stop signals of one run, and warn about what needs it. */
export async function startRunIo(
  config: UpdateConfig,
  io: CommandIo,
  options: { stop: StopWords; importing?: boolean },
): Promise<RunIo> {
  const redact = redactor(config.apiKey);
  const display = await createProgress({
    stream: io.stderr,
    intervalSeconds: config.progressInterval,
    quiet: config.quiet,
    log: config.log,
    ...(options.importing === true ? { importing: true } : {}),
  });
  const progress: Progress = {
    ...display,
    warn: (message: string) => display.warn?.(redact(message)),
  };
  const graceful = new AbortController();
  const force = new AbortController();
  let first: StopSignal | undefined;
  const onStop = (signal: StopSignal, count: number) => {
    first ??= signal;
    if (count === 1) {
      progress.warn?.(`${signal}: ${options.stop.first}`);
      graceful.abort();
    } else if (count === 2) {
      progress.warn?.(`${signal} again: ${options.stop.second}`);
      force.abort();
    }
  };
  let listening = false;

  const url = new URL(config.baseUrl);
  if (url.protocol === 'http:' && !isLoopback(url.hostname)) {
    progress.warn?.(`--base-url ${url.origin} is plain http: the API key travels unencrypted`);
  }
  if (config.dryRun && !config.json) progress.warn?.('dry run: nothing will be sent');

  return {
    stdout: { write: (text: string) => io.stdout.write(redact(text)) },
    redact,
    progress,
    graceful: graceful.signal,
    force: force.signal,
    firstSignal: () => first,
    listen() {
      if (listening) return;
      listening = true;
      io.signals?.on('stop', onStop);
    },
    close() {
      progress.stop();
      if (listening) io.signals?.off('stop', onStop);
      listening = false;
    },
  };
}

/**
 * A live run stopped midway with rows recorded (disk full, the input broke): give the
 * error the command that goes on once that is fixed. Returns `err` for a `throw`.
 */
export function withResumeHint(err: unknown, dryRun: boolean, command: () => string): unknown {
  if (err instanceof ClerkBulkError && err.exitCode === EXIT.ABORTED && !dryRun) {
    err.hint = `to continue once that is fixed: ${command()}`;
  }
  return err;
}
