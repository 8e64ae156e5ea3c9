/**
 * samples/crm-import.csv with samples/crm-import-mapping.json, as `import` will read
 * them (create plan, key "Contact ID", default country US), so the sample stays true.
 */
import { readFileSync } from 'node:fs';
import { parse } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import { planColumns } from '../../../src/pipeline/payload/columns.js';
import { parseMapping } from '../../../src/pipeline/payload/mapping.js';
import { createRowValidator, outcomeError } from '../../../src/pipeline/payload/to-payload.js';

const SAMPLES = new URL('../../../samples/', import.meta.url);

function sampleOutcomes() {
  const rows: string[][] = parse(readFileSync(new URL('crm-import.csv', SAMPLES)));
  const [header = [], ...cells] = rows;
  const mapping = parseMapping(
    JSON.parse(readFileSync(new URL('crm-import-mapping.json', SAMPLES), 'utf8')),
    'crm-import-mapping.json',
  );
  const plan = planColumns(header, {
    file: 'crm-import.csv',
    mapping,
    operation: 'create',
    key: 'Contact ID',
  });
  const validate = createRowValidator(plan, { empty: 'omit', defaultCountry: 'US' });
  return cells.map(validate);
}

describe('samples/crm-import.csv', () => {
  it('gives five create bodies and one invalid row, the impossible phone', () => {
    const outcomes = sampleOutcomes();
    expect(outcomes.map((o) => (o.ok ? o.body : outcomeError(o)))).toEqual([
      '{"name":"Ava Smith","phone":"+14155552671","email":"ava.smith@example.com","public":true,"data":{"crm_id":"HS-2001","company":"Northwind Traders","stage":"customer"}}',
      '{"name":"Liam Johnson","phone":"+442079460958","email":"liam.j@example.co.uk","public":false,"data":{"crm_id":"HS-2002","company":"Contoso Ltd","stage":"lead"}}',
      '{"name":"Noah","phone":"+12125550147","email":"noah.garcia@example.com","public":true,"data":{"crm_id":"HS-2003","stage":"opportunity"}}',
      '{"name":"Emma Müller","phone":"+49301234567","email":"emma.mueller@example.de","public":false,"data":{"crm_id":"HS-2004","company":"Fabrikam GmbH","stage":"customer"}}',
      'Mobile: not a possible number for US: "555-12"',
      '{"name":"Wilson","phone":"+16465550199","email":"sam.wilson@example.org","public":false,"data":{"crm_id":"HS-2006","company":"Adventure Works","stage":"subscriber"}}',
    ]);
    expect(outcomes.map((o) => o.key)).toEqual([
      'HS-2001',
      'HS-2002',
      'HS-2003',
      'HS-2004',
      'HS-2005',
      'HS-2006',
    ]);
  });
});
