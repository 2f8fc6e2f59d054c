/**
 * An Ed25519 key pair (RFC 8032) from a 32-byte seed, as node:crypto holds it, with its public JWK
 * and that JWK's thumbprint (RFC 7638) as its kid: what the audit checkpoints and the receipts
 * both sign with, each from a seed of its own.
 */
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, type JWK } from 'jose';

// An Ed25519 private key's PKCS #8 encoding is this prefix and the 32-byte seed (RFC 8410 §7).
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

export interface Ed25519Key {
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** The public key as a JWK (kty OKP, crv Ed25519, x). */
  jwk: JWK;
  /** Its JWK thumbprint. */
  kid: string;
}

export async function ed25519FromSeed(seed: Uint8Array): Promise<Ed25519Key> {
  if (seed.length !== 32) throw new RangeError(`seed must be 32 bytes, got ${seed.length}`);
  const privateKey = createPrivateKey({ key: Buffer.concat([ED25519_PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
  const publicKey = createPublicKey(privateKey);
  const jwk = await exportJWK(publicKey);
  return { privateKey, publicKey, jwk, kid: await calculateJwkThumbprint(jwk) };
}
