/**
 * The results file is the state's journal: at the end of a run (or of a `--resume`),
 * what to record is read back from it. Every results line was written after its
 * outcome was known, so a run killed at any moment has recorded in the state nothing
 * that the API did not confirm: the state is only written by a commit, and a commit
 * only folds lines.
 */
import { type FileHandle, open } from 'node:fs/promises';
import { InputFileError } from '../../errors.js';
import { notResults, parseResultsLine, RESULTS_HEADER, unescapeId } from '../results/scan.js';
import { hashId64Bytes, isSha256Hex, OutcomeLog } from './entries.js';

/** What a fold read, for the run's history and for tests. */
export interface FoldCounts {
  /** Data lines read. */
  lines: number;
  /** `updated` lines: confirmed payloads. */
  updated: number;
  /** `failed` lines: ids whose value at the API is now unknown. */
  failed: number;
}

const ERROR_CODES = {
  notResultsCode: 'E_STATE_NOT_RESULTS',
  malformedCode: 'E_STATE_RESULTS_MALFORMED',
};

/** Bytes read at a time (a line longer than this grows the buffer). */
const FOLD_CHUNK_BYTES = 256 * 1024;
const HEADER = Buffer.from(RESULTS_HEADER);
const UPDATED = Buffer.from('updated');
const FAILED = Buffer.from('failed');
const NEWLINE = 10;
const COMMA = 44;
const QUOTE = 34;
const CR = 13;
const APOSTROPHE = 39;

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
 * With `splitAfterLine`, `atSplit` is called after that physical line (header = 1):
 * lines up to it are earlier attempts of a `--resume`, the rest are this run's; the
 * commit puts the journal's forgets there, so that a journalled send outlives only the
 * earlier lines (see job-state.ts).
 *
 * Read as bytes, not text: a plain line (no quote, an ASCII id) is split on its commas
 * in the chunk and its id hashed in place (hashId64Bytes); other lines are decoded and
 * parsed one by one (parseResultsLine). The text scanner (scanResultsFile) allocated a
 * string per cell: folding 1M lines took ~1.9 s of CPU and raised RSS by ~26 MB, the
 * peak of a 1M-row run with `--state`. A torn last line (a crash mid-write) is not read.
 */
export async function foldResultsFile(
  path: string,
  log: OutcomeLog = new OutcomeLog(),
  options: { splitAfterLine?: number; atSplit?: (log: OutcomeLog) => void } = {},
): Promise<{ log: OutcomeLog; counts: FoldCounts }> {
  const counts: FoldCounts = { lines: 0, updated: 0, failed: 0 };
  const splitAfterLine = options.splitAfterLine;
  let beforeSplit = splitAfterLine !== undefined;
  const reachSplit = () => {
    if (!beforeSplit) return;
    beforeSplit = false;
    options.atSplit?.(log);
  };
  let line = 0;
  const malformed = (why: string) =>
    new InputFileError(`malformed results line: ${why}`, ERROR_CODES.malformedCode, {
      file: path,
      line,
    });
  const notResultsFile = () => notResults(path, ERROR_CODES.notResultsCode, ['update']);

  /** The outcome of one data line whose cells are known. */
  const take = (status: string, id: string, sha256: string) => {
    counts.lines++;
    if (status === 'updated') {
      // A results line without a usable hash cannot vouch for a payload: forget.
      if (isSha256Hex(sha256)) {
        log.confirm(id, sha256);
        counts.updated++;
      } else log.forget(id);
    } else if (status === 'failed') {
      log.forget(id);
      counts.failed++;
    }
  };

  /** Where the first six commas of a line are ([0]: just before the line). */
  const commas = new Int32Array(7);
  /** One physical line, bytes [start, end) of `buf` (the newline excluded). */
  const handleLine = (buf: Buffer, start: number, end: number) => {
    line++;
    const stop = end > start && buf[end - 1] === CR ? end - 1 : end;
    if (line === 1) {
      const bom = buf[start] === 0xef && buf[start + 1] === 0xbb && buf[start + 2] === 0xbf;
      const from = bom ? start + 3 : start;
      if (
        stop - from !== HEADER.length ||
        buf.compare(HEADER, 0, HEADER.length, from, stop) !== 0
      ) {
        throw notResultsFile();
      }
      return;
    }
    if (beforeSplit && line > (splitAfterLine as number)) reachSplit();
    // The plain line: row,id,status,http_status,attempts,error,payload_sha256,finished_at
    commas[0] = start - 1;
    let found = 1;
    let plain = true;
    for (let i = start; i < stop && found < 7; i++) {
      const c = buf[i] as number;
      if (c === COMMA) commas[found++] = i;
      else if (c === QUOTE || c >= 0x80) {
        plain = false;
        break;
      }
    }
    if (!plain || found < 7 || buf[(commas[1] as number) + 1] === APOSTROPHE) {
      // Quoted cells, a non-ASCII or formula-escaped id, or too few cells: as text.
      const record = parseResultsLine(buf.toString('utf8', start, stop), line);
      if (record === undefined) throw malformed('expected a row number and 8 cells');
      take(record.status, unescapeId(record.id), record.sha256);
      return;
    }
    const rowEnd = commas[1] as number;
    if (rowEnd === start || rowEnd - start > 15)
      throw malformed('expected a row number and 8 cells');
    for (let i = start; i < rowEnd; i++) {
      const c = buf[i] as number;
      if (c < 48 || c > 57) throw malformed('expected a row number and 8 cells');
    }
    const statusStart = (commas[2] as number) + 1;
    const statusEnd = commas[3] as number;
    const isUpdated =
      statusEnd - statusStart === UPDATED.length &&
      buf.compare(UPDATED, 0, UPDATED.length, statusStart, statusEnd) === 0;
    const isFailed =
      !isUpdated &&
      statusEnd - statusStart === FAILED.length &&
      buf.compare(FAILED, 0, FAILED.length, statusStart, statusEnd) === 0;
    counts.lines++;
    if (!isUpdated && !isFailed) return;
    const h = hashId64Bytes(buf, rowEnd + 1, commas[2] as number);
    const shaStart = (commas[6] as number) + 1;
    let shaEnd = stop;
    for (let i = shaStart; i < stop; i++) {
      if (buf[i] === COMMA) {
        shaEnd = i;
        break;
      }
    }
    if (isUpdated && shaEnd - shaStart === 64 && isHexBytes(buf, shaStart, shaEnd)) {
      log.confirmHex(h.hi, h.lo, buf, shaStart);
      counts.updated++;
    } else {
      log.forgetHash(h.hi, h.lo);
      if (isFailed) counts.failed++;
    }
  };

  const handle = await open(path, 'r');
  try {
    const size = (await handle.stat()).size;
    let buf = Buffer.allocUnsafe(FOLD_CHUNK_BYTES);
    /** Bytes at the start of `buf` carried over from the last read (a partial line). */
    let carried = 0;
    let position = 0;
    while (position < size) {
      if (carried === buf.length) {
        // A line longer than the buffer: grow it.
        const bigger = Buffer.allocUnsafe(buf.length * 2);
        buf.copy(bigger, 0, 0, carried);
        buf = bigger;
      }
      const { bytesRead } = await handle.read(buf, carried, buf.length - carried, position);
      if (bytesRead === 0) break;
      position += bytesRead;
      const filled = carried + bytesRead;
      let start = 0;
      for (
        let nl = buf.indexOf(NEWLINE, 0);
        nl !== -1 && nl < filled;
        nl = buf.indexOf(NEWLINE, start)
      ) {
        handleLine(buf, start, nl);
        start = nl + 1;
      }
      carried = filled - start;
      buf.copy(buf, 0, start, filled);
      // A first line longer than any header: not a results file.
      if (line === 0 && carried > HEADER.length + 5) throw notResultsFile();
    }
    if (line === 0 && carried > 0) {
      // No complete line: a header torn by a crash is a results file with nothing in it
      // yet; anything else is not a results file.
      const bom = buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf ? 3 : 0;
      const head = buf.subarray(bom, carried);
      if (head.length > HEADER.length || !HEADER.subarray(0, head.length).equals(head)) {
        throw notResultsFile();
      }
    }
  } finally {
    await handle.close();
  }
  reachSplit();
  return { log, counts };
}

/** Whether bytes [start, end) are all hex digits (either case). */
function isHexBytes(buf: Buffer, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    const c = buf[i] as number;
    if (!((c >= 48 && c <= 57) || ((c | 32) >= 97 && (c | 32) <= 102))) return false;
  }
  return true;
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
