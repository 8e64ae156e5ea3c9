/**
 * commands/: one module per command (update, import and sync, validate, report, state),
 * each parse → core → print: checked options in, the pipeline or a reader called, the
 * summary printed, an exit code returned (main.ts is the only exit). run-io.ts is the
 * progress and stop-signal set-up every sending command shares; signals.ts counts the
 * stop signals.
 */
import type { UpdateConfig } from '../cli/config.js';
import { type CommandName, camelCase, optionsOf } from '../cli/options.js';
import { EXIT, type ExitCode } from '../errors.js';
import { type SpooledInput, STDIN, STDIN_NAME, spoolStdin } from '../pipeline/input/stdin.js';
import { type RunEvents, type RunSummary, runUpdate } from '../pipeline/run/run-update.js';
import { formatJson, payloadCollector, payloadLogLine, updateJson } from '../report/json-output.js';
import { safeText } from '../report/safe-text.js';
import { formatSummary } from '../report/summary.js';
import { startRunIo, withResumeHint } from './run-io.js';
import { exitCodeForSignal, type StopSignal } from './signals.js';

export interface CommandIo {
  /** Where input `-` is read from; the CLI passes `process.stdin`. */
  stdin?: NodeJS.ReadableStream & { isTTY?: boolean };
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
  /**
   * Emits `stop` (signal, count) for each stop signal that counts (commands/signals.ts):
   * count 1 asks for a clean stop, 2 to abandon requests in flight. main.ts wires it
   * to the process and handles the third itself.
   */
  signals?: NodeJS.EventEmitter;
}

/** The exit code (docs/api-trouble.md) of a run that went through to its summary. */
export function exitCodeFor(summary: RunSummary, signal: StopSignal = 'SIGINT'): ExitCode {
  if (summary.stopped === 'interrupted') return exitCodeForSignal(signal);
  if (summary.stopped === 'auth' || summary.stopped === 'max-errors') return EXIT.ABORTED;
  // Rows an earlier run left failed or invalid still count: resuming a partly failed
  // run must not turn a cron job green.
  // --state: a state that could not be saved is exit 3 (the next run re-sends more).
  if (summary.state?.error !== undefined) return EXIT.ABORTED;
  const c = summary.counts;
  if (c.failed > 0 || c.invalid > 0 || c.alreadyDoneNotUpdated > 0) return EXIT.ROWS_FAILED;
  return EXIT.OK;
}

/** Quote for a POSIX shell, only when needed. */
export function shellQuote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

/**
 * The exact command that continues this run. Built from the checked options, not from
 * argv, so that an `--api-key` given on the command line is never echoed back.
 */
export function resumeCommandFor(config: UpdateConfig, summary: RunSummary): string | undefined {
  const leftToDo = summary.unfinished > 0 || summary.stopped !== undefined;
  const retryable = summary.counts.failed > 0 || summary.counts.alreadyDoneNotUpdated > 0;
  if (summary.dryRun || (!leftToDo && !retryable)) return undefined;
  return resumeCommand(config, { retryFailed: !leftToDo && retryable });
}

/**
 * `clerk-bulk update <input> --out <out> --resume ...` with every option the table marks
 * `resume` that differs from its default (a config file too: the key may live there).
 * Never the key itself.
 */
export function resumeCommand(config: UpdateConfig, how: { retryFailed: boolean }): string {
  return resumeLine('update', config, how.retryFailed ? ['--retry-failed'] : []);
}

/**
 * `clerk-bulk <command> <input> --out <out> --resume <flags>` and every option of
 * `command` the table marks `resume` that differs from its default (update, import
 * and sync alike).
 */
export function resumeLine(
  command: CommandName,
  config: { input: string; out: string },
  flags: readonly string[],
): string {
  const args = ['clerk-bulk', command, config.input, '--out', config.out, '--resume', ...flags];
  const values = config as unknown as Record<string, unknown>;
  for (const option of optionsOf(command)) {
    const value = values[camelCase(option.flag)];
    if (option.resume === undefined || value === undefined || value === option.default) continue;
    // A boolean flag is given alone (its default is false).
    if (option.kind.type === 'boolean') {
      if (value === true) args.push(`--${option.flag}`);
      continue;
    }
    const text = String(value);
    args.push(`--${option.flag}`, option.resume === true ? text : option.resume(text));
  }
  return args.map(shellQuote).join(' ');
}

/** `clerk-bulk update`: parse → run → print. Returns the exit code. */
export async function updateCommand(config: UpdateConfig, io: CommandIo): Promise<ExitCode> {
  const run = await startRunIo(config, io, {
    stop: {
      first: 'stopping; waiting for requests in flight to finish (a second signal abandons them)',
      second: 'abandoning requests in flight; they are re-sent on resume',
    },
  });
  const { stdout, redact, progress } = run;
  // `--dry-run --json`: the payloads go in the summary (capped), or with `--log json`
  // as one stderr line each, so stdout stays a single JSON object.
  const payloads =
    config.json && config.dryRun && config.log !== 'json' ? payloadCollector() : undefined;
  const onDryRun: NonNullable<RunEvents['dryRun']> = !config.json
    ? (info) =>
        stdout.write(`row ${info.row}: ${info.method} ${info.path} ${safeText(info.body)}\n`)
    : payloads !== undefined
      ? (info) => payloads.add(info)
      : (info) => io.stderr.write(redact(payloadLogLine(info)));
  let summary: RunSummary;
  let spooled: SpooledInput | undefined;
  try {
    // The copy of stdin stops on a signal by itself (and removes the copy); the run's
    // own clean stop applies from here on.
    if (config.input === STDIN) spooled = await spoolStdin(io.stdin ?? process.stdin);
    run.listen();
    summary = await runUpdate({
      ...runOptionsOf(config, run, spooled),
      full: config.full,
      ...(config.state === undefined ? {} : { state: config.state }),
      events: {
        ...progress,
        dryRun: onDryRun,
      },
    });
  } catch (err) {
    throw withResumeHint(err, config.dryRun, () => resumeCommand(config, { retryFailed: false }));
  } finally {
    spooled?.remove();
    run.close();
  }
  const code = exitCodeFor(summary, run.firstSignal());
  const resume = resumeCommandFor(config, summary);
  if (config.json) {
    stdout.write(
      formatJson(
        updateJson(summary, {
          exitCode: code,
          resumeCommand: resume,
          payloads: payloads?.result(),
        }),
      ),
    );
  } else {
    stdout.write(formatSummary(summary, resume));
  }
  return code;
}

/** The shared-budget options of a run (`--redis`, docs/shared-budget.md): update and import alike. */
export function redisRunOptions(config: UpdateConfig) {
  if (config.redis === undefined) return {};
  return {
    redisUrl: config.redis,
    redisOptional: config.redisOptional,
    ...(config.redisMaxInFlight === undefined ? {} : { redisMaxInFlight: config.redisMaxInFlight }),
    ...(config.redisGiveUpMs === undefined ? {} : { redisGiveUpMs: config.redisGiveUpMs }),
  };
}

/**
 * What every sending run (update, import, sync) takes from the checked options: the
 * input (or its copy from stdin), the results file, resume, rate, retries, mapping,
 * reading, shared budget and the stop signals. Each command adds its own.
 */
export function runOptionsOf(
  config: UpdateConfig,
  run: { graceful: AbortSignal; force: AbortSignal },
  spooled: SpooledInput | undefined,
) {
  return {
    input: spooled?.path ?? config.input,
    inputName: spooled === undefined ? config.input : STDIN_NAME,
    out: config.out,
    resume: config.resume,
    retryFailed: config.retryFailed,
    force: config.force,
    dryRun: config.dryRun,
    baseUrl: config.baseUrl,
    ratePerSecond: config.rate,
    concurrency: config.concurrency,
    retries: config.retries,
    timeoutMs: config.timeout,
    empty: config.empty,
    encoding: config.encoding,
    signal: run.graceful,
    forceSignal: run.force,
    ...(config.maxRate === undefined ? {} : { maxRatePerSecond: config.maxRate }),
    ...(config.apiKey === undefined ? {} : { apiKey: config.apiKey }),
    ...(config.mapping === undefined ? {} : { mapping: config.mapping }),
    ...(config.delimiter === undefined ? {} : { delimiter: config.delimiter }),
    ...(config.limit === undefined ? {} : { limit: config.limit }),
    ...(config.maxErrors === undefined ? {} : { maxErrors: config.maxErrors }),
    ...(config.retryBaseMs === undefined ? {} : { retryBaseDelayMs: config.retryBaseMs }),
    ...redisRunOptions(config),
  };
}
