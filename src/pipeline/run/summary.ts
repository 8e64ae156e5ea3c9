/**
 * The run's summary, built in one place: for a run that read its rows and for the
 * resume of a finished run that read none (the sidecar's fast path), so that both say
 * the same thing about the same results file.
 */
import { DEFAULT_MAX_RATE_PER_SECOND, DEFAULT_RATE_PER_SECOND } from '../../defaults.js';
import type { RateView } from '../limit/limiter.js';
import type { SkippedCounts } from '../results/sidecar.js';
import { type StatusCounts, zeroCounts } from '../results/tally.js';
import type { RequestCounts, RunRate, RunSummary, StopReason, UpdateOptions } from './types.js';

export interface SummaryFacts {
  input: string;
  resultsPath: string;
  dryRun: boolean;
  /** Data rows read (after `limit`). */
  rowsRead: number;
  /** Rows finished in this run, by status. */
  counts: Readonly<StatusCounts>;
  /** Rows an earlier run finished and this one skipped, by the status they ended with. */
  skipped: Readonly<SkippedCounts>;
  requests: RequestCounts;
  elapsedMs: number;
  stopped: StopReason | undefined;
  /** The reader got to the end of the file (or of `limit`) without being stopped. */
  readAll: boolean;
  topErrors: Array<{ error: string; count: number }>;
  rate: RunRate;
}

/** No rows: what a run that sent nothing starts from. */
export const NO_ROWS: Readonly<StatusCounts> = zeroCounts();
export const NO_SKIPS: Readonly<SkippedCounts> = { updated: 0, failed: 0, invalid: 0 };
export const NO_REQUESTS: Readonly<RequestCounts> = { sent: 0, throttled: 0, retried: 0 };

/** The summary of a run from what it counted. Pure. */
export function buildSummary(facts: SummaryFacts): RunSummary {
  const c = facts.counts;
  const finished =
    c.updated + c.failed + c.invalid + c['dry-run'] + c.created + c.uncertain + c.unchanged;
  // Skipped `uncertain` rows count as not updated: they keep the exit code at 1.
  const notUpdated = facts.skipped.failed + facts.skipped.invalid + (facts.skipped.uncertain ?? 0);
  const alreadyDone = facts.skipped.updated + (facts.skipped.created ?? 0) + notUpdated;
  // A signal that came after the last row was read and every row finished anyway
  // interrupted nothing.
  const interruptedNothing =
    facts.stopped === 'interrupted' && facts.readAll && facts.rowsRead === finished + alreadyDone;
  const { elapsedMs } = facts;
  return {
    input: facts.input,
    resultsPath: facts.resultsPath,
    dryRun: facts.dryRun,
    rowsRead: facts.rowsRead,
    counts: {
      ...c,
      alreadyDone,
      alreadyDoneNotUpdated: notUpdated,
      ...(facts.skipped.uncertain === undefined
        ? {}
        : { alreadyUncertain: facts.skipped.uncertain }),
    },
    requests: facts.requests,
    elapsedMs,
    rowsPerSecond: elapsedMs > 0 ? (finished / elapsedMs) * 1000 : 0,
    stopped: interruptedNothing ? undefined : facts.stopped,
    unfinished: Math.max(0, facts.rowsRead - finished - alreadyDone),
    topErrors: facts.topErrors,
    rate: facts.rate,
  };
}

/** Requests per second for display and JSON: 0.1 steps; null for none or unlimited. */
function perSecond(value: number | undefined): number | null {
  return value === undefined || !Number.isFinite(value) ? null : Math.round(value * 10) / 10;
}

/** The limiter's rate view as the run reports it (progress, `--log json`, summary). */
export function runRate(view: Readonly<RateView>): RunRate {
  return {
    mode: view.mode,
    currentPerSecond: perSecond(view.currentRatePerSecond),
    limitFoundPerSecond: perSecond(view.limitFoundPerSecond),
    maxPerSecond: perSecond(view.maxRatePerSecond),
  };
}

/** The rate a run would have used, for a run that sent nothing (nothing left to do). */
export function plannedRate(
  options: Pick<UpdateOptions, 'ratePerSecond' | 'maxRatePerSecond' | 'knownLimitPerSecond'>,
): RunRate {
  const rate = options.ratePerSecond ?? DEFAULT_RATE_PER_SECOND;
  if (rate === 'auto') {
    return {
      mode: 'auto',
      currentPerSecond: null,
      limitFoundPerSecond: perSecond(options.knownLimitPerSecond),
      maxPerSecond: perSecond(options.maxRatePerSecond ?? DEFAULT_MAX_RATE_PER_SECOND),
    };
  }
  const fixed = rate > 0 ? rate : undefined;
  return {
    mode: 'fixed',
    currentPerSecond: perSecond(fixed),
    limitFoundPerSecond: null,
    maxPerSecond: perSecond(fixed),
  };
}
