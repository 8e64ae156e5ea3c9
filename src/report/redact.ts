/** Shorter keys are not hidden: replacing 1–3 characters everywhere would mangle output. */
const MIN_SECRET_CHARS = 4;
/**
 * A text that ends with at least this many first characters of the key (a message cut
 * to length in the middle of an echoed key) has that prefix hidden too. Shorter tails
 * are left: 7 characters of a random key say little, and hiding every short match
 * would mangle ordinary words.
 */
const MIN_PREFIX_CHARS = 8;

/**
 * A function that replaces every occurrence of `secret` with `***`, and a prefix of it
 * of {@link MIN_PREFIX_CHARS}+ characters at the end of the text (before a closing
 * `…`), where a cut left it. An API that echoes the key in an error message must not
 * get it printed, logged or written to results, not even in part.
 */
export function redactor(secret: string | undefined): (text: string) => string {
  if (secret === undefined || secret.length < MIN_SECRET_CHARS) return (text) => text;
  return (text) =>
    hidePrefixAtEnd(text.includes(secret) ? text.split(secret).join('***') : text, secret);
}

function hidePrefixAtEnd(text: string, secret: string): string {
  const ellipsis = text.endsWith('…') ? '…' : '';
  const body = ellipsis === '' ? text : text.slice(0, -1);
  const longest = Math.min(secret.length - 1, body.length);
  for (let n = longest; n >= MIN_PREFIX_CHARS; n--) {
    if (body.endsWith(secret.slice(0, n))) return `${body.slice(0, -n)}***${ellipsis}`;
  }
  return text;
}
