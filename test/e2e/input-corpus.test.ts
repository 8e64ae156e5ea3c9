/**
 * The messy-input corpus (issue 5): every fixture in test/fixtures/input goes through
 * the real CLI (`update`) against the mock server, and each has one defined outcome:
 * a file-level error (exit 2, nothing sent, no results file) or per-row results, with
 * exactly these requests received. The README's "What clerk-bulk does with messy
 * files" table is this file in prose.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RecordedRequest, startMockServer } from '../../src/mock-server/index.js';
import {
  INPUT_FIXTURES as FIXTURES,
  RAW_TERMINAL_CONTROL,
  ROOT,
  readResults,
  runCli,
  updateArgv,
} from '../helpers.js';

const KEY = 'sk_corpus_key_1234';

/** [row, id as in the results file, status, a fragment of the error ('' = none)] */
type ResultSpec = [number, string, 'updated' | 'invalid', string?];
/** [request path, exact JSON body] */
type SentSpec = [string, string];

interface Case {
  /** Fixture file under test/fixtures/input, or a path already made. */
  file: string;
  /** More CLI arguments (`--map`, `--empty`, `--delimiter`). */
  args?: string[];
  code: 0 | 1 | 2;
  /** File-level error: a fragment of the one-line message on stderr. */
  error?: string;
  results?: ResultSpec[];
  sent?: SentSpec[];
  /** More checks on the requests received. */
  check?: (received: RecordedRequest[]) => void;
}

// One folder for the whole file (tests run concurrently; the shared helper's
// per-test cleanup would delete a neighbour's folder).
let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'clerk-bulk-corpus-'));
  // Generated rather than committed: a 3 MB cell and a 9 MiB record.
  writeFileSync(join(work, 'big-cell.csv'), `id,name\n1,${'x'.repeat(3_000_000)}\n2,Bob\n`);
  writeFileSync(
    join(work, 'huge-record.csv'),
    `id,name\n1,Ann\n2,"${'y'.repeat(9 * 1024 * 1024)}"\n3,Cy\n`,
  );
});
afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

const fixture = (name: string) => (name.includes('/') ? name : join(FIXTURES, name));
const put = (id: string, body: string): SentSpec => [`/public/contacts/${id}`, body];

async function runCase(title: string, c: Case): Promise<void> {
  const server = await startMockServer({ apiKey: KEY, ids: 'any' });
  try {
    const out = join(work, `${title.replace(/[^\w-]+/g, '_')}.results.csv`);
    const input =
      c.file === 'big-cell.csv' || c.file === 'huge-record.csv'
        ? join(work, c.file)
        : fixture(c.file);
    const args = (c.args ?? []).map((a) => (a.endsWith('.json') ? fixture(a) : a));
    const res = await runCli(updateArgv(input, out, server.url, '--quiet', ...args), {
      env: { CLERK_CHAT_API_KEY: KEY },
      timeoutMs: 30_000,
    });
    // Never a stack trace, never raw terminal controls, never a hang (runCli's timeout).
    expect(res.signal).toBeNull();
    expect(res.stderr).not.toMatch(/\n\s+at /);
    expect(res.stderr).not.toContain('internal error');
    expect(res.stdout + res.stderr).not.toMatch(RAW_TERMINAL_CONTROL);
    expect(res.code, res.stderr).toBe(c.code);
    const puts = server.requests.filter((r) => r.method === 'PUT');

    if (c.error !== undefined) {
      expect(res.stderr).toMatch(/^clerk-bulk: [^\n]+\n$/);
      expect(res.stderr).toContain(c.error);
      expect(puts).toEqual([]);
      expect(existsSync(out)).toBe(false);
      return;
    }
    const lines = readResults(out).sort((a, b) => Number(a.row) - Number(b.row));
    expect(lines.map((l) => [Number(l.row), l.id, l.status])).toEqual(
      (c.results ?? []).map(([row, id, status]) => [row, id, status]),
    );
    lines.forEach((line, i) => {
      const fragment = c.results?.[i]?.[3] ?? '';
      if (fragment === '') expect(line.error).toBe('');
      else expect(line.error).toContain(fragment);
    });
    const byPath = (a: SentSpec, b: SentSpec) => (a[0] + a[1] < b[0] + b[1] ? -1 : 1);
    expect(puts.map((r): SentSpec => [r.path, r.rawBody]).sort(byPath)).toEqual(
      [...(c.sent ?? [])].sort(byPath),
    );
    for (const r of puts) expect(r.status).toBe(200);
    c.check?.(puts);
  } finally {
    await server.close();
  }
}

const CASES: Record<string, Record<string, Case>> = {
  '1. mapping': {
    'a mapping renames, ignores and types data.* as string, number, boolean and JSON': {
      file: 'map-typed.csv',
      args: ['--map', 'map-typed.json'],
      code: 1,
      results: [
        [1, 'c1', 'updated'],
        [2, 'c2', 'invalid', 'Score: not a number: "lots"'],
        [
          3,
          'c3',
          'invalid',
          'VIP: expected true/false, yes/no or 1/0, got "maybe"; also invalid: "Meta"',
        ],
        [4, 'c4', 'updated'],
      ],
      sent: [
        put(
          'c1',
          '{"name":"Ann","data":{"score":42.5,"vip":true,"meta":{"a":[1,2]},"notes":"likes tea"}}',
        ),
        put(
          'c4',
          '{"name":"Di","data":{"score":-3,"vip":false,"meta":null,"notes":"line one\\nline two"}}',
        ),
      ],
    },
    'ignoreUnknown drops the columns the mapping does not name': {
      file: 'map-ignore-unknown.csv',
      args: ['--map', 'map-ignore-unknown.json'],
      code: 0,
      results: [
        [1, '1', 'updated'],
        [2, '2', 'updated'],
      ],
      sent: [put('1', '{"name":"Ann"}'), put('2', '{"name":"Bob"}')],
    },
    'the same file without the mapping is refused, naming the unknown columns': {
      file: 'map-ignore-unknown.csv',
      code: 2,
      error: 'line 1: unknown columns "Internal ref", "Owner": use --map to map or ignore them',
    },
    'the CRM sample and its mapping file (samples/)': {
      file: join(ROOT, 'samples', 'crm-export.csv'),
      args: ['--map', join(ROOT, 'samples', 'crm-mapping.json')],
      code: 0,
      results: [
        [1, '1001', 'updated'],
        [2, '1002', 'updated'],
        [3, '1003', 'updated'],
        [4, '1004', 'updated'],
      ],
      sent: [
        put(
          '1001',
          '{"name":"Ava Smith","email":"ava.smith@example.com","public":true,"data":{"tier":"gold","score":87}}',
        ),
        put(
          '1002',
          '{"name":"Liam Johnson","email":"liam.j@example.com","public":false,"data":{"tier":"silver","score":42}}',
        ),
        put(
          '1003',
          '{"name":"Noah Garcia","email":"noah.garcia@example.com","public":true,"data":{"tier":"bronze","score":15}}',
        ),
        put(
          '1004',
          '{"name":"Emma Müller","email":"emma.mueller@example.com","public":false,"data":{"tier":"gold","score":93}}',
        ),
      ],
    },
    'without a mapping, a data JSON column and data.<key> columns merge (keys win)': {
      file: 'data-columns.csv',
      code: 1,
      results: [
        [1, '1', 'updated'],
        [2, '2', 'updated'],
        [3, '3', 'invalid', 'data: expected a JSON object, got an array'],
        [4, '4', 'updated'],
      ],
      sent: [
        put('1', '{"data":{"source":"crm","tier":"gold","a.b":"x"}}'),
        put('2', '{"data":{"tier":"silver"}}'),
        put('4', '{"data":{"nested":{"k":true}}}'),
      ],
    },
    'unknown columns: the first five by name, how many more, and a case hint': {
      file: 'unknown-columns.csv',
      code: 2,
      error:
        'unknown columns "Phone", "Fax", "Company", "Title", "Dept" and 2 more: use --map to map or ignore them (field names are case-sensitive: did you mean "id" for "ID"?)',
    },
  },
  '2. empty cells': {
    '--empty omit (default): an empty cell is left out; a row with nothing left is invalid': {
      file: 'empty-cells.csv',
      code: 1,
      results: [
        [1, '1', 'updated'],
        [2, '2', 'invalid', 'nothing to update: every field is empty'],
        [3, '3', 'updated'],
        [4, '4', 'updated'],
      ],
      sent: [
        put('1', '{"name":"Ann"}'),
        put('3', '{"email":"ann@example.com"}'),
        put('4', '{"public":false}'),
      ],
    },
    '--empty null: an empty name, email or data.<key> is sent as null': {
      file: 'empty-cells.csv',
      args: ['--empty', 'null'],
      code: 0,
      results: [
        [1, '1', 'updated'],
        [2, '2', 'updated'],
        [3, '3', 'updated'],
        [4, '4', 'updated'],
      ],
      sent: [
        put('1', '{"name":"Ann","email":null,"data":{"tier":null}}'),
        put('2', '{"name":null,"email":null,"data":{"tier":null}}'),
        put('3', '{"name":null,"email":"ann@example.com","data":{"tier":null}}'),
        put('4', '{"name":null,"email":null,"public":false,"data":{"tier":null}}'),
      ],
    },
    '--empty null never sends {}: an empty public cannot be cleared': {
      file: 'only-public.csv',
      args: ['--empty', 'null'],
      code: 1,
      results: [
        [1, '5', 'invalid', 'nothing to update'],
        [2, '6', 'updated'],
      ],
      sent: [put('6', '{"public":true}')],
    },
  },
  '3. file format': {
    'UTF-8 with a BOM and CRLF line ends': {
      file: 'bom-crlf.csv',
      code: 0,
      results: [
        [1, '1', 'updated'],
        [2, '2', 'updated'],
      ],
      sent: [
        put('1', '{"name":"Ann","email":"ann@example.com"}'),
        put('2', '{"name":"Bob","email":"bob@example.com"}'),
      ],
    },
    'a BOM before a quoted header': {
      file: 'bom-quoted-header.csv',
      code: 0,
      results: [[1, '1', 'updated']],
      sent: [put('1', '{"name":"Ann"}')],
    },
    'mixed CRLF and LF, no newline at the end': {
      file: 'mixed-endings.csv',
      code: 0,
      results: [
        [1, '1', 'updated'],
        [2, '2', 'updated'],
        [3, '3', 'updated'],
      ],
      sent: [put('1', '{"name":"Ann"}'), put('2', '{"name":"Bob"}'), put('3', '{"name":"Cy"}')],
    },
    'CR-only line ends (old Mac exports)': {
      file: 'cr-only.csv',
      code: 0,
      results: [
        [1, '1', 'updated'],
        [2, '2', 'updated'],
      ],
      sent: [put('1', '{"name":"Ann"}'), put('2', '{"name":"Bob"}')],
    },
    'quoted line breaks are kept in data, refused in a name': {
      file: 'quoted-newlines.csv',
      code: 1,
      results: [
        [1, '1', 'updated'],
        [2, '2', 'updated'],
        [3, '3', 'invalid', 'name: contains a control character: "Cy\\nLee"'],
        [4, '4', 'updated'],
      ],
      sent: [
        put('1', '{"name":"Ann","data":{"address":"12 Main St\\nSpringfield"}}'),
        put('2', '{"name":"Bob","data":{"address":"1 Rue Haute\\r\\nParis"}}'),
        put('4', '{"name":"Di","data":{"address":"say \\"hi\\", twice"}}'),
      ],
    },
    'a semicolon-separated file is detected': {
      file: 'semicolon.csv',
      code: 0,
      results: [
        [1, '1', 'updated'],
        [2, '2', 'updated'],
      ],
      sent: [
        put('1', '{"name":"Ann","data":{"note":"a, b and c"}}'),
        put('2', '{"name":"Bob","data":{"note":"x;y"}}'),
      ],
    },
    'a tab-separated file is detected': {
      file: 'tab.csv',
      code: 0,
      results: [
        [1, '1', 'updated'],
        [2, '2', 'updated'],
      ],
      sent: [put('1', '{"name":"Ann","data":{"note":"a, b; c"}}'), put('2', '{"name":"Bob"}')],
    },
    'an undetectable delimiter reads as one unknown column...': {
      file: 'colon.csv',
      code: 2,
      error: 'unknown column "id:name": use --map',
    },
    '...and --delimiter reads it': {
      file: 'colon.csv',
      args: ['--delimiter', ':'],
      code: 0,
      results: [
        [1, '1', 'updated'],
        [2, '2', 'updated'],
      ],
      sent: [put('1', '{"name":"Ann"}'), put('2', '{"name":"Bob"}')],
    },
    'blank lines, blank-only lines and ",," lines are skipped and not numbered': {
      file: 'blank-lines.csv',
      code: 0,
      results: [
        [1, '1', 'updated'],
        [2, '2', 'updated'],
      ],
      sent: [put('1', '{"name":"Ann"}'), put('2', '{"name":"Bob"}')],
    },
    'Latin-1 bytes: refused, naming the line': {
      file: 'latin1.csv',
      code: 2,
      error: 'latin1.csv line 3: the file is not valid UTF-8',
    },
    'Windows-1252 bytes: refused, naming --encoding': {
      file: 'windows-1252.csv',
      code: 2,
      error:
        'windows-1252.csv line 2: the file is not valid UTF-8 (Latin-1 or Windows-1252?); save it as UTF-8, or use --encoding windows-1252',
    },
    'ISO-8859-1 bytes: refused, naming --encoding': {
      file: 'latin1-iso.csv',
      code: 2,
      error: 'latin1-iso.csv line 2: the file is not valid UTF-8',
    },
    'UTF-16LE tab-separated (Excel "Unicode text"): refused, naming --encoding utf-16le': {
      file: 'utf16le-tab.csv',
      code: 2,
      error:
        'line 1: the file is UTF-16 text; save it as UTF-8 (CSV UTF-8 in Excel), or use --encoding utf-16le',
    },
    'UTF-16 with a BOM: refused': {
      file: 'utf16le-bom.csv',
      code: 2,
      error: 'line 1: the file is UTF-16 text',
    },
    'UTF-16 without a BOM: refused': {
      file: 'utf16be-nobom.csv',
      code: 2,
      error: 'the file is UTF-16 text',
    },
    'a binary file: refused': { file: 'binary.csv', code: 2, error: 'NUL bytes: it is binary' },
    'a NUL byte in one cell: the whole file is refused, naming the line': {
      file: 'nul-cell.csv',
      code: 2,
      error: 'nul-cell.csv line 3: the file contains NUL bytes',
    },
    'an empty file: refused': {
      file: 'empty.csv',
      code: 2,
      error: 'the file is empty (no header line)',
    },
    'a whitespace-only file: refused': {
      file: 'whitespace-only.csv',
      code: 2,
      error: 'the file is empty (no header line)',
    },
    'a header-only file: nothing to do, exit 0': {
      file: 'header-only.csv',
      code: 0,
      results: [],
      sent: [],
    },
    'a duplicate header (after trimming): refused': {
      file: 'duplicate-header.csv',
      code: 2,
      error: 'line 1: column name "email" appears twice (columns 2 and 4)',
    },
    'an empty header name over data: refused before anything is sent, naming row and column': {
      file: 'empty-header.csv',
      code: 2,
      error: 'empty-header.csv row 2: column 3 has no header but holds data',
    },
    'an empty header name over an empty column (a trailing delimiter): allowed': {
      file: 'trailing-delimiter.csv',
      code: 0,
      results: [
        [1, '1', 'updated'],
        [2, '2', 'updated'],
      ],
      sent: [put('1', '{"name":"Ann"}'), put('2', '{"name":"Bob"}')],
    },
    'padded header names are trimmed': {
      file: 'padded-header.csv',
      code: 0,
      results: [[1, '1', 'updated']],
      sent: [put('1', '{"name":"Ann","email":"ann@example.com"}')],
    },
    'ragged rows are invalid; the others are sent': {
      file: 'ragged.csv',
      code: 1,
      results: [
        [1, '1', 'updated'],
        [2, '2', 'invalid', 'row has 3 fields, header has 2'],
        [3, '3', 'invalid', 'row has 1 fields, header has 2'],
        [4, '4', 'updated'],
      ],
      sent: [put('1', '{"name":"Ann"}'), put('4', '{"name":"Di"}')],
    },
    'an unclosed quote: refused before anything is sent, naming the line it opens on': {
      file: 'unclosed-quote.csv',
      code: 2,
      error: 'unclosed-quote.csv line 4: a quoted field opened here is never closed',
    },
    'stray quotes inside cells are text': {
      file: 'stray-quotes.csv',
      code: 0,
      results: [
        [1, '1', 'updated'],
        [2, '2', 'updated'],
        [3, '3', 'updated'],
      ],
      sent: [
        put('1', '{"name":"Ann","data":{"size":"5\\" screen"}}'),
        put('2', '{"name":"Bob","data":{"size":"5\\" screen"}}'),
        put('3', '{"name":"\\"Cy\\" Lee"}'),
      ],
    },
    'control characters: invalid in id and name, JSON-escaped in data': {
      file: 'control-chars.csv',
      code: 1,
      results: [
        [1, '1', 'invalid', 'name: contains a control character: "\\u001b[31mRed\\u001b[0m"'],
        [2, '2', 'invalid', 'name: contains a control character: "Car\\rriage"'],
        [3, '3', 'updated'],
        // The results file escapes control characters too (results.ts).
        [4, '4\\u0007', 'invalid', 'id: contains a control character: "4\\u0007"'],
        [5, '5', 'updated'],
      ],
      sent: [
        put('3', '{"name":"Ann","data":{"note":"tab\\there"}}'),
        put('5', '{"name":"Cy","data":{"note":"\\u001b]0;pwned\\u0007"}}'),
      ],
    },
    'a bare CR in an unquoted cell of an LF file stays in the cell': {
      file: 'stray-cr.csv',
      code: 1,
      results: [
        [1, '1', 'invalid', 'name: contains a control character: "Car\\rriage"'],
        [2, '2', 'updated'],
      ],
      sent: [put('2', '{"name":"Bob"}')],
    },
    'a 3 MB cell: that row is invalid, naming the column': {
      file: 'big-cell.csv',
      code: 1,
      results: [
        [1, '1', 'invalid', 'name: name is longer than 1000 characters (3000000)'],
        [2, '2', 'updated'],
      ],
      sent: [put('2', '{"name":"Bob"}')],
    },
    'a record over 8 MiB: refused before anything is sent': {
      file: 'huge-record.csv',
      code: 2,
      error: 'huge-record.csv line 3: a record starting here is larger than 8 MiB',
    },
  },
  '4. values': {
    'ids are opaque strings sent as one path segment; ".", ".." and blank are invalid': {
      file: 'ids.csv',
      code: 1,
      results: [
        [1, '01', 'updated'],
        [2, '1e0', 'updated'],
        [3, '12345678901234567890', 'updated'],
        [4, '42', 'updated'],
        [5, 'a/b?c#d', 'updated'],
        [6, '%2e%2e', 'updated'],
        [7, '.', 'invalid', 'id: "." is not a usable contact id'],
        [8, '..', 'invalid', 'id: ".." is not a usable contact id'],
        [9, '', 'invalid', 'id: missing: the cell is empty'],
        [10, 'Café ☕', 'updated'],
      ],
      sent: [
        put('01', '{"name":"A"}'),
        put('1e0', '{"name":"B"}'),
        put('12345678901234567890', '{"name":"C"}'),
        put('42', '{"name":"D"}'),
        put('a%2Fb%3Fc%23d', '{"name":"E"}'),
        put('%252e%252e', '{"name":"F"}'),
        put('Caf%C3%A9%20%E2%98%95', '{"name":"J"}'),
      ],
    },
    'public accepts true/false, yes/no, 1/0 in any case, nothing else': {
      file: 'public.csv',
      code: 1,
      results: [
        [1, '1', 'updated'],
        [2, '2', 'updated'],
        [3, '3', 'updated'],
        [4, '4', 'updated'],
        [5, '5', 'updated'],
        [6, '6', 'updated'],
        [7, '7', 'invalid', 'public: expected true/false, yes/no or 1/0, got "y"'],
        [8, '8', 'invalid', 'got "on"'],
        [9, '9', 'invalid', 'got "maybe"'],
      ],
      sent: [
        put('1', '{"public":true}'),
        put('2', '{"public":false}'),
        put('3', '{"public":true}'),
        put('4', '{"public":false}'),
        put('5', '{"public":true}'),
        put('6', '{"public":false}'),
      ],
    },
    'emails are trimmed and checked; case is kept': {
      file: 'emails.csv',
      code: 1,
      results: [
        [1, '1', 'updated'],
        [2, '2', 'invalid', 'email: not a valid email address: "not-an-email"'],
        [3, '3', 'invalid', 'email: not a valid email address: "bob@"'],
        [4, '4', 'invalid', 'email: not a valid email address'],
        [5, '5', 'updated'],
      ],
      sent: [put('1', '{"email":"ann@example.com"}'), put('5', '{"email":"Eve@Example.COM"}')],
    },
    '__proto__ and constructor are ordinary data keys, sent as such': {
      file: 'proto.csv',
      code: 0,
      results: [
        [1, '1', 'updated'],
        [2, '2', 'updated'],
      ],
      sent: [
        put('1', '{"data":{"__proto__":{"polluted":"yes"}}}'),
        put('2', '{"data":{"__proto__":"{\\"polluted\\":\\"yes\\"}","constructor":"ctor"}}'),
      ],
      check: (received) => {
        for (const r of received) {
          const data = (JSON.parse(r.rawBody) as { data: object }).data;
          expect(Object.hasOwn(data, '__proto__')).toBe(true);
        }
      },
    },
    'results cells a spreadsheet would run are neutralised; the request is not': {
      file: 'formulas.csv',
      code: 0,
      results: [
        [1, "'=1+1", 'updated'],
        [2, "'+33", 'updated'],
        [3, "'-7", 'updated'],
        [4, "'@home", 'updated'],
      ],
      sent: [
        put('%3D1%2B1', '{"name":"A"}'),
        put('%2B33', '{"name":"B"}'),
        put('-7', '{"name":"C"}'),
        put('%40home', '{"name":"D"}'),
      ],
    },
    'a header with terminal escapes is quoted escaped in the error': {
      file: 'terminal-header.csv',
      code: 2,
      error: 'unknown column "\\u001b[2Jboom"',
    },
  },
};

for (const [group, cases] of Object.entries(CASES)) {
  describe.concurrent(`messy input, ${group}`, () => {
    for (const [title, c] of Object.entries(cases)) {
      it(title, () => runCase(title, c));
    }
  });
}
