/**
 * The shape every block cipher of the core takes once its key schedule is computed: CMAC
 * (NIST SP 800-38B) is written once against it, for the 64-bit DES/TDEA block and the 128-bit
 * AES block alike, and so is PSKC's tripledes-cbc (pskc-crypto.ts; its AES-CBC is noble's cbc).
 */
import { KodeviserError } from './errors.js';

export interface BlockCipher {
  /** 8 for DES and TDEA, 16 for AES. */
  readonly blockBytes: number;
  /** Encrypts one block in place. */
  encryptBlock(block: Uint8Array): void;
  /** Decrypts one block in place. */
  decryptBlock(block: Uint8Array): void;
}

export function checkBlock(block: Uint8Array, blockBytes: number): void {
  if (!(block instanceof Uint8Array) || block.length !== blockBytes) {
    throw new KodeviserError('ERR_ARGUMENT', `block must be a Uint8Array of ${blockBytes} bytes`);
  }
}
