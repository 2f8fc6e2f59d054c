/**
 * The OpenID provider's own keys, not the receipts': an RS256 key (what OpenID Connect requires an
 * ID token be signable with by default) and an Ed25519 key (EdDSA, offered), made at the first
 * start as private JWKs and kept in the database sealed under the master key, so every instance
 * over it signs with the same set. The provider's cookies are signed under a key derived from the
 * master key (HKDF-SHA-256, RFC 5869), the same on every instance.
 */
import { hkdfSync } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from 'jose';
import { storedSecret, type SeedVault } from '../security/seed-vault.js';
import type { TokenStore } from '../store/types.js';

export const OIDC_KEYS_SECRET = 'oidc-signing-keys';

async function makeKeys(): Promise<Uint8Array> {
  const keys: JWK[] = [];
  for (const [alg, options] of [
    ['RS256', { modulusLength: 2048 }],
    ['EdDSA', { crv: 'Ed25519' }],
  ] as const) {
    const { privateKey } = await generateKeyPair(alg, { ...options, extractable: true });
    const jwk = await exportJWK(privateKey);
    keys.push({ ...jwk, alg, use: 'sig', kid: await calculateJwkThumbprint(jwk) });
  }
  return new TextEncoder().encode(JSON.stringify(keys));
}

/** The provider's signing keys (private JWKs, RS256 first), made and stored at the first call. */
export async function oidcSigningKeys(store: TokenStore, vault: SeedVault): Promise<JWK[]> {
  const bytes = await storedSecret(store, vault, OIDC_KEYS_SECRET, makeKeys);
  return JSON.parse(new TextDecoder().decode(bytes)) as JWK[];
}

/** The key the provider's cookies are signed under (keygrip). */
export function oidcCookieKey(masterKey: Uint8Array): string {
  return Buffer.from(hkdfSync('sha256', masterKey, new Uint8Array(0), 'kodeviser oidc cookies v1', 32)).toString('base64url');
}
