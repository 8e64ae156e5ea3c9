import { describe, expect, it } from 'vitest';
import type { SendResult } from '../../../../src/pipeline/send/client.js';
import {
  backoffMs,
  classify,
  describe as describeResult,
  LongWaitNotice,
  RETRY_MAX_DELAY_MS,
  retryAfterHintMs,
  retryDelayMs,
} from '../../../../src/pipeline/send/retry-policy.js';

const httpError = (status: number, retryAfterMs?: number): SendResult => ({
  kind: 'http-error',
  status,
  message: `${status} from the server`,
  retryAfterMs,
});

describe('classify', () => {
  it('retries every 5xx and 408, fails every other 4xx but 401, 403 and 429', () => {
    for (let status = 400; status < 600; status++) {
      const action = classify(httpError(status));
      if (status === 401 || status === 403) expect(action).toBe('auth');
      else if (status === 429) expect(action).toBe('throttled');
      else if (status === 408 || status >= 500) expect(action).toBe('retry');
      else expect(action).toBe('failed');
    }
  });
});

describe('backoffMs', () => {
  it('stays between 0 and the doubling ceiling, never above the cap', () => {
    for (let attempt = 1; attempt <= 12; attempt++) {
      const ceiling = Math.min(RETRY_MAX_DELAY_MS, 100 * 2 ** (attempt - 1));
      for (const r of [0, 0.25, 0.999]) {
        const ms = backoffMs(attempt, 100, () => r);
        expect(ms).toBeGreaterThanOrEqual(0);
        expect(ms).toBeLessThanOrEqual(ceiling);
      }
    }
  });
});

describe('retryDelayMs', () => {
  it("waits for the server's Retry-After when it is longer than the backoff", () => {
    expect(retryDelayMs(httpError(429, 5_000), 1, 500, () => 1)).toBe(5_000);
    expect(retryDelayMs(httpError(503, 100), 3, 500, () => 1)).toBe(2_000);
  });

  it('backs off as for a first retry when nothing was charged yet (an outage)', () => {
    expect(retryDelayMs({ kind: 'timeout', message: 'slow' }, 0, 500, () => 1)).toBe(500);
  });

  it('takes a hint only from an HTTP answer', () => {
    expect(retryAfterHintMs(httpError(429, 1_500))).toBe(1_500);
    expect(retryAfterHintMs({ kind: 'network-error', code: 'ECONNRESET', message: 'x' })).toBe(
      undefined,
    );
  });
});

describe('describe', () => {
  it.each([
    [{ kind: 'ok', status: 204 }, '204'],
    [httpError(422), '422 from the server'],
    [
      { kind: 'network-error', code: 'ECONNREFUSED', message: 'connection refused' },
      'connection refused',
    ],
    [{ kind: 'timeout', message: 'no answer within 300 ms' }, 'no answer within 300 ms'],
    [{ kind: 'aborted' }, 'aborted'],
  ] as const)('says %o in one line: %s', (result, text) => {
    expect(describeResult(result as SendResult)).toBe(text);
  });
});

describe('LongWaitNotice', () => {
  it('says nothing for a routine wait under 30 s', () => {
    expect(new LongWaitNotice().notice(29_999, 0, '429')).toBeUndefined();
    expect(new LongWaitNotice().notice(undefined, 0, '429')).toBeUndefined();
  });

  it('says a long wait once, and again only for a wait that ends later', () => {
    const notice = new LongWaitNotice();
    expect(notice.notice(600_000, 0, '429')).toBe(
      'the API asked to wait 10 min (429); waiting until 00:10:00 UTC',
    );
    expect(notice.notice(600_000, 500, '429')).toBeUndefined();
    expect(notice.notice(90_000, 100_000, '429')).toBeUndefined();
    expect(notice.notice(7_500_000, 1_000, '503 Service Unavailable')).toBe(
      'the API asked to wait 2 h 5 min (503 Service Unavailable); waiting until 02:05:01 UTC',
    );
    expect(notice.notice(45_000, 8_000_000, '429')).toBe(
      'the API asked to wait 45 s (429); waiting until 02:14:05 UTC',
    );
  });
});
