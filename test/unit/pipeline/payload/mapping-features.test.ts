import { describe, expect, it } from 'vitest';
import { InputFileError } from '../../../../src/errors.js';
import { type Mapping, parseMapping } from '../../../../src/pipeline/payload/mapping.js';

function mappingError(value: unknown): InputFileError {
  try {
    parseMapping(value, 'map.json');
  } catch (error) {
    if (error instanceof InputFileError) return error;
    throw error;
  }
  throw new Error('expected parseMapping to throw');
}

describe('parseMapping: value maps, lowercase, templates', () => {
  it('keeps value maps, lowercase flags, phone targets and templates as written', () => {
    const value = {
      columns: {
        'Opt In': { field: 'public', values: { Y: true, N: false } },
        Stage: { field: 'data.stage', values: { L: 'lead', C: 'customer', X: null } },
        Mail: { field: 'email', lowercase: true },
        Mobile: 'phone',
      },
      fields: {
        name: { template: '{First Name} {Last Name}' },
        email: { template: '{User}@{Domain}', lowercase: true },
      },
    };
    const expected: Mapping = {
      columns: {
        'Opt In': { field: 'public', values: { Y: true, N: false } },
        Stage: { field: 'data.stage', values: { L: 'lead', C: 'customer', X: null } },
        Mail: { field: 'email', lowercase: true },
        Mobile: 'phone',
      },
      fields: {
        name: { template: '{First Name} {Last Name}' },
        email: { template: '{User}@{Domain}', lowercase: true },
      },
    };
    expect(parseMapping(value, 'map.json')).toEqual(expected);
  });

  it('keeps a value-map key named __proto__ as an ordinary key', () => {
    const mapping = parseMapping(
      JSON.parse('{"columns": {"S": {"field": "data.s", "values": {"__proto__": "x"}}}}'),
      'map.json',
    );
    const spec = mapping.columns.S as { values: Record<string, unknown> };
    expect(Object.entries(spec.values)).toEqual([['__proto__', 'x']]);
  });

  it.each<[string, unknown, string]>([
    [
      'a value map for public must give booleans, naming the cell',
      { columns: { 'Opt In': { field: 'public', values: { Y: 'yes' } } } },
      'map.json: columns."Opt In".values."Y": expected true or false for "public", got "yes"',
    ],
    [
      'a value map for a text field must give strings',
      { columns: { Who: { field: 'name', values: { A: 1 } } } },
      'map.json: columns."Who".values."A": expected a string for "name", got 1',
    ],
    [
      'a value map cannot be empty',
      { columns: { 'Opt In': { field: 'public', values: {} } } },
      'map.json: columns."Opt In".values: expected an object of cell → value with at least one entry, got an object',
    ],
    [
      'a value map must be an object',
      { columns: { 'Opt In': { field: 'public', values: ['Y'] } } },
      'map.json: columns."Opt In".values: expected an object of cell → value with at least one entry, got an array',
    ],
    [
      'two value-map keys that match the same cells are refused',
      { columns: { 'Opt In': { field: 'public', values: { Y: true, ' y': false } } } },
      'map.json: columns."Opt In".values." y": same cell as "Y" (cells are matched trimmed, any case)',
    ],
    [
      'an empty value-map key is refused',
      { columns: { 'Opt In': { field: 'public', values: { '': false } } } },
      'map.json: columns."Opt In".values."": an empty cell never reaches a value map (--empty decides what it means)',
    ],
    [
      'a value map on id is refused',
      { columns: { K: { field: 'id', values: { a: 'b' } } } },
      'map.json: columns."K".values: a value map applies to "name", "phone", "email", "public" or "data.<key>", got field "id"',
    ],
    [
      'a value map and a type do not go together',
      { columns: { S: { field: 'data.s', type: 'number', values: { a: 1 } } } },
      'map.json: columns."S".values: a value map says what to send, so it cannot be combined with "type"',
    ],
    [
      'lowercase applies only to email',
      { columns: { Who: { field: 'name', lowercase: true } } },
      'map.json: columns."Who".lowercase: lowercase applies only to "email", got field "name"',
    ],
    [
      'lowercase must be a boolean',
      { columns: { Mail: { field: 'email', lowercase: 'yes' } } },
      'map.json: columns."Mail".lowercase: expected true or false, got "yes"',
    ],
    [
      'fields must be an object',
      { columns: {}, fields: [] },
      'map.json: fields: expected an object of field → {"template": ...}, got an array',
    ],
    [
      'a template cannot build public',
      { columns: {}, fields: { public: { template: '{Opt}' } } },
      'map.json: fields."public": expected "name", "phone", "email" or "data.<key>" as a templated field, got "public"',
    ],
    [
      'a template cannot build the id',
      { columns: {}, fields: { id: { template: '{A}-{B}' } } },
      'map.json: fields."id": expected "name", "phone", "email" or "data.<key>" as a templated field, got "id"',
    ],
    [
      'a template that does not parse says where',
      { columns: {}, fields: { name: { template: '{First Name {Last Name}' } } },
      'map.json: fields."name".template: "{" inside a placeholder at character 1',
    ],
    [
      'a template without a placeholder is refused',
      { columns: {}, fields: { 'data.src': { template: 'crm' } } },
      'map.json: fields."data.src".template: has no "{column}" placeholder: a fixed text is not a mapping',
    ],
    [
      'a template must be text',
      { columns: {}, fields: { name: { template: 3 } } },
      'map.json: fields."name".template: expected a text such as "{First Name} {Last Name}", got 3',
    ],
    [
      'a template entry without its template says so',
      { columns: {}, fields: { name: { templat: '{A}' } } },
      'map.json: fields."name".template: expected a text such as "{First Name} {Last Name}", got nothing',
    ],
    [
      'a misspelt key in a template is named',
      { columns: {}, fields: { name: { template: '{A}', lower: true } } },
      'map.json: fields."name": unknown key "lower": expected "template" or "lowercase"',
    ],
    [
      'lowercase on a template applies only to email',
      { columns: {}, fields: { name: { template: '{A}', lowercase: true } } },
      'map.json: fields."name".lowercase: lowercase applies only to "email", got field "name"',
    ],
  ])('%s', (_title, value, message) => {
    const error = mappingError(value);
    expect(error.code).toBe('E_MAPPING');
    expect(error.location).toEqual({ file: 'map.json' });
    expect(error.message).toBe(message);
  });
});
