import { describe, expect, it } from 'vitest';
import { normalizePhone, parseCountryCode } from '../../../../src/pipeline/payload/phone.js';

describe('normalizePhone', () => {
  it.each([
    ['a US national number with punctuation', '(415) 555-2671', 'US', '+14155552671'],
    ['a US national number with dots', '415.555.2671', 'US', '+14155552671'],
    ['a US number with the trunk 1', '1 415 555 2671', 'US', '+14155552671'],
    ['an international number keeps its own country', '+44 20 7946 0958', 'US', '+442079460958'],
    [
      'a 00 international prefix is not read as national',
      '0044 20 7946 0958',
      'GB',
      '+442079460958',
    ],
    ['a UK national number under GB', '020 7946 0958', 'GB', '+442079460958'],
    ['a German national number under DE', '030 1234567', 'DE', '+49301234567'],
    ['a fictional 555 number is possible, so it is kept', '+1 555 000 1234', 'US', '+15550001234'],
    ['E.164 already', '+14155552671', 'DE', '+14155552671'],
  ] as const)('accepts %s', (_title, cell, country, e164) => {
    expect(normalizePhone(cell, country)).toEqual({ ok: true, e164 });
  });

  it.each([
    ['too short', '555-12', 'US', 'not a possible number for US: "555-12"'],
    [
      'a UK number read as US',
      '020 7946 0958',
      'US',
      'not a possible number for US: "020 7946 0958"',
    ],
    [
      'too long, with its calling code as the region',
      '+1 415 555 2671 9',
      'US',
      'not a possible number for +1: "+1 415 555 2671 9"',
    ],
    ['not digits', 'call me', 'US', 'not a phone number: "call me"'],
    ['an unknown calling code', '+999 1234567', 'US', 'not a phone number: "+999 1234567"'],
    [
      'an extension',
      '+1 415 555 2671 ext. 12',
      'US',
      'has an extension, which an E.164 number cannot carry: "+1 415 555 2671 ext. 12"',
    ],
  ] as const)('refuses %s', (_title, cell, country, message) => {
    expect(normalizePhone(cell, country)).toEqual({ ok: false, message });
  });
});

describe('parseCountryCode', () => {
  it.each([
    ['US', 'US'],
    ['gb', 'GB'],
    [' de ', 'DE'],
  ])('accepts %j as %s', (value, code) => {
    expect(parseCountryCode(value)).toBe(code);
  });

  it.each(['', 'USA', 'XX', '1'])('refuses %j with what it expected', (value) => {
    expect(() => parseCountryCode(value)).toThrow(
      new TypeError(
        `expected a two-letter country code such as US, GB or DE, got ${JSON.stringify(value)}`,
      ),
    );
  });
});
