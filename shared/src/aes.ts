/**
 * AES-128/192/256 (FIPS 197) as a block cipher for CMAC and for PSKC's aes*-cbc. The rounds are
 * @noble/ciphers' audited ones; what this file adds is the BlockCipher shape with the key
 * schedule expanded once per key, which noble's one-shot modes (ecb, cbc, cmac) redo per call.
 * noble exposes the single-block functions as `unsafe` (unstable across versions): they are used
 * here and nowhere else, and the FIPS 197 vectors in the tests pin their behaviour.
 */
import { unsafe } from '@noble/ciphers/aes.js';
import { checkBlock, type BlockCipher } from './block-cipher.js';
import { requireBytes } from './bytes.js';
import { KodeviserError } from './errors.js';

export function createAes(key: Uint8Array): BlockCipher {
  requireBytes(key, 'key');
  if (key.length !== 16 && key.length !== 24 && key.length !== 32) {
    throw new KodeviserError('ERR_KEY_LENGTH', `key must be 16, 24 or 32 bytes for AES, got ${key.length}`);
  }
  const encryptionKey = unsafe.expandKeyLE(key);
  const decryptionKey = unsafe.expandKeyDecLE(key);
  // noble reads the block as 32-bit words, which needs a 4-byte aligned view.
  const run = (block: Uint8Array, apply: (aligned: Uint8Array) => void): void => {
    checkBlock(block, 16);
    if (block.byteOffset % 4 === 0) return apply(block);
    const aligned = block.slice();
    apply(aligned);
    block.set(aligned);
  };
  return {
    blockBytes: 16,
    encryptBlock: (block) => run(block, (b) => void unsafe.encryptBlock(encryptionKey, b)),
    decryptBlock: (block) => run(block, (b) => void unsafe.decryptBlock(decryptionKey, b)),
  };
}

/** Four 32-bit words of one AES block, each holding four of its bytes little-endian. */
export interface AesWords {
  s0: number;
  s1: number;
  s2: number;
  s3: number;
}

/**
 * AES encryption of one block held as four little-endian words (byte 4i + j is bits 8j..8j+7 of
 * word i), the form noble's rounds work in: for modes that build their blocks as words (gcm.ts),
 * with no array and no view made per block, which cost as much as the rounds themselves here.
 */
export function createAesEncryptWords(key: Uint8Array): (s0: number, s1: number, s2: number, s3: number) => AesWords {
  requireBytes(key, 'key');
  if (key.length !== 16 && key.length !== 24 && key.length !== 32) {
    throw new KodeviserError('ERR_KEY_LENGTH', `key must be 16, 24 or 32 bytes for AES, got ${key.length}`);
  }
  const encryptionKey = unsafe.expandKeyLE(key);
  return (s0, s1, s2, s3) => unsafe.encrypt(encryptionKey, s0, s1, s2, s3);
}
