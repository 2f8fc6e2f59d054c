/**
 * SHA-512 (FIPS 180-4 §6.4) on pairs of 32-bit words, the shape of sha1.ts and sha256.ts so
 * that HMAC-SHA-512 over a counter is two compressions from precomputed pad states (hmac.ts)
 * rather than noble's streaming object cloned per code, which measured a twentieth of the
 * HMAC-SHA-1 rate. JavaScript has no fast 64-bit integers (BigInt allocates), so every 64-bit
 * word is a high and a low int32, stored in that order: the state's 16 words are then exactly
 * the digest's big-endian words, and a block is its 32 big-endian words. Additions carry from
 * the low halves, summed as unsigned numbers (exact below 2^53), into the high ones; rotations
 * by n < 32 take bits across the halves, by n > 32 swap them first. The padding is SHA-1's with a
 * 128-byte block and a 128-bit length (§5.1.2), done by absorbPadded.
 */
import { absorbPadded, wordsToBytes } from './md-padding.js';

/** H(0) of FIPS 180-4 §5.3.5, as (high, low) signed 32-bit words. */
// prettier-ignore
export const SHA512_INITIAL_STATE: readonly number[] = Object.freeze([
  0x6a09e667, 0xf3bcc908, 0xbb67ae85, 0x84caa73b, 0x3c6ef372, 0xfe94f82b, 0xa54ff53a, 0x5f1d36f1,
  0x510e527f, 0xade682d1, 0x9b05688c, 0x2b3e6c1f, 0x1f83d9ab, 0xfb41bd6b, 0x5be0cd19, 0x137e2179,
].map((x) => x | 0));

/** Words of the schedule array sha512Compress takes: 80 64-bit words as (high, low) pairs. */
export const SHA512_SCHEDULE_WORDS = 160;

/** K of FIPS 180-4 §4.2.3 as (high, low) pairs: the cube roots of the first 80 primes. */
// prettier-ignore
const K = Int32Array.from([
  0x428a2f98, 0xd728ae22, 0x71374491, 0x23ef65cd, 0xb5c0fbcf, 0xec4d3b2f, 0xe9b5dba5, 0x8189dbbc,
  0x3956c25b, 0xf348b538, 0x59f111f1, 0xb605d019, 0x923f82a4, 0xaf194f9b, 0xab1c5ed5, 0xda6d8118,
  0xd807aa98, 0xa3030242, 0x12835b01, 0x45706fbe, 0x243185be, 0x4ee4b28c, 0x550c7dc3, 0xd5ffb4e2,
  0x72be5d74, 0xf27b896f, 0x80deb1fe, 0x3b1696b1, 0x9bdc06a7, 0x25c71235, 0xc19bf174, 0xcf692694,
  0xe49b69c1, 0x9ef14ad2, 0xefbe4786, 0x384f25e3, 0x0fc19dc6, 0x8b8cd5b5, 0x240ca1cc, 0x77ac9c65,
  0x2de92c6f, 0x592b0275, 0x4a7484aa, 0x6ea6e483, 0x5cb0a9dc, 0xbd41fbd4, 0x76f988da, 0x831153b5,
  0x983e5152, 0xee66dfab, 0xa831c66d, 0x2db43210, 0xb00327c8, 0x98fb213f, 0xbf597fc7, 0xbeef0ee4,
  0xc6e00bf3, 0x3da88fc2, 0xd5a79147, 0x930aa725, 0x06ca6351, 0xe003826f, 0x14292967, 0x0a0e6e70,
  0x27b70a85, 0x46d22ffc, 0x2e1b2138, 0x5c26c926, 0x4d2c6dfc, 0x5ac42aed, 0x53380d13, 0x9d95b3df,
  0x650a7354, 0x8baf63de, 0x766a0abb, 0x3c77b2a8, 0x81c2c92e, 0x47edaee6, 0x92722c85, 0x1482353b,
  0xa2bfe8a1, 0x4cf10364, 0xa81a664b, 0xbc423001, 0xc24b8b70, 0xd0f89791, 0xc76c51a3, 0x0654be30,
  0xd192e819, 0xd6ef5218, 0xd6990624, 0x5565a910, 0xf40e3585, 0x5771202a, 0x106aa070, 0x32bbd1b8,
  0x19a4c116, 0xb8d2d0c8, 0x1e376c08, 0x5141ab53, 0x2748774c, 0xdf8eeb99, 0x34b0bcb5, 0xe19b48a8,
  0x391c0cb3, 0xc5c95a63, 0x4ed8aa4a, 0xe3418acb, 0x5b9cca4f, 0x7763e373, 0x682e6ff3, 0xd6b2b8a3,
  0x748f82ee, 0x5defb2fc, 0x78a5636f, 0x43172f60, 0x84c87814, 0xa1f0ab72, 0x8cc70208, 0x1a6439ec,
  0x90befffa, 0x23631e28, 0xa4506ceb, 0xde82bde9, 0xbef9a3f7, 0xb2c67915, 0xc67178f2, 0xe372532b,
  0xca273ece, 0xea26619c, 0xd186b8c7, 0x21c0c207, 0xeada7dd6, 0xcde0eb1e, 0xf57d4f7f, 0xee6ed178,
  0x06f067aa, 0x72176fba, 0x0a637dc5, 0xa2c898a6, 0x113f9804, 0xbef90dae, 0x1b710b35, 0x131c471b,
  0x28db77f5, 0x23047d84, 0x32caab7b, 0x40c72493, 0x3c9ebe0a, 0x15c9bebc, 0x431d67c4, 0x9c100d4c,
  0x4cc5d4be, 0xcb3e42b6, 0x597f299c, 0xfc657e2a, 0x5fcb6fab, 0x3ad6faec, 0x6c44198c, 0x4a475817,
]);

// Halves of 64-bit rotations (n the bit count): by n < 32, and by n > 32 as a rotation of the
// swapped halves by n − 32. A shift right by n < 32 has rotrLo's low half and h >>> n as its high.
const rotrHi = (h: number, l: number, n: number): number => (h >>> n) | (l << (32 - n));
const rotrLo = (h: number, l: number, n: number): number => (l >>> n) | (h << (32 - n));
const rotrBigHi = (h: number, l: number, n: number): number => (l >>> (n - 32)) | (h << (64 - n));
const rotrBigLo = (h: number, l: number, n: number): number => (h >>> (n - 32)) | (l << (64 - n));
/** The carry out of a sum of low halves taken as unsigned numbers. */
const carry = (lowSum: number): number => Math.floor(lowSum / 0x100000000);

/**
 * Compresses the 128-byte block held in w[0..31] (big-endian words, (high, low) per 64-bit
 * word) into the 16-word state; w must hold 160 words, w[32..159] is overwritten with the
 * expanded schedule.
 */
export function sha512Compress(state: Int32Array, w: Int32Array): void {
  for (let t = 32; t < 160; t += 2) {
    const xh = w[t - 30] as number;
    const xl = w[t - 29] as number;
    const yh = w[t - 4] as number;
    const yl = w[t - 3] as number;
    // σ0(W[t−15]) = ROTR1 ^ ROTR8 ^ SHR7,  σ1(W[t−2]) = ROTR19 ^ ROTR61 ^ SHR6
    const s0h = rotrHi(xh, xl, 1) ^ rotrHi(xh, xl, 8) ^ (xh >>> 7);
    const s0l = rotrLo(xh, xl, 1) ^ rotrLo(xh, xl, 8) ^ rotrLo(xh, xl, 7);
    const s1h = rotrHi(yh, yl, 19) ^ rotrBigHi(yh, yl, 61) ^ (yh >>> 6);
    const s1l = rotrLo(yh, yl, 19) ^ rotrBigLo(yh, yl, 61) ^ rotrLo(yh, yl, 6);
    // W[t] = σ1(W[t−2]) + W[t−7] + σ0(W[t−15]) + W[t−16]
    const low = (s0l >>> 0) + (s1l >>> 0) + ((w[t - 13] as number) >>> 0) + ((w[t - 31] as number) >>> 0);
    w[t] = (s0h + s1h + (w[t - 14] as number) + (w[t - 32] as number) + carry(low)) | 0;
    w[t + 1] = low | 0;
  }
  let ah = state[0] as number,
    al = state[1] as number,
    bh = state[2] as number,
    bl = state[3] as number;
  let ch = state[4] as number,
    cl = state[5] as number,
    dh = state[6] as number,
    dl = state[7] as number;
  let eh = state[8] as number,
    el = state[9] as number,
    fh = state[10] as number,
    fl = state[11] as number;
  let gh = state[12] as number,
    gl = state[13] as number,
    hh = state[14] as number,
    hl = state[15] as number;
  for (let t = 0; t < 160; t += 2) {
    // T1 = h + Σ1(e) + Ch(e, f, g) + K[t] + W[t],  Σ1 = ROTR14 ^ ROTR18 ^ ROTR41
    const S1h = rotrHi(eh, el, 14) ^ rotrHi(eh, el, 18) ^ rotrBigHi(eh, el, 41);
    const S1l = rotrLo(eh, el, 14) ^ rotrLo(eh, el, 18) ^ rotrBigLo(eh, el, 41);
    const t1Low = (hl >>> 0) + (S1l >>> 0) + ((gl ^ (el & (fl ^ gl))) >>> 0) + ((K[t + 1] as number) >>> 0) + ((w[t + 1] as number) >>> 0);
    const t1h = (hh + S1h + (gh ^ (eh & (fh ^ gh))) + (K[t] as number) + (w[t] as number) + carry(t1Low)) | 0;
    const t1l = t1Low | 0;
    // T2 = Σ0(a) + Maj(a, b, c),  Σ0 = ROTR28 ^ ROTR34 ^ ROTR39
    const S0h = rotrHi(ah, al, 28) ^ rotrBigHi(ah, al, 34) ^ rotrBigHi(ah, al, 39);
    const S0l = rotrLo(ah, al, 28) ^ rotrBigLo(ah, al, 34) ^ rotrBigLo(ah, al, 39);
    const t2Low = (S0l >>> 0) + (((al & bl) | (cl & (al | bl))) >>> 0);
    const t2h = S0h + ((ah & bh) | (ch & (ah | bh))) + carry(t2Low);
    hh = gh;
    hl = gl;
    gh = fh;
    gl = fl;
    fh = eh;
    fl = el;
    const eLow = (dl >>> 0) + (t1l >>> 0);
    eh = (dh + t1h + carry(eLow)) | 0;
    el = eLow | 0;
    dh = ch;
    dl = cl;
    ch = bh;
    cl = bl;
    bh = ah;
    bl = al;
    const aLow = (t1l >>> 0) + (t2Low >>> 0);
    ah = (t1h + t2h + carry(aLow)) | 0;
    al = aLow | 0;
  }
  const add = (i: number, h: number, l: number): void => {
    const low = ((state[i + 1] as number) >>> 0) + (l >>> 0);
    state[i] = ((state[i] as number) + h + carry(low)) | 0;
    state[i + 1] = low | 0;
  };
  add(0, ah, al);
  add(2, bh, bl);
  add(4, ch, cl);
  add(6, dh, dl);
  add(8, eh, el);
  add(10, fh, fl);
  add(12, gh, gl);
  add(14, hh, hl);
}

/** SHA-512 of a whole message: 64 bytes. */
export function sha512(message: Uint8Array): Uint8Array {
  const state = Int32Array.from(SHA512_INITIAL_STATE);
  absorbPadded(sha512Compress, state, new Int32Array(SHA512_SCHEDULE_WORDS), message, 0, 128);
  return wordsToBytes(state, 16, new Uint8Array(64));
}
