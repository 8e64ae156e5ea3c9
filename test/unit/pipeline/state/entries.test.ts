import { describe, expect, it } from 'vitest';
import {
  DirectoryBuilder,
  ENTRY_BYTES,
  entryAt,
  entryHasPayload,
  findEntry,
  hashId64,
  isSorted,
  JOURNAL_RECORD_BYTES,
  journalRecord,
  mergeToBuffer,
  OutcomeLog,
  PagedEntries,
  readJournal,
} from '../../../../src/pipeline/state/entries.js';

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

  it('drops a journalled id unless an outcome after the split confirms it again', () => {
    const first = new OutcomeLog();
    for (const id of ['kept', 'sentNoOutcome', 'earlierOnly', 'resent'])
      first.confirm(id, sha('a'));
    const old = mergeToBuffer(empty, 0, first, 100);

    const run = new OutcomeLog();
    run.confirm('earlierOnly', sha('b')); // an earlier attempt of a resume
    run.confirm('resent', sha('b'));
    run.markSplit();
    run.confirm('resent', sha('c')); // this run: confirmed again after its send
    run.confirm('fresh', sha('c'));
    const journal = readJournal(
      Buffer.concat(
        ['sentNoOutcome', 'earlierOnly', 'resent', 'resent', 'fresh', 'neverInState'].map((id) => {
          const h = hashId64(id);
          return journalRecord(h.hi, h.lo, Buffer.alloc(JOURNAL_RECORD_BYTES));
        }),
      ),
    );
    const merged = mergeToBuffer(old.entries, old.count, run, 200, journal);
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
    const run = new OutcomeLog();
    for (let i = 0; i < 3_000; i += 7) run.confirm(`k${i}`, sha('b'));
    for (let i = 1; i < 3_000; i += 11) run.forget(`k${i}`);
    for (let i = 3_000; i < 3_200; i++) run.confirm(`k${i}`, sha('c'));
    const journal = readJournal(
      Buffer.concat(
        [2, 13, 3_001].map((i) => {
          const h = hashId64(`k${i}`);
          return Buffer.from(journalRecord(h.hi, h.lo, Buffer.alloc(JOURNAL_RECORD_BYTES)));
        }),
      ),
    );
    const inMemory = mergeToBuffer(old.entries, old.count, run, 9, journal);
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
      { journal, chunkEntries: 64 },
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
});
