/**
 * The results file is the state's journal: at the end of a run (or of a `--resume`),
 * what to record is read back from it. Every results line was written after its
 * outcome was known, so a run killed at any moment has recorded in the state nothing
 * that the API did not confirm: the state is only written by a commit, and a commit
 * only folds lines.
 */
import { type FileHandle, open } from 'node:fs/promises';
import { scanResultsFile, unescapeId } from '../results/scan.js';
import { isSha256Hex, OutcomeLog } from './entries.js';

/** What a fold read, for the run's history and for tests. */
export interface FoldCounts {
  /** Data lines read. */
  lines: number;
  /** `updated` lines: confirmed payloads. */
  updated: number;
  /** `failed` lines: ids whose value at the API is now unknown. */
  failed: number;
}

/**
 * Read a results file's outcomes into `log` (a new one by default), in file order:
 *
 * - `updated` → confirm (id, payload_sha256): the API accepted that exact body;
 * - `failed` → forget the id: a timeout or a 5xx after the retries may still have
 *   landed, so whatever the state knew about that id may no longer be what the API
 *   holds. Forgetting only ever makes the next run send more;
 * - `invalid`, `dry-run`, `unchanged` → nothing: nothing was sent.
 *
 * Per id the last line wins. Rows with the same id are sent in file order, one at a
 * time, and a resume appends, so the file order of one id's lines is the order their
 * requests completed at the API.
 *
 * With `splitAfterLine`, the log is marked (`markSplit`) after that physical line
 * (header = 1): lines up to it are earlier attempts of a `--resume`, the rest are this
 * run's. A journalled send outlives only the earlier ones (see job-state.ts).
 *
 * Streaming: ~29 bytes per `updated`/`failed` line in the log, nothing per other line.
 * A torn last line (a crash mid-write) is not read.
 */
export async function foldResultsFile(
  path: string,
  log: OutcomeLog = new OutcomeLog(),
  options: { splitAfterLine?: number } = {},
): Promise<{ log: OutcomeLog; counts: FoldCounts }> {
  const counts: FoldCounts = { lines: 0, updated: 0, failed: 0 };
  const splitAfterLine = options.splitAfterLine;
  let beforeSplit = splitAfterLine !== undefined;
  const reachSplit = () => {
    if (!beforeSplit) return;
    beforeSplit = false;
    log.markSplit();
  };
  await scanResultsFile(
    path,
    { notResultsCode: 'E_STATE_NOT_RESULTS', malformedCode: 'E_STATE_RESULTS_MALFORMED' },
    (record) => {
      if (beforeSplit && record.line > (splitAfterLine as number)) reachSplit();
      counts.lines++;
      if (record.status === 'updated') {
        // A results line without a usable hash cannot vouch for a payload: forget.
        if (isSha256Hex(record.sha256)) {
          log.confirm(unescapeId(record.id), record.sha256);
          counts.updated++;
        } else {
          log.forget(unescapeId(record.id));
        }
      } else if (record.status === 'failed') {
        log.forget(unescapeId(record.id));
        counts.failed++;
      }
    },
  );
  reachSplit();
  return { log, counts };
}

/** Bytes read per chunk when counting lines. */
const COUNT_CHUNK_BYTES = 1024 * 1024;

/**
 * Physical lines that end within the first `offset` bytes of `path` (the header
 * included): the lines written before a run started. 0 for a missing file.
 */
export async function countLinesBefore(path: string, offset: number): Promise<number> {
  let handle: FileHandle;
  try {
    handle = await open(path, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw err;
  }
  try {
    const buffer = Buffer.allocUnsafe(COUNT_CHUNK_BYTES);
    let lines = 0;
    let position = 0;
    while (position < offset) {
      const want = Math.min(COUNT_CHUNK_BYTES, offset - position);
      const { bytesRead } = await handle.read(buffer, 0, want, position);
      if (bytesRead === 0) break;
      for (
        let at = buffer.indexOf(10, 0);
        at !== -1 && at < bytesRead;
        at = buffer.indexOf(10, at + 1)
      ) {
        lines++;
      }
      position += bytesRead;
    }
    return lines;
  } finally {
    await handle.close();
  }
}
