/**
 * import in-process against the mock server: batches, the split of a refused batch,
 * the answers that may be retried and those that leave rows `uncertain`, and resume of
 * a run that died with a batch in flight. Every test checks the results file against
 * what the server holds (its contacts, its duplicate phones).
 */
import { appendFileSync, readFileSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { importExitCode } from '../../src/commands/import.js';
import { runImport } from '../../src/pipeline/run/run-import.js';
import type { ImportOptions } from '../../src/pipeline/run/types.js';
import { lastLinePerRow, readResults, writeRows } from '../helpers.js';
import { scenarioBed } from './bed.js';

const KEY = 'sk_import_scenario_SECRET';
const bed = scenarioBed(KEY);

/** Row n: key `K<n>`, name, and a phone unique to the row. */
function inputFile(rows: number, phone = (n: number) => `+1415555${String(n).padStart(4, '0')}`) {
  return writeRows(bed.dir, 'in.csv', ['crm_id', 'name', 'phone'], rows, (n) => [
    `K${n}`,
    `Name ${n}`,
    phone(n),
  ]);
}

async function run(input: string, more: Partial<ImportOptions> = {}) {
  const summary = await runImport({
    operation: 'create',
    input,
    out: join(bed.dir, 'out.csv'),
    apiKey: KEY,
    baseUrl: bed.server.url,
    key: 'crm_id',
    ratePerSecond: 0,
    retryBaseDelayMs: 10,
    ...more,
  });
  return { summary, exitCode: importExitCode(summary) };
}

const results = () =>
  readResults(join(bed.dir, 'out.csv')) as unknown as Array<Record<string, string>>;
const last = () =>
  lastLinePerRow(results() as never) as unknown as Map<number, Record<string, string>>;
const posts = (path: string) =>
  bed.server.requests.filter((r) => r.method === 'POST' && r.path === path);

describe('import', () => {
  it('creates every row once, in batches, and records each new id with its key', async () => {
    const input = inputFile(23);
    const { summary, exitCode } = await run(input, { batchSize: 10 });
    expect(exitCode).toBe(0);
    expect(summary.counts.created).toBe(23);
    expect(
      posts('/public/contacts/batch').map((r) => (r.body as { contacts: [] }).contacts.length),
    ).toEqual(expect.arrayContaining([10, 10, 3]));
    expect(summary.requests.sent).toBe(3);
    const byRow = last();
    for (let n = 1; n <= 23; n++) {
      const line = byRow.get(n);
      expect(line?.status).toBe('created');
      expect(line?.key).toBe(`K${n}`);
      // The id recorded is the contact the server holds with this row's phone.
      expect(bed.server.contacts.get(line?.id as string)?.phone).toBe(
        `+1415555${String(n).padStart(4, '0')}`,
      );
    }
    expect(bed.server.stats.contactsCreated).toBe(23);
    expect(bed.server.duplicatePhones()).toEqual([]);
  });

  it('writes every row of a batch as `sending` with one write before the batch goes out', async () => {
    const input = inputFile(4);
    bed.server.configure({ script: [{ route: 'batch', respond: 'hang' }] });
    const { summary } = await run(input, { timeoutMs: 200 });
    const lines = results();
    expect(lines.slice(0, 4).map((l) => [l.row, l.status])).toEqual([
      ['1', 'sending'],
      ['2', 'sending'],
      ['3', 'sending'],
      ['4', 'sending'],
    ]);
    // A timeout may have created them: never sent again on its own.
    expect(summary.counts.uncertain).toBe(4);
    expect(posts('/public/contacts/batch')).toHaveLength(1);
  });

  it('never puts an invalid row in a batch', async () => {
    const input = inputFile(5, (n) => (n === 3 ? '12' : `+1415555000${n}`));
    const { summary, exitCode } = await run(input);
    expect(exitCode).toBe(1);
    expect(summary.counts).toMatchObject({ created: 4, invalid: 1 });
    const [batch] = posts('/public/contacts/batch');
    const sent = (batch?.body as { contacts: Array<{ name: string }> } | undefined)?.contacts;
    expect(sent?.map((c) => c.name)).toEqual(['Name 1', 'Name 2', 'Name 4', 'Name 5']);
    expect(last().get(3)?.error).toMatch(/^phone: /);
  });

  it('splits a batch the API refuses: the bad row fails with the API message, the others are created', async () => {
    bed.server.configure({
      script: [
        {
          route: 'batch',
          respond: {
            status: 400,
            body: { statusCode: 400, message: ['contacts.0.phone must be a valid phone number'] },
          },
        },
        {
          route: 'create',
          respond: {
            status: 400,
            body: { statusCode: 400, message: ['phone must be a valid phone number'] },
          },
        },
      ],
    });
    const input = inputFile(5);
    // One request at a time: the rows go alone in row order, so row 1 meets the 400.
    const { summary, exitCode } = await run(input, { concurrency: 1 });
    expect(exitCode).toBe(1);
    expect(summary.counts).toMatchObject({ created: 4, failed: 1, uncertain: 0 });
    const byRow = last();
    expect(byRow.get(1)).toMatchObject({ status: 'failed', http_status: '400', attempts: '2' });
    expect(byRow.get(1)?.error).toContain('phone must be a valid phone number');
    for (const n of [2, 3, 4, 5]) expect(byRow.get(n)?.status).toBe('created');
    expect(posts('/public/contacts')).toHaveLength(5);
    expect(bed.server.stats.contactsCreated).toBe(4);
  });

  it('retries only what proves nothing was created: 429, 503 with Retry-After', async () => {
    bed.server.configure({
      script: [
        { route: 'batch', respond: { status: 429, headers: { 'retry-after': '0' } } },
        { route: 'batch', respond: { status: 503, headers: { 'retry-after': '0' } } },
      ],
    });
    const input = inputFile(3);
    const { summary, exitCode } = await run(input);
    expect(exitCode).toBe(0);
    expect(summary.counts.created).toBe(3);
    expect(posts('/public/contacts/batch')).toHaveLength(3);
    expect(bed.server.stats.contactsCreated).toBe(3);
  });

  it('retries a refused connection (nothing went out), then fails the rows, not uncertain', async () => {
    const input = inputFile(2);
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const { port } = probe.address() as AddressInfo;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const { summary, exitCode } = await run(input, {
      baseUrl: `http://127.0.0.1:${port}`,
      retries: 2,
    });
    expect(exitCode).toBe(1);
    expect(summary.counts).toMatchObject({ failed: 2, uncertain: 0 });
    expect(last().get(1)).toMatchObject({ status: 'failed', attempts: '3' });
    expect(last().get(1)?.error).toMatch(/^connection refused/);
  });

  it.each([
    ['a lost response (reset after the commit)', 'lost-response' as const],
    ['a 500 after the commit', 'lost-response-500' as const],
    ['a 503 without Retry-After', { status: 503 }],
    ['a 502 from a proxy', { status: 502, body: '<html>bad gateway</html>' }],
  ])('leaves the rows of %s uncertain, never re-sent on its own', async (_, respond) => {
    bed.server.configure({ script: [{ route: 'batch', respond }] });
    const input = inputFile(6);
    const first = await run(input, { batchSize: 3, concurrency: 1 });
    expect(first.exitCode).toBe(1);
    expect(first.summary.counts).toMatchObject({ created: 3, uncertain: 3 });
    const uncertainRows = [...last().values()].filter((l) => l.status === 'uncertain');
    expect(uncertainRows.map((l) => l.row)).toEqual(['1', '2', '3']);
    expect(uncertainRows[0]?.error).toMatch(/not re-sent .*--resend-uncertain/);
    const batchesBefore = posts('/public/contacts/batch').length;

    // A resume sends nothing for them, and still exits 1 while they are uncertain.
    const again = await run(input, { resume: true });
    expect(posts('/public/contacts/batch')).toHaveLength(batchesBefore);
    expect(again.summary.counts.alreadyUncertain).toBe(3);
    expect(again.exitCode).toBe(1);

    // On the operator's word they are sent; a lost response then makes duplicates,
    // which the duplicate check names: that is why it needs the operator's word.
    const resent = await run(input, { resume: true, resendUncertain: true });
    expect(resent.summary.counts.created).toBe(3);
    expect(resent.exitCode).toBe(0);
    const created = typeof respond === 'string' ? 6 + 3 : 6;
    expect(bed.server.stats.contactsCreated).toBe(created);
  });

  it('makes the rows of a batch that was in flight when its run died uncertain on resume, sending nothing', async () => {
    const input = inputFile(4);
    const first = await run(input, { batchSize: 2 });
    expect(first.summary.counts.created).toBe(4);
    // A run that died after writing the intent of rows 3 and 4, before their outcome.
    const out = join(bed.dir, 'out.csv');
    const lines = readFileSync(out, 'utf8').split('\n');
    const intents = lines.filter((l) => /^[34],K[34],,sending,/.test(l));
    expect(intents).toHaveLength(2);
    appendFileSync(out, `${intents.join('\n')}\n`);
    bed.server.reset();

    const resumed = await run(input, { resume: true });
    expect(bed.server.requests).toHaveLength(0);
    expect(resumed.summary.counts).toMatchObject({ uncertain: 2, alreadyDone: 2 });
    expect(resumed.exitCode).toBe(1);
    expect(last().get(3)?.error).toMatch(/^sent by a run that stopped before its answer came/);
  });

  it('refuses to resume from the results of another input, sending nothing', async () => {
    const input = inputFile(6);
    await run(input);
    const other = writeRows(bed.dir, 'other.csv', ['crm_id', 'name', 'phone'], 6, (n) => [
      `X${n}`,
      `Other ${n}`,
      `+1212555${String(n).padStart(4, '0')}`,
    ]);
    bed.server.reset();
    await expect(run(other, { resume: true })).rejects.toThrow(
      /does not belong to this input: 6 of the first 6 rows it records differ here \(row 1 first\)/,
    );
    // Without --key the content is compared: an edited row or two is fine.
    const edited = writeRows(bed.dir, 'edited.csv', ['name', 'phone'], 6, (n) => [
      `Name ${n}`,
      n === 2 ? '+14155559999' : `+1415555${String(n).padStart(4, '0')}`,
    ]);
    const again = await run(edited, { resume: true, key: undefined });
    expect(again.summary.counts.alreadyDone).toBe(6);
    expect(bed.server.requests).toHaveLength(0);
  });

  it('refuses to resume from an update results file', async () => {
    const input = inputFile(2);
    const out = join(bed.dir, 'out.csv');
    appendFileSync(out, 'row,id,status,http_status,attempts,error,payload_sha256,finished_at\n');
    await expect(run(input, { resume: true })).rejects.toThrow(
      /not a clerk-bulk import results file: expected header "row,key,id,status/,
    );
    expect(bed.server.requests).toHaveLength(0);
  });
});
