import { execFileSync } from 'node:child_process';
import { copyFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, tempDir } from '../helpers.js';

const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

describe('the npm package', () => {
  it('packs, installs its production dependencies offline, and runs without dev dependencies', () => {
    const dir = tempDir();
    // --ignore-scripts: the build already ran (pretest); packing must not rebuild mid-test.
    const packed = JSON.parse(
      execFileSync(npm, ['pack', '--json', '--ignore-scripts', '--pack-destination', dir], {
        cwd: ROOT,
        encoding: 'utf8',
      }),
    ) as Array<{ filename: string; files: Array<{ path: string }> }>;
    const files = packed[0]?.files.map((f) => f.path) ?? [];
    expect(files).toContain('dist/main.js');
    expect(files).toContain('README.md');
    expect(files.filter((f) => f.endsWith('.map'))).toEqual([]);
    expect(
      files.filter((f) => f.startsWith('test/') || f.startsWith('src/') || f.includes('demo')),
    ).toEqual([]);

    // Unpack the tarball and install its production dependencies from the lockfile,
    // offline: `npm ci` filled npm's cache by integrity, so nothing is downloaded. (A
    // global install of the tarball would need the registry's package documents, which
    // `npm ci` does not cache.)
    execFileSync('tar', ['xzf', join(dir, packed[0]?.filename as string), '-C', dir]);
    const installed = join(dir, 'package');
    copyFileSync(join(ROOT, 'package-lock.json'), join(installed, 'package-lock.json'));
    execFileSync(
      npm,
      ['ci', '--omit=dev', '--offline', '--ignore-scripts', '--no-audit', '--no-fund'],
      { cwd: installed, encoding: 'utf8', stdio: 'pipe' },
    );
    const deps = readdirSync(join(installed, 'node_modules'));
    for (const dev of ['vitest', 'typescript', '@biomejs', 'csv-spectrum'])
      expect(deps).not.toContain(dev);
    for (const dep of ['bottleneck', 'csv-parse', 'undici', 'yargs', 'zod'])
      expect(deps).toContain(dep);

    const bin = join(installed, 'dist', 'main.js');
    const version = execFileSync(process.execPath, [bin, '--version'], {
      encoding: 'utf8',
    }).trim();
    expect(version).toMatch(/^\d+\.\d+\.\d+$/);
    const dry = execFileSync(
      process.execPath,
      [bin, 'update', join(ROOT, 'samples/tiny.csv'), '--dry-run', '--out', join(dir, 'd.csv')],
      {
        encoding: 'utf8',
      },
    );
    expect(dry).toContain('PUT /public/contacts/1');
  }, 120_000);
});
