/**
 * report/: everything printed for a person or a log collector: progress.ts (bar, cron
 * lines, JSON lines), summary.ts and rate-text.ts (the end-of-run summary),
 * json-output.ts (the versioned --json shapes), results-summary.ts, failed-out.ts and
 * created-out.ts (the report command's readers and writers), redact.ts and
 * safe-text.ts (no key, no terminal escapes in anything printed).
 */
import { type StatusCounts, zeroCounts } from '../pipeline/results/tally.js';
import type { RunEvents, RunRate } from '../pipeline/run/run-update.js';
import { rateText, shortRateText } from './rate-text.js';
import { safeText } from './safe-text.js';

export interface ProgressOptions {
  stream: NodeJS.WriteStream;
  /** Seconds between plain progress lines when not on a terminal. @default 10 */
  intervalSeconds: number;
  quiet: boolean;
  /** Progress lines and warnings as text or as JSON lines (never a bar). @default 'text' */
  log?: 'text' | 'json';
  /** Force a mode; by default a bar on a TTY, plain lines otherwise. */
  mode?: 'bar' | 'lines';
  /** An import or sync: the counts start with `created` and show `uncertain`. @default false */
  importing?: boolean;
}

export interface Progress extends RunEvents {
  /** Stop the bar / timers; call before printing the summary. */
  stop(): void;
}

interface State {
  done: number;
  total: number | undefined;
  counts: StatusCounts;
  skipped: number;
  retrying: number;
  rate: number | undefined;
  /** The rate in use and the limit found, from the run's `rateView` events. */
  rateView?: RunRate;
  startedAtMs: number;
  /** An import or sync (see {@link ProgressOptions.importing}). @default false */
  importing?: boolean;
}

/**
 * The run's live display: a cli-progress bar on a terminal; in cron or a pipe a plain
 * line every `intervalSeconds` (no escape codes). Warnings go above the bar.
 * cli-progress is loaded only when a bar is drawn: `--quiet`, `--log json` and cron
 * runs never need it, and its modules stay in memory for the whole run (~5 MB RSS).
 */
export async function createProgress(options: ProgressOptions): Promise<Progress> {
  const state: State = {
    done: 0,
    total: undefined,
    counts: zeroCounts(),
    skipped: 0,
    retrying: 0,
    rate: undefined,
    startedAtMs: Date.now(),
    importing: options.importing === true,
  };
  const json = options.log === 'json';
  const write = (line: string) => options.stream.write(`${line}\n`);
  const warn = (message: string) =>
    write(
      json
        ? JSON.stringify({ event: 'warning', time: new Date().toISOString(), message })
        : `warning: ${safeText(message)}`,
    );
  const useBar =
    !json &&
    (options.mode === 'bar' || (options.mode === undefined && options.stream.isTTY === true));

  if (options.quiet) {
    return { warn, stop() {} };
  }

  if (useBar) {
    const cliProgress = await import('cli-progress');
    const multibar = new cliProgress.MultiBar(
      {
        stream: options.stream,
        // Short enough for an 80-column terminal; the bar takes what is left.
        format:
          '{bar} {percentage}% {value}/{totalText} rows {speed}/s ETA {eta_formatted} | {countsText} failed {failed} invalid {invalid} retries {retrying}{rateText}',
        // The text around the bar takes about 90 columns, the rate up to 28 more.
        barsize: Math.max(10, Math.min(40, (options.stream.columns ?? 80) - 118)),
        barCompleteChar: '\u2588',
        barIncompleteChar: '\u2591',
        hideCursor: true,
        clearOnComplete: false,
        stopOnComplete: false,
        etaBuffer: 200,
        fps: 5,
        noTTYOutput: options.mode === 'bar',
        forceRedraw: options.mode === 'bar',
      },
      cliProgress.Presets.shades_classic,
    );
    const bar = multibar.create(1, 0, payload(state));
    const update = () => {
      if (state.total !== undefined && state.done > state.total) state.total = state.done;
      bar.setTotal(state.total ?? Math.max(1, state.done));
      bar.update(state.done, payload(state));
    };
    return {
      total(n) {
        state.total = n;
        update();
      },
      start(info) {
        state.skipped = info.alreadyDone;
      },
      row(_line, counts) {
        state.done++;
        state.counts = counts;
        update();
      },
      skipped() {
        state.done++;
        state.skipped++;
        update();
      },
      retry() {
        state.retrying++;
        update();
      },
      rate(r, reason) {
        state.rate = r;
        if (reason === 'throttled') {
          multibar.log(`warning: the API is throttling; rate lowered to ${formatRate(r)}/s\n`);
        }
      },
      rateView(view) {
        state.rateView = view;
      },
      warn(message) {
        multibar.log(`warning: ${safeText(message)}\n`);
      },
      stop() {
        update();
        multibar.stop();
      },
    };
  }

  const line = () => write(json ? JSON.stringify(jsonLine(state)) : plainLine(state));
  const timer = setInterval(line, options.intervalSeconds * 1000);
  timer.unref();
  return {
    total(n) {
      state.total = n;
    },
    row(_line, counts) {
      state.done++;
      state.counts = counts;
    },
    skipped() {
      state.done++;
      state.skipped++;
    },
    retry() {
      state.retrying++;
    },
    rate(r, reason) {
      state.rate = r;
      if (reason === 'throttled') warn(`the API is throttling; rate lowered to ${formatRate(r)}/s`);
    },
    rateView(view) {
      state.rateView = view;
    },
    warn,
    stop() {
      clearInterval(timer);
      // A last line, so a log always ends with the final count.
      if (state.done > 0) line();
    },
  };
}

function payload(state: State): Record<string, string | number> {
  const elapsed = (Date.now() - state.startedAtMs) / 1000;
  return {
    totalText: state.total === undefined ? '?' : String(state.total),
    speed: elapsed > 0 ? Math.round((state.done - state.skipped) / elapsed) : 0,
    countsText: goodCounts(state).join(' '),
    failed: state.counts.failed,
    invalid: state.counts.invalid,
    retrying: state.retrying,
    rateText: state.rateView === undefined ? '' : ` | ${shortRateText(state.rateView)}`,
  };
}

function formatRate(rate: number): string {
  return rate >= 10 ? String(Math.round(rate)) : rate.toFixed(1);
}

/** The progress line as one JSON object (`--log json`). */
export function jsonLine(state: State): Record<string, unknown> {
  const elapsedMs = Date.now() - state.startedAtMs;
  return {
    event: 'progress',
    time: new Date().toISOString(),
    done: state.done,
    total: state.total ?? null,
    rowsPerSecond:
      elapsedMs > 0 ? Math.round(((state.done - state.skipped) / elapsedMs) * 1000) : 0,
    updated: state.counts.updated,
    unchanged: state.counts.unchanged,
    created: state.counts.created,
    uncertain: state.counts.uncertain,
    failed: state.counts.failed,
    invalid: state.counts.invalid,
    alreadyDone: state.skipped,
    rateLimit:
      state.rate === undefined || !Number.isFinite(state.rate) ? null : Math.round(state.rate),
    // As the summary's `rate`: the mode, the rate in use and the limit found so far.
    rate: state.rateView ?? null,
  };
}

/**
 * `progress: 1200/5000 rows (24%), 38 rows/s, ETA 1m40s; updated 1100, failed 3, invalid 97; rate 40/s`
 * (with `--rate auto`: `rate 142/s (auto; limit found: about 148/s)`)
 */
export function plainLine(state: State): string {
  const elapsed = (Date.now() - state.startedAtMs) / 1000;
  const speed = elapsed > 0 ? (state.done - state.skipped) / elapsed : 0;
  const total = state.total;
  const pct =
    total !== undefined && total > 0 ? ` (${Math.floor((state.done / total) * 100)}%)` : '';
  const eta =
    total !== undefined && speed > 0 && total > state.done
      ? `, ETA ${formatDuration(((total - state.done) / speed) * 1000)}`
      : '';
  const rate = state.rateView === undefined ? '' : `; ${rateText(state.rateView, 'running')}`;
  return `progress: ${state.done}/${total ?? '?'} rows${pct}, ${Math.round(speed)} rows/s${eta}; ${goodCounts(state).join(', ')}, failed ${state.counts.failed}, invalid ${state.counts.invalid}${rate}`;
}

/**
 * The counts before `failed`: `updated N` (with `unchanged N` once a run with --state
 * skipped rows); an import's `created N` (with `updated` and `unchanged` when a sync
 * has them), then `uncertain N`.
 */
function goodCounts(state: State): string[] {
  const c = state.counts;
  if (state.importing) {
    return [
      `created ${c.created}`,
      ...(c.updated > 0 ? [`updated ${c.updated}`] : []),
      ...(c.unchanged > 0 ? [`unchanged ${c.unchanged}`] : []),
      `uncertain ${c.uncertain}`,
    ];
  }
  return [`updated ${c.updated}`, ...(c.unchanged > 0 ? [`unchanged ${c.unchanged}`] : [])];
}

export function formatDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}
