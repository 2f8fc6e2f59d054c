/**
 * DES (FIPS 46-3) and TDEA, the Triple Data Encryption Algorithm (NIST SP 800-67 Rev. 2), as
 * block ciphers for CMAC. The token's hotp-tdes/totp-tdes profiles run CMAC-TDEA, and the
 * device's own datasheet lists "DES / 3-DES": neither @noble/ciphers nor node:crypto's default
 * OpenSSL 3 provider offers single DES, so the cipher lives here, written from the standard's
 * tables. The S-boxes and the permutation P are folded into eight 64-entry tables at load time
 * (the usual "SP box" form); the key schedule runs once per key. Parity bits are ignored, as
 * FIPS 46-3 allows.
 */
import { checkBlock, type BlockCipher } from './block-cipher.js';
import { requireBytes } from './bytes.js';
import { KodeviserError } from './errors.js';

// FIPS 46-3 tables, in the standard's rows. Bit positions count from 1 at the most significant bit, as the standard does.
// prettier-ignore
const IP = [
  58, 50, 42, 34, 26, 18, 10, 2, 60, 52, 44, 36, 28, 20, 12, 4,
  62, 54, 46, 38, 30, 22, 14, 6, 64, 56, 48, 40, 32, 24, 16, 8,
  57, 49, 41, 33, 25, 17, 9, 1, 59, 51, 43, 35, 27, 19, 11, 3,
  61, 53, 45, 37, 29, 21, 13, 5, 63, 55, 47, 39, 31, 23, 15, 7,
];
/** IP⁻¹ is the inverse of IP by definition; computing it rules out a second transcription. */
const FP = IP.map((_, i) => IP.indexOf(i + 1) + 1);
// prettier-ignore
const P = [
  16, 7, 20, 21, 29, 12, 28, 17, 1, 15, 23, 26, 5, 18, 31, 10,
  2, 8, 24, 14, 32, 27, 3, 9, 19, 13, 30, 6, 22, 11, 4, 25,
];
// prettier-ignore
const PC1 = [
  57, 49, 41, 33, 25, 17, 9, 1, 58, 50, 42, 34, 26, 18,
  10, 2, 59, 51, 43, 35, 27, 19, 11, 3, 60, 52, 44, 36,
  63, 55, 47, 39, 31, 23, 15, 7, 62, 54, 46, 38, 30, 22,
  14, 6, 61, 53, 45, 37, 29, 21, 13, 5, 28, 20, 12, 4,
];
// prettier-ignore
const PC2 = [
  14, 17, 11, 24, 1, 5, 3, 28, 15, 6, 21, 10, 23, 19, 12, 4,
  26, 8, 16, 7, 27, 20, 13, 2, 41, 52, 31, 37, 47, 55, 30, 40,
  51, 45, 33, 48, 44, 49, 39, 56, 34, 53, 46, 42, 50, 36, 29, 32,
];
const KEY_SHIFTS = [1, 1, 2, 2, 2, 2, 2, 2, 1, 2, 2, 2, 2, 2, 2, 1];
// prettier-ignore
const S_BOXES = [
  [14, 4, 13, 1, 2, 15, 11, 8, 3, 10, 6, 12, 5, 9, 0, 7, 0, 15, 7, 4, 14, 2, 13, 1, 10, 6, 12, 11, 9, 5, 3, 8,
    4, 1, 14, 8, 13, 6, 2, 11, 15, 12, 9, 7, 3, 10, 5, 0, 15, 12, 8, 2, 4, 9, 1, 7, 5, 11, 3, 14, 10, 0, 6, 13],
  [15, 1, 8, 14, 6, 11, 3, 4, 9, 7, 2, 13, 12, 0, 5, 10, 3, 13, 4, 7, 15, 2, 8, 14, 12, 0, 1, 10, 6, 9, 11, 5,
    0, 14, 7, 11, 10, 4, 13, 1, 5, 8, 12, 6, 9, 3, 2, 15, 13, 8, 10, 1, 3, 15, 4, 2, 11, 6, 7, 12, 0, 5, 14, 9],
  [10, 0, 9, 14, 6, 3, 15, 5, 1, 13, 12, 7, 11, 4, 2, 8, 13, 7, 0, 9, 3, 4, 6, 10, 2, 8, 5, 14, 12, 11, 15, 1,
    13, 6, 4, 9, 8, 15, 3, 0, 11, 1, 2, 12, 5, 10, 14, 7, 1, 10, 13, 0, 6, 9, 8, 7, 4, 15, 14, 3, 11, 5, 2, 12],
  [7, 13, 14, 3, 0, 6, 9, 10, 1, 2, 8, 5, 11, 12, 4, 15, 13, 8, 11, 5, 6, 15, 0, 3, 4, 7, 2, 12, 1, 10, 14, 9,
    10, 6, 9, 0, 12, 11, 7, 13, 15, 1, 3, 14, 5, 2, 8, 4, 3, 15, 0, 6, 10, 1, 13, 8, 9, 4, 5, 11, 12, 7, 2, 14],
  [2, 12, 4, 1, 7, 10, 11, 6, 8, 5, 3, 15, 13, 0, 14, 9, 14, 11, 2, 12, 4, 7, 13, 1, 5, 0, 15, 10, 3, 9, 8, 6,
    4, 2, 1, 11, 10, 13, 7, 8, 15, 9, 12, 5, 6, 3, 0, 14, 11, 8, 12, 7, 1, 14, 2, 13, 6, 15, 0, 9, 10, 4, 5, 3],
  [12, 1, 10, 15, 9, 2, 6, 8, 0, 13, 3, 4, 14, 7, 5, 11, 10, 15, 4, 2, 7, 12, 9, 5, 6, 1, 13, 14, 0, 11, 3, 8,
    9, 14, 15, 5, 2, 8, 12, 3, 7, 0, 4, 10, 1, 13, 11, 6, 4, 3, 2, 12, 9, 5, 15, 10, 11, 14, 1, 7, 6, 0, 8, 13],
  [4, 11, 2, 14, 15, 0, 8, 13, 3, 12, 9, 7, 5, 10, 6, 1, 13, 0, 11, 7, 4, 9, 1, 10, 14, 3, 5, 12, 2, 15, 8, 6,
    1, 4, 11, 13, 12, 3, 7, 14, 10, 15, 6, 8, 0, 5, 9, 2, 6, 11, 13, 8, 1, 4, 10, 7, 9, 5, 0, 15, 14, 2, 3, 12],
  [13, 2, 8, 4, 6, 15, 11, 1, 10, 9, 3, 14, 5, 0, 12, 7, 1, 15, 13, 8, 10, 3, 7, 4, 12, 5, 6, 11, 0, 14, 9, 2,
    7, 11, 4, 1, 9, 12, 14, 2, 0, 6, 10, 13, 15, 3, 5, 8, 2, 1, 14, 7, 4, 10, 8, 13, 15, 12, 9, 0, 3, 5, 6, 11],
];

/** Bit `pos` (1 = most significant) of the 64-bit value hi‖lo. */
function bitAt(hi: number, lo: number, pos: number): number {
  return pos <= 32 ? (hi >>> (32 - pos)) & 1 : (lo >>> (64 - pos)) & 1;
}

function permute64(hi: number, lo: number, table: readonly number[]): [number, number] {
  let outHi = 0;
  let outLo = 0;
  for (let i = 0; i < 32; i++) outHi = (outHi << 1) | bitAt(hi, lo, table[i] as number);
  for (let i = 32; i < 64; i++) outLo = (outLo << 1) | bitAt(hi, lo, table[i] as number);
  return [outHi >>> 0, outLo >>> 0];
}

/** SP[i][six bits in] = P(S-box i's four bits out, in their place among the 32). */
const SP: readonly Uint32Array[] = S_BOXES.map((box, i) => {
  const table = new Uint32Array(64);
  for (let six = 0; six < 64; six++) {
    const row = ((six >> 4) & 2) | (six & 1);
    const column = (six >> 1) & 15;
    const word = (box[row * 16 + column] as number) << (28 - 4 * i);
    let permuted = 0;
    for (const pos of P) permuted = (permuted << 1) | ((word >>> (32 - pos)) & 1);
    table[six] = permuted >>> 0;
  }
  return table;
});

/** The sixteen 48-bit round keys, each as eight 6-bit groups (FIPS 46-3 "key schedule"). */
function keySchedule(key: Uint8Array): Uint8Array {
  const bits = (pos: number): number => ((key[(pos - 1) >> 3] as number) >> (7 - ((pos - 1) & 7))) & 1;
  const c = PC1.slice(0, 28).map(bits);
  const d = PC1.slice(28).map(bits);
  const schedule = new Uint8Array(16 * 8);
  KEY_SHIFTS.forEach((shift, round) => {
    c.push(...c.splice(0, shift));
    d.push(...d.splice(0, shift));
    const cd = [...c, ...d];
    for (let group = 0; group < 8; group++) {
      let six = 0;
      for (let j = 0; j < 6; j++) six = (six << 1) | (cd[(PC2[group * 6 + j] as number) - 1] as number);
      schedule[round * 8 + group] = six;
    }
  });
  return schedule;
}

/** The cipher function f(R, K): expansion E read as eight overlapping 6-bit windows of R. */
function f(r: number, schedule: Uint8Array, round: number): number {
  let out = 0;
  for (let i = 0; i < 8; i++) {
    const rot = (4 * i + 31) & 31; // brings bit 4i (E's first pick for group i) to the top
    const six = ((r << rot) | (r >>> (32 - rot))) >>> 26;
    out |= (SP[i] as Uint32Array)[six ^ (schedule[round * 8 + i] as number)] as number;
  }
  return out >>> 0;
}

/** Sixteen rounds on the permuted block; returns R16‖L16, the preoutput (the halves swapped). */
function sixteenRounds(schedule: Uint8Array, l: number, r: number, decrypt: boolean): [number, number] {
  for (let n = 0; n < 16; n++) {
    const next = (l ^ f(r, schedule, decrypt ? 15 - n : n)) >>> 0;
    l = r;
    r = next;
  }
  return [r, l];
}

function readBlock(block: Uint8Array): [number, number] {
  const word = (o: number): number =>
    (((block[o] as number) << 24) | ((block[o + 1] as number) << 16) | ((block[o + 2] as number) << 8) | (block[o + 3] as number)) >>> 0;
  return [word(0), word(4)];
}

function writeBlock(block: Uint8Array, hi: number, lo: number): void {
  for (let i = 0; i < 4; i++) {
    block[i] = hi >>> (24 - 8 * i);
    block[4 + i] = lo >>> (24 - 8 * i);
  }
}

/**
 * One DES pass per stage, encrypting or decrypting. Between stages IP⁻¹ and IP cancel, so the
 * chain stays in the permuted domain and only swaps the halves back.
 */
function cryptStages(block: Uint8Array, stages: ReadonlyArray<[Uint8Array, boolean]>): void {
  let [l, r] = permute64(...readBlock(block), IP);
  for (const [schedule, decrypt] of stages) [l, r] = sixteenRounds(schedule, l, r, decrypt);
  writeBlock(block, ...permute64(l, r, FP));
}

/** Single DES with an 8-byte key (parity bits ignored). Kept for the 'DES' the device names. */
export function createDes(key: Uint8Array): BlockCipher {
  requireBytes(key, 'key');
  if (key.length !== 8) throw new KodeviserError('ERR_KEY_LENGTH', `key must be 8 bytes for DES, got ${key.length}`);
  const k = keySchedule(key);
  return {
    blockBytes: 8,
    encryptBlock: (block) => {
      checkBlock(block, 8);
      cryptStages(block, [[k, false]]);
    },
    decryptBlock: (block) => {
      checkBlock(block, 8);
      cryptStages(block, [[k, true]]);
    },
  };
}

/** Whether two DES keys are equal once the parity bits are dropped. */
function sameDesKey(a: Uint8Array, b: Uint8Array): boolean {
  return a.every((byte, i) => ((byte ^ (b[i] as number)) & 0xfe) === 0);
}

/**
 * TDEA in EDE form: C = E_K3(D_K2(E_K1(P))). A 24-byte key is keying option 1 (K1, K2, K3);
 * a 16-byte key is keying option 2 (K3 = K1). SP 800-67 requires K1 ≠ K2 and K2 ≠ K3, since
 * otherwise the first two or last two stages cancel and what is left is single DES.
 */
export function createTdea(key: Uint8Array): BlockCipher {
  requireBytes(key, 'key');
  if (key.length !== 16 && key.length !== 24) {
    throw new KodeviserError('ERR_KEY_LENGTH', `key must be 16 or 24 bytes for TDEA, got ${key.length}`);
  }
  const k1 = key.subarray(0, 8);
  const k2 = key.subarray(8, 16);
  const k3 = key.length === 24 ? key.subarray(16, 24) : k1;
  if (sameDesKey(k1, k2) || sameDesKey(k2, k3)) {
    throw new KodeviserError('ERR_ARGUMENT', 'key: TDEA requires K1 ≠ K2 and K2 ≠ K3 (SP 800-67), or it is single DES');
  }
  const [s1, s2, s3] = [keySchedule(k1), keySchedule(k2), keySchedule(k3)];
  const encrypt: Array<[Uint8Array, boolean]> = [
    [s1, false],
    [s2, true],
    [s3, false],
  ];
  const decrypt: Array<[Uint8Array, boolean]> = [
    [s3, true],
    [s2, false],
    [s1, true],
  ];
  return {
    blockBytes: 8,
    encryptBlock: (block) => {
      checkBlock(block, 8);
      cryptStages(block, encrypt);
    },
    decryptBlock: (block) => {
      checkBlock(block, 8);
      cryptStages(block, decrypt);
    },
  };
}
