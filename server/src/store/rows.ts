/**
 * The rows both stores read as objects (credentials, users, sealed secrets; the tokens' hot reads
 * are each store's own), the same columns in SQLite and PostgreSQL, and their mapping to records.
 */
import type { CredentialRecord, CredentialRole } from '../domain/credentials.js';
import type { ProofRecord } from '../domain/identity.js';
import type { SealedSeed, UserRecord } from './types.js';

export const CREDENTIAL_COLUMNS = 'id, role, name, token_hash, created_at, expires_at, revoked_at';

export interface CredentialRow {
  id: string;
  role: CredentialRole;
  name: string;
  token_hash: string;
  created_at: number;
  expires_at: number | null;
  revoked_at: number | null;
}

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
      };

export const USER_COLUMNS = 'user_id, password_hash, identity_hash';

export interface UserRow {
  user_id: string;
  password_hash: string | null;
  identity_hash: string | null;
}

export const userOf = (r: UserRow | undefined): UserRecord | null =>
  r === undefined ? null : { userId: r.user_id, passwordHash: r.password_hash, identityHash: r.identity_hash };

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
