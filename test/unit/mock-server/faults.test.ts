import { afterEach, describe, expect, it } from 'vitest';
import {
  type MockServer,
  type MockServerOptions,
  startMockServer,
} from '../../../src/mock-server/index.js';
import { get, put, sleep } from './client.js';

let server: MockServer | undefined;
async function start(options: MockServerOptions = {}): Promise<MockServer> {
  server = await startMockServer(options);
  return server;
}
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const HTML_503 = '<html><body><h1>503 Service Unavailable</h1></body></html>';

describe('a script', () => {
  it('answers matching PUTs in order, then lets requests through normally', async () => {
    const s = await start({
      script: [
        { id: '7', times: 2, respond: { status: 503, body: HTML_503 } },
        {
          respond: {
            status: 429,
            body: { statusCode: 429, message: 'slow down' },
            headers: { 'Retry-After': '2' },
          },
        },
      ],
    });
    const first = await put(s, '7', { name: 'one' });
    expect(first.status).toBe(503);
    expect(first.text).toBe(HTML_503);
    expect(first.headers['content-type']).toMatch(/^text\/html/);
    // Id 8 skips the step for 7 and takes the next one, which matches any id.
    const other = await put(s, '8', { name: 'x' });
    expect(other.status).toBe(429);
    expect(other.headers['retry-after']).toBe('2');
    expect(other.body).toEqual({ statusCode: 429, message: 'slow down' });
    expect((await put(s, '7', { name: 'two' })).status).toBe(503);
    expect(s.contacts.get('7')).toBeUndefined();
    const third = await put(s, '7', { name: 'three' });
    expect(third.status).toBe(200);
    expect(s.contacts.get('7')?.name).toBe('three');
    expect((await put(s, '8', { name: 'y' })).status).toBe(200);
    expect(s.stats.byStatus).toEqual({ 200: 2, 429: 1, 503: 2 });
  });

  it('leaves GETs alone and can be replaced while running', async () => {
    const s = await start({ script: [{ respond: { status: 500 } }] });
    expect((await get(s, '1')).status).toBe(200);
    s.configure({ script: [{ id: '1', respond: { status: 422 } }] });
    const answer = await put(s, '1', { name: 'x' });
    expect(answer.status).toBe(422);
    expect(answer.text).toBe('');
    expect((await put(s, '1', { name: 'x' })).status).toBe(200);
  });

  it('can script a reset, a hang and a lost response', async () => {
    const s = await start({
      script: [
        { id: 'r', respond: 'reset' },
        { id: 'h', respond: 'hang' },
        { id: 'l', respond: 'lost-response' },
      ],
    });
    await expect(put(s, 'r', { name: 'x' })).rejects.toThrow();
    await expect(put(s, 'h', { name: 'x' }, { timeoutMs: 100 })).rejects.toThrow();
    await expect(put(s, 'l', { name: 'x' })).rejects.toThrow();
    expect(s.requests.map((r) => [r.id, r.outcome, r.status])).toEqual([
      ['r', 'reset', 0],
      ['h', 'hang', 0],
      ['l', 'lost-response', 0],
    ]);
    expect(s.contacts.get('r')).toBeUndefined();
    expect(s.contacts.get('h')).toBeUndefined();
    expect(s.contacts.get('l')?.name).toBe('x');
  });
});

describe('random faults', () => {
  it('a reset destroys the connection without an answer and applies nothing', async () => {
    const s = await start({ faults: { resetRate: 1 } });
    await expect(put(s, '1', { name: 'x' })).rejects.toMatchObject({
      code: expect.stringMatching(/ECONNRESET|UND_ERR_SOCKET/),
    });
    expect(s.requests[0]).toMatchObject({ outcome: 'reset', status: 0 });
    expect(s.requests[0]?.finishedAtMs).toBeDefined();
    expect(s.stats.byStatus).toEqual({ reset: 1 });
    expect(s.contacts.get('1')).toBeUndefined();
  });

  it('a hang never answers, the client times out, and close() still returns promptly', async () => {
    const s = await start({ faults: { hangRate: 1 } });
    await expect(put(s, '1', { name: 'x' }, { timeoutMs: 100 })).rejects.toMatchObject({
      name: 'TimeoutError',
    });
    // Another hung request whose client would wait for ages: close() must not wait for it.
    const waiting = put(s, '2', { name: 'x' }, { timeoutMs: 60_000 });
    waiting.catch(() => {});
    await sleep(30);
    expect(s.stats.byStatus).toEqual({ hang: 2 });
    const startedMs = performance.now();
    await s.close();
    expect(performance.now() - startedMs).toBeLessThan(500);
    await expect(waiting).rejects.toThrow();
    expect(s.contacts.size).toBe(0);
  });

  it('a lost response applies the update, then drops the connection', async () => {
    const s = await start({ faults: { lostResponseRate: 1 } });
    await expect(put(s, '1', { name: 'landed' })).rejects.toThrow();
    expect(s.contacts.get('1')?.name).toBe('landed');
    expect(s.stats).toMatchObject({ updatesApplied: 1, byStatus: { 'lost-response': 1 } });
    expect((await get(s, '1')).status).toBe(200);
  });

  it('server errors are 500 as JSON, 502 and 503 as a proxy HTML page', async () => {
    const s = await start({ faults: { serverErrorRate: 1 } });
    const answers = await Promise.all(Array.from({ length: 30 }, (_, i) => put(s, String(i), {})));
    const statuses = new Set(answers.map((a) => a.status));
    expect([...statuses].sort()).toEqual([500, 502, 503]);
    for (const answer of answers) {
      if (answer.status === 500) {
        expect(answer.body).toEqual({ statusCode: 500, message: 'Internal server error' });
      } else {
        expect(answer.headers['content-type']).toMatch(/^text\/html/);
        expect(answer.text).toContain(`<title>${answer.status}`);
      }
    }
    expect(s.stats.updatesApplied).toBe(0);
  });

  it('the same seed gives the same faults, whatever the latency', async () => {
    const faults = { serverErrorRate: 0.3, resetRate: 0.1 };
    const run = async (options: MockServerOptions) => {
      const s = await startMockServer({ faults, ...options });
      const outcomes: string[] = [];
      for (let i = 0; i < 40; i++) {
        outcomes.push(
          await put(s, '1', {}).then(
            (a) => String(a.status),
            () => 'error',
          ),
        );
      }
      await s.close();
      return outcomes;
    };
    const first = await run({ seed: 42 });
    expect(await run({ seed: 42, latencyMs: [0, 2] })).toEqual(first);
    expect(await run({ seed: 43 })).not.toEqual(first);
    expect(first).toContain('200');
    expect(first).toContain('error');
  });
});
