/**
 * GCM (NIST SP 800-38D) with 96-bit nonces and 128-bit tags over AES, keyed once: the block
 * cipher, the hash subkey H = E_K(0^128) and GHASH's multiplication table are set up when the key
 * is given, and each seal or open then costs only its own blocks: one call of the block cipher
 * for all of a message's counter blocks, and one table pass per block of GHASH.
 *
 * Why not noble's or node's gcm: both set the key up again on every message. The server opens a
 * token's sealed seed on every validation of a token it has not seen lately (with a million
 * tokens, nearly all of them), under one master key for its whole life: noble's gcm spends most
 * of its ~65 µs building its GHASH table, node:crypto's createDecipheriv ~7 µs making a native
 * cipher object. The records are plain GCM: the tests check this file against the GCM
 * specification's test cases and against both of those implementations.
 *
 * The block cipher is a parameter (`createGcm`): `createAesGcm` uses @noble/ciphers' AES rounds
 * (aes.ts), which run anywhere; the server passes OpenSSL's AES (AES-NI) as a long-lived ECB
 * stream, because noble's rounds look up 512 KiB of tables that a busy server's other work pushes
 * out of the CPU's caches (a block measured 1.6 µs inside the server, 0.4 µs in a loop alone).
 *
 * GHASH (SP 800-38D §6.4) multiplies in GF(2^128) by H. Since H is fixed, X·H is the XOR of
 * x_i·(H·x^i) over the 128 bits x_i of X (bit 0 the most significant bit of byte 0, §6.3); the
 * table holds, for each of the 32 nibbles of X and each of its 16 values, the XOR of the
 * matching H·x^i, so a block costs 32 lookups in 8 KiB. Like noble's own GHASH (windowed tables
 * too), the lookups are indexed by data: what they could leak to a cache-timing observer on the
 * same host is about H, which authenticates public data. The tag is compared in constant time,
 * and a message that does not authenticate is never decrypted.
 */
import { createAesEncryptWords } from './aes.js';
import { requireBytes } from './bytes.js';
import { KodeviserError } from './errors.js';

export interface AesGcm {
  /** plaintext → ciphertext ‖ tag (16 bytes), the layout of RFC 5116, noble and node:crypto. */
  seal(nonce: Uint8Array, plaintext: Uint8Array, aad?: Uint8Array): Uint8Array;
  /** ciphertext ‖ tag → plaintext, or null when it does not authenticate (wrong key, nonce, AAD or data). */
  open(nonce: Uint8Array, sealed: Uint8Array, aad?: Uint8Array): Uint8Array | null;
}

/**
 * A 128-bit block cipher's encryption under a fixed key applied to each of n whole blocks on its
 * own (ECB): n × 16 bytes in, the n encrypted blocks out (a new array or one the cipher reuses;
 * GCM reads it before the next call).
 */
export type EncryptBlocks = (blocks: Uint8Array) => Uint8Array;

export const GCM_NONCE_BYTES = 12;
export const GCM_TAG_BYTES = 16;
const EMPTY = new Uint8Array(0);
/** The reduction of SP 800-38D §6.3: R = 11100001 ‖ 0^120, as the first of four 32-bit words. */
const R0 = 0xe1000000 | 0;

/** The big-endian word of data[i, i + 4). */
function word(data: Uint8Array, i: number): number {
  return ((data[i] as number) << 24) | ((data[i + 1] as number) << 16) | ((data[i + 2] as number) << 8) | (data[i + 3] as number);
}

/** The big-endian word of data[i, i + 4), bytes at or past `length` read as zero (GCM's padding). */
function paddedWord(data: Uint8Array, i: number, length: number): number {
  let w = 0;
  for (let j = 0; j < 4; j++) w = (w << 8) | (i + j < length ? (data[i + j] as number) : 0);
  return w;
}

/** AES-GCM under `key` (16, 24 or 32 bytes) with @noble/ciphers' AES rounds. */
export function createAesGcm(key: Uint8Array): AesGcm {
  requireBytes(key, 'key');
  const encrypt = createAesEncryptWords(key); // checks the key's length
  return createGcm((blocks) => {
    const out = new Uint8Array(blocks.length);
    const le = (i: number): number =>
      (blocks[i] as number) | ((blocks[i + 1] as number) << 8) | ((blocks[i + 2] as number) << 16) | ((blocks[i + 3] as number) << 24);
    for (let i = 0; i < blocks.length; i += 16) {
      const { s0, s1, s2, s3 } = encrypt(le(i), le(i + 4), le(i + 8), le(i + 12));
      for (let j = 0; j < 4; j++) {
        out[i + j] = s0 >>> (8 * j);
        out[i + 4 + j] = s1 >>> (8 * j);
        out[i + 8 + j] = s2 >>> (8 * j);
        out[i + 12 + j] = s3 >>> (8 * j);
      }
    }
    return out;
  });
}

/** GCM over the block cipher `encryptBlocks` (AES for AES-GCM). */
export function createGcm(encryptBlocks: EncryptBlocks): AesGcm {
  if (typeof encryptBlocks !== 'function') throw new KodeviserError('ERR_ARGUMENT', 'encryptBlocks must be a function');
  /**
   * The counter blocks of one message, J0 = nonce ‖ 0^31 ‖ 1 and its successors (§7.1 step 2),
   * in a buffer made outside V8's heap (an explicit ArrayBuffer), so handing a view of it to a
   * native cipher copies nothing; it grows to the longest message seen.
   */
  let counters = new Uint8Array(new ArrayBuffer(16 * 8));
  const h = encryptBlocks(new Uint8Array(16)); // H = E_K(0^128)
  if (!(h instanceof Uint8Array) || h.length !== 16)
    throw new KodeviserError('ERR_ARGUMENT', 'encryptBlocks must return one 16-byte block for one block');

  // H·x^i for i = 0..127: multiplying by x is a right shift in GCM's bit order, reduced by R.
  const powers = new Int32Array(128 * 4);
  let v0 = word(h, 0),
    v1 = word(h, 4),
    v2 = word(h, 8),
    v3 = word(h, 12);
  h.fill(0);
  for (let i = 0; i < 128; i++) {
    powers[4 * i] = v0;
    powers[4 * i + 1] = v1;
    powers[4 * i + 2] = v2;
    powers[4 * i + 3] = v3;
    const carry = -(v3 & 1);
    v3 = (v3 >>> 1) | (v2 << 31);
    v2 = (v2 >>> 1) | (v1 << 31);
    v1 = (v1 >>> 1) | (v0 << 31);
    v0 = (v0 >>> 1) ^ (R0 & carry);
  }
  // table[(32 nibble positions × 16 values) × 4 words]: nibble w covers bits 4w..4w+3, its
  // most significant bit being bit 4w.
  const table = new Int32Array(32 * 16 * 4);
  for (let w = 0; w < 32; w++) {
    for (let n = 0; n < 16; n++) {
      const at = (w * 16 + n) * 4;
      for (let j = 0; j < 4; j++) {
        if (((n >>> (3 - j)) & 1) === 0) continue;
        const p = (4 * w + j) * 4;
        for (let k = 0; k < 4; k++) table[at + k] = (table[at + k] as number) ^ (powers[p + k] as number);
      }
    }
  }
  powers.fill(0);

  /** The GHASH state Y (four big-endian words), and Y = (Y ⊕ X)·H for one block X. */
  let y0 = 0,
    y1 = 0,
    y2 = 0,
    y3 = 0;
  const absorb = (x0: number, x1: number, x2: number, x3: number): void => {
    x0 ^= y0;
    x1 ^= y1;
    x2 ^= y2;
    x3 ^= y3;
    let z0 = 0,
      z1 = 0,
      z2 = 0,
      z3 = 0;
    // One pass per word of X (rather than an array of the four, which would allocate).
    for (let w = 0; w < 4; w++) {
      const xw = w === 0 ? x0 : w === 1 ? x1 : w === 2 ? x2 : x3;
      for (let k = 0, row = w * 128; k < 8; k++, row += 16) {
        const at = (row + ((xw >>> (28 - 4 * k)) & 15)) * 4;
        z0 ^= table[at] as number;
        z1 ^= table[at + 1] as number;
        z2 ^= table[at + 2] as number;
        z3 ^= table[at + 3] as number;
      }
    }
    y0 = z0;
    y1 = z1;
    y2 = z2;
    y3 = z3;
  };
  /**
   * GHASH over data[0, length) zero-padded to whole blocks (§7.1 step 5). Bytes are read one at
   * a time rather than through a DataView: a small Uint8Array lives on V8's heap, and asking for
   * its `.buffer` (as a DataView or subarray does) moves it off the heap first, which cost more
   * than the hashing here.
   */
  const absorbBytes = (data: Uint8Array, length: number): void => {
    let i = 0;
    for (; i + 16 <= length; i += 16) absorb(word(data, i), word(data, i + 4), word(data, i + 8), word(data, i + 12));
    if (i < length)
      absorb(
        paddedWord(data, i, length),
        paddedWord(data, i + 4, length),
        paddedWord(data, i + 8, length),
        paddedWord(data, i + 12, length),
      );
  };
  /** E_K of J0 and of the counter blocks after it, one per 16 bytes of a `length`-byte message. */
  const keystream = (nonce: Uint8Array, length: number): Uint8Array => {
    const blocks = 1 + Math.ceil(length / 16);
    if (counters.length < 16 * blocks) counters = new Uint8Array(new ArrayBuffer(16 * blocks));
    for (let b = 0; b < blocks; b++) {
      const at = 16 * b;
      for (let j = 0; j < GCM_NONCE_BYTES; j++) counters[at + j] = nonce[j] as number;
      const c = b + 1; // inc32 (§6.2): a 32-bit counter, which a message this size never wraps
      counters[at + 12] = c >>> 24;
      counters[at + 13] = c >>> 16;
      counters[at + 14] = c >>> 8;
      counters[at + 15] = c;
    }
    const out = encryptBlocks(counters.subarray(0, 16 * blocks));
    counters.fill(0, 0, 16 * blocks);
    return out;
  };
  /** T = GHASH_H(aad, data[0, length)) ⊕ E_K(J0), into out[at, at + 16) (§7.1 steps 4-6). */
  const tagInto = (ks: Uint8Array, aad: Uint8Array, data: Uint8Array, length: number, out: Uint8Array, at: number): void => {
    y0 = y1 = y2 = y3 = 0;
    absorbBytes(aad, aad.length);
    absorbBytes(data, length);
    // len(A) ‖ len(C) in bits, 64 bits each.
    absorb(Math.floor(aad.length / 2 ** 29), (aad.length * 8) | 0, Math.floor(length / 2 ** 29), (length * 8) | 0);
    for (let i = 0; i < 16; i++) {
      const yw = i < 4 ? y0 : i < 8 ? y1 : i < 12 ? y2 : y3;
      out[at + i] = (ks[i] as number) ^ ((yw >>> (24 - 8 * (i & 3))) & 0xff);
    }
    y0 = y1 = y2 = y3 = 0;
  };
  /** GCTR from inc32(J0) (§6.5): out[0, length) = input[0, length) ⊕ the keystream after E_K(J0). */
  const ctr = (ks: Uint8Array, input: Uint8Array, length: number, out: Uint8Array): void => {
    for (let i = 0; i < length; i++) out[i] = (input[i] as number) ^ (ks[16 + i] as number);
  };
  const checkNonce = (nonce: Uint8Array): void => {
    requireBytes(nonce, 'nonce');
    if (nonce.length !== GCM_NONCE_BYTES) {
      throw new KodeviserError('ERR_ARGUMENT', `nonce must be ${GCM_NONCE_BYTES} bytes for AES-GCM, got ${nonce.length}`);
    }
  };
  const expected = new Uint8Array(GCM_TAG_BYTES);

  return Object.freeze({
    seal(nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array = EMPTY): Uint8Array {
      checkNonce(nonce);
      requireBytes(plaintext, 'plaintext');
      requireBytes(aad, 'aad');
      const length = plaintext.length;
      const ks = keystream(nonce, length);
      const out = new Uint8Array(length + GCM_TAG_BYTES);
      ctr(ks, plaintext, length, out);
      tagInto(ks, aad, out, length, out, length);
      ks.fill(0);
      return out;
    },
    open(nonce: Uint8Array, sealed: Uint8Array, aad: Uint8Array = EMPTY): Uint8Array | null {
      checkNonce(nonce);
      requireBytes(sealed, 'sealed');
      requireBytes(aad, 'aad');
      const length = sealed.length - GCM_TAG_BYTES;
      if (length < 0) return null;
      const ks = keystream(nonce, length);
      tagInto(ks, aad, sealed, length, expected, 0);
      let diff = 0;
      for (let i = 0; i < GCM_TAG_BYTES; i++) diff |= (expected[i] as number) ^ (sealed[length + i] as number);
      expected.fill(0);
      let plaintext: Uint8Array | null = null;
      if (diff === 0) {
        plaintext = new Uint8Array(length);
        ctr(ks, sealed, length, plaintext);
      }
      ks.fill(0);
      return plaintext;
    },
  });
}
