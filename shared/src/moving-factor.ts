/**
 * A moving factor: a hotp counter or a totp step. RFC 4226 makes the counter 8 bytes and RFC 6030
 * types a PSKC Counter as a 64-bit unsigned integer, but the server keeps moving factors in the
 * databases' signed 64-bit integers, so kodeviser carries them exactly from 0 up to 2^63 − 1 and
 * refuses larger ones where they come in, naming that limit.
 *
 * One representation per value: a `number` whenever it is a safe integer, a `bigint` only above
 * Number.MAX_SAFE_INTEGER. So `===` stays right (equal values are equal representations), `<` and
 * `>` compare across the two, and totp steps and ordinary counters stay plain numbers on the hot
 * path; only arithmetic needs the helpers here. In JSON a bigint is written as a decimal string
 * (JSON numbers above 2^53 − 1 lose digits in most readers).
 */
import { KodeviserError, type KodeviserErrorCode } from './errors.js';

export type MovingFactor = number | bigint;

/** 2^63 − 1, the largest moving factor: the databases' signed 64-bit integer. */
export const MAX_MOVING_FACTOR = 9223372036854775807n;
const LIMIT_TEXT = `the limit ${MAX_MOVING_FACTOR} (2^63 − 1)`;
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
/** Decimal digits beyond which a text is certainly above the limit (19 digits); parsed no further. */
const MAX_DIGITS = String(MAX_MOVING_FACTOR).length;

/** Whether `value` is a moving factor in its one representation, from 0 to 2^63 − 1. */
export function isMovingFactor(value: unknown): value is MovingFactor {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value >= 0;
  return typeof value === 'bigint' && value > MAX_SAFE && value <= MAX_MOVING_FACTOR;
}

/** `value`, or a KodeviserError `code` naming `argName` (and the limit when it is above it). */
export function requireMovingFactor(value: unknown, argName: string, code: KodeviserErrorCode = 'ERR_MOVING_FACTOR'): MovingFactor {
  if (isMovingFactor(value)) return value;
  if (typeof value === 'bigint' && value > MAX_MOVING_FACTOR) throw new KodeviserError(code, `${argName} ${value} is above ${LIMIT_TEXT}`);
  throw new KodeviserError(
    code,
    `${argName} must be an integer from 0 to 2^63 − 1 (a number up to 2^53 − 1, a bigint above), got ${describe(value)}`,
  );
}

/**
 * The moving factor of an integer worked out as a bigint: a number when it is a safe integer. Also
 * for the −1 of a token before its first accept, and for anything else in the safe range; the
 * limit is the business of whoever takes the value in (`fromBigInt`, `parseMovingFactor`).
 */
export function normalizeMovingFactor(value: bigint): MovingFactor {
  return value <= MAX_SAFE && value >= -MAX_SAFE ? Number(value) : value;
}

/**
 * `m + n`, in the one representation, for a small safe integer `n` (a window's reach, ±1): in
 * numbers unless the sum leaves the safe range.
 */
export function addToMovingFactor(m: MovingFactor, n: number): MovingFactor {
  if (typeof m === 'number') {
    const sum = m + n;
    if (Number.isSafeInteger(sum)) return sum;
    return normalizeMovingFactor(BigInt(m) + BigInt(n));
  }
  return normalizeMovingFactor(m + BigInt(n));
}

/** `b − a` as a number, for moving factors whose distance is small (a window's span). */
export function movingFactorDistance(a: MovingFactor, b: MovingFactor): number {
  return typeof a === 'number' && typeof b === 'number' ? b - a : Number(BigInt(b) - BigInt(a));
}

/** The moving factor of a bigint from 0 to 2^63 − 1, else a KodeviserError `code` naming `what` and the limit. */
export function movingFactorFromBigInt(value: bigint, what: string, code: KodeviserErrorCode = 'ERR_MOVING_FACTOR'): MovingFactor {
  if (value < 0n) throw new KodeviserError(code, `${what} must not be negative, got ${value}`);
  if (value > MAX_MOVING_FACTOR) throw new KodeviserError(code, `${what} ${value} is above ${LIMIT_TEXT}`);
  return normalizeMovingFactor(value);
}

/**
 * Decimal digits (nothing else: no sign, no spaces) as a moving factor, else a KodeviserError
 * `code` naming `what`, and the limit when the number is above it.
 */
export function parseMovingFactor(text: string, what: string, code: KodeviserErrorCode = 'ERR_MOVING_FACTOR'): MovingFactor {
  if (typeof text !== 'string' || !/^[0-9]+$/.test(text)) {
    throw new KodeviserError(code, `${what} must be decimal digits, got ${describe(text)}`);
  }
  // Up to 15 digits is below 2^53: the common case, without a bigint.
  if (text.length <= 15) return Number(text);
  const digits = text.replace(/^0+(?=.)/, '');
  if (digits.length > MAX_DIGITS) throw new KodeviserError(code, `${what} ${shorten(digits)} is above ${LIMIT_TEXT}`);
  return movingFactorFromBigInt(BigInt(digits), what, code);
}

/** A moving factor as JSON writes it: a number up to 2^53 − 1, a decimal string above. */
export function movingFactorToJson(m: MovingFactor): number | string {
  return typeof m === 'number' ? m : m.toString();
}

/**
 * A moving factor from JSON: a safe non-negative integer, or a decimal string (the form for one
 * above 2^53 − 1, which a JSON number cannot carry exactly); else a KodeviserError `code` naming `what`.
 */
export function movingFactorFromJson(value: unknown, what: string, code: KodeviserErrorCode = 'ERR_MOVING_FACTOR'): MovingFactor {
  if (typeof value === 'string') return parseMovingFactor(value, what, code);
  if (typeof value === 'number' && Number.isInteger(value) && value > Number.MAX_SAFE_INTEGER) {
    throw new KodeviserError(code, `${what} ${value} is above 2^53 − 1 and so not exact as a JSON number: give it as a decimal string`);
  }
  return requireMovingFactor(value, what, code);
}

function describe(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(shorten(value)) : typeof value === 'bigint' ? `${value}n` : String(value);
}

const shorten = (text: string): string => (text.length > 40 ? `${text.slice(0, 40)}…` : text);
