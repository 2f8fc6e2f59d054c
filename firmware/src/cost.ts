import { KodeviserError, type Primitive } from '@kodeviser/shared';

/**
 * MCU cycles for one code on a 16-bit MCU (MSP430 class), the emulator's cost model. The MAC is
 * over one 8-byte counter with the key state precomputed (as createOtp does), so:
 * - CMAC-AES: one block encryption. AES-128 ≈ 2,100 cycles: Buhrow et al., "Block Cipher Speed
 *   and Energy Efficiency Records on the MSP430" (132 cycles/byte, 2.18 µJ/block), the figure
 *   docs/token.md gives. AES-192/256 scale by rounds (12/10, 14/10).
 * - CMAC-TDEA: one TDEA block = three DES. DES ≈ 4,000 cycles is an estimate (bit permutations
 *   cost more on a 16-bit core than AES's byte operations), not a measurement.
 * - HMAC: two compressions (inner over the counter, outer over the inner digest). Estimates for
 *   a 16-bit core with 32-bit arithmetic in pairs of registers: SHA-1 ≈ 5,000, SHA-256 ≈ 9,000,
 *   SHA-512 (64-bit words in four registers) ≈ 35,000 cycles per compression.
 * Plus ≈ 600 cycles for truncation and the decimal conversion (a 32-bit modulo on a 16-bit MCU).
 */
const MAC_CYCLES: Readonly<Record<Primitive, number>> = {
  sha1: 2 * 5_000,
  sha256: 2 * 9_000,
  sha512: 2 * 35_000,
  aes128: 2_100,
  aes192: 2_520,
  aes256: 2_940,
  tdes: 3 * 4_000,
};
const TRUNCATE_CYCLES = 600;

export function cyclesPerCode(primitive: Primitive): number {
  if (!Object.hasOwn(MAC_CYCLES, primitive)) {
    throw new KodeviserError('ERR_ARGUMENT', `primitive must be one of ${Object.keys(MAC_CYCLES).join(', ')}; got ${String(primitive)}`);
  }
  return MAC_CYCLES[primitive] + TRUNCATE_CYCLES;
}
