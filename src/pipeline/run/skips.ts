/**
 * Resume: which rows to skip because an earlier run finished them, and how many were
 * skipped, by the status they ended with (the summary and the sidecar need them).
 */
import type { ResumePlan } from '../results/resume.js';
import type { SkippedCounts } from '../results/sidecar.js';

export class ResumeSkips {
  readonly #plan: ResumePlan;
  readonly #counts: SkippedCounts = { updated: 0, failed: 0, invalid: 0 };
  /**
   * Ids of the rows sent again in this run. A later row with one of these ids is sent
   * again too, even if an earlier run finished it, so that rows with the same id still
   * land in file order and the last row in the file wins.
   */
  readonly #resentIds = new Set<string>();

  constructor(plan: ResumePlan) {
    this.#plan = plan;
  }

  /** Whether this row is done already and so to be skipped. No side effect. */
  isDone(row: number, id: string, sha256: string): boolean {
    return !this.#resentIds.has(id) && this.#plan.isDone(row, id, sha256);
  }

  /** Count a row skipped (one that {@link isDone} said was done). */
  skip(row: number): void {
    const status = this.#plan.doneStatus(row);
    if (status !== undefined) this.#counts[status]++;
  }

  /** A row with this id is sent in this run: later rows with it are sent too. */
  resend(id: string): void {
    this.#resentIds.add(id);
  }

  /** Rows skipped so far, by the status their last line has. */
  get counts(): Readonly<SkippedCounts> {
    return this.#counts;
  }
}
