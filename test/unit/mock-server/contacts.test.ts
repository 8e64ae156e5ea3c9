import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type MockServer,
  type MockServerOptions,
  startMockServer,
} from '../../../src/mock-server/index.js';
import { get, KEY, put, send } from './client.js';

let server: MockServer | undefined;
async function start(options: MockServerOptions = {}): Promise<MockServer> {
  server = await startMockServer(options);
  return server;
}
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

describe('a valid PUT', () => {
  it('answers 200 with the full updated contact and stores it', async () => {
    const s = await start();
    const answer = await put(s, '42', {
      name: 'Grace Hopper',
      email: 'grace@example.com',
      public: true,
      data: { plan: 'pro', seats: 3 },
    });
    expect(answer.status).toBe(200);
    expect(answer.headers['content-type']).toMatch(/^application\/json/);
    const contact = (answer.body as { data: Record<string, unknown> }).data;
    expect(Object.keys(contact).sort()).toEqual(
      [
        'id',
        'teamId',
        'createdByUserId',
        'name',
        'phone',
        'email',
        'externalId',
        'optOut',
        'avatarURL',
        'public',
        'data',
        'attributes',
        'created',
        'updated',
      ].sort(),
    );
    expect(contact).toMatchObject({
      id: '42',
      name: 'Grace Hopper',
      email: 'grace@example.com',
      public: true,
      data: { plan: 'pro', seats: 3 },
      optOut: false,
      attributes: [],
    });
    expect(contact.phone).toMatch(/^\+\d{11}$/);
    expect(contact.created).toMatch(ISO);
    expect(contact.updated).toMatch(ISO);
    expect(Date.parse(contact.updated as string)).toBeGreaterThan(
      Date.parse(contact.created as string),
    );
    expect(s.contacts.get('42')).toEqual(contact);
    expect((await get(s, '42')).body).toEqual({ data: contact });
    expect(s.stats.updatesApplied).toBe(1);
  });

  it('replaces only the fields given, and data as a whole object', async () => {
    const s = await start();
    await put(s, '7', { name: 'Ada', email: 'ada@example.com', data: { a: 1, b: 2 } });
    const first = s.contacts.get('7')?.updated;
    const answer = await put(s, '7', { email: null, data: { c: 3 } });
    const contact = (answer.body as { data: Record<string, unknown> }).data;
    expect(contact).toMatchObject({ name: 'Ada', email: null, public: false, data: { c: 3 } });
    expect(contact.updated).not.toBe(first);
    expect(s.contacts.get('7')?.data).toEqual({ c: 3 });
  });

  it('records what it received and answered', async () => {
    const s = await start();
    await put(s, '1', { name: 'x' });
    expect(s.requests).toEqual([
      expect.objectContaining({
        seq: 1,
        method: 'PUT',
        path: '/public/contacts/1',
        id: '1',
        body: { name: 'x' },
        rawBody: '{"name":"x"}',
        apiKeyPresent: true,
        status: 200,
        outcome: 'answered',
      }),
    ]);
    const [recorded] = s.requests;
    expect(recorded?.finishedAtMs).toBeGreaterThanOrEqual(recorded?.receivedAtMs ?? Infinity);
    expect(s.stats).toMatchObject({ total: 1, byStatus: { 200: 1 } });
  });

  it('ignores a body sent without a JSON Content-Type, as Express 4 does, and changes nothing', async () => {
    const s = await start();
    const answer = await put(s, '5', '{"name":"x"}', { headers: { 'content-type': 'text/plain' } });
    expect(answer.status).toBe(200);
    expect(s.contacts.get('5')?.name).toBe('Contact 5');
  });

  it('serves several requests over one kept-alive connection', async () => {
    const s = await start();
    const agent = new HttpAgent({ keepAlive: true, maxSockets: 1 });
    const ports: number[] = [];
    for (let i = 0; i < 3; i++) {
      await new Promise<void>((resolve, reject) => {
        const req = httpRequest(
          `${s.url}/public/contacts/${i}`,
          { agent, headers: { apiKey: KEY } },
          (res) => {
            ports.push(req.socket?.localPort ?? -1);
            res.resume();
            res.on('end', resolve);
          },
        );
        req.on('error', reject);
        req.end();
      });
    }
    agent.destroy();
    expect(new Set(ports).size).toBe(1);
  });
});

describe('errors, shaped as NestJS sends them', () => {
  it('answers 401 before anything else, with a missing or a wrong key', async () => {
    const s = await start({ ids: 3, rateLimit: { perSecond: 1, burst: 1 } });
    for (const apiKey of [null, 'wrong-key']) {
      // Bad body, unknown id and a rate limit: the key is still checked first.
      const answer = await put(s, '999', { phone: 1 }, { apiKey });
      expect(answer.status).toBe(401);
      expect(answer.body).toEqual({
        statusCode: 401,
        message: 'Invalid API key',
        error: 'Unauthorized',
      });
    }
    expect(s.requests.map((r) => r.apiKeyPresent)).toEqual([false, true]);
  });

  it.each([
    ['a body that is not JSON', '{"name": ', /JSON/],
    ['a JSON string instead of an object', '"Grace"', /Unexpected token/],
    [
      'a JSON array instead of an object',
      '[{"name":"x"}]',
      ['an unknown value was passed to the validate function'],
    ],
    ['an unknown key (phone)', { phone: '+15550001111' }, ['property phone should not exist']],
    ['an unknown key (externalId)', { externalId: 'x' }, ['property externalId should not exist']],
    ['an unknown key (optOut)', { optOut: true }, ['property optOut should not exist']],
    ['a name that is not a string', { name: 5 }, ['name must be a string']],
    ['an email that is not an email', { email: 'not-an-email' }, ['email must be an email']],
    ['an email that is not a string', { email: 5 }, ['email must be an email']],
    ['public as a string', { public: 'true' }, ['public must be a boolean value']],
    ['public as null', { public: null }, ['public must be a boolean value']],
    ['data as an array', { data: [1] }, ['data must be an object']],
    ['data as a string', { data: '{}' }, ['data must be an object']],
    [
      'several problems at once',
      { name: 1, foo: 2 },
      ['name must be a string', 'property foo should not exist'],
    ],
  ])('answers 400 for %s', async (_title, body, message) => {
    const s = await start();
    const answer = await put(s, '1', body);
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ statusCode: 400, error: 'Bad Request' });
    const got = (answer.body as { message: unknown }).message;
    if (message instanceof RegExp) expect(got).toMatch(message);
    else expect(got).toEqual(message);
    expect(s.contacts.get('1')).toBeUndefined();
    expect(s.stats.updatesApplied).toBe(0);
  });

  it('answers 413 for a body over 100 KiB', async () => {
    const s = await start();
    const answer = await put(s, '1', { name: 'x'.repeat(200_000) });
    expect(answer.body).toMatchObject({ statusCode: 413, error: 'Payload Too Large' });
  });

  it('answers 404 for an id that does not exist, after checking the body', async () => {
    const s = await start({ ids: ['a', 'b'] });
    expect((await put(s, 'c', { name: 'x' })).body).toEqual({
      statusCode: 404,
      message: 'Contact not found',
      error: 'Not Found',
    });
    expect((await put(s, 'c', { nope: 1 })).status).toBe(400);
    expect((await get(s, 'c')).status).toBe(404);
    expect((await put(s, 'a', { name: 'x' })).status).toBe(200);
  });

  it.each([
    ['1', 200],
    ['3', 200],
    ['4', 404],
    ['0', 404],
    ['03', 404],
    ['1e0', 404],
  ])('with ids: 3, id %s answers %i', async (id, status) => {
    const s = await start({ ids: 3 });
    expect((await put(s, id, { name: 'x' })).status).toBe(status);
  });

  it.each([
    ['PUT', '/public/contacts/a/b', undefined],
    ['PUT', '/public/contacts/1/', undefined],
    ['PUT', '/public/contacts/', undefined],
    ['PUT', '/public/contacts', undefined],
    ['GET', '/', undefined],
    ['DELETE', '/public/contacts/1', '1'],
    ['POST', '/public/contacts/1', '1'],
  ] as const)('answers 404 for %s %s, and records it as such', async (method, path, id) => {
    const s = await start();
    const answer = await send(s, path, {
      method,
      body: method === 'GET' ? undefined : { name: 'x' },
    });
    expect(answer.body).toEqual({
      statusCode: 404,
      message: `Cannot ${method} ${path}`,
      error: 'Not Found',
    });
    expect(s.requests[0]).toMatchObject({ method, path, id, status: 404 });
    expect(s.contacts.size).toBe(0);
  });

  it('decodes a percent-encoded id exactly once', async () => {
    const s = await start({ ids: ['a/b', 'x%41'] });
    expect((await send(s, '/public/contacts/a%2Fb', { body: { name: 'slash' } })).status).toBe(200);
    expect(s.contacts.get('a/b')?.name).toBe('slash');
    // Decoded twice, "x%2541" would become "xA"; once, it is the id "x%41".
    expect((await send(s, '/public/contacts/x%2541', { body: { name: 'pct' } })).status).toBe(200);
    expect(s.contacts.get('x%41')?.name).toBe('pct');
    expect(s.requests.map((r) => [r.path, r.id])).toEqual([
      ['/public/contacts/a%2Fb', 'a/b'],
      ['/public/contacts/x%2541', 'x%41'],
    ]);
  });

  it('answers 400 for an id that cannot be percent-decoded', async () => {
    const s = await start();
    const answer = await send(s, '/public/contacts/%E0%A4%A', { body: { name: 'x' } });
    expect(answer.body).toMatchObject({ statusCode: 400, error: 'Bad Request' });
  });
});

describe('options', () => {
  it.each([
    [{ host: '0.0.0.0' }, /host/],
    [{ port: -1 }, /port/],
    [{ ids: -5 }, /ids/],
    [{ latencyMs: [50, 10] as [number, number] }, /latencyMs/],
    [{ rateLimit: { perSecond: 0 } }, /perSecond/],
    [{ faults: { resetRate: 2 } }, /resetRate/],
    [{ script: [{ respond: { status: 42 } }] }, /script\[0\]/],
  ])('rejects %j with a TypeError naming the option', async (options, pattern) => {
    await expect(startMockServer(options as MockServerOptions)).rejects.toThrow(pattern);
    await expect(startMockServer(options as MockServerOptions)).rejects.toBeInstanceOf(TypeError);
  });
});
