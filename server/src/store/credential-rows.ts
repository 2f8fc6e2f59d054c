/** A credential's row, the same in SQLite and PostgreSQL, and its mapping to the domain's record. */
import type { CredentialRecord, CredentialRole } from '../domain/credentials.js';

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
