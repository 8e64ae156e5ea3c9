/**
 * Body checks as the real service makes them: Express 4 body-parser (strict JSON) and
 * then a NestJS ValidationPipe with `whitelist` + `forbidNonWhitelisted`, whose
 * class-validator messages the fake repeats so error handling meets realistic text.
 */
import { parsePhoneNumberFromString } from 'libphonenumber-js/min';
import { regexes } from 'zod';

/** The fields the public API lets a PUT change. */
export interface ContactUpdate {
  name?: string | null;
  email?: string | null;
  public?: boolean;
  data?: Record<string, unknown>;
}

/** The fields `POST /public/contacts` (and each element of a batch) sets. */
export interface ContactCreate extends ContactUpdate {
  /** E.164. */
  phone: string;
}

export type ParsedBody = { ok: true; value: unknown } | { ok: false; message: string };
export type CheckedUpdate = { ok: true; update: ContactUpdate } | { ok: false; messages: string[] };
export type CheckedCreate =
  | { ok: true; contacts: ContactCreate[] }
  | { ok: false; messages: string[] };

/** E.164: `+`, a country code not starting with 0, at most 15 digits in all. */
const E164 = /^\+[1-9]\d{1,14}$/;

/** The same check the tool uses, so the fake does not reject what the tool accepts. */
const EMAIL = regexes.email;
const EMAIL_MAX_LENGTH = 254;

/**
 * Parse a request body. Like body-parser 1.x, a body whose Content-Type is not JSON is
 * not read at all and becomes `{}` (so such a PUT changes nothing and answers 200),
 * and an empty JSON body is `{}` too.
 */
export function parseBody(raw: string, contentType: string | undefined): ParsedBody {
  if (!isJsonMediaType(contentType) || raw.length === 0) return { ok: true, value: {} };
  // body-parser's strict mode accepts only objects and arrays at the top level.
  const at = firstNonSpace(raw);
  const first = raw[at];
  if (first !== '{' && first !== '[') {
    return {
      ok: false,
      message:
        first === undefined
          ? 'Unexpected end of JSON input'
          : `Unexpected token ${first} in JSON at position ${at}`,
    };
  }
  try {
    return { ok: true, value: JSON.parse(raw) };
  } catch (err) {
    return { ok: false, message: (err as Error).message };
  }
}

/** Check a parsed body against the update DTO; every problem is reported, as class-validator does. */
export function checkUpdate(value: unknown): CheckedUpdate {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    // What class-validator (forbidUnknownValues) says when handed something that is not an object.
    return { ok: false, messages: ['an unknown value was passed to the validate function'] };
  }
  const body = value as Record<string, unknown>;
  const messages: string[] = [];
  const update: ContactUpdate = {};
  for (const key of Object.keys(body)) {
    const field = body[key];
    switch (key) {
      case 'name':
        if (field === null || typeof field === 'string') update.name = field;
        else messages.push('name must be a string');
        break;
      case 'email':
        if (field === null || isEmail(field)) update.email = field;
        else messages.push('email must be an email');
        break;
      case 'public':
        if (typeof field === 'boolean') update.public = field;
        else messages.push('public must be a boolean value');
        break;
      case 'data':
        if (typeof field === 'object' && field !== null && !Array.isArray(field)) {
          update.data = field as Record<string, unknown>;
        } else {
          messages.push('data must be an object');
        }
        break;
      default:
        messages.push(`property ${key} should not exist`);
    }
  }
  return messages.length === 0 ? { ok: true, update } : { ok: false, messages };
}

/**
 * Check a `POST /public/contacts` body against the create DTO. `phone` is required:
 * every Contact the API answers has one, and a messaging contact without one is of no
 * use; this is the fake's assumption, the documentation says nothing either way.
 */
export function checkCreate(value: unknown): CheckedCreate {
  const messages = createMessages(value, '');
  return messages.length === 0
    ? { ok: true, contacts: [toCreate(value as Record<string, unknown>)] }
    : { ok: false, messages };
}

/**
 * Check a `POST /public/contacts/batch` body: `{"contacts": [...]}` with 1 to
 * `maxContacts` valid elements. As a NestJS ValidationPipe with nested validation
 * does, one bad element refuses the whole body (nothing is created), and messages
 * name elements by index: `contacts.3.phone must be a valid phone number`.
 */
export function checkBatch(value: unknown, maxContacts: number): CheckedCreate {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, messages: ['an unknown value was passed to the validate function'] };
  }
  const body = value as Record<string, unknown>;
  const messages: string[] = [];
  for (const key of Object.keys(body)) {
    if (key !== 'contacts') messages.push(`property ${key} should not exist`);
  }
  const contacts = body.contacts;
  if (!Array.isArray(contacts)) {
    messages.push('contacts must be an array');
    return { ok: false, messages };
  }
  if (contacts.length === 0) messages.push('contacts should not be empty');
  if (contacts.length > maxContacts) {
    messages.push(`contacts must contain no more than ${maxContacts} elements`);
  }
  contacts.forEach((element, index) => {
    messages.push(...createMessages(element, `contacts.${index}.`));
  });
  return messages.length === 0
    ? { ok: true, contacts: contacts.map((element) => toCreate(element)) }
    : { ok: false, messages };
}

/** class-validator's messages for one create DTO, each prefixed with its path. */
function createMessages(value: unknown, prefix: string): string[] {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return prefix === ''
      ? ['an unknown value was passed to the validate function']
      : [`${prefix.slice(0, -1)} must be an object`];
  }
  const body = value as Record<string, unknown>;
  const { phone, ...rest } = body;
  const messages: string[] = [];
  if (phone === undefined || phone === null || phone === '') {
    messages.push(`${prefix}phone should not be empty`);
  } else if (!isPhone(phone)) {
    messages.push(`${prefix}phone must be a valid phone number`);
  }
  const checked = checkUpdate(rest);
  if (!checked.ok) messages.push(...checked.messages.map((message) => prefix + message));
  return messages;
}

function toCreate(body: Record<string, unknown>): ContactCreate {
  const { phone, ...rest } = body;
  const checked = checkUpdate(rest);
  if (!checked.ok) throw new TypeError('toCreate: body was not checked');
  return { ...checked.update, phone: phone as string };
}

/**
 * E.164 as the API shows phones, of a possible length for its country: the same bar
 * the tool's own phone check sets, so the fake does not refuse what the tool sends.
 */
function isPhone(value: unknown): value is string {
  if (typeof value !== 'string' || !E164.test(value)) return false;
  return parsePhoneNumberFromString(value)?.isPossible() === true;
}

function isEmail(value: unknown): value is string {
  return typeof value === 'string' && value.length <= EMAIL_MAX_LENGTH && EMAIL.test(value);
}

function isJsonMediaType(contentType: string | undefined): boolean {
  if (contentType === undefined) return false;
  const end = contentType.indexOf(';');
  const type = (end === -1 ? contentType : contentType.slice(0, end)).trim().toLowerCase();
  return type === 'application/json';
}

function firstNonSpace(text: string): number {
  let i = 0;
  while (
    i < text.length &&
    (text[i] === ' ' || text[i] === '\t' || text[i] === '\n' || text[i] === '\r')
  )
    i++;
  return i;
}
