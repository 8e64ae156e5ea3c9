/**
 * The `--ids` spec of `clerk-bulk mock-server`: which contact ids exist.
 */

/**
 * The ids `first`..`last` in canonical decimal spelling. Iterable like a list, but
 * checked arithmetically, so `1000001-2000000` costs nothing until used.
 */
export class IdRange implements Iterable<string> {
  readonly first: number;
  readonly last: number;

  constructor(first: number, last: number) {
    if (!Number.isSafeInteger(first) || !Number.isSafeInteger(last) || first < 0 || first > last) {
      throw new TypeError(`IdRange: expected 0 <= first <= last (integers), got ${first}-${last}`);
    }
    this.first = first;
    this.last = last;
  }

  has(id: string): boolean {
    const n = Number(id);
    // "07" and "1e3" are other ids than "7" and "1000".
    return Number.isInteger(n) && n >= this.first && n <= this.last && String(n) === id;
  }

  *[Symbol.iterator](): Iterator<string> {
    for (let n = this.first; n <= this.last; n++) yield String(n);
  }
}

/**
 * `any` → every id exists; `500` → ids "1".."500"; `20-80` → ids "20".."80";
 * `a,b,c` → exactly those. Throws a TypeError naming the accepted forms otherwise.
 */
export function parseIdsSpec(spec: string): Iterable<string> | number | 'any' {
  const text = spec.trim();
  if (text.toLowerCase() === 'any') return 'any';
  if (/^\d+$/.test(text)) {
    const count = Number(text);
    if (Number.isSafeInteger(count)) return count;
  }
  const range = /^(\d+)\s*-\s*(\d+)$/.exec(text);
  if (range !== null) {
    const first = Number(range[1]);
    const last = Number(range[2]);
    if (Number.isSafeInteger(first) && Number.isSafeInteger(last) && first <= last) {
      return new IdRange(first, last);
    }
  }
  if (text.includes(',') || (text !== '' && !/^[\d\s-]+$/.test(text))) {
    const ids = text
      .split(',')
      .map((id) => id.trim())
      .filter((id) => id !== '');
    if (ids.length > 0) return ids;
  }
  throw new TypeError(
    `expected ids as 'any', a count (500), a range (1-500) or a list (a,b,c), got '${spec}'`,
  );
}
