/**
 * The cryptography of PSKC's protected values (RFC 6030 §6): block-cipher CBC as W3C XML
 * Encryption 1.0 §5.2.1 specifies it for aes128/192/256-cbc and tripledes-cbc, the AES key wrap
 * of §5.6.3 (kw-aes128/192/256, RFC 3394; RFC 5649's padded variant for keys that are not a
 * whole number of 8-byte blocks, such as a 20-byte HMAC-SHA1 secret, as python-pskc writes them),
 * the PBKDF2 key derivation of §6.2 (PKCS #5 v2.0, RFC 8018 §5.2) and the HMAC-SHA1 ValueMAC of
 * §6.1.1, over @noble/ciphers and @noble/hashes, and for TDEA the core's own des.ts (noble has
 * no DES). RFC 6030 §6.1 requires aes128-cbc, recommends kw-aes128 and allows the others.
 *
 * XML Encryption puts the IV in front of the ciphertext and pads with N bytes whose last one
 * is N; unlike PKCS #7 the other pad bytes may be anything (XML-Enc §5.2.1), so a reader only
 * checks the last one, and this writer fills them PKCS #7-style, which is one valid choice and
 * lets any PKCS #7 implementation (node:crypto, OpenSSL) decrypt what it writes.
 */
import { aeskw, aeskwp, cbc } from '@noble/ciphers/aes.js';
import { hmac } from '@noble/hashes/hmac.js';
import { sha1 } from '@noble/hashes/legacy.js';
import { pbkdf2 } from '@noble/hashes/pbkdf2.js';
import { sha256, sha512 } from '@noble/hashes/sha2.js';
import { createTdea } from './des.js';
import { KodeviserError } from './errors.js';

const XMLENC = 'http://www.w3.org/2001/04/xmlenc#';
const XMLDSIG = 'http://www.w3.org/2000/09/xmldsig#';
const XMLDSIG_MORE = 'http://www.w3.org/2001/04/xmldsig-more#';

/**
 * How a protected value is encrypted: CBC (confidentiality only: a ValueMAC must authenticate
 * it) or a key wrap (its own integrity check), and the key length in bytes.
 */
export interface ValueCipher {
  readonly kind: 'cbc' | 'tdea-cbc' | 'key-wrap';
  readonly keyBytes: number;
}

/** The XML-Enc EncryptionMethod URIs read, by what they are. */
export const VALUE_CIPHERS: ReadonlyMap<string, ValueCipher> = new Map<string, ValueCipher>([
  [`${XMLENC}aes128-cbc`, { kind: 'cbc', keyBytes: 16 }],
  [`${XMLENC}aes192-cbc`, { kind: 'cbc', keyBytes: 24 }],
  [`${XMLENC}aes256-cbc`, { kind: 'cbc', keyBytes: 32 }],
  [`${XMLENC}tripledes-cbc`, { kind: 'tdea-cbc', keyBytes: 24 }],
  [`${XMLENC}kw-aes128`, { kind: 'key-wrap', keyBytes: 16 }],
  [`${XMLENC}kw-aes192`, { kind: 'key-wrap', keyBytes: 24 }],
  [`${XMLENC}kw-aes256`, { kind: 'key-wrap', keyBytes: 32 }],
]);
/** The algorithms of VALUE_CIPHERS by their short names, for error messages. */
export const VALUE_CIPHER_NAMES = [...VALUE_CIPHERS.keys()].map((uri) => uri.slice(XMLENC.length)).join(', ');
/** The AES-CBC URIs by key length: what writePskc writes. */
export const CBC_KEY_BYTES: ReadonlyMap<string, number> = new Map(
  [...VALUE_CIPHERS].filter(([, c]) => c.kind === 'cbc').map(([uri, c]) => [uri, c.keyBytes]),
);
export const AES128_CBC = `${XMLENC}aes128-cbc`;

/** The only ValueMAC algorithm RFC 6030 §6.1.1 names. */
export const HMAC_SHA1 = `${XMLDSIG}hmac-sha1`;

/** PBKDF2's pseudo-random functions: HMAC-SHA1 is the PKCS #5 default when PRF names none. */
export const PBKDF2_PRFS: ReadonlyMap<string, typeof sha1> = new Map([
  [HMAC_SHA1, sha1],
  [`${XMLDSIG_MORE}hmac-sha256`, sha256],
  [`${XMLDSIG_MORE}hmac-sha512`, sha512],
]);
/** The same PRFs by their hash's name, as node:crypto and OpenSSL call it. */
export const PBKDF2_PRF_HASHES: ReadonlyMap<string, 'sha1' | 'sha256' | 'sha512'> = new Map([
  [HMAC_SHA1, 'sha1'],
  [`${XMLDSIG_MORE}hmac-sha256`, 'sha256'],
  [`${XMLDSIG_MORE}hmac-sha512`, 'sha512'],
]);

const BLOCK = 16;

/** IV ‖ AES-CBC(plaintext ‖ padding); `iv` one block of fresh randomness. */
export function encryptCbc(key: Uint8Array, iv: Uint8Array, plaintext: Uint8Array): Uint8Array {
  const ciphertext = cbc(key, iv).encrypt(plaintext);
  const out = new Uint8Array(BLOCK + ciphertext.length);
  out.set(iv);
  out.set(ciphertext, BLOCK);
  return out;
}

/** Inverse of encryptCbc. A wrong key mostly shows as bad padding; `what` names the value. */
export function decryptCbc(key: Uint8Array, data: Uint8Array, what: string): Uint8Array {
  checkCbcLength(data, BLOCK, what);
  return unpad(cbc(key, data.subarray(0, BLOCK), { disablePadding: true }).decrypt(data.subarray(BLOCK)), BLOCK, what);
}

/** A CipherValue of XML-Enc CBC: one IV and at least one whole block. */
function checkCbcLength(data: Uint8Array, block: number, what: string): void {
  if (data.length < 2 * block || data.length % block !== 0) {
    throw new KodeviserError(
      'ERR_PSKC_DECRYPT',
      `${what}: CipherValue must be ${block === 8 ? 'an' : 'a'} ${block}-byte IV and whole ${block}-byte blocks, got ${data.length} bytes`,
    );
  }
}

/** XML-Enc's padding: only the last byte, the pad's length, is checked (XML-Enc §5.2.1). */
function unpad(padded: Uint8Array, block: number, what: string): Uint8Array {
  const pad = padded[padded.length - 1] as number;
  if (pad < 1 || pad > block) {
    throw new KodeviserError('ERR_PSKC_DECRYPT', `${what}: decryption failed, bad padding (wrong key, or the value was altered)`);
  }
  return padded.slice(0, padded.length - pad);
}

/**
 * IV ‖ TDEA-CBC(plaintext ‖ padding) as XML-Enc §5.2.1 defines tripledes-cbc: an 8-byte IV and
 * block, the 24-byte key of three DES keys (keying option 1, or 2 with k3 = k1). Inverse of
 * nothing here: kodeviser writes AES-CBC, and reads this for the factories that still send it.
 */
export function decryptTdeaCbc(key: Uint8Array, data: Uint8Array, what: string): Uint8Array {
  const block = 8;
  checkCbcLength(data, block, what);
  const tdea = createTdea(key);
  const out = new Uint8Array(data.length - block);
  for (let at = block; at < data.length; at += block) {
    // A copy (a Buffer's slice would be a view, and the block is decrypted in place).
    const b = new Uint8Array(data.subarray(at, at + block));
    tdea.decryptBlock(b);
    for (let i = 0; i < block; i++) out[at - block + i] = (b[i] as number) ^ (data[at - block + i] as number);
  }
  return unpad(out, block, what);
}

/**
 * AES key unwrap: RFC 3394 (kw-aes*, a whole number of 8-byte blocks), or RFC 5649 when the
 * value was wrapped with padding. Each checks its own integrity value, so a wrong key or an
 * altered value fails both and nothing is returned.
 */
export function unwrapKey(key: Uint8Array, data: Uint8Array, what: string): Uint8Array {
  if (data.length < 16 || data.length % 8 !== 0) {
    throw new KodeviserError('ERR_PSKC_DECRYPT', `${what}: a wrapped key is whole 8-byte blocks, at least 16 bytes, got ${data.length}`);
  }
  for (const unwrap of [aeskw, aeskwp]) {
    try {
      return unwrap(key).decrypt(data);
    } catch {
      // the other layout, or a wrong key / altered value (then both fail)
    }
  }
  throw new KodeviserError('ERR_PSKC_DECRYPT', `${what}: key unwrap failed, integrity check (wrong key, or the value was altered)`);
}

/** Decrypts a CipherValue as `cipher` says. */
export function decryptValue(cipher: ValueCipher, key: Uint8Array, data: Uint8Array, what: string): Uint8Array {
  if (cipher.kind === 'cbc') return decryptCbc(key, data, what);
  if (cipher.kind === 'tdea-cbc') return decryptTdeaCbc(key, data, what);
  return unwrapKey(key, data, what);
}

export function valueMac(macKey: Uint8Array, cipherValue: Uint8Array): Uint8Array {
  return hmac(sha1, macKey, cipherValue);
}

export function deriveKey(password: string, salt: Uint8Array, iterations: number, keyBytes: number, prf: typeof sha1): Uint8Array {
  return pbkdf2(prf, password, salt, { c: iterations, dkLen: keyBytes });
}
