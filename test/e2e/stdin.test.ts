// `-` as the input: the CSV comes on stdin, for pipelines such as
// `psql ... | clerk-bulk update - --out results.csv`.
import { readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cliTestBed, csv, lastLinePerRow, readResults, runCli, updateArgv } from '../helpers.js';

const bed = cliTestBed('stdin-test-key');
const { env, puts } = bed;
const rows = (n: number, version: string) =>
  csv(
    ['id', 'name'],
    Array.from({ length: n }, (_, i) => [`${i + 1}`, `Person ${i + 1} ${version}`]),
  );
const spools = () => readdirSync(tmpdir()).filter((f) => f.startsWith('clerk-bulk-stdin-'));

describe('input "-" (stdin)', () => {
  it('updates every row, names the input "stdin", resumes from the same data piped again', async () => {
    const out = join(bed.dir, 'out.csv');
    const before = spools().length;
    const first = await runCli([...updateArgv('-', out, bed.server.url), '--rate', '0', '--json'], {
      env,
      stdin: rows(50, 'v1'),
    });
    expect(first.code).toBe(0);
    expect(JSON.parse(first.stdout)).toMatchObject({ input: 'stdin', counts: { updated: 50 } });
    expect(puts()).toHaveLength(50);
    expect(spools().length).toBe(before); // the temporary copy is gone

    // The same data again, two rows edited: only those are sent.
    const edited = rows(50, 'v1')
      .replace('Person 7 v1', 'Person 7 v2')
      .replace('Person 9 v1', 'P9');
    bed.server.reset();
    const again = await runCli(
      [...updateArgv('-', out, bed.server.url), '--rate', '0', '--resume', '--json'],
      { env, stdin: edited },
    );
    expect(again.code).toBe(0);
    expect(puts().map((r) => r.id)).toEqual(['7', '9']);
    expect(lastLinePerRow(readResults(out)).size).toBe(50);
  });

  it('is checked like a file: bad bytes are refused naming stdin and the line, nothing sent', async () => {
    const res = await runCli(updateArgv('-', join(bed.dir, 'out.csv'), bed.server.url), {
      env,
      stdin: Buffer.from('id,name\n1,Ada\n2,Jos\xe9\n', 'latin1'),
    });
    expect(res.code).toBe(2);
    expect(res.stderr).toBe(
      'clerk-bulk: stdin line 3: the file is not valid UTF-8 (Latin-1 or Windows-1252?); save it as UTF-8\n',
    );
    expect(puts()).toHaveLength(0);
  });

  it('needs --out for update, not for validate', async () => {
    const update = await runCli(['update', '-', '--base-url', bed.server.url], {
      env,
      stdin: rows(2, 'v1'),
    });
    expect(update.code).toBe(2);
    expect(update.stderr).toMatch(/stdin \("-"\) needs --out/);
    const validate = await runCli(['validate', '-'], { stdin: rows(2, 'v1') });
    expect(validate.code).toBe(0);
    expect(validate.stdout).toMatch(/^stdin: 2 rows, 2 valid, 0 invalid/);
  });
});
