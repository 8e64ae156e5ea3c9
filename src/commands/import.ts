import { toUpdateConfig, type UpdateConfig } from '../cli/config.js';
import type { OptionsOf } from '../cli/options.js';
import { DEFAULT_BATCH_SIZE } from '../defaults.js';
import { EXIT, type ExitCode, UsageError } from '../errors.js';
import { type SpooledInput, STDIN, spoolStdin } from '../pipeline/input/stdin.js';
import { type CountryCode, parseCountryCode } from '../pipeline/payload/phone.js';
import { runImport } from '../pipeline/run/run-import.js';
import type { RunSummary } from '../pipeline/run/types.js';
import { formatJson, importJson } from '../report/json-output.js';
import { safeText } from '../report/safe-text.js';
import { formatSummary } from '../report/summary.js';
import { startRunIo, withResumeHint } from './run-io.js';
import { exitCodeForSignal, type StopSignal } from './signals.js';
import { type CommandIo, exitCodeFor, resumeLine, runOptionsOf, shellQuote } from './update.js';

export type ImportConfig = UpdateConfig & {
  command: 'import' | 'sync';
  key: string | undefined;
  state: string | undefined;
  defaultCountry: CountryCode | undefined;
  batchSize: number;
  resendUncertain: boolean;
};

/** A `--default-country` value libphonenumber knows, or a usage error that says so. */
export function countryOption(value: string): CountryCode {
  try {
    return parseCountryCode(value);
  } catch (err) {
    throw new UsageError(`--default-country: ${(err as Error).message}`, 'E_OPTION');
  }
}

/** The import options: update's checks, and those of import's own options. */
export function toImportConfig(
  checked: Partial<OptionsOf<'import'>> & Record<string, unknown>,
  env: NodeJS.ProcessEnv = process.env,
  command: 'import' | 'sync' = 'import',
): ImportConfig {
  const config = toUpdateConfig(checked, env);
  if (checked.resendUncertain === true && checked.resume !== true && checked.state === undefined) {
    throw new UsageError('--resend-uncertain goes with --resume or --state', 'E_OPTION');
  }
  if (command === 'sync' && (checked.key === undefined || checked.state === undefined)) {
    throw new UsageError(
      "sync needs --key COLUMN (your CRM's id) and --state DIR (where each key's contact is remembered)",
      'E_OPTION',
    );
  }
  if (checked.state !== undefined && checked.key === undefined) {
    throw new UsageError('--state needs --key: the state remembers contacts by key', 'E_OPTION');
  }
  return {
    ...config,
    command,
    state: checked.state,
    key: checked.key,
    defaultCountry:
      checked.defaultCountry === undefined ? undefined : countryOption(checked.defaultCountry),
    batchSize: checked.batchSize ?? DEFAULT_BATCH_SIZE,
    resendUncertain: checked.resendUncertain === true,
  };
}

/**
 * `clerk-bulk import <input> --out <out> --resume ...`: every option the table marks
 * `resume` that differs from its default. Never the key itself.
 */
export function importResumeCommand(
  config: ImportConfig,
  how: { retryFailed: boolean; resendUncertain?: boolean },
): string {
  const flags = [
    ...(how.retryFailed ? ['--retry-failed'] : []),
    ...(how.resendUncertain === true ? ['--resend-uncertain'] : []),
  ];
  return resumeLine(config.command, config, flags);
}

/** An import's exit code: update's, and 1 while any row is `uncertain`. */
export function importExitCode(summary: RunSummary, signal?: StopSignal): ExitCode {
  const code = exitCodeFor(summary, signal);
  return code === EXIT.OK && summary.counts.uncertain > 0 ? EXIT.ROWS_FAILED : code;
}

/** `clerk-bulk import`: parse → run → print. Returns the exit code. */
export async function importCommand(config: ImportConfig, io: CommandIo): Promise<ExitCode> {
  const run = await startRunIo(config, io, {
    importing: true,
    stop: {
      first:
        'stopping; waiting for batches in flight to finish (a second signal abandons them, and their rows become uncertain)',
      second: 'abandoning batches in flight; their rows are uncertain',
    },
  });
  const { stdout, progress } = run;
  let summary: RunSummary;
  let spooled: SpooledInput | undefined;
  try {
    if (config.input === STDIN) spooled = await spoolStdin(io.stdin ?? process.stdin);
    run.listen();
    summary = await runImport({
      ...runOptionsOf(config, run, spooled),
      operation: 'create',
      resendUncertain: config.resendUncertain,
      batchSize: config.batchSize,
      ...(config.key === undefined ? {} : { key: config.key }),
      ...(config.state === undefined ? {} : { stateDir: config.state }),
      sync: config.command === 'sync',
      ...(config.defaultCountry === undefined ? {} : { defaultCountry: config.defaultCountry }),
      events: {
        ...progress,
        dryRun: config.json
          ? undefined
          : (info) =>
              stdout.write(`row ${info.row}: ${info.method} ${info.path} ${safeText(info.body)}\n`),
      },
    });
  } catch (err) {
    throw withResumeHint(err, config.dryRun, () =>
      importResumeCommand(config, { retryFailed: false }),
    );
  } finally {
    spooled?.remove();
    run.close();
  }
  const code = importExitCode(summary, run.firstSignal());
  const resume = resumeFor(config, summary);
  if (config.json) {
    const uncertain = summary.counts.uncertain + (summary.counts.alreadyUncertain ?? 0);
    stdout.write(
      formatJson(
        importJson(summary, {
          command: config.command,
          exitCode: code,
          stateDir: config.state,
          resumeCommand: resume,
          resendUncertainCommand:
            uncertain > 0
              ? importResumeCommand(config, { retryFailed: false, resendUncertain: true })
              : undefined,
        }),
      ),
    );
  } else {
    stdout.write(formatSummary(summary, resume));
    const uncertain = summary.counts.uncertain + (summary.counts.alreadyUncertain ?? 0);
    if (uncertain > 0) stdout.write(uncertainAdvice(uncertain, config));
  }
  return code;
}

/** The resume command when rows are left to send or failed; undefined otherwise. */
function resumeFor(config: ImportConfig, summary: RunSummary): string | undefined {
  const leftToDo = summary.unfinished > 0 || summary.stopped !== undefined;
  const retryable = summary.counts.failed > 0;
  if (summary.dryRun || (!leftToDo && !retryable)) return undefined;
  return importResumeCommand(config, { retryFailed: !leftToDo && retryable });
}

/** What to do about uncertain rows: never re-sent without the operator's word. */
function uncertainAdvice(count: number, config: ImportConfig): string {
  const rows = `${count} row${count === 1 ? ' was' : 's were'}`;
  return `${[
    `Uncertain: ${rows} sent without a clear answer; each may or may not exist in Clerk Chat now.`,
    `  list them: clerk-bulk report ${shellQuote(config.out)}`,
    '  once you have checked that they were not created, send them again with:',
    `  ${importResumeCommand(config, { retryFailed: false, resendUncertain: true })}`,
  ].join('\n')}\n`;
}

export { exitCodeForSignal };
