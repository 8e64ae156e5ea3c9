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

const KEY = 'nights-key';

/** A nightly export: every id with its name, in an order that changes from night to night. */
function exportFile(dir: string, name: string, names: ReadonlyMap<string, string>, seed: number) {
  const rows = [...names.entries()].map(([id, n]) => [id, n]);
  let s = seed;
  for (let i = rows.length - 1; i > 0; i--) {
    s = (Math.imul(s, 1_103_515_245) + 12_345) >>> 0;
    const j = s % (i + 1);
    [rows[i], rows[j]] = [rows[j] as string[], rows[i] as string[]];
  }
  return writeFile(dir, name, csv(['id', 'name'], rows));
}

describe('--state over several nights', () => {
  const bed = cliTestBed(KEY, { latencyMs: [1, 4] });
  const state = () => join(bed.dir, 'state');
  const args = (input: string, out: string, ...more: string[]) =>
    updateArgv(input, out, bed.server.url, '--state', state(), '--quiet', '--rate', '0', ...more);
  /** The API holds exactly what the export says, for every id. */
  const expectServerHolds = (names: ReadonlyMap<string, string>) => {
    const wrong = [...names].filter(([id, name]) => bed.server.contacts.get(id)?.name !== name);
    expect(wrong).toEqual([]);
  };
  const putsPerId = () => {
    const counts = new Map<string, number>();
    for (const p of bed.puts()) counts.set(p.id as string, (counts.get(p.id as string) ?? 0) + 1);
    return counts;
  };

  it('sends exactly the changes of each night, whatever the row order', async () => {
    let names = new Map(Array.from({ length: 400 }, (_, i) => [String(i + 1), `P${i + 1}`]));
    const night1 = exportFile(bed.dir, 'n1.csv', names, 1);
    expect(
      (await runCli(args(night1, join(bed.dir, 'n1.results.csv')), { env: bed.env })).code,
    ).toBe(0);
    expectServerHolds(names);
    for (const night of [2, 3, 4]) {
      bed.server.reset();
      // Between nights: 10 contacts edited, 2 new ones, in a freshly shuffled export.
      const changed = new Set<string>();
      names = new Map(names);
      for (let k = 0; k < 10; k++) {
        const id = String(((night * 37 + k * 41) % names.size) + 1);
        names.set(id, `P${id} night ${night}`);
        changed.add(id);
      }
      for (let k = 0; k < 2; k++) {
        const id = String(names.size + 1);
        names.set(id, `P${id}`);
        changed.add(id);
      }
      const input = exportFile(bed.dir, `n${night}.csv`, names, night * 7);
      const out = join(bed.dir, `n${night}.results.csv`);
      const result = await runCli(args(input, out), { env: bed.env });
      expect(result.code).toBe(0);
      expect(new Set(putsPerId().keys())).toEqual(changed);
      expect([...putsPerId().values()].every((n) => n === 1)).toBe(true);
      const lines = readResults(out);
      expect(lines.filter((l) => l.status === 'unchanged')).toHaveLength(names.size - changed.size);
      expectServerHolds(names);
    }
  });

  it('after kill -9 at several points, never skips a row whose change was not confirmed', async () => {
    const v1 = new Map(Array.from({ length: 3_000 }, (_, i) => [String(i + 1), `P${i + 1}`]));
    const first = exportFile(bed.dir, 'v1.csv', v1, 3);
    expect(
      (await runCli(args(first, join(bed.dir, 'v1.results.csv')), { env: bed.env })).code,
    ).toBe(0);

    // Night 2 changes every third contact; it is killed twice, resumed once in between.
    const v2 = new Map(v1);
    for (const id of v2.keys()) if (Number(id) % 3 === 0) v2.set(id, `P${id} v2`);
    const second = exportFile(bed.dir, 'v2.csv', v2, 5);
    const out2 = join(bed.dir, 'v2.results.csv');
    for (const [at, resume] of [
      [300, false],
      [1_200, true],
    ] as const) {
      const run = spawnCli(
        resume ? [...args(second, out2), '--resume'] : args(second, out2),
        bed.env,
      );
      await waitForLines(out2, at);
      run.child.kill('SIGKILL');
      expect((await run.done).signal).toBe('SIGKILL');
    }
    // Night 3's export reverts to v1 before night 2 ever finished: the contacts night 2
    // reached (confirmed or not) must be sent back, the others must be skipped.
    const third = exportFile(bed.dir, 'v3.csv', v1, 9);
    const out3 = join(bed.dir, 'v3.results.csv');
    const run3 = spawnCli(args(third, out3), bed.env);
    await waitForLines(out3, 100);
    run3.child.kill('SIGKILL');
    await run3.done;
    bed.server.reset();
    const finish3 = await runCli([...args(third, out3), '--resume'], { env: bed.env });
    expect(finish3.code).toBe(0);
    expectServerHolds(v1);
    const last3 = lastLinePerRow(readResults(out3));
    expect(last3.size).toBe(3_000);
    expect(
      [...last3.values()].every((l) => l.status === 'updated' || l.status === 'unchanged'),
    ).toBe(true);

    // Night 4: v2 again, killed once at the very end, then run to the end.
    const fourth = exportFile(bed.dir, 'v4.csv', v2, 11);
    const out4 = join(bed.dir, 'v4.results.csv');
    const run4 = spawnCli(args(fourth, out4), bed.env);
    await waitForLines(out4, 3_001);
    run4.child.kill('SIGKILL');
    await run4.done;
    const finish4 = await runCli(args(fourth, join(bed.dir, 'v4b.results.csv')), { env: bed.env });
    expect(finish4.code).toBe(0);
    expectServerHolds(v2);

    // Night 5: the same export once more: the state now knows every contact, nothing is sent.
    bed.server.reset();
    const fifth = exportFile(bed.dir, 'v5.csv', v2, 13);
    const out5 = join(bed.dir, 'v5.results.csv');
    expect((await runCli(args(fifth, out5), { env: bed.env })).code).toBe(0);
    expect(bed.puts()).toHaveLength(0);
    expect(readResults(out5).every((l) => l.status === 'unchanged')).toBe(true);
  });
});
