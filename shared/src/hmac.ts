/**
 * HMAC (RFC 2104, FIPS 198-1) with SHA-1, SHA-256 and SHA-512 (FIPS 180-4), over
 * @noble/hashes. An OTP MACs an 8-byte counter, so the two key-dependent compressions (the
 * ipad and opad blocks) are most of the work; createHmac runs them once per key and clones the
 * keyed state per message, the "precomputed inner/outer state" of RFC 2104 §4.
 */
import { hmac } from '@noble/hashes/hmac.js';
import { sha1 } from '@noble/hashes/legacy.js';
import { sha256, sha512 } from '@noble/hashes/sha2.js';
import { requireBytes } from './bytes.js';
import { KodeviserError } from './errors.js';

export type HashName = 'sha1' | 'sha256' | 'sha512';

const HASHES = { sha1, sha256, sha512 } as const;

export interface Hmac {
  readonly hash: HashName;
  /** 20, 32 or 64. */
  readonly outputBytes: number;
  mac(message: Uint8Array): Uint8Array;
}

export function createHmac(hash: HashName, key: Uint8Array): Hmac {
  const fn = Object.hasOwn(HASHES, hash) ? HASHES[hash] : undefined;
  if (fn === undefined) throw new KodeviserError('ERR_ARGUMENT', `hash must be sha1, sha256 or sha512, got ${String(hash)}`);
  requireBytes(key, 'key');
  const keyed = hmac.create(fn, key);
  return {
    hash,
    outputBytes: fn.outputLen,
    mac: (message) => keyed.clone().update(requireBytes(message, 'message')).digest(),
  };
}
