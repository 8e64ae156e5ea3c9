import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cliTestBed, INPUT_FIXTURES, runCli, updateArgv } from '../helpers.js';

const KEY = 'encoding-key';

describe('--encoding', () => {
  // Contact 2 does not exist, so row 2 fails and the summary prints a resume command.
  const bed = cliTestBed(KEY, { ids: ['1'] });
  const file = join(INPUT_FIXTURES, 'windows-1252.csv');

  it('refuses a windows-1252 file read as UTF-8, naming the option', async () => {
    const res = await runCli(['validate', file]);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain('--encoding');
  });

  it('sends the decoded text with --encoding windows-1252 and repeats it in the resume command', async () => {
    const out = join(bed.dir, 'out.csv');
    const res = await runCli(
      [...updateArgv(file, out, bed.server.url, '--encoding', 'windows-1252'), '--quiet'],
      { env: bed.env },
    );
    expect(res.code).toBe(1);
    expect(bed.puts().map((r) => r.body)).toEqual([
      { name: 'Müller “Mo”', data: { note: 'Café costs €5' } },
      { name: 'Ann', data: { note: '–' } },
    ]);
    expect(res.stdout).toMatch(/clerk-bulk update .*--resume.*--encoding windows-1252/);
  });
});
