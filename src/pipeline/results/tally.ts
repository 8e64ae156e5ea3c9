import type { ResultLine, RowStatus } from './writer.js';

/** Distinct error messages remembered for "top errors"; more are counted as "other". */
const MAX_DISTINCT_ERRORS = 1_000;

export interface StatusCounts {
  updated: number;
  failed: number;
  invalid: number;
  'dry-run': number;
  /**
   * `--state`: rows not sent because the API already holds their payload (update: the
   * id's last confirmed payload; import and sync: the key's contact).
   */
  unchanged: number;
  /** Import: contacts created. */
  created: number;
  /** Import: sent, outcome unknown (never re-sent on their own). */
  uncertain: number;
}

/** Every count at zero. */
export function zeroCounts(): StatusCounts {
  return {
    updated: 0,
    failed: 0,
    invalid: 0,
    'dry-run': 0,
    unchanged: 0,
    created: 0,
    uncertain: 0,
  };
}

/** Counts per status and the most common errors, built as lines are recorded. */
export class Tally {
  readonly counts: StatusCounts = zeroCounts();
  private readonly errors = new Map<string, number>();
  private otherErrors = 0;

  add(status: RowStatus, error?: string): void {
    // An intent line is not an outcome: the row's next line is.
    if (status === 'sending') return;
    this.counts[status]++;
    if (error === undefined || error === '') return;
    const key = errorKind(error);
    const seen = this.errors.get(key);
    if (seen !== undefined) this.errors.set(key, seen + 1);
    else if (this.errors.size < MAX_DISTINCT_ERRORS) this.errors.set(key, 1);
    else this.otherErrors++;
  }

  addLine(line: ResultLine): void {
    this.add(line.status, line.error);
  }

  /** The `n` most frequent error kinds, most frequent first. */
  topErrors(n = 5): Array<{ error: string; count: number }> {
    const top = [...this.errors.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([error, count]) => ({ error, count }));
    if (this.otherErrors > 0) top.push({ error: '(other errors)', count: this.otherErrors });
    return top;
  }
}

/**
 * Group errors that differ only in the value they quote: `not a valid email address:
 * "bob@"` and `...: "ann@"` are one kind.
 */
export function errorKind(error: string): string {
  return error.replace(/"(?:[^"\\]|\\.)*"/g, '"…"');
}
