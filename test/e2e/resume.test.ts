import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type MockServer, startMockServer } from '../../src/mock-server/index.js';
import {
  csv,
  lastLinePerRow,
  readResults,
  runCli,
  spawnCli,
  tempDir,
  waitForLines,
  writeFile,
} from '../helpers.js';

const KEY = 'resume-test-key';
const env = { CLERK_CHAT_API_KEY: KEY };

let server: MockServer;
let dir: string;
beforeEach(async () => {
  server = await startMockServer({ apiKey: KEY, ids: 'any', latencyMs: [0, 3] });
  dir = tempDir();
});
afterEach(async () => {
  await server.close();
});

const puts = () => server.requests.filter((r) => r.method === 'PUT');

function contactsFile(n: number, version = 'v1'): string {
  const rows = Array.from({ length: n }, (_, i) => [
    `${i + 1}`,
    `Person ${i + 1} ${version}`,
    `p${i + 1}@example.com`,
  ]);
  return writeFile(dir, 'contacts.csv', csv(['id', 'name', 'email'], rows));
}

describe('resume', () => {
  it('survives kill -9 at several points of a 20,000-row run, re-sending at most what was in flight', async () => {
    const concurrency = 8;
    const input = contactsFile(20_000);
    const out = join(dir, 'out.csv');
    const args = [
      'update',
      input,
      '--out',
      out,
      '--base-url',
      server.url,
      '--rate',
      '0',
      '--concurrency',
      String(concurrency),
      '--quiet',
    ];
    let kills = 0;
    for (const at of [2_000, 8_000, 14_000]) {
      const { child, done } = spawnCli(kills === 0 ? args : [...args, '--resume'], env);
      await waitForLines(out, at);
      child.kill('SIGKILL');
      const res = await done;
      expect(res.signal).toBe('SIGKILL');
      kills++;
    }
    const final = await runCli([...args, '--resume'], { env });
    expect(final.stderr).toBe('');
    expect(final.code).toBe(0);

    const last = lastLinePerRow(readResults(out));
    expect(last.size).toBe(20_000);
    expect([...last.values()].every((l) => l.status === 'updated')).toBe(true);
    for (const id of ['1', '7777', '20000']) {
      expect(server.contacts.get(id)?.name).toBe(`Person ${id} v1`);
    }
    // Every contact got at least one PUT; the extra ones are at most the requests in
    // flight at each kill.
    expect(new Set(puts().map((r) => r.id)).size).toBe(20_000);
    expect(puts().length - 20_000).toBeLessThanOrEqual(kills * concurrency);
  });

  it('stops cleanly on SIGINT, prints the resume command, and the resume finishes the job', async () => {
    const input = contactsFile(3_000);
    const out = join(dir, 'out.csv');
    const { child, done } = spawnCli(
      [
        'update',
        input,
        '--out',
        out,
        '--base-url',
        server.url,
        '--rate',
        '500',
        '--concurrency',
        '4',
      ],
      env,
    );
    await waitForLines(out, 300);
    child.kill('SIGINT');
    const res = await done;
    expect(res.code).toBe(130);
    expect(res.stdout).toContain('Interrupted.');
    const command = /^ {2}(clerk-bulk update .*--resume.*)$/m.exec(res.stdout)?.[1];
    expect(command).toBeDefined();
    expect(command).toContain(`--out ${out}`);
    expect(command).not.toContain(KEY);
    const sentBefore = puts().length;
    const recorded = readResults(out).length;
    // In-flight requests finished and were recorded: nothing was sent that is not in the file.
    expect(sentBefore).toBe(recorded);

    const args = (command as string).split(' ').slice(1);
    const resumed = await runCli([...args, '--quiet'], { env });
    expect(resumed.code).toBe(0);
    expect(puts()).toHaveLength(3_000);
    expect(lastLinePerRow(readResults(out)).size).toBe(3_000);
  });

  it.each(['SIGTERM', 'SIGHUP'] as const)(
    'stops cleanly on %s with exit 143 and the resume command; a repeat within a second is the same stop',
    async (signal) => {
      await server.close();
      server = await startMockServer({ apiKey: KEY, ids: 'any', latencyMs: 300 });
      const input = contactsFile(200);
      const out = join(dir, 'out.csv');
      const { child, done } = spawnCli(
        [
          'update',
          input,
          '--out',
          out,
          '--base-url',
          server.url,
          '--rate',
          '0',
          '--concurrency',
          '4',
        ],
        env,
      );
      while (server.stats.maxInFlight < 4) await new Promise((r) => setTimeout(r, 10));
      // As a supervisor that signals the process and its group does: twice at once.
      child.kill(signal);
      child.kill(signal);
      const res = await done;
      expect(res.code).toBe(143);
      expect(res.stdout).toContain('Interrupted.');
      expect(res.stdout).toMatch(/clerk-bulk update .*--resume/);
      expect(res.stderr).toContain(`${signal}: stopping`);
      // The repeat did not abandon the requests in flight: all of them were recorded.
      expect(res.stderr).not.toContain('again');
      expect(readResults(out)).toHaveLength(puts().length);
    },
  );

  it('abandons requests in flight on a second SIGINT; resume sends them again', async () => {
    await server.close();
    server = await startMockServer({ apiKey: KEY, ids: 'any', latencyMs: 2_000 });
    const input = contactsFile(40);
    const out = join(dir, 'out.csv');
    const args = [
      'update',
      input,
      '--out',
      out,
      '--base-url',
      server.url,
      '--rate',
      '0',
      '--concurrency',
      '4',
    ];
    const { child, done } = spawnCli(args, env);
    while (server.stats.maxInFlight < 4) await new Promise((r) => setTimeout(r, 10));
    child.kill('SIGINT');
    await new Promise((r) => setTimeout(r, 100));
    child.kill('SIGINT');
    const res = await done;
    expect(res.code).toBe(130);
    expect(res.stderr).toMatch(/abandoning requests in flight/);
    // Nothing came back before the abandon, so nothing is recorded...
    expect(readResults(out)).toHaveLength(0);
    expect(puts()).toHaveLength(4);
    // ...and the resume sends those four rows again, with everything else.
    await server.close();
    server = await startMockServer({ apiKey: KEY, ids: 'any' });
    const resumed = await runCli(
      [...args.slice(0, 5), server.url, '--rate', '0', '--resume', '--quiet'],
      { env },
    );
    expect(resumed.code).toBe(0);
    expect(puts()).toHaveLength(40);
  });

  it('re-sends exactly the rows edited between runs', async () => {
    const input = contactsFile(200);
    const out = join(dir, 'out.csv');
    const args = [
      'update',
      input,
      '--out',
      out,
      '--base-url',
      server.url,
      '--rate',
      '0',
      '--quiet',
    ];
    expect((await runCli(args, { env })).code).toBe(0);
    server.reset();
    const lines = readFileSync(input, 'utf8').split('\n');
    for (const row of [5, 17, 100]) lines[row] = (lines[row] as string).replace(' v1', ' v2');
    writeFileSync(input, lines.join('\n'));
    const res = await runCli([...args, '--resume'], { env });
    expect(res.code).toBe(0);
    expect(
      puts()
        .map((r) => r.id)
        .sort(),
    ).toEqual(['100', '17', '5']);
    expect(server.contacts.get('17')?.name).toBe('Person 17 v2');
  });

  it('sends nothing when resuming a finished run, and re-sends failures only with --retry-failed', async () => {
    const rows = [
      ['1', 'ok@example.com'],
      ['2', 'not-an-email'],
      ['3', 'ok3@example.com'],
    ];
    const input = writeFile(dir, 'in.csv', csv(['id', 'email'], rows));
    const out = join(dir, 'out.csv');
    const args = ['update', input, '--out', out, '--base-url', server.url, '--quiet'];
    expect((await runCli(args, { env })).code).toBe(1);
    server.reset();
    const again = await runCli([...args, '--resume'], { env });
    expect(again.code).toBe(1);
    expect(puts()).toHaveLength(0);
    expect(readResults(out)).toHaveLength(3);
    const retry = await runCli([...args, '--resume', '--retry-failed'], { env });
    expect(retry.code).toBe(1);
    expect(puts()).toHaveLength(0); // the invalid row is re-checked, still invalid, never sent
    expect(readResults(out)).toHaveLength(4);
  });

  it('repairs a torn last line and processes that row again', async () => {
    const input = contactsFile(10);
    const out = join(dir, 'out.csv');
    const args = ['update', input, '--out', out, '--base-url', server.url, '--quiet'];
    expect((await runCli(args, { env })).code).toBe(0);
    const text = readFileSync(out, 'utf8');
    const kept = text.split('\n').slice(0, -2); // drop the last full line and the final ''
    const tornRow = text.split('\n').at(-2) as string;
    writeFileSync(out, `${kept.join('\n')}\n${tornRow.slice(0, 15)}`);
    server.reset();
    const res = await runCli([...args, '--resume'], { env });
    expect(res.code).toBe(0);
    expect(puts().map((r) => r.id)).toEqual([tornRow.split(',')[1]]);
    const after = readFileSync(out, 'utf8');
    expect(after.split('\n').every((l) => l === '' || l.split(',').length === 8)).toBe(true);
    expect(lastLinePerRow(readResults(out)).size).toBe(10);
  });

  it('refuses to resume from the results of another input, sending nothing', async () => {
    const input = contactsFile(50);
    const out = join(dir, 'out.csv');
    expect(
      (await runCli(['update', input, '--out', out, '--base-url', server.url, '--quiet'], { env }))
        .code,
    ).toBe(0);
    server.reset();
    const other = writeFile(
      dir,
      'other.csv',
      csv(
        ['id', 'name'],
        Array.from({ length: 50 }, (_, i) => [`x${i}`, 'n']),
      ),
    );
    const res = await runCli(
      ['update', other, '--out', out, '--resume', '--base-url', server.url],
      { env },
    );
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/does not belong to this input/);
    expect(puts()).toHaveLength(0);
  });

  it('stops before sending anything when the results file cannot be written', async () => {
    const input = contactsFile(5);
    const res = await runCli(
      ['update', input, '--out', '/dev/full', '--force', '--base-url', server.url],
      { env },
    );
    // A device is not a results file (a checkpoint to resume from): refused up front.
    // A disk that fills up mid-run is test/e2e/disk-full.test.ts.
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/is a device/);
    expect(res.stderr.trim().split('\n')).toHaveLength(1);
    expect(puts()).toHaveLength(0);
    const missingDir = await runCli(
      ['update', input, '--out', join(dir, 'no/such/dir.csv'), '--base-url', server.url],
      { env },
    );
    expect(missingDir.code).toBe(2);
    expect(puts()).toHaveLength(0);
  });

  it('appends to the results of an earlier run instead of starting over', async () => {
    const input = contactsFile(5);
    const out = join(dir, 'out.csv');
    appendFileSync(out, '');
    const res = await runCli(
      ['update', input, '--out', out, '--resume', '--base-url', server.url, '--quiet'],
      { env },
    );
    expect(res.code).toBe(0);
    expect(readResults(out)).toHaveLength(5);
  });

  it('refuses to resume against a file that is not a results file, leaving it byte for byte untouched', async () => {
    const input = contactsFile(5);
    // Not a results file, and its last line has no newline: exactly what the torn-line
    // repair would cut if it ran before the header check.
    const bytes = 'id,name,email\n1,Ann,ann@example.com\n2,Bob,bob@exa';
    const out = writeFile(dir, 'contacts-copy.csv', bytes);
    const res = await runCli(
      ['update', input, '--out', out, '--resume', '--base-url', server.url, '--quiet'],
      { env },
    );
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/not a clerk-bulk results file/);
    expect(readFileSync(out, 'utf8')).toBe(bytes);
    expect(puts()).toHaveLength(0);
  });
});
