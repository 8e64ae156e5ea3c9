import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  CheckIndex,
  DirectoryBuilder,
  ENTRY_BYTES,
  entryAt,
  entryHasPayload,
  findEntry,
  hashId64,
  hexWord,
  isSorted,
  journalRecord,
  MEMORY_SPILL,
  mergeToBuffer,
  OutcomeLog,
  PagedEntries,
  readJournal,
  SortedEntries,
  sortByHash,
} from '../../../../src/pipeline/state/entries.js';
import { FileSpill } from '../../../../src/pipeline/state/store.js';

const sha = (c: string) => c.repeat(64);
const empty = Buffer.alloc(0);

function lookup(entries: Buffer, count: number, id: string) {
  const h = hashId64(id);
  const i = findEntry(entries, count, h.hi, h.lo);
  return i === -1 ? undefined : entryAt(entries, i);
}

describe('state entries', () => {
  it('hashes an id to the same 64 bits every time, and different ids apart', () => {
    const a = { ...hashId64('contact_1') };
    expect(hashId64('contact_1')).toEqual(a);
    const seen = new Set<string>();
    for (let i = 0; i < 100_000; i++) {
      const h = hashId64(`contact_${i}`);
      seen.add(`${h.hi}:${h.lo}`);
    }
    expect(seen.size).toBe(100_000);
    // Both halves vary (a broken lane would leave one constant).
    expect(hashId64('a').hi).not.toBe(hashId64('b').hi);
    expect(hashId64('a').lo).not.toBe(hashId64('b').lo);
  });

  it('merges a run into sorted entries, 28 bytes each, that lookups find', () => {
    const log = new OutcomeLog();
    for (let i = 0; i < 1000; i++) log.confirm(`id${i}`, sha((i % 10).toString()));
    const { entries, count } = mergeToBuffer(empty, 0, log, 1_700_000_000);
    expect(count).toBe(1000);
    expect(entries.length).toBe(1000 * ENTRY_BYTES);
    expect(isSorted(entries, count)).toBe(true);
    expect(lookup(entries, count, 'id7')).toEqual({
      payloadHash: '7'.repeat(32),
      confirmedAtS: 1_700_000_000,
    });
    expect(lookup(entries, count, 'id1000')).toBeUndefined();
  });

  it('keeps the last outcome per id, in file order, and lets a forget remove an entry', () => {
    const first = new OutcomeLog();
    first.confirm('x', sha('a'));
    first.confirm('y', sha('a'));
    first.confirm('z', sha('a'));
    const old = mergeToBuffer(empty, 0, first, 100);

    const run = new OutcomeLog();
    run.confirm('x', sha('b'));
    run.confirm('x', sha('c')); // last of the run wins
    run.forget('y');
    run.forget('w'); // not in the state: nothing to remove
    run.forget('v');
    run.confirm('v', sha('d')); // confirmed after a forget: kept
    const merged = mergeToBuffer(old.entries, old.count, run, 200);

    expect(merged.count).toBe(3);
    expect(lookup(merged.entries, merged.count, 'x')).toEqual({
      payloadHash: 'c'.repeat(32),
      confirmedAtS: 200,
    });
    expect(lookup(merged.entries, merged.count, 'y')).toBeUndefined();
    expect(lookup(merged.entries, merged.count, 'z')).toEqual({
      payloadHash: 'a'.repeat(32),
      confirmedAtS: 100,
    });
    expect(lookup(merged.entries, merged.count, 'v')?.payloadHash).toBe('d'.repeat(32));
  });

  it('drops a journalled id unless an outcome after its forget confirms it again', () => {
    const first = new OutcomeLog();
    for (const id of ['kept', 'sentNoOutcome', 'earlierOnly', 'resent'])
      first.confirm(id, sha('a'));
    const old = mergeToBuffer(empty, 0, first, 100);

    // Batches of 2: the outcomes span several sorted runs.
    const run = new OutcomeLog(MEMORY_SPILL, 2);
    run.confirm('earlierOnly', sha('b')); // an earlier attempt of a resume
    run.confirm('resent', sha('b'));
    // The split: every journalled id is forgotten here.
    for (const id of [
      'sentNoOutcome',
      'earlierOnly',
      'resent',
      'resent',
      'fresh',
      'neverInState',
    ]) {
      const h = hashId64(id);
      run.forgetHash(h.hi, h.lo);
    }
    run.confirm('resent', sha('c')); // this run: confirmed again after its send
    run.confirm('fresh', sha('c'));
    const merged = mergeToBuffer(old.entries, old.count, run, 200);
    const has = (id: string) => lookup(merged.entries, merged.count, id)?.payloadHash;
    expect(has('kept')).toBe('a'.repeat(32));
    expect(has('sentNoOutcome')).toBeUndefined();
    expect(has('earlierOnly')).toBeUndefined();
    expect(has('resent')).toBe('c'.repeat(32));
    expect(has('fresh')).toBe('c'.repeat(32));
    expect(has('neverInState')).toBeUndefined();
    expect(merged.count).toBe(3);
    expect(isSorted(merged.entries, merged.count)).toBe(true);
  });

  it('reads journal records sorted, leaving out a torn last record', () => {
    const records = [
      [5, 1],
      [1, 9],
      [5, 0],
    ].map(([hi, lo]) => journalRecord(hi as number, lo as number, Buffer.alloc(8)));
    const sorted = readJournal(Buffer.concat([...records, Buffer.from([1, 2, 3])]));
    expect(Array.from(sorted)).toEqual([9, 1, 0, 5, 1, 5]);
  });

  it('gives the same bytes whatever the chunk size of the streaming merge', () => {
    const log = new OutcomeLog();
    for (let i = 0; i < 500; i++) log.confirm(`k${i}`, sha('e'));
    const parts: Buffer[] = [];
    const count = log.mergeInto(empty, 0, 5, (chunk) => parts.push(Buffer.from(chunk)), {
      chunkEntries: 7,
    });
    expect(count).toBe(500);
    expect(Buffer.concat(parts).equals(mergeToBuffer(empty, 0, log, 5).entries)).toBe(true);
  });

  it('merges with old entries read from a file through a small window as with them in memory', () => {
    const first = new OutcomeLog();
    for (let i = 0; i < 3_000; i++) first.confirm(`k${i}`, sha('a'));
    const old = mergeToBuffer(empty, 0, first, 5);
    const run = new OutcomeLog(MEMORY_SPILL, 100);
    for (let i = 0; i < 3_000; i += 7) run.confirm(`k${i}`, sha('b'));
    for (let i = 1; i < 3_000; i += 11) run.forget(`k${i}`);
    for (const i of [2, 13, 3_001]) run.forget(`k${i}`);
    for (let i = 3_000; i < 3_200; i++) run.confirm(`k${i}`, sha('c'));
    const inMemory = mergeToBuffer(old.entries, old.count, run, 9);
    let reads = 0;
    const parts: Buffer[] = [];
    const count = run.mergeInto(
      (into, bytes, position) => {
        reads++;
        old.entries.copy(into, 0, position, position + bytes);
      },
      old.count,
      9,
      (chunk) => parts.push(Buffer.from(chunk)),
      { chunkEntries: 64 },
    );
    expect(count).toBe(inMemory.count);
    expect(Buffer.concat(parts).equals(inMemory.entries)).toBe(true);
    expect(reads).toBeGreaterThanOrEqual(Math.ceil(old.count / 64));
  });

  it('compares a payload sha256 by its first 128 bits, in either case', () => {
    const log = new OutcomeLog();
    const payload = `${'0123456789abcdef'.repeat(2)}${'f'.repeat(32)}`;
    log.confirm('x', payload);
    const { entries } = mergeToBuffer(empty, 0, log, 1);
    expect(entryHasPayload(entries, 0, payload)).toBe(true);
    expect(entryHasPayload(entries, 0, payload.toUpperCase())).toBe(true);
    expect(entryHasPayload(entries, 0, `${payload.slice(0, 31)}0${payload.slice(32)}`)).toBe(false);
  });

  it('tells unsorted or duplicated entries apart from sorted ones', () => {
    const log = new OutcomeLog();
    log.confirm('a', sha('1'));
    log.confirm('b', sha('2'));
    const { entries } = mergeToBuffer(empty, 0, log, 1);
    const swapped = Buffer.concat([
      entries.subarray(ENTRY_BYTES),
      entries.subarray(0, ENTRY_BYTES),
    ]);
    const doubled = Buffer.concat([
      entries.subarray(0, ENTRY_BYTES),
      entries.subarray(0, ENTRY_BYTES),
    ]);
    expect(isSorted(entries, 2)).toBe(true);
    expect(isSorted(swapped, 2)).toBe(false);
    expect(isSorted(doubled, 2)).toBe(false);
  });

  it('finds in paged entries exactly what the in-memory lookup finds, one bucket read each', () => {
    const log = new OutcomeLog();
    for (let i = 0; i < 20_000; i++) log.confirm(`c${i}`, (i % 16).toString(16).repeat(64));
    const { entries, count } = mergeToBuffer(empty, 0, log, 1_700_000_000);
    const builder = new DirectoryBuilder();
    // Chunks of a few entries, as the loader reads them.
    for (let at = 0; at < entries.length; at += 7 * ENTRY_BYTES) {
      builder.add(entries.subarray(at, Math.min(entries.length, at + 7 * ENTRY_BYTES)));
    }
    expect(builder.sorted).toBe(true);
    let reads = 0;
    const paged = new PagedEntries(count, builder.finish(), (into, bytes, position) => {
      reads++;
      entries.copy(into, 0, position, position + bytes);
    });
    for (const id of ['c0', 'c1', 'c19999', 'c12345', 'nope', 'c20000']) {
      const h = hashId64(id);
      const index = paged.find(h.hi, h.lo);
      expect(index).toBe(findEntry(entries, count, h.hi, h.lo));
      if (index !== -1) {
        expect(paged.entryAt(index)).toEqual(entryAt(entries, index));
        const n = Number(id.slice(1)) % 16;
        expect(paged.hasPayload(index, n.toString(16).repeat(64))).toBe(true);
        expect(paged.hasPayload(index, ((n + 1) % 16).toString(16).repeat(64))).toBe(false);
      }
    }
    expect(reads).toBeLessThanOrEqual(6);
    const reversed = new DirectoryBuilder();
    reversed.add(entries.subarray(ENTRY_BYTES, 2 * ENTRY_BYTES));
    reversed.add(entries.subarray(0, ENTRY_BYTES));
    expect(reversed.sorted).toBe(false);
  });

  it('finds a row unchanged in memory exactly when the entry of its id holds its payload', () => {
    const payloadOf = (i: number) =>
      createHash('sha256')
        .update(`p${i % 50}`)
        .digest('hex');
    const log = new OutcomeLog();
    for (let i = 0; i < 5_000; i++) log.confirm(`c${i}`, payloadOf(i));
    const { entries, count } = mergeToBuffer(empty, 0, log, 1);
    const builder = new DirectoryBuilder(count);
    for (let at = 0; at < entries.length; at += 13 * ENTRY_BYTES) {
      builder.add(entries.subarray(at, Math.min(entries.length, at + 13 * ENTRY_BYTES)));
    }
    const index = new CheckIndex(builder.finish(), builder.checks);
    const exact = new SortedEntries(entries, count);
    expect(builder.sorted).toBe(true);
    expect(index.count).toBe(5_000);
    const unchanged = (id: string, sha256: string) => {
      const h = hashId64(id);
      return index.find(h.hi, h.lo, hexWord(sha256, 0), hexWord(sha256, 8));
    };
    let found = 0;
    for (let i = 0; i < 5_000; i++) {
      const at = unchanged(`c${i}`, payloadOf(i));
      const h = { ...hashId64(`c${i}`) };
      expect(at).toBe(exact.find(h.hi, h.lo));
      if (at !== -1) found++;
      // Another id's payload (the same for every 50th id) is not this id's.
      expect(unchanged(`c${i}`, payloadOf(i + 1))).toBe(-1);
    }
    expect(found).toBe(5_000);
    // The same payload under an id the state does not hold, and in upper case.
    expect(unchanged('c5000', payloadOf(0))).toBe(-1);
    expect(unchanged('c7', payloadOf(7).toUpperCase())).not.toBe(-1);
    // More entries than announced: not a state to trust.
    const short = new DirectoryBuilder(2);
    short.add(entries.subarray(0, 3 * ENTRY_BYTES));
    expect(short.sorted).toBe(false);
  });

  it('reads a hex word, refusing what is not hex', () => {
    expect(hexWord('ffffffff', 0)).toBe(0xffffffff);
    expect(hexWord('00000001ABCDEF09', 8)).toBe(0xabcdef09);
    expect(hexWord('0000000g', 0)).toBe(-1);
    expect(hexWord('0000 000', 0)).toBe(-1);
    expect(hexWord('123', 0)).toBe(-1);
  });

  it('gives the same entries whether the outcomes fit one sorted run or need hundreds', () => {
    const fill = (log: OutcomeLog) => {
      for (let i = 0; i < 2_000; i++) {
        const id = `r${(i * 7919) % 700}`; // every id several times, out of order
        if (i % 9 === 0) log.forget(id);
        else log.confirm(id, createHash('sha256').update(String(i)).digest('hex'));
      }
    };
    const first = new OutcomeLog();
    for (let i = 0; i < 900; i += 2) first.confirm(`r${i}`, sha('a'));
    const old = mergeToBuffer(empty, 0, first, 1);
    const one = new OutcomeLog();
    fill(one);
    const many = new OutcomeLog(MEMORY_SPILL, 3);
    fill(many);
    const a = mergeToBuffer(old.entries, old.count, one, 2);
    const b = mergeToBuffer(old.entries, old.count, many, 2);
    expect(b.count).toBe(a.count);
    expect(b.entries.equals(a.entries)).toBe(true);
    expect(isSorted(b.entries, b.count)).toBe(true);
  });

  it('spills sorted runs to temp files and removes them when closed', () => {
    const dir = mkdtempSync(join(tmpdir(), 'spill-'));
    try {
      const spill = new FileSpill(dir);
      const log = new OutcomeLog(spill, 100);
      for (let i = 0; i < 1_000; i++) log.confirm(`s${i}`, sha('b'));
      const inFiles = mergeToBuffer(empty, 0, log, 3);
      // Ten runs of 100: nine in files, the last one kept in memory for the merge.
      expect(readdirSync(dir).filter((n) => n.endsWith('.tmp'))).toHaveLength(9);
      spill.close();
      expect(readdirSync(dir)).toEqual([]);
      const inMemory = new OutcomeLog();
      for (let i = 0; i < 1_000; i++) inMemory.confirm(`s${i}`, sha('b'));
      expect(inFiles.entries.equals(mergeToBuffer(empty, 0, inMemory, 3).entries)).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('sorts outcomes by id hash, equal hashes in file order, crowded buckets included', () => {
    const n = 20_000;
    const hi = new Uint32Array(n);
    const lo = new Uint32Array(n);
    let seed = 7;
    const rand = () => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed;
    };
    for (let i = 0; i < n; i++) {
      if (i % 5 === 0 && i > 0) {
        // a repeat of an earlier id
        const j = rand() % i;
        hi[i] = hi[j] as number;
        lo[i] = lo[j] as number;
      } else if (i % 7 === 0) {
        // a crowded bucket: the same top 16 bits
        hi[i] = (0xabcd0000 | (rand() & 0xffff)) >>> 0;
        lo[i] = rand();
      } else {
        hi[i] = rand();
        lo[i] = rand();
      }
    }
    const expected = Array.from({ length: n }, (_, i) => i).sort(
      (a, b) =>
        (hi[a] as number) - (hi[b] as number) || (lo[a] as number) - (lo[b] as number) || a - b,
    );
    expect(Array.from(sortByHash(hi, lo, n))).toEqual(expected);
    expect(Array.from(sortByHash(hi, lo, 3))).toEqual(expected.filter((i) => i < 3));
  });
});
