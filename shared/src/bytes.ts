/**
 * Byte helpers used across the core: strict hex parsing (errors name the argument) and
 * constant-time comparison, so that a code or MAC check does not leak how many leading
 * characters matched.
 */
import { KodeviserError } from './errors.js';

const HEX = /^(?:[0-9a-fA-F]{2})*$/;

export function hexToBytes(hex: string, argName = 'hex'): Uint8Array {
  if (typeof hex !== 'string') throw new KodeviserError('ERR_ARGUMENT', `${argName} must be a hex string`);
  if (!HEX.test(hex)) {
    throw new KodeviserError('ERR_ARGUMENT', `${argName} must be an even number of hex digits (0-9, a-f)`);
  }
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export function bytesToHex(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += b.toString(16).padStart(2, '0');
  return s;
}

/** Compares in time that depends only on the lengths, never on where the inputs differ. */
export function constantTimeEqual(a: string | Uint8Array, b: string | Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  if (typeof a === 'string' || typeof b === 'string') {
    const sa = typeof a === 'string' ? a : String.fromCharCode(...a);
    const sb = typeof b === 'string' ? b : String.fromCharCode(...b);
    for (let i = 0; i < sa.length; i++) diff |= sa.charCodeAt(i) ^ sb.charCodeAt(i);
  } else {
    for (let i = 0; i < a.length; i++) diff |= (a[i] as number) ^ (b[i] as number);
  }
  return diff === 0;
}

/** Checks that an argument is a Uint8Array; the error names the argument. */
export function requireBytes(value: unknown, argName: string): Uint8Array {
  if (!(value instanceof Uint8Array)) {
    throw new KodeviserError('ERR_ARGUMENT', `${argName} must be a Uint8Array`);
  }
  return value;
}
