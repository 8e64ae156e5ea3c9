import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type MockServer, startMockServer } from '../../src/mock-server/index.js';
import { csv, ROOT, readResults, runCli, tempDir, writeFile } from '../helpers.js';

const KEY = 'sk_live_e2e_SECRET_9f8e7d';

let server: MockServer;
let dir: string;

beforeEach(async () => {
  server = await startMockServer({ apiKey: KEY, ids: 'any' });
  dir = tempDir();
});
afterEach(async () => {
  await server.close();
});

const env = () => ({ CLERK_CHAT_API_KEY: KEY });
const base = () => ['--base-url', server.url, '--quiet'];
const puts = () => server.requests.filter((r) => r.method === 'PUT');

describe('clerk-bulk update', () => {
  it('updates every contact of the tiny sample and exits 0', async () => {
    const out = join(dir, 'tiny.results.csv');
    const res = await runCli(['update', join(ROOT, 'samples/tiny.csv'), '--out', out, ...base()], {
      env: env(),
    });
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    const lines = readResults(out);
    const sorted = [...lines].sort((a, b) => Number(a.row) - Number(b.row));
    expect(sorted.map((l) => [l.row, l.id, l.status, l.http_status, l.attempts])).toEqual([
      ['1', '1', 'updated', '200', '1'],
      ['2', '2', 'updated', '200', '1'],
      ['3', '3', 'updated', '200', '1'],
    ]);
    for (const l of lines) expect(l.payload_sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(server.contacts.get('3')).toMatchObject({
      name: 'Grace Hopper',
      email: 'grace@example.com',
      public: true,
    });
    expect(res.stdout).toContain('updated 3');
    expect(res.stdout).toContain(out);
  });

  it('accounts for every row exactly once, and never sends an invalid row', async () => {
    const rows: string[][] = [];
    for (let i = 1; i <= 60; i++) {
      const invalid = i % 7 === 0;
      rows.push([
        `c${i}`,
        `Name ${i}`,
        invalid ? `bad-email-${i}` : `u${i}@example.com`,
        i % 2 === 0 ? 'yes' : 'no',
      ]);
    }
    const input = writeFile(dir, 'mixed.csv', csv(['id', 'name', 'email', 'public'], rows));
    const out = join(dir, 'mixed.results.csv');
    const res = await runCli(
      ['update', input, '--out', out, '--rate', '0', '--concurrency', '8', ...base()],
      { env: env() },
    );
    expect(res.code).toBe(1);
    const lines = readResults(out);
    expect(lines).toHaveLength(60);
    expect(new Set(lines.map((l) => l.row)).size).toBe(60);
    const invalid = lines.filter((l) => l.status === 'invalid');
    expect(invalid.map((l) => l.id).sort()).toEqual(
      ['c14', 'c21', 'c28', 'c35', 'c42', 'c49', 'c56', 'c7'].sort(),
    );
    for (const line of invalid) {
      expect(line.error).toMatch(/email/);
      expect(line.attempts).toBe('0');
    }
    const sentIds = new Set(puts().map((r) => r.id));
    for (const line of invalid) expect(sentIds.has(line.id)).toBe(false);
    expect(puts()).toHaveLength(52);
  });

  it('never has two requests for one id in flight, and the last row for an id wins', async () => {
    await server.close();
    server = await startMockServer({ apiKey: KEY, ids: 'any', latencyMs: [5, 25] });
    const rows: string[][] = [];
    for (let i = 1; i <= 120; i++) rows.push([i % 3 === 0 ? 'same' : `id${i}`, `version ${i}`]);
    const input = writeFile(dir, 'dupes.csv', csv(['id', 'name'], rows));
    const out = join(dir, 'dupes.results.csv');
    const res = await runCli(
      ['update', input, '--out', out, '--rate', '0', '--concurrency', '16', ...base()],
      { env: env() },
    );
    expect(res.code).toBe(0);
    expect(server.stats.sameIdOverlaps).toBe(0);
    expect(server.contacts.get('same')?.name).toBe('version 120');
    const sameBodies = puts()
      .filter((r) => r.id === 'same')
      .map((r) => (r.body as { name: string }).name);
    expect(sameBodies).toEqual(Array.from({ length: 40 }, (_, i) => `version ${(i + 1) * 3}`));
  });

  it('sends an id as one encoded path segment, whatever it holds', async () => {
    const ids = [
      'a/b',
      '../admin',
      '?x=1',
      '#frag',
      'ünï cødé',
      '01',
      '1e0',
      '12345678901234567890',
    ];
    const input = writeFile(
      dir,
      'ids.csv',
      csv(
        ['id', 'name'],
        ids.map((id) => [id, 'x']),
      ),
    );
    const out = join(dir, 'ids.results.csv');
    const res = await runCli(['update', input, '--out', out, ...base(), '--rate', '0'], {
      env: env(),
    });
    expect(res.code).toBe(0);
    expect(
      puts()
        .map((r) => r.id)
        .sort(),
    ).toEqual([...ids].sort());
    for (const r of puts()) expect(r.path.startsWith('/public/contacts/')).toBe(true);
    for (const r of puts()) expect(r.path.slice('/public/contacts/'.length)).not.toContain('/');
    expect(
      readResults(out)
        .map((l) => l.id)
        .sort(),
    ).toEqual([...ids].sort());
  });

  it('updates 2,000 generated contacts exactly once at --rate 2000 --concurrency 16', async () => {
    const rows = Array.from({ length: 2000 }, (_, i) => [
      `${i + 1}`,
      `Person ${i + 1}`,
      `p${i + 1}@example.com`,
    ]);
    const input = writeFile(dir, 'big.csv', csv(['id', 'name', 'email'], rows));
    const out = join(dir, 'big.results.csv');
    const res = await runCli(
      ['update', input, '--out', out, '--rate', '2000', '--concurrency', '16', ...base()],
      { env: env() },
    );
    expect(res.code).toBe(0);
    const lines = readResults(out);
    expect(lines).toHaveLength(2000);
    expect(lines.every((l) => l.status === 'updated')).toBe(true);
    expect(puts()).toHaveLength(2000);
    expect(new Set(puts().map((r) => r.id)).size).toBe(2000);
    expect(server.contacts.get('1999')?.email).toBe('p1999@example.com');
  });

  it('never shows the API key in output or results, even when the key is refused', async () => {
    const input = writeFile(
      dir,
      'k.csv',
      csv(
        ['id', 'name'],
        [
          ['1', 'A'],
          ['2', `B ${KEY}`],
        ],
      ),
    );
    const out = join(dir, 'k.results.csv');
    const ok = await runCli(
      ['update', input, '--out', out, '--api-key', KEY, '--base-url', server.url],
      {},
    );
    expect(ok.code).toBe(0);
    const wrongKey = 'sk_live_WRONG_KEY_123456';
    const refused = await runCli(
      [
        'update',
        input,
        '--out',
        join(dir, 'r.csv'),
        '--api-key',
        wrongKey,
        '--base-url',
        server.url,
      ],
      {},
    );
    expect(refused.code).toBe(3);
    expect(refused.stdout + refused.stderr).toMatch(/refused/i);
    for (const text of [ok.stdout, ok.stderr, readFileSync(out, 'utf8')])
      expect(text).not.toContain(KEY);
    for (const text of [refused.stdout, refused.stderr, readFileSync(join(dir, 'r.csv'), 'utf8')]) {
      expect(text).not.toContain(wrongKey);
    }
  });

  it('hides the key when the API echoes it back in an error', async () => {
    server.configure({
      script: [
        {
          id: '2',
          times: 3,
          respond: { status: 422, body: { message: `key ${KEY} may not edit this contact` } },
        },
      ],
    });
    const input = writeFile(
      dir,
      'echo.csv',
      csv(
        ['id', 'name'],
        [
          ['1', 'A'],
          ['2', 'B'],
        ],
      ),
    );
    const out = join(dir, 'echo.results.csv');
    for (const extra of [[], ['--json'], ['--log', 'json', '--progress-interval', '1']]) {
      const res = await runCli(
        ['update', input, '--out', out, '--force', '--base-url', server.url, ...extra],
        { env: env() },
      );
      expect(res.code).toBe(1);
      const text = res.stdout + res.stderr + readFileSync(out, 'utf8');
      expect(text).toContain('key *** may not edit this contact');
      expect(text).not.toContain(KEY);
    }
  });

  it('prints the summary as one JSON object with --json', async () => {
    const out = join(dir, 'j.results.csv');
    const res = await runCli(
      ['update', join(ROOT, 'samples/tiny.csv'), '--out', out, '--json', ...base()],
      { env: env() },
    );
    expect(res.code).toBe(0);
    const summary = JSON.parse(res.stdout) as {
      counts: { updated: number };
      exitCode: number;
      resultsPath: string;
    };
    expect(summary.counts.updated).toBe(3);
    expect(summary.exitCode).toBe(0);
    expect(summary.resultsPath).toBe(out);
  });

  it('sends nothing on --dry-run and shows the payloads', async () => {
    const res = await runCli(
      [
        'update',
        join(ROOT, 'samples/tiny.csv'),
        '--out',
        join(dir, 'd.csv'),
        '--dry-run',
        ...base(),
      ],
      {},
    );
    expect(res.code).toBe(0);
    expect(puts()).toHaveLength(0);
    expect(res.stdout).toContain(
      'PUT /public/contacts/1 {"name":"Ada Lovelace","email":"ada@example.com","public":true}',
    );
    expect(readResults(join(dir, 'd.csv')).map((l) => l.status)).toEqual([
      'dry-run',
      'dry-run',
      'dry-run',
    ]);
  });
});

describe('clerk-bulk update refuses bad input with exit 2 and sends nothing', () => {
  it.each([
    ['a missing input file', () => ['update', join(dir, 'nope.csv')], /nope\.csv: file not found/],
    [
      'an unknown column',
      () => ['update', writeFile(dir, 'u.csv', 'id,name,phone\n1,A,+1555\n')],
      /u\.csv line 1: .*phone.*--map/,
    ],
    ['a file with no id column', () => ['update', writeFile(dir, 'n.csv', 'name\nA\n')], /id/],
    [
      'a bad option value',
      () => ['update', writeFile(dir, 'o.csv', 'id,name\n1,A\n'), '--rate', 'fast'],
      /--rate: expected .* got "fast"/,
    ],
    [
      'a missing API key',
      () => ['update', writeFile(dir, 'k.csv', 'id,name\n1,A\n'), '--no-key'],
      /API key/,
    ],
  ])('%s', async (_title, args, message) => {
    const argv = args();
    const noKey = argv.includes('--no-key');
    const res = await runCli([...argv.filter((a) => a !== '--no-key'), '--base-url', server.url], {
      env: noKey ? {} : env(),
    });
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(message);
    expect(res.stderr.trim().split('\n')).toHaveLength(1);
    expect(res.stderr).not.toMatch(/\bat .*\.js:\d+/);
    expect(puts()).toHaveLength(0);
  });

  it('refuses to overwrite an existing results file without --force', async () => {
    const input = writeFile(dir, 'e.csv', 'id,name\n1,A\n');
    const out = writeFile(dir, 'e.results.csv', 'keep me\n');
    const res = await runCli(['update', input, '--out', out, ...base()], { env: env() });
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/already exists.*--resume.*--force/);
    expect(readFileSync(out, 'utf8')).toBe('keep me\n');
    expect(puts()).toHaveLength(0);
    const forced = await runCli(['update', input, '--out', out, '--force', ...base()], {
      env: env(),
    });
    expect(forced.code).toBe(0);
    expect(readResults(out)).toHaveLength(1);
  });

  it('writes the default results file next to the input', async () => {
    const input = writeFile(dir, 'default.csv', 'id,name\n1,A\n');
    const res = await runCli(['update', input, ...base()], { env: env() });
    expect(res.code).toBe(0);
    expect(existsSync(`${input}.results.csv`)).toBe(true);
  });
});
