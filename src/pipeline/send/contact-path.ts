/**
 * The request path for a contact id: always exactly one segment under
 * `/public/contacts/`, whatever the id holds (`/`, `?`, `#`, `%`, spaces, unicode).
 *
 * A file of its own (re-exported by client.ts) so that the pure payload code and the
 * dry run can use it without loading undici.
 *
 * @throws TypeError for '', '.' and '..', which no encoding keeps in place (URL
 * resolution treats `.`, `%2e` and their pairs as dot-segments); the row validator
 * never lets them through.
 */
export function contactPath(id: string): string {
  if (id === '' || id === '.' || id === '..') {
    throw new TypeError(`not a usable contact id: ${JSON.stringify(id)}`);
  }
  return `/public/contacts/${encodeURIComponent(id)}`;
}
