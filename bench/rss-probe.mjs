/**
 * Preloaded into the CLI by the benchmark (`node --import bench/rss-probe.mjs ...`) to
 * learn the child's peak memory from the inside: the kernel's peak RSS and the largest
 * V8 heap seen. Writes one JSON object to the file named by BENCH_MEMORY_OUT when the
 * process exits; does nothing without that variable.
 */
import { writeFileSync } from 'node:fs';
import { getHeapStatistics } from 'node:v8';

/** How often the heap is sampled; the peak between samples can be missed, not invented. */
const SAMPLE_INTERVAL_MS = 100;
/** One point of the series kept per this many ms, at most SERIES_MAX_POINTS of them. */
const SERIES_STEP_MS = 1_000;
const SERIES_MAX_POINTS = 3_600;
const MB = 1024 * 1024;

const out = process.env.BENCH_MEMORY_OUT;
if (out !== undefined && out !== '') {
  const startedAtMs = Date.now();
  let maxHeapUsed = 0;
  let maxHeapTotal = 0;
  let maxRss = 0;
  let maxExternal = 0;
  let maxArrayBuffers = 0;
  let nextSeriesAtMs = 0;
  /** [seconds since start, rss MB, heapUsed MB], to show whether memory stays flat. */
  const series = [];

  const sample = () => {
    const m = process.memoryUsage();
    if (m.heapUsed > maxHeapUsed) maxHeapUsed = m.heapUsed;
    if (m.heapTotal > maxHeapTotal) maxHeapTotal = m.heapTotal;
    if (m.rss > maxRss) maxRss = m.rss;
    if (m.external > maxExternal) maxExternal = m.external;
    if (m.arrayBuffers > maxArrayBuffers) maxArrayBuffers = m.arrayBuffers;
    const now = Date.now();
    if (now >= nextSeriesAtMs && series.length < SERIES_MAX_POINTS) {
      nextSeriesAtMs = now + SERIES_STEP_MS;
      series.push([
        Math.round((now - startedAtMs) / 100) / 10,
        Math.round(m.rss / MB),
        Math.round(m.heapUsed / MB),
      ]);
    }
  };
  sample();
  // unref: the probe must never keep the CLI alive.
  setInterval(sample, SAMPLE_INTERVAL_MS).unref();

  process.on('exit', (code) => {
    sample();
    const heap = getHeapStatistics();
    const usage = process.resourceUsage();
    const report = {
      exitCode: code,
      // resourceUsage().maxRSS is in KB (getrusage ru_maxrss on Linux).
      maxRssKb: usage.maxRSS,
      // CPU of the whole process (µs): steadier than rows/s on a shared machine.
      userCpuUs: usage.userCPUTime,
      systemCpuUs: usage.systemCPUTime,
      sampledMaxRssBytes: maxRss,
      maxHeapUsedBytes: maxHeapUsed,
      maxHeapTotalBytes: maxHeapTotal,
      maxExternalBytes: maxExternal,
      maxArrayBuffersBytes: maxArrayBuffers,
      heapAtExit: {
        usedBytes: heap.used_heap_size,
        totalBytes: heap.total_heap_size,
        mallocedBytes: heap.malloced_memory,
        peakMallocedBytes: heap.peak_malloced_memory,
      },
      series,
    };
    try {
      writeFileSync(out, JSON.stringify(report));
    } catch {
      // The benchmark reports a missing file; the CLI's own exit must not change.
    }
  });
}
