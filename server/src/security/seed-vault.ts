/**
 * Seeds at rest: AES-256-GCM (NIST SP 800-38D) under the server's master key, one fresh 12-byte
 * random nonce per record (96-bit nonces are the size GCM is specified for; random nonces stay far
 * below the 2^32-encryptions-per-key bound of SP 800-38D §8.3 for any token population), and the
 * serial bound in as associated data, so a ciphertext copied onto another token's row fails to
 * open instead of silently giving that token a known seed. A stolen database alone reveals no seed.
 *
 * `keyVersion` names the master key a record was sealed under, so a later rotation can tell old
 * records from new ones; this vault opens only its own version.
 *
 * The cipher is node:crypto's (OpenSSL) rather than @noble/ciphers' gcm: opening a seed is on the
 * path of every validation whose token is not in the Otp cache, which with a million tokens is
 * most of them, and OpenSSL opens one in ~14 µs where noble's pure-JS GCM (which expands the AES
 * key again on every call) takes ~65 µs. The records are plain GCM either way: the tests open
 * them with noble's gcm to prove it.
 */
import { createCipheriv, createDecipheriv, randomBytes as cryptoRandomBytes } from 'node:crypto';
import { KodeviserError, requireBytes } from '@kodeviser/shared';
import { ServiceError } from '../domain/errors.js';
import type { SealedSeed } from '../store/types.js';

const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const AAD_PREFIX = 'kodeviser-seed:v1:';
const encoder = new TextEncoder();

export interface SeedVault {
  readonly keyVersion: number;
  seal(serial: string, seed: Uint8Array): SealedSeed;
  /** Throws ServiceError ERR_SEED when the record was sealed under another key, for another serial, or was altered. */
  open(serial: string, sealed: SealedSeed): Uint8Array;
}

export interface SeedVaultOptions {
  /** 32 bytes. */
  masterKey: Uint8Array;
  /** Default 1. */
  keyVersion?: number;
  /** Injected for tests; default node:crypto's CSPRNG. */
  randomBytes?: (n: number) => Uint8Array;
}

export function createSeedVault(opts: SeedVaultOptions): SeedVault {
  const masterKey = requireBytes(opts.masterKey, 'masterKey');
  if (masterKey.length !== 32) {
    throw new KodeviserError('ERR_KEY_LENGTH', `masterKey must be 32 bytes for AES-256-GCM, got ${masterKey.length}`);
  }
  const keyVersion = opts.keyVersion ?? 1;
  if (!Number.isSafeInteger(keyVersion) || keyVersion < 1) {
    throw new KodeviserError('ERR_ARGUMENT', `keyVersion must be a positive integer, got ${String(keyVersion)}`);
  }
  const random = opts.randomBytes ?? ((n: number) => new Uint8Array(cryptoRandomBytes(n)));
  // A private copy: the caller may wipe or reuse its buffer.
  const key = Uint8Array.from(masterKey);
  const aad = (serial: string) => encoder.encode(AAD_PREFIX + serial);

  return Object.freeze({
    keyVersion,
    seal(serial: string, seed: Uint8Array): SealedSeed {
      requireBytes(seed, 'seed');
      const nonce = random(NONCE_BYTES);
      const cipher = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
      cipher.setAAD(aad(serial));
      // ciphertext ‖ tag, the layout of RFC 5116 and of noble's gcm.
      const ciphertext = Buffer.concat([cipher.update(seed), cipher.final(), cipher.getAuthTag()]);
      // A copy: small Buffers are slices of a shared pool, which no store should be handed.
      return { ciphertext: new Uint8Array(ciphertext), nonce, keyVersion };
    },
    open(serial: string, sealed: SealedSeed): Uint8Array {
      if (sealed.keyVersion !== keyVersion) {
        throw new ServiceError('ERR_SEED', `seed of ${serial} is sealed under master key version ${sealed.keyVersion}, this server has ${keyVersion}`, serial);
      }
      try {
        const { ciphertext, nonce } = sealed;
        if (ciphertext.length < TAG_BYTES || nonce.length !== NONCE_BYTES) throw new Error('malformed');
        const decipher = createDecipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
        decipher.setAAD(aad(serial));
        decipher.setAuthTag(ciphertext.subarray(ciphertext.length - TAG_BYTES));
        const seed = Buffer.concat([decipher.update(ciphertext.subarray(0, ciphertext.length - TAG_BYTES)), decipher.final()]);
        return new Uint8Array(seed.buffer, seed.byteOffset, seed.byteLength);
      } catch {
        // Deliberately no detail: wrong key, wrong serial and tampering look the same to GCM.
        throw new ServiceError('ERR_SEED', `seed of ${serial} does not authenticate under the master key`, serial);
      }
    },
  });
}
