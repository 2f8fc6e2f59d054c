/**
 * The rows both stores read as objects (credentials, users, sealed secrets; the tokens' hot reads
 * are each store's own), the same columns in SQLite and PostgreSQL, and their mapping to records.
 */
import type { CredentialRecord, CredentialRole } from '../domain/credentials.js';
import type { ProofRecord } from '../domain/identity.js';
import type { OrderRecord, OrderStatus, PostalAddress } from '../domain/orders.js';
import type { ProfileName } from '@kodeviser/shared';
import type { TokenStatus } from '../domain/types.js';
import type { SealedSeed, UserHistory, UserRecord } from './types.js';
import { EMPTY_SNAPSHOT, type Snapshot } from '../domain/decide.js';

/** A snapshot's rows beside its tokens, which each adapter reads its own way. */
export type OtherRows = Omit<Snapshot, 'token' | 'tokenOwner' | 'tokenEnded' | 'userToken'>;
/** Those of a key that names only tokens (every validation): none. */
export const NOTHING_ELSE: OtherRows = (({ token: _t, tokenOwner: _o, tokenEnded: _e, userToken: _u, ...others }: Snapshot) =>
  Object.freeze(others))(EMPTY_SNAPSHOT);

export const CREDENTIAL_COLUMNS = 'id, role, name, token_hash, created_at, expires_at, revoked_at, serial_from, serial_to';

export interface CredentialRow {
  id: string;
  role: CredentialRole;
  name: string;
  token_hash: string;
  created_at: number;
  expires_at: number | null;
  revoked_at: number | null;
  serial_from: string | null;
  serial_to: string | null;
}

/** A credential's values in CREDENTIAL_COLUMNS' order, for an INSERT. */
export const credentialValues = (c: CredentialRecord): unknown[] => [
  c.id,
  c.role,
  c.name,
  c.tokenHash,
  c.createdAt,
  c.expiresAt,
  c.revokedAt,
  c.serials?.from ?? null,
  c.serials?.to ?? null,
];

export const credentialOf = (r: CredentialRow | undefined): CredentialRecord | null =>
  r === undefined
    ? null
    : {
        id: r.id,
        role: r.role,
        name: r.name,
        tokenHash: r.token_hash,
        createdAt: r.created_at,
        expiresAt: r.expires_at,
        revokedAt: r.revoked_at,
        serials: r.serial_from === null || r.serial_to === null ? null : { from: r.serial_from, to: r.serial_to },
      };

export const USER_COLUMNS = 'user_id, password_hash, identity_hash, guess_window_start, guess_count';

export interface UserRow {
  user_id: string;
  password_hash: string | null;
  identity_hash: string | null;
  guess_window_start: number | null;
  guess_count: number | null;
}

export const userOf = (r: UserRow | undefined): UserRecord | null =>
  r === undefined
    ? null
    : {
        userId: r.user_id,
        passwordHash: r.password_hash,
        identityHash: r.identity_hash,
        guesses: r.guess_window_start === null ? null : { windowStart: r.guess_window_start, count: r.guess_count ?? 0 },
      };

export interface SecretRow {
  ciphertext: Buffer;
  nonce: Buffer;
  key_version: number;
}

const bytes = (b: Buffer): Uint8Array => new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
export const secretOf = (r: SecretRow | undefined): SealedSeed | null =>
  r === undefined ? null : { ciphertext: bytes(r.ciphertext), nonce: bytes(r.nonce), keyVersion: r.key_version };

export const PROOF_COLUMNS = 'id_hash, user_id, document_hash, actor, created_at, expires_at, used_at';

export interface ProofRow {
  id_hash: string;
  user_id: string;
  document_hash: string | null;
  actor: string;
  created_at: number;
  expires_at: number;
  used_at: number | null;
}
/** A proof's values in PROOF_COLUMNS' order, for an INSERT. */
export const proofValues = (p: ProofRecord): unknown[] => [p.idHash, p.userId, p.documentHash, p.actor, p.createdAt, p.expiresAt, p.usedAt];

export const proofOf = (r: ProofRow | undefined): ProofRecord | null =>
  r === undefined
    ? null
    : {
        idHash: r.id_hash,
        userId: r.user_id,
        documentHash: r.document_hash,
        actor: r.actor,
        createdAt: r.created_at,
        expiresAt: r.expires_at,
        usedAt: r.used_at,
      };

export const ORDER_COLUMNS = `id, tracking_hash, user_id, status, price_ore, delivery_method, address, centre, created_at,
  updated_at, expected_earliest, expected_latest, payment_reference, serial`;

export interface OrderRow {
  id: string;
  tracking_hash: string;
  user_id: string | null;
  status: OrderStatus;
  price_ore: number;
  delivery_method: 'post' | 'pickup';
  /** The postal address as JSON text (post); null for pickup. */
  address: string | null;
  /** The pickup centre; null for post. */
  centre: string | null;
  created_at: number;
  updated_at: number;
  expected_earliest: string;
  expected_latest: string;
  payment_reference: string | null;
  serial: string | null;
}

/** An order's values in ORDER_COLUMNS' order, for an INSERT. */
export const orderValues = (o: OrderRecord): unknown[] => [
  o.id,
  o.trackingHash,
  o.userId,
  o.status,
  o.priceOre,
  o.delivery.method,
  o.delivery.method === 'post' ? JSON.stringify(o.delivery.address) : null,
  o.delivery.method === 'pickup' ? o.delivery.centre : null,
  o.createdAt,
  o.updatedAt,
  o.expectedBy.earliest,
  o.expectedBy.latest,
  o.paymentReference,
  o.serial,
];

export const orderOf = (r: OrderRow | undefined): OrderRecord | null =>
  r === undefined
    ? null
    : {
        id: r.id,
        trackingHash: r.tracking_hash,
        userId: r.user_id,
        status: r.status,
        priceOre: r.price_ore,
        delivery:
          r.delivery_method === 'post'
            ? { method: 'post', address: JSON.parse(r.address ?? '{}') as PostalAddress }
            : { method: 'pickup', centre: r.centre ?? '' },
        createdAt: r.created_at,
        updatedAt: r.updated_at,
        expectedBy: { earliest: r.expected_earliest, latest: r.expected_latest },
        paymentReference: r.payment_reference,
        serial: r.serial,
      };

/** Orders listed at most per request. */
export const MAX_ORDER_LIMIT = 1000;

/** A user and its devices, from one row per assignment (the user's columns repeated; none for a user without any). */
export const USER_HISTORY_SQL = (
  param: string,
) => `SELECT u.user_id, u.created_at, u.updated_at, u.identity_hash IS NOT NULL AS identity_linked,
    a.serial, t.profile, t.status, a.activated_at, a.deactivated_at, a.replaced_by, t.last_used_at
  FROM users u LEFT JOIN assignments a ON a.user_id = u.user_id LEFT JOIN tokens t ON t.serial = a.serial
  WHERE u.user_id = ${param} ORDER BY a.activated_at, a.serial`;

export interface UserHistoryRow {
  user_id: string;
  created_at: number | null;
  updated_at: number;
  identity_linked: boolean | number;
  serial: string | null;
  profile: string | null;
  status: TokenStatus | null;
  activated_at: number | null;
  deactivated_at: number | null;
  replaced_by: string | null;
  last_used_at: number | null;
}

export function userHistoryOf(rows: readonly UserHistoryRow[]): UserHistory | null {
  const [first] = rows;
  if (first === undefined) return null;
  return {
    userId: first.user_id,
    createdAt: first.created_at ?? first.updated_at,
    identityLinked: Boolean(first.identity_linked),
    devices: rows
      .filter((r) => r.serial !== null)
      .map((r) => ({
        serial: r.serial as string,
        profile: r.profile as ProfileName,
        status: r.status as TokenStatus,
        activatedAt: r.activated_at as number,
        deactivatedAt: r.deactivated_at,
        replacedBy: r.replaced_by,
        lastUsedAt: r.last_used_at,
      })),
  };
}
