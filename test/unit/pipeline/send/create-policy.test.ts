import { describe, expect, it } from 'vitest';
import type { SendResult } from '../../../../src/pipeline/send/client.js';
import { createdIds, nothingCreated } from '../../../../src/pipeline/send/create-policy.js';

const http = (status: number, retryAfterMs?: number): SendResult => ({
  kind: 'http-error',
  status,
  message: `${status}`,
  retryAfterMs,
});
const net = (code: string): SendResult => ({ kind: 'network-error', code, message: code });

describe('nothingCreated', () => {
  it.each<[string, SendResult, boolean]>([
    ['429', http(429), true],
    ['429 with Retry-After', http(429, 1000), true],
    ['408', http(408), true],
    ['503 with Retry-After', http(503, 0), true],
    ['400', http(400), true],
    ['422', http(422), true],
    ['401', http(401), true],
    ['connection refused', net('ECONNREFUSED'), true],
    ['host not found', net('ENOTFOUND'), true],
    ['connect timeout', net('UND_ERR_CONNECT_TIMEOUT'), true],
    ['503 without Retry-After', http(503), false],
    ['500', http(500), false],
    ['502', http(502), false],
    ['504', http(504), false],
    ['reset after the request was written', net('ECONNRESET'), false],
    ['socket closed', net('UND_ERR_SOCKET'), false],
    ['timeout', { kind: 'timeout', message: 'no answer' }, false],
    ['our own abort', { kind: 'aborted' }, false],
    ['2xx', { kind: 'ok', status: 201 }, false],
  ])('%s → %s', (_, result, expected) => {
    expect(nothingCreated(result)).toBe(expected);
  });
});

describe('createdIds', () => {
  it('reads a batch answer in order, and a single create', () => {
    expect(createdIds('{"data":[{"id":"a"},{"id":7}]}', 2)).toEqual({ ok: true, ids: ['a', '7'] });
    expect(createdIds('{"data":{"id":"x","phone":"+1"}}', 1)).toEqual({ ok: true, ids: ['x'] });
  });

  it.each([
    ['not JSON', '<html>', 1, 'the answer is not JSON'],
    ['no data', '{"contacts":[]}', 1, 'the answer has no "data"'],
    [
      'a count that does not match',
      '{"data":[{"id":"a"}]}',
      2,
      'the answer lists 1 contact for 2 sent',
    ],
    ['a contact without id', '{"data":[{"id":""}]}', 1, 'a contact in the answer has no id'],
  ])('says why it cannot read %s', (_, body, expected, message) => {
    expect(createdIds(body, expected)).toEqual({ ok: false, message });
  });
});
