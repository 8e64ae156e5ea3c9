import {
  appendFileSync,
  existsSync,
  readFileSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { updateContacts } from '../../src/index.js';
import { cliTestBed, csv, runCli, writeFile } from '../helpers.js';

const ROWS = 200;
// Ids above 190 do not exist: those rows fail with a 404.
const bed = cliTestBed('sidecar-test-key', { ids: 190 });
const { env, puts } = bed;

const putIds = () =>
  puts()
    .map((r) => r.id)
    .sort((a, b) => Number(a) - Number(b));

/** 200 rows; row 7 has a bad email (invalid); every 25th row has no name. */
function contactsFile(): string {
  const rows = Array.from({ length: ROWS }, (_, i) => [
    `${i + 1}`,
    (i + 1) % 25 === 0 ? '' : `Person ${i + 1} v1`,
    i + 1 === 7 ? 'not-an-email' : `p${i + 1}@example.com`,
  ]);
  return writeFile(bed.dir, 'contacts.csv', csv(['id', 'name', 'email'], rows));
}

interface Summary {
  counts: Record<string, number>;
  requests: { sent: number };
  elapsedMs: number;
  rowsPerSecond: number;
  exitCode: number;
}

function comparable(stdout: string): Omit<Summary, 'elapsedMs' | 'rowsPerSecond'> {
  const { elapsedMs: _, rowsPerSecond: __, ...rest } = JSON.parse(stdout) as Summary;
  return rest;
}

/** Identity of the sidecar file: a full resume replaces it, the fast path leaves it. */
function sidecarIdentity(out: string) {
  const s = statSync(`${out}.complete.json`);
  return { ino: s.ino, mtimeMs: s.mtimeMs, text: readFileSync(`${out}.complete.json`, 'utf8') };
}

describe('resume of a finished run (<out>.complete.json)', () => {
  let input: string;
  let out: string;
  let args: string[];
  beforeEach(async () => {
    input = contactsFile();
    out = join(bed.dir, 'out.csv');
    args = ['update', input, '--out', out, '--base-url', bed.server.url, '--rate', '0', '--quiet'];
    const first = await runCli([...args, '--json'], { env });
    expect(first.code).toBe(1);
    expect(existsSync(`${out}.complete.json`)).toBe(true);
    bed.server.reset();
  });

  it('sends nothing and prints the same summary as the full resume', async () => {
    const before = sidecarIdentity(out);
    const resultsBefore = readFileSync(out);
    const fast = await runCli([...args, '--resume', '--json'], { env });
    expect(fast.stderr).toBe('');
    expect(puts()).toHaveLength(0);
    // The fast path touched neither the sidecar nor the results file.
    expect(sidecarIdentity(out)).toEqual(before);
    expect(readFileSync(out).equals(resultsBefore)).toBe(true);

    writeFileSync(`${out}.complete.json`, '{"version": 999}');
    const full = await runCli([...args, '--resume', '--json'], { env });
    expect(full.stderr).toBe('');
    expect(puts()).toHaveLength(0);
    expect(fast.code).toBe(full.code);
    expect(fast.code).toBe(1); // earlier failed and invalid rows keep a cron job red
    expect(comparable(fast.stdout)).toEqual(comparable(full.stdout));
    expect(comparable(fast.stdout)).toMatchObject({
      rowsRead: ROWS,
      counts: { updated: 0, failed: 0, invalid: 0, alreadyDone: ROWS, alreadyDoneNotUpdated: 11 },
      requests: { sent: 0 },
    });
    // The full resume read the whole input again and wrote a fresh sidecar.
    expect(JSON.parse(readFileSync(`${out}.complete.json`, 'utf8'))).toMatchObject({
      version: 1,
      rows: ROWS,
      counts: { updated: 189, failed: 10, invalid: 1 },
    });
  });

  it('re-sends exactly the edited rows when the input changed, even with its size and mtime kept', async () => {
    const { mtime } = statSync(input);
    const lines = readFileSync(input, 'utf8').split('\n');
    for (const row of [5, 17, 101]) lines[row] = (lines[row] as string).replace(' v1', ' v2');
    writeFileSync(input, lines.join('\n'));
    utimesSync(input, mtime, mtime); // only the sha256 of the bytes tells
    const res = await runCli([...args, '--resume'], { env });
    expect(res.code).toBe(1);
    expect(putIds()).toEqual(['5', '17', '101']);
    expect(bed.server.contacts.get('17')?.name).toBe('Person 17 v2');
  });

  it('falls back to the full resume when the results file was touched', async () => {
    const before = sidecarIdentity(out);
    const later = new Date(Date.now() + 60_000);
    utimesSync(out, later, later);
    const res = await runCli([...args, '--resume', '--json'], { env });
    expect(res.code).toBe(1);
    expect(puts()).toHaveLength(0);
    expect(
      sidecarIdentity(out).ino === before.ino && sidecarIdentity(out).text === before.text,
    ).toBe(false);
  });

  it('falls back to the full resume for another --empty, re-sending the rows it changes', async () => {
    const res = await runCli([...args, '--resume', '--empty', 'null'], { env });
    expect(res.code).toBe(1);
    // Every 25th row has an empty name, now sent as null; 200 does not exist (404).
    expect(putIds()).toEqual(['25', '50', '75', '100', '125', '150', '175', '200']);
  });

  it('falls back with --retry-failed when failed or invalid rows are on record', async () => {
    const res = await runCli([...args, '--resume', '--retry-failed'], { env });
    expect(res.code).toBe(1);
    expect(putIds()).toEqual(Array.from({ length: 10 }, (_, i) => String(191 + i)));
  });

  it('is ignored when it cannot be read, and deleted when a run rewrites the results', async () => {
    writeFileSync(`${out}.complete.json`, 'not json');
    const res = await runCli([...args, '--resume', '--json'], { env });
    expect(res.stderr).toBe('');
    expect(comparable(res.stdout).counts).toMatchObject({ alreadyDone: ROWS });
    expect(puts()).toHaveLength(0);

    // A --limit run does not read the whole input: the old sidecar goes, no new one.
    const limited = await runCli([...args, '--force', '--limit', '10'], { env });
    expect(limited.code).toBe(1); // row 7 is invalid
    expect(existsSync(`${out}.complete.json`)).toBe(false);
    // Nor does a dry run leave one.
    const dry = await runCli([...args, '--dry-run', '--force'], { env });
    expect(dry.code).toBe(1);
    expect(existsSync(`${out}.complete.json`)).toBe(false);
  });
});

describe('the sidecar is only written for an input that stayed put', () => {
  it('is not written when the input was edited during the run', async () => {
    const input = contactsFile();
    const out = join(bed.dir, 'out.csv');
    let edited = false;
    const summary = await updateContacts({
      input,
      out,
      apiKey: env.CLERK_CHAT_API_KEY,
      baseUrl: bed.server.url,
      ratePerSecond: 0,
      events: {
        // Once the last row is read: an edit the reader meets stops the run instead
        // (E_INPUT_CHANGED, see stops.test.ts); this one only the sidecar can notice.
        row(line) {
          if (edited || line.row !== ROWS) return;
          edited = true;
          appendFileSync(input, '999,Late Row,late@example.com\n');
        },
      },
    });
    expect(edited).toBe(true);
    expect(summary.stopped).toBeUndefined();
    expect(existsSync(`${out}.complete.json`)).toBe(false);
  });
});
