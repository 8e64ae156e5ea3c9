import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { planColumns } from '../../../../src/pipeline/payload/columns.js';
import type { Mapping } from '../../../../src/pipeline/payload/mapping.js';
import {
  contactPath,
  createRowValidator,
  type RowOutcome,
  type RowValidatorOptions,
} from '../../../../src/pipeline/payload/to-payload.js';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

function validator(
  header: string[],
  options: Partial<RowValidatorOptions> & { mapping?: Mapping } = {},
): (cells: string[]) => RowOutcome {
  const { mapping, empty = 'omit' } = options;
  const plan = planColumns(
    header,
    mapping === undefined ? { file: 'in.csv' } : { file: 'in.csv', mapping },
  );
  return createRowValidator(plan, { empty });
}

function accepted(outcome: RowOutcome): Extract<RowOutcome, { ok: true }> {
  if (!outcome.ok)
    throw new Error(`expected a valid row, got: ${outcome.column}: ${outcome.message}`);
  return outcome;
}

function rejected(outcome: RowOutcome): Extract<RowOutcome, { ok: false }> {
  if (outcome.ok) throw new Error(`expected an invalid row, got body ${outcome.body}`);
  return outcome;
}

const ALL = ['id', 'name', 'email', 'public', 'data'];
const TYPED: Mapping = {
  columns: {
    n: { field: 'data.n', type: 'number' },
    b: { field: 'data.b', type: 'boolean' },
    j: { field: 'data.j', type: 'json' },
    s: { field: 'data.s', type: 'string' },
  },
};

describe('createRowValidator: rows that are sent', () => {
  it.each<
    [string, string[], string[], Partial<RowValidatorOptions> & { mapping?: Mapping }, string]
  >([
    [
      'every field is sent, trimmed',
      ALL,
      ['c1', '  Ada Lovelace ', ' ada@example.com ', 'true', '{"tier":"gold"}'],
      {},
      '{"name":"Ada Lovelace","email":"ada@example.com","public":true,"data":{"tier":"gold"}}',
    ],
    [
      'keys are in name, email, public, data order whatever the column order',
      ['data.x', 'public', 'email', 'id', 'name'],
      ['1', 'no', 'b@example.com', 'c1', 'Bob'],
      {},
      '{"name":"Bob","email":"b@example.com","public":false,"data":{"x":"1"}}',
    ],
    [
      'email case is kept as written',
      ['id', 'email'],
      ['c1', 'Bob.Smith@Example.COM'],
      {},
      '{"email":"Bob.Smith@Example.COM"}',
    ],
    ['public accepts YES in any case', ['id', 'public'], ['c1', 'YES'], {}, '{"public":true}'],
    ['public accepts " No "', ['id', 'public'], ['c1', ' No '], {}, '{"public":false}'],
    ['public accepts 1', ['id', 'public'], ['c1', '1'], {}, '{"public":true}'],
    ['public accepts 0', ['id', 'public'], ['c1', '0'], {}, '{"public":false}'],
    ['public accepts False', ['id', 'public'], ['c1', 'False'], {}, '{"public":false}'],
    [
      'unicode names are sent as they are',
      ['id', 'name'],
      ['c1', 'Zoë 李 😀'],
      {},
      '{"name":"Zoë 李 😀"}',
    ],
    [
      'a name of exactly 1,000 characters is accepted',
      ['id', 'name'],
      ['c1', 'x'.repeat(1000)],
      {},
      `{"name":"${'x'.repeat(1000)}"}`,
    ],
    [
      'data.<key> columns are applied over the data column, later wins',
      ['id', 'data.tier', 'data', 'data.region'],
      ['c1', 'platinum', '{"tier":"gold","score":3}', 'EU'],
      {},
      '{"data":{"tier":"platinum","score":3,"region":"EU"}}',
    ],
    [
      'typed data keys are converted',
      ['id', 'n', 'b', 'j', 's'],
      ['c1', ' -1.5e3 ', 'Yes', '{"a":[1,2]}', '  text  '],
      { mapping: TYPED },
      '{"data":{"n":-1500,"b":true,"j":{"a":[1,2]},"s":"text"}}',
    ],
    [
      'a number may start with a dot',
      ['id', 'n'],
      ['c1', '.5'],
      { mapping: TYPED },
      '{"data":{"n":0.5}}',
    ],
    [
      'a json data key may hold null',
      ['id', 'j'],
      ['c1', 'null'],
      { mapping: TYPED },
      '{"data":{"j":null}}',
    ],
    [
      'a string data key keeps digits as text',
      ['id', 'data.zip'],
      ['c1', '01234'],
      {},
      '{"data":{"zip":"01234"}}',
    ],
    ['an empty data object is still an update', ['id', 'data'], ['c1', '{}'], {}, '{"data":{}}'],
    [
      'empty cells are left out with --empty omit',
      ALL,
      ['c1', '', '   ', 'yes', ''],
      { empty: 'omit' },
      '{"public":true}',
    ],
    [
      'empty name, email and data keys are sent as null with --empty null',
      ['id', 'name', 'email', 'data.tier', 'n'],
      ['c1', '', ' ', '', '\t'],
      { empty: 'null', mapping: TYPED },
      '{"name":null,"email":null,"data":{"tier":null,"n":null}}',
    ],
    [
      'empty public and data are left out even with --empty null',
      ALL,
      ['c1', 'Ada', '', ' ', ''],
      { empty: 'null' },
      '{"name":"Ada","email":null}',
    ],
    [
      'ignored columns are not read at all',
      ['id', 'Notes', 'name'],
      ['c1', '\u0000 not checked', 'Ada'],
      { mapping: { columns: { Notes: null } } },
      '{"name":"Ada"}',
    ],
  ])('%s', (_title, header, cells, options, body) => {
    const outcome = accepted(validator(header, options)(cells));
    expect(outcome.body).toBe(body);
    expect(outcome.payload).toEqual(JSON.parse(body));
    expect(outcome.sha256).toBe(sha256(body));
  });

  it.each([
    ['01', '01'],
    ['1e0', '1e0'],
    ['12345678901234567890', '12345678901234567890'],
    ['  007 ', '007'],
    ['a/b?c#d', 'a/b?c#d'],
    ['..%2f', '..%2f'],
    ['contact 李', 'contact 李'],
  ])('the id %j is kept as written (%j), never converted', (cell, id) => {
    const outcome = accepted(validator(['id', 'name'])([cell, 'Ada']));
    expect(outcome.id).toBe(id);
  });

  it('gives the same body and hash for the same row every time', () => {
    const validate = validator(['email', 'id', 'data', 'name']);
    const cells = ['a@example.com', 'c1', '{"b":1,"a":2}', 'Ada'];
    const first = accepted(validate(cells));
    const second = accepted(validate([...cells]));
    expect(second.body).toBe(first.body);
    expect(second.sha256).toBe(first.sha256);
  });
});

describe('createRowValidator: rows that are refused', () => {
  it.each<
    [
      string,
      string[],
      string[],
      Partial<RowValidatorOptions> & { mapping?: Mapping },
      string | undefined,
      string,
    ]
  >([
    [
      'a row with more fields than the header',
      ['id', 'name'],
      ['c1', 'Ada', 'extra'],
      {},
      undefined,
      'row has 3 fields, header has 2',
    ],
    [
      'a row with fewer fields than the header',
      ['id', 'name', 'email'],
      ['c1', 'Ada'],
      {},
      undefined,
      'row has 2 fields, header has 3',
    ],
    ['an empty id', ['id', 'name'], ['  ', 'Ada'], {}, 'id', 'missing: the cell is empty'],
    ['the id "."', ['id', 'name'], ['.', 'Ada'], {}, 'id', '"." is not a usable contact id'],
    ['the id ".."', ['id', 'name'], [' .. ', 'Ada'], {}, 'id', '".." is not a usable contact id'],
    [
      'an id with a control character',
      ['id', 'name'],
      ['c\u00071', 'Ada'],
      {},
      'id',
      'contains a control character: "c\\u00071"',
    ],
    [
      'an id with DEL',
      ['id', 'name'],
      ['c\u007f', 'Ada'],
      {},
      'id',
      'contains a control character: "c\\u007f"',
    ],
    [
      'an id with a lone surrogate',
      ['id', 'name'],
      ['c\ud800', 'Ada'],
      {},
      'id',
      'id is not valid Unicode',
    ],
    [
      'a bad id is reported under the mapped header',
      ['Contact ID', 'name'],
      ['', 'Ada'],
      { mapping: { columns: { 'Contact ID': 'id' } } },
      'Contact ID',
      'missing: the cell is empty',
    ],
    [
      'a name with a line break',
      ['id', 'name'],
      ['c1', 'Ada\nLovelace'],
      {},
      'name',
      'contains a control character: "Ada\\nLovelace"',
    ],
    [
      'a name over 1,000 characters',
      ['id', 'name'],
      ['c1', 'x'.repeat(1001)],
      {},
      'name',
      `name is longer than 1000 characters (1001): "${'x'.repeat(40)}"…`,
    ],
    [
      'an invalid email',
      ['id', 'email'],
      ['c1', ' bob@ '],
      {},
      'email',
      'not a valid email address: "bob@"',
    ],
    [
      'a public value outside the accepted spellings',
      ['id', 'public'],
      ['c1', 'maybe'],
      {},
      'public',
      'expected true/false, yes/no or 1/0, got "maybe"',
    ],
    [
      'a data column holding an array',
      ['id', 'data'],
      ['c1', '[1]'],
      {},
      'data',
      'expected a JSON object, got an array',
    ],
    [
      'a data column holding null',
      ['id', 'data'],
      ['c1', 'null'],
      {},
      'data',
      'expected a JSON object, got null',
    ],
    [
      'a data column holding a number',
      ['id', 'data'],
      ['c1', '42'],
      {},
      'data',
      'expected a JSON object, got a number: "42"',
    ],
    [
      'a data column that is not JSON',
      ['id', 'data'],
      ['c1', '{tier: 1}'],
      {},
      'data',
      'not valid JSON (',
    ],
    [
      'a number data key that is text',
      ['id', 'n'],
      ['c1', 'abc'],
      { mapping: TYPED },
      'n',
      'not a number: "abc"',
    ],
    [
      'a number data key of Infinity',
      ['id', 'n'],
      ['c1', 'Infinity'],
      { mapping: TYPED },
      'n',
      'not a number',
    ],
    [
      'a number data key in hex',
      ['id', 'n'],
      ['c1', '0x10'],
      { mapping: TYPED },
      'n',
      'not a number',
    ],
    [
      'a number data key with a decimal comma',
      ['id', 'n'],
      ['c1', '1,5'],
      { mapping: TYPED },
      'n',
      'not a number',
    ],
    [
      'a number data key too large to send exactly',
      ['id', 'n'],
      ['c1', '12345678901234567890'],
      { mapping: TYPED },
      'n',
      'integer too large to send exactly as a number (use type "string")',
    ],
    [
      'a boolean data key outside the accepted spellings',
      ['id', 'b'],
      ['c1', 'y'],
      { mapping: TYPED },
      'b',
      'expected true/false, yes/no or 1/0, got "y"',
    ],
    [
      'a json data key that is not JSON',
      ['id', 'j'],
      ['c1', '{'],
      { mapping: TYPED },
      'j',
      'not valid JSON',
    ],
    [
      'a row with only an id',
      ['id', 'name', 'email'],
      ['c1', '', ' '],
      {},
      undefined,
      'nothing to update: every field is empty',
    ],
    [
      'a row whose only values are an empty public and data, even with --empty null',
      ['id', 'public', 'data'],
      ['c1', '', ''],
      { empty: 'null' },
      undefined,
      'nothing to update: every field is empty',
    ],
    [
      'several bad cells: the first column is reported and the others named',
      ['public', 'id', 'email', 'name'],
      ['maybe', 'c1', 'nope', 'Ada\u0000'],
      {},
      'public',
      'expected true/false, yes/no or 1/0, got "maybe"; also invalid: "email", "name"',
    ],
    [
      'control characters in an excerpt are shown escaped',
      ['id', 'email'],
      ['c1', 'a\u0000\u009b\u202eb@'],
      {},
      'email',
      'not a valid email address: "a\\u0000\\u009b\\u202eb@"',
    ],
  ])('%s', (_title, header, cells, options, column, fragment) => {
    const outcome = rejected(validator(header, options)(cells));
    expect(outcome.column).toBe(column);
    expect(outcome.message).toContain(fragment);
    expect(outcome.message).not.toMatch(/[\n\r]/);
    expect(outcome.sha256).toBe(sha256(JSON.stringify(cells)));
  });

  it('refuses a value in a column with no header, naming the column by position', () => {
    const validate = validator(['id', 'name', '']);
    expect(accepted(validate(['c1', 'Ada', ' '])).body).toBe('{"name":"Ada"}');
    const outcome = rejected(validate(['c1', 'Ada', 'oops']));
    expect(outcome.column).toBe('column 3 (no header)');
    expect(outcome.message).toContain('this column has no header');
  });

  it('lists every bad column, in column order', () => {
    const outcome = rejected(validator(['id', 'email', 'public'])(['', 'bob@', 'maybe']));
    expect(outcome.column).toBe('id');
    expect(outcome.columns).toEqual(['id', 'email', 'public']);
    expect(outcome.message).toContain('also invalid: "email", "public"');
  });

  it('reports the trimmed id of a refused row', () => {
    const outcome = rejected(validator(['id', 'email'])([' c1 ', 'bob@']));
    expect(outcome.id).toBe('c1');
  });

  it('reports an empty id for a short row without the id cell', () => {
    const outcome = rejected(validator(['name', 'id'])(['Ada']));
    expect(outcome.id).toBe('');
  });

  it('notices an edited invalid row by its hash', () => {
    const validate = validator(['id', 'email']);
    expect(rejected(validate(['c1', 'bob@'])).sha256).not.toBe(
      rejected(validate(['c1', 'bob@x'])).sha256,
    );
  });
});

describe('createRowValidator: prototype pollution', () => {
  it.each<[string, string[], string[], Mapping | undefined, string]>([
    [
      'a data cell with a __proto__ key',
      ['id', 'data'],
      ['c1', '{"__proto__": {"polluted": 1}}'],
      undefined,
      '{"data":{"__proto__":{"polluted":1}}}',
    ],
    [
      'a data.__proto__ json column',
      ['id', 'data.__proto__'],
      ['c1', '{"polluted": 1}'],
      { columns: { 'data.__proto__': { field: 'data.__proto__', type: 'json' } } },
      '{"data":{"__proto__":{"polluted":1}}}',
    ],
    [
      'data.constructor and data.prototype columns over a data cell with __proto__',
      ['id', 'data', 'data.constructor', 'data.prototype'],
      [
        'c1',
        '{"__proto__": {"polluted": 1}, "constructor": {"prototype": {"polluted": 1}}}',
        'x',
        'y',
      ],
      undefined,
      '{"data":{"__proto__":{"polluted":1},"constructor":"x","prototype":"y"}}',
    ],
  ])('%s stays a plain key of data', (_title, header, cells, mapping, body) => {
    const outcome = accepted(validator(header, mapping === undefined ? {} : { mapping })(cells));
    expect(outcome.body).toBe(body);
    const data = outcome.payload.data ?? {};
    expect(Object.getPrototypeOf(data)).toBeNull();
    expect(Object.hasOwn(data, '__proto__')).toBe(true);
    // biome-ignore lint/suspicious/noExplicitAny: probing for pollution is the point
    expect(({} as any).polluted).toBeUndefined();
    // biome-ignore lint/suspicious/noExplicitAny: probing for pollution is the point
    expect((Object.prototype as any).polluted).toBeUndefined();
  });
});

describe('contactPath', () => {
  it.each([
    ['c1', '/public/contacts/c1'],
    ['a/b', '/public/contacts/a%2Fb'],
    ['..%2f', '/public/contacts/..%252f'],
    ['../admin', '/public/contacts/..%2Fadmin'],
    ['?x', '/public/contacts/%3Fx'],
    ['#', '/public/contacts/%23'],
    ['Zoë 李', '/public/contacts/Zo%C3%AB%20%E6%9D%8E'],
    ['a b', '/public/contacts/a%20b'],
    ['a\\b', '/public/contacts/a%5Cb'],
    ['😀', '/public/contacts/%F0%9F%98%80'],
  ])('encodes %j as one path segment', (id, path) => {
    expect(contactPath(id)).toBe(path);
    const url = new URL(contactPath(id), 'https://web-api.clerk.chat');
    expect(url.pathname).toBe(path);
    expect(url.search).toBe('');
    expect(url.hash).toBe('');
    expect(decodeURIComponent(url.pathname.slice('/public/contacts/'.length))).toBe(id);
  });

  it.each(['', '.', '..'])('refuses %j, which no encoding keeps in place', (id) => {
    expect(() => contactPath(id)).toThrow(TypeError);
  });
});
