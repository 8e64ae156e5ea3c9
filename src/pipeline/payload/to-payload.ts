/**
 * One CSV row → the exact JSON body to PUT (update) or POST (create), or the reason it
 * cannot be sent. Pure:
 * no fs, HTTP or terminal. Runs once per row, so everything that can be decided from
 * the header (which schema per column, where `id` is) is decided once, up front.
 */
import { hash } from 'node:crypto';
import { z } from 'zod';
import type { CellOptions, ColumnPlan, FieldTarget, TemplatedField } from './columns.js';
import { type DataType, foldValueKey } from './mapping.js';
import { type CountryCode, phoneCell } from './phone.js';
import {
  booleanCell,
  emailCell,
  excerpt,
  idProblem,
  jsonCell,
  jsonObjectCell,
  keyProblem,
  nameCell,
  numberCell,
  stringCell,
  unnamedCell,
} from './schema.js';
import { renderTemplate as renderParts } from './template.js';

/**
 * The body of `PUT /public/contacts/{id}` (update) or of `POST /public/contacts`, one
 * element of a batch's `contacts` (create). Keys are always in this order, the API
 * documentation's. `phone` (E.164) is in create bodies only, and always there.
 */
export interface Payload {
  name?: string | null;
  phone?: string;
  email?: string | null;
  public?: boolean;
  /** A prototype-free object: `__proto__` and friends are plain keys here. */
  data?: Record<string, unknown>;
}

/** A row checked: what to send, or why not. */
export type RowOutcome =
  | {
      ok: true;
      /** The contact id; '' in a create plan. */
      id: string;
      /** The trimmed `--key` cell; '' when the plan has no key column. */
      key: string;
      payload: Payload;
      /** The exact JSON to send. */
      body: string;
      /** Hex SHA-256 of `body`. */
      sha256: string;
    }
  | {
      ok: false;
      /** The trimmed raw id cell, '' if none. */
      id: string;
      /** The trimmed raw key cell, '' if none. */
      key: string;
      /**
       * Header name (as in the file, trimmed; `column 3 (no header)` for an unnamed
       * column) of the first bad column; undefined for row-level problems.
       */
      column: string | undefined;
      /** Every bad column, in column order (empty for row-level problems). */
      columns: string[];
      /** One line, without the column name. */
      message: string;
      /** Hex SHA-256 of JSON.stringify(cells), so a row edited since is noticed on resume. */
      sha256: string;
    };

/** An invalid row's one-line error: `column: message`, or the message alone. */
export function outcomeError(outcome: Extract<RowOutcome, { ok: false }>): string {
  return outcome.column === undefined ? outcome.message : `${outcome.column}: ${outcome.message}`;
}

/** Options of {@link createRowValidator}. */
export interface RowValidatorOptions {
  /**
   * What an empty (or whitespace-only) cell means: `omit` leaves the field unchanged,
   * `null` clears `name`, `email` and `data.<key>`. `public` and the whole-`data`
   * column are omitted in both modes.
   * @default 'omit' (the CLI's default; required here)
   */
  empty: 'omit' | 'null';
  /**
   * Country of `phone` cells written as national numbers (`(415) 555-2671` with `US`).
   * Numbers written with `+` keep their own country. Create plans only.
   * @default none: a national number is invalid, since guessing would send a wrong one
   */
  defaultCountry?: CountryCode;
}

type ColumnField = 'name' | 'phone' | 'email' | 'public' | 'data' | 'data-key' | 'unnamed';

/** Everything about one sent column (or template) that does not depend on the row. */
interface ColumnRule {
  /** Header index; for a template, header width + its position (so it sorts last). */
  index: number;
  /** Set for a mapping template: the value is rendered from several cells. */
  template: TemplatedField | undefined;
  field: ColumnField;
  /** The `data.<key>` key; '' for other fields. */
  key: string;
  /** Takes the trimmed, non-empty cell. */
  schema: z.ZodType<unknown, string>;
  /**
   * Whether `--empty null` sends null. A boolean has no "unset" value to send, and a
   * null `data` could wipe every key the API holds, so those stay omitted.
   */
  nullable: boolean;
}

interface Problem {
  index: number;
  message: string;
}

const DATA_KEY_SCHEMAS: Record<DataType, z.ZodType<unknown, string>> = {
  string: stringCell,
  number: numberCell,
  boolean: booleanCell,
  json: jsonCell,
};

/** How many allowed values a value-map message lists before "...". */
const ALLOWED_LISTED = 10;

/** Row-independent context of {@link ruleFor}. */
interface RuleContext {
  phone: z.ZodType<string, string>;
  /** `--empty null`, for fields that can be cleared (never on create: nothing to clear). */
  emptyIsNull: boolean;
}

function ruleFor(
  target: FieldTarget,
  index: number,
  context: RuleContext,
  template?: TemplatedField,
): ColumnRule | undefined {
  const rule = (field: ColumnField, schema: z.ZodType<unknown, string>, nullable: boolean) => ({
    index,
    template,
    field,
    key: '',
    schema,
    nullable: nullable && context.emptyIsNull,
  });
  switch (target.kind) {
    case 'id':
    case 'ignore':
      return undefined;
    case 'unnamed':
      return rule('unnamed', unnamedCell, false);
    case 'name':
      return rule('name', withOptions(nameCell, target), true);
    case 'phone':
      // Nothing to clear: the PUT body has no phone, and a create needs one.
      return rule('phone', withOptions(context.phone, target), false);
    case 'email':
      return rule('email', withOptions(emailCell, target), true);
    case 'public':
      return rule('public', withOptions(booleanCell, target), false);
    case 'data':
      return rule('data', jsonObjectCell, false);
    case 'data-key':
      return {
        ...rule('data-key', withOptions(DATA_KEY_SCHEMAS[target.type], target), true),
        key: target.key,
      };
  }
}

/**
 * A field's cell schema with the mapping's options applied: `lowercase` before the
 * field's check; a value map instead of the field's own parsing, its text values still
 * checked by the field (a mapped email must still be an email).
 */
function withOptions(
  schema: z.ZodType<unknown, string>,
  options: CellOptions,
): z.ZodType<unknown, string> {
  const { values } = options;
  if (values !== undefined) {
    const shown = values.allowed.slice(0, ALLOWED_LISTED).map((key) => JSON.stringify(key));
    if (values.allowed.length > ALLOWED_LISTED) shown.push('...');
    const expected = `expected one of ${shown.join(', ')}`;
    // A boolean or JSON value is final; a text value goes through the field's own check.
    const checksText = schema !== booleanCell && schema !== jsonCell;
    return z.string().transform((cell, ctx) => {
      const folded = foldValueKey(cell);
      if (!values.map.has(folded)) {
        ctx.issues.push({
          code: 'custom',
          input: cell,
          message: `${expected}, got ${excerpt(cell)}`,
        });
        return z.NEVER;
      }
      const value = values.map.get(folded);
      if (!checksText || typeof value !== 'string') return value;
      const checked = schema.safeParse(options.lowercase === true ? value.toLowerCase() : value);
      if (checked.success) return checked.data;
      for (const issue of checked.error.issues) {
        ctx.issues.push({ code: 'custom', input: cell, message: issue.message });
      }
      return z.NEVER;
    });
  }
  if (options.lowercase === true) {
    return z
      .string()
      .transform((cell) => cell.toLowerCase())
      .pipe(schema);
  }
  return schema;
}

function sha256Hex(text: string): string {
  // The one-shot crypto.hash (Node >= 20.12) is about twice as fast as createHash for
  // bodies this small, and hashing is the largest per-row cost.
  return hash('sha256', text, 'hex');
}

/**
 * Build the per-row check for a column plan. The returned function never throws for
 * bad input: every problem becomes `{ok: false}` with the column and a one-line message
 * (the first problem in column order, then the names of other bad columns).
 */
export function createRowValidator(
  plan: ColumnPlan,
  options: RowValidatorOptions,
): (cells: string[]) => RowOutcome {
  const { header, idIndex, keyIndex } = plan;
  const creating = plan.operation === 'create';
  const width = header.length;
  const context: RuleContext = {
    phone: phoneCell(options.defaultCountry),
    emptyIsNull: options.empty === 'null' && !creating,
  };
  const rules: ColumnRule[] = [];
  plan.targets.forEach((target, index) => {
    const rule = ruleFor(target, index, context);
    if (rule !== undefined) rules.push(rule);
  });
  // Templates are checked after the columns and named by their mapping key.
  const labels = [...plan.labels];
  plan.templates.forEach((template, i) => {
    labels.push(template.label);
    const rule = ruleFor(template.target, width + i, context, template);
    if (rule !== undefined) rules.push(rule);
  });
  const phoneRule = rules.find((rule) => rule.field === 'phone');

  /** `columns`: the invalid ones, in column order (none for a whole-row problem). */
  const invalid = (
    cells: string[],
    id: string,
    key: string,
    message: string,
    columns: string[] = [],
  ): RowOutcome => ({
    ok: false,
    id,
    key,
    column: columns[0],
    columns,
    message,
    sha256: sha256Hex(JSON.stringify(cells)),
  });

  return (cells) => {
    const id = idIndex === -1 ? '' : (cells[idIndex] ?? '').trim();
    const key = keyIndex === -1 ? '' : (cells[keyIndex] ?? '').trim();
    if (cells.length !== width) {
      return invalid(cells, id, key, `row has ${cells.length} fields, header has ${width}`);
    }

    let problems: Problem[] | undefined;
    const idMessage = idIndex === -1 ? undefined : idProblem(id);
    if (idMessage !== undefined) problems = [{ index: idIndex, message: idMessage }];
    // The id's message wins when the key is the id column.
    const keyMessage = keyIndex === -1 || keyIndex === idIndex ? undefined : keyProblem(key);
    if (keyMessage !== undefined) {
      problems ??= [];
      problems.push({ index: keyIndex, message: keyMessage });
    }

    // undefined = absent from the payload.
    let name: string | null | undefined;
    let phone: string | undefined;
    let email: string | null | undefined;
    let isPublic: boolean | undefined;
    let dataBase: Record<string, unknown> | undefined;
    // [key, value, key, value, ...] in column order: applied over dataBase.
    let dataKeys: unknown[] | undefined;

    for (const rule of rules) {
      const cell =
        rule.template === undefined
          ? (cells[rule.index] as string).trim()
          : renderTemplate(rule.template, cells);
      let value: unknown;
      if (cell === '') {
        if (rule === phoneRule && creating) {
          problems ??= [];
          problems.push({
            index: rule.index,
            message: 'missing: a contact cannot be created without a phone number',
          });
          continue;
        }
        if (!rule.nullable) continue;
        value = null;
      } else {
        const result = rule.schema.safeParse(cell);
        if (!result.success) {
          const message = result.error.issues[0]?.message ?? 'invalid value';
          problems ??= [];
          problems.push({ index: rule.index, message });
          continue;
        }
        value = result.data;
      }
      switch (rule.field) {
        case 'name':
          name = value as string | null;
          break;
        case 'phone':
          phone = value as string;
          break;
        case 'email':
          email = value as string | null;
          break;
        case 'public':
          isPublic = value as boolean;
          break;
        case 'data':
          dataBase = value as Record<string, unknown>;
          break;
        case 'data-key':
          dataKeys ??= [];
          dataKeys.push(rule.key, value);
          break;
        case 'unnamed':
          break;
      }
    }

    if (problems !== undefined) {
      // Report in column order, whatever order the checks ran in.
      problems.sort((a, b) => a.index - b.index);
      const [first, ...rest] = problems as [Problem, ...Problem[]];
      const also =
        rest.length === 0
          ? ''
          : `; also invalid: ${rest.map((p) => JSON.stringify(labels[p.index])).join(', ')}`;
      return invalid(
        cells,
        id,
        key,
        first.message + also,
        problems.map((p) => labels[p.index] as string),
      );
    }

    // Assigned in this order whatever the column order: same row, same body, same hash.
    const payload: Payload = {};
    if (name !== undefined) payload.name = name;
    if (phone !== undefined) payload.phone = phone;
    if (email !== undefined) payload.email = email;
    if (isPublic !== undefined) payload.public = isPublic;
    if (dataBase !== undefined || dataKeys !== undefined) {
      payload.data = buildData(dataBase, dataKeys);
    }
    // A create always has its phone (checked above), so only an update can be empty.
    if (
      payload.name === undefined &&
      payload.phone === undefined &&
      payload.email === undefined &&
      payload.public === undefined &&
      payload.data === undefined
    ) {
      return invalid(cells, id, key, 'nothing to update: every field is empty');
    }
    return { ok: true, id, key, ...sealPayload(payload) };
  };
}

/** The exact body of a payload and its hash: the one place a body is serialised. */
export function sealPayload(payload: Payload): { payload: Payload; body: string; sha256: string } {
  const body = JSON.stringify(payload);
  return { payload, body, sha256: sha256Hex(body) };
}

/**
 * The PUT body for a contact a create payload describes (sync, when the key is already
 * known): the same fields without `phone`, which the PUT body cannot carry, hashed as
 * any update body. Undefined when nothing but the phone is left to send.
 */
export function updateBodyFor(
  payload: Payload,
): { payload: Payload; body: string; sha256: string } | undefined {
  const { phone: _phone, ...rest } = payload;
  if (Object.keys(rest).length === 0) return undefined;
  return sealPayload(rest);
}

/** A template's value for a row: its columns' trimmed cells, empty parts collapsed. */
function renderTemplate(template: TemplatedField, cells: string[]): string {
  return renderParts(template.parts, (column) =>
    (cells[template.columnIndex.get(column) as number] ?? '').trim(),
  );
}

/**
 * Merge the `data` column's object and the `data.<key>` cells into a fresh object
 * without a prototype. On a plain `{}`, `obj.__proto__ = v` would replace the
 * object's prototype instead of adding a key; here it is an ordinary own key, and
 * nothing a cell holds can reach Object.prototype.
 */
function buildData(
  base: Record<string, unknown> | undefined,
  keyValues: unknown[] | undefined,
): Record<string, unknown> {
  const data: Record<string, unknown> = Object.create(null);
  if (base !== undefined) {
    // JSON.parse made `__proto__` an own key of `base`; Object.keys lists it.
    for (const key of Object.keys(base)) data[key] = base[key];
  }
  if (keyValues !== undefined) {
    for (let i = 0; i < keyValues.length; i += 2) data[keyValues[i] as string] = keyValues[i + 1];
  }
  return data;
}

// contactPath moved to the HTTP client's folder; re-exported for existing imports.
export { contactPath } from '../send/contact-path.js';
