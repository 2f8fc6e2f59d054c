/**
 * CMAC, NIST SP 800-38B, over any BlockCipher: with AES it is RFC 4493 (Rb = 0x87), with the
 * 64-bit TDEA block it is CMAC-TDEA (Rb = 0x1b). @noble/ciphers has an AES-only CMAC; the tdes
 * profiles need the 64-bit one, so the mode is written once here for both block sizes. The
 * subkeys K1, K2 are derived once per key, as SP 800-38B §6.1 allows ("may be precomputed").
 */
import type { BlockCipher } from './block-cipher.js';
import { requireBytes } from './bytes.js';
import { KodeviserError } from './errors.js';

/** The constant R_b of SP 800-38B §5.3, by block size in bytes. */
const RB: Readonly<Record<number, number>> = { 8: 0x1b, 16: 0x87 };

export interface Cmac {
  readonly blockBytes: number;
  /** The full-length tag T = MSB_b(CIPH_K(...)) of SP 800-38B §6.2 (no truncation). */
  mac(message: Uint8Array): Uint8Array;
  /** Copies of the subkeys, for checking against the published intermediate values. */
  subkeys(): { k1: Uint8Array; k2: Uint8Array };
}

/** Doubling in GF(2^b): shift left one bit, and fold the carry back in with R_b. */
function dbl(block: Uint8Array, rb: number): Uint8Array {
  const out = new Uint8Array(block.length);
  let carry = 0;
  for (let i = block.length - 1; i >= 0; i--) {
    const byte = block[i] as number;
    out[i] = ((byte << 1) | carry) & 0xff;
    carry = byte >>> 7;
  }
  out[block.length - 1] = (out[block.length - 1] as number) ^ (carry * rb);
  return out;
}

export function createCmac(cipher: BlockCipher): Cmac {
  const b = cipher.blockBytes;
  const rb = RB[b];
  if (rb === undefined) throw new KodeviserError('ERR_ARGUMENT', `cipher.blockBytes must be 8 or 16, got ${b}`);
  const l = new Uint8Array(b);
  cipher.encryptBlock(l);
  const k1 = dbl(l, rb);
  const k2 = dbl(k1, rb);
  l.fill(0);

  return {
    blockBytes: b,
    subkeys: () => ({ k1: k1.slice(), k2: k2.slice() }),
    mac(message) {
      requireBytes(message, 'message');
      const blocks = Math.max(1, Math.ceil(message.length / b));
      const lastComplete = message.length > 0 && message.length % b === 0;
      const x = new Uint8Array(b);
      for (let i = 0; i < blocks - 1; i++) {
        for (let j = 0; j < b; j++) x[j] = (x[j] as number) ^ (message[i * b + j] as number);
        cipher.encryptBlock(x);
      }
      // M_n* ⊕ K1 when the last block is complete, else (M_n* ‖ 10…0) ⊕ K2.
      const tail = message.subarray((blocks - 1) * b);
      const subkey = lastComplete ? k1 : k2;
      for (let j = 0; j < b; j++) {
        const m = j < tail.length ? (tail[j] as number) : j === tail.length ? 0x80 : 0;
        x[j] = (x[j] as number) ^ m ^ (subkey[j] as number);
      }
      cipher.encryptBlock(x);
      return x;
    },
  };
}
