// How a run stops when something goes wrong midway, and what it says about going on:
// the input breaking after requests went out, --out naming the input, a signal that
// comes when every row is already on its way, and the resume command it prints.
// (Rows with the same id on resume: test/scenario/same-id.test.ts.)
import { appendFileSync, linkSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  cliTestBed,
  csv,
  lastLinePerRow,
  readResults,
  runCli,
  spawnCli,
  updateArgv,
  waitForLines,
  writeFile,
} from '../helpers.js';

const bed = cliTestBed('stops-test-key');
const { env, puts } = bed;

describe('the input breaks after requests went out', () => {
  it('finishes and records the rows in flight, exits 3 and prints the resume command', async () => {
    bed.server.configure({ latencyMs: [5, 10] });
    // 1 KB rows: the reader is well behind the end of the file when the first rows land,
    // so it notices bytes appended then, after the up-front file check.
    const rows = Array.from({ length: 2_000 }, (_, i) => [`${i + 1}`, 'x'.repeat(1_000)]);
    const good = csv(['id', 'data.note'], rows);
    const input = writeFile(bed.dir, 'in.csv', good);
    const out = join(bed.dir, 'out.csv');
    const args = updateArgv(input, out, bed.server.url);
    const { done } = spawnCli([...args, '--rate', '0', '--concurrency', '8', '--quiet'], env);
    await waitForLines(out, 20);
    appendFileSync(input, Buffer.from('2001,caf\xe9\n', 'latin1'));
    const res = await done;

    expect(res.code).toBe(3);
    // Rows appended during the run are not read: the file no longer is the one checked.
    expect(res.stderr).toMatch(
      /in\.csv: the file changed while it was being read \(it grew .*stopped there after \d+ requests/,
    );
    expect(res.stderr).toMatch(/to continue once that is fixed: clerk-bulk update .* --resume/);
    expect(res.stderr).not.toMatch(/\n\s+at /);
    expect(res.stderr).not.toContain(env.CLERK_CHAT_API_KEY);
    // Every request that went out has its outcome on disk: none was left unrecorded.
    const lines = readResults(out);
    expect(lines.every((l) => l.status === 'updated')).toBe(true);
    expect(lines.length).toBe(puts().length);
    expect(lines.length).toBeGreaterThanOrEqual(20);

    // Fixed file, then the printed command: the rest is sent, nothing twice.
    writeFileSync(input, good);
    const command = /to continue once that is fixed: clerk-bulk (.*)/.exec(res.stderr)?.[1] ?? '';
    const resumed = await runCli(command.split(' '), { env });
    expect(resumed.code, resumed.stderr).toBe(0);
    const final = lastLinePerRow(readResults(out));
    expect(final.size).toBe(2_000);
    expect([...final.values()].every((l) => l.status === 'updated')).toBe(true);
    expect(puts().length).toBe(2_000);
  });

  it('notices the file was truncated, never sends the cut row, exits 3 with the resume command', async () => {
    bed.server.configure({ latencyMs: [5, 10] });
    const note = (n: number) => `${n}-${'x'.repeat(1_000)}`;
    const text = csv(
      ['id', 'data.note'],
      Array.from({ length: 2_000 }, (_, i) => [`${i + 1}`, note(i + 1)]),
    );
    const input = writeFile(bed.dir, 'in.csv', text);
    const out = join(bed.dir, 'out.csv');
    const args = updateArgv(input, out, bed.server.url);
    const { done } = spawnCli([...args, '--rate', '0', '--concurrency', '8', '--quiet'], env);
    await waitForLines(out, 20);
    // Cut inside row 1,500's value, far ahead of the reader.
    truncateSync(input, text.indexOf('\n1500,') + 100);
    const res = await done;

    expect(res.code, res.stderr).toBe(3);
    expect(res.stderr).toMatch(
      /in\.csv: the file changed while it was being read \(it shrank .*stopped there after \d+ requests/,
    );
    expect(res.stderr).toMatch(/to continue once that is fixed: clerk-bulk update .* --resume/);
    const sent = puts();
    expect(sent.length).toBeGreaterThanOrEqual(20);
    expect(sent.length).toBeLessThan(1_500);
    for (const r of sent) expect(r.body).toEqual({ data: { note: note(Number(r.id)) } });
    expect(readResults(out).length).toBe(sent.length);
  });
});

describe('--out naming the input file', () => {
  it('is refused before anything is read or sent, the input left as it was', async () => {
    const text = csv(['id', 'name'], [['1', 'Ada']]);
    const input = writeFile(bed.dir, 'in.csv', text);
    const link = join(bed.dir, 'link.csv');
    linkSync(input, link);
    for (const out of [input, link]) {
      for (const extra of [['--force'], ['--resume']]) {
        const res = await runCli(updateArgv(input, out, bed.server.url, ...extra), { env });
        expect(res.code).toBe(2);
        expect(res.stderr).toMatch(/--out .* is the input file .* itself/);
        expect(readFileSync(input, 'utf8')).toBe(text);
      }
    }
    expect(puts()).toHaveLength(0);
  });
});

describe('the resume command', () => {
  it('carries --config and --max-errors', async () => {
    writeFile(bed.dir, '-in.csv', csv(['id', 'name'], [['1', 'Ada']]));
    const config = writeFile(
      bed.dir,
      'job.json',
      JSON.stringify({ baseUrl: bed.server.url, maxErrors: 5, retries: 0 }),
    );
    bed.server.configure({ script: [{ respond: { status: 500, body: 'down' } }] });
    const res = await runCli(['update', `${bed.dir}/-in.csv`, '--config', config], { env });
    expect(res.code).toBe(1);
    const command = /clerk-bulk update .*/.exec(res.stdout)?.[0] ?? '';
    expect(command).toContain(`--config ${config}`);
    expect(command).toContain('--max-errors 5');
    expect(command).toContain('--retry-failed');
  });
});

describe('a signal after every row was read', () => {
  it('lets the rows in flight finish and, with nothing left to do, exits 0', async () => {
    bed.server.configure({ latencyMs: 1_500 });
    const input = writeFile(
      bed.dir,
      'in.csv',
      csv(
        ['id', 'name'],
        Array.from({ length: 5 }, (_, i) => [`${i + 1}`, `P${i + 1}`]),
      ),
    );
    const out = join(bed.dir, 'out.csv');
    const { child, done } = spawnCli(
      updateArgv(input, out, bed.server.url, '--concurrency', '5'),
      env,
    );
    const deadline = Date.now() + 20_000;
    while (puts().length < 5 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    child.kill('SIGINT');
    const res = await done;
    expect(res.code).toBe(0);
    expect(res.stdout).not.toMatch(/--resume/);
    expect(readResults(out).map((l) => l.status)).toEqual(Array(5).fill('updated'));
  });
});
