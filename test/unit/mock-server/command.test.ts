import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { UsageError } from '../../../src/errors.js';
import {
  IdRange,
  type MockServer,
  parseIdsSpec,
  parseLatencySpec,
  runMockServerCommand,
} from '../../../src/mock-server/index.js';
import { post, put } from './client.js';

let server: MockServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe('parseIdsSpec', () => {
  it.each([
    ['any', 'any'],
    [' ANY ', 'any'],
    ['500', 500],
    ['0', 0],
    ['a,b,c', ['a', 'b', 'c']],
    [' a , b ,, c ', ['a', 'b', 'c']],
    ['only-one', ['only-one']],
    ['1,2', ['1', '2']],
  ])('reads %j as %j', (spec, expected) => {
    expect(parseIdsSpec(spec)).toEqual(expected);
  });

  it.each([
    ['1-500', 1, 500],
    ['20 - 80', 20, 80],
    ['7-7', 7, 7],
  ])('reads the range %j lazily', (spec, first, last) => {
    const ids = parseIdsSpec(spec);
    expect(ids).toBeInstanceOf(IdRange);
    expect(ids).toMatchObject({ first, last });
    const range = ids as IdRange;
    expect(range.has(String(first))).toBe(true);
    expect(range.has(String(last + 1))).toBe(false);
    expect(range.has(`0${first}`)).toBe(false);
  });

  it.each(['', '   ', '5-3', '1-', '-5', ','])('rejects %j', (spec) => {
    expect(() => parseIdsSpec(spec)).toThrow(TypeError);
  });
});

describe('parseLatencySpec', () => {
  it.each([
    ['20', 20],
    ['0', 0],
    ['10-50', [10, 50]],
    [' 2.5 - 7 ', [2.5, 7]],
  ])('reads %j as %j', (spec, expected) => {
    expect(parseLatencySpec(spec)).toEqual(expected);
  });

  it.each(['', 'fast', '50-10', '-5'])('rejects %j with a usage error', (spec) => {
    expect(() => parseLatencySpec(spec)).toThrow(UsageError);
  });
});

function capture(): { stream: Writable; text: () => string } {
  let text = '';
  const stream = new Writable({
    write(chunk, _encoding, done) {
      text += String(chunk);
      done();
    },
  });
  return { stream, text: () => text };
}

describe('runMockServerCommand', () => {
  it('prints the URL on the first line and the settings, without the key, on the second', async () => {
    const out = capture();
    server = await runMockServerCommand(
      {
        port: 0,
        apiKey: 'secret-key',
        ids: '1-3',
        rateLimit: 50,
        latencyMs: '1-2',
        failRate: 0,
        seed: 3,
      },
      { stdout: out.stream },
    );
    const lines = out.text().split('\n');
    expect(lines[0]).toBe(`clerk-bulk mock server listening on http://127.0.0.1:${server.port}`);
    expect(lines[1]).toContain('ids: 1-3');
    expect(lines[1]).toContain('50/s');
    expect(out.text()).not.toContain('secret-key');
    expect(lines).toHaveLength(3);
    expect((await put(server, '3', { name: 'x' }, { apiKey: 'secret-key' })).status).toBe(200);
    expect((await put(server, '4', { name: 'x' }, { apiKey: 'secret-key' })).status).toBe(404);
    // Started without recording, so it can run for days.
    expect(server.requests).toEqual([]);
    expect(server.stats.total).toBe(2);
  });

  it.each([
    [{ port: 70_000 }, /--port/],
    [{ port: Number.NaN }, /--port/],
    [{ ids: '9-1' }, /--ids/],
    [{ rateLimit: 0 }, /--rate-limit/],
    [{ failRate: 1.5 }, /--fail-rate/],
    [{ latencyMs: 'slow' }, /--latency/],
  ])('rejects %j with a usage error naming the flag', async (bad, pattern) => {
    const out = capture();
    const run = runMockServerCommand(
      { port: 0, apiKey: 'k', ids: 'any', ...bad },
      { stdout: out.stream },
    );
    await expect(run).rejects.toThrow(pattern);
    await expect(run).rejects.toBeInstanceOf(UsageError);
    expect(out.text()).toBe('');
  });

  it('passes --lost-response-500-rate to the server: applied, then answered 500', async () => {
    const out = capture();
    server = await runMockServerCommand(
      { port: 0, apiKey: 'k', ids: 'any', lostResponse500Rate: 1 },
      { stdout: out.stream },
    );
    expect(out.text()).toContain('lost response 500 rate: 1');
    expect((await put(server, '7', { name: 'x' }, { apiKey: 'k' })).status).toBe(500);
    expect(server.contacts.get('7')).toMatchObject({ name: 'x' });
  });

  it('passes --batch-max-contacts and --batch-status to the server', async () => {
    server = await runMockServerCommand(
      { port: 0, apiKey: 'k', ids: 'any', batchMaxContacts: 1, batchStatus: 201 },
      { stdout: capture().stream },
    );
    const contact = { phone: '+14155550001', name: 'A' };
    const batch = (n: number) => ({ contacts: Array.from({ length: n }, () => contact) });
    const path = '/public/contacts/batch';
    expect((await post(server, path, batch(2), { apiKey: 'k' })).status).toBe(400);
    expect((await post(server, path, batch(1), { apiKey: 'k' })).status).toBe(201);
  });

  it('says so when the port is taken', async () => {
    const out = capture();
    server = await runMockServerCommand(
      { port: 0, apiKey: 'k', ids: 'any' },
      { stdout: out.stream },
    );
    await expect(
      runMockServerCommand({ port: server.port, apiKey: 'k', ids: 'any' }, { stdout: out.stream }),
    ).rejects.toThrow(/in use/);
  });
});
