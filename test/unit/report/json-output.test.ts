import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InputFileError, RunAbortedError, UsageError } from '../../../src/errors.js';
import {
  ERROR_DETAIL_KEYS,
  errorJson,
  formatJson,
  JSON_SHAPES,
  jsonAsked,
  payloadCollector,
  payloadLogLine,
  reportJson,
  UPDATE_JSON_KEYS,
  updateJson,
  VALIDATE_JSON_KEYS,
  validateJson,
} from '../../../src/report/json-output.js';
import { ROOT } from '../../helpers.js';

/** The keys of the table under the `## \`name\`` heading of docs/json-output.md. */
function documentedKeys(doc: string, name: string): string[] {
  const start = doc.indexOf(`\n## \`${name}\``);
  if (start === -1) throw new Error(`docs/json-output.md has no section for ${name}`);
  const end = doc.indexOf('\n## ', start + 1);
  const section = doc.slice(start, end === -1 ? undefined : end);
  return [...section.matchAll(/^\| `([A-Za-z]+)` +\|/gm)].map((m) => m[1] as string);
}

describe('the documented shapes', () => {
  const doc = readFileSync(join(ROOT, 'docs', 'json-output.md'), 'utf8');

  it.each(Object.entries(JSON_SHAPES))(
    'docs/json-output.md lists the keys of %s, in order',
    (name, keys) => {
      expect(documentedKeys(doc, name)).toEqual([...keys]);
    },
  );

  it('starts every shape with schemaVersion and command', () => {
    for (const keys of Object.values(JSON_SHAPES))
      expect(keys.slice(0, 2)).toEqual(['schemaVersion', 'command']);
  });

  it('builds update with every key present, undefined as null', () => {
    const json = updateJson(
      {
        input: 'in.csv',
        resultsPath: 'out.csv',
        dryRun: false,
        rowsRead: 2,
        counts: {
          updated: 2,
          failed: 0,
          invalid: 0,
          'dry-run': 0,
          unchanged: 0,
          created: 0,
          uncertain: 0,
          alreadyDone: 0,
          alreadyDoneNotUpdated: 0,
        },
        requests: { sent: 2, throttled: 0, retried: 0 },
        elapsedMs: 10,
        rowsPerSecond: 200,
        stopped: undefined,
        unfinished: 0,
        topErrors: [],
        rate: { mode: 'fixed', currentPerSecond: 10, limitFoundPerSecond: null, maxPerSecond: 10 },
      },
      { exitCode: 0, resumeCommand: undefined },
    );
    expect(Object.keys(json)).toEqual([...UPDATE_JSON_KEYS]);
    expect(json).toMatchObject({
      stopped: null,
      resumeCommand: null,
      payloads: null,
      payloadsTruncated: false,
    });
    // JSON.stringify drops undefined: a key that is present in the object but undefined would vanish.
    expect(Object.keys(JSON.parse(formatJson(json)))).toEqual([...UPDATE_JSON_KEYS]);
  });

  it('builds validate with byColumn sorted most first and problemsTruncated from the counts', () => {
    const json = validateJson({
      input: 'in.csv',
      rows: 10,
      invalid: 3,
      byColumn: new Map([
        ['email', 1],
        ['id', 2],
      ]),
      problems: [{ row: 2, line: 3, error: 'id: missing' }],
      invalidOut: undefined,
      exitCode: 1,
    });
    expect(Object.keys(json)).toEqual([...VALIDATE_JSON_KEYS]);
    expect(json).toMatchObject({
      valid: 7,
      byColumn: [
        { column: 'id', count: 2 },
        { column: 'email', count: 1 },
      ],
      problemsTruncated: true,
      invalidOut: null,
    });
  });

  it('names the results file resultsPath in report, as update does', () => {
    const json = reportJson(
      {
        path: 'r.csv',
        lines: 1,
        rows: 1,
        counts: {
          updated: 1,
          failed: 0,
          invalid: 0,
          'dry-run': 0,
          unchanged: 0,
          created: 0,
          uncertain: 0,
        },
        layout: 'update',
        uncertainRows: [],
        topErrors: [],
        tornLastLine: false,
      },
      { failedOut: undefined, exitCode: 0 },
    );
    expect(json).toMatchObject({ resultsPath: 'r.csv', failedOut: null, createdOut: null });
    expect(json).not.toHaveProperty('path');
  });
});

describe('errorJson', () => {
  it('keeps code, exit code and hint of a ClerkBulkError', () => {
    const err = new RunAbortedError('input broke', 'E_INPUT_MIDRUN');
    err.hint = 'to continue once that is fixed: clerk-bulk update ...';
    const json = errorJson(err, 'update');
    expect(Object.keys(json.error)).toEqual([...ERROR_DETAIL_KEYS]);
    expect(json).toEqual({
      schemaVersion: 1,
      command: 'update',
      error: { code: 'E_INPUT_MIDRUN', message: 'input broke', exitCode: 3, hint: err.hint },
    });
  });

  it.each([
    [new UsageError('bad'), 'E_USAGE', 2],
    [new InputFileError('no header', 'E_INPUT_EMPTY', { file: 'a.csv' }), 'E_INPUT_EMPTY', 2],
    [new Error('a bug'), 'E_INTERNAL', 1],
  ])('gives %s the code %s and exit %i, hint null', (err, code, exitCode) => {
    expect(errorJson(err, undefined)).toMatchObject({
      command: null,
      error: { code, exitCode, hint: null },
    });
  });
});

describe('dry-run payloads', () => {
  const info = (row: number) => ({
    row,
    id: `c${row}`,
    path: `/public/contacts/c${row}`,
    body: `{"name":"N${row}"}`,
  });

  it('keeps the first N and says when there were more', () => {
    const collector = payloadCollector(2);
    for (let row = 1; row <= 5; row++) collector.add(info(row));
    const { list, truncated } = collector.result();
    expect(list.map((p) => p.row)).toEqual([1, 2]);
    expect(list[0]).toEqual({
      row: 1,
      id: 'c1',
      method: 'PUT',
      path: '/public/contacts/c1',
      body: { name: 'N1' },
    });
    expect(truncated).toBe(true);
  });

  it('is not truncated when every payload fits', () => {
    const collector = payloadCollector(2);
    collector.add(info(1));
    collector.add(info(2));
    expect(collector.result().truncated).toBe(false);
  });

  it('writes a --log json payload line that parses, body as an object', () => {
    const line = payloadLogLine(info(7));
    expect(line.endsWith('}\n')).toBe(true);
    expect(JSON.parse(line)).toMatchObject({
      event: 'payload',
      row: 7,
      id: 'c7',
      method: 'PUT',
      body: { name: 'N7' },
    });
  });
});

describe('formatJson', () => {
  it('escapes bidirectional overrides and C1 controls, and still parses to the same text', () => {
    const text = 'a\u202eb\u009bc\u2028d';
    const line = formatJson({ text });
    expect(line).not.toMatch(/[\u202e\u009b\u2028]/);
    expect(line).toContain('\\u202e');
    expect(JSON.parse(line)).toEqual({ text });
  });
});

describe('jsonAsked, read from argv before option checking', () => {
  it.each([
    [['update', 'in.csv', '--json'], {}, true, 'update'],
    [['validate', 'in.csv', '--json=true'], {}, true, 'validate'],
    [['report', 'r.csv', '--json=yes'], {}, true, 'report'],
    [['update', 'in.csv', '--json=0'], {}, false, 'update'],
    [['update', 'in.csv', '--json', '--no-json'], {}, false, 'update'],
    [['update', 'in.csv', '--no-json=false'], {}, true, 'update'],
    [['update', 'in.csv', '--json=maybe'], {}, false, 'update'],
    [['update', 'in.csv', '--', '--json'], {}, false, 'update'],
    [['update', 'in.csv', '--jsonx'], {}, false, 'update'],
    [['update', 'in.csv'], { CLERK_BULK_JSON: '1' }, true, 'update'],
    [['update', 'in.csv'], { CLERK_BULK_JSON: 'maybe' }, false, 'update'],
    [['update', 'in.csv'], { CLERK_BULK_JSON: '' }, false, 'update'],
    [['update', 'in.csv', '--no-json'], { CLERK_BULK_JSON: 'true' }, false, 'update'],
    [['mock-server'], { CLERK_BULK_JSON: '1' }, false, undefined],
    [['updte', 'in.csv', '--json'], {}, true, undefined],
    [[], {}, false, undefined],
  ])('%j with env %j: json %s, command %s', (argv, env, json, command) => {
    expect(jsonAsked(argv, env)).toEqual({ json, command });
  });
});
