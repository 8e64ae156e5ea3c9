/**
 * The key table of a job state (`--state DIR` with `import --key` or `sync`): for each
 * CRM key, the Clerk Chat id the API gave its contact and the hash of the payload last
 * confirmed for it. A file of its own in the state directory (`keys.csv`), beside the
 * update entries: the state's other files are not touched.
 *
 * Append-only, one write(2) per line, the last line per key wins. Like the results
 * file, a create's intent (`sending`) is written before the request goes out, so that a
 * key whose create may have landed is never created again on its own: it stays
 * `uncertain` until a run confirms it (`--resend-uncertain`, on the operator's word).
 *
 * The first line names the job (the state fingerprint: base URL and key, never the key
 * itself); a table of another job is refused. `keys.lock` keeps two runs out.
 */
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  statSync,
  truncateSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import { acquireLock, type Lock } from '../../lock-file.js';
import { describeFsError } from '../results/writer.js';
import { StateError, StateWriteError } from './errors.js';

export const KEY_TABLE_FILE = 'keys.csv';
const HEADER = 'key,id,status,payload_sha256';

/** What the table says about one key. */
export type KeyEntry =
  /** Created (or updated) and confirmed: `sha256` is the create payload's hash. */
  | { state: 'known'; id: string; sha256: string }
  /** A create went out without a known outcome: never created again on its own. */
  | { state: 'uncertain' };

/** A line's status in the file. */
type LineStatus = 'confirmed' | 'sending' | 'uncertain' | 'failed';

export class KeyTable {
  readonly path: string;
  readonly #entries = new Map<string, KeyEntry>();
  #fd: number | undefined;
  #lock: Lock | undefined;
  /** Opened for a dry run: lookups only, nothing written, no lock. */
  readonly #readOnly: boolean;

  private constructor(path: string, lock: Lock | undefined) {
    this.path = path;
    this.#lock = lock;
    this.#readOnly = lock === undefined;
  }

  /**
   * The key table of `dir` for lookups only (a dry run): no lock, nothing created or
   * repaired, so a dry run never holds up the nightly run. A missing directory or table
   * is an empty table; one of another job is refused as by {@link open}.
   */
  static openReadOnly(dir: string, fingerprint: string): KeyTable {
    const table = new KeyTable(join(dir, KEY_TABLE_FILE), undefined);
    try {
      table.#load(dir, fingerprint);
    } catch (err) {
      if (err instanceof StateError) throw err;
      throw new StateError(
        `cannot read ${table.path}: ${describeFsError(err)}`,
        'E_STATE_READ',
        dir,
        { cause: err },
      );
    }
    return table;
  }

  /**
   * Open (and lock) the key table of `dir`, creating both when missing. Throws
   * StateError (exit 2) for a table of another job or one that cannot be read.
   */
  static open(dir: string, fingerprint: string): KeyTable {
    try {
      if (!existsSync(dir)) mkdirSync(dir, { recursive: true });
      else if (!statSync(dir).isDirectory()) {
        throw new StateError(`--state ${dir} is not a directory`, 'E_STATE_NOT_STATE', dir);
      }
    } catch (err) {
      if (err instanceof StateError) throw err;
      throw new StateError(
        `cannot create state directory ${dir}: ${describeFsError(err)}`,
        'E_STATE_READ',
        dir,
        { cause: err },
      );
    }
    const lock = acquireLock(join(dir, 'keys'), {
      what: `the key table of state directory ${dir}`,
      code: 'E_STATE_LOCKED',
    });
    const table = new KeyTable(join(dir, KEY_TABLE_FILE), lock);
    try {
      table.#load(dir, fingerprint);
      table.#fd = openSync(table.path, 'a', 0o644);
      if (statSync(table.path).size === 0) table.#append(`# job ${fingerprint}\n${HEADER}\n`);
    } catch (err) {
      table.close();
      if (err instanceof StateError) throw err;
      throw new StateError(
        `cannot open ${table.path}: ${describeFsError(err)}`,
        'E_STATE_READ',
        dir,
        { cause: err },
      );
    }
    return table;
  }

  #load(dir: string, fingerprint: string): void {
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    if (text === '') return;
    const firstNewline = text.indexOf('\n');
    const first = text.slice(0, firstNewline === -1 ? undefined : firstNewline);
    if (first !== `# job ${fingerprint}`) {
      throw new StateError(
        `state directory ${dir} belongs to another job (another --base-url or API key); give each job its own --state directory`,
        'E_STATE_FOREIGN',
        dir,
      );
    }
    // A torn last line (kill -9 mid-write) is left out, and cut off so that the next
    // line starts on a line of its own: its key's earlier line stands.
    const end = text.lastIndexOf('\n') + 1;
    if (end < text.length && !this.#readOnly) {
      truncateSync(this.path, Buffer.byteLength(text.slice(0, end)));
    }
    const rows = parse(text.slice(firstNewline + 1, end), {
      columns: true,
      skip_empty_lines: true,
    }) as Array<Record<string, string>>;
    for (const { key, id, status, payload_sha256: sha256 } of rows) {
      if (key === undefined) continue;
      this.#apply(key, id ?? '', status as LineStatus, sha256 ?? '');
    }
  }

  #apply(key: string, id: string, status: LineStatus, sha256: string): void {
    const before = this.#entries.get(key);
    switch (status) {
      case 'confirmed':
        this.#entries.set(key, { state: 'known', id, sha256 });
        break;
      case 'sending':
        // Only a create is journalled: a known key's PUT is safe to send again.
        if (before?.state !== 'known') this.#entries.set(key, { state: 'uncertain' });
        break;
      case 'uncertain':
        this.#entries.set(key, { state: 'uncertain' });
        break;
      case 'failed':
        // The create was refused: nothing exists for this key.
        if (before?.state !== 'known') this.#entries.delete(key);
        break;
    }
  }

  /** Keys in the table. */
  get size(): number {
    return this.#entries.size;
  }

  lookup(key: string): KeyEntry | undefined {
    return this.#entries.get(key);
  }

  /** Before a create goes out: its keys' intents, with one write. */
  noteSending(keys: readonly string[]): void {
    this.#write(keys.map((key) => [key, '', 'sending', '']));
  }

  /** The API confirmed `id` for `key` with this (create) payload hash. */
  confirm(key: string, id: string, sha256: string): void {
    this.#write([[key, id, 'confirmed', sha256]]);
  }

  /** A create of `key` may or may not have landed. */
  uncertain(key: string): void {
    this.#write([[key, '', 'uncertain', '']]);
  }

  /** A create of `key` was refused: nothing was created. */
  refused(key: string): void {
    this.#write([[key, '', 'failed', '']]);
  }

  #write(lines: string[][]): void {
    if (lines.length === 0) return;
    if (this.#readOnly) throw new Error('the key table was opened read-only (a dry run)');
    for (const [key, id, status, sha256] of lines) {
      this.#apply(key as string, id as string, status as LineStatus, sha256 as string);
    }
    this.#append(stringify(lines, { record_delimiter: 'unix' }));
  }

  #append(text: string): void {
    const fd = this.#fd;
    if (fd === undefined) throw new Error('the key table is closed');
    const buf = Buffer.from(text, 'utf8');
    try {
      let off = 0;
      while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
    } catch (err) {
      throw new StateWriteError(
        `cannot write ${this.path}: ${describeFsError(err)}; the run was stopped`,
        this.path,
        {
          cause: err,
        },
      );
    }
  }

  /** Close the file and release the lock. Idempotent. */
  close(): void {
    if (this.#fd !== undefined) closeSync(this.#fd);
    this.#fd = undefined;
    this.#lock?.release();
    this.#lock = undefined;
  }
}
