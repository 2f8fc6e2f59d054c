/**
 * The OpenID provider's entries (types.ts OidcStore) as both stores keep them: one table,
 * oidc_entries, the same columns in SQLite and PostgreSQL (sqlite-oidc.ts, postgres-oidc.ts).
 *
 * Keys are opaque strings, kept as given and refused never, though a client's id arrives from the
 * request (oidc-provider looks a client_id up as sent). PostgreSQL's text cannot hold U+0000 (it
 * rejects the statement), and both drivers send strings as UTF-8, in which a lone surrogate
 * becomes U+FFFD (so '\ud800' and '\udbff' would be one key). Such a string is stored escaped:
 * ESCAPED and then its UTF-16 code units in hex, as is any string that starts with ESCAPED
 * itself, so no two strings are ever stored alike; every other string is stored as it is (what an
 * operator sees in the table). The payload is JSON text, in which JSON.stringify escapes both.
 */
import type { OidcEntry } from './types.js';

/** U+FFFF, a noncharacter: valid UTF-8, which both databases store as it is; no id begins with it in practice. */
const ESCAPED = '\uffff';
/** What neither database keeps as it is: U+0000, or a surrogate without its other half. */
const UNSTORABLE = /[\0\p{Cs}]/u;

/** `key` as stored: itself, or escaped when a database could not keep it exactly. */
export function storedKey(key: string): string {
  if (!UNSTORABLE.test(key) && !key.startsWith(ESCAPED)) return key;
  let out = ESCAPED;
  for (let i = 0; i < key.length; i++) out += key.charCodeAt(i).toString(16).padStart(4, '0');
  return out;
}

/** The key a stored one stands for (storedKey's inverse). */
export function keyOf(stored: string): string {
  if (!stored.startsWith(ESCAPED)) return stored;
  let out = '';
  for (let i = ESCAPED.length; i < stored.length; i += 4) out += String.fromCharCode(parseInt(stored.slice(i, i + 4), 16));
  return out;
}

/** The payload fields kept in columns of their own, indexed, when they are strings. */
export const INDEXED_FIELDS = { grantId: 'grant_id', uid: 'uid', userCode: 'user_code' } as const;

/** payload[field] as stored in its column, or null when it is no string. */
export function indexedValue(payload: Record<string, unknown>, field: keyof typeof INDEXED_FIELDS): string | null {
  const v = payload[field];
  return typeof v === 'string' ? storedKey(v) : null;
}

/** The values of an upsert, in the order of its columns: model, id, payload, grant_id, uid, user_code, expires_at. */
export function oidcValues(
  model: string,
  id: string,
  payload: Record<string, unknown>,
  expiresAt: number | null,
): [string, string, string, string | null, string | null, string | null, number | null] {
  return [
    storedKey(model),
    storedKey(id),
    JSON.stringify(payload),
    indexedValue(payload, 'grantId'),
    indexedValue(payload, 'uid'),
    indexedValue(payload, 'userCode'),
    expiresAt,
  ];
}

/** What a read selects. */
export const OIDC_ENTRY_COLUMNS = 'id, payload, expires_at, consumed_at';

export interface OidcRow {
  id: string;
  payload: string;
  expires_at: number | null;
  consumed_at: number | null;
}

export const oidcEntryOf = (r: OidcRow | undefined): OidcEntry | null =>
  r === undefined
    ? null
    : { payload: JSON.parse(r.payload) as Record<string, unknown>, expiresAt: r.expires_at, consumedAt: r.consumed_at };

export const oidcListed = (r: OidcRow): { id: string } & OidcEntry => ({ id: keyOf(r.id), ...(oidcEntryOf(r) as OidcEntry) });

/** Rows one sweep deletes per transaction at most, so that the writes of others wait for one of them at most. */
export const OIDC_SWEEP_CHUNK = 5000;
