/**
 * One CSV row → the exact JSON body to PUT, or the reason it cannot be sent. Pure:
 * no fs, HTTP or terminal. Runs once per row, so everything that can be decided from
 * the header (which schema per column, where `id` is) is decided once, up front.
 */
import { hash } from 'node:crypto';
import type { z } from 'zod';
import type { ColumnPlan, FieldTarget } from './columns.js';
import type { DataType } from './mapping.js';
import {
  booleanCell,
  emailCell,
  idProblem,
  jsonCell,
  jsonObjectCell,
  nameCell,
  numberCell,
  stringCell,
  unnamedCell,
} from './schema.js';

/** The body of `PUT /public/contacts/{id}`. Keys are always in this order. */
export interface Payload {
  name?: string | null;
  email?: string | null;
  public?: boolean;
  /** A prototype-free object: `__proto__` and friends are plain keys here. */
  data?: Record<string, unknown>;
}

/** A row checked: what to send, or why not. */
export type RowOutcome =
  | {
      ok: true;
      id: string;
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
}

type ColumnField = 'name' | 'email' | 'public' | 'data' | 'data-key' | 'unnamed';

/** Everything about one sent column that does not depend on the row. */
interface ColumnRule {
  index: number;
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

function ruleFor(target: FieldTarget, index: number): ColumnRule | undefined {
  switch (target.kind) {
    case 'id':
    case 'ignore':
      return undefined;
    case 'unnamed':
      return { index, field: 'unnamed', key: '', schema: unnamedCell, nullable: false };
    case 'name':
      return { index, field: 'name', key: '', schema: nameCell, nullable: true };
    case 'email':
      return { index, field: 'email', key: '', schema: emailCell, nullable: true };
    case 'public':
      return { index, field: 'public', key: '', schema: booleanCell, nullable: false };
    case 'data':
      return { index, field: 'data', key: '', schema: jsonObjectCell, nullable: false };
    case 'data-key':
      return {
        index,
        field: 'data-key',
        key: target.key,
        schema: DATA_KEY_SCHEMAS[target.type],
        nullable: true,
      };
  }
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
  const { header, idIndex } = plan;
  const labels = plan.labels;
  const width = header.length;
  const emptyIsNull = options.empty === 'null';
  const rules: ColumnRule[] = [];
  plan.targets.forEach((target, index) => {
    const rule = ruleFor(target, index);
    if (rule !== undefined) rules.push(rule);
  });

  /** `columns`: the invalid ones, in column order (none for a whole-row problem). */
  const invalid = (
    cells: string[],
    id: string,
    message: string,
    columns: string[] = [],
  ): RowOutcome => ({
    ok: false,
    id,
    column: columns[0],
    columns,
    message,
    sha256: sha256Hex(JSON.stringify(cells)),
  });

  return (cells) => {
    const id = (cells[idIndex] ?? '').trim();
    if (cells.length !== width) {
      return invalid(cells, id, `row has ${cells.length} fields, header has ${width}`);
    }

    let problems: Problem[] | undefined;
    const idMessage = idProblem(id);
    if (idMessage !== undefined) problems = [{ index: idIndex, message: idMessage }];

    // undefined = absent from the payload.
    let name: string | null | undefined;
    let email: string | null | undefined;
    let isPublic: boolean | undefined;
    let dataBase: Record<string, unknown> | undefined;
    // [key, value, key, value, ...] in column order: applied over dataBase.
    let dataKeys: unknown[] | undefined;

    for (const rule of rules) {
      const cell = (cells[rule.index] as string).trim();
      let value: unknown;
      if (cell === '') {
        if (!(emptyIsNull && rule.nullable)) continue;
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
        first.message + also,
        problems.map((p) => labels[p.index] as string),
      );
    }

    // Assigned in this order whatever the column order: same row, same body, same hash.
    const payload: Payload = {};
    if (name !== undefined) payload.name = name;
    if (email !== undefined) payload.email = email;
    if (isPublic !== undefined) payload.public = isPublic;
    if (dataBase !== undefined || dataKeys !== undefined) {
      payload.data = buildData(dataBase, dataKeys);
    }
    if (
      payload.name === undefined &&
      payload.email === undefined &&
      payload.public === undefined &&
      payload.data === undefined
    ) {
      return invalid(cells, id, 'nothing to update: every field is empty');
    }
    const body = JSON.stringify(payload);
    return { ok: true, id, payload, body, sha256: sha256Hex(body) };
  };
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
