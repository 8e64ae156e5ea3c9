/**
 * Header → column plan: which contact field each column feeds. Every problem here is
 * a whole-file problem (nothing can be sent), so it throws an InputFileError at line 1.
 */
import { InputFileError, type InputLocation } from '../../errors.js';
import { type DataType, type Mapping, type MappingTarget, parseFieldName } from './mapping.js';

/** What one column feeds. */
export type FieldTarget =
  | { kind: 'id' }
  | { kind: 'name' }
  | { kind: 'email' }
  | { kind: 'public' }
  /** A column holding a JSON object, sent as (the base of) `data`. */
  | { kind: 'data' }
  /** `data.<key>`, converted by `type`. @default type 'string' */
  | { kind: 'data-key'; key: string; type: DataType }
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
  /** Index of the one column that feeds `id`. */
  idIndex: number;
}

/** Options of {@link planColumns}. */
export interface PlanColumnsOptions {
  /** Input file name, for messages. */
  file: string;
  /** The `--map` file. @default headers used as field names */
  mapping?: Mapping;
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

  const unknown: string[] = [];
  const targets = names.map((name): FieldTarget => {
    if (name === '') return UNNAMED;
    if (mapped.has(name)) return fromMapping(mapped.get(name) ?? null);
    if (name === ERROR_COLUMN) return IGNORE;
    const field = parseFieldName(name);
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
    if (!ignoreUnknown) unknown.push(name);
    return IGNORE;
  });

  if (unknown.length > 0) throw unknownColumnsError(unknown, at);

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

  if (idIndex === -1) {
    throw new InputFileError(
      'no "id" column: add one, or map a column to "id" with --map',
      'E_NO_ID_COLUMN',
      at,
    );
  }
  const labels = names.map((name, index) =>
    name === '' ? `column ${index + 1} (no header)` : name,
  );
  return { header: names, labels, targets, idIndex };
}

/** A checked mapping target as a FieldTarget; an unparseable one cannot get here. */
function fromMapping(target: MappingTarget): FieldTarget {
  if (target === null) return IGNORE;
  const name = typeof target === 'string' ? target : target.field;
  const type = typeof target === 'string' ? undefined : target.type;
  const field = parseFieldName(name);
  if (field === undefined) {
    // Only reachable with a Mapping built in code, not one from parseMapping.
    throw new TypeError(`mapping target ${JSON.stringify(name)} is not a field`);
  }
  return field.kind === 'data-key'
    ? { kind: 'data-key', key: field.key, type: type ?? 'string' }
    : field;
}

function unknownColumnsError(unknown: string[], at: InputLocation): InputFileError {
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
    if (parseFieldName(suggestion) !== undefined) {
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
