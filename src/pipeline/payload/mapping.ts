/**
 * The `--map` file: which CSV header feeds which contact field. Checked here with zod
 * and turned into one expected-vs-got message naming the offending key.
 *
 * ```json
 * {
 *   "columns": {
 *     "Contact ID": "id",
 *     "E-mail": { "field": "email", "lowercase": true },
 *     "Opt In": { "field": "public", "values": { "Y": true, "N": false } },
 *     "Tier": { "field": "data.tier", "type": "number" },
 *     "Internal notes": null
 *   },
 *   "fields": {
 *     "name": { "template": "{First Name} {Last Name}" }
 *   },
 *   "ignoreUnknown": false
 * }
 * ```
 */
import { z } from 'zod';
import { InputFileError } from '../../errors.js';
import { describeValue, isPlainObject } from './schema.js';
import { parseTemplate } from './template.js';

/**
 * What a run does with each row: `update` PUTs to an existing id (the body has no
 * phone), `create` POSTs a new contact (no id; a phone is required).
 */
export type Operation = 'update' | 'create';

/** How a `data.<key>` cell is converted before it is sent. */
export type DataType = 'string' | 'number' | 'boolean' | 'json';

/**
 * A value map: cell → value sent. Cells are matched trimmed and without regard to
 * case; a cell not in the map makes the row invalid.
 */
export type ValueMap = Record<string, unknown>;

/** A column's target written as an object. */
export interface FieldSpec {
  field: string;
  /** Conversion of a `data.<key>` cell. @default 'string' */
  type?: DataType;
  /** Cell → value to send (booleans for `public`, strings for text fields, any JSON for `data.<key>`). @default none: the cell is converted as its field says */
  values?: ValueMap;
  /** Lower-case an `email` before checking and sending it. @default false (kept as written) */
  lowercase?: boolean;
}

/** A column's target as written in a mapping file. */
export type MappingTarget = string | FieldSpec | null;

/** A field built from several columns (`fields` in the mapping file). */
export interface TemplateSpec {
  /** `"{First Name} {Last Name}"`: see renderTemplate for how empty parts collapse. */
  template: string;
  /** Lower-case the result (an `email` only). @default false */
  lowercase?: boolean;
}

/** The `--map` file, checked. */
export interface Mapping {
  /**
   * CSV header → target. Target is 'id' | 'name' | 'email' | 'public' | 'data' |
   * 'data.<key>', or {field, type?} for data.<key> typing, or null to ignore the column.
   * Headers are matched after trimming; headers not in the file are ignored, so one
   * mapping can serve exports that differ in their columns.
   */
  columns: Record<string, MappingTarget>;
  /**
   * Field → template, for fields built from several columns: `name`, `email`, `phone`
   * or `data.<key>`. The columns a template names must be in the file.
   * @default none
   */
  fields?: Record<string, TemplateSpec>;
  /** Ignore every column not named in `columns` and not a known field. @default false */
  ignoreUnknown?: boolean;
}

/** A field name as written in a header or mapping, resolved. */
export type ParsedField =
  | { kind: 'id' | 'name' | 'phone' | 'email' | 'public' | 'data' }
  | { kind: 'data-key'; key: string };

const DATA_PREFIX = 'data.';
const DATA_TYPES = ['string', 'number', 'boolean', 'json'] as const;
const FIELD_LIST = '"id", "name", "phone", "email", "public", "data" or "data.<key>"';
const TEMPLATE_FIELD_LIST = '"name", "phone", "email" or "data.<key>"';

/**
 * Resolve a field name, case-sensitively as the spec writes them; undefined when it is
 * not one (`data.` alone included: a data key cannot be empty). The key is everything
 * after the first dot, so `data.a.b` is the flat key `a.b`.
 *
 * `phone` is a field only for `create` (the PUT body has none), so that for `update` a
 * `phone` header stays an unknown column, as it always was. A mapping file is read for
 * every operation, so it accepts `phone`; planColumns refuses it for `update`.
 *
 * @param operation @default 'update'
 */
export function parseFieldName(
  name: string,
  operation: Operation = 'update',
): ParsedField | undefined {
  switch (name) {
    case 'id':
    case 'name':
    case 'email':
    case 'public':
    case 'data':
      return { kind: name };
    case 'phone':
      return operation === 'create' ? { kind: name } : undefined;
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
  .refine((value) => parseFieldName(value, 'create') !== undefined, { error: fieldNameError });

const dataType = z.enum(DATA_TYPES, {
  error: (iss) =>
    `expected "string", "number", "boolean" or "json", got ${describeValue(iss.input)}`,
});

const lowercaseFlag = z
  .boolean({ error: (iss) => `expected true or false, got ${describeValue(iss.input)}` })
  .optional();

const valueMapSchema = z.unknown().superRefine((values, ctx) => {
  if (!isPlainObject(values) || Object.keys(values).length === 0) {
    ctx.addIssue({
      code: 'custom',
      message: `expected an object of cell → value with at least one entry, got ${describeValue(values)}`,
    });
    return;
  }
  // Cells are matched trimmed and case-blind, so keys must differ after both.
  const seen = new Map<string, string>();
  for (const key of Object.keys(values)) {
    const folded = foldValueKey(key);
    const earlier = seen.get(folded);
    if (folded === '') {
      ctx.addIssue({
        code: 'custom',
        path: [key],
        message: 'an empty cell never reaches a value map (--empty decides what it means)',
      });
    } else if (earlier !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: [key],
        message: `same cell as ${JSON.stringify(earlier)} (cells are matched trimmed, any case)`,
      });
    } else {
      seen.set(folded, key);
    }
  }
});

/** How a value-map key and a cell are compared: trimmed, lower-cased. */
export function foldValueKey(text: string): string {
  return text.trim().toLowerCase();
}

const typedTarget = z
  .strictObject(
    {
      field: fieldName,
      type: dataType.optional(),
      values: valueMapSchema.optional(),
      lowercase: lowercaseFlag,
    },
    { error: (iss) => objectError(iss, '"field", "type", "values" or "lowercase"') },
  )
  .superRefine((target, ctx) => {
    const isDataKey = target.field.startsWith(DATA_PREFIX);
    if (target.type !== undefined && !isDataKey) {
      ctx.addIssue({
        code: 'custom',
        path: ['type'],
        message: `a type applies only to "data.<key>" fields, got field ${describeValue(target.field)}`,
      });
    }
    if (target.lowercase === true && target.field !== 'email') {
      ctx.addIssue({
        code: 'custom',
        path: ['lowercase'],
        message: `lowercase applies only to "email", got field ${describeValue(target.field)}`,
      });
    }
    if (target.values === undefined) return;
    if (target.type !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['values'],
        message: 'a value map says what to send, so it cannot be combined with "type"',
      });
      return;
    }
    const values = target.values as ValueMap;
    const expected = valueKindFor(target.field);
    if (expected === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['values'],
        message: `a value map applies to "name", "phone", "email", "public" or "data.<key>", got field ${describeValue(target.field)}`,
      });
      return;
    }
    for (const key of Object.keys(values)) {
      const value = values[key];
      if (expected !== 'any' && typeof value !== expected) {
        ctx.addIssue({
          code: 'custom',
          path: ['values', key],
          message: `expected ${expected === 'boolean' ? 'true or false' : 'a string'} for ${JSON.stringify(target.field)}, got ${describeValue(value)}`,
        });
      }
    }
  });

/** What a value map's values must be for a field; undefined when it takes no map. */
function valueKindFor(field: string): 'boolean' | 'string' | 'any' | undefined {
  if (field === 'public') return 'boolean';
  if (field === 'name' || field === 'email' || field === 'phone') return 'string';
  if (field.startsWith(DATA_PREFIX)) return 'any';
  return undefined;
}

const templateSpec = z.strictObject(
  {
    template: z
      .string({
        error: (iss) =>
          `expected a text such as "{First Name} {Last Name}", got ${describeValue(iss.input)}`,
      })
      .superRefine((text, ctx) => {
        const parts = parseTemplate(text);
        if (typeof parts === 'string') ctx.addIssue({ code: 'custom', message: parts });
      }),
    lowercase: lowercaseFlag,
  },
  { error: (iss) => objectError(iss, '"template" or "lowercase"') },
);

// Checked key by key on the raw object, like `columns`, for the same `__proto__` reason.
const fieldsSchema = z.unknown().superRefine((fields, ctx) => {
  if (!isPlainObject(fields)) {
    ctx.addIssue({
      code: 'custom',
      message: `expected an object of field → {"template": ...}, got ${describeValue(fields)}`,
    });
    return;
  }
  for (const key of Object.keys(fields)) {
    const field = parseFieldName(key, 'create');
    // A template makes text: id (a path segment), public and data (not text) cannot take one.
    if (
      field === undefined ||
      !(
        field.kind === 'data-key' ||
        field.kind === 'name' ||
        field.kind === 'email' ||
        field.kind === 'phone'
      )
    ) {
      ctx.addIssue({
        code: 'custom',
        path: [key],
        message: `expected ${TEMPLATE_FIELD_LIST} as a templated field, got ${describeValue(key)}`,
      });
      continue;
    }
    const result = templateSpec.safeParse(fields[key]);
    for (const issue of result.error?.issues ?? []) {
      ctx.addIssue({ code: 'custom', path: [key, ...issue.path], message: issue.message });
    }
    const spec = fields[key] as { lowercase?: unknown };
    if (result.success && spec.lowercase === true && key !== 'email') {
      ctx.addIssue({
        code: 'custom',
        path: [key, 'lowercase'],
        message: `lowercase applies only to "email", got field ${describeValue(key)}`,
      });
    }
  }
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
      message: `expected a field name, {"field": ...} or null, got ${describeValue(value)}`,
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
    fields: fieldsSchema.optional(),
  },
  { error: (iss) => objectError(iss, '"columns", "fields" or "ignoreUnknown"') },
);

/** Messages for an object schema's own issues: not an object, or a key it does not know. */
function objectError(iss: z.core.$ZodRawIssue, expectedKeys: string): string {
  if (iss.code === 'unrecognized_keys') {
    const keys = iss.keys.map((key) => JSON.stringify(key)).join(', ');
    return `unknown key${iss.keys.length > 1 ? 's' : ''} ${keys}: expected ${expectedKeys}`;
  }
  return `expected an object with ${expectedKeys}, got ${describeValue(iss.input)}`;
}

/**
 * `columns."Tier".type`, `columns."Opt In".values."Y"`: header, field and value-map
 * keys quoted, since they are free text.
 */
function formatPath(path: readonly PropertyKey[]): string {
  return path
    .map((segment, index) =>
      (index === 1 && (path[0] === 'columns' || path[0] === 'fields')) ||
      (index === 3 && path[2] === 'values')
        ? JSON.stringify(String(segment))
        : String(segment),
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
  const input = value as { columns: Record<string, unknown>; fields?: Record<string, unknown> };
  const raw = input.columns;
  const columns: Record<string, MappingTarget> = Object.create(null);
  for (const key of Object.keys(raw)) {
    const target = raw[key] as MappingTarget;
    columns[key] = target === null || typeof target === 'string' ? target : copySpec(target);
  }
  const mapping: Mapping = { columns };
  if (input.fields !== undefined) {
    const fields: Record<string, TemplateSpec> = Object.create(null);
    for (const key of Object.keys(input.fields)) {
      const spec = input.fields[key] as TemplateSpec;
      fields[key] =
        spec.lowercase === undefined
          ? { template: spec.template }
          : { template: spec.template, lowercase: spec.lowercase };
    }
    mapping.fields = fields;
  }
  if (result.data.ignoreUnknown !== undefined) mapping.ignoreUnknown = result.data.ignoreUnknown;
  return mapping;
}

/** A FieldSpec with only the keys given, its value map prototype-free (a cell may say `__proto__`). */
function copySpec(target: FieldSpec): FieldSpec {
  const spec: FieldSpec = { field: target.field };
  if (target.type !== undefined) spec.type = target.type;
  if (target.values !== undefined) {
    const values: ValueMap = Object.create(null);
    for (const key of Object.keys(target.values)) values[key] = target.values[key];
    spec.values = values;
  }
  if (target.lowercase !== undefined) spec.lowercase = target.lowercase;
  return spec;
}
