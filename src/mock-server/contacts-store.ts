/**
 * Which contacts exist, and their current state. Contacts are created lazily on first
 * touch so `ids: 1_000_000` costs nothing until used, while ids outside the set still 404.
 * Contacts made through POST get new ids, never one of the existing set.
 */
import { IdRange } from './ids-spec.js';
import type { Contact, DuplicatePhone } from './types.js';
import type { ContactCreate, ContactUpdate } from './validate-body.js';

/**
 * First id given to a created contact when every id already "exists" (`ids: 'any'`):
 * far above the ids tests and benchmarks use, so the two never meet.
 */
const FIRST_CREATED_ID_WITH_ANY = 1_000_000_001;

/** Fixed so answers are reproducible; only `updated` moves. */
const CREATED_ISO = '2024-01-01T00:00:00.000Z';

export class ContactsStore {
  readonly contacts = new Map<string, Contact>();
  readonly #exists: (id: string) => boolean;
  /** Ids of the contacts held, by phone: what duplicatePhones() reads. */
  readonly #byPhone = new Map<string, string[]>();
  /** Ids made through POST, in creation order. */
  readonly #created = new Set<string>();
  #nextId: number;
  /** With `ids: 'any'` every id "exists", so only the contacts held can be in the way. */
  readonly #existsInSet: (id: string) => boolean;

  constructor(ids: Iterable<string> | number | 'any') {
    this.#exists = existenceCheck(ids);
    this.#existsInSet = ids === 'any' ? () => false : this.#exists;
    this.#nextId = firstCreatedId(ids);
  }

  /** How many contacts POSTs made. */
  get createdCount(): number {
    return this.#created.size;
  }

  /**
   * Create a contact with a new id: numeric, above every numeric id of the existing set
   * and of the contacts held, so it never names a contact that already exists.
   */
  create(fields: ContactCreate): Contact {
    let id = String(this.#nextId++);
    while (this.contacts.has(id) || this.#existsInSet(id)) id = String(this.#nextId++);
    const now = new Date().toISOString();
    const contact: Contact = {
      ...newContact(id),
      name: fields.name ?? null,
      phone: fields.phone,
      email: fields.email ?? null,
      public: fields.public ?? false,
      data: fields.data ?? {},
      created: now,
      updated: now,
    };
    this.#hold(contact);
    this.#created.add(id);
    return contact;
  }

  /**
   * Phones held by more than one contact, where at least one of them was made through
   * POST. Pairs of untouched seed contacts are left out: their made-up phones come from
   * a hash of the id and can collide by chance, which says nothing about the client.
   */
  duplicatePhones(): DuplicatePhone[] {
    const found: DuplicatePhone[] = [];
    const reported = new Set<string>();
    for (const id of this.#created) {
      const phone = this.contacts.get(id)?.phone;
      if (phone === undefined || reported.has(phone)) continue;
      const ids = this.#byPhone.get(phone) ?? [];
      if (ids.length > 1) {
        found.push({ phone, ids: [...ids] });
        reported.add(phone);
      }
    }
    return found;
  }

  #hold(contact: Contact): void {
    this.contacts.set(contact.id, contact);
    const ids = this.#byPhone.get(contact.phone);
    if (ids === undefined) this.#byPhone.set(contact.phone, [contact.id]);
    else ids.push(contact.id);
  }

  /** The contact, created on first touch; undefined when the id does not exist. */
  get(id: string): Contact | undefined {
    const found = this.contacts.get(id);
    if (found !== undefined) return found;
    if (!this.#exists(id)) return undefined;
    const contact = newContact(id);
    this.#hold(contact);
    return contact;
  }

  /** Apply an update: given fields replace stored ones (`data` as a whole). */
  update(id: string, update: ContactUpdate): Contact | undefined {
    const contact = this.get(id);
    if (contact === undefined) return undefined;
    if (update.name !== undefined) contact.name = update.name;
    if (update.email !== undefined) contact.email = update.email;
    if (update.public !== undefined) contact.public = update.public;
    if (update.data !== undefined) contact.data = update.data;
    // Two updates in the same millisecond must still be told apart by `updated`.
    const previousMs = Date.parse(contact.updated);
    contact.updated = new Date(Math.max(Date.now(), previousMs + 1)).toISOString();
    return contact;
  }
}

function existenceCheck(ids: Iterable<string> | number | 'any'): (id: string) => boolean {
  if (ids === 'any') return () => true;
  // A range is checked arithmetically: a million ids must not become a million-entry Set.
  if (ids instanceof IdRange) return (id) => ids.has(id);
  if (typeof ids === 'number') {
    if (ids === 0) return () => false;
    const range = new IdRange(1, ids);
    return (id) => range.has(id);
  }
  const set = new Set(ids);
  return (id) => set.has(id);
}

/** Where created ids start: above the numeric ids of the existing set. */
function firstCreatedId(ids: Iterable<string> | number | 'any'): number {
  if (ids === 'any') return FIRST_CREATED_ID_WITH_ANY;
  if (typeof ids === 'number') return ids + 1;
  if (ids instanceof IdRange) return ids.last + 1;
  let max = 0;
  for (const id of ids) {
    const n = Number(id);
    if (Number.isSafeInteger(n) && n > max) max = n;
  }
  return max + 1;
}

function newContact(id: string): Contact {
  return {
    id,
    teamId: '1',
    createdByUserId: '1',
    name: `Contact ${id}`,
    phone: phoneFor(id),
    email: null,
    externalId: null,
    optOut: false,
    avatarURL: null,
    public: false,
    data: {},
    attributes: [],
    created: CREATED_ISO,
    updated: CREATED_ISO,
  };
}

/** A stable, plausible E.164 number derived from the id (FNV-1a), in the 555 range. */
function phoneFor(id: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) {
    hash ^= id.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  const digits = String((hash >>> 0) % 10_000_000).padStart(7, '0');
  return `+1555${digits}`;
}
