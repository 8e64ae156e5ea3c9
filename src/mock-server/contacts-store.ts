/**
 * Which contacts exist, and their current state. Contacts are created lazily on first
 * touch so `ids: 1_000_000` costs nothing until used, while ids outside the set still 404.
 */
import { IdRange } from './ids-spec.js';
import type { Contact } from './types.js';
import type { ContactUpdate } from './validate-body.js';

/** Fixed so answers are reproducible; only `updated` moves. */
const CREATED_ISO = '2024-01-01T00:00:00.000Z';

export class ContactsStore {
  readonly contacts = new Map<string, Contact>();
  readonly #exists: (id: string) => boolean;

  constructor(ids: Iterable<string> | number | 'any') {
    this.#exists = existenceCheck(ids);
  }

  /** The contact, created on first touch; undefined when the id does not exist. */
  get(id: string): Contact | undefined {
    const found = this.contacts.get(id);
    if (found !== undefined) return found;
    if (!this.#exists(id)) return undefined;
    const contact = newContact(id);
    this.contacts.set(id, contact);
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
