/**
 * Error classes and the exit-code table. Nothing below `main.ts` calls
 * `process.exit`: code throws one of these and `main.ts` maps it to an exit code.
 */

/** Exit codes, as documented in docs/api-trouble.md and README.md. */
export const EXIT = {
  /** Every row updated (or already done). */
  OK: 0,
  /** Finished, but some rows failed or were invalid. */
  ROWS_FAILED: 1,
  /** Usage, configuration or input-file error; nothing was sent. */
  USAGE: 2,
  /** Aborted: the API refused the key, or `--max-errors` was reached. */
  ABORTED: 3,
  /** Interrupted by SIGINT (Ctrl-C). */
  INTERRUPTED: 130,
  /** Stopped by SIGTERM or SIGHUP. */
  TERMINATED: 143,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** Where in an input file something went wrong. All fields are 1-based. */
export interface InputLocation {
  file?: string;
  /** Physical line in the file. */
  line?: number;
  /** Data-row number (header excluded). */
  row?: number;
  column?: string;
}

/** Base class: every error the tool reports on purpose has a stable `code`. */
export class ClerkBulkError extends Error {
  override name = 'ClerkBulkError';
  readonly code: string;
  readonly exitCode: ExitCode;
  /** What to do next, printed after the message on the same line (the CLI sets it). */
  hint: string | undefined;

  constructor(message: string, code: string, exitCode: ExitCode, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.exitCode = exitCode;
  }
}

/** Bad command-line options or configuration. Exit 2. */
export class UsageError extends ClerkBulkError {
  override name = 'UsageError';
  constructor(message: string, code = 'E_USAGE', options?: { cause?: unknown }) {
    super(message, code, EXIT.USAGE, options);
  }
}

/** The input file (or results/mapping file) cannot be used as a whole. Exit 2. */
export class InputFileError extends ClerkBulkError {
  override name = 'InputFileError';
  readonly location: InputLocation;
  constructor(
    message: string,
    code: string,
    location: InputLocation = {},
    options?: { cause?: unknown },
  ) {
    super(formatLocated(message, location), code, EXIT.USAGE, options);
    this.location = location;
  }
}

/**
 * The run was stopped before the end: key refused, too many failed rows, or the input
 * file broke after requests had gone out (`E_INPUT_MIDRUN`). Exit 3.
 */
export class RunAbortedError extends ClerkBulkError {
  override name = 'RunAbortedError';
  constructor(
    message: string,
    code: 'E_AUTH' | 'E_MAX_ERRORS' | 'E_INPUT_MIDRUN',
    options?: { cause?: unknown },
  ) {
    super(message, code, EXIT.ABORTED, options);
  }
}

/** A signal stopped the command before anything was sent. Exit 130 (SIGINT) or 143. */
export class InterruptedError extends ClerkBulkError {
  override name = 'InterruptedError';
  readonly signal: 'SIGINT' | 'SIGTERM';
  constructor(message: string, signal: 'SIGINT' | 'SIGTERM', options?: { cause?: unknown }) {
    super(
      message,
      'E_INTERRUPTED',
      signal === 'SIGINT' ? EXIT.INTERRUPTED : EXIT.TERMINATED,
      options,
    );
    this.signal = signal;
  }
}

/**
 * Results could not be written (disk full, read-only directory...). Exit 2 when found
 * before anything was sent, 3 when it stops a run midway.
 */
export class ResultsWriteError extends ClerkBulkError {
  override name = 'ResultsWriteError';
  constructor(message: string, options?: { cause?: unknown; midRun?: boolean }) {
    super(
      message,
      'E_RESULTS_WRITE',
      options?.midRun === true ? EXIT.ABORTED : EXIT.USAGE,
      options,
    );
  }
}

/** `file line 12, column "email": message` — the one-line shape every input error uses. */
export function formatLocated(message: string, at: InputLocation): string {
  const parts: string[] = [];
  if (at.file !== undefined) parts.push(at.file);
  const where: string[] = [];
  if (at.line !== undefined) where.push(`line ${at.line}`);
  if (at.row !== undefined) where.push(`row ${at.row}`);
  if (at.column !== undefined) where.push(`column "${at.column}"`);
  const prefix = [parts.join(''), where.join(', ')].filter((s) => s !== '').join(' ');
  return prefix === '' ? message : `${prefix}: ${message}`;
}
