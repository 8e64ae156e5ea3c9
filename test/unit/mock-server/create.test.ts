import { afterEach, describe, expect, it } from 'vitest';
import {
  type MockServer,
  type MockServerOptions,
  startMockServer,
} from '../../../src/mock-server/index.js';
import { get, post, put, send } from './client.js';

let server: MockServer | undefined;
async function start(options: MockServerOptions = {}): Promise<MockServer> {
  server = await startMockServer(options);
  return server;
}
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const ADA = {
  name: 'Ada',
  phone: '+14155552671',
  email: 'ada@example.com',
  public: true,
  data: { crm: 'C-1' },
};
const ONE = '/public/contacts';
const BATCH = '/public/contacts/batch';

type ContactBody = { data: Record<string, unknown> };
type BatchBody = { data: Record<string, unknown>[] };

describe('POST /public/contacts', () => {
  it('answers 201 with the new contact under a new id, and stores it', async () => {
    const s = await start({ ids: 3 });
    const answer = await post(s, ONE, ADA);
    expect(answer.status).toBe(201);
    const contact = (answer.body as ContactBody).data;
    expect(contact).toMatchObject({
      id: '4',
      name: 'Ada',
      phone: '+14155552671',
      email: 'ada@example.com',
      public: true,
      data: { crm: 'C-1' },
      optOut: false,
      externalId: null,
    });
    expect(contact.created).toBe(contact.updated);
    expect(s.contacts.get('4')).toEqual(contact);
    expect((await get(s, '4')).body).toEqual({ data: contact });
    // The new contact can then be updated like any other.
    expect((await put(s, '4', { name: 'Ada L.' })).status).toBe(200);
    expect(s.stats.contactsCreated).toBe(1);
    expect(s.requests[0]).toMatchObject({ method: 'POST', path: ONE, body: ADA, status: 201 });
  });

  it('takes only a phone, and defaults the rest', async () => {
    const s = await start();
    const contact = (await post(s, ONE, { phone: '+442079460958' })).body as ContactBody;
    expect(contact.data).toMatchObject({ name: null, email: null, public: false, data: {} });
  });

  it.each<[string, MockServerOptions['ids'], string]>([
    ['every id exists: far above the ids tests use', 'any', '1000000001'],
    ['a list: above its largest number', ['1', '17', 'abc'], '18'],
    ['a count: the next number', 500, '501'],
  ])('never reuses an existing id (%s)', async (_title, ids, expected) => {
    const s = await start({ ids });
    const contact = (await post(s, ONE, ADA)).body as ContactBody;
    expect(contact.data.id).toBe(expected);
  });

  it('skips an id already held, even with every id existing', async () => {
    const s = await start();
    await put(s, '1000000001', { name: 'touched first' });
    const contact = (await post(s, ONE, ADA)).body as ContactBody;
    expect(contact.data.id).toBe('1000000002');
    expect(s.contacts.get('1000000001')?.name).toBe('touched first');
  });

  it.each<[string, unknown, string[]]>([
    ['no phone', { name: 'Ada' }, ['phone should not be empty']],
    ['a national phone', { phone: '(415) 555-2671' }, ['phone must be a valid phone number']],
    [
      'an E.164 phone of impossible length',
      { phone: '+1555' },
      ['phone must be a valid phone number'],
    ],
    [
      'a phone that is not a string',
      { phone: 14155552671 },
      ['phone must be a valid phone number'],
    ],
    [
      'several problems, all listed',
      { phone: '+14155552671', email: 'nope', public: 'yes', id: '9' },
      ['email must be an email', 'public must be a boolean value', 'property id should not exist'],
    ],
  ])('refuses %s with a NestJS 400 and creates nothing', async (_title, body, messages) => {
    const s = await start();
    const answer = await post(s, ONE, body);
    expect(answer.status).toBe(400);
    expect(answer.body).toEqual({ statusCode: 400, message: messages, error: 'Bad Request' });
    expect(s.contacts.size).toBe(0);
    expect(s.stats.contactsCreated).toBe(0);
  });

  it('needs the API key and obeys the rate limit, like a PUT', async () => {
    const s = await start({ rateLimit: { perSecond: 1, burst: 1 } });
    expect((await post(s, ONE, ADA, { apiKey: null })).status).toBe(401);
    expect((await post(s, ONE, ADA)).status).toBe(201);
    const limited = await post(s, ONE, ADA);
    expect(limited.status).toBe(429);
    expect(limited.headers['retry-after']).toBe('1');
    expect(s.stats.contactsCreated).toBe(1);
  });
});

describe('POST /public/contacts/batch', () => {
  const contacts = [
    { phone: '+14155550001', name: 'A' },
    { phone: '+14155550002', name: 'B' },
    { phone: '+14155550003', name: 'C' },
  ];

  it('creates every contact and answers them in request order', async () => {
    const s = await start({ ids: 10 });
    const answer = await post(s, BATCH, { contacts });
    expect(answer.status).toBe(200);
    const created = (answer.body as BatchBody).data;
    expect(created.map((c) => [c.id, c.name, c.phone])).toEqual([
      ['11', 'A', '+14155550001'],
      ['12', 'B', '+14155550002'],
      ['13', 'C', '+14155550003'],
    ]);
    expect(s.stats.contactsCreated).toBe(3);
  });

  it('answers 201 when told to, as NestJS does by default for a POST', async () => {
    const s = await start({ batchStatus: 201 });
    expect((await post(s, BATCH, { contacts })).status).toBe(201);
  });

  it('refuses the whole batch when one contact is invalid, naming it by index', async () => {
    const s = await start();
    const answer = await post(s, BATCH, {
      contacts: [contacts[0], { phone: '555-12', email: 'x' }, contacts[2]],
    });
    expect(answer.status).toBe(400);
    expect(answer.body).toEqual({
      statusCode: 400,
      message: [
        'contacts.1.phone must be a valid phone number',
        'contacts.1.email must be an email',
      ],
      error: 'Bad Request',
    });
    expect(s.contacts.size).toBe(0);
    expect(s.stats.contactsCreated).toBe(0);
  });

  it('refuses more contacts than its limit (100 by default) and creates none', async () => {
    const s = await start();
    const many = Array.from({ length: 101 }, (_, i) => ({
      phone: `+1415555${String(i).padStart(4, '0')}`,
    }));
    const over = await post(s, BATCH, { contacts: many });
    expect(over.status).toBe(400);
    expect((over.body as { message: string[] }).message).toEqual([
      'contacts must contain no more than 100 elements',
    ]);
    expect(s.contacts.size).toBe(0);
    expect((await post(s, BATCH, { contacts: many.slice(0, 100) })).status).toBe(200);
    expect(s.stats.contactsCreated).toBe(100);
  });

  it('takes its limit as an option', async () => {
    const s = await start({ batchMaxContacts: 2 });
    const answer = await post(s, BATCH, { contacts });
    expect((answer.body as { message: string[] }).message).toEqual([
      'contacts must contain no more than 2 elements',
    ]);
  });

  it.each<[string, unknown, string[]]>([
    ['no contacts key', {}, ['contacts must be an array']],
    [
      'contacts not an array',
      { contacts: { phone: '+14155550001' } },
      ['contacts must be an array'],
    ],
    ['an empty batch', { contacts: [] }, ['contacts should not be empty']],
    [
      'an element that is not an object',
      { contacts: ['+14155550001'] },
      ['contacts.0 must be an object'],
    ],
    ['an extra top-level key', { contacts, dryRun: true }, ['property dryRun should not exist']],
  ])('refuses %s with a NestJS 400', async (_title, body, messages) => {
    const s = await start();
    const answer = await post(s, BATCH, body);
    expect(answer.status).toBe(400);
    expect(answer.body).toEqual({ statusCode: 400, message: messages, error: 'Bad Request' });
  });

  it('leaves other methods on /batch to the contact with id "batch", as NestJS routes them', async () => {
    const s = await start();
    expect((await put(s, 'batch', { name: 'x' })).status).toBe(200);
    expect(s.contacts.get('batch')?.name).toBe('x');
    expect((await send(s, ONE, { method: 'GET' })).body).toMatchObject({
      statusCode: 404,
      message: 'Cannot GET /public/contacts',
    });
  });
});

describe('faults on creates', () => {
  it('a lost response after a create: the contact exists, the client sees a reset', async () => {
    const s = await start({ script: [{ route: 'create', respond: 'lost-response' }] });
    await expect(post(s, ONE, ADA)).rejects.toThrow();
    expect(s.stats.contactsCreated).toBe(1);
    expect(s.stats.byStatus).toEqual({ 'lost-response': 1 });
    expect(s.requests[0]).toMatchObject({ method: 'POST', outcome: 'lost-response', status: 0 });
    expect([...s.contacts.values()].map((c) => c.phone)).toEqual(['+14155552671']);
  });

  it('a 500 after a batch was created: every contact exists, the client is told it failed', async () => {
    const s = await start({ script: [{ route: 'batch', respond: 'lost-response-500' }] });
    const answer = await post(s, BATCH, {
      contacts: [{ phone: '+14155550001' }, { phone: '+14155550002' }],
    });
    expect(answer.status).toBe(500);
    expect(answer.body).toEqual({ statusCode: 500, message: 'Internal server error' });
    expect(s.stats.contactsCreated).toBe(2);
    expect(s.stats.byStatus).toEqual({ 'lost-response-500': 1 });
    expect(s.requests[0]).toMatchObject({ outcome: 'lost-response-500', status: 500 });
  });

  it('a script step for one route is left for a request of that route', async () => {
    const s = await start({
      script: [
        { route: 'batch', respond: { status: 503 } },
        { id: '7', respond: { status: 502 } },
      ],
    });
    expect((await put(s, '8', { name: 'x' })).status).toBe(200);
    expect((await post(s, ONE, ADA)).status).toBe(201);
    expect((await post(s, BATCH, { contacts: [ADA] })).status).toBe(503);
    expect((await put(s, '7', { name: 'x' })).status).toBe(502);
  });

  it('a step with no route takes the next write of any kind', async () => {
    const s = await start({ script: [{ respond: 'reset' }] });
    await expect(post(s, ONE, ADA)).rejects.toThrow();
    expect(s.stats.contactsCreated).toBe(0);
    expect((await post(s, ONE, ADA)).status).toBe(201);
  });

  it('fault rates apply to creates as to PUTs (lostResponse500Rate: every write lands, then 500)', async () => {
    const s = await start({ faults: { lostResponse500Rate: 1 } });
    expect((await post(s, ONE, ADA)).status).toBe(500);
    expect((await put(s, '1', { name: 'landed' })).status).toBe(500);
    expect(s.stats.contactsCreated).toBe(1);
    expect(s.contacts.get('1')?.name).toBe('landed');
    s.configure({ faults: { serverErrorRate: 1 } });
    expect([500, 502, 503]).toContain((await post(s, BATCH, { contacts: [ADA] })).status);
    expect(s.stats.contactsCreated).toBe(1);
  });

  it.each<[string, MockServerOptions, string]>([
    [
      'a batch limit below 1',
      { batchMaxContacts: 0 },
      'expected `batchMaxContacts` to be an integer >= 1, got 0',
    ],
    [
      'a batch status other than 200/201',
      { batchStatus: 204 as 200 },
      'expected `batchStatus` to be 200 or 201, got 204',
    ],
    [
      'a script route that does not exist',
      { script: [{ route: 'delete' as 'create', respond: 'reset' }] },
      "expected `script[0].route` to be 'update', 'create' or 'batch', got 'delete'",
    ],
    [
      'a script step with an id on a create route',
      { script: [{ id: '1', route: 'create', respond: 'reset' }] },
      "expected `script[0].route` to be 'update' (or nothing) when an id is given, got 'create'",
    ],
    [
      'a lostResponse500Rate above 1',
      { faults: { lostResponse500Rate: 2 } },
      'expected `faults.lostResponse500Rate` to be a probability from 0 to 1, got 2',
    ],
  ])('refuses %s', async (_title, options, message) => {
    await expect(startMockServer(options)).rejects.toThrow(
      new TypeError(`mock server: ${message}`),
    );
  });
});

describe('duplicate phones', () => {
  it('reports none when every created phone is distinct', async () => {
    const s = await start();
    await post(s, BATCH, { contacts: [{ phone: '+14155550001' }, { phone: '+14155550002' }] });
    expect(s.duplicatePhones()).toEqual([]);
    const answer = await send(s, '/__admin/duplicates', { method: 'GET', apiKey: null });
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ data: [] });
  });

  it('reports a phone created twice, with both ids, in the library and on the admin route', async () => {
    const s = await start({ ids: 0 });
    await post(s, ONE, ADA);
    await post(s, BATCH, { contacts: [{ phone: '+14155550009' }, { phone: ADA.phone }] });
    const expected = [{ phone: ADA.phone, ids: ['1', '3'] }];
    expect(s.duplicatePhones()).toEqual(expected);
    expect((await send(s, '/__admin/duplicates', { method: 'GET' })).body).toEqual({
      data: expected,
    });
    // The admin route is the fake's own: it is not rate-limited, faulted or an API route.
    expect((await send(s, '/__admin/duplicates', { method: 'POST', body: {} })).status).toBe(404);
  });

  it('reports a created contact that repeats the phone of an existing one', async () => {
    const s = await start({ ids: ['77'] });
    const existing = (await get(s, '77')).body as ContactBody;
    await post(s, ONE, { phone: existing.data.phone });
    expect(s.duplicatePhones()).toEqual([{ phone: existing.data.phone, ids: ['77', '78'] }]);
  });
});
