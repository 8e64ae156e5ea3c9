import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { type PlanColumnsOptions, planColumns } from '../../../../src/pipeline/payload/columns.js';
import type { Mapping } from '../../../../src/pipeline/payload/mapping.js';
import {
  createRowValidator,
  outcomeError,
  type RowOutcome,
  type RowValidatorOptions,
  updateBodyFor,
} from '../../../../src/pipeline/payload/to-payload.js';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

type Setup = Omit<PlanColumnsOptions, 'file'> & Partial<RowValidatorOptions>;

function validator(header: string[], setup: Setup = {}): (cells: string[]) => RowOutcome {
  const { empty = 'omit', defaultCountry, ...planOptions } = setup;
  const plan = planColumns(header, { file: 'in.csv', ...planOptions });
  return createRowValidator(
    plan,
    defaultCountry === undefined ? { empty } : { empty, defaultCountry },
  );
}

function accepted(outcome: RowOutcome): Extract<RowOutcome, { ok: true }> {
  if (!outcome.ok) throw new Error(`expected a valid row, got: ${outcomeError(outcome)}`);
  return outcome;
}

function rejected(outcome: RowOutcome): Extract<RowOutcome, { ok: false }> {
  if (outcome.ok) throw new Error(`expected an invalid row, got body ${outcome.body}`);
  return outcome;
}

const CREATE: Setup = { operation: 'create', defaultCountry: 'US' };
const CRM: Mapping = {
  columns: {
    'Contact ID': 'data.crm_id',
    Mobile: 'phone',
    Email: { field: 'email', lowercase: true },
    'Opt In': { field: 'public', values: { Y: true, N: false } },
    Stage: { field: 'data.stage', values: { L: 'lead', C: 'customer', '?': null } },
  },
  fields: { name: { template: '{First Name} {Last Name}' } },
};
const CRM_HEADER = ['Contact ID', 'First Name', 'Last Name', 'Mobile', 'Email', 'Opt In', 'Stage'];

describe('create payloads (POST /public/contacts and batch elements)', () => {
  it.each<[string, string[], string[], Setup, string]>([
    [
      'fields in the documented order name, phone, email, public, data, the phone in E.164',
      ['data.tier', 'public', 'email', 'phone', 'name'],
      ['gold', 'yes', 'ada@example.com', '(415) 555-2671', 'Ada'],
      CREATE,
      '{"name":"Ada","phone":"+14155552671","email":"ada@example.com","public":true,"data":{"tier":"gold"}}',
    ],
    [
      'a phone alone is a complete create body',
      ['phone', 'name'],
      ['+44 20 7946 0958', ''],
      CREATE,
      '{"phone":"+442079460958"}',
    ],
    [
      'an international number needs no default country',
      ['phone'],
      ['+1 415 555 2671'],
      { operation: 'create' },
      '{"phone":"+14155552671"}',
    ],
    [
      '--empty null sends no nulls on create: there is nothing to clear',
      ['phone', 'name', 'email', 'data.x'],
      ['4155552671', '', '', ''],
      { ...CREATE, empty: 'null' },
      '{"phone":"+14155552671"}',
    ],
    [
      'a CRM row through templates, value maps and lowercase',
      CRM_HEADER,
      ['C-7', ' Ada ', 'Lovelace', '415-555-2671', ' Ada.L@Example.COM ', 'y', 'C'],
      { ...CREATE, mapping: CRM, key: 'Contact ID' },
      '{"name":"Ada Lovelace","phone":"+14155552671","email":"ada.l@example.com","public":true,"data":{"crm_id":"C-7","stage":"customer"}}',
    ],
    [
      'an empty template part collapses, and a value map can send null into data',
      CRM_HEADER,
      ['C-8', '', 'Hopper', '+1 212 555 0100', '', 'N', '?'],
      { ...CREATE, mapping: CRM, key: 'Contact ID' },
      '{"name":"Hopper","phone":"+12125550100","public":false,"data":{"crm_id":"C-8","stage":null}}',
    ],
  ])('%s', (_title, header, cells, setup, body) => {
    const outcome = accepted(validator(header, setup)(cells));
    expect(outcome.body).toBe(body);
    expect(outcome.sha256).toBe(sha256(body));
    expect(JSON.stringify(outcome.payload)).toBe(body);
    expect(outcome.id).toBe('');
  });

  it('gives the key cell, trimmed, with the outcome', () => {
    const outcome = accepted(
      validator(CRM_HEADER, { ...CREATE, mapping: CRM, key: 'Contact ID' })([
        ' C-9 ',
        'A',
        'B',
        '4155552671',
        '',
        'Y',
        'L',
      ]),
    );
    expect(outcome.key).toBe('C-9');
  });

  it.each<[string, string[], string[], Setup, string, string[]]>([
    [
      'an impossible phone names the column and the default country',
      ['name', 'Mobile'],
      ['Ada', '555-12'],
      { ...CREATE, mapping: { columns: { Mobile: 'phone' } } },
      'Mobile: not a possible number for US: "555-12"',
      ['Mobile'],
    ],
    [
      'an empty phone is missing, whatever --empty says',
      ['name', 'phone'],
      ['Ada', ' '],
      { ...CREATE, empty: 'null' },
      'phone: missing: a contact cannot be created without a phone number',
      ['phone'],
    ],
    [
      'a national number without a default country is refused, not guessed',
      ['phone'],
      ['(415) 555-2671'],
      { operation: 'create' },
      'phone: a national number needs a default country (--default-country), or write it as +<country code> <number>: "(415) 555-2671"',
      ['phone'],
    ],
    [
      'a cell missing from a value map lists the allowed cells',
      CRM_HEADER,
      ['C-1', 'A', 'B', '4155552671', '', 'maybe', 'L'],
      { ...CREATE, mapping: CRM, key: 'Contact ID' },
      'Opt In: expected one of "Y", "N", got "maybe"',
      ['Opt In'],
    ],
    [
      'an empty key cell is invalid, named by its column',
      CRM_HEADER,
      ['', 'A', 'B', '4155552671', '', 'Y', 'L'],
      { ...CREATE, mapping: CRM, key: 'Contact ID' },
      'Contact ID: missing key: the cell is empty',
      ['Contact ID'],
    ],
    [
      'a template result goes through its field check, named by the mapping key',
      ['First', 'Last', 'phone'],
      ['Ada', 'L\u0007', '4155552671'],
      { ...CREATE, mapping: { columns: {}, fields: { name: { template: '{First} {Last}' } } } },
      'fields."name": contains a control character: "Ada L\\u0007"',
      ['fields."name"'],
    ],
    [
      'problems are listed in column order, templates last',
      ['First', 'Mail', 'phone'],
      ['Ada\u0000', 'not-an-email', '12'],
      {
        ...CREATE,
        mapping: {
          columns: { First: null, Mail: 'email' },
          fields: { name: { template: '{First}' } },
        },
      },
      'Mail: not a valid email address: "not-an-email"; also invalid: "phone", "fields.\\"name\\""',
      ['Mail', 'phone', 'fields."name"'],
    ],
  ])('%s', (_title, header, cells, setup, error, columns) => {
    const outcome = rejected(validator(header, setup)(cells));
    expect(outcomeError(outcome)).toBe(error);
    expect(outcome.columns).toEqual(columns);
    expect(outcome.sha256).toBe(sha256(JSON.stringify(cells)));
  });
});

describe('mapping features on update payloads', () => {
  const UPDATE_MAP: Mapping = {
    columns: {
      'Contact ID': 'id',
      Email: { field: 'email', lowercase: true },
      'Opt In': { field: 'public', values: { Y: true, N: false } },
    },
    fields: { name: { template: '{First} {Last}' } },
  };
  const HEADER = ['Contact ID', 'First', 'Last', 'Email', 'Opt In'];

  it.each<[string, string[], Setup, string]>([
    [
      'template, lowercase and value map together',
      ['1001', 'Ada', 'Lovelace', 'ADA@Example.com', 'n'],
      { mapping: UPDATE_MAP },
      '{"name":"Ada Lovelace","email":"ada@example.com","public":false}',
    ],
    [
      'an all-empty template is an empty cell: omitted',
      ['1001', '', ' ', 'a@b.co', ''],
      { mapping: UPDATE_MAP },
      '{"email":"a@b.co"}',
    ],
    [
      'an all-empty template is an empty cell: null with --empty null',
      ['1001', '', '', 'a@b.co', 'Y'],
      { mapping: UPDATE_MAP, empty: 'null' },
      '{"name":null,"email":"a@b.co","public":true}',
    ],
    [
      'without lowercase an email keeps its case, as before',
      ['1001', 'A', '', 'Ada@Example.com', 'Y'],
      { mapping: { ...UPDATE_MAP, columns: { ...UPDATE_MAP.columns, Email: 'email' } } },
      '{"name":"A","email":"Ada@Example.com","public":true}',
    ],
  ])('%s', (_title, cells, setup, body) => {
    const outcome = accepted(validator(HEADER, setup)(cells));
    expect(outcome.body).toBe(body);
    expect(outcome.sha256).toBe(sha256(body));
    expect(outcome.id).toBe('1001');
    expect(outcome.key).toBe('');
  });

  it('a mapped text value is still checked by its field', () => {
    const outcome = rejected(
      validator(['id', 'Kind'], {
        mapping: { columns: { Kind: { field: 'email', values: { x: 'not an email' } } } },
      })(['1', 'X']),
    );
    expect(outcomeError(outcome)).toBe('Kind: not a valid email address: "not an email"');
  });
});

describe('updateBodyFor', () => {
  it('drops the phone from a create payload and hashes the PUT body', () => {
    const created = accepted(
      validator(['name', 'phone', 'public'], CREATE)(['Ada', '4155552671', 'no']),
    );
    const update = updateBodyFor(created.payload);
    expect(update?.body).toBe('{"name":"Ada","public":false}');
    expect(update?.sha256).toBe(sha256('{"name":"Ada","public":false}'));
    // The create payload itself is left as it was.
    expect(created.payload.phone).toBe('+14155552671');
  });

  it('gives the same body and hash as an update row with the same fields', () => {
    const created = accepted(
      validator(['name', 'phone', 'email'], CREATE)(['Ada', '4155552671', 'a@b.co']),
    );
    const updated = accepted(validator(['id', 'name', 'email'])(['7', 'Ada', 'a@b.co']));
    expect(updateBodyFor(created.payload)).toEqual({
      payload: updated.payload,
      body: updated.body,
      sha256: updated.sha256,
    });
  });

  it('is undefined when the phone was all there was', () => {
    expect(updateBodyFor({ phone: '+14155552671' })).toBeUndefined();
  });
});
