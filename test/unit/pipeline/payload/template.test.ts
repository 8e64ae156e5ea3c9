import { describe, expect, it } from 'vitest';
import {
  parseTemplate,
  renderTemplate,
  type TemplatePart,
  templateColumns,
} from '../../../../src/pipeline/payload/template.js';

function parsed(text: string): TemplatePart[] {
  const parts = parseTemplate(text);
  if (typeof parts === 'string') throw new Error(`expected ${text} to parse: ${parts}`);
  return parts;
}

describe('parseTemplate', () => {
  it.each<[string, TemplatePart[]]>([
    [
      '{First Name} {Last Name}',
      [{ column: 'First Name' }, { literal: ' ' }, { column: 'Last Name' }],
    ],
    ['({ Company })', [{ literal: '(' }, { column: 'Company' }, { literal: ')' }]],
    ['{{{Code}}}', [{ literal: '{' }, { column: 'Code' }, { literal: '}' }]],
    ['{A}{B}', [{ column: 'A' }, { column: 'B' }]],
  ])('parses %j', (text, parts) => {
    expect(parseTemplate(text)).toEqual(parts);
  });

  it.each([
    ['{First', 'unclosed "{" at character 1'],
    ['First}', 'unmatched "}" at character 6 (write "}}" for a literal brace)'],
    ['{ } x', 'empty "{}" at character 1: name a column'],
    ['{a{b}', '"{" inside a placeholder at character 1'],
    ['plain text', 'has no "{column}" placeholder: a fixed text is not a mapping'],
    ['', 'has no "{column}" placeholder: a fixed text is not a mapping'],
  ])('refuses %j', (text, reason) => {
    expect(parseTemplate(text)).toBe(reason);
  });

  it('lists each column once, in order of first use', () => {
    expect(templateColumns(parsed('{B} {A} {B}'))).toEqual(['B', 'A']);
  });
});

describe('renderTemplate', () => {
  it.each<[string, Record<string, string>, string]>([
    ['{First} {Last}', { First: 'Ada', Last: 'Lovelace' }, 'Ada Lovelace'],
    ['{First} {Last}', { First: '', Last: 'Lovelace' }, 'Lovelace'],
    ['{First} {Last}', { First: 'Ada', Last: '' }, 'Ada'],
    ['{First} {Last}', { First: '', Last: '' }, ''],
    ['{First} {Middle} {Last}', { First: 'Ada', Middle: '', Last: 'Lovelace' }, 'Ada Lovelace'],
    ['{Last}, {First}', { First: '', Last: 'Smith' }, 'Smith'],
    ['{Last}, {First}', { First: 'Jo', Last: '' }, 'Jo'],
    ['{Last}, {First}', { First: 'Jo', Last: 'Smith' }, 'Smith, Jo'],
    ['{Title}. {Last}', { Title: '', Last: 'Smith' }, 'Smith'],
    ['Dr. {Last}', { Last: 'Who' }, 'Dr. Who'],
    ['Dr. {Last}', { Last: '' }, ''],
    ['({Company})', { Company: 'Acme' }, '(Acme)'],
    ['{Name} ({Company})', { Name: 'Ada', Company: '' }, 'Ada'],
    ['Dr. {First} {Last}', { First: '', Last: 'Who' }, 'Who'],
    ['  {A}  ', { A: 'x' }, 'x'],
    ['{A}-{A}', { A: 'x' }, 'x-x'],
  ])('renders %j with %j as %j', (text, values, expected) => {
    expect(renderTemplate(parsed(text), (column) => values[column] ?? '')).toBe(expected);
  });
});
