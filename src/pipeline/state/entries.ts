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
  return finishHash(h1, h2, out);
}

/** The murmur3-style avalanche of both lanes of {@link hashId64}, into `out`. */
function finishHash(h1: number, h2: number, out: IdHash): IdHash {
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507);
  h1 ^= Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507);
  h2 ^= Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  out.hi = h2 >>> 0;
  out.lo = h1 >>> 0;
  return out;
}

/**
 * {@link hashId64} of an ASCII id held as bytes `[start, end)` of `bytes` (each byte is
 * the UTF-16 code unit of its character): the fold hashes results lines without
 * decoding them. Callers send ids with other bytes through {@link hashId64}.
 */
export function hashId64Bytes(
  bytes: Buffer,
  start: number,
  end: number,
  out: IdHash = scratch,
): IdHash {
  const length = end - start;
  let h1 = 0xdeadbeef ^ length;
  let h2 = 0x41c6ce57 ^ length;
  for (let i = start; i < end; i++) {
    const c = bytes[i] as number;
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  return finishHash(h1, h2, out);
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
 * Builds, from entries seen in order chunk by chunk, the bucket directory and (with a
 * `count`) the {@link CheckIndex} of a run, and checks on the way that the entries are
 * strictly sorted.
 */
export class DirectoryBuilder {
  readonly directory = new Uint32Array((1 << DIRECTORY_BITS) + 1);
  /** Per entry, its check (see {@link CheckIndex}) as [hi, lo]; empty without a `count`. */
  readonly checks: Uint32Array;
  #bucket = 0;
  #count = 0;
  #hi = -1;
  #lo = -1;
  /** False once an entry was out of order (or repeated), or there were more than `count`. */
  sorted = true;

  /** @param count entries to expect, to build the checks too (0: the directory alone). */
  constructor(count = 0) {
    this.checks = new Uint32Array(count * 2);
  }

  /** Add the entries of `chunk` (a whole number of entries), which follow the ones added before. */
  add(chunk: Buffer): void {
    const view = new DataView(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const n = Math.floor(chunk.length / ENTRY_BYTES);
    const directory = this.directory;
    const checks = this.checks;
    for (let k = 0; k < n; k++) {
      const at = k * ENTRY_BYTES;
      const h = view.getUint32(at);
      const l = view.getUint32(at + 4);
      if (h < this.#hi || (h === this.#hi && l <= this.#lo)) this.sorted = false;
      this.#hi = h;
      this.#lo = l;
      const top = h >>> (32 - DIRECTORY_BITS);
      while (this.#bucket <= top) directory[this.#bucket++] = this.#count;
      if (checks.length > 0) {
        if (this.#count * 2 >= checks.length) this.sorted = false;
        else {
          checks[this.#count * 2] = (view.getUint32(at + PAYLOAD_OFFSET) ^ h) >>> 0;
          checks[this.#count * 2 + 1] = (view.getUint32(at + PAYLOAD_OFFSET + 4) ^ l) >>> 0;
        }
      }
      this.#count++;
    }
  }

  /** The directory once every entry was added. */
  finish(): Uint32Array {
    while (this.#bucket < this.directory.length) this.directory[this.#bucket++] = this.#count;
    return this.directory;
  }
}

/**
 * What a run looks up for every row, in memory: 8 bytes per entry. An entry's check is
 * the first 64 bits of its payload hash XOR its 64-bit id hash, kept in entry order
 * with the bucket directory; a row is found unchanged when its own check (from its id
 * and its payload sha256) is in its id's bucket.
 *
 * Why a check and not the entry: a lookup per row of a nightly file must not cost a
 * read(2) (measured 6.4 s of 17.5 s CPU for 1M rows with one bucket read per row), and
 * the 28-byte entries in memory are 28 MB per 1M ids; the checks are 8 MB, the least
 * that still tells "this id, this payload" apart. What a match can get wrong: for the
 * same id, the payloads' first 64 bits collide (2^-64); for two ids X and Y, the
 * payload prefixes P and Q of different payloads would need P ^ Q = h(X) ^ h(Y)
 * (2^-64), while identical payloads need h(X) = h(Y), which a match then says. The
 * exact entry (sent ids, `lookup`) is read from the file ({@link PagedEntries}).
 */
export class CheckIndex {
  readonly count: number;
  readonly #directory: Uint32Array;
  readonly #checks: Uint32Array;

  constructor(directory: Uint32Array, checks: Uint32Array) {
    this.#directory = directory;
    this.#checks = checks;
    this.count = checks.length / 2;
  }

  /**
   * Index of the entry of id hash (hi, lo) whose payload starts with the 64 bits
   * (p0, p1), or -1.
   */
  find(hi: number, lo: number, p0: number, p1: number): number {
    if (this.count === 0) return -1;
    const top = hi >>> (32 - DIRECTORY_BITS);
    const c0 = (p0 ^ hi) >>> 0;
    const c1 = (p1 ^ lo) >>> 0;
    const checks = this.#checks;
    const end = this.#directory[top + 1] as number;
    for (let i = this.#directory[top] as number; i < end; i++) {
      if (checks[i * 2] === c0 && checks[i * 2 + 1] === c1) return i;
    }
    return -1;
  }
}

/**
 * The 32-bit word of a hex sha256 at hex character `at` (8 characters), or -1 when one
 * of them is not a hex digit.
 */
export function hexWord(text: string, at: number): number {
  let word = 0;
  for (let i = at; i < at + 8; i++) {
    const c = text.charCodeAt(i);
    let v: number;
    if (c >= 48 && c <= 57) v = c - 48;
    else if ((c | 32) >= 97 && (c | 32) <= 102) v = (c | 32) - 87;
    else return -1;
    word = word * 16 + v;
  }
  return word;
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

/** Where an {@link OutcomeLog} keeps its sorted runs: memory, or files (a commit). */
export interface RunSpill {
  /** Keep a copy of `run` (its buffer is reused after this returns); read it back with the returned function. */
  put(run: Buffer): ReadAt;
}

/** Reads of `bytes` held in memory. */
function bufferReader(bytes: Buffer): ReadAt {
  return (into, length, position) => {
    bytes.copy(into, 0, position, position + length);
  };
}

/** Runs kept in memory (tests and the bench). */
export const MEMORY_SPILL: RunSpill = {
  put: (run) => bufferReader(Buffer.from(run)),
};

/** Outcomes held in memory before they are sorted into a run: 128 Ki x 28 bytes = 3.5 MB. */
const RUN_OUTCOMES = 128 * 1024;
/** Records read at a time from each run during the merge (56 KB). */
const RUN_WINDOW = 2048;

/**
 * The outcomes of one run (or one results file), in file order: per id the last one
 * wins. `confirm` records a payload the API confirmed; `forget` drops what the state
 * knew about an id whose server-side value is now unknown (a `failed` line: a timeout
 * or a 5xx may have landed; a send journalled without a known outcome).
 *
 * Memory stays flat at any size: outcomes are taken in batches of 128 Ki, each sorted
 * by id hash (the last per id kept) into a run of 28-byte records laid out like entries
 * (the kind where an entry has its time) and handed to a {@link RunSpill}; the merge
 * reads the runs back in 56 KB windows. A later run wins over an earlier one for the
 * same id, as a later line does. (Holding every outcome instead cost ~37 MB at 1M
 * outcomes with the journal, on top of the run: 149 MB peak RSS.)
 */
export class OutcomeLog {
  readonly #spill: RunSpill;
  readonly #batch: number;
  #size = 0;
  #total = 0;
  #hi: Uint32Array;
  #lo: Uint32Array;
  #kind: Uint8Array;
  #payload: Buffer;
  readonly #runs: { readAt: ReadAt; count: number }[] = [];
  /** Reused by every batch: the sort order and the run being written. */
  #order: Uint32Array<ArrayBufferLike> = new Uint32Array(0);
  #run = Buffer.alloc(0);

  /**
   * @param spill where the sorted runs go. @default MEMORY_SPILL
   * @param batch outcomes per run (tests make it small). @default 131072
   */
  constructor(spill: RunSpill = MEMORY_SPILL, batch = RUN_OUTCOMES) {
    this.#spill = spill;
    this.#batch = Math.max(1, batch);
    const size = Math.min(1024, this.#batch);
    this.#hi = new Uint32Array(size);
    this.#lo = new Uint32Array(size);
    this.#kind = new Uint8Array(size);
    this.#payload = Buffer.alloc(size * PAYLOAD_HASH_BYTES);
  }

  /** Outcomes taken so far. */
  get size(): number {
    return this.#total;
  }

  /** The API confirmed payload `sha256Hex` (64 hex chars) for `id`. */
  confirm(id: string, sha256Hex: string): void {
    const h = hashId64(id);
    const at = this.#push(h.hi, h.lo, CONFIRM) * PAYLOAD_HASH_BYTES;
    const payload = this.#payload;
    for (let b = 0; b < PAYLOAD_HASH_BYTES; b++) {
      payload[at + b] =
        (nibble(sha256Hex.charCodeAt(b * 2)) << 4) | nibble(sha256Hex.charCodeAt(b * 2 + 1));
    }
  }

  /**
   * {@link confirm} by id hash, the payload sha256 read from its 64 hex bytes at
   * `offset` of `hex` (checked by the caller). For the fold, which reads bytes.
   */
  confirmHex(hi: number, lo: number, hex: Buffer, offset: number): void {
    const at = this.#push(hi, lo, CONFIRM) * PAYLOAD_HASH_BYTES;
    const payload = this.#payload;
    for (let b = 0; b < PAYLOAD_HASH_BYTES; b++) {
      payload[at + b] =
        (nibble(hex[offset + b * 2] as number) << 4) | nibble(hex[offset + b * 2 + 1] as number);
    }
  }

  /** The server-side value of `id` is unknown: the state must not skip it next time. */
  forget(id: string): void {
    const h = hashId64(id);
    this.forgetHash(h.hi, h.lo);
  }

  /** {@link forget} by id hash (a journal record). */
  forgetHash(hi: number, lo: number): void {
    this.#push(hi, lo, FORGET);
  }

  #push(hi: number, lo: number, kind: number): number {
    if (this.#size === this.#kind.length) {
      if (this.#size === this.#batch) this.#flush();
      else this.#grow();
    }
    const i = this.#size++;
    this.#total++;
    this.#hi[i] = hi;
    this.#lo[i] = lo;
    this.#kind[i] = kind;
    return i;
  }

  #grow(): void {
    const size = Math.min(this.#batch, this.#kind.length * 2);
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
   * Sort the outcomes held into a run (the last per id hash kept) and spill it; the
   * `last` one (the merge is next) is kept in memory instead.
   */
  #flush(last = false): void {
    const n = this.#size;
    if (n === 0) return;
    const hi = this.#hi;
    const lo = this.#lo;
    const order = sortByHash(hi, lo, n, this.#order);
    if (order.length > this.#order.length) this.#order = order;
    if (this.#run.length < n * ENTRY_BYTES) this.#run = Buffer.allocUnsafe(n * ENTRY_BYTES);
    const run = this.#run;
    const view = new DataView(run.buffer, run.byteOffset, run.byteLength);
    let kept = 0;
    for (let k = 0; k < n; k++) {
      const i = order[k] as number;
      const next = k + 1 < n ? (order[k + 1] as number) : -1;
      if (next !== -1 && hi[next] === hi[i] && lo[next] === lo[i]) continue;
      const at = kept * ENTRY_BYTES;
      view.setUint32(at, hi[i] as number);
      view.setUint32(at + 4, lo[i] as number);
      const payload = this.#payload;
      for (let b = 0; b < PAYLOAD_HASH_BYTES; b++) {
        run[at + PAYLOAD_OFFSET + b] = payload[i * PAYLOAD_HASH_BYTES + b] as number;
      }
      view.setUint32(at + TIME_OFFSET, this.#kind[i] as number);
      kept++;
    }
    const bytes = run.subarray(0, kept * ENTRY_BYTES);
    // The last run stays in memory: its buffer is not reused after the merge starts.
    const readAt = last ? bufferReader(bytes) : this.#spill.put(bytes);
    this.#runs.push({ readAt, count: kept });
    this.#size = 0;
  }

  /**
   * Merge with sorted `entries` (`count` of them) into sorted output, handed to `emit`
   * in chunks (the chunk buffer is reused: write it before returning). Returns the
   * number of entries emitted. Streaming: a save never holds the old entries, the
   * outcomes or the new entries whole (28 MB each at 1M ids).
   *
   * Per id, the last outcome decides: a confirm replaces the entry (stamped
   * `confirmedAtS`), a forget removes it. Take no outcome after this.
   */
  mergeInto(
    entries: Buffer | ReadAt,
    count: number,
    confirmedAtS: number,
    emit: (chunk: Buffer) => void,
    options: { chunkEntries?: number } = {},
  ): number {
    this.#flush(true);
    const chunkEntries = options.chunkEntries ?? 16_384;
    const old = new SortedRecords(entries, count, chunkEntries);
    const runs = this.#runs.map((r) => new SortedRecords(r.readAt, r.count, RUN_WINDOW));
    const heads = new RunHeads(
      runs,
      this.#runs.map((r) => r.count),
    );
    const out = Buffer.allocUnsafe(chunkEntries * ENTRY_BYTES);
    const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
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
    let o = 0;
    for (let r = heads.next(); r !== -1; r = heads.next()) {
      const hi = heads.hi;
      const lo = heads.lo;
      // Old entries below the key go out unchanged, as one run; the old entry of this
      // id (if any) is now replaced or dropped.
      const from = o;
      while (o < count && old.compare(o, hi, lo) < 0) o++;
      copyOld(from, o);
      if (o < count && old.compare(o, hi, lo) === 0) o++;
      const run = runs[r] as SortedRecords;
      const record = heads.position(r);
      if (run.timeAt(record) === CONFIRM) {
        run.copy(out, used * ENTRY_BYTES, record, record + 1);
        view.setUint32(used * ENTRY_BYTES + TIME_OFFSET, confirmedAtS);
        if (++used === chunkEntries) flush();
      }
      heads.advance();
    }
    copyOld(o, count);
    flush();
    return total;
  }
}

/** Bucket counts of {@link sortByHash}, reused. */
let bucketStarts = new Uint32Array(0);

/**
 * Indexes 0..n-1 ordered by id hash (hi, then lo), equal hashes in index order: a
 * counting sort on the top 16 bits, then an insertion sort inside each bucket (the
 * hashes are uniform: a few per bucket). Measured ~10x faster than
 * `Uint32Array#sort` with a comparator, which took ~0.4 s per 1M outcomes.
 */
export function sortByHash(
  hi: Uint32Array,
  lo: Uint32Array,
  n: number,
  reuse?: Uint32Array,
): Uint32Array {
  const buckets = 1 << DIRECTORY_BITS;
  if (bucketStarts.length !== buckets + 1) bucketStarts = new Uint32Array(buckets + 1);
  const starts = bucketStarts;
  starts.fill(0);
  for (let i = 0; i < n; i++)
    (starts[((hi[i] as number) >>> (32 - DIRECTORY_BITS)) + 1] as number)++;
  for (let b = 0; b < buckets; b++)
    starts[b + 1] = (starts[b + 1] as number) + (starts[b] as number);
  const order = reuse !== undefined && reuse.length >= n ? reuse : new Uint32Array(n);
  // Scattered in index order: each bucket starts in file order (stable).
  const next = starts.slice(0, buckets);
  for (let i = 0; i < n; i++) {
    const b = (hi[i] as number) >>> (32 - DIRECTORY_BITS);
    order[next[b] as number] = i;
    next[b] = (next[b] as number) + 1;
  }
  for (let b = 0; b < buckets; b++) {
    const start = starts[b] as number;
    const end = starts[b + 1] as number;
    if (end - start > 32) {
      // A crowded bucket (one id many times, or ids alike in their top bits): a
      // comparator sort instead of an insertion sort's n².
      order
        .subarray(start, end)
        .sort(
          (x, y) =>
            (hi[x] as number) - (hi[y] as number) || (lo[x] as number) - (lo[y] as number) || x - y,
        );
      continue;
    }
    for (let k = start + 1; k < end; k++) {
      const i = order[k] as number;
      const h = hi[i] as number;
      const l = lo[i] as number;
      let m = k - 1;
      // Strictly greater moves up: equal hashes keep their index order.
      while (m >= start) {
        const j = order[m] as number;
        const hj = hi[j] as number;
        if (hj < h || (hj === h && (lo[j] as number) <= l)) break;
        order[m + 1] = j;
        m--;
      }
      order[m + 1] = i;
    }
  }
  return order.subarray(0, n);
}

/**
 * The k-way walk over sorted runs: each distinct id hash once, in order, with the run
 * that decides it (the latest run holding it). A binary heap of run heads ordered by
 * (hash, run index).
 */
class RunHeads {
  readonly #runs: SortedRecords[];
  readonly #counts: number[];
  readonly #at: number[];
  readonly #heap: number[] = [];
  /** Runs whose head held the current hash, to move on by {@link advance}. */
  readonly #taken: number[] = [];
  hi = 0;
  lo = 0;

  constructor(runs: SortedRecords[], counts: number[]) {
    this.#runs = runs;
    this.#counts = counts;
    this.#at = runs.map(() => 0);
    for (let r = 0; r < runs.length; r++) if ((counts[r] as number) > 0) this.#push(r);
  }

  /** Record index of run `r`'s head. */
  position(r: number): number {
    return this.#at[r] as number;
  }

  /**
   * The run deciding the next hash (set in `hi`, `lo`), or -1 at the end. Call
   * {@link advance} before the next call.
   */
  next(): number {
    if (this.#heap.length === 0) return -1;
    const first = this.#pop();
    this.hi = this.#runs[first]?.hiAt(this.#at[first] as number) as number;
    this.lo = this.#runs[first]?.loAt(this.#at[first] as number) as number;
    let last = first;
    this.#taken.push(first);
    while (this.#heap.length > 0 && this.#cmpHead(this.#heap[0] as number) === 0) {
      last = this.#pop();
      this.#taken.push(last);
    }
    return last;
  }

  /** Move every run whose head was the current hash to its next record. */
  advance(): void {
    for (const r of this.#taken) {
      const at = (this.#at[r] as number) + 1;
      this.#at[r] = at;
      if (at < (this.#counts[r] as number)) this.#push(r);
    }
    this.#taken.length = 0;
  }

  /** Run `r`'s head against the current (hi, lo). */
  #cmpHead(r: number): number {
    return this.#runs[r]?.compare(this.#at[r] as number, this.hi, this.lo) as number;
  }

  /** Whether run a's head sorts before run b's: by hash, then by run index. */
  #less(a: number, b: number): boolean {
    const ra = this.#runs[a] as SortedRecords;
    const rb = this.#runs[b] as SortedRecords;
    const c = ra.compare(
      this.#at[a] as number,
      rb.hiAt(this.#at[b] as number),
      rb.loAt(this.#at[b] as number),
    );
    return c < 0 || (c === 0 && a < b);
  }

  #push(r: number): void {
    const heap = this.#heap;
    let i = heap.length;
    heap.push(r);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.#less(heap[i] as number, heap[parent] as number)) break;
      [heap[i], heap[parent]] = [heap[parent] as number, heap[i] as number];
      i = parent;
    }
  }

  #pop(): number {
    const heap = this.#heap;
    const top = heap[0] as number;
    const last = heap.pop() as number;
    if (heap.length > 0) {
      heap[0] = last;
      let i = 0;
      for (;;) {
        const l = i * 2 + 1;
        const r = l + 1;
        let m = i;
        if (l < heap.length && this.#less(heap[l] as number, heap[m] as number)) m = l;
        if (r < heap.length && this.#less(heap[r] as number, heap[m] as number)) m = r;
        if (m === i) break;
        [heap[i], heap[m]] = [heap[m] as number, heap[i] as number];
        i = m;
      }
    }
    return top;
  }
}

/**
 * Sorted 28-byte records read in order: a Buffer as it is, or a file through a window
 * of `windowEntries` records (458 KB by default), so that a save never holds the whole
 * old entries file (28 MB at 1M ids) or a whole run.
 */
class SortedRecords {
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

  hiAt(o: number): number {
    return this.#view.getUint32(this.#have(o) * ENTRY_BYTES);
  }

  loAt(o: number): number {
    return this.#view.getUint32(this.#have(o) * ENTRY_BYTES + 4);
  }

  /** The 32-bit word where an entry keeps its time (a run record: its kind). */
  timeAt(o: number): number {
    return this.#view.getUint32(this.#have(o) * ENTRY_BYTES + TIME_OFFSET);
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
): { entries: Buffer; count: number } {
  const parts: Buffer[] = [];
  const total = log.mergeInto(entries, count, confirmedAtS, (chunk) =>
    parts.push(Buffer.from(chunk)),
  );
  return { entries: Buffer.concat(parts), count: total };
}
