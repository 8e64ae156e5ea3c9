/**
 * The confirmed-hash entries, pure: encoding, lookup, the run's confirmed set and the
 * sorted merge. No I/O here (store.ts reads and writes the bytes).
 *
 * One entry, 28 bytes, big-endian, entries sorted by id hash (hi, then lo):
 *
 * | offset | bytes | field                                                  |
 * | ------ | ----- | ------------------------------------------------------ |
 * | 0      | 8     | idHash: 64-bit hash of the contact id ({@link hashId64}) |
 * | 8      | 16    | payloadHash: first 16 bytes of the payload's sha256     |
 * | 24     | 4     | confirmedAt: unix seconds (u32: good until 2106)        |
 *
 * 1M ids = 28 MB, kept in the entries file during a run: a lookup reads one bucket of
 * it ({@link PagedEntries}), a save streams it ({@link OutcomeLog.mergeInto}).
 *
 * Why a 64-bit id hash and not the id: fixed width (no string per entry: a Map of 1M
 * strings costs ~100 MB), and what a collision can do is bounded. Two ids X ≠ Y share
 * an entry only if their 64-bit hashes collide; over n ids that has probability about
 * n² / 2^65: 2.7e-8 at 1M ids, 2.7e-6 at 10M. Even then a row of X is wrongly skipped
 * only if its payload hash also equals the one confirmed for Y (e.g. both set
 * `{"public":true}`); the payload hashes are 128-bit, so no other mix-up is possible.
 * `--full` (send everything and rebuild) is the way out of any doubt.
 *
 * Why not sha256 of the id: measured 1.6 µs per id (1.6 s per 1M-line fold) against
 * ~0.05 µs for the two-lane multiply-xorshift below. Contact ids are issued by Clerk
 * Chat, not chosen by whoever writes the CSV, so a non-cryptographic hash is enough.
 */

/** Bytes per entry. */
export const ENTRY_BYTES = 28;
/** Bytes of the payload sha256 kept (the first half: 128 bits). */
export const PAYLOAD_HASH_BYTES = 16;

const PAYLOAD_OFFSET = 8;
const TIME_OFFSET = 24;

/** A 64-bit id hash as two unsigned 32-bit halves (hi sorts first). */
export interface IdHash {
  hi: number;
  lo: number;
}

/** What the state knows about one id. */
export interface ConfirmedEntry {
  /** Hex of the first 16 bytes of the payload sha256 the API last confirmed (32 chars). */
  payloadHash: string;
  /** When it was recorded, unix seconds. */
  confirmedAtS: number;
}

const scratch: IdHash = { hi: 0, lo: 0 };

/**
 * 64-bit hash of an id over its UTF-16 code units: two 32-bit lanes with different
 * seeds and multipliers, each finished with a murmur3-style avalanche (the scheme of
 * cyrb53, keeping all 64 bits). Writes into and returns `out` (a shared scratch object
 * by default: copy what you keep).
 */
export function hashId64(id: string, out: IdHash = scratch): IdHash {
  let h1 = 0xdeadbeef ^ id.length;
  let h2 = 0x41c6ce57 ^ id.length;
  for (let i = 0; i < id.length; i++) {
    const c = id.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507);
  h1 ^= Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507);
  h2 ^= Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  out.hi = h2 >>> 0;
  out.lo = h1 >>> 0;
  return out;
}

/** Whether `text` is a 64-character hex sha256 (either case). */
export function isSha256Hex(text: string): boolean {
  return text.length === 64 && /^[0-9a-fA-F]{64}$/.test(text);
}

/** Buckets of the lookup directory: the top 16 bits of an id hash. */
const DIRECTORY_BITS = 16;

/**
 * Sorted entries ready for lookups: the entries Buffer, a DataView on it and a
 * directory of where each of the 65,536 top-16-bit buckets starts (256 KB).
 *
 * Why the directory: a plain binary search over 1M entries takes 20 steps, most of
 * them cache misses in a 28 MB buffer; the hashes are uniform, so the directory
 * narrows a lookup to a bucket of ~15 entries (4 steps). Measured on 1M ids in user
 * CPU time (a busy 2-core machine, load 16; /tmp A/B in one process, 3 rounds): hash
 * alone 0.04–0.10 µs, hash + plain binary search 0.75–0.82 µs, hash + directory
 * 0.48–0.50 µs per lookup. (A DataView instead of Buffer#readUInt32BE: 2.6 s against
 * 4.0 s wall per 1M lookups, same process.)
 */
export class SortedEntries {
  readonly entries: Buffer;
  readonly count: number;
  readonly #view: DataView;
  readonly #directory: Uint32Array;

  constructor(entries: Buffer, count: number) {
    this.entries = entries;
    this.count = count;
    this.#view = new DataView(entries.buffer, entries.byteOffset, entries.byteLength);
    const directory = new Uint32Array((1 << DIRECTORY_BITS) + 1);
    let bucket = 0;
    for (let i = 0; i < count; i++) {
      const top = this.#view.getUint32(i * ENTRY_BYTES) >>> (32 - DIRECTORY_BITS);
      while (bucket <= top) directory[bucket++] = i;
    }
    while (bucket < directory.length) directory[bucket++] = count;
    this.#directory = directory;
  }

  /** Index of the entry with this id hash, or -1. */
  find(hi: number, lo: number): number {
    const view = this.#view;
    const top = hi >>> (32 - DIRECTORY_BITS);
    let low = this.#directory[top] as number;
    let high = (this.#directory[top + 1] as number) - 1;
    while (low <= high) {
      const mid = (low + high) >>> 1;
      const at = mid * ENTRY_BYTES;
      const h = view.getUint32(at);
      if (h < hi) low = mid + 1;
      else if (h > hi) high = mid - 1;
      else {
        const l = view.getUint32(at + 4);
        if (l < lo) low = mid + 1;
        else if (l > lo) high = mid - 1;
        else return mid;
      }
    }
    return -1;
  }
}

/**
 * Builds the bucket directory of {@link PagedEntries} from entries seen in order, chunk
 * by chunk, and checks on the way that they are strictly sorted.
 */
export class DirectoryBuilder {
  readonly directory = new Uint32Array((1 << DIRECTORY_BITS) + 1);
  #bucket = 0;
  #count = 0;
  #hi = -1;
  #lo = -1;
  /** False once an entry was out of order (or repeated). */
  sorted = true;

  /** Add the entries of `chunk` (a whole number of entries), which follow the ones added before. */
  add(chunk: Buffer): void {
    const view = new DataView(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const n = Math.floor(chunk.length / ENTRY_BYTES);
    const directory = this.directory;
    for (let k = 0; k < n; k++) {
      const h = view.getUint32(k * ENTRY_BYTES);
      const l = view.getUint32(k * ENTRY_BYTES + 4);
      if (h < this.#hi || (h === this.#hi && l <= this.#lo)) this.sorted = false;
      this.#hi = h;
      this.#lo = l;
      const top = h >>> (32 - DIRECTORY_BITS);
      while (this.#bucket <= top) directory[this.#bucket++] = this.#count;
      this.#count++;
    }
  }

  /** The directory once every entry was added. */
  finish(): Uint32Array {
    while (this.#bucket < this.directory.length) this.directory[this.#bucket++] = this.#count;
    return this.directory;
  }
}

/** Reads `bytes` bytes at `position` of the entries file into `into` (fills it). */
export type ReadAt = (into: Buffer, bytes: number, position: number) => void;

/**
 * Sorted entries looked up without holding them: the 256 KB bucket directory in memory,
 * and one read of the bucket (~15 entries, 420 bytes at 1M ids) per lookup.
 *
 * Why: the whole entries file in memory is 28 MB at 1M ids, which took a 1M-row run
 * with `--state` from ~95 MB to ~127–130 MB peak RSS, above the 120 MB target. A
 * read(2) of a bucket from the page cache measured 0.92 µs (1M random reads of 420 bytes
 * in a 28 MB file, CPU time, loaded 2-core machine) against ~0.5 µs for a lookup in
 * memory: ~0.5 s more per 1M rows, for ~30 MB less.
 */
export class PagedEntries {
  readonly count: number;
  readonly #directory: Uint32Array;
  readonly #readAt: ReadAt;
  #page: Buffer;
  #view: DataView;
  /** The entry index at the page's start, -1 when the page holds nothing. */
  #pageFirst = -1;
  #pageCount = 0;

  constructor(count: number, directory: Uint32Array, readAt: ReadAt) {
    this.count = count;
    this.#directory = directory;
    this.#readAt = readAt;
    let largest = 0;
    for (let b = 0; b + 1 < directory.length; b++) {
      largest = Math.max(largest, (directory[b + 1] as number) - (directory[b] as number));
    }
    this.#page = Buffer.alloc(Math.max(1, largest) * ENTRY_BYTES);
    this.#view = new DataView(this.#page.buffer, this.#page.byteOffset, this.#page.byteLength);
  }

  /**
   * Index of the entry with this id hash, or -1. Its bytes stay readable through
   * {@link hasPayload} and {@link entryAt} until the next `find`.
   */
  find(hi: number, lo: number): number {
    if (this.count === 0) return -1;
    const top = hi >>> (32 - DIRECTORY_BITS);
    const first = this.#directory[top] as number;
    const n = (this.#directory[top + 1] as number) - first;
    if (n === 0) return -1;
    if (this.#pageFirst !== first || this.#pageCount !== n) {
      this.#pageFirst = -1;
      this.#readAt(this.#page, n * ENTRY_BYTES, first * ENTRY_BYTES);
      this.#pageFirst = first;
      this.#pageCount = n;
    }
    const view = this.#view;
    for (let k = 0; k < n; k++) {
      const at = k * ENTRY_BYTES;
      if (view.getUint32(at) === hi && view.getUint32(at + 4) === lo) return first + k;
    }
    return -1;
  }

  /** Whether entry `index` (just found) holds this payload sha256 (64 hex chars). */
  hasPayload(index: number, sha256Hex: string): boolean {
    return entryHasPayload(this.#page, this.#onPage(index), sha256Hex);
  }

  /** Entry `index` (just found) as an object. */
  entryAt(index: number): ConfirmedEntry {
    return entryAt(this.#page, this.#onPage(index));
  }

  #onPage(index: number): number {
    const k = index - this.#pageFirst;
    if (this.#pageFirst === -1 || k < 0 || k >= this.#pageCount) {
      throw new Error('PagedEntries: entry read before find');
    }
    return k;
  }
}

/** Index of the entry with this id hash in sorted `entries`, or -1 (builds a directory: use {@link SortedEntries} for many lookups). */
export function findEntry(entries: Buffer, count: number, hi: number, lo: number): number {
  return new SortedEntries(entries, count).find(hi, lo);
}

/** The entry at `index` as an object. */
export function entryAt(entries: Buffer, index: number): ConfirmedEntry {
  const at = index * ENTRY_BYTES;
  return {
    payloadHash: entries.toString('hex', at + PAYLOAD_OFFSET, at + TIME_OFFSET),
    confirmedAtS: entries.readUInt32BE(at + TIME_OFFSET),
  };
}

/**
 * Whether the entry at `index` holds this payload sha256 (64 hex chars): compares the
 * first 32 hex characters without allocating.
 */
export function entryHasPayload(entries: Buffer, index: number, sha256Hex: string): boolean {
  const at = index * ENTRY_BYTES + PAYLOAD_OFFSET;
  for (let i = 0; i < PAYLOAD_HASH_BYTES; i++) {
    const byte =
      (nibble(sha256Hex.charCodeAt(i * 2)) << 4) | nibble(sha256Hex.charCodeAt(i * 2 + 1));
    if (entries[at + i] !== byte) return false;
  }
  return true;
}

/** Value of one hex digit's char code ('0'-'9', 'a'-'f', 'A'-'F'); callers check the text first. */
function nibble(code: number): number {
  return code <= 57 ? code - 48 : (code | 32) - 87;
}

/** Whether `entries` is strictly sorted by id hash (no duplicates): a load-time check. */
export function isSorted(entries: Buffer, count: number): boolean {
  const view = new DataView(entries.buffer, entries.byteOffset, entries.byteLength);
  let hi = -1;
  let lo = -1;
  for (let i = 0; i < count; i++) {
    const h = view.getUint32(i * ENTRY_BYTES);
    const l = view.getUint32(i * ENTRY_BYTES + 4);
    if (h < hi || (h === hi && l <= lo)) return false;
    hi = h;
    lo = l;
  }
  return true;
}

/** What one results line says about an id, in file order. */
const FORGET = 0;
const CONFIRM = 1;

/**
 * The outcomes of one run (or one results file), in file order: per id the last one
 * wins. `confirm` records a payload the API confirmed; `forget` drops what the state
 * knew about an id whose server-side value is now unknown (a `failed` line: a timeout
 * or a 5xx may have landed; a send interrupted before its outcome). Typed arrays that
 * double: ~25 bytes per outcome (+4 while sorting).
 */
export class OutcomeLog {
  #size = 0;
  /** Outcomes from this index on came after the split (see {@link markSplit}). */
  #splitAt = Number.POSITIVE_INFINITY;
  #hi: Uint32Array;
  #lo: Uint32Array;
  #kind: Uint8Array;
  #payload: Buffer;

  /**
   * @param capacity outcomes expected (a run knows how many `updated` and `failed`
   *   lines it wrote): sized once, the log never holds an old and a doubled copy of
   *   its arrays at once (~37 MB instead of 25 at 1M outcomes). It still grows past it.
   * @default 1024
   */
  constructor(capacity = 1024) {
    const size = Math.max(1024, Math.ceil(capacity));
    this.#hi = new Uint32Array(size);
    this.#lo = new Uint32Array(size);
    this.#kind = new Uint8Array(size);
    this.#payload = Buffer.alloc(size * PAYLOAD_HASH_BYTES);
  }

  get size(): number {
    return this.#size;
  }

  /**
   * Mark where this run's outcomes start: outcomes before the mark (earlier attempts
   * of a resume) do not outlive a journalled send of the same id; outcomes after it do.
   * See {@link mergeInto}'s `journal`.
   */
  markSplit(): void {
    if (this.#splitAt === Number.POSITIVE_INFINITY) this.#splitAt = this.#size;
  }

  /** The API confirmed payload `sha256Hex` (64 hex chars) for `id`. */
  confirm(id: string, sha256Hex: string): void {
    const at = this.#push(id, CONFIRM) * PAYLOAD_HASH_BYTES;
    const payload = this.#payload;
    for (let b = 0; b < PAYLOAD_HASH_BYTES; b++) {
      payload[at + b] =
        (nibble(sha256Hex.charCodeAt(b * 2)) << 4) | nibble(sha256Hex.charCodeAt(b * 2 + 1));
    }
  }

  /** The server-side value of `id` is unknown: the state must not skip it next time. */
  forget(id: string): void {
    this.#push(id, FORGET);
  }

  #push(id: string, kind: number): number {
    const h = hashId64(id);
    return this.#pushHash(h.hi, h.lo, kind);
  }

  #pushHash(hi: number, lo: number, kind: number): number {
    if (this.#size === this.#kind.length) this.#grow();
    const i = this.#size++;
    this.#hi[i] = hi;
    this.#lo[i] = lo;
    this.#kind[i] = kind;
    return i;
  }

  #grow(): void {
    const size = this.#kind.length * 2;
    const hi = new Uint32Array(size);
    hi.set(this.#hi);
    const lo = new Uint32Array(size);
    lo.set(this.#lo);
    const kind = new Uint8Array(size);
    kind.set(this.#kind);
    const payload = Buffer.alloc(size * PAYLOAD_HASH_BYTES);
    this.#payload.copy(payload);
    this.#hi = hi;
    this.#lo = lo;
    this.#kind = kind;
    this.#payload = payload;
  }

  /**
   * Indexes of the last outcome per id hash, sorted by id hash. Sorting by (hash,
   * position) keeps file order among equal hashes, so the last of each run is the one
   * kept (1M outcomes: ~0.4 s).
   */
  lastPerId(): Uint32Array {
    const n = this.#size;
    const hi = this.#hi;
    const lo = this.#lo;
    const order = new Uint32Array(n);
    for (let i = 0; i < n; i++) order[i] = i;
    order.sort(
      (a, b) =>
        (hi[a] as number) - (hi[b] as number) || (lo[a] as number) - (lo[b] as number) || a - b,
    );
    let kept = 0;
    for (let k = 0; k < n; k++) {
      const i = order[k] as number;
      const next = k + 1 < n ? (order[k + 1] as number) : -1;
      if (next !== -1 && hi[next] === hi[i] && lo[next] === lo[i]) continue;
      order[kept++] = i;
    }
    return order.subarray(0, kept);
  }

  /**
   * Merge with sorted `entries` (`count` of them) into sorted output, handed to `emit`
   * in chunks (the chunk buffer is reused: write it before returning). Returns the
   * number of entries emitted. Streaming, so a save never holds the old and the new
   * entries in memory at once (28 MB each at 1M ids).
   *
   * Per id, the last outcome decides: a confirm replaces the entry, a forget removes
   * it. With `journal` (ids whose send went out since the last commit, see
   * {@link readJournal}): a journalled id loses its entry unless an outcome after the
   * split confirms it again — a send without a known outcome leaves the id unknown.
   */
  mergeInto(
    entries: Buffer | ReadAt,
    count: number,
    confirmedAtS: number,
    emit: (chunk: Buffer) => void,
    options: { journal?: SortedIdHashes; chunkEntries?: number } = {},
  ): number {
    const chunkEntries = options.chunkEntries ?? 16_384;
    const journal = options.journal ?? new Uint32Array(0);
    const journalCount = journal.length / 2;
    const last = this.lastPerId();
    const old = new OldEntries(entries, count, chunkEntries);
    const out = Buffer.allocUnsafe(chunkEntries * ENTRY_BYTES);
    const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
    const hiOf = this.#hi;
    const loOf = this.#lo;
    const kind = this.#kind;
    const payload = this.#payload;
    const splitAt = this.#splitAt;
    let used = 0;
    let total = 0;
    const flush = () => {
      if (used > 0) emit(out.subarray(0, used * ENTRY_BYTES));
      total += used;
      used = 0;
    };
    /** Old entries [from, to) in as few copies as the chunk allows. */
    const copyOld = (from: number, to: number) => {
      while (from < to) {
        const n = Math.min(to - from, chunkEntries - used);
        old.copy(out, used * ENTRY_BYTES, from, from + n);
        used += n;
        from += n;
        if (used === chunkEntries) flush();
      }
    };
    const writeNew = (i: number) => {
      const at = used * ENTRY_BYTES;
      view.setUint32(at, hiOf[i] as number);
      view.setUint32(at + 4, loOf[i] as number);
      const p = i * PAYLOAD_HASH_BYTES;
      for (let b = 0; b < PAYLOAD_HASH_BYTES; b++) {
        out[at + PAYLOAD_OFFSET + b] = payload[p + b] as number;
      }
      view.setUint32(at + TIME_OFFSET, confirmedAtS);
      if (++used === chunkEntries) flush();
    };
    /** Whether old entry `o` has id hash (hi, lo): -1 below, 0 equal, 1 above. */
    const cmpOld = (o: number, hi: number, lo: number) => old.compare(o, hi, lo);
    let o = 0;
    let n = 0;
    let j = 0;
    while (n < last.length || j < journalCount) {
      // The next key to decide: the smaller of the next outcome and the next journal id.
      const i = n < last.length ? (last[n] as number) : -1;
      const jHi = j < journalCount ? (journal[j * 2 + 1] as number) : -1;
      const jLo = j < journalCount ? (journal[j * 2] as number) : -1;
      let hi: number;
      let lo: number;
      let fromOutcome: boolean;
      let fromJournal: boolean;
      if (i === -1) {
        hi = jHi;
        lo = jLo;
        fromOutcome = false;
        fromJournal = true;
      } else {
        hi = hiOf[i] as number;
        lo = loOf[i] as number;
        fromOutcome = true;
        fromJournal = false;
        if (j < journalCount) {
          if (jHi < hi || (jHi === hi && jLo < lo)) {
            hi = jHi;
            lo = jLo;
            fromOutcome = false;
            fromJournal = true;
          } else fromJournal = jHi === hi && jLo === lo;
        }
      }
      // Old entries below the key go out unchanged, as one run.
      const from = o;
      while (o < count && cmpOld(o, hi, lo) < 0) o++;
      copyOld(from, o);
      const hasOld = o < count && cmpOld(o, hi, lo) === 0;
      if (hasOld) o++;
      if (fromJournal) {
        // the same id may be journalled more than once (sent by several runs or rows)
        while (j < journalCount && journal[j * 2 + 1] === hi && journal[j * 2] === lo) j++;
      }
      // The old entry of this id (if any) is now replaced or dropped: an outcome
      // decides, and a journalled id with no outcome after the split is dropped.
      if (fromOutcome) {
        n++;
        const confirmed = kind[i] === CONFIRM;
        if (i >= splitAt ? confirmed : confirmed && !fromJournal) writeNew(i);
      }
    }
    copyOld(o, count);
    flush();
    return total;
  }
}

/**
 * The old entries of a merge, read in order: a Buffer as it is, or a file through a
 * window of `windowEntries` entries (458 KB by default), so that a save never holds the
 * whole old entries file (28 MB at 1M ids) besides the run's outcomes.
 */
class OldEntries {
  readonly #readAt: ReadAt | undefined;
  readonly #count: number;
  #window: Buffer;
  #view: DataView;
  /** Index of the first entry in the window, and how many it holds. */
  #first = 0;
  #held: number;

  constructor(source: Buffer | ReadAt, count: number, windowEntries: number) {
    this.#count = count;
    if (Buffer.isBuffer(source)) {
      this.#readAt = undefined;
      this.#window = source;
      this.#held = count;
    } else {
      this.#readAt = source;
      this.#window = Buffer.allocUnsafe(Math.max(1, Math.min(windowEntries, count)) * ENTRY_BYTES);
      this.#held = 0;
    }
    this.#view = new DataView(
      this.#window.buffer,
      this.#window.byteOffset,
      this.#window.byteLength,
    );
  }

  /** Make entry `o` readable in the window (reads onward from it when it is not). */
  #have(o: number): number {
    if (o < this.#first || o >= this.#first + this.#held) {
      const readAt = this.#readAt;
      if (readAt === undefined) throw new RangeError(`entry ${o} out of range`);
      const n = Math.min(this.#window.length / ENTRY_BYTES, this.#count - o);
      readAt(this.#window, n * ENTRY_BYTES, o * ENTRY_BYTES);
      this.#first = o;
      this.#held = n;
    }
    return o - this.#first;
  }

  /** Entry `o`'s id hash against (hi, lo): -1 below, 0 equal, 1 above. */
  compare(o: number, hi: number, lo: number): number {
    const at = this.#have(o) * ENTRY_BYTES;
    const oh = this.#view.getUint32(at);
    if (oh !== hi) return oh < hi ? -1 : 1;
    const ol = this.#view.getUint32(at + 4);
    return ol === lo ? 0 : ol < lo ? -1 : 1;
  }

  /** Copy entries [from, to) to `out` at byte `at`. */
  copy(out: Buffer, at: number, from: number, to: number): void {
    while (from < to) {
      const k = this.#have(from);
      const n = Math.min(to - from, this.#held - k);
      this.#window.copy(out, at, k * ENTRY_BYTES, (k + n) * ENTRY_BYTES);
      at += n * ENTRY_BYTES;
      from += n;
    }
  }
}

/**
 * Id hashes sorted ascending, as a Uint32Array of [lo, hi] pairs: the memory of a
 * little-endian BigUint64Array of `hi * 2^32 + lo`, which sorts natively.
 */
export type SortedIdHashes = Uint32Array;

/** Bytes per journal record: the id hash as a little-endian u64. */
export const JOURNAL_RECORD_BYTES = 8;

/** The journal record of an id hash (8 bytes, little-endian u64 hi * 2^32 + lo). */
export function journalRecord(hi: number, lo: number, out: Buffer): Buffer {
  out.writeUInt32LE(lo, 0);
  out.writeUInt32LE(hi, 4);
  return out;
}

/**
 * Sorted id hashes from journal bytes. A torn last record (a kill mid-write: that send
 * never started) is left out. 8 bytes per record, sorted natively (no comparator).
 */
export function readJournal(bytes: Buffer): SortedIdHashes {
  const records = Math.floor(bytes.length / JOURNAL_RECORD_BYTES);
  const values = new BigUint64Array(records);
  const view = new DataView(bytes.buffer, bytes.byteOffset, records * JOURNAL_RECORD_BYTES);
  for (let k = 0; k < records; k++) values[k] = view.getBigUint64(k * JOURNAL_RECORD_BYTES, true);
  return sortJournal(values);
}

/**
 * Sorted id hashes from journal records already in a BigUint64Array (read into its
 * memory on a little-endian machine: no second copy of the journal, 8 MB at 1M sends).
 */
export function sortJournal(values: BigUint64Array): SortedIdHashes {
  const records = values.length;
  values.sort();
  if (LITTLE_ENDIAN) return new Uint32Array(values.buffer, values.byteOffset, records * 2);
  const pairs = new Uint32Array(records * 2);
  for (let k = 0; k < records; k++) {
    const v = values[k] as bigint;
    pairs[k * 2] = Number(v & 0xffffffffn);
    pairs[k * 2 + 1] = Number(v >> 32n);
  }
  return pairs;
}

export const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** Build sorted entries in memory (tests and the bench; a save streams instead). */
export function mergeToBuffer(
  entries: Buffer,
  count: number,
  log: OutcomeLog,
  confirmedAtS: number,
  journal?: SortedIdHashes,
): { entries: Buffer; count: number } {
  const parts: Buffer[] = [];
  const total = log.mergeInto(
    entries,
    count,
    confirmedAtS,
    (chunk) => parts.push(Buffer.from(chunk)),
    journal === undefined ? {} : { journal },
  );
  return { entries: Buffer.concat(parts), count: total };
}
