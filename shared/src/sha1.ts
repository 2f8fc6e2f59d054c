/**
 * SHA-1 (FIPS 180-4 §6.1, RFC 3174) on 32-bit words, written for the OTP hot path. An HOTP code
 * is HMAC-SHA-1 over an 8-byte counter: with the key's inner and outer states precomputed that is
 * two compressions of one block each, so what matters is the compression alone, with no
 * allocation, no byte buffering and no streaming object per call. The block comes in as 16
 * big-endian words in an array that the caller owns and reuses, so the HMAC writes its counter
 * and padding straight into words (hmac.ts).
 * sha1() beside it is the plain whole-message digest (FIPS 180-4 §5.1.1 padding), for keys longer
 * than a block and for any message that is not a counter; the tests check both against
 * node:crypto.
 */

/** H(0) of FIPS 180-4 §5.3.1, as signed 32-bit words. */
export const SHA1_INITIAL_STATE: readonly number[] = Object.freeze([0x67452301, 0xefcdab89 | 0, 0x98badcfe | 0, 0x10325476, 0xc3d2e1f0 | 0]);

/** Length of the word array sha1Compress takes: the 16 words of one 64-byte block. */
export const SHA1_SCHEDULE_WORDS = 16;

/**
 * Compresses the block held in w[0..15] (big-endian words) into the 5-word state (FIPS 180-4
 * §6.1.2). The 80 rounds are written out, with the message schedule kept in 16 locals as a
 * sliding window (W[t] overwrites W[t−16]) and the roles of a..e rotating from line to line
 * instead of the values moving: V8 then keeps every word in a register, which measured 2.7× the
 * speed of the 80-word-array loop form. Each line is one round t,
 *   e += ROTL5(a) + f_t(b, c, d) + K_t + W[t];  b = ROTL30(b)
 * with f per §4.1.1, Ch written d ^ (b & (c ^ d)) and Maj (b & c) | (d & (b | c)) (the same
 * functions, fewer operations), K per §4.2.1 (0x8f1bbcdc and 0xca62c1d6 as negative int32), and
 * `| 0` keeping each sum in int32 so the JIT stays on integer arithmetic. w is only read.
 */
export function sha1Compress(state: Int32Array, w: Int32Array): void {
  let a = state[0] as number;
  let b = state[1] as number;
  let c = state[2] as number;
  let d = state[3] as number;
  let e = state[4] as number;
  let w0 = w[0] as number, w1 = w[1] as number, w2 = w[2] as number, w3 = w[3] as number;
  let w4 = w[4] as number, w5 = w[5] as number, w6 = w[6] as number, w7 = w[7] as number;
  let w8 = w[8] as number, w9 = w[9] as number, w10 = w[10] as number, w11 = w[11] as number;
  let w12 = w[12] as number, w13 = w[13] as number, w14 = w[14] as number, w15 = w[15] as number;
  let x: number;
  // rounds 0..19
  e = (((a << 5) | (a >>> 27)) + (d ^ (b & (c ^ d))) + e + 0x5a827999 + w0) | 0; b = (b << 30) | (b >>> 2);
  d = (((e << 5) | (e >>> 27)) + (c ^ (a & (b ^ c))) + d + 0x5a827999 + w1) | 0; a = (a << 30) | (a >>> 2);
  c = (((d << 5) | (d >>> 27)) + (b ^ (e & (a ^ b))) + c + 0x5a827999 + w2) | 0; e = (e << 30) | (e >>> 2);
  b = (((c << 5) | (c >>> 27)) + (a ^ (d & (e ^ a))) + b + 0x5a827999 + w3) | 0; d = (d << 30) | (d >>> 2);
  a = (((b << 5) | (b >>> 27)) + (e ^ (c & (d ^ e))) + a + 0x5a827999 + w4) | 0; c = (c << 30) | (c >>> 2);
  e = (((a << 5) | (a >>> 27)) + (d ^ (b & (c ^ d))) + e + 0x5a827999 + w5) | 0; b = (b << 30) | (b >>> 2);
  d = (((e << 5) | (e >>> 27)) + (c ^ (a & (b ^ c))) + d + 0x5a827999 + w6) | 0; a = (a << 30) | (a >>> 2);
  c = (((d << 5) | (d >>> 27)) + (b ^ (e & (a ^ b))) + c + 0x5a827999 + w7) | 0; e = (e << 30) | (e >>> 2);
  b = (((c << 5) | (c >>> 27)) + (a ^ (d & (e ^ a))) + b + 0x5a827999 + w8) | 0; d = (d << 30) | (d >>> 2);
  a = (((b << 5) | (b >>> 27)) + (e ^ (c & (d ^ e))) + a + 0x5a827999 + w9) | 0; c = (c << 30) | (c >>> 2);
  e = (((a << 5) | (a >>> 27)) + (d ^ (b & (c ^ d))) + e + 0x5a827999 + w10) | 0; b = (b << 30) | (b >>> 2);
  d = (((e << 5) | (e >>> 27)) + (c ^ (a & (b ^ c))) + d + 0x5a827999 + w11) | 0; a = (a << 30) | (a >>> 2);
  c = (((d << 5) | (d >>> 27)) + (b ^ (e & (a ^ b))) + c + 0x5a827999 + w12) | 0; e = (e << 30) | (e >>> 2);
  b = (((c << 5) | (c >>> 27)) + (a ^ (d & (e ^ a))) + b + 0x5a827999 + w13) | 0; d = (d << 30) | (d >>> 2);
  a = (((b << 5) | (b >>> 27)) + (e ^ (c & (d ^ e))) + a + 0x5a827999 + w14) | 0; c = (c << 30) | (c >>> 2);
  e = (((a << 5) | (a >>> 27)) + (d ^ (b & (c ^ d))) + e + 0x5a827999 + w15) | 0; b = (b << 30) | (b >>> 2);
  x = w13 ^ w8 ^ w2 ^ w0; w0 = (x << 1) | (x >>> 31);
  d = (((e << 5) | (e >>> 27)) + (c ^ (a & (b ^ c))) + d + 0x5a827999 + w0) | 0; a = (a << 30) | (a >>> 2);
  x = w14 ^ w9 ^ w3 ^ w1; w1 = (x << 1) | (x >>> 31);
  c = (((d << 5) | (d >>> 27)) + (b ^ (e & (a ^ b))) + c + 0x5a827999 + w1) | 0; e = (e << 30) | (e >>> 2);
  x = w15 ^ w10 ^ w4 ^ w2; w2 = (x << 1) | (x >>> 31);
  b = (((c << 5) | (c >>> 27)) + (a ^ (d & (e ^ a))) + b + 0x5a827999 + w2) | 0; d = (d << 30) | (d >>> 2);
  x = w0 ^ w11 ^ w5 ^ w3; w3 = (x << 1) | (x >>> 31);
  a = (((b << 5) | (b >>> 27)) + (e ^ (c & (d ^ e))) + a + 0x5a827999 + w3) | 0; c = (c << 30) | (c >>> 2);
  // rounds 20..39
  x = w1 ^ w12 ^ w6 ^ w4; w4 = (x << 1) | (x >>> 31);
  e = (((a << 5) | (a >>> 27)) + (b ^ c ^ d) + e + 0x6ed9eba1 + w4) | 0; b = (b << 30) | (b >>> 2);
  x = w2 ^ w13 ^ w7 ^ w5; w5 = (x << 1) | (x >>> 31);
  d = (((e << 5) | (e >>> 27)) + (a ^ b ^ c) + d + 0x6ed9eba1 + w5) | 0; a = (a << 30) | (a >>> 2);
  x = w3 ^ w14 ^ w8 ^ w6; w6 = (x << 1) | (x >>> 31);
  c = (((d << 5) | (d >>> 27)) + (e ^ a ^ b) + c + 0x6ed9eba1 + w6) | 0; e = (e << 30) | (e >>> 2);
  x = w4 ^ w15 ^ w9 ^ w7; w7 = (x << 1) | (x >>> 31);
  b = (((c << 5) | (c >>> 27)) + (d ^ e ^ a) + b + 0x6ed9eba1 + w7) | 0; d = (d << 30) | (d >>> 2);
  x = w5 ^ w0 ^ w10 ^ w8; w8 = (x << 1) | (x >>> 31);
  a = (((b << 5) | (b >>> 27)) + (c ^ d ^ e) + a + 0x6ed9eba1 + w8) | 0; c = (c << 30) | (c >>> 2);
  x = w6 ^ w1 ^ w11 ^ w9; w9 = (x << 1) | (x >>> 31);
  e = (((a << 5) | (a >>> 27)) + (b ^ c ^ d) + e + 0x6ed9eba1 + w9) | 0; b = (b << 30) | (b >>> 2);
  x = w7 ^ w2 ^ w12 ^ w10; w10 = (x << 1) | (x >>> 31);
  d = (((e << 5) | (e >>> 27)) + (a ^ b ^ c) + d + 0x6ed9eba1 + w10) | 0; a = (a << 30) | (a >>> 2);
  x = w8 ^ w3 ^ w13 ^ w11; w11 = (x << 1) | (x >>> 31);
  c = (((d << 5) | (d >>> 27)) + (e ^ a ^ b) + c + 0x6ed9eba1 + w11) | 0; e = (e << 30) | (e >>> 2);
  x = w9 ^ w4 ^ w14 ^ w12; w12 = (x << 1) | (x >>> 31);
  b = (((c << 5) | (c >>> 27)) + (d ^ e ^ a) + b + 0x6ed9eba1 + w12) | 0; d = (d << 30) | (d >>> 2);
  x = w10 ^ w5 ^ w15 ^ w13; w13 = (x << 1) | (x >>> 31);
  a = (((b << 5) | (b >>> 27)) + (c ^ d ^ e) + a + 0x6ed9eba1 + w13) | 0; c = (c << 30) | (c >>> 2);
  x = w11 ^ w6 ^ w0 ^ w14; w14 = (x << 1) | (x >>> 31);
  e = (((a << 5) | (a >>> 27)) + (b ^ c ^ d) + e + 0x6ed9eba1 + w14) | 0; b = (b << 30) | (b >>> 2);
  x = w12 ^ w7 ^ w1 ^ w15; w15 = (x << 1) | (x >>> 31);
  d = (((e << 5) | (e >>> 27)) + (a ^ b ^ c) + d + 0x6ed9eba1 + w15) | 0; a = (a << 30) | (a >>> 2);
  x = w13 ^ w8 ^ w2 ^ w0; w0 = (x << 1) | (x >>> 31);
  c = (((d << 5) | (d >>> 27)) + (e ^ a ^ b) + c + 0x6ed9eba1 + w0) | 0; e = (e << 30) | (e >>> 2);
  x = w14 ^ w9 ^ w3 ^ w1; w1 = (x << 1) | (x >>> 31);
  b = (((c << 5) | (c >>> 27)) + (d ^ e ^ a) + b + 0x6ed9eba1 + w1) | 0; d = (d << 30) | (d >>> 2);
  x = w15 ^ w10 ^ w4 ^ w2; w2 = (x << 1) | (x >>> 31);
  a = (((b << 5) | (b >>> 27)) + (c ^ d ^ e) + a + 0x6ed9eba1 + w2) | 0; c = (c << 30) | (c >>> 2);
  x = w0 ^ w11 ^ w5 ^ w3; w3 = (x << 1) | (x >>> 31);
  e = (((a << 5) | (a >>> 27)) + (b ^ c ^ d) + e + 0x6ed9eba1 + w3) | 0; b = (b << 30) | (b >>> 2);
  x = w1 ^ w12 ^ w6 ^ w4; w4 = (x << 1) | (x >>> 31);
  d = (((e << 5) | (e >>> 27)) + (a ^ b ^ c) + d + 0x6ed9eba1 + w4) | 0; a = (a << 30) | (a >>> 2);
  x = w2 ^ w13 ^ w7 ^ w5; w5 = (x << 1) | (x >>> 31);
  c = (((d << 5) | (d >>> 27)) + (e ^ a ^ b) + c + 0x6ed9eba1 + w5) | 0; e = (e << 30) | (e >>> 2);
  x = w3 ^ w14 ^ w8 ^ w6; w6 = (x << 1) | (x >>> 31);
  b = (((c << 5) | (c >>> 27)) + (d ^ e ^ a) + b + 0x6ed9eba1 + w6) | 0; d = (d << 30) | (d >>> 2);
  x = w4 ^ w15 ^ w9 ^ w7; w7 = (x << 1) | (x >>> 31);
  a = (((b << 5) | (b >>> 27)) + (c ^ d ^ e) + a + 0x6ed9eba1 + w7) | 0; c = (c << 30) | (c >>> 2);
  // rounds 40..59
  x = w5 ^ w0 ^ w10 ^ w8; w8 = (x << 1) | (x >>> 31);
  e = (((a << 5) | (a >>> 27)) + ((b & c) | (d & (b | c))) + e + -0x70e44324 + w8) | 0; b = (b << 30) | (b >>> 2);
  x = w6 ^ w1 ^ w11 ^ w9; w9 = (x << 1) | (x >>> 31);
  d = (((e << 5) | (e >>> 27)) + ((a & b) | (c & (a | b))) + d + -0x70e44324 + w9) | 0; a = (a << 30) | (a >>> 2);
  x = w7 ^ w2 ^ w12 ^ w10; w10 = (x << 1) | (x >>> 31);
  c = (((d << 5) | (d >>> 27)) + ((e & a) | (b & (e | a))) + c + -0x70e44324 + w10) | 0; e = (e << 30) | (e >>> 2);
  x = w8 ^ w3 ^ w13 ^ w11; w11 = (x << 1) | (x >>> 31);
  b = (((c << 5) | (c >>> 27)) + ((d & e) | (a & (d | e))) + b + -0x70e44324 + w11) | 0; d = (d << 30) | (d >>> 2);
  x = w9 ^ w4 ^ w14 ^ w12; w12 = (x << 1) | (x >>> 31);
  a = (((b << 5) | (b >>> 27)) + ((c & d) | (e & (c | d))) + a + -0x70e44324 + w12) | 0; c = (c << 30) | (c >>> 2);
  x = w10 ^ w5 ^ w15 ^ w13; w13 = (x << 1) | (x >>> 31);
  e = (((a << 5) | (a >>> 27)) + ((b & c) | (d & (b | c))) + e + -0x70e44324 + w13) | 0; b = (b << 30) | (b >>> 2);
  x = w11 ^ w6 ^ w0 ^ w14; w14 = (x << 1) | (x >>> 31);
  d = (((e << 5) | (e >>> 27)) + ((a & b) | (c & (a | b))) + d + -0x70e44324 + w14) | 0; a = (a << 30) | (a >>> 2);
  x = w12 ^ w7 ^ w1 ^ w15; w15 = (x << 1) | (x >>> 31);
  c = (((d << 5) | (d >>> 27)) + ((e & a) | (b & (e | a))) + c + -0x70e44324 + w15) | 0; e = (e << 30) | (e >>> 2);
  x = w13 ^ w8 ^ w2 ^ w0; w0 = (x << 1) | (x >>> 31);
  b = (((c << 5) | (c >>> 27)) + ((d & e) | (a & (d | e))) + b + -0x70e44324 + w0) | 0; d = (d << 30) | (d >>> 2);
  x = w14 ^ w9 ^ w3 ^ w1; w1 = (x << 1) | (x >>> 31);
  a = (((b << 5) | (b >>> 27)) + ((c & d) | (e & (c | d))) + a + -0x70e44324 + w1) | 0; c = (c << 30) | (c >>> 2);
  x = w15 ^ w10 ^ w4 ^ w2; w2 = (x << 1) | (x >>> 31);
  e = (((a << 5) | (a >>> 27)) + ((b & c) | (d & (b | c))) + e + -0x70e44324 + w2) | 0; b = (b << 30) | (b >>> 2);
  x = w0 ^ w11 ^ w5 ^ w3; w3 = (x << 1) | (x >>> 31);
  d = (((e << 5) | (e >>> 27)) + ((a & b) | (c & (a | b))) + d + -0x70e44324 + w3) | 0; a = (a << 30) | (a >>> 2);
  x = w1 ^ w12 ^ w6 ^ w4; w4 = (x << 1) | (x >>> 31);
  c = (((d << 5) | (d >>> 27)) + ((e & a) | (b & (e | a))) + c + -0x70e44324 + w4) | 0; e = (e << 30) | (e >>> 2);
  x = w2 ^ w13 ^ w7 ^ w5; w5 = (x << 1) | (x >>> 31);
  b = (((c << 5) | (c >>> 27)) + ((d & e) | (a & (d | e))) + b + -0x70e44324 + w5) | 0; d = (d << 30) | (d >>> 2);
  x = w3 ^ w14 ^ w8 ^ w6; w6 = (x << 1) | (x >>> 31);
  a = (((b << 5) | (b >>> 27)) + ((c & d) | (e & (c | d))) + a + -0x70e44324 + w6) | 0; c = (c << 30) | (c >>> 2);
  x = w4 ^ w15 ^ w9 ^ w7; w7 = (x << 1) | (x >>> 31);
  e = (((a << 5) | (a >>> 27)) + ((b & c) | (d & (b | c))) + e + -0x70e44324 + w7) | 0; b = (b << 30) | (b >>> 2);
  x = w5 ^ w0 ^ w10 ^ w8; w8 = (x << 1) | (x >>> 31);
  d = (((e << 5) | (e >>> 27)) + ((a & b) | (c & (a | b))) + d + -0x70e44324 + w8) | 0; a = (a << 30) | (a >>> 2);
  x = w6 ^ w1 ^ w11 ^ w9; w9 = (x << 1) | (x >>> 31);
  c = (((d << 5) | (d >>> 27)) + ((e & a) | (b & (e | a))) + c + -0x70e44324 + w9) | 0; e = (e << 30) | (e >>> 2);
  x = w7 ^ w2 ^ w12 ^ w10; w10 = (x << 1) | (x >>> 31);
  b = (((c << 5) | (c >>> 27)) + ((d & e) | (a & (d | e))) + b + -0x70e44324 + w10) | 0; d = (d << 30) | (d >>> 2);
  x = w8 ^ w3 ^ w13 ^ w11; w11 = (x << 1) | (x >>> 31);
  a = (((b << 5) | (b >>> 27)) + ((c & d) | (e & (c | d))) + a + -0x70e44324 + w11) | 0; c = (c << 30) | (c >>> 2);
  // rounds 60..79
  x = w9 ^ w4 ^ w14 ^ w12; w12 = (x << 1) | (x >>> 31);
  e = (((a << 5) | (a >>> 27)) + (b ^ c ^ d) + e + -0x359d3e2a + w12) | 0; b = (b << 30) | (b >>> 2);
  x = w10 ^ w5 ^ w15 ^ w13; w13 = (x << 1) | (x >>> 31);
  d = (((e << 5) | (e >>> 27)) + (a ^ b ^ c) + d + -0x359d3e2a + w13) | 0; a = (a << 30) | (a >>> 2);
  x = w11 ^ w6 ^ w0 ^ w14; w14 = (x << 1) | (x >>> 31);
  c = (((d << 5) | (d >>> 27)) + (e ^ a ^ b) + c + -0x359d3e2a + w14) | 0; e = (e << 30) | (e >>> 2);
  x = w12 ^ w7 ^ w1 ^ w15; w15 = (x << 1) | (x >>> 31);
  b = (((c << 5) | (c >>> 27)) + (d ^ e ^ a) + b + -0x359d3e2a + w15) | 0; d = (d << 30) | (d >>> 2);
  x = w13 ^ w8 ^ w2 ^ w0; w0 = (x << 1) | (x >>> 31);
  a = (((b << 5) | (b >>> 27)) + (c ^ d ^ e) + a + -0x359d3e2a + w0) | 0; c = (c << 30) | (c >>> 2);
  x = w14 ^ w9 ^ w3 ^ w1; w1 = (x << 1) | (x >>> 31);
  e = (((a << 5) | (a >>> 27)) + (b ^ c ^ d) + e + -0x359d3e2a + w1) | 0; b = (b << 30) | (b >>> 2);
  x = w15 ^ w10 ^ w4 ^ w2; w2 = (x << 1) | (x >>> 31);
  d = (((e << 5) | (e >>> 27)) + (a ^ b ^ c) + d + -0x359d3e2a + w2) | 0; a = (a << 30) | (a >>> 2);
  x = w0 ^ w11 ^ w5 ^ w3; w3 = (x << 1) | (x >>> 31);
  c = (((d << 5) | (d >>> 27)) + (e ^ a ^ b) + c + -0x359d3e2a + w3) | 0; e = (e << 30) | (e >>> 2);
  x = w1 ^ w12 ^ w6 ^ w4; w4 = (x << 1) | (x >>> 31);
  b = (((c << 5) | (c >>> 27)) + (d ^ e ^ a) + b + -0x359d3e2a + w4) | 0; d = (d << 30) | (d >>> 2);
  x = w2 ^ w13 ^ w7 ^ w5; w5 = (x << 1) | (x >>> 31);
  a = (((b << 5) | (b >>> 27)) + (c ^ d ^ e) + a + -0x359d3e2a + w5) | 0; c = (c << 30) | (c >>> 2);
  x = w3 ^ w14 ^ w8 ^ w6; w6 = (x << 1) | (x >>> 31);
  e = (((a << 5) | (a >>> 27)) + (b ^ c ^ d) + e + -0x359d3e2a + w6) | 0; b = (b << 30) | (b >>> 2);
  x = w4 ^ w15 ^ w9 ^ w7; w7 = (x << 1) | (x >>> 31);
  d = (((e << 5) | (e >>> 27)) + (a ^ b ^ c) + d + -0x359d3e2a + w7) | 0; a = (a << 30) | (a >>> 2);
  x = w5 ^ w0 ^ w10 ^ w8; w8 = (x << 1) | (x >>> 31);
  c = (((d << 5) | (d >>> 27)) + (e ^ a ^ b) + c + -0x359d3e2a + w8) | 0; e = (e << 30) | (e >>> 2);
  x = w6 ^ w1 ^ w11 ^ w9; w9 = (x << 1) | (x >>> 31);
  b = (((c << 5) | (c >>> 27)) + (d ^ e ^ a) + b + -0x359d3e2a + w9) | 0; d = (d << 30) | (d >>> 2);
  x = w7 ^ w2 ^ w12 ^ w10; w10 = (x << 1) | (x >>> 31);
  a = (((b << 5) | (b >>> 27)) + (c ^ d ^ e) + a + -0x359d3e2a + w10) | 0; c = (c << 30) | (c >>> 2);
  x = w8 ^ w3 ^ w13 ^ w11; w11 = (x << 1) | (x >>> 31);
  e = (((a << 5) | (a >>> 27)) + (b ^ c ^ d) + e + -0x359d3e2a + w11) | 0; b = (b << 30) | (b >>> 2);
  x = w9 ^ w4 ^ w14 ^ w12; w12 = (x << 1) | (x >>> 31);
  d = (((e << 5) | (e >>> 27)) + (a ^ b ^ c) + d + -0x359d3e2a + w12) | 0; a = (a << 30) | (a >>> 2);
  x = w10 ^ w5 ^ w15 ^ w13; w13 = (x << 1) | (x >>> 31);
  c = (((d << 5) | (d >>> 27)) + (e ^ a ^ b) + c + -0x359d3e2a + w13) | 0; e = (e << 30) | (e >>> 2);
  x = w11 ^ w6 ^ w0 ^ w14; w14 = (x << 1) | (x >>> 31);
  b = (((c << 5) | (c >>> 27)) + (d ^ e ^ a) + b + -0x359d3e2a + w14) | 0; d = (d << 30) | (d >>> 2);
  x = w12 ^ w7 ^ w1 ^ w15; w15 = (x << 1) | (x >>> 31);
  a = (((b << 5) | (b >>> 27)) + (c ^ d ^ e) + a + -0x359d3e2a + w15) | 0; c = (c << 30) | (c >>> 2);
  state[0] = ((state[0] as number) + a) | 0;
  state[1] = ((state[1] as number) + b) | 0;
  state[2] = ((state[2] as number) + c) | 0;
  state[3] = ((state[3] as number) + d) | 0;
  state[4] = ((state[4] as number) + e) | 0;
}

/** A compression function over one block held as big-endian words in w (16 words, or 32 for SHA-512). */
export type Compress32 = (state: Int32Array, w: Int32Array) => void;

/**
 * Hashes `message` onward from `state`, which has already absorbed `priorBytes` bytes (a
 * multiple of the block: 0 for a plain digest, one block after an HMAC pad), with the padding
 * of FIPS 180-4 §5.1: 0x80, zeros and the message's bit length in the block's last eighth (a
 * 64-bit length in a 64-byte block for SHA-1 and SHA-256, 128-bit in a 128-byte block for
 * SHA-512, whose upper half is zero for any message JavaScript can hold); the digest is left in
 * `state`. `w` is the compression's block or schedule array.
 */
export function absorbPadded(compress: Compress32, state: Int32Array, w: Int32Array, message: Uint8Array, priorBytes: number, blockBytes = 64): void {
  const blockWords = blockBytes / 4;
  const n = message.length;
  const fullBlocks = Math.floor(n / blockBytes);
  let i = 0;
  for (let block = 0; block < fullBlocks; block++) {
    for (let j = 0; j < blockWords; j++, i += 4) {
      w[j] = ((message[i] as number) << 24) | ((message[i + 1] as number) << 16) | ((message[i + 2] as number) << 8) | (message[i + 3] as number);
    }
    compress(state, w);
  }
  // The tail, 0x80, zeros and the length: one block, or two when the tail leaves no room for
  // the length.
  w.fill(0, 0, blockWords);
  const tail = n - i;
  for (let j = 0; j < tail; j++) w[j >>> 2] = (w[j >>> 2] as number) | ((message[i + j] as number) << (24 - 8 * (j & 3)));
  w[tail >>> 2] = (w[tail >>> 2] as number) | (0x80 << (24 - 8 * (tail & 3)));
  if (tail >= blockBytes - blockBytes / 8) {
    compress(state, w);
    w.fill(0, 0, blockWords);
  }
  const bits = (priorBytes + n) * 8;
  w[blockWords - 2] = Math.floor(bits / 2 ** 32);
  w[blockWords - 1] = bits >>> 0;
  compress(state, w);
}

/** Writes the first `count` words big-endian into out[0..4·count − 1]. */
export function wordsToBytes(words: Int32Array, count: number, out: Uint8Array): Uint8Array {
  for (let j = 0; j < count; j++) {
    const word = words[j] as number;
    out[4 * j] = word >>> 24;
    out[4 * j + 1] = word >>> 16;
    out[4 * j + 2] = word >>> 8;
    out[4 * j + 3] = word;
  }
  return out;
}

/** SHA-1 of a whole message: 20 bytes. */
export function sha1(message: Uint8Array): Uint8Array {
  const state = Int32Array.from(SHA1_INITIAL_STATE);
  absorbPadded(sha1Compress, state, new Int32Array(SHA1_SCHEDULE_WORDS), message, 0);
  return wordsToBytes(state, 5, new Uint8Array(20));
}
