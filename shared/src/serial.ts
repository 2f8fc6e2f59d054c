/**
 * Serial numbers as printed on the back of the token: ten digits, the last a Luhn check digit
 * (ISO/IEC 7812-1 Annex B, the "mod 10" of payment cards), shown as NN-NNNNNNN-N. The check
 * digit catches every single mistyped digit and most swaps of neighbours when a user types the
 * serial during activation.
 */
import { KodeviserError } from './errors.js';

const DIGITS = /^[0-9]+$/;
const PRINTED = /^([0-9]{2})-([0-9]{7})-([0-9])$/;
const PLAIN = /^[0-9]{10}$/;

/** The digit that makes `digits` followed by it pass the Luhn check. */
export function luhnCheckDigit(digits: string): number {
  if (typeof digits !== 'string' || !DIGITS.test(digits)) {
    throw new KodeviserError('ERR_SERIAL', 'digits must be a non-empty string of decimal digits');
  }
  let sum = 0;
  // Doubling starts at the rightmost payload digit, the one next to the check digit.
  for (let i = digits.length - 1, double = true; i >= 0; i--, double = !double) {
    let d = digits.charCodeAt(i) - 48;
    if (double) d = d * 2 > 9 ? d * 2 - 9 : d * 2;
    sum += d;
  }
  return (10 - (sum % 10)) % 10;
}

/** Nine digits of body -> the ten-digit serial with its check digit appended. */
export function makeSerial(body9: string): string {
  if (typeof body9 !== 'string' || !/^[0-9]{9}$/.test(body9)) {
    throw new KodeviserError('ERR_SERIAL', 'body9 must be exactly 9 decimal digits');
  }
  return body9 + String(luhnCheckDigit(body9));
}

/** '12-3456789-7' or '1234567897' (surrounding spaces allowed) -> '1234567897'. */
export function parseSerial(text: string): string {
  if (typeof text !== 'string') throw new KodeviserError('ERR_SERIAL', 'serial must be a string');
  const trimmed = text.trim();
  const printed = PRINTED.exec(trimmed);
  const serial = printed ? printed.slice(1).join('') : trimmed;
  if (!PLAIN.test(serial)) {
    throw new KodeviserError('ERR_SERIAL', 'serial must be 10 digits, as 1234567897 or 12-3456789-7');
  }
  if (luhnCheckDigit(serial.slice(0, 9)) !== serial.charCodeAt(9) - 48) {
    throw new KodeviserError('ERR_SERIAL', 'serial fails its check digit: a digit was probably mistyped');
  }
  return serial;
}

/** '1234567897' (or an already printed serial) -> '12-3456789-7'. */
export function formatSerial(serial: string): string {
  const s = parseSerial(serial);
  return `${s.slice(0, 2)}-${s.slice(2, 9)}-${s.slice(9)}`;
}

export function isValidSerial(text: string): boolean {
  try {
    parseSerial(text);
    return true;
  } catch {
    return false;
  }
}
