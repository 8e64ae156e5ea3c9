import { describe, expect, it } from 'vitest';
import { MAX_RETRY_AFTER_MS, retryAfterMs } from '../../../../src/pipeline/send/retry-after.js';

const NOW = Date.parse('2026-11-26T12:00:00Z');

describe('retryAfterMs reads whichever hint a 429 carries', () => {
  it.each([
    ['Retry-After in seconds', { 'retry-after': '3' }, 3000],
    ['Retry-After in fractional seconds', { 'retry-after': '0.25' }, 250],
    ['Retry-After as an HTTP date', { 'retry-after': 'Thu, 26 Nov 2026 12:00:05 GMT' }, 5000],
    ['Retry-After as a date in the past', { 'retry-after': 'Thu, 26 Nov 2026 11:00:00 GMT' }, 0],
    ['X-RateLimit-Reset as epoch seconds', { 'x-ratelimit-reset': String(NOW / 1000 + 7) }, 7000],
    ['X-RateLimit-Reset as seconds from now', { 'x-ratelimit-reset': '2' }, 2000],
    ['no hint at all', {}, undefined],
    ['a garbage header', { 'retry-after': 'soon' }, undefined],
    ['an absurd wait, capped', { 'retry-after': '999999' }, MAX_RETRY_AFTER_MS],
    ['Retry-After: 0 (go now)', { 'retry-after': '0' }, 0],
    ['the standard RateLimit-Reset (seconds from now)', { 'ratelimit-reset': '4' }, 4000],
    ['a repeated header (the first one counts)', { 'retry-after': ['2', '9'] }, 2000],
    ['an epoch reset in the past', { 'x-ratelimit-reset': String(NOW / 1000 - 5) }, 0],
  ])('%s', (_title, headers, expected) => {
    expect(retryAfterMs(headers, NOW)).toBe(expected);
  });

  it('prefers Retry-After over X-RateLimit-Reset', () => {
    expect(retryAfterMs({ 'retry-after': '1', 'x-ratelimit-reset': '9' }, NOW)).toBe(1000);
  });
});
