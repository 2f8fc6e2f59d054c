/**
 * SHA-1 (FIPS 180-4 §6.1, RFC 3174) on 32-bit words, written for the OTP hot path. An HOTP code
 * is HMAC-SHA-1 over an 8-byte counter: with the key's inner and outer states precomputed that is
 * two compressions of one block each, so what matters is the compression alone, with no
 * allocation, no byte buffering and no streaming object per call. The block comes in as 16
 * big-endian words in an array that the caller owns and reuses, so the HMAC writes its counter
 * and padding straight into words (hmac.ts).
 * The rounds are generated (sha1-compress.ts). sha1() is the plain whole-message digest, for keys
 * longer than a block and for any message that is not a counter; the tests check both against
 * node:crypto.
 */
import { absorbPadded, wordsToBytes } from './md-padding.js';
import { sha1Compress } from './sha1-compress.js';

export { sha1Compress };

/** H(0) of FIPS 180-4 §5.3.1, as signed 32-bit words. */
export const SHA1_INITIAL_STATE: readonly number[] = Object.freeze([
  0x67452301,
  0xefcdab89 | 0,
  0x98badcfe | 0,
  0x10325476,
  0xc3d2e1f0 | 0,
]);

/** Length of the word array sha1Compress takes: the 16 words of one 64-byte block. */
export const SHA1_SCHEDULE_WORDS = 16;

/** SHA-1 of a whole message: 20 bytes. */
export function sha1(message: Uint8Array): Uint8Array {
  const state = Int32Array.from(SHA1_INITIAL_STATE);
  absorbPadded(sha1Compress, state, new Int32Array(SHA1_SCHEDULE_WORDS), message, 0);
  return wordsToBytes(state, 5, new Uint8Array(20));
}
