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
 * The cipher is the core's keyed GCM (shared/src/gcm.ts) over OpenSSL's AES: the key schedule
 * and GHASH table are made once per master key. Opening a seed is on the path of every
 * validation whose token is not in the service's Otp cache, which with a million tokens is nearly
 * all of them: node:crypto's createDecipheriv took ~9 µs an open here, nearly all of it making a
 * native cipher object and setting its key up again, and noble's one-shot gcm ~65 µs, nearly all
 * of it rebuilding the GHASH table. The records are plain AES-256-GCM: the tests open them with
 * noble's gcm and seal with node:crypto's to prove it.
 */
import { createCipheriv, randomBytes as cryptoRandomBytes } from 'node:crypto';
import { createGcm, GCM_NONCE_BYTES, KodeviserError, requireBytes } from '@kodeviser/shared';
import { ServiceError } from '../domain/errors.js';
import type { SealedSeed, TokenStore } from '../store/types.js';

const AAD_PREFIX = 'kodeviser-seed:v1:';
const encoder = new TextEncoder();
const PREFIX_BYTES = encoder.encode(AAD_PREFIX);

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
  // AES-256 from OpenSSL (AES-NI, no lookup tables) as one long-lived ECB stream: each update()
  // encrypts whole blocks independently and the object keeps only the key schedule, so it serves
  // every message; final() is never called. It holds its own copy of the key, so the caller may
  // wipe or reuse its buffer.
  const ecb = createCipheriv('aes-256-ecb', masterKey, null);
  ecb.setAutoPadding(false);
  const gcm = createGcm((blocks) => ecb.update(blocks));
  // The AAD, byte by byte for an ASCII serial (every serial format is): TextEncoder's native call
  // and the ArrayBuffer it makes cost more than the rest of opening a seed.
  const aad = (serial: string): Uint8Array => {
    const bytes = new Uint8Array(PREFIX_BYTES.length + serial.length);
    bytes.set(PREFIX_BYTES);
    for (let i = 0; i < serial.length; i++) {
      const c = serial.charCodeAt(i);
      if (c > 0x7f) return encoder.encode(AAD_PREFIX + serial);
      bytes[PREFIX_BYTES.length + i] = c;
    }
    return bytes;
  };

  return Object.freeze({
    keyVersion,
    seal(serial: string, seed: Uint8Array): SealedSeed {
      requireBytes(seed, 'seed');
      const nonce = random(GCM_NONCE_BYTES);
      // ciphertext ‖ tag, the layout of RFC 5116, noble's gcm and node:crypto's.
      return { ciphertext: gcm.seal(nonce, seed, aad(serial)), nonce, keyVersion };
    },
    open(serial: string, sealed: SealedSeed): Uint8Array {
      if (sealed.keyVersion !== keyVersion) {
        throw new ServiceError(
          'ERR_SEED',
          `seed of ${serial} is sealed under master key version ${sealed.keyVersion}, this server has ${keyVersion}`,
          serial,
        );
      }
      const { ciphertext, nonce } = sealed;
      const seed = nonce.length === GCM_NONCE_BYTES ? gcm.open(nonce, ciphertext, aad(serial)) : null;
      // Deliberately no detail: wrong key, wrong serial and tampering look the same to GCM.
      if (seed === null) throw new ServiceError('ERR_SEED', `seed of ${serial} does not authenticate under the master key`, serial);
      return seed;
    },
  });
}

/**
 * The secret stored as `name` (sealed under the master key), opened; made by `make` (default: 32
 * random bytes) and stored first if there is none yet. An attempt, so of two servers making it at
 * once, one stores its own and the other gets that one.
 */
export async function storedSecret(
  store: TokenStore,
  vault: SeedVault,
  name: string,
  make: () => Uint8Array | Promise<Uint8Array> = () => new Uint8Array(cryptoRandomBytes(32)),
): Promise<Uint8Array> {
  // Looked for first, so that a secret costly to make (a signing key pair) is made only once.
  const kept = (await store.snapshot({ secretName: name })).secret;
  if (kept !== null) return vault.open(name, kept);
  const made = vault.seal(name, await make());
  const sealed = await store.attempt({ secretName: name }, ({ secret }) =>
    secret !== null ? { result: secret, writes: [] } : { result: made, writes: [{ kind: 'create-secret', name, sealed: made }] },
  );
  return vault.open(name, sealed);
}
