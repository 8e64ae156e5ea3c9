/**
 * The options of one command, from flags over `CLERK_BULK_*` variables over a
 * `--config` file over the table's defaults. Only the options the chosen command takes
 * are read, from every source: a variable or config key meant for another command is
 * not this command's business. Each value is checked by a zod schema generated from the
 * table, and a bad one is refused with the place it came from:
 * `CLERK_BULK_DRY_RUN: expected a boolean, got "maybe"`.
 */
import { readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import { UsageError } from '../errors.js';
import {
  type CommandName,
  camelCase,
  decimal,
  envName,
  kebabCase,
  OPTIONS,
  type OptionSpec,
  type OptionsOf,
  optionsOf,
  toBoolean,
  type ValueKind,
} from './options.js';
import type { Invocation } from './parse-argv.js';

export interface Resolved<C extends CommandName> {
  command: C;
  /** The positional argument (`input` or `results`) and every option of the command. */
  options: OptionsOf<C> & Record<string, unknown>;
  /** Things to tell the user before running (a config file others can read...). */
  warnings: string[];
}

/** One zod schema per kind of value; the message is built by `check` from the table. */
export function schemaFor(kind: ValueKind): z.ZodType {
  switch (kind.type) {
    case 'boolean':
      return z.preprocess((v) => toBoolean(v) ?? v, z.boolean());
    case 'number': {
      let n = z.number();
      if (kind.integer) n = n.int();
      n = kind.minExclusive === true ? n.gt(kind.min) : n.min(kind.min);
      return z.preprocess(
        (v) => (typeof v === 'string' ? (decimal(v) ?? v) : v),
        n.max(kind.max).refine(Number.isFinite),
      );
    }
    case 'number-or-word': {
      const { words } = kind;
      const number = schemaFor(kind.number);
      // A word as typed (`auto`, any case); anything else is read as a number.
      return z.union([
        z.preprocess(
          (v) => (typeof v === 'string' ? v.toLowerCase() : v),
          z.string().refine((v) => words.includes(v)),
        ),
        number,
      ]);
    }
    case 'string': {
      const s = z
        .string()
        .transform((v) => kind.normalize?.(v) ?? v)
        .refine((v) => v !== '' && (kind.check?.(v) ?? true));
      const { choices } = kind;
      return choices === undefined ? s : s.refine((v) => choices.includes(v));
    }
  }
}

const schemas = new Map<OptionSpec, z.ZodType>();

/** `value` from `source` checked against `option`, or a UsageError naming the source. */
export function checkOption(option: OptionSpec, value: unknown, source: string): unknown {
  let schema = schemas.get(option);
  if (schema === undefined) {
    schema = schemaFor(option.kind);
    schemas.set(option, schema);
  }
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const secret = option.kind.type === 'string' && option.kind.secret === true;
  throw new UsageError(
    `${source}: expected ${option.expected}, got ${secret ? describeSecret(value) : show(value)}`,
    'E_OPTION',
  );
}

function show(value: unknown): string {
  if (value === undefined) return 'nothing';
  // A number typed as text shows as the number: `got -1`, not `got "-1"`.
  if (typeof value === 'string')
    return decimal(value) === undefined ? JSON.stringify(value) : value;
  return String(JSON.stringify(value));
}

/** Says what is wrong with a key without showing any of it. */
function describeSecret(value: unknown): string {
  if (typeof value !== 'string') return `a ${value === null ? 'null' : typeof value}`;
  return 'a value with control or non-Latin-1 characters (not shown)';
}

/** Resolve the options of `invocation.command` from every source. */
export function resolveOptions<C extends CommandName>(
  invocation: { command: C } & Extract<Invocation, { flags: unknown }>,
  env: NodeJS.ProcessEnv = process.env,
): Resolved<C> {
  const { command, flags } = invocation;
  const options = optionsOf(command);
  const warnings: string[] = [];
  const configOption = options.find((o) => o.flag === 'config');
  const configPath =
    configOption === undefined ? undefined : fromFlagOrEnv(configOption, flags, env)?.value;
  const file = typeof configPath === 'string' ? readConfigFile(configPath, warnings) : undefined;
  const result: Record<string, unknown> = { ...invocation.args };
  for (const option of options) {
    const key = camelCase(option.flag);
    const given = fromFlagOrEnv(option, flags, env) ?? fromFile(option, file);
    result[key] =
      given === undefined ? option.default : checkOption(option, given.value, given.source);
  }
  return { command, options: result as Resolved<C>['options'], warnings };
}

function fromFlagOrEnv(
  option: OptionSpec,
  flags: Record<string, unknown>,
  env: NodeJS.ProcessEnv,
): { value: unknown; source: string } | undefined {
  const flagged = flags[camelCase(option.flag)];
  if (flagged !== undefined) return { value: flagged, source: `--${option.flag}` };
  const name = envName(option);
  const fromEnv = env[name];
  // Set but empty (`CLERK_BULK_RATE= cmd`) reads as unset, as most tools do.
  if (fromEnv !== undefined && fromEnv !== '') return { value: fromEnv, source: name };
  return undefined;
}

interface ConfigFile {
  path: string;
  /** Keys as flags (`dry-run`), whichever spelling the file used. */
  values: Map<string, unknown>;
}

function fromFile(
  option: OptionSpec,
  file: ConfigFile | undefined,
): { value: unknown; source: string } | undefined {
  if (file === undefined || option.flag === 'config' || !file.values.has(option.flag))
    return undefined;
  let value = file.values.get(option.flag);
  // Paths in a job file are relative to the file, so a job folder can move as a whole.
  if (option.kind.type === 'string' && option.kind.path === true) {
    if (typeof value === 'string' && value !== '' && !isAbsolute(value))
      value = resolve(dirname(file.path), value);
  }
  return { value, source: `--config ${file.path}: ${option.flag}` };
}

const KNOWN_FLAGS = new Set((OPTIONS as readonly OptionSpec[]).map((o) => o.flag));

function readConfigFile(path: string, warnings: string[]): ConfigFile {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UsageError(
      `--config ${path}: ${code === undefined ? (err as Error).message : `cannot read it (${code})`}`,
      'E_CONFIG',
    );
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw new UsageError(`--config ${path}: expected a JSON object of options`, 'E_CONFIG');
  }
  const values = new Map<string, unknown>();
  const unknown: string[] = [];
  for (const [key, value] of Object.entries(json)) {
    const flag = kebabCase(key);
    if (KNOWN_FLAGS.has(flag)) values.set(flag, value);
    else unknown.push(key);
  }
  if (unknown.length > 0) {
    warnings.push(
      `--config ${path}: ignoring ${unknown.map((k) => JSON.stringify(k)).join(', ')}: no command takes ${unknown.length === 1 ? 'it' : 'them'}`,
    );
  }
  // A key in a file that group or others can read is a leak waiting to happen.
  if (values.has('api-key') && (statSync(path).mode & 0o077) !== 0) {
    warnings.push(
      `${path} holds an API key and other users can read it; run: chmod 600 ${path} (or use CLERK_CHAT_API_KEY)`,
    );
  }
  return { path, values };
}
