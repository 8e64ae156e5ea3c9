/**
 * sync through the real CLI: the job state's key table makes a second run of the same
 * file send nothing, and a run after a few changes and new rows send exactly those.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cliTestBed, lastLinePerRow, readResults, runCli, writeRows } from '../helpers.js';

const KEY = 'sk_sync_e2e_SECRET_5';
const bed = cliTestBed(KEY);

const phoneOf = (n: number) => `+1415${String(5_000_000 + n)}`;

interface Line {
  row: string;
  key: string;
  id: string;
  status: string;
}

describe('sync through the CLI', () => {
  it('sends nothing the second time, then exactly the changed rows (PUT) and the new ones (create)', async () => {
    const rows = 1_000;
    const header = ['crm_id', 'name', 'phone', 'email'];
    const base = (n: number) => [`CRM-${n}`, `Person ${n}`, phoneOf(n), `p${n}@example.com`];
    const first = writeRows(bed.dir, 'crm.csv', header, rows, base);
    const state = join(bed.dir, 'state');
    const sync = (input: string, out: string) =>
      runCli(
        [
          'sync',
          input,
          '--key',
          'crm_id',
          '--state',
          state,
          '--out',
          join(bed.dir, out),
          '--base-url',
          bed.server.url,
          '--rate',
          '0',
          '--quiet',
        ],
        { env: bed.env },
      );

    const one = await sync(first, 'one.csv');
    expect(one).toMatchObject({ code: 0, stderr: '' });
    expect(bed.server.stats.contactsCreated).toBe(rows);
    const ids = new Map(
      [...(lastLinePerRow(readResults(join(bed.dir, 'one.csv'))) as unknown as Map<number, Line>)]
        .filter(([, l]) => l.status === 'created')
        .map(([row, l]) => [row, l.id]),
    );
    expect(ids.size).toBe(rows);
    // `clerk-bulk state` shows the key table of a sync state (it once refused it).
    const described = await runCli(['state', state, '--json']);
    expect(described.code, described.stderr).toBe(0);
    expect(JSON.parse(described.stdout)).toMatchObject({ command: 'state', keys: rows });

    bed.server.reset();
    const two = await sync(first, 'two.csv');
    expect(two).toMatchObject({ code: 0, stderr: '' });
    expect(two.stdout).toContain(`unchanged ${rows}`);
    expect(bed.server.requests).toHaveLength(0);

    // 1 % of the rows change (every 100th: a new name), 1 % are new rows.
    const changed = (n: number) => n % 100 === 0;
    const grown = writeRows(bed.dir, 'crm2.csv', header, rows + 10, (n) =>
      n > rows
        ? base(n)
        : changed(n)
          ? [`CRM-${n}`, `Renamed ${n}`, phoneOf(n), `p${n}@example.com`]
          : base(n),
    );
    // A dry run reads the key table: it previews the 10 PUTs and the 10 creates, and
    // touches neither the table nor its lock.
    const table = readFileSync(join(state, 'keys.csv'));
    bed.server.reset();
    const preview = await runCli(
      [
        'sync',
        grown,
        '--key',
        'crm_id',
        '--state',
        state,
        '--out',
        join(bed.dir, 'preview.csv'),
        '--base-url',
        bed.server.url,
        '--dry-run',
        '--quiet',
      ],
      { env: bed.env },
    );
    expect(preview.code, preview.stderr).toBe(0);
    expect(bed.server.requests).toHaveLength(0);
    expect(preview.stdout).toContain(`dry-run 20`);
    expect(preview.stdout).toContain(`unchanged ${rows - 10}`);
    expect(preview.stdout).toContain(`PUT /public/contacts/${ids.get(100)} {"name":"Renamed 100"`);
    expect(readFileSync(join(state, 'keys.csv')).equals(table)).toBe(true);
    expect(existsSync(join(state, 'keys.lock'))).toBe(false);

    bed.server.reset();
    const three = await sync(grown, 'three.csv');
    expect(three).toMatchObject({ code: 0, stderr: '' });
    const puts = bed.server.requests.filter((r) => r.method === 'PUT');
    const creates = bed.server.requests.filter((r) => r.method === 'POST');
    expect(puts.map((r) => r.id).sort()).toEqual(
      [...ids]
        .filter(([row]) => changed(row))
        .map(([, id]) => id)
        .sort(),
    );
    for (const put of puts) expect((put.body as { name: string }).name).toMatch(/^Renamed /);
    expect(creates).toHaveLength(1);
    expect((creates[0]?.body as { contacts: unknown[] } | undefined)?.contacts).toHaveLength(10);
    expect(bed.server.stats.contactsCreated).toBe(10);
    expect(bed.server.duplicatePhones()).toEqual([]);
    expect(three.stdout).toContain(`created 10, updated 10, unchanged ${rows - 10}`);
    const last = lastLinePerRow(readResults(join(bed.dir, 'three.csv'))) as unknown as Map<
      number,
      Line
    >;
    expect(last.get(100)).toMatchObject({ key: 'CRM-100', id: ids.get(100), status: 'updated' });
    expect(last.get(rows + 1)?.status).toBe('created');
  }, 120_000);

  it('refuses sync without --key and --state, and two rows with one key', async () => {
    const input = writeRows(bed.dir, 'crm.csv', ['crm_id', 'phone'], 3, (n) => [
      n === 3 ? 'CRM-1' : `CRM-${n}`,
      phoneOf(n),
    ]);
    const bare = await runCli(['sync', input, '--base-url', bed.server.url], { env: bed.env });
    expect(bare.code).toBe(2);
    expect(bare.stderr).toBe(
      "clerk-bulk: sync needs --key COLUMN (your CRM's id) and --state DIR (where each key's contact is remembered)\n",
    );
    const out = join(bed.dir, 'out.csv');
    const res = await runCli(
      [
        'sync',
        input,
        '--key',
        'crm_id',
        '--state',
        join(bed.dir, 's'),
        '--out',
        out,
        '--base-url',
        bed.server.url,
        '-q',
      ],
      { env: bed.env },
    );
    expect(res.code).toBe(1);
    const last = lastLinePerRow(readResults(out)) as unknown as Map<
      number,
      Line & { error: string }
    >;
    expect(last.get(3)).toMatchObject({
      status: 'invalid',
      error: 'crm_id: the key is already on row 1',
    });
    expect(bed.server.stats.contactsCreated).toBe(2);
  });
});
