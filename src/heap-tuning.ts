/**
 * V8 heap sizing for the CLI. Imported first by the bin entry (src/main.ts), never by
 * the library entry (src/index.ts): a library must not change its host's V8 flags.
 *
 * Why: a run's live heap is flat at ~18-20 MB whatever the input size, yet peak RSS
 * sat at 170-200 MB, because V8 (1) lets old space grow to ~4x the live set before a
 * mark-compact when the heap limit is large and GC is cheap, and (2) grows new space
 * to 2 x 16 MB semispaces. Both are V8 flags read at every GC, so they can be set at
 * run time (unlike --max-old-space-size or --max-semi-space-size, fixed at start-up):
 * - `--heap-growing-percent=30`: old space grows to ~1.3x the live set.
 * - new space is allowed to double until it is NEW_SPACE_CAP_BYTES, then frozen by
 *   setting `--semi-space-growth-factor=1` (one unref'd check every 50 ms until then).
 *
 * Measured, 100k rows, --rate 0 --concurrency 32, /usr/bin/time (busy 2-core machine,
 * .notes/perf.md): peak RSS 170-171 MB without either; 123 MB with percent 30 alone;
 * 117.4-117.7 MB with percent 30 + new space capped at 8 MB; 118.8 MB with percent 50 +
 * the cap (50 was no cheaper in CPU: 141 vs 135-137 µs/row). The price: +15-20 % CPU
 * per row (113-118 -> 135-141 µs/row), mostly more frequent mark-compacts.
 *
 * New space is capped at 16 MB, not 8 (which saved 6-9 MB): young-generation GCs were
 * the largest single cost of a `--state` night whose rows are nearly all unchanged
 * (2.2 of 10.3 s CPU per 1M rows). With 16 MB, `node bench/run.mjs --only state` went
 * from 0.113 to 0.102 (night 2 ÷ night 1, wall) at 114 MB peak RSS instead of 104;
 * every RSS target (<= 120 MB at 1M rows) still holds.
 *
 * Node documents run-time V8 flags as "may do nothing or misbehave": the benchmark's
 * peak-RSS figure (bench/run.mjs) shows if a Node upgrade changes that.
 * `NODE_OPTIONS=--max-old-space-size=256` is the command-line alternative for old space.
 */
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';

const HEAP_GROWING_PERCENT = 30;
/** Both semispaces together: 2 x 8 MB. */
const NEW_SPACE_CAP_BYTES = 16 * 1024 * 1024;

setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
// undici parses HTTP with llhttp compiled to WebAssembly. Optimising that module with
// TurboFan took ~35 MB of transient compiler memory in the first second of every run:
// the whole peak RSS above the ~99 MB steady state (measured with a 5 ms RSS sampler:
// 118 MB at 0.7 s, then 88). The baseline compiler (Liftoff) alone: peak 95 MB at 100k
// rows instead of 121, CPU +3 % (/usr/bin/time, same server, back to back). It only
// changes how the parser's WebAssembly is compiled, never what it does.
setFlagsFromString('--liftoff-only');

const capNewSpace = setInterval(() => {
  const newSpace = getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
  if (newSpace === undefined || newSpace.space_size >= NEW_SPACE_CAP_BYTES) {
    setFlagsFromString('--semi-space-growth-factor=1');
    clearInterval(capNewSpace);
  }
}, 50);
// Never what keeps the process alive.
capNewSpace.unref();
