/**
 * Everything a run does before it sends anything: the sidecar's fast path for a
 * finished run, the checks that refuse a run (the input as its own results file, a
 * header without an id, results of another input), and opening the rows and the
 * results file. Whatever fails here fails before any request went out (exit 2).
 */
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
import { ResultsWriter, refuseNonRegularResults } from '../results/writer.js';
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
}

/** `--resume` of a run that already finished: nothing to open, nothing to send. */
export interface CompletedRun {
  complete: CompleteRunRecord;
  inputName: string;
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
  // An import creates contacts: its own columns check, results format and resume plan.
  const create = 'operation' in options ? options : undefined;
  const events = options.events ?? {};
  // First: resume and the sidecar read the results file, and a FIFO would block there.
  refuseNonRegularResults(options.out);
  // The <out>.complete.json sidecar: resuming a finished run reads nothing.
  if (options.resume === true && create === undefined) {
    const complete = await findCompleteRun(options, fingerprint);
    if (complete !== undefined) return { complete, inputName };
  }
  // `--out` naming the input (or a link to it) would overwrite or append to the rows being read.
  refuseOutputOverInput({ path: options.out, flag: '--out' }, [
    { path: options.input, what: 'the input file' },
  ]);
  const source = await openRows(options.input, {
    delimiter: options.delimiter,
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
      empty: options.empty ?? 'omit',
      ...(create?.defaultCountry === undefined ? {} : { defaultCountry: create.defaultCountry }),
    });
    let resume: ResumePlan | undefined;
    let importResume: ImportResumePlan | undefined;
    if (options.resume === true && create !== undefined) {
      importResume = await loadImportResumePlan(options.out);
      if (importResume.linesRead > 0) {
        const plan = importResume;
        const again = await openRows(options.input, {
          delimiter: source.delimiter,
          displayName: inputName,
          precheck: false,
        });
        try {
          await checkImportPairing(
            plan,
            again.rows,
            (row, cells) => {
              const outcome = validate(cells);
              return create.key !== undefined
                ? plan.sameKey(row, outcome.key)
                : plan.sameContent(row, outcome.sha256);
            },
            { input: inputName, results: options.out },
          );
        } finally {
          again.close();
        }
      }
    } else if (options.resume === true) {
      resume = await loadResumePlan(options.out, { retryFailed: options.retryFailed === true });
      if (resume.linesRead > 0) {
        // The first openRows already checked the whole file: no second precheck pass.
        const again = await openRows(options.input, {
          delimiter: source.delimiter,
          displayName: inputName,
          precheck: false,
        });
        try {
          await checkPairing(resume, again.rows, plan.idIndex, {
            input: inputName,
            results: options.out,
          });
        } finally {
          again.close();
        }
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
