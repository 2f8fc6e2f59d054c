/**
 * The cryptography of PSKC's protected values (RFC 6030 §6): block-cipher CBC as W3C XML
 * Encryption 1.0 §5.2.1 specifies it for aes128/192/256-cbc, the PBKDF2 key derivation of
 * §6.2 (PKCS #5 v2.0, RFC 8018 §5.2) and the HMAC-SHA1 ValueMAC of §6.1.1, all over
 * @noble/ciphers and @noble/hashes.
 *
 * XML Encryption puts the IV in front of the ciphertext and pads with N bytes whose last one
 * is N; unlike PKCS #7 the other pad bytes may be anything (XML-Enc §5.2.1), so a reader only
 * checks the last one, and this writer fills them PKCS #7-style, which is one valid choice and
 * lets any PKCS #7 implementation (node:crypto, OpenSSL) decrypt what it writes.
 */
import { cbc } from '@noble/ciphers/aes.js';
import { hmac } from '@noble/hashes/hmac.js';
import { sha1 } from '@noble/hashes/legacy.js';
import { pbkdf2 } from '@noble/hashes/pbkdf2.js';
import { sha256, sha512 } from '@noble/hashes/sha2.js';
import { KodeviserError } from './errors.js';

const XMLENC = 'http://www.w3.org/2001/04/xmlenc#';
const XMLDSIG = 'http://www.w3.org/2000/09/xmldsig#';
const XMLDSIG_MORE = 'http://www.w3.org/2001/04/xmldsig-more#';

/** XML-Enc block encryption algorithm URIs and their key lengths in bytes. */
export const CBC_KEY_BYTES: ReadonlyMap<string, number> = new Map([
  [`${XMLENC}aes128-cbc`, 16],
  [`${XMLENC}aes192-cbc`, 24],
  [`${XMLENC}aes256-cbc`, 32],
]);
export const AES128_CBC = `${XMLENC}aes128-cbc`;

/** The only ValueMAC algorithm RFC 6030 §6.1.1 names. */
export const HMAC_SHA1 = `${XMLDSIG}hmac-sha1`;

/** PBKDF2's pseudo-random functions: HMAC-SHA1 is the PKCS #5 default when PRF names none. */
export const PBKDF2_PRFS: ReadonlyMap<string, typeof sha1> = new Map([
  [HMAC_SHA1, sha1],
  [`${XMLDSIG_MORE}hmac-sha256`, sha256],
  [`${XMLDSIG_MORE}hmac-sha512`, sha512],
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
  if (data.length < 2 * BLOCK || data.length % BLOCK !== 0) {
    throw new KodeviserError('ERR_PSKC_DECRYPT', `${what}: CipherValue must be a 16-byte IV and whole 16-byte blocks, got ${data.length} bytes`);
  }
  const padded = cbc(key, data.subarray(0, BLOCK), { disablePadding: true }).decrypt(data.subarray(BLOCK));
  const pad = padded[padded.length - 1] as number;
  if (pad < 1 || pad > BLOCK) {
    throw new KodeviserError('ERR_PSKC_DECRYPT', `${what}: decryption failed, bad padding (wrong key, or the value was altered)`);
  }
  return padded.slice(0, padded.length - pad);
}

export function valueMac(macKey: Uint8Array, cipherValue: Uint8Array): Uint8Array {
  return hmac(sha1, macKey, cipherValue);
}

export function deriveKey(password: string, salt: Uint8Array, iterations: number, keyBytes: number, prf: typeof sha1): Uint8Array {
  return pbkdf2(prf, password, salt, { c: iterations, dkLen: keyBytes });
}
