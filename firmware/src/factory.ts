/**
 * Checks on what the factory programmer sends before sealing (docs/token.md, types.ts
 * Personalisation). A refused command is an expected condition of the production line, not a
 * fault of the firmware, so the answer is a reason string for `factory-reply`, naming the field,
 * never an exception. The key-length rules are the OTP core's own (createOtp), plus the
 * personalisation record's room for 64 key bytes (nvm.ts).
 */
import { createOtp, isProfileName, isValidSerial, type Otp } from '@kodeviser/shared';
import { MAX_KEY_BYTES } from './nvm.js';
import type { Personalisation } from './types.js';

export type Checked = { ok: true; otp: Otp } | { ok: false; reason: string };

export function checkPersonalisation(data: unknown): Checked {
  if (typeof data !== 'object' || data === null) return { ok: false, reason: 'data: must be an object' };
  const p = data as Partial<Record<keyof Personalisation, unknown>>;
  if (typeof p.profile !== 'string' || !isProfileName(p.profile))
    return { ok: false, reason: `profile: unknown profile ${String(p.profile)}` };
  if (!(p.key instanceof Uint8Array)) return { ok: false, reason: 'key: must be bytes' };
  if (p.key.length > MAX_KEY_BYTES) return { ok: false, reason: `key: at most ${MAX_KEY_BYTES} bytes fit the token, got ${p.key.length}` };
  if (typeof p.serial !== 'string' || !/^[0-9]{10}$/.test(p.serial) || !isValidSerial(p.serial)) {
    return { ok: false, reason: 'serial: must be ten digits ending in a valid Luhn check digit' };
  }
  if (typeof p.digits !== 'number' || !Number.isInteger(p.digits) || p.digits < 6 || p.digits > 8) {
    return { ok: false, reason: `digits: must be an integer from 6 to 8, got ${String(p.digits)}` };
  }
  if (p.step !== 30 && p.step !== 60) return { ok: false, reason: `step: must be 30 or 60 seconds, got ${String(p.step)}` };
  // below 2^52, so that the counter stays a safe integer for more presses than a cell can power
  if (typeof p.counter !== 'number' || !Number.isSafeInteger(p.counter) || p.counter < 0 || p.counter >= 2 ** 52) {
    return { ok: false, reason: `counter: must be an integer from 0 to 2^52 − 1, got ${String(p.counter)}` };
  }
  try {
    return { ok: true, otp: createOtp({ profile: p.profile, key: p.key, digits: p.digits, step: p.step }) };
  } catch (e) {
    // the only check left to createOtp (coded errors only) is the key length for the primitive
    return { ok: false, reason: `key: ${(e as Error).message.replace(/^key:?\s*/, '')}` };
  }
}
