import { EventEmitter } from 'node:events';
import { readdirSync, readFileSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { spoolStdin } from '../../../../src/pipeline/input/stdin.js';
import { tempDir } from '../../../helpers.js';

// A private temporary folder per test, so the copies of other processes never count.
let tmp = '';
const saved = process.env.TMPDIR;
beforeEach(() => {
  tmp = tempDir();
  process.env.TMPDIR = tmp;
});
afterEach(() => {
  if (saved === undefined) delete process.env.TMPDIR;
  else process.env.TMPDIR = saved;
});

describe('spoolStdin', () => {
  it('copies stdin to a private file and removes it on request', async () => {
    const stdin = new PassThrough();
    stdin.end('id\n1\n');
    const spooled = await spoolStdin(stdin, { signals: new EventEmitter() });
    expect(readFileSync(spooled.path, 'utf8')).toBe('id\n1\n');
    spooled.remove();
    expect(readdirSync(tmp)).toEqual([]);
  });

  it.each([
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const)(
    'stops at the first %s with exit %i and leaves no copy, the writer still busy',
    async (signal, exitCode) => {
      const stdin = new PassThrough();
      stdin.write('id\n1\n');
      const signals = new EventEmitter();
      const spooling = spoolStdin(stdin, { signals });
      await new Promise((r) => setTimeout(r, 50));
      signals.emit(signal);
      await expect(spooling).rejects.toMatchObject({
        name: 'InterruptedError',
        code: 'E_INTERRUPTED',
        exitCode,
        message: `stdin: ${signal} while copying the input; stopped, nothing was sent`,
      });
      expect(readdirSync(tmp)).toEqual([]);
      expect(signals.listenerCount(signal)).toBe(0);
    },
  );
});
