import { describe, expect, it } from 'vitest';
import { describeHttpError } from '../../../../src/pipeline/send/error-message.js';
import { redactor } from '../../../../src/report/redact.js';

describe('describeHttpError turns any error body into one readable line', () => {
  it.each([
    [
      'a NestJS message string',
      404,
      '{"statusCode":404,"message":"Contact not found","error":"Not Found"}',
      '',
      '404 Not Found: Contact not found',
    ],
    [
      'a NestJS message array',
      400,
      '{"statusCode":400,"message":["email must be an email","name must be a string"],"error":"Bad Request"}',
      '',
      '400 Bad Request: email must be an email; name must be a string',
    ],
    [
      'an error object with a message',
      422,
      '{"error":{"message":"phone is locked"}}',
      '',
      '422 Unprocessable Entity: phone is locked',
    ],
    ['an error string', 400, '{"error":"bad thing"}', '', '400 Bad Request: bad thing'],
    ['only a code', 500, '{"code":"E_DB_DOWN"}', '', '500 Internal Server Error: E_DB_DOWN'],
    ['an empty body', 422, '', '', '422 Unprocessable Entity'],
    ['an empty JSON object', 422, '{}', 'application/json', '422 Unprocessable Entity'],
    [
      'an HTML page from a proxy',
      502,
      '<html><head><title>502 Bad Gateway</title></head><body><h1>nginx</h1></body></html>',
      'text/html',
      '502 Bad Gateway: 502 Bad Gateway',
    ],
    [
      'HTML without a title',
      503,
      '<html><body><p>Service\n temporarily   down</p></body></html>',
      'text/html',
      '503 Service Unavailable: Service temporarily down',
    ],
    [
      'plain text with line breaks',
      500,
      'oops\r\nsecond line',
      'text/plain',
      '500 Internal Server Error: oops second line',
    ],
    ['broken JSON', 400, '{"message": "trunc', '', '400 Bad Request: {"message": "trunc'],
    ['a status with no known reason', 418, '', '', '418 HTTP 418'],
    [
      'a message that only repeats the reason',
      400,
      '{"statusCode":400,"message":"Bad Request"}',
      '',
      '400 Bad Request',
    ],
    ['a numeric code', 422, '{"code":1042}', '', '422 Unprocessable Entity: 1042'],
    [
      'a NestJS body whose message array is empty',
      400,
      '{"statusCode":400,"message":[],"error":"Bad Request"}',
      '',
      '400 Bad Request',
    ],
  ])('%s', (_title, status, body, contentType, expected) => {
    expect(describeHttpError(status, body, contentType)).toBe(expected);
  });

  it('cuts a very long message to one short line', () => {
    const text = describeHttpError(500, JSON.stringify({ message: 'x'.repeat(5000) }));
    expect(text.length).toBeLessThan(340);
    expect(text).not.toContain('\n');
  });
});

describe('describeHttpError never shows the API key, even cut at the length limit', () => {
  const key = 'sk_live_ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
  const redact = redactor(key);
  it.each([250, 270, 285, 290, 295, 298, 299, 300, 310])(
    'with the key echoed at character %i of a long message',
    (at) => {
      const message = `${'x'.repeat(at)} ${key} ${'y'.repeat(100)}`;
      const text = describeHttpError(400, JSON.stringify({ message }), 'application/json', redact);
      for (let n = 8; n <= key.length; n++) expect(text).not.toContain(key.slice(0, n));
      expect(text.length).toBeLessThanOrEqual(320);
    },
  );
});

describe('describeHttpError on a redirect', () => {
  it.each([
    [301, '301 Moved Permanently (redirects are not followed)'],
    [302, '302 Found (redirects are not followed)'],
    [308, '308 Permanent Redirect (redirects are not followed)'],
  ])('%i says that redirects are not followed', (status, expected) => {
    expect(describeHttpError(status, '')).toBe(expected);
  });
});
