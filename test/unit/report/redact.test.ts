import { describe, expect, it } from 'vitest';
import { redactor } from '../../../src/report/redact.js';

const KEY = 'sk_live_0123456789abcdefghij';

describe('redactor hides the API key, whole or cut', () => {
  it('replaces every whole occurrence', () => {
    expect(redactor(KEY)(`a ${KEY} b ${KEY}`)).toBe('a *** b ***');
  });

  it.each([
    ['a prefix of 8+ characters at the end', `echo: ${KEY.slice(0, 12)}`, 'echo: ***'],
    ['a prefix at the end before a closing ellipsis', `echo: ${KEY.slice(0, 9)}…`, 'echo: ***…'],
    ['a prefix of exactly 8 characters', `x ${KEY.slice(0, 8)}`, 'x ***'],
  ])('hides %s', (_what, text, expected) => {
    expect(redactor(KEY)(text)).toBe(expected);
  });

  it('leaves a prefix shorter than 8 characters and prefixes inside the text alone', () => {
    expect(redactor(KEY)(`x ${KEY.slice(0, 7)}`)).toBe(`x ${KEY.slice(0, 7)}`);
    expect(redactor(KEY)(`${KEY.slice(0, 10)} then more`)).toBe(`${KEY.slice(0, 10)} then more`);
  });

  it('does nothing without a key or with a key under 4 characters', () => {
    expect(redactor(undefined)('abc')).toBe('abc');
    expect(redactor('abc')('abc abc')).toBe('abc abc');
  });
});
