import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { KEY_TABLE_FILE, KeyTable } from '../../../../src/pipeline/state/key-table.js';
import { tempDir } from '../../../helpers.js';

const JOB = 'a'.repeat(32);

describe('KeyTable', () => {
  it('remembers confirmed keys across opens; an intent without outcome is uncertain', () => {
    const dir = join(tempDir(), 'state');
    const table = KeyTable.open(dir, JOB);
    table.noteSending(['k1', 'k2', 'k3']);
    table.confirm('k1', 'id-1', 'sha1');
    table.refused('k3');
    table.close();

    const again = KeyTable.open(dir, JOB);
    expect(again.lookup('k1')).toEqual({ state: 'known', id: 'id-1', sha256: 'sha1' });
    expect(again.lookup('k2')).toEqual({ state: 'uncertain' });
    expect(again.lookup('k3')).toBeUndefined();
    // A later confirmation settles an uncertain key.
    again.confirm('k2', 'id-2', 'sha2');
    again.close();
    expect(KeyTable.open(dir, JOB).lookup('k2')).toMatchObject({ state: 'known', id: 'id-2' });
  });

  it('keeps a known key known when a later create intent of it has no outcome', () => {
    const dir = join(tempDir(), 'state');
    const table = KeyTable.open(dir, JOB);
    table.confirm('k', 'id', 'sha');
    table.noteSending(['k']);
    table.close();
    expect(KeyTable.open(dir, JOB).lookup('k')).toMatchObject({ state: 'known', id: 'id' });
  });

  it('ignores a torn last line, quotes keys with commas, and refuses another job', () => {
    const dir = join(tempDir(), 'state');
    const table = KeyTable.open(dir, JOB);
    table.confirm('a,b "c"', 'id-1', 'sha');
    table.close();
    appendFileSync(join(dir, KEY_TABLE_FILE), 'torn,id-9,confi');
    const again = KeyTable.open(dir, JOB);
    expect(again.lookup('a,b "c"')).toMatchObject({ id: 'id-1' });
    expect(again.lookup('torn')).toBeUndefined();
    again.confirm('next', 'id-2', 'sha');
    again.close();
    const third = KeyTable.open(dir, JOB);
    expect(third.lookup('next')).toMatchObject({ id: 'id-2' });
    third.close();
    expect(readFileSync(join(dir, KEY_TABLE_FILE), 'utf8')).toMatch(
      /^# job a{32}\nkey,id,status,payload_sha256\n/,
    );
    expect(() => KeyTable.open(dir, 'b'.repeat(32))).toThrow(/belongs to another job/);
  });

  it('keeps a second run out while one holds the table', () => {
    const dir = join(tempDir(), 'state');
    const table = KeyTable.open(dir, JOB);
    expect(() => KeyTable.open(dir, JOB)).toThrow(/key table of state directory/);
    table.close();
  });

  it('opens read-only for a dry run: lookups, no lock, nothing written or repaired', () => {
    const dir = join(tempDir(), 'state');
    expect(KeyTable.openReadOnly(dir, JOB).size).toBe(0); // no directory yet: empty
    expect(existsSync(dir)).toBe(false);
    const table = KeyTable.open(dir, JOB);
    table.confirm('k', 'id-1', 'sha');
    // A run holds the table meanwhile: the dry run still reads it.
    appendFileSync(join(dir, KEY_TABLE_FILE), 'torn,id-9,confi');
    const before = readFileSync(join(dir, KEY_TABLE_FILE));
    const preview = KeyTable.openReadOnly(dir, JOB);
    expect(preview.lookup('k')).toMatchObject({ state: 'known', id: 'id-1' });
    expect(preview.lookup('torn')).toBeUndefined();
    expect(() => preview.confirm('x', 'id-2', 'sha')).toThrow(/read-only/);
    preview.close();
    expect(readFileSync(join(dir, KEY_TABLE_FILE)).equals(before)).toBe(true);
    table.close();
    expect(() => KeyTable.openReadOnly(dir, 'b'.repeat(32))).toThrow(/belongs to another job/);
  });
});
