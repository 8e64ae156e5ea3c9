/**
 * Issue 12, the operator contract: `--json` prints one documented object on stdout
 * (docs/json-output.md), also on every error exit, through the real CLI against the
 * mock server.
 */
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  ERROR_DETAIL_KEYS,
  ERROR_JSON_KEYS,
  MAX_JSON_PAYLOADS,
  REPORT_JSON_KEYS,
  UPDATE_JSON_KEYS,
  VALIDATE_JSON_KEYS,
} from '../../src/report/json-output.js';
import {
  type CliResult,
  cliTestBed,
  csv,
  runCli,
  spawnCli,
  updateArgv,
  waitForLines,
  writeFile,
  writeRows,
} from '../helpers.js';

const KEY = 'sk_live_json_contract_SECRET_91ab';
const bed = cliTestBed(KEY);

/** stdout as the one JSON object the contract promises: exactly one line, nothing else. */
function onlyObject(res: CliResult): Record<string, unknown> {
  expect(res.stdout.endsWith('\n')).toBe(true);
  expect(res.stdout.trimEnd().split('\n')).toHaveLength(1);
  expect(res.stdout + res.stderr).not.toContain(KEY);
  return JSON.parse(res.stdout) as Record<string, unknown>;
}

/** The error object, checked against the documented keys. */
function errorObject(res: CliResult) {
  const json = onlyObject(res);
  expect(Object.keys(json)).toEqual([...ERROR_JSON_KEYS]);
  const error = json.error as Record<string, unknown>;
  expect(Object.keys(error)).toEqual([...ERROR_DETAIL_KEYS]);
  expect(error.exitCode).toBe(res.code);
  // stderr keeps its human line, with the same message.
  expect(res.stderr).toContain(`clerk-bulk: ${error.message as string}`);
  return json as { schemaVersion: number; command: string | null; error: typeof error };
}

const mixed = () =>
  writeRows(bed.dir, 'in.csv', ['id', 'email'], 6, (n) => [
    n === 3 ? '' : `${n}`,
    n === 5 ? 'not-an-email' : `p${n}@example.com`,
  ]);

describe('update --json', () => {
  it('prints every documented key, null where nothing applies, and never the key', async () => {
    const out = join(bed.dir, 'out.csv');
    const res = await runCli(updateArgv(mixed(), out, bed.server.url, '--rate', '0', '--json'), {
      env: bed.env,
    });
    expect(res.code).toBe(1);
    const json = onlyObject(res);
    expect(Object.keys(json)).toEqual([...UPDATE_JSON_KEYS]);
    expect(json).toMatchObject({
      schemaVersion: 1,
      command: 'update',
      resultsPath: out,
      dryRun: false,
      rowsRead: 6,
      counts: { updated: 4, invalid: 2, failed: 0 },
      requests: { sent: 4 },
      stopped: null,
      unfinished: 0,
      payloads: null,
      payloadsTruncated: false,
      exitCode: 1,
    });
    // Invalid rows need a fixed input, not a resume: there is no command to print.
    expect(json.resumeCommand).toBeNull();
    expect(json.topErrors).toHaveLength(2);
  });

  it('includes the dry-run payloads, capped, with payloadsTruncated', async () => {
    const count = MAX_JSON_PAYLOADS + 5;
    const input = writeRows(bed.dir, 'big.csv', ['id', 'name'], count, (n) => [`c${n}`, `N${n}`]);
    const res = await runCli(['update', input, '--dry-run', '--json'], { env: {} });
    expect(res.code).toBe(0);
    const json = onlyObject(res);
    expect(Object.keys(json)).toEqual([...UPDATE_JSON_KEYS]);
    const payloads = json.payloads as Array<Record<string, unknown>>;
    expect(payloads).toHaveLength(MAX_JSON_PAYLOADS);
    expect(payloads[0]).toEqual({
      row: 1,
      id: 'c1',
      method: 'PUT',
      path: '/public/contacts/c1',
      body: { name: 'N1' },
    });
    expect(payloads.at(-1)?.row).toBe(MAX_JSON_PAYLOADS);
    expect(json).toMatchObject({ payloadsTruncated: true, dryRun: true, resumeCommand: null });
    expect(json.counts).toMatchObject({ 'dry-run': count });
    expect(bed.puts()).toHaveLength(0);
  });

  it('is not truncated when every payload fits', async () => {
    const input = writeRows(bed.dir, 'small.csv', ['id', 'name'], 3, (n) => [`c${n}`, `N${n}`]);
    const json = onlyObject(await runCli(['update', input, '--dry-run', '--json']));
    expect((json.payloads as unknown[]).length).toBe(3);
    expect(json.payloadsTruncated).toBe(false);
  });

  it('streams every dry-run payload as a JSON line on stderr with --log json', async () => {
    const input = writeRows(bed.dir, 'in.csv', ['id', 'name'], 40, (n) => [`c${n}`, `N${n}`]);
    const res = await runCli(['update', input, '--dry-run', '--json', '--log', 'json', '--quiet']);
    expect(res.code).toBe(0);
    const json = onlyObject(res);
    expect(json).toMatchObject({ payloads: null, payloadsTruncated: false });
    const lines = res.stderr
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l.event === 'payload');
    expect(lines.map((l) => l.row)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    expect(lines[39]).toMatchObject({ id: 'c40', method: 'PUT', body: { name: 'N40' } });
  });

  it('prints the update object, stopped "auth", exit 3 and the resume command when the key is refused mid-run', async () => {
    const input = writeRows(bed.dir, 'in.csv', ['id', 'name'], 400, (n) => [`c${n}`, `N${n}`]);
    const out = join(bed.dir, 'out.csv');
    const args = updateArgv(input, out, bed.server.url, '--rate', '100', '--concurrency', '4');
    const { done } = spawnCli([...args, '--json'], bed.env);
    await waitForLines(out, 20);
    bed.server.configure({ apiKey: 'a-rotated-key' });
    const res = await done;
    expect(res.code).toBe(3);
    const json = onlyObject(res);
    expect(Object.keys(json)).toEqual([...UPDATE_JSON_KEYS]);
    expect(json).toMatchObject({ stopped: 'auth', exitCode: 3 });
    expect(json.unfinished as number).toBeGreaterThan(0);
    expect(json.resumeCommand).toContain(`--out ${out} --resume`);
  });
});

describe('validate --json', () => {
  it('prints rows, valid, invalid, byColumn, the problems shown and invalidOut', async () => {
    const fix = join(bed.dir, 'fix.csv');
    const res = await runCli(['validate', mixed(), '--json', '--show', '1', '--invalid-out', fix]);
    expect(res.code).toBe(1);
    const json = onlyObject(res);
    expect(Object.keys(json)).toEqual([...VALIDATE_JSON_KEYS]);
    expect(json).toMatchObject({
      schemaVersion: 1,
      command: 'validate',
      rows: 6,
      valid: 4,
      invalid: 2,
      problemsTruncated: true,
      invalidOut: { path: fix, rows: 2 },
      exitCode: 1,
    });
    expect(json.byColumn).toEqual(
      expect.arrayContaining([
        { column: 'id', count: 1 },
        { column: 'email', count: 1 },
      ]),
    );
    expect(json.problems).toEqual([{ row: 3, line: 4, error: expect.stringContaining('id') }]);
    expect(readFileSync(fix, 'utf8').trimEnd().split('\n')).toHaveLength(3);
  });

  it('exits 0 with empty lists and invalidOut null for a clean file', async () => {
    const input = writeRows(bed.dir, 'ok.csv', ['id', 'name'], 2, (n) => [n, `N${n}`]);
    const res = await runCli(['validate', input, '--json']);
    expect(res.code).toBe(0);
    expect(onlyObject(res)).toMatchObject({
      invalid: 0,
      byColumn: [],
      problems: [],
      problemsTruncated: false,
      invalidOut: null,
      exitCode: 0,
    });
  });
});

describe('report --json', () => {
  it('uses the names update uses: resultsPath, counts, topErrors, exitCode', async () => {
    const out = join(bed.dir, 'out.csv');
    const first = onlyObject(
      await runCli(updateArgv(mixed(), out, bed.server.url, '--rate', '0', '--json'), {
        env: bed.env,
      }),
    );
    const res = await runCli(['report', out, '--json']);
    expect(res.code).toBe(1);
    const json = onlyObject(res);
    expect(Object.keys(json)).toEqual([...REPORT_JSON_KEYS]);
    expect(json).toMatchObject({
      schemaVersion: 1,
      command: 'report',
      resultsPath: out,
      lines: 6,
      rows: 6,
      tornLastLine: false,
      failedOut: null,
      exitCode: 1,
    });
    const {
      alreadyDone: _,
      alreadyDoneNotUpdated: __,
      ...counts
    } = first.counts as Record<string, number>;
    expect(json.counts).toEqual(counts);
    // Same kinds and counts; ties may come in another order.
    expect(json.topErrors).toHaveLength((first.topErrors as unknown[]).length);
    expect(json.topErrors).toEqual(expect.arrayContaining(first.topErrors as unknown[]));
  });
});

describe('the error object on every error exit', () => {
  it('reports a bad option (exit 2), also when option checking fails', async () => {
    const input = writeRows(bed.dir, 'in.csv', ['id', 'name'], 1, (n) => [n, 'a']);
    const res = await runCli(['update', input, '--dry-run', '--json', '--rate', 'fast']);
    expect(res.code).toBe(2);
    const json = errorObject(res);
    expect(json).toMatchObject({
      schemaVersion: 1,
      command: 'update',
      error: { code: 'E_OPTION', exitCode: 2, hint: null },
    });
    expect(json.error.message).toContain('--rate');
  });

  it('reports an unknown option and a misspelt command', async () => {
    const unknown = await runCli(['validate', 'in.csv', '--json=true', '--shwo', '3']);
    expect(unknown.code).toBe(2);
    expect(errorObject(unknown)).toMatchObject({ command: 'validate', error: { code: 'E_USAGE' } });
    const misspelt = await runCli(['valdate', 'in.csv', '--json']);
    expect(misspelt.code).toBe(2);
    expect(errorObject(misspelt)).toMatchObject({ command: null, error: { code: 'E_USAGE' } });
  });

  it('reports a missing input file and a missing results file (CLERK_BULK_JSON)', async () => {
    const input = await runCli(['validate', join(bed.dir, 'nope.csv'), '--json']);
    expect(input.code).toBe(2);
    expect(errorObject(input)).toMatchObject({ command: 'validate', error: { exitCode: 2 } });
    const results = await runCli(['report', join(bed.dir, 'nope.results.csv')], {
      env: { CLERK_BULK_JSON: 'yes' },
    });
    expect(errorObject(results)).toMatchObject({
      command: 'report',
      error: { code: 'E_RESULTS_READ', exitCode: 2 },
    });
  });

  it('reports a results file that exists, and sends nothing', async () => {
    const out = writeFile(bed.dir, 'out.csv', 'already here\n');
    const res = await runCli(updateArgv(mixed(), out, bed.server.url, '--json'), { env: bed.env });
    expect(res.code).toBe(2);
    expect(errorObject(res)).toMatchObject({ error: { code: 'E_RESULTS_EXISTS' } });
    expect(bed.puts()).toHaveLength(0);
  });

  it('reports a run the input broke midway with exit 3 and the resume command as hint', async () => {
    bed.server.configure({ latencyMs: [5, 10] });
    // As in stops.test.ts: bytes appended once rows land are read in this run.
    const good = csv(
      ['id', 'data.note'],
      Array.from({ length: 2_000 }, (_, i) => [`${i + 1}`, 'x'.repeat(1_000)]),
    );
    const input = writeFile(bed.dir, 'in.csv', good);
    const out = join(bed.dir, 'out.csv');
    const args = updateArgv(input, out, bed.server.url, '--rate', '0', '--concurrency', '8');
    const { done } = spawnCli([...args, '--quiet', '--json'], bed.env);
    await waitForLines(out, 20);
    appendFileSync(input, Buffer.from('2001,caf\xe9\n', 'latin1'));
    const res = await done;
    writeFileSync(input, good);
    expect(res.code).toBe(3);
    const json = errorObject(res);
    expect(json.error).toMatchObject({ code: 'E_INPUT_MIDRUN', exitCode: 3 });
    expect(json.error.hint).toMatch(
      /^to continue once that is fixed: clerk-bulk update .* --resume/,
    );
  });

  it('prints nothing on stdout for an error without --json', async () => {
    const res = await runCli(['report', join(bed.dir, 'nope.csv')]);
    expect(res.code).toBe(2);
    expect(res.stdout).toBe('');
  });
});
