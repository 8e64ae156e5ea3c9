/**
 * FastRecords must give exactly csv-parse's records and errors: random CSV texts fed in
 * random chunks to both, compared record for record (and error code and line).
 */
import { parse } from 'csv-parse';
import { describe, expect, it } from 'vitest';
import {
  canUseFastRecords,
  csvParseOptions,
  type FastRecordOptions,
  FastRecords,
} from '../../../../src/pipeline/input/fast-records.js';

interface Outcome {
  records: string[][];
  error?: { code: unknown; lines: unknown };
}

/** Feed `chunks` to a stream and collect its records and its error. */
function run(stream: NodeJS.ReadWriteStream, chunks: (string | Buffer)[]): Promise<Outcome> {
  return new Promise((resolve) => {
    const records: string[][] = [];
    let done = false;
    const finish = (error?: Outcome['error']) => {
      if (done) return;
      done = true;
      resolve(error === undefined ? { records } : { records, error });
    };
    stream.on('data', (r: string[]) => records.push(r));
    stream.on('end', () => finish());
    stream.on('error', (err: Error & { code?: unknown; lines?: unknown }) =>
      finish({ code: err.code, lines: err.lines }),
    );
    (async () => {
      for (const chunk of chunks) {
        if (done) return;
        if (!stream.write(chunk)) await new Promise((r) => setTimeout(r, 0));
      }
      if (!done) stream.end();
    })();
  });
}

/** A small seeded PRNG, so a failure can be replayed. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function pick<T>(rand: () => number, items: readonly T[]): T {
  return items[Math.floor(rand() * items.length)] as T;
}

const BREAKS = ['\n', '\r\n', '\r'];

function randomField(rand: () => number, delimiter: string): string {
  const kind = rand();
  if (kind < 0.2) return '';
  if (kind < 0.3) return pick(rand, [' ', '  ', '\t', ' \u00a0']);
  if (kind < 0.55) {
    // A quoted field: delimiters, escaped quotes, line breaks inside.
    let inner = '';
    const n = Math.floor(rand() * 6);
    for (let i = 0; i < n; i++) {
      inner += pick(rand, ['a', 'Lee', delimiter, '""', ' ', ...BREAKS, 'é', '😀']);
    }
    const after = rand() < 0.1 ? pick(rand, ['x', ' ', '"']) : '';
    return `"${inner}"${after}`;
  }
  if (kind < 0.65) return pick(rand, ['5" screen', '37°36\'37.8"N', 'a"b"c', 'x"', '"']);
  if (kind < 0.7) return pick(rand, ['a\rb', 'z\r']);
  let s = '';
  const n = 1 + Math.floor(rand() * 8);
  for (let i = 0; i < n; i++) s += pick(rand, ['a', 'b', '1', '+', ' ', 'ü', '@', '.', '😀']);
  return s;
}

function randomText(rand: () => number, delimiter: string): string {
  let text = rand() < 0.2 ? '\uFEFF' : '';
  const lines = Math.floor(rand() * 25);
  const width = 1 + Math.floor(rand() * 4);
  for (let l = 0; l < lines; l++) {
    const kind = rand();
    let line: string;
    if (kind < 0.08) line = '';
    else if (kind < 0.14) line = delimiter.repeat(Math.floor(rand() * 4));
    else if (kind < 0.18)
      line = pick(rand, [' ', ` ${delimiter} `, `\t${delimiter}`, '""', `""${delimiter}" "`]);
    else {
      const cells = width + (rand() < 0.2 ? Math.floor(rand() * 3) - 1 : 0);
      const fields = [];
      for (let c = 0; c < Math.max(1, cells); c++) fields.push(randomField(rand, delimiter));
      line = fields.join(delimiter) + (rand() < 0.05 ? delimiter : '');
    }
    const last = l === lines - 1;
    text += line + (last && rand() < 0.4 ? '' : rand() < 0.5 ? '\n' : '\r\n');
  }
  return text;
}

function randomChunks(rand: () => number, text: string): string[] {
  const chunks: string[] = [];
  let pos = 0;
  while (pos < text.length) {
    const size = rand() < 0.3 ? 1 + Math.floor(rand() * 3) : 1 + Math.floor(rand() * 40);
    let end = Math.min(text.length, pos + size);
    // The decoder never cuts a surrogate pair.
    const code = text.charCodeAt(end - 1);
    if (code >= 0xd800 && code < 0xdc00 && end < text.length) end++;
    chunks.push(text.slice(pos, end));
    pos = end;
  }
  return chunks;
}

async function compare(
  text: string,
  chunks: (string | Buffer)[],
  options: FastRecordOptions,
): Promise<void> {
  const expected = await run(parse(csvParseOptions(options, true)), chunks);
  const actual = await run(new FastRecords(options), chunks);
  expect({ text, actual }).toEqual({ text, actual: expected });
}

describe('FastRecords', () => {
  it('gives csv-parse records for thousands of random texts in random chunks', async () => {
    const rand = prng(20261201);
    for (let i = 0; i < 6000; i++) {
      const delimiter = pick(rand, [',', ',', ';', '\t', '|']);
      const text = randomText(rand, delimiter);
      const small = rand() < 0.15;
      const options: FastRecordOptions = {
        delimiter,
        // Small limits reach csv-parse's record-size error and the stream fallback.
        maxRecordSize: small ? 1 + Math.floor(rand() * 30) : 8 * 1024 * 1024,
        ...(rand() < 0.3
          ? {
              maxSegmentChars: Math.floor(rand() * 50),
              maxSegmentTries: 1 + Math.floor(rand() * 3),
            }
          : {}),
      };
      const chunks = rand() < 0.2 ? [text] : randomChunks(rand, text);
      await compare(text, chunks, options);
    }
  });

  it.each([
    ['plain lines', 'id,name\n1,Ann\n2,Bob\n'],
    ['a BOM, CRLF and no last line break', '\uFEFFid,name\r\n1,Ann\r\n2,Bob'],
    ['blank and delimiter-only lines', 'a,b\n\n,\n , \n\r\n1,2\n,,,\n'],
    ['a quoted field over lines', 'a,b\n1,"x\r\ny\nz"\n2,"q""r"\n'],
    ['an unclosed quote', 'a,b\n1,2\r\n3,"x\r\n4,5\n'],
    ['a literal quote in a cell', 'a,b\n5" screen,x\nx,"y" z\n'],
    ['a bare CR in a cell', 'a,b\nx\ry,z\r\r\n\r\n'],
    ['a BOM in the middle', 'a,b\n\uFEFFx,y\n'],
    [
      'quoted whole fields',
      'a,b\n"Turing, Grace",x\n"a","b"\n"a",,"b"\n,"a",\n"a"\na,"",b\n""""\n" ",""\n"a"\r\n',
    ],
    ['quotes that are not whole fields', 'a,b\n"a"b,c\n"a" ,c\n"a"",c\nx,"a""b"\n"a\rb",c\n"a"\r'],
    ['a lone surrogate', 'a,b\nx\ud800,y\n'],
  ])('matches csv-parse on %s', async (_title, text) => {
    const options = { delimiter: ',', maxRecordSize: 1024 };
    await compare(text, [text], options);
    await compare(text, [...text], options);
  });

  it('hands a line longer than a record may be to csv-parse as it reads, not at the end', async () => {
    // 200 chunks of 1 KB with no line break, records of at most 4 KB: csv-parse fails
    // at the record's 4 KB; held in memory, the text would be rescanned per chunk.
    const options = { delimiter: ',', maxRecordSize: 4096 };
    const chunks = Array.from({ length: 200 }, () => 'x'.repeat(1024));
    const fast = new FastRecords(options);
    let failed: unknown;
    fast.on('error', (err) => {
      failed = err;
    });
    fast.resume();
    let written = 0;
    for (const chunk of chunks) {
      if (failed !== undefined) break;
      fast.write(chunk);
      written++;
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect((failed as { code?: string } | undefined)?.code).toBe('CSV_MAX_RECORD_SIZE');
    // It failed long before the end of the input, as csv-parse does.
    expect(written).toBeLessThan(20);
    await compare('', chunks, options);
  });

  it('matches csv-parse on bytes', async () => {
    const text = 'a,b\n"é\n",😀\n';
    await compare(text, [Buffer.from(text).subarray(0, 9), Buffer.from(text).subarray(9)], {
      delimiter: ',',
      maxRecordSize: 1024,
    });
  });

  it('is used only where it is exact', () => {
    expect(canUseFastRecords(',', false, false)).toBe(true);
    expect(canUseFastRecords(',', true, false)).toBe(false);
    expect(canUseFastRecords(',', false, true)).toBe(false);
    expect(canUseFastRecords('"', false, false)).toBe(false);
    expect(canUseFastRecords('ab', false, false)).toBe(false);
  });
});
