import { describe, expect, it } from 'vitest';
import { InputFileError } from '../../../../src/errors.js';
import { type FieldTarget, planColumns } from '../../../../src/pipeline/payload/columns.js';
import type { Mapping } from '../../../../src/pipeline/payload/mapping.js';

const FILE = 'contacts.csv';

function planError(header: string[], mapping?: Mapping): InputFileError {
  try {
    planColumns(header, mapping === undefined ? { file: FILE } : { file: FILE, mapping });
  } catch (error) {
    if (error instanceof InputFileError) return error;
    throw error;
  }
  throw new Error('expected planColumns to throw');
}

describe('planColumns', () => {
  it.each<[string, string[], Mapping | undefined, FieldTarget[], number]>([
    [
      'known field names are used as they are',
      ['id', 'name', 'email', 'public', 'data'],
      undefined,
      [{ kind: 'id' }, { kind: 'name' }, { kind: 'email' }, { kind: 'public' }, { kind: 'data' }],
      0,
    ],
    [
      'data.<key> columns default to string and keep dots after the first in the key',
      ['data.tier', 'id', 'data.a.b'],
      undefined,
      [
        { kind: 'data-key', key: 'tier', type: 'string' },
        { kind: 'id' },
        { kind: 'data-key', key: 'a.b', type: 'string' },
      ],
      1,
    ],
    [
      'a mapping renames, types and ignores columns',
      ['Contact ID', 'Tier', 'Notes', 'email'],
      {
        columns: {
          'Contact ID': 'id',
          Tier: { field: 'data.tier', type: 'number' },
          Notes: null,
          'Not in this file': 'name',
        },
      },
      [
        { kind: 'id' },
        { kind: 'data-key', key: 'tier', type: 'number' },
        { kind: 'ignore' },
        { kind: 'email' },
      ],
      0,
    ],
    [
      'a mapping entry wins over a header that is a field name',
      ['id', 'CRM id', 'name'],
      { columns: { id: 'data.legacy_id', 'CRM id': 'id', name: null } },
      [{ kind: 'data-key', key: 'legacy_id', type: 'string' }, { kind: 'id' }, { kind: 'ignore' }],
      1,
    ],
    [
      'ignoreUnknown ignores columns that are neither fields nor mapped',
      ['id', 'Phone', 'Owner'],
      { columns: {}, ignoreUnknown: true },
      [{ kind: 'id' }, { kind: 'ignore' }, { kind: 'ignore' }],
      0,
    ],
    [
      'mapping keys are matched against trimmed headers',
      [' Contact ID ', 'name'],
      { columns: { ' Contact ID': 'id' } },
      [{ kind: 'id' }, { kind: 'name' }],
      0,
    ],
    [
      'a header named like an Object.prototype member is not found in the mapping by accident',
      ['id', 'data.constructor'],
      { columns: {} },
      [{ kind: 'id' }, { kind: 'data-key', key: 'constructor', type: 'string' }],
      0,
    ],
  ])('%s', (_title, header, mapping, targets, idIndex) => {
    const plan = planColumns(
      header,
      mapping === undefined ? { file: FILE } : { file: FILE, mapping },
    );
    expect(plan.targets).toEqual(targets);
    expect(plan.idIndex).toBe(idIndex);
  });

  it('trims header names and drops a stray BOM', () => {
    const plan = planColumns(['\uFEFFid', '  name ', '\temail'], { file: FILE });
    expect(plan.header).toEqual(['id', 'name', 'email']);
    expect(plan.idIndex).toBe(0);
  });

  it('keeps columns with an empty header as unnamed, labelled by position', () => {
    const plan = planColumns(['id', ' ', 'name', ''], { file: FILE });
    expect(plan.targets).toEqual([
      { kind: 'id' },
      { kind: 'unnamed' },
      { kind: 'name' },
      { kind: 'unnamed' },
    ]);
    expect(plan.labels).toEqual(['id', 'column 2 (no header)', 'name', 'column 4 (no header)']);
  });

  it.each<[string, string[], Mapping | undefined, string, string]>([
    [
      'the same name twice after trimming is refused',
      ['id', 'email', ' email '],
      undefined,
      'E_HEADER_DUPLICATE',
      'column name "email" appears twice (columns 2 and 3)',
    ],
    [
      'two columns feeding one field are refused',
      ['id', 'Mail', 'email'],
      { columns: { Mail: 'email' } },
      'E_HEADER_DUPLICATE',
      'columns "Mail" and "email" both feed "email"',
    ],
    [
      'two columns feeding one data key are refused',
      ['id', 'Tier', 'data.tier'],
      { columns: { Tier: { field: 'data.tier', type: 'number' } } },
      'E_HEADER_DUPLICATE',
      'columns "Tier" and "data.tier" both feed "data.tier"',
    ],
    [
      'a second id column is refused',
      ['id', 'Contact ID'],
      { columns: { 'Contact ID': 'id' } },
      'E_HEADER_DUPLICATE',
      'both feed "id"',
    ],
    [
      'a data. column without a key is refused',
      ['id', 'data.'],
      undefined,
      'E_HEADER_DATA_KEY',
      'column "data." has no key',
    ],
    [
      'a data. column without a key is refused even with ignoreUnknown',
      ['id', 'data.'],
      { columns: {}, ignoreUnknown: true },
      'E_HEADER_DATA_KEY',
      'column "data." has no key',
    ],
    [
      'unknown columns are listed with a hint to use --map',
      ['id', 'Phone', 'Owner'],
      undefined,
      'E_UNKNOWN_COLUMNS',
      'unknown columns "Phone", "Owner": use --map to map or ignore them',
    ],
    [
      'a wrongly cased field name gets a hint',
      ['id', 'Email'],
      undefined,
      'E_UNKNOWN_COLUMNS',
      'unknown column "Email": use --map to map or ignore them (field names are case-sensitive: did you mean "email" for "Email"?)',
    ],
    [
      'more than five unknown columns are counted, not listed',
      ['id', 'a', 'b', 'c', 'd', 'e', 'f', 'g'],
      undefined,
      'E_UNKNOWN_COLUMNS',
      'unknown columns "a", "b", "c", "d", "e" and 2 more: use --map',
    ],
    [
      'a file without an id column is refused',
      ['name', 'email'],
      undefined,
      'E_NO_ID_COLUMN',
      'no "id" column',
    ],
    [
      'mapping the id column to null leaves no id column',
      ['id', 'name'],
      { columns: { id: null } },
      'E_NO_ID_COLUMN',
      'no "id" column',
    ],
  ])('%s', (_title, header, mapping, code, fragment) => {
    const error = planError(header, mapping);
    expect(error.code).toBe(code);
    expect(error.location).toEqual({ file: FILE, line: 1 });
    expect(error.exitCode).toBe(2);
    expect(error.message.startsWith(`${FILE} line 1: `)).toBe(true);
    expect(error.message).toContain(fragment);
  });
});
