import { describe, expect, it } from 'vitest';
import { InputFileError } from '../../../../src/errors.js';
import {
  type Mapping,
  parseFieldName,
  parseMapping,
} from '../../../../src/pipeline/payload/mapping.js';

function mappingError(value: unknown): InputFileError {
  try {
    parseMapping(value, 'mapping.json');
  } catch (error) {
    if (error instanceof InputFileError) return error;
    throw error;
  }
  throw new Error('expected parseMapping to throw');
}

describe('parseMapping', () => {
  it.each<[string, unknown, Mapping]>([
    ['an empty columns object is a valid mapping', { columns: {} }, { columns: {} }],
    [
      'field names, typed data keys and null are all accepted',
      {
        columns: {
          'Contact ID': 'id',
          'Full Name': 'name',
          Mail: 'email',
          Visible: 'public',
          Meta: 'data',
          Tier: { field: 'data.tier', type: 'number' },
          Region: { field: 'data.region' },
          Notes: null,
        },
      },
      {
        columns: {
          'Contact ID': 'id',
          'Full Name': 'name',
          Mail: 'email',
          Visible: 'public',
          Meta: 'data',
          Tier: { field: 'data.tier', type: 'number' },
          Region: { field: 'data.region' },
          Notes: null,
        },
      },
    ],
    [
      'ignoreUnknown is kept when given',
      { columns: { x: null }, ignoreUnknown: true },
      { columns: { x: null }, ignoreUnknown: true },
    ],
    [
      'a {field} target may name a plain field without a type',
      { columns: { Who: { field: 'name' } } },
      { columns: { Who: { field: 'name' } } },
    ],
  ])('%s', (_title, value, expected) => {
    expect(parseMapping(value, 'mapping.json')).toEqual(expected);
  });

  it('keeps a header literally named __proto__ as an ordinary key', () => {
    const mapping = parseMapping(
      JSON.parse('{"columns": {"__proto__": "data.proto", "constructor": null}}'),
      'mapping.json',
    );
    expect(Object.entries(mapping.columns)).toEqual([
      ['__proto__', 'data.proto'],
      ['constructor', null],
    ]);
    expect(({} as Record<string, unknown>).proto).toBeUndefined();
  });

  it.each<[string, unknown, string]>([
    [
      'a target that is not a field name names the key and the value',
      { columns: { Tier: 'tier' } },
      'mapping.json: columns."Tier": expected "id", "name", "phone", "email", "public", "data" or "data.<key>", got "tier"',
    ],
    [
      'field names are case-sensitive',
      { columns: { E: 'Email' } },
      'mapping.json: columns."E": expected "id", "name", "phone", "email", "public", "data" or "data.<key>", got "Email"',
    ],
    [
      'a data key cannot be empty',
      { columns: { D: 'data.' } },
      'mapping.json: columns."D": expected "id", "name", "phone", "email", "public", "data" or "data.<key>", got "data."',
    ],
    [
      'an unknown data type lists the types',
      { columns: { Tier: { field: 'data.tier', type: 'int' } } },
      'mapping.json: columns."Tier".type: expected "string", "number", "boolean" or "json", got "int"',
    ],
    [
      'a type on a field that is not a data key is refused',
      { columns: { Tier: { field: 'name', type: 'number' } } },
      'mapping.json: columns."Tier".type: a type applies only to "data.<key>" fields, got field "name"',
    ],
    [
      'a {field} target without field says so',
      { columns: { Tier: { type: 'number' } } },
      'mapping.json: columns."Tier".field: expected "id", "name", "phone", "email", "public", "data" or "data.<key>", got nothing',
    ],
    [
      'a misspelt key in a {field} target is named',
      { columns: { Tier: { field: 'data.tier', typ: 'number' } } },
      'mapping.json: columns."Tier": unknown key "typ": expected "field", "type", "values" or "lowercase"',
    ],
    [
      'a number target is refused',
      { columns: { Tier: 3 } },
      'mapping.json: columns."Tier": expected a field name, {"field": ...} or null, got 3',
    ],
    [
      'an array target is refused',
      { columns: { Tier: ['name'] } },
      'mapping.json: columns."Tier": expected a field name, {"field": ...} or null, got an array',
    ],
    [
      'a missing columns object is reported',
      {},
      'mapping.json: columns: expected an object of CSV header → field, got nothing',
    ],
    [
      'columns given as an array is reported',
      { columns: [] },
      'mapping.json: columns: expected an object of CSV header → field, got an array',
    ],
    [
      'a file that is not an object is reported',
      [],
      'mapping.json: expected an object with "columns", "fields" or "ignoreUnknown", got an array',
    ],
    [
      'a misspelt top-level key is named',
      { columns: {}, ignore_unknown: true },
      'mapping.json: unknown key "ignore_unknown": expected "columns", "fields" or "ignoreUnknown"',
    ],
    [
      'ignoreUnknown must be a boolean',
      { columns: {}, ignoreUnknown: 'yes' },
      'mapping.json: ignoreUnknown: expected true or false, got "yes"',
    ],
    [
      'an empty header key is refused',
      { columns: { ' ': 'name' } },
      'mapping.json: columns." ": header name is empty',
    ],
    [
      'two keys that are the same header once trimmed are refused',
      { columns: { ' Mail': 'email', Mail: null } },
      'mapping.json: columns."Mail": same header as " Mail" once trimmed',
    ],
    [
      'a __proto__ key is checked like any other',
      JSON.parse('{"columns": {"__proto__": "bogus"}}'),
      'mapping.json: columns."__proto__": expected "id", "name", "phone", "email", "public", "data" or "data.<key>", got "bogus"',
    ],
  ])('%s', (_title, value, message) => {
    const error = mappingError(value);
    expect(error.code).toBe('E_MAPPING');
    expect(error.location).toEqual({ file: 'mapping.json' });
    expect(error.exitCode).toBe(2);
    expect(error.message).toBe(message);
  });
});

describe('parseFieldName', () => {
  it.each<[string, ReturnType<typeof parseFieldName>]>([
    ['id', { kind: 'id' }],
    ['data', { kind: 'data' }],
    ['data.tier', { kind: 'data-key', key: 'tier' }],
    ['data.a.b', { kind: 'data-key', key: 'a.b' }],
    ['data.__proto__', { kind: 'data-key', key: '__proto__' }],
    ['data.', undefined],
    ['ID', undefined],
    ['phone', undefined],
  ])('resolves %j', (name, expected) => {
    expect(parseFieldName(name)).toEqual(expected);
  });
});
