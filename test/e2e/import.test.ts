/**
 * import through the real CLI against the mock server: kill -9 in the middle of a run
 * with lost answers, a batch with one bad row, the dry run, `validate --import` and
 * `report --created-out`.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import {
  cliTestBed,
  csv,
  lastLinePerRow,
  readResults,
  runCli,
  spawnCli,
  waitForLines,
  writeFile,
  writeRows,
} from '../helpers.js';

const KEY = 'sk_import_e2e_SECRET_77';
const bed = cliTestBed(KEY, { faults: { lostResponseRate: 0.01 }, seed: 3, latencyMs: [2, 8] });

const phoneOf = (n: number) => `+1415${String(5_000_000 + n)}`;

interface Line {
  row: string;
  key: string;
  id: string;
  status: string;
  error: string;
}

describe('import through the CLI', () => {
  it('5,000 rows, 1 % lost answers, two kill -9: every row created once or named uncertain', async () => {
    const rows = 5_000;
    const input = writeRows(bed.dir, 'in.csv', ['crm_id', 'name', 'phone'], rows, (n) => [
      `CRM-${n}`,
      `Person ${n}`,
      phoneOf(n),
    ]);
    const out = join(bed.dir, 'out.csv');
    const args = [
      'import',
      input,
      '--out',
      out,
      '--base-url',
      bed.server.url,
      '--key',
      'crm_id',
      '--batch-size',
      '10',
      '--rate',
      '100',
      '--quiet',
    ];
    const env = bed.env;
    let kills = 0;
    // Two lines per row (intent, outcome) and a header.
    for (const at of [2_500, 6_500]) {
      const { child, done } = spawnCli(kills === 0 ? args : [...args, '--resume'], env);
      await waitForLines(out, at);
      child.kill('SIGKILL');
      expect((await done).signal).toBe('SIGKILL');
      kills++;
    }
    const final = await runCli([...args, '--resume'], { env, timeoutMs: 120_000 });
    expect(final.stderr).toBe('');

    const last = lastLinePerRow(readResults(out)) as unknown as Map<number, Line>;
    expect(last.size).toBe(rows);
    const statuses = new Set([...last.values()].map((l) => l.status));
    expect([...statuses].sort()).toEqual(['created', 'uncertain']);
    const uncertain = [...last.values()].filter((l) => l.status === 'uncertain');
    // The exit code and the summary name the uncertain rows.
    expect(final.code).toBe(1);
    expect(final.stdout).toContain(`Uncertain: `);
    expect(final.stdout).toContain('--resend-uncertain');

    // What the server holds: each created row once, under the id its line records.
    const byPhone = new Map<string, string[]>();
    for (const [id, contact] of bed.server.contacts) {
      byPhone.set(contact.phone, [...(byPhone.get(contact.phone) ?? []), id]);
    }
    for (const [row, line] of last) {
      const ids = byPhone.get(phoneOf(row)) ?? [];
      if (line.status === 'created') expect(ids).toEqual([line.id]);
      // Uncertain: sent once, landed or not; never twice.
      else expect(ids.length).toBeLessThanOrEqual(1);
    }
    expect(bed.server.duplicatePhones()).toEqual([]);
    const created = rows - uncertain.length;
    const landedUncertain = uncertain.filter((l) => byPhone.has(phoneOf(Number(l.row)))).length;
    expect(bed.server.stats.contactsCreated).toBe(created + landedUncertain);
    // Lost answers did happen, and their rows are among the uncertain ones.
    const lost = bed.server.requests.filter((r) => r.outcome === 'lost-response');
    expect(lost.length).toBeGreaterThan(0);
    expect(landedUncertain).toBeGreaterThanOrEqual(lost.length * 10);

    // report names them and writes row,key,id for the created ones.
    const ids = join(bed.dir, 'ids.csv');
    const report = await runCli(['report', out, '--created-out', ids]);
    expect(report.code).toBe(1);
    expect(report.stdout).toContain(`created ${created}, uncertain ${uncertain.length}`);
    expect(report.stdout).toContain(`uncertain rows (`);
    const written = parse(readFileSync(ids, 'utf8'), { columns: true }) as Line[];
    expect(written).toHaveLength(created);
    expect(written[0]).toEqual({
      row: '1',
      key: 'CRM-1',
      id: last.get(1)?.status === 'created' ? last.get(1)?.id : written[0]?.id,
    });
    for (const w of written) expect(last.get(Number(w.row))?.id).toBe(w.id);
  }, 180_000);

  it('creates the good rows of a batch that one bad row made the API refuse', async () => {
    bed.server.configure({
      faults: {},
      script: [
        {
          route: 'batch',
          respond: {
            status: 400,
            body: { statusCode: 400, message: ['contacts.0.email must be an email'] },
          },
        },
        {
          route: 'create',
          respond: { status: 400, body: { statusCode: 400, message: ['email must be an email'] } },
        },
      ],
    });
    const input = writeFile(
      bed.dir,
      'in.csv',
      csv(
        ['name', 'phone'],
        [
          ['Bad', '+14155550001'],
          ['Good', '+14155550002'],
          ['Fine', '+14155550003'],
        ],
      ),
    );
    const out = join(bed.dir, 'out.csv');
    const res = await runCli(
      ['import', input, '--out', out, '--base-url', bed.server.url, '--concurrency', '1'],
      { env: bed.env },
    );
    expect(res.code).toBe(1);
    expect(res.stdout).toContain('created 2, uncertain 0, failed 1, invalid 0');
    expect(res.stdout + res.stderr).not.toContain(KEY);
    const last = lastLinePerRow(readResults(out)) as unknown as Map<number, Line>;
    expect(last.get(1)).toMatchObject({
      status: 'failed',
      error: '400 Bad Request: email must be an email',
    });
    expect(last.get(2)?.status).toBe('created');
    expect(last.get(3)?.status).toBe('created');
    expect(bed.server.stats.contactsCreated).toBe(2);
  });

  it('dry run: prints each create, sends nothing; validate --import finds the same bad rows', async () => {
    const input = writeFile(
      bed.dir,
      'in.csv',
      csv(
        ['crm_id', 'name', 'phone'],
        [
          ['A1', 'Ann', '(415) 555-2671'],
          ['A2', 'Bob', ''],
        ],
      ),
    );
    const dry = await runCli(
      ['import', input, '--dry-run', '--default-country', 'us', '--key', 'crm_id'],
      {
        env: {},
      },
    );
    expect(dry.code).toBe(1);
    expect(dry.stdout).toContain(
      'row 1: POST /public/contacts/batch {"name":"Ann","phone":"+14155552671"}',
    );
    expect(bed.server.requests).toHaveLength(0);

    const check = await runCli(['validate', input, '--import', '--key', 'crm_id']);
    expect(check.code).toBe(1);
    expect(check.stdout).toContain('2 rows, 0 valid, 2 invalid');
    expect(check.stdout).toContain('row 2 (line 3): phone: missing');
    const updateCheck = await runCli(['validate', input]);
    expect(updateCheck.code).toBe(2);
    expect(updateCheck.stderr).toMatch(/^clerk-bulk: .*in\.csv/);

    const bad = await runCli(['import', input, '--dry-run', '--default-country', 'XX']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe(
      'clerk-bulk: --default-country: expected a two-letter country code such as US, GB or DE, got "XX"\n',
    );
  });
});
