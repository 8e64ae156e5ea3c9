/**
 * payload/ is pure (no fs, HTTP or terminal): columns.ts (header → column plan),
 * mapping.ts (the --map file: renames, templates, value maps), template.ts, schema.ts
 * and phone.ts (cell checks), to-payload.ts (row → exact JSON body and its hash).
 *
 * Header → column plan: which contact field each column feeds. Every problem here is
 * a whole-file problem (nothing can be sent), so it throws an InputFileError at line 1.
 */
import { InputFileError, type InputLocation } from '../../errors.js';
import {
  type DataType,
  foldValueKey,
  type Mapping,
  type MappingTarget,
  type Operation,
  parseFieldName,
} from './mapping.js';
import { parseTemplate, type TemplatePart, templateColumns } from './template.js';

export type { Operation } from './mapping.js';

/** How a column's cells are converted beyond their field's own rule (from the mapping). */
export interface CellOptions {
  /** A value map: folded cell (trimmed, lower-cased) → value; `allowed` as written, for messages. @default none */
  values?: { map: ReadonlyMap<string, unknown>; allowed: readonly string[] };
  /** Lower-case the cell before its check (`email`). @default false */
  lowercase?: boolean;
}

/** What one column feeds. */
export type FieldTarget =
  | { kind: 'id' }
  /** `phone` only in a `create` plan. */
  | ({ kind: 'name' | 'phone' | 'email' | 'public' } & CellOptions)
  /** A column holding a JSON object, sent as (the base of) `data`. */
  | { kind: 'data' }
  /** `data.<key>`, converted by `type`. @default type 'string' */
  | ({ kind: 'data-key'; key: string; type: DataType } & CellOptions)
  | { kind: 'ignore' }
  /**
   * A column whose header is empty (a trailing delimiter on every line, as some
   * exports write). Nothing is sent from it; a row with a value there is invalid,
   * since that value would otherwise be dropped silently.
   */
  | { kind: 'unnamed' };

/** The checked header and what each column feeds, index for index. */
export interface ColumnPlan {
  /** Header names as in the file, trimmed ('' for an unnamed column). */
  header: string[];
  /** What messages call each column: its header name, or `column 3 (no header)`. */
  labels: string[];
  targets: FieldTarget[];
  /** Index of the one column that feeds `id`; -1 in a `create` plan, which has none. */
  idIndex: number;
  /** @default 'update' */
  operation: Operation;
  /** Index of the `key` column; -1 when no key was asked for. */
  keyIndex: number;
  /** Fields built from several columns (`fields` in the mapping), in mapping order. */
  templates: TemplatedField[];
}

/** A field a mapping template builds from several columns. */
export interface TemplatedField {
  /** Templates make text, so `id`, `public` and `data` cannot take one. */
  target:
    | ({ kind: 'name' | 'phone' | 'email' } & CellOptions)
    | ({ kind: 'data-key'; key: string; type: 'string' } & CellOptions);
  /** What messages call it: `fields."name"`. */
  label: string;
  parts: TemplatePart[];
  /** Header index of each column the template names. */
  columnIndex: ReadonlyMap<string, number>;
}

/** Options of {@link planColumns}. */
export interface PlanColumnsOptions {
  /** Input file name, for messages. */
  file: string;
  /** The `--map` file. @default headers used as field names */
  mapping?: Mapping;
  /**
   * `update` needs an `id` column and cannot send `phone`; `create` (import, sync) needs
   * a `phone` and cannot take an `id` (the API assigns it).
   * @default 'update'
   */
  operation?: Operation;
  /**
   * Header of the column that identifies a row in the CRM (`--key`), matched trimmed.
   * It need not feed a field: it is never an unknown column. @default no key column
   */
  key?: string;
}

/** How many unknown headers an error lists before "and N more". */
const UNKNOWN_LISTED = 5;

const DATA_PREFIX = 'data.';

/**
 * The error column `report --failed-out` adds to the rows it copies: ignored, so the
 * fixed file can go back to `update` with the same mapping.
 */
export const ERROR_COLUMN = 'clerk_bulk_error';

const IGNORE: FieldTarget = { kind: 'ignore' };
const UNNAMED: FieldTarget = { kind: 'unnamed' };

/**
 * Check the header and decide what each column feeds. A mapping entry wins over the
 * header's own name (so `"id": null` can ignore a column literally named `id`);
 * mapping entries for headers not in the file are ignored.
 *
 * A column with an empty header is `unnamed`: allowed, but its cells must be empty.
 *
 * @throws InputFileError at `{file, line: 1}` with code
 * `E_HEADER_DUPLICATE` (same name twice, or two columns feeding one field),
 * `E_HEADER_DATA_KEY` (`data.` without a key), `E_UNKNOWN_COLUMNS` or `E_NO_ID_COLUMN`.
 */
export function planColumns(header: string[], options: PlanColumnsOptions): ColumnPlan {
  const at: InputLocation = { file: options.file, line: 1 };
  // trim() also removes U+FEFF, so a BOM the reader missed cannot glue itself to `id`.
  const names = header.map((name) => name.trim());

  const firstIndex = new Map<string, number>();
  names.forEach((name, index) => {
    if (name === '') return;
    const earlier = firstIndex.get(name);
    if (earlier !== undefined) {
      throw new InputFileError(
        `column name ${JSON.stringify(name)} appears twice (columns ${earlier + 1} and ${index + 1})`,
        'E_HEADER_DUPLICATE',
        at,
      );
    }
    firstIndex.set(name, index);
  });

  // A Map, not `columns[name]`: a header called `constructor` must not find
  // Object.prototype.constructor.
  const mapped = new Map<string, MappingTarget>();
  for (const [key, target] of Object.entries(options.mapping?.columns ?? {})) {
    mapped.set(key.trim(), target);
  }
  const ignoreUnknown = options.mapping?.ignoreUnknown === true;
  const operation = options.operation ?? 'update';

  const keyIndex = options.key === undefined ? -1 : findKeyColumn(names, options.key, at);
  const templates = planTemplates(options.mapping, names, operation, at);
  // Columns read by --key or a template are used even when they feed no field.
  const used = new Set<number>(keyIndex === -1 ? [] : [keyIndex]);
  for (const template of templates) {
    for (const index of template.columnIndex.values()) used.add(index);
  }

  const unknown: string[] = [];
  const targets = names.map((name, index): FieldTarget => {
    if (name === '') return UNNAMED;
    if (mapped.has(name)) return fromMapping(mapped.get(name) ?? null);
    if (name === ERROR_COLUMN) return IGNORE;
    const field = parseFieldName(name, operation);
    if (field !== undefined) {
      return field.kind === 'data-key'
        ? { kind: 'data-key', key: field.key, type: 'string' }
        : field;
    }
    if (name === 'data.') {
      // Looks like a field, so say what is wrong rather than calling it unknown.
      throw new InputFileError(
        'column "data." has no key: name it "data.<key>", or map or ignore it with --map',
        'E_HEADER_DATA_KEY',
        at,
      );
    }
    if (!ignoreUnknown && !used.has(index)) unknown.push(name);
    return IGNORE;
  });

  if (unknown.length > 0) throw unknownColumnsError(unknown, at, operation);
  checkOperationFields(targets, names, operation, at);

  const fieldColumn = new Map<string, number>();
  let idIndex = -1;
  targets.forEach((target, index) => {
    if (target.kind === 'ignore' || target.kind === 'unnamed') return;
    const field = target.kind === 'data-key' ? `data.${target.key}` : target.kind;
    const earlier = fieldColumn.get(field);
    if (earlier !== undefined) {
      throw new InputFileError(
        `columns ${JSON.stringify(names[earlier])} and ${JSON.stringify(names[index])} both feed ${JSON.stringify(field)}`,
        'E_HEADER_DUPLICATE',
        at,
      );
    }
    fieldColumn.set(field, index);
    if (target.kind === 'id') idIndex = index;
  });
  for (const template of templates) {
    const { target } = template;
    const field = target.kind === 'data-key' ? `data.${target.key}` : target.kind;
    const earlier = fieldColumn.get(field);
    if (earlier !== undefined) {
      throw new InputFileError(
        `column ${JSON.stringify(names[earlier])} and ${template.label} both feed ${JSON.stringify(field)}`,
        'E_HEADER_DUPLICATE',
        at,
      );
    }
    fieldColumn.set(field, -1);
  }

  if (operation === 'create') {
    if (!fieldColumn.has('phone')) {
      throw new InputFileError(
        'no "phone" column: a contact cannot be created without a phone number: add one, or map a column or template to "phone" with --map',
        'E_NO_PHONE_COLUMN',
        at,
      );
    }
  } else if (idIndex === -1) {
    throw new InputFileError(
      'no "id" column: add one, or map a column to "id" with --map',
      'E_NO_ID_COLUMN',
      at,
    );
  }
  const labels = names.map((name, index) =>
    name === '' ? `column ${index + 1} (no header)` : name,
  );
  return { header: names, labels, targets, idIndex, operation, keyIndex, templates };
}

/** The index of the `--key` column. */
function findKeyColumn(names: string[], key: string, at: InputLocation): number {
  const index = names.indexOf(key.trim());
  if (index === -1 || key.trim() === '') {
    throw new InputFileError(
      `no column ${JSON.stringify(key.trim())} for --key: the header has ${names
        .filter((name) => name !== '')
        .slice(0, UNKNOWN_LISTED)
        .map((name) => JSON.stringify(name))
        .join(', ')}${names.length > UNKNOWN_LISTED ? ', ...' : ''}`,
      'E_NO_KEY_COLUMN',
      at,
    );
  }
  return index;
}

/** The mapping's `fields` templates, their columns found in the header. */
function planTemplates(
  mapping: Mapping | undefined,
  names: string[],
  operation: Operation,
  at: InputLocation,
): TemplatedField[] {
  const fields = mapping?.fields;
  if (fields === undefined) return [];
  const templates: TemplatedField[] = [];
  for (const field of Object.keys(fields)) {
    const spec = fields[field];
    const label = `fields.${JSON.stringify(field)}`;
    const parsed = parseFieldName(field, 'create');
    const parts = spec === undefined ? 'no template' : parseTemplate(spec.template);
    if (
      typeof parts === 'string' ||
      parsed === undefined ||
      parsed.kind === 'id' ||
      parsed.kind === 'public' ||
      parsed.kind === 'data'
    ) {
      // Only reachable with a Mapping built in code, not one from parseMapping.
      throw new TypeError(`mapping ${label} is not a usable template`);
    }
    const columnIndex = new Map<string, number>();
    for (const column of templateColumns(parts)) {
      const index = names.indexOf(column);
      if (index === -1) {
        // Unlike `columns`, not skipped: a misspelt column would quietly drop names.
        throw new InputFileError(
          `${label}: the template names column ${JSON.stringify(column)}, which is not in the file`,
          'E_TEMPLATE_COLUMN',
          at,
        );
      }
      columnIndex.set(column, index);
    }
    const target: TemplatedField['target'] =
      parsed.kind === 'data-key'
        ? { kind: 'data-key', key: parsed.key, type: 'string' }
        : spec?.lowercase === true
          ? { kind: parsed.kind, lowercase: true }
          : { kind: parsed.kind };
    templates.push({ target, label, parts, columnIndex });
  }
  if (operation === 'update') {
    const phone = templates.find((template) => template.target.kind === 'phone');
    if (phone !== undefined) throw phoneOnUpdateError(phone.label, at);
  }
  return templates;
}

/** What the operation's body cannot carry: `phone` on a PUT, `id` on a create. */
function checkOperationFields(
  targets: FieldTarget[],
  names: string[],
  operation: Operation,
  at: InputLocation,
): void {
  const banned = operation === 'update' ? 'phone' : 'id';
  const index = targets.findIndex((target) => target.kind === banned);
  if (index === -1) return;
  const column = `column ${JSON.stringify(names[index])}`;
  if (operation === 'update') throw phoneOnUpdateError(column, at);
  throw new InputFileError(
    `${column} feeds "id", but a new contact gets its id from the API: map it to a data key (e.g. "data.crm_id"), ignore it with null, or name it with --key`,
    'E_ID_ON_CREATE',
    at,
  );
}

function phoneOnUpdateError(what: string, at: InputLocation): InputFileError {
  return new InputFileError(
    `${what} feeds "phone", which an update cannot change (the PUT body has no phone): ignore it with null in --map`,
    'E_FIELD_NOT_FOR_UPDATE',
    at,
  );
}

/** A checked mapping target as a FieldTarget; an unparseable one cannot get here. */
function fromMapping(target: MappingTarget): FieldTarget {
  if (target === null) return IGNORE;
  const name = typeof target === 'string' ? target : target.field;
  const type = typeof target === 'string' ? undefined : target.type;
  // Every operation's fields: checkOperationFields says what this one cannot send.
  const field = parseFieldName(name, 'create');
  if (field === undefined) {
    // Only reachable with a Mapping built in code, not one from parseMapping.
    throw new TypeError(`mapping target ${JSON.stringify(name)} is not a field`);
  }
  const resolved: FieldTarget =
    field.kind === 'data-key'
      ? { kind: 'data-key', key: field.key, type: type ?? 'string' }
      : field;
  if (typeof target === 'string') return resolved;
  if (
    resolved.kind === 'id' ||
    resolved.kind === 'data' ||
    resolved.kind === 'ignore' ||
    resolved.kind === 'unnamed'
  ) {
    return resolved;
  }
  if (target.lowercase === true) resolved.lowercase = true;
  if (target.values !== undefined) {
    const map = new Map<string, unknown>();
    for (const key of Object.keys(target.values)) map.set(foldValueKey(key), target.values[key]);
    resolved.values = { map, allowed: Object.keys(target.values) };
  }
  return resolved;
}

function unknownColumnsError(
  unknown: string[],
  at: InputLocation,
  operation: Operation,
): InputFileError {
  const listed = unknown
    .slice(0, UNKNOWN_LISTED)
    .map((name) => JSON.stringify(name))
    .join(', ');
  const more =
    unknown.length > UNKNOWN_LISTED ? ` and ${unknown.length - UNKNOWN_LISTED} more` : '';
  // Field names are case-sensitive; an `ID` or `Email` header is the likeliest cause.
  let caseHint = '';
  for (const name of unknown) {
    const lower = name.toLowerCase();
    const suggestion = lower.startsWith(DATA_PREFIX)
      ? DATA_PREFIX + name.slice(DATA_PREFIX.length)
      : lower;
    if (parseFieldName(suggestion, operation) !== undefined) {
      caseHint = ` (field names are case-sensitive: did you mean ${JSON.stringify(suggestion)} for ${JSON.stringify(name)}?)`;
      break;
    }
  }
  return new InputFileError(
    `unknown column${unknown.length > 1 ? 's' : ''} ${listed}${more}: use --map to map or ignore them${caseHint}`,
    'E_UNKNOWN_COLUMNS',
    at,
  );
}
