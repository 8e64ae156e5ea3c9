import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  type MockServer,
  type MockServerOptions,
  startMockServer,
} from '../../../src/mock-server/index.js';
import { put, sleep } from './client.js';

let server: MockServer | undefined;
async function start(options: MockServerOptions = {}): Promise<MockServer> {
  server = await startMockServer(options);
  return server;
}
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe('stats', () => {
  it('counts a PUT that arrives while another PUT for the same id is in flight', async () => {
    const s = await start({ latencyMs: 80 });
    const first = put(s, 'same', { name: 'first' });
    await sleep(20);
    await Promise.all([first, put(s, 'same', { name: 'second' }), put(s, 'other', {})]);
    expect(s.stats.sameIdOverlaps).toBe(1);
    expect(s.stats.maxInFlight).toBe(3);
    expect(s.contacts.get('same')?.name).toBe('second');
  });

  it('does not count PUTs for one id sent one after the other', async () => {
    const s = await start({ latencyMs: [5, 15] });
    for (let i = 0; i < 5; i++) await put(s, 'same', { name: String(i) });
    expect(s.stats).toMatchObject({
      sameIdOverlaps: 0,
      maxInFlight: 1,
      updatesApplied: 5,
      total: 5,
    });
    expect(s.contacts.get('same')?.name).toBe('4');
  });

  it('holds every answer back by the latency, and in-flight lasts until the answer is sent', async () => {
    const s = await start({ latencyMs: 50 });
    const startedMs = performance.now();
    await put(s, '1', {});
    expect(performance.now() - startedMs).toBeGreaterThanOrEqual(45);
    const [recorded] = s.requests;
    expect((recorded?.finishedAtMs ?? 0) - (recorded?.receivedAtMs ?? 0)).toBeGreaterThanOrEqual(
      45,
    );
    s.configure({ latencyMs: 0 });
    const againMs = performance.now();
    await put(s, '1', {});
    expect(performance.now() - againMs).toBeLessThan(45);
  });

  it('applies an update whose client gave up during the latency, as a real server would', async () => {
    const s = await start({ latencyMs: 100 });
    await expect(put(s, '1', { name: 'late' }, { timeoutMs: 30 })).rejects.toThrow();
    await vi.waitFor(() => expect(s.contacts.get('1')?.name).toBe('late'));
    expect(s.stats.updatesApplied).toBe(1);
  });

  it('reset() clears requests and stats but keeps the contacts', async () => {
    const s = await start();
    await put(s, '1', { name: 'kept' });
    s.reset();
    expect(s.requests).toEqual([]);
    expect(s.stats).toEqual({
      total: 0,
      byStatus: {},
      maxInFlight: 0,
      sameIdOverlaps: 0,
      updatesApplied: 0,
      contactsCreated: 0,
    });
    expect(s.contacts.get('1')?.name).toBe('kept');
    await put(s, '2', {});
    expect(s.requests[0]?.seq).toBe(1);
  });

  it('with record: false keeps counting but keeps no requests', async () => {
    const s = await start({ record: false, ids: 1_000_000 });
    await Promise.all(Array.from({ length: 20 }, (_, i) => put(s, String(i + 999_991), {})));
    expect(s.requests).toEqual([]);
    expect(s.stats.byStatus).toEqual({ 200: 10, 404: 10 });
    // Only touched contacts exist in memory.
    expect(s.contacts.size).toBe(10);
  });

  it('changes the accepted key while running', async () => {
    const s = await start({ apiKey: 'old' });
    expect((await put(s, '1', {}, { apiKey: 'old' })).status).toBe(200);
    s.configure({ apiKey: 'new' });
    expect((await put(s, '1', {}, { apiKey: 'old' })).status).toBe(401);
    expect((await put(s, '1', {}, { apiKey: 'new' })).status).toBe(200);
  });
});
