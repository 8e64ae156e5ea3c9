/**
 * The `--json` contract (docs/json-output.md): one object on stdout per command, and
 * one error object on stdout for any error exit. Every shape is built here and only
 * here, with `schemaVersion` first and every key always present (`null`, never
 * absent), so that commands print what this module returns and nothing else.
 *
 * Adding a field: add it to the command's `*_JSON_KEYS` list, to its builder and to
 * its table in docs/json-output.md (a test checks that the three agree). Additive
 * changes keep {@link JSON_SCHEMA_VERSION}; a rename or a removal bumps it and needs a
 * changeset.
 */
import { toBoolean } from '../cli/options.js';
import type { ClerkBulkError } from '../errors.js';
import type { RunSummary } from '../pipeline/run/types.js';
import type { StateDescription } from '../pipeline/state/index.js';
import type { ResultsFileSummary } from './results-summary.js';

/** The version of every shape below; see the versioning rule in docs/json-output.md. */
export const JSON_SCHEMA_VERSION = 1;

/**
 * A dry run with `--json` lists at most this many payloads in `payloads` (the first
 * ones, in input order); `payloadsTruncated` says when there were more. A million-row
 * dry run must not build a million-element array; `--log json` streams them all.
 */
export const MAX_JSON_PAYLOADS = 1_000;

/** The keys every sending run's summary prints (update, import, sync), after `command`. */
const RUN_SUMMARY_KEYS = [
  'input',
  'resultsPath',
  'dryRun',
  'rowsRead',
  'counts',
  'requests',
  'elapsedMs',
  'rowsPerSecond',
  'stopped',
  'unfinished',
  'topErrors',
  'rate',
] as const;

/** The top-level keys of `update --json`, in the order they are printed. */
export const UPDATE_JSON_KEYS = [
  'schemaVersion',
  'command',
  ...RUN_SUMMARY_KEYS,
  'state',
  'resumeCommand',
  'payloads',
  'payloadsTruncated',
  'exitCode',
] as const;

/** The top-level keys of `validate --json`, in the order they are printed. */
export const VALIDATE_JSON_KEYS = [
  'schemaVersion',
  'command',
  'input',
  'rows',
  'valid',
  'invalid',
  'byColumn',
  'problems',
  'problemsTruncated',
  'invalidOut',
  'exitCode',
] as const;

/**
 * The top-level keys of `import --json` and `sync --json` (one shape, `command` says
 * which), in the order they are printed.
 */
export const IMPORT_JSON_KEYS = [
  'schemaVersion',
  'command',
  ...RUN_SUMMARY_KEYS,
  'stateDir',
  'resumeCommand',
  'resendUncertainCommand',
  'exitCode',
] as const;

/** `sync --json`: the shape of `import --json`. */
export const SYNC_JSON_KEYS = IMPORT_JSON_KEYS;

/** The top-level keys of `report --json`, in the order they are printed. */
export const REPORT_JSON_KEYS = [
  'schemaVersion',
  'command',
  'resultsPath',
  'layout',
  'lines',
  'rows',
  'counts',
  'uncertainRows',
  'topErrors',
  'tornLastLine',
  'failedOut',
  'createdOut',
  'exitCode',
] as const;

/** The top-level keys of `state --json`, in the order they are printed. */
export const STATE_JSON_KEYS = [
  'schemaVersion',
  'command',
  'dir',
  'exists',
  'ids',
  'keys',
  'updatedAt',
  'fingerprint',
  'entriesBytes',
  'runs',
  'pendingSends',
  'lockedBy',
  'exitCode',
] as const;

/** The top-level keys of the error object printed by any command that fails. */
export const ERROR_JSON_KEYS = ['schemaVersion', 'command', 'error'] as const;

/** The keys of `error` in the error object. */
export const ERROR_DETAIL_KEYS = ['code', 'message', 'exitCode', 'hint'] as const;

/** Every documented shape by name, as docs/json-output.md has a section for each. */
export const JSON_SHAPES = {
  update: UPDATE_JSON_KEYS,
  import: IMPORT_JSON_KEYS,
  sync: SYNC_JSON_KEYS,
  validate: VALIDATE_JSON_KEYS,
  report: REPORT_JSON_KEYS,
  state: STATE_JSON_KEYS,
  error: ERROR_JSON_KEYS,
} as const;

/** The commands that take `--json`. */
export type JsonCommand = Exclude<keyof typeof JSON_SHAPES, 'error'>;

type Shape<K extends readonly string[], T extends Record<K[number], unknown>> = {
  [P in K[number]]: T[P];
};

/** One request a dry run would send (`payloads` and the `--log json` payload lines). */
export interface JsonPayload {
  row: number;
  id: string;
  method: 'PUT';
  path: string;
  /** The JSON body, as an object. */
  body: unknown;
}

export type UpdateJson = Shape<
  typeof UPDATE_JSON_KEYS,
  RunSummaryJson & {
    schemaVersion: typeof JSON_SCHEMA_VERSION;
    command: 'update';
    state: NonNullable<RunSummary['state']> | null;
    resumeCommand: string | null;
    payloads: JsonPayload[] | null;
    payloadsTruncated: boolean;
    exitCode: number;
  }
>;

/**
 * The fields of a RunSummary as JSON: `undefined` becomes `null`. Mapped over
 * RunSummary so that a field added to it fails to compile here until it is placed in
 * the shape (and so in UPDATE_JSON_KEYS and the docs). `operation` is not a field:
 * `command` says it.
 */
type SummaryFields = {
  [K in Exclude<keyof RunSummary, 'operation'>]-?: undefined extends RunSummary[K]
    ? Exclude<RunSummary[K], undefined> | null
    : RunSummary[K];
};

/** The run-summary fields (RUN_SUMMARY_KEYS) of update, import and sync. */
type RunSummaryJson = Pick<SummaryFields, (typeof RUN_SUMMARY_KEYS)[number]>;

/** The run-summary keys (RUN_SUMMARY_KEYS) of update, import and sync, in order. */
function runSummaryFields(summary: RunSummary): RunSummaryJson {
  return {
    input: summary.input,
    resultsPath: summary.resultsPath,
    dryRun: summary.dryRun,
    rowsRead: summary.rowsRead,
    counts: summary.counts,
    requests: summary.requests,
    elapsedMs: summary.elapsedMs,
    rowsPerSecond: summary.rowsPerSecond,
    stopped: summary.stopped ?? null,
    unfinished: summary.unfinished,
    topErrors: summary.topErrors,
    rate: summary.rate,
  };
}

/**
 * `update --json`. `payloads` is the capped list collected during a dry run, or `null`
 * when none was collected (a live run, or `--log json`, which streams them instead).
 */
export function updateJson(
  summary: RunSummary,
  extra: {
    exitCode: number;
    resumeCommand: string | undefined;
    payloads?: { list: JsonPayload[]; truncated: boolean } | undefined;
  },
): UpdateJson {
  // Typed with every RunSummary field: a new one must be placed here or it won't compile.
  const s: SummaryFields = { ...runSummaryFields(summary), state: summary.state ?? null };
  return {
    schemaVersion: JSON_SCHEMA_VERSION,
    command: 'update',
    ...s,
    resumeCommand: extra.resumeCommand ?? null,
    payloads: extra.payloads?.list ?? null,
    payloadsTruncated: extra.payloads?.truncated ?? false,
    exitCode: extra.exitCode,
  };
}

export type ImportJson = Shape<
  typeof IMPORT_JSON_KEYS,
  RunSummaryJson & {
    schemaVersion: typeof JSON_SCHEMA_VERSION;
    command: 'import' | 'sync';
    stateDir: string | null;
    resumeCommand: string | null;
    resendUncertainCommand: string | null;
    exitCode: number;
  }
>;

/**
 * `import --json` and `sync --json`. `resendUncertainCommand`: the command that sends
 * the `uncertain` rows again, once checked (`null` when there are none).
 */
export function importJson(
  summary: RunSummary,
  extra: {
    command: 'import' | 'sync';
    exitCode: number;
    stateDir: string | undefined;
    resumeCommand: string | undefined;
    resendUncertainCommand: string | undefined;
  },
): ImportJson {
  return {
    schemaVersion: JSON_SCHEMA_VERSION,
    command: extra.command,
    ...runSummaryFields(summary),
    stateDir: extra.stateDir ?? null,
    resumeCommand: extra.resumeCommand ?? null,
    resendUncertainCommand: extra.resendUncertainCommand ?? null,
    exitCode: extra.exitCode,
  };
}

/**
 * Collects a dry run's payloads for `update --json`: the first {@link MAX_JSON_PAYLOADS}
 * are kept, the rest only counted, so memory stays flat whatever the input's size.
 */
export function payloadCollector(max = MAX_JSON_PAYLOADS) {
  const list: JsonPayload[] = [];
  let truncated = false;
  return {
    add(info: { row: number; id: string; path: string; body: string }): void {
      if (list.length >= max) {
        truncated = true;
        return;
      }
      list.push({
        row: info.row,
        id: info.id,
        method: 'PUT',
        path: info.path,
        body: JSON.parse(info.body),
      });
    },
    result: () => ({ list, truncated }),
  };
}

/**
 * One dry-run payload as a `--log json` line (stderr), newline included. The body is spliced in as the
 * exact JSON that would be sent, so a million-row dry run parses nothing twice.
 */
export function payloadLogLine(info: {
  row: number;
  id: string;
  path: string;
  body: string;
}): string {
  const head = JSON.stringify({
    event: 'payload',
    time: new Date().toISOString(),
    row: info.row,
    id: info.id,
    method: 'PUT',
    path: info.path,
  });
  return `${escapeUnsafe(`${head.slice(0, -1)},"body":${info.body}}`)}\n`;
}

export type ValidateJson = Shape<
  typeof VALIDATE_JSON_KEYS,
  {
    schemaVersion: typeof JSON_SCHEMA_VERSION;
    command: 'validate';
    input: string;
    rows: number;
    valid: number;
    invalid: number;
    byColumn: Array<{ column: string; count: number }>;
    problems: Array<{ row: number; line: number; error: string }>;
    problemsTruncated: boolean;
    invalidOut: { path: string; rows: number } | null;
    exitCode: number;
  }
>;

/** `validate --json`. `byColumn` is sorted by count, most first, as the text summary is. */
export function validateJson(facts: {
  input: string;
  rows: number;
  invalid: number;
  byColumn: ReadonlyMap<string, number>;
  problems: Array<{ row: number; line: number; error: string }>;
  invalidOut: string | undefined;
  exitCode: number;
}): ValidateJson {
  return {
    schemaVersion: JSON_SCHEMA_VERSION,
    command: 'validate',
    input: facts.input,
    rows: facts.rows,
    valid: facts.rows - facts.invalid,
    invalid: facts.invalid,
    byColumn: [...facts.byColumn.entries()]
      .sort((a, b) => b[1] - a[1])
      .map(([column, count]) => ({ column, count })),
    problems: facts.problems,
    problemsTruncated: facts.problems.length < facts.invalid,
    invalidOut:
      facts.invalidOut === undefined ? null : { path: facts.invalidOut, rows: facts.invalid },
    exitCode: facts.exitCode,
  };
}

export type ReportJson = Shape<
  typeof REPORT_JSON_KEYS,
  {
    schemaVersion: typeof JSON_SCHEMA_VERSION;
    command: 'report';
    resultsPath: string;
    layout: ResultsFileSummary['layout'];
    lines: number;
    rows: number;
    counts: ResultsFileSummary['counts'];
    uncertainRows: number[];
    topErrors: ResultsFileSummary['topErrors'];
    tornLastLine: boolean;
    failedOut: { path: string; rows: number; input: string } | null;
    createdOut: { path: string; rows: number } | null;
    exitCode: number;
  }
>;

/** `report --json`. */
export function reportJson(
  summary: ResultsFileSummary,
  extra: {
    failedOut: { path: string; rows: number; input: string } | undefined;
    createdOut?: { path: string; rows: number } | undefined;
    exitCode: number;
  },
): ReportJson {
  return {
    schemaVersion: JSON_SCHEMA_VERSION,
    command: 'report',
    resultsPath: summary.path,
    layout: summary.layout,
    lines: summary.lines,
    rows: summary.rows,
    counts: summary.counts,
    uncertainRows: summary.uncertainRows,
    topErrors: summary.topErrors,
    tornLastLine: summary.tornLastLine,
    failedOut: extra.failedOut ?? null,
    createdOut: extra.createdOut ?? null,
    exitCode: extra.exitCode,
  };
}

export type ErrorJson = Shape<
  typeof ERROR_JSON_KEYS,
  {
    schemaVersion: typeof JSON_SCHEMA_VERSION;
    command: JsonCommand | null;
    error: Shape<
      typeof ERROR_DETAIL_KEYS,
      { code: string; message: string; exitCode: number; hint: string | null }
    >;
  }
>;

/** The error object: a ClerkBulkError as it is, anything else as `E_INTERNAL` (exit 1). */
export function errorJson(err: unknown, command: JsonCommand | undefined): ErrorJson {
  const known = isClerkBulkError(err);
  return {
    schemaVersion: JSON_SCHEMA_VERSION,
    command: command ?? null,
    error: {
      code: known ? err.code : 'E_INTERNAL',
      message: err instanceof Error ? err.message : String(err),
      exitCode: known ? err.exitCode : 1,
      hint: known ? (err.hint ?? null) : null,
    },
  };
}

function isClerkBulkError(err: unknown): err is ClerkBulkError {
  return (
    err instanceof Error &&
    typeof (err as Partial<ClerkBulkError>).code === 'string' &&
    typeof (err as Partial<ClerkBulkError>).exitCode === 'number'
  );
}

/**
 * What must not reach a terminal raw (see safe-text.ts) and that `JSON.stringify`
 * leaves as it is: DEL, C1 controls, the line and paragraph separators and the
 * bidirectional overrides. Escaped as `\uXXXX`, the JSON still parses to the same value.
 */
const UNSAFE_IN_JSON = /[\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/** `value` as one line of JSON, safe to print on a terminal, ending in a newline. */
export function formatJson(value: unknown): string {
  return `${escapeUnsafe(JSON.stringify(value))}\n`;
}

function escapeUnsafe(json: string): string {
  return json.replace(UNSAFE_IN_JSON, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * Whether `--json` was asked for, read from argv and `CLERK_BULK_JSON` the way the
 * option table reads them, for when option checking itself failed and the checked
 * options are not there to say. `--json` on the command line counts for any command,
 * even a misspelt one (`command` is then undefined). Never throws: a value it cannot
 * read (`--json=maybe`) is "no", and option checking reports it.
 */
export function jsonAsked(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
): { json: boolean; command: JsonCommand | undefined } {
  const first = argv.find((a) => !a.startsWith('-'));
  const command =
    first === 'update' ||
    first === 'import' ||
    first === 'sync' ||
    first === 'validate' ||
    first === 'report' ||
    first === 'state'
      ? first
      : undefined;
  let fromFlag: boolean | undefined;
  for (const arg of argv) {
    if (arg === '--') break;
    const match = /^--(no-)?json(?:=(.*))?$/s.exec(arg);
    if (match === null) continue;
    const [, no, word] = match;
    const value = word === undefined ? true : toBoolean(word);
    // The last one wins, as yargs reads repeated booleans.
    if (value !== undefined) fromFlag = no === undefined ? value : !value;
  }
  if (fromFlag !== undefined) return { json: fromFlag, command };
  // The variable is read only by the commands that take --json (resolve-options.ts):
  // a mock server started from the same environment keeps its text errors.
  const fromEnv = command === undefined ? undefined : env.CLERK_BULK_JSON;
  return { json: fromEnv !== undefined && toBoolean(fromEnv) === true, command };
}

export type StateJson = Shape<
  typeof STATE_JSON_KEYS,
  Omit<
    { [K in keyof StateDescription]-?: Exclude<StateDescription[K], undefined> | null },
    never
  > & {
    schemaVersion: typeof JSON_SCHEMA_VERSION;
    command: 'state';
    exitCode: number;
  }
>;

/** `state --json`: what a job state holds (docs/state.md). */
export function stateJson(d: StateDescription, exitCode: number): StateJson {
  return {
    schemaVersion: JSON_SCHEMA_VERSION,
    command: 'state',
    dir: d.dir,
    exists: d.exists,
    ids: d.ids,
    keys: d.keys,
    updatedAt: d.updatedAt ?? null,
    fingerprint: d.fingerprint ?? null,
    entriesBytes: d.entriesBytes,
    runs: d.runs,
    pendingSends: d.pendingSends,
    lockedBy: d.lockedBy ?? null,
    exitCode,
  };
}
