/**
 * Phone cells → E.164, the only form the API stores (`"+14155552671"`). Pure.
 *
 * libphonenumber-js with its `min` metadata (84 KB): enough to parse national numbers
 * for a default country and to check a number's length per country; the `max`
 * metadata (156 KB) adds exact digit patterns for a check the API may not even make.
 * A cold import takes about as long as zod's (~100 ms on a busy 2-core machine), paid
 * only by code that imports this module.
 */
import { createRequire } from 'node:module';
import type { CountryCode } from 'libphonenumber-js/min';
import { z } from 'zod';
import { excerpt } from './schema.js';

export type { CountryCode } from 'libphonenumber-js/min';

type PhoneLibrary = typeof import('libphonenumber-js/min');
let library: PhoneLibrary | undefined;

/**
 * libphonenumber-js, loaded on first use: only creates parse phones, and its metadata
 * adds about 4 MB to the peak RSS of every run that loads it (an update of 100k rows:
 * 99.7 MB with it, 95.7 MB before; the 1M-row budget is 120 MB).
 */
function phoneLibrary(): PhoneLibrary {
  library ??= createRequire(import.meta.url)('libphonenumber-js/min') as PhoneLibrary;
  return library;
}

/** A phone cell checked: the E.164 form, or why not (one line, without the column name). */
export type PhoneOutcome = { ok: true; e164: string } | { ok: false; message: string };

/**
 * Check a `--default-country` value: an ISO 3166-1 alpha-2 code libphonenumber knows,
 * any case (`us` is `US`).
 *
 * @throws TypeError saying what was expected and what was given.
 */
export function parseCountryCode(value: string): CountryCode {
  const upper = value.trim().toUpperCase();
  if (!phoneLibrary().isSupportedCountry(upper)) {
    throw new TypeError(
      `expected a two-letter country code such as US, GB or DE, got ${JSON.stringify(value)}`,
    );
  }
  return upper;
}

/**
 * Normalise one phone cell (already trimmed, non-empty) to E.164. A number written with
 * `+` or `00` keeps its own country; a national one (`(415) 555-2671`) is read as a
 * number of `defaultCountry`.
 *
 * "Possible" (right length for the country) is the bar, not "valid" (a number range in
 * use): the API documents no phone check, and the stricter one refuses the fictional
 * `555` numbers test data is full of, which a server may well accept.
 */
export function normalizePhone(
  cell: string,
  defaultCountry: CountryCode | undefined,
): PhoneOutcome {
  const parsed = phoneLibrary().parsePhoneNumberFromString(cell, defaultCountry);
  if (parsed === undefined) {
    // Guessing a country would send a wrong number; saying what is missing costs nothing.
    if (
      defaultCountry === undefined &&
      /^\s*[(\d]/.test(cell) &&
      !cell.trimStart().startsWith('00')
    ) {
      return {
        ok: false,
        message: `a national number needs a default country (--default-country), or write it as +<country code> <number>: ${excerpt(cell)}`,
      };
    }
    return { ok: false, message: `not a phone number: ${excerpt(cell)}` };
  }
  // parsed.country is undefined for a +1 number whose area code fits no region exactly.
  const country = parsed.country ?? (cell.trimStart().startsWith('+') ? undefined : defaultCountry);
  if (!parsed.isPossible()) {
    const where = country === undefined ? `+${parsed.countryCallingCode}` : country;
    return { ok: false, message: `not a possible number for ${where}: ${excerpt(cell)}` };
  }
  // E.164 has no room for an extension; dropping it would lose what the cell says.
  if (parsed.ext !== undefined) {
    return {
      ok: false,
      message: `has an extension, which an E.164 number cannot carry: ${excerpt(cell)}`,
    };
  }
  return { ok: true, e164: parsed.number };
}

/**
 * The `phone` cell schema for one default country: trimmed, non-empty cell → E.164.
 * Built once per run, like the schemas in schema.ts.
 */
export function phoneCell(defaultCountry: CountryCode | undefined): z.ZodType<string, string> {
  return z.string().transform((cell, ctx) => {
    const outcome = normalizePhone(cell, defaultCountry);
    if (outcome.ok) return outcome.e164;
    ctx.issues.push({ code: 'custom', input: cell, message: outcome.message });
    return z.NEVER;
  });
}
