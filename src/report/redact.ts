/** Shorter keys are not hidden: replacing 1–3 characters everywhere would mangle output. */
const MIN_SECRET_CHARS = 4;

/**
 * A function that replaces every occurrence of `secret` with `***`. An API that echoes
 * the key in an error message must not get it printed, logged or written to results.
 */
export function redactor(secret: string | undefined): (text: string) => string {
  if (secret === undefined || secret.length < MIN_SECRET_CHARS) return (text) => text;
  return (text) => (text.includes(secret) ? text.split(secret).join('***') : text);
}
