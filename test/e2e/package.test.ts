import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, tempDir } from '../helpers.js';

const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

describe('the npm package', () => {
  it('installs globally into an empty prefix and runs clerk-bulk without dev dependencies', () => {
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

    const prefix = join(dir, 'prefix');
    // Offline: dependencies come from npm's cache, filled by `npm ci`; tests download nothing.
    execFileSync(
      npm,
      [
        'install',
        '--global',
        '--offline',
        '--no-audit',
        '--no-fund',
        '--prefix',
        prefix,
        join(dir, packed[0]?.filename as string),
      ],
      { encoding: 'utf8', stdio: 'pipe' },
    );
    const installed = join(prefix, 'lib', 'node_modules');
    expect(readdirSync(installed)).toEqual(['clerk-bulk']);
    const deps = readdirSync(join(installed, 'clerk-bulk', 'node_modules'));
    for (const dev of ['vitest', 'typescript', '@biomejs', 'csv-spectrum'])
      expect(deps).not.toContain(dev);

    const bin = join(prefix, 'bin', 'clerk-bulk');
    const version = execFileSync(bin, ['--version'], { encoding: 'utf8' }).trim();
    expect(version).toMatch(/^\d+\.\d+\.\d+$/);
    const dry = execFileSync(
      bin,
      ['update', join(ROOT, 'samples/tiny.csv'), '--dry-run', '--out', join(dir, 'd.csv')],
      {
        encoding: 'utf8',
      },
    );
    expect(dry).toContain('PUT /public/contacts/1');
  }, 120_000);
});
