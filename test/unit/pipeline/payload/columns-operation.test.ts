import { describe, expect, it } from 'vitest';
import { InputFileError } from '../../../../src/errors.js';
import { type PlanColumnsOptions, planColumns } from '../../../../src/pipeline/payload/columns.js';

const FILE = 'crm.csv';

function planError(header: string[], options: Omit<PlanColumnsOptions, 'file'>): InputFileError {
  try {
    planColumns(header, { file: FILE, ...options });
  } catch (error) {
    if (error instanceof InputFileError) return error;
    throw error;
  }
  throw new Error('expected planColumns to throw');
}

describe('planColumns for create (import, sync)', () => {
  it('takes a phone column, needs no id, and finds the key column', () => {
    const plan = planColumns(['CRM ID', 'name', 'phone', 'Owner'], {
      file: FILE,
      operation: 'create',
      key: ' CRM ID ',
      mapping: { columns: { Owner: null } },
    });
    expect(plan.operation).toBe('create');
    expect(plan.targets).toEqual([
      { kind: 'ignore' },
      { kind: 'name' },
      { kind: 'phone' },
      { kind: 'ignore' },
    ]);
    expect(plan.idIndex).toBe(-1);
    // The key column feeds no field and is still not an unknown column.
    expect(plan.keyIndex).toBe(0);
    expect(plan.templates).toEqual([]);
  });

  it('lets the key column also feed a field', () => {
    const plan = planColumns(['CRM ID', 'Mobile'], {
      file: FILE,
      operation: 'create',
      key: 'CRM ID',
      mapping: { columns: { 'CRM ID': 'data.crm_id', Mobile: 'phone' } },
    });
    expect(plan.targets).toEqual([
      { kind: 'data-key', key: 'crm_id', type: 'string' },
      { kind: 'phone' },
    ]);
    expect(plan.keyIndex).toBe(0);
  });

  it('resolves value maps to folded keys and keeps what was written for messages', () => {
    const plan = planColumns(['phone', 'Opt In', 'Mail'], {
      file: FILE,
      operation: 'create',
      mapping: {
        columns: {
          'Opt In': { field: 'public', values: { Y: true, ' No ': false } },
          Mail: { field: 'email', lowercase: true },
        },
      },
    });
    expect(plan.targets[1]).toEqual({
      kind: 'public',
      values: {
        map: new Map([
          ['y', true],
          ['no', false],
        ]),
        allowed: ['Y', ' No '],
      },
    });
    expect(plan.targets[2]).toEqual({ kind: 'email', lowercase: true });
  });

  it('plans a template from columns that are otherwise unknown', () => {
    const plan = planColumns(['First Name', 'Last Name', 'Mobile'], {
      file: FILE,
      operation: 'create',
      mapping: {
        columns: { Mobile: 'phone' },
        fields: { name: { template: '{First Name} {Last Name}' } },
      },
    });
    expect(plan.targets).toEqual([{ kind: 'ignore' }, { kind: 'ignore' }, { kind: 'phone' }]);
    expect(plan.templates).toEqual([
      {
        target: { kind: 'name' },
        label: 'fields."name"',
        parts: [{ column: 'First Name' }, { literal: ' ' }, { column: 'Last Name' }],
        columnIndex: new Map([
          ['First Name', 0],
          ['Last Name', 1],
        ]),
      },
    ]);
  });

  it('accepts a phone built by a template', () => {
    const plan = planColumns(['cc', 'number'], {
      file: FILE,
      operation: 'create',
      mapping: { columns: {}, fields: { phone: { template: '+{cc} {number}' } } },
    });
    expect(plan.templates[0]?.target).toEqual({ kind: 'phone' });
  });

  it.each<[string, string[], Omit<PlanColumnsOptions, 'file'>, string, string]>([
    [
      'an id column is refused: the API assigns ids',
      ['id', 'phone'],
      { operation: 'create' },
      'E_ID_ON_CREATE',
      'column "id" feeds "id", but a new contact gets its id from the API: map it to a data key (e.g. "data.crm_id"), ignore it with null, or name it with --key',
    ],
    [
      'a column mapped to id is refused too',
      ['Contact ID', 'phone'],
      { operation: 'create', mapping: { columns: { 'Contact ID': 'id' } } },
      'E_ID_ON_CREATE',
      'column "Contact ID" feeds "id"',
    ],
    [
      'a create without a phone column is refused',
      ['name', 'email'],
      { operation: 'create' },
      'E_NO_PHONE_COLUMN',
      'no "phone" column: a contact cannot be created without a phone number',
    ],
    [
      'a --key column that is not in the file is named',
      ['name', 'phone'],
      { operation: 'create', key: 'CRM ID' },
      'E_NO_KEY_COLUMN',
      'no column "CRM ID" for --key: the header has "name", "phone"',
    ],
    [
      'a template naming a column not in the file is refused',
      ['First', 'phone'],
      {
        operation: 'create',
        mapping: { columns: {}, fields: { name: { template: '{First} {Last}' } } },
      },
      'E_TEMPLATE_COLUMN',
      'fields."name": the template names column "Last", which is not in the file',
    ],
    [
      'a template and a column feeding the same field are refused',
      ['Full Name', 'First', 'phone'],
      {
        operation: 'create',
        mapping: { columns: { 'Full Name': 'name' }, fields: { name: { template: '{First}' } } },
      },
      'E_HEADER_DUPLICATE',
      'column "Full Name" and fields."name" both feed "name"',
    ],
    [
      'unknown columns are still refused, with the create field set in the hint',
      ['Phone', 'name'],
      { operation: 'create' },
      'E_UNKNOWN_COLUMNS',
      'unknown column "Phone": use --map to map or ignore them (field names are case-sensitive: did you mean "phone" for "Phone"?)',
    ],
  ])('%s', (_title, header, options, code, fragment) => {
    const error = planError(header, options);
    expect(error.code).toBe(code);
    expect(error.location).toEqual({ file: FILE, line: 1 });
    expect(error.exitCode).toBe(2);
    expect(error.message).toContain(fragment);
  });
});

describe('planColumns for update keeps phone out', () => {
  it.each<[string, string[], Omit<PlanColumnsOptions, 'file'>, string, string]>([
    [
      'a phone header is an unknown column, as it always was',
      ['id', 'phone'],
      {},
      'E_UNKNOWN_COLUMNS',
      'unknown column "phone": use --map to map or ignore them',
    ],
    [
      'a column mapped to phone is refused, saying why',
      ['id', 'Mobile'],
      { mapping: { columns: { Mobile: 'phone' } } },
      'E_FIELD_NOT_FOR_UPDATE',
      'column "Mobile" feeds "phone", which an update cannot change (the PUT body has no phone): ignore it with null in --map',
    ],
    [
      'a phone template is refused, saying why',
      ['id', 'cc', 'n'],
      { mapping: { columns: {}, fields: { phone: { template: '+{cc}{n}' } } } },
      'E_FIELD_NOT_FOR_UPDATE',
      'fields."phone" feeds "phone", which an update cannot change',
    ],
    [
      'an update still needs its id column',
      ['name'],
      { operation: 'update' },
      'E_NO_ID_COLUMN',
      'no "id" column',
    ],
  ])('%s', (_title, header, options, code, fragment) => {
    const error = planError(header, options);
    expect(error.code).toBe(code);
    expect(error.message).toContain(fragment);
  });

  it('exact unknown-column message for phone did not change', () => {
    expect(planError(['id', 'phone'], {}).message).toBe(
      'crm.csv line 1: unknown column "phone": use --map to map or ignore them',
    );
  });

  it('an update plan has no key unless asked, and its operation says update', () => {
    const plan = planColumns(['id', 'name'], { file: FILE });
    expect(plan).toMatchObject({ operation: 'update', idIndex: 0, keyIndex: -1, templates: [] });
  });
});
