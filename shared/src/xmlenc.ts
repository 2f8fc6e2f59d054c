/**
 * The block-cipher CBC of W3C XML Encryption 1.0 §5.2, which PSKC (RFC 6030 §6.1) uses for
 * <EncryptedValue> and <MACKey>: the IV travels in front of the ciphertext, and the padding is
 * XML Encryption's (only the last byte, the pad length, is meaningful — unlike PKCS#7, the other
 * pad bytes may be anything; on writing we fill them PKCS#7-style, which is a valid choice).
 * Written over BlockCipher so the same code serves aes*-cbc and tripledes-cbc.
 */
import type { BlockCipher } from './block-cipher.js';
import { KodeviserError } from './errors.js';

/** IV ‖ CBC(plaintext ‖ padding). `iv` must be one block of fresh randomness. */
export function cbcEncrypt(cipher: BlockCipher, iv: Uint8Array, plaintext: Uint8Array): Uint8Array {
  const b = cipher.blockBytes;
  if (iv.length !== b) throw new KodeviserError('ERR_ARGUMENT', `iv must be ${b} bytes`);
  const pad = b - (plaintext.length % b);
  const out = new Uint8Array(b + plaintext.length + pad);
  out.set(iv);
  out.set(plaintext, b);
  out.fill(pad, b + plaintext.length);
  for (let offset = b; offset < out.length; offset += b) {
    const block = out.subarray(offset, offset + b);
    for (let j = 0; j < b; j++) block[j] = (block[j] as number) ^ (out[offset - b + j] as number);
    cipher.encryptBlock(block);
  }
  return out;
}

/** Inverse of cbcEncrypt; a wrong key shows up as bad padding (ERR_PSKC_DECRYPT). */
export function cbcDecrypt(cipher: BlockCipher, data: Uint8Array): Uint8Array {
  const b = cipher.blockBytes;
  if (data.length < 2 * b || data.length % b !== 0) {
    throw new KodeviserError('ERR_PSKC_DECRYPT', `CipherValue must be an IV and whole ${b}-byte blocks, got ${data.length} bytes`);
  }
  const out = new Uint8Array(data.length - b);
  for (let offset = b; offset < data.length; offset += b) {
    const block = data.slice(offset, offset + b);
    cipher.decryptBlock(block);
    for (let j = 0; j < b; j++) out[offset - b + j] = (block[j] as number) ^ (data[offset - b + j] as number);
  }
  const pad = out[out.length - 1] as number;
  if (pad < 1 || pad > b) throw new KodeviserError('ERR_PSKC_DECRYPT', 'decryption failed: bad padding (wrong key or corrupt data)');
  return out.subarray(0, out.length - pad);
}
