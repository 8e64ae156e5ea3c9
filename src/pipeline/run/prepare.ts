/**
 * Everything a run does before it sends anything: the lock on the results file, the
 * sidecar's fast path for a finished run, the checks that refuse a run (the input as
 * its own results file, a header without an id, results of another input), the job
 * state, and opening the rows and the results file. Whatever fails here fails before
 * any request went out (exit 2).
 */
import { DEFAULT_BASE_URL, DEFAULT_EMPTY } from '../../defaults.js';
import { ResultsWriteError, UsageError } from '../../errors.js';
import { acquireLock, type Lock, LockedError } from '../../lock-file.js';
import { redactor } from '../../report/redact.js';
import { refuseOutputOverInput } from '../../same-file.js';
import { openRows, type RowSource } from '../input/open-rows.js';
import { planColumns } from '../payload/columns.js';
import { createRowValidator, type RowOutcome } from '../payload/to-payload.js';
import {
  checkImportPairing,
  type ImportResumePlan,
  loadImportResumePlan,
} from '../results/import-resume.js';
import { checkPairing, loadResumePlan, type ResumePlan } from '../results/resume.js';
import {
  type CompleteRunRecord,
  discardSidecar,
  findCompleteRun,
  type RunFingerprint,
} from '../results/sidecar.js';
import { describeFsError, ResultsWriter, refuseNonRegularResults } from '../results/writer.js';
import { type JobState, jobFingerprint, openState } from '../state/index.js';
import type { ImportOptions, UpdateOptions } from './types.js';

/** A run ready to read and send: close `source` and `writer` when done. */
export interface PreparedRun {
  complete?: undefined;
  /** What the input is called in messages and the summary. */
  inputName: string;
  source: RowSource;
  validate: (cells: string[]) => RowOutcome;
  /** Resume: the rows an earlier run finished. */
  resume: ResumePlan | undefined;
  /** Resume of an import: what each row's last line says (undefined for an update). */
  importResume?: ImportResumePlan | undefined;
  writer: ResultsWriter;
  /** The lock on the results file: release it when done. */
  lock: Lock;
  /** `--state`: the job state (read-only for a dry run): close it when done. */
  state: JobState | undefined;
}

/** `--resume` of a run that already finished: nothing to open, nothing to send. */
export interface CompletedRun {
  complete: CompleteRunRecord;
  inputName: string;
  /** The lock on the results file: release it when done. */
  lock: Lock;
}

/**
 * Lock the results file for this run (`<out>.lock`): two overlapping runs on one `--out`
 * (two cron lines with `--resume`) would both send the rows left to do and interleave
 * their lines. The second is refused (exit 2, naming the holder's pid); a lock left by
 * a killed run is taken over. Dry runs too: they write the results file.
 */
export function lockResults(out: string): Lock {
  try {
    return acquireLock(out, { what: `results file ${out}`, code: 'E_RESULTS_LOCKED' });
  } catch (err) {
    if (err instanceof LockedError) throw err;
    throw new ResultsWriteError(`cannot open results file ${out}: ${describeFsError(err)}`, {
      cause: err,
    });
  }
}

/**
 * Open the job state of `options.state`, checked against this job's fingerprint: locked
 * for a run, read-only (no lock, nothing written) for a dry run, so that a dry run
 * never holds up the nightly run.
 */
export function openJobState(options: UpdateOptions): JobState | undefined {
  if (options.state === undefined) return undefined;
  if (options.apiKey === undefined || options.apiKey === '') {
    // The fingerprint (base URL + key) tells whose state it is; without a key a dry run
    // could compare against another job's state.
    throw new UsageError(
      '--state needs the API key (also with --dry-run): the state is checked against it',
      'E_OPTION',
    );
  }
  const fingerprint = jobFingerprint(options.baseUrl ?? DEFAULT_BASE_URL, options.apiKey);
  return openState(options.state, { fingerprint, readOnly: options.dryRun === true });
}

/**
 * Check and open what the run needs, in the order that refuses a bad run soonest, and
 * report `start` and `total`. Returns the sidecar's record instead when a resume finds
 * the run already complete.
 */
export async function prepareRun(
  options: UpdateOptions | ImportOptions,
  fingerprint: RunFingerprint,
): Promise<PreparedRun | CompletedRun> {
  const inputName = options.inputName ?? options.input;
  // First: resume and the sidecar read the results file, and a FIFO would block there.
  refuseNonRegularResults(options.out);
  const lock = lockResults(options.out);
  let state: JobState | undefined;
  try {
    // The <out>.complete.json sidecar: resuming a finished run reads nothing (a run
    // that finished with --state has committed its state already). An import has no
    // sidecar: its resume reads the results file.
    if (options.resume === true && !('operation' in options)) {
      const complete = await findCompleteRun(options, fingerprint);
      if (complete !== undefined) return { complete, inputName, lock };
    }
    // Update's job state; an import's (`stateDir`, the key table) is run-import's.
    state = openJobState(options);
    return { ...(await openInputAndResults(options, fingerprint, inputName)), lock, state };
  } catch (err) {
    state?.close();
    lock.release();
    throw err;
  }
}

/** The checks on the input and resume, then the rows and the results writer. */
async function openInputAndResults(
  options: UpdateOptions | ImportOptions,
  fingerprint: RunFingerprint,
  inputName: string,
): Promise<Omit<PreparedRun, 'lock' | 'state'>> {
  const events = options.events ?? {};
  // An import creates contacts: its own columns check, results format and resume plan.
  const create = 'operation' in options ? options : undefined;
  // `--out` naming the input (or a link to it) would overwrite or append to the rows being read.
  refuseOutputOverInput({ path: options.out, flag: '--out' }, [
    { path: options.input, what: 'the input file' },
  ]);
  const source = await openRows(options.input, {
    delimiter: options.delimiter,
    encoding: options.encoding,
    displayName: inputName,
    hash: fingerprint.inputHash,
  });
  try {
    const plan = planColumns(source.header, {
      file: inputName,
      ...(options.mapping === undefined ? {} : { mapping: options.mapping }),
      ...(create === undefined ? {} : { operation: 'create' as const }),
      ...(create?.key === undefined ? {} : { key: create.key }),
    });
    const validate = createRowValidator(plan, {
      empty: options.empty ?? DEFAULT_EMPTY,
      ...(create?.defaultCountry === undefined ? {} : { defaultCountry: create.defaultCountry }),
    });
    let resume: ResumePlan | undefined;
    let importResume: ImportResumePlan | undefined;
    if (options.resume === true && create !== undefined) {
      importResume = await loadImportResumePlan(options.out);
      if (importResume.linesRead > 0) {
        const plan = importResume;
        await readAgain(options, source.delimiter, inputName, (rows) =>
          checkImportPairing(
            plan,
            rows,
            (row, cells) => {
              const outcome = validate(cells);
              return create.key !== undefined
                ? plan.sameKey(row, outcome.key)
                : plan.sameContent(row, outcome.sha256);
            },
            { input: inputName, results: options.out },
          ),
        );
      }
    } else if (options.resume === true) {
      resume = await loadResumePlan(options.out, { retryFailed: options.retryFailed === true });
      if (resume.linesRead > 0) {
        const pairing = resume;
        await readAgain(options, source.delimiter, inputName, (rows) =>
          checkPairing(pairing, rows, plan.idIndex, { input: inputName, results: options.out }),
        );
      }
    }
    const openMode =
      options.resume === true ? 'append' : options.force === true ? 'overwrite' : 'create';
    discardSidecar(options.out, openMode);
    const writer = ResultsWriter.open(options.out, openMode, {
      redact: redactor(options.apiKey),
      layout: create === undefined ? 'update' : 'import',
    });
    try {
      events.start?.({
        input: inputName,
        resultsPath: options.out,
        alreadyDone: resume?.doneCount ?? importResume?.createdCount ?? 0,
        dryRun: options.dryRun === true,
      });
      if (source.lineCount !== undefined) {
        const estimate = Math.max(0, source.lineCount - 1);
        events.total?.(options.limit === undefined ? estimate : Math.min(options.limit, estimate));
      }
    } catch (err) {
      writer.close();
      throw err;
    }
    return { inputName, source, validate, resume, importResume, writer };
  } catch (err) {
    source.close();
    throw err;
  }
}

/**
 * Read the input once more, for a resume's check that the results file belongs to it.
 * The first openRows already checked the whole file: no second pre-check pass.
 */
async function readAgain(
  options: UpdateOptions | ImportOptions,
  delimiter: string,
  inputName: string,
  check: (rows: RowSource['rows']) => Promise<void>,
): Promise<void> {
  const again = await openRows(options.input, {
    delimiter,
    encoding: options.encoding,
    displayName: inputName,
    precheck: false,
  });
  try {
    await check(again.rows);
  } finally {
    again.close();
  }
}
