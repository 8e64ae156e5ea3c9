/**
 * The `--map` file: which CSV header feeds which contact field. Checked here with zod
 * and turned into one expected-vs-got message naming the offending key.
 *
 * ```json
 * {
 *   "columns": {
 *     "Contact ID": "id",
 *     "Full Name": "name",
 *     "Tier": { "field": "data.tier", "type": "number" },
 *     "Internal notes": null
 *   },
 *   "ignoreUnknown": false
 * }
 * ```
 */
import { z } from 'zod';
import { InputFileError } from '../../errors.js';
import { describeValue, isPlainObject } from './schema.js';

/** How a `data.<key>` cell is converted before it is sent. */
export type DataType = 'string' | 'number' | 'boolean' | 'json';

/** A column's target as written in a mapping file. */
export type MappingTarget = string | { field: string; type?: DataType } | null;

/** The `--map` file, checked. */
export interface Mapping {
  /**
   * CSV header → target. Target is 'id' | 'name' | 'email' | 'public' | 'data' |
   * 'data.<key>', or {field, type?} for data.<key> typing, or null to ignore the column.
   * Headers are matched after trimming; headers not in the file are ignored, so one
   * mapping can serve exports that differ in their columns.
   */
  columns: Record<string, MappingTarget>;
  /** Ignore every column not named in `columns` and not a known field. @default false */
  ignoreUnknown?: boolean;
}

/** A field name as written in a header or mapping, resolved. */
export type ParsedField =
  | { kind: 'id' | 'name' | 'email' | 'public' | 'data' }
  | { kind: 'data-key'; key: string };

const DATA_PREFIX = 'data.';
const DATA_TYPES = ['string', 'number', 'boolean', 'json'] as const;
const FIELD_LIST = '"id", "name", "email", "public", "data" or "data.<key>"';

/**
 * Resolve a field name, case-sensitively as the spec writes them; undefined when it is
 * not one (`data.` alone included: a data key cannot be empty). The key is everything
 * after the first dot, so `data.a.b` is the flat key `a.b`.
 */
export function parseFieldName(name: string): ParsedField | undefined {
  switch (name) {
    case 'id':
    case 'name':
    case 'email':
    case 'public':
    case 'data':
      return { kind: name };
  }
  if (name.startsWith(DATA_PREFIX) && name.length > DATA_PREFIX.length) {
    return { kind: 'data-key', key: name.slice(DATA_PREFIX.length) };
  }
  return undefined;
}

const fieldNameError = (iss: { input?: unknown }) =>
  `expected ${FIELD_LIST}, got ${describeValue(iss.input)}`;
const fieldName = z
  .string({ error: fieldNameError })
  .refine((value) => parseFieldName(value) !== undefined, { error: fieldNameError });

const dataType = z.enum(DATA_TYPES, {
  error: (iss) =>
    `expected "string", "number", "boolean" or "json", got ${describeValue(iss.input)}`,
});

const typedTarget = z
  .strictObject(
    { field: fieldName, type: dataType.optional() },
    { error: (iss) => objectError(iss, '"field" or "type"') },
  )
  .refine((target) => target.type === undefined || target.field.startsWith(DATA_PREFIX), {
    path: ['type'],
    error: (iss) =>
      `a type applies only to "data.<key>" fields, got field ${describeValue((iss.input as { field: unknown }).field)}`,
  });

/**
 * One column's target. Dispatched on the value's type by hand rather than with
 * z.union, whose error for a bad `{"field", "type"}` object would be a generic
 * "no branch matched" instead of the object's own problem.
 */
function checkTarget(value: unknown, key: string, ctx: z.RefinementCtx): void {
  if (value === null) return;
  const schema =
    typeof value === 'string' ? fieldName : isPlainObject(value) ? typedTarget : undefined;
  if (schema === undefined) {
    ctx.addIssue({
      code: 'custom',
      path: [key],
      message: `expected a field name, {"field": ..., "type": ...} or null, got ${describeValue(value)}`,
    });
    return;
  }
  const result = schema.safeParse(value);
  for (const issue of result.error?.issues ?? []) {
    ctx.addIssue({ code: 'custom', path: [key, ...issue.path], message: issue.message });
  }
}

// `columns` is checked key by key on the raw object, not with z.record: a record
// skips a `__proto__` key, which JSON.parse makes an ordinary own key of the input.
const columnsSchema = z.unknown().superRefine((columns, ctx) => {
  if (!isPlainObject(columns)) {
    ctx.addIssue({
      code: 'custom',
      message: `expected an object of CSV header → field, got ${describeValue(columns)}`,
    });
    return;
  }
  // Headers are trimmed before matching, so keys must be distinct after trimming.
  const seen = new Map<string, string>();
  for (const key of Object.keys(columns)) {
    const trimmed = key.trim();
    const earlier = seen.get(trimmed);
    if (trimmed === '') {
      ctx.addIssue({ code: 'custom', path: [key], message: 'header name is empty' });
    } else if (earlier !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: [key],
        message: `same header as ${JSON.stringify(earlier)} once trimmed`,
      });
    } else {
      seen.set(trimmed, key);
    }
    checkTarget(columns[key], key, ctx);
  }
});

const mappingSchema = z.strictObject(
  {
    columns: columnsSchema,
    ignoreUnknown: z
      .boolean({ error: (iss) => `expected true or false, got ${describeValue(iss.input)}` })
      .optional(),
  },
  { error: (iss) => objectError(iss, '"columns" or "ignoreUnknown"') },
);

/** Messages for an object schema's own issues: not an object, or a key it does not know. */
function objectError(iss: z.core.$ZodRawIssue, expectedKeys: string): string {
  if (iss.code === 'unrecognized_keys') {
    const keys = iss.keys.map((key) => JSON.stringify(key)).join(', ');
    return `unknown key${iss.keys.length > 1 ? 's' : ''} ${keys}: expected ${expectedKeys}`;
  }
  return `expected an object with ${expectedKeys}, got ${describeValue(iss.input)}`;
}

/** `columns."Tier".type`: header keys quoted, since they are free text. */
function formatPath(path: readonly PropertyKey[]): string {
  return path
    .map((segment, index) =>
      index === 1 && path[0] === 'columns' ? JSON.stringify(String(segment)) : String(segment),
    )
    .join('.');
}

/**
 * Check an already JSON-parsed `--map` file and return it as a {@link Mapping}.
 * `file` is the name used in messages.
 *
 * @throws InputFileError `E_MAPPING` naming the first offending key, e.g.
 * `mapping.json: columns."Tier": expected "id", ..., got "tier"`.
 */
export function parseMapping(value: unknown, file: string): Mapping {
  const result = mappingSchema.safeParse(value);
  if (!result.success) {
    const issue = result.error.issues[0];
    const path = issue === undefined ? '' : formatPath(issue.path);
    const message = issue?.message ?? 'not a valid mapping';
    throw new InputFileError(path === '' ? message : `${path}: ${message}`, 'E_MAPPING', {
      file,
    });
  }
  // Rebuild `columns` from the input's own keys into a prototype-free object: zod's
  // record output assigns keys plainly, so a header named `__proto__` would vanish.
  const raw = (value as { columns: Record<string, unknown> }).columns;
  const columns: Record<string, MappingTarget> = Object.create(null);
  for (const key of Object.keys(raw)) {
    const target = raw[key] as MappingTarget;
    columns[key] =
      target === null || typeof target === 'string'
        ? target
        : target.type === undefined
          ? { field: target.field }
          : { field: target.field, type: target.type };
  }
  return result.data.ignoreUnknown === undefined
    ? { columns }
    : { columns, ignoreUnknown: result.data.ignoreUnknown };
}
