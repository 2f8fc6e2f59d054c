/**
 * Byte helpers used across the core: strict hex and base64 parsing (errors name the argument)
 * and constant-time comparison, so that a code or MAC check does not leak how many leading
 * characters matched.
 */
import { KodeviserError, type KodeviserErrorCode } from './errors.js';

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

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * RFC 4648 §4 base64, strictly: a wrong character, a truncated value or non-zero bits in the last
 * character's unused positions (a value that does not re-encode to itself) is refused, the
 * error (`code`) naming `argName`. Callers that allow line-wrapped values strip whitespace first.
 */
export function base64ToBytes(text: string, argName = 'base64', code: KodeviserErrorCode = 'ERR_ARGUMENT'): Uint8Array {
  const fail = (problem: string): never => {
    throw new KodeviserError(code, `${argName} is not valid base64: ${problem}`);
  };
  if (typeof text !== 'string') fail('it is not a string');
  if (!BASE64.test(text)) fail('it contains a character outside the base64 alphabet or misplaced "="');
  if (text.length % 4 !== 0) fail(`${text.length} characters is not a whole number of 4-character groups (truncated?)`);
  const binary = atob(text);
  const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
  if (bytesToBase64(bytes) !== text) fail('the last group has non-zero padding bits');
  return bytes;
}

export function bytesToBase64(bytes: Uint8Array): string {
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary);
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
