/**
 * Zod schemas for one CSV cell of each field type, and for the API body they build.
 *
 * Every cell schema takes the cell already trimmed and non-empty (empty cells are
 * the `--empty` policy's business, not a type's) and returns the JSON value to send.
 * They are built once, at module load: the row validator runs them a million times.
 * Their messages are one line, without the column name (the caller adds it), and end
 * with a sanitized excerpt of the value.
 */
import { z } from 'zod';

/** Longest excerpt of a cell quoted in a message, in code points. */
export const EXCERPT_MAX_CHARS = 40;

/** Longest JSON.parse error quoted in a message, in code points. */
const JSON_REASON_MAX_CHARS = 80;

/** Longest `name` accepted, in UTF-16 code units (what the API's string length sees). */
export const NAME_MAX_CHARS = 1_000;

/** The spellings `public` and boolean `data.<key>` columns accept, any case. */
export const BOOLEAN_SPELLINGS: ReadonlyMap<string, boolean> = new Map([
  ['true', true],
  ['false', false],
  ['yes', true],
  ['no', false],
  ['1', true],
  ['0', false],
]);

// C0 controls and DEL: never valid in a URL path segment or a name. Matching them is
// the point, hence the lint exception.
// biome-ignore lint/suspicious/noControlCharactersInRegex: we are looking for them
const CONTROL_CHAR = /[\u0000-\u001f\u007f]/;
// What a one-line message must not carry raw: C0 controls (a line break would split
// the message), DEL, C1 controls, bidi overrides/isolates (they reorder the line).
// biome-ignore lint/suspicious/noControlCharactersInRegex: we are looking for them
const UNSAFE_IN_MESSAGE = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;
// A lone surrogate makes encodeURIComponent throw: with the `u` flag this class only
// matches surrogates that are not half of a pair.
const LONE_SURROGATE = /[\ud800-\udfff]/u;
// Decimal notation only: Number() would also take `0x1f`, `0b1`, `Infinity`.
const DECIMAL_NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?$/i;
const INTEGER_LITERAL = /^[+-]?\d+$/;

/**
 * Quote a value for a one-line message: JSON string escapes (so control characters
 * show as `\n`, `\u0000`), at most {@link EXCERPT_MAX_CHARS} code points, then `…`
 * outside the quotes (inside, it could be part of the value).
 */
export function excerpt(value: unknown): string {
  if (typeof value !== 'string') return describeValue(value);
  const [text, cut] = sanitize(value, EXCERPT_MAX_CHARS);
  return cut ? `"${text}"…` : `"${text}"`;
}

/** Escape `text` as inside a JSON string, cut to `maxChars` code points; true if cut. */
function sanitize(text: string, maxChars: number): [string, boolean] {
  // Cheap path first: Array.from only when the string might be too long.
  const chars = text.length > maxChars ? Array.from(text) : undefined;
  const cut = chars !== undefined && chars.length > maxChars;
  const kept = cut ? chars.slice(0, maxChars).join('') : text;
  // JSON.stringify escapes C0, quotes and backslashes; the rest is done by hand.
  const escaped = JSON.stringify(kept)
    .slice(1, -1)
    .replace(UNSAFE_IN_MESSAGE, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return [escaped, cut];
}

/** `an array`, `null`, `42`, `"text"`: a value as the "got ..." half of a message. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string') return excerpt(value);
  return String(value);
}

/** The first problem with a contact id, or undefined when it can be sent. */
export function idProblem(id: string): string | undefined {
  if (id === '') return 'missing: the cell is empty';
  // `.`/`..` are dot-segments: URL resolution would turn /contacts/.. into /public/.
  if (id === '.' || id === '..') return `${excerpt(id)} is not a usable contact id`;
  if (CONTROL_CHAR.test(id)) return `contains a control character: ${excerpt(id)}`;
  if (LONE_SURROGATE.test(id)) return `id is not valid Unicode: ${excerpt(id)}`;
  return undefined;
}

/**
 * The first problem with a CRM key (`--key` column), or undefined when it is usable.
 * Unlike an id it never goes into a URL, so `.` is a key like any other; it goes into
 * results and state files, so it must be one line of valid Unicode.
 */
export function keyProblem(key: string): string | undefined {
  if (key === '') return 'missing key: the cell is empty';
  if (CONTROL_CHAR.test(key)) return `key contains a control character: ${excerpt(key)}`;
  if (LONE_SURROGATE.test(key)) return `key is not valid Unicode: ${excerpt(key)}`;
  return undefined;
}

/** `name`: any text without control characters, up to {@link NAME_MAX_CHARS}. */
export const nameCell = z
  .string()
  .max(NAME_MAX_CHARS, {
    error: (iss) =>
      `name is longer than ${NAME_MAX_CHARS} characters (${String(iss.input).length}): ${excerpt(iss.input)}`,
  })
  .refine((value) => !CONTROL_CHAR.test(value), {
    error: (iss) => `contains a control character: ${excerpt(iss.input)}`,
  });

/** `email`: zod's email check; case is kept as written. */
export const emailCell = z.email({
  error: (iss) => `not a valid email address: ${excerpt(iss.input)}`,
});

const BOOLEAN_HINT = 'expected true/false, yes/no or 1/0';

/** `public` and boolean `data.<key>`: true/false, yes/no, 1/0, any case. */
export const booleanCell = z.string().transform((value, ctx) => {
  const parsed = BOOLEAN_SPELLINGS.get(value.toLowerCase());
  if (parsed !== undefined) return parsed;
  ctx.issues.push({
    code: 'custom',
    input: value,
    message: `${BOOLEAN_HINT}, got ${excerpt(value)}`,
  });
  return z.NEVER;
});

/** Number `data.<key>`: a finite decimal number that survives the trip to a double. */
export const numberCell = z.string().transform((value, ctx) => {
  const parsed = DECIMAL_NUMBER.test(value) ? Number(value) : Number.NaN;
  if (!Number.isFinite(parsed)) {
    ctx.issues.push({ code: 'custom', input: value, message: `not a number: ${excerpt(value)}` });
    return z.NEVER;
  }
  // A 20-digit account number would be sent rounded; better to refuse than corrupt it.
  if (INTEGER_LITERAL.test(value) && !Number.isSafeInteger(parsed)) {
    ctx.issues.push({
      code: 'custom',
      input: value,
      message: `integer too large to send exactly as a number (use type "string"): ${excerpt(value)}`,
    });
    return z.NEVER;
  }
  return parsed;
});

/** A column with no header: only an empty cell fits (empty cells never reach a schema). */
export const unnamedCell = z.string().refine(() => false, {
  error: (iss) =>
    `this column has no header, so its value cannot be sent: name the column, or empty it: ${excerpt(iss.input)}`,
});

/** String `data.<key>`: the trimmed text, as is. */
export const stringCell = z.string();

/** A JSON.parse error message, which quotes part of the input, made safe for one line. */
function sanitizeReason(reason: string): string {
  const chars = Array.from(reason);
  const text =
    chars.length > JSON_REASON_MAX_CHARS
      ? `${chars.slice(0, JSON_REASON_MAX_CHARS).join('')}…`
      : reason;
  return text.replace(
    UNSAFE_IN_MESSAGE,
    (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

function parseJson(value: string, ctx: z.RefinementCtx): unknown {
  try {
    return JSON.parse(value);
  } catch (error) {
    // V8's message quotes part of the input; sanitize it like any other excerpt.
    const reason = error instanceof Error ? error.message : String(error);
    ctx.issues.push({
      code: 'custom',
      input: value,
      message: `not valid JSON (${sanitizeReason(reason)}): ${excerpt(value)}`,
    });
    return z.NEVER;
  }
}

/** Json `data.<key>`: any JSON value, `null` included. */
export const jsonCell = z.string().transform(parseJson);

/** The whole-`data` column: a JSON object (not an array, null or a primitive). */
export const jsonObjectCell = z.string().transform((value, ctx) => {
  const parsed = parseJson(value, ctx);
  if (parsed === z.NEVER) return z.NEVER;
  if (isPlainObject(parsed)) return parsed;
  ctx.issues.push({
    code: 'custom',
    input: value,
    message: `expected a JSON object, got ${jsonKind(parsed)}: ${excerpt(value)}`,
  });
  return z.NEVER;
});

/** `an array`, `null`, `a string`...: what kind of JSON value this is. */
function jsonKind(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}

/** True for `{...}` values: not null, not an array. */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/**
 * The documented `PUT /public/contacts/{id}` body (all fields optional, no others).
 * `null` clears `name`/`email` (`--empty null`). For checking a body only, e.g. in the
 * mock server: do not use its output for `data`, use the input (zod rebuilds objects
 * with plain assignment, which treats a `__proto__` key specially).
 */
export const payloadSchema = z.strictObject({
  name: z.string().max(NAME_MAX_CHARS).nullable().optional(),
  email: z.email().nullable().optional(),
  public: z.boolean().optional(),
  data: z.custom<Record<string, unknown>>(isPlainObject, 'expected an object').optional(),
});
