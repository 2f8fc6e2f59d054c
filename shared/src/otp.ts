/**
 * The fourteen OTP profiles of docs/otp-algorithms.md: HOTP (RFC 4226) and TOTP (RFC 6238) over
 * HMAC-SHA-1/256/512 exactly as the RFCs define them, and over CMAC-AES/CMAC-TDEA
 * (NIST SP 800-38B) with the block-cipher truncation the document fixes, o = M[n−1] mod (n−4),
 * so that the byte that chose the offset is never part of the value, as in RFC 4226.
 * The firmware computes one code per press, and the server checks a window of moving factors per
 * login, so createOtp does the key-dependent work once: the HMAC pad states, the cipher key
 * schedule and the CMAC subkeys.
 */
import { createAes } from './aes.js';
import { requireBytes } from './bytes.js';
import { createCmac } from './cmac.js';
import { createTdea } from './des.js';
import { KodeviserError } from './errors.js';
import { createHmac } from './hmac.js';
import { addToMovingFactor, movingFactorDistance, requireMovingFactor, type MovingFactor } from './moving-factor.js';

export type Mode = 'hotp' | 'totp';
export type Primitive = 'sha1' | 'sha256' | 'sha512' | 'aes128' | 'aes192' | 'aes256' | 'tdes';
export type ProfileName = `${Mode}-${Primitive}`;

const MODES: readonly Mode[] = ['hotp', 'totp'];
const PRIMITIVES: readonly Primitive[] = ['sha1', 'sha256', 'sha512', 'aes128', 'aes192', 'aes256', 'tdes'];

/** All fourteen, hotp first, in the order of the primitive table. */
export const PROFILES: readonly ProfileName[] = Object.freeze(
  MODES.flatMap((mode) => PRIMITIVES.map((primitive): ProfileName => `${mode}-${primitive}`)),
);

/**
 * The facts of each primitive, in one place (docs/otp-algorithms.md): the MAC it is, the key
 * length a device is made with and the lengths createOtp accepts, and the block the MAC works on.
 */
export interface PrimitiveFacts {
  readonly mac: 'hmac' | 'cmac';
  /**
   * The key length a device is made with: the hash's output for HMAC (RFC 4226 §4 R6 asks for at
   * least 128 bits and recommends 160; RFC 6238 §5.1 the hash's length), the cipher's key for CMAC.
   */
  readonly keyBytes: number;
  /** The key lengths createOtp accepts; null for HMAC, which takes any non-empty key. */
  readonly keyLengths: readonly number[] | null;
  /** The block the MAC works on: the hash's block (HMAC), the cipher's (CMAC). */
  readonly blockBytes: number;
}

export const PRIMITIVE_FACTS: Readonly<Record<Primitive, PrimitiveFacts>> = Object.freeze({
  sha1: { mac: 'hmac', keyBytes: 20, keyLengths: null, blockBytes: 64 },
  sha256: { mac: 'hmac', keyBytes: 32, keyLengths: null, blockBytes: 64 },
  sha512: { mac: 'hmac', keyBytes: 64, keyLengths: null, blockBytes: 128 },
  aes128: { mac: 'cmac', keyBytes: 16, keyLengths: [16], blockBytes: 16 },
  aes192: { mac: 'cmac', keyBytes: 24, keyLengths: [24], blockBytes: 16 },
  aes256: { mac: 'cmac', keyBytes: 32, keyLengths: [32], blockBytes: 16 },
  tdes: { mac: 'cmac', keyBytes: 24, keyLengths: [16, 24], blockBytes: 8 },
});

/** A profile's mode and primitive with the primitive's facts. */
export interface ProfileInfo extends PrimitiveFacts {
  readonly profile: ProfileName;
  readonly mode: Mode;
  readonly primitive: Primitive;
}

/**
 * Each profile's facts, looked up rather than split: a server makes an Otp for every token it
 * has not seen lately, from a profile string fresh out of its database.
 */
const PROFILE_INFO: ReadonlyMap<string, ProfileInfo> = new Map(
  PROFILES.map((profile) => {
    const [mode, primitive] = profile.split('-') as [Mode, Primitive];
    return [profile, Object.freeze({ profile, mode, primitive, ...PRIMITIVE_FACTS[primitive] })];
  }),
);

export function isProfileName(name: string): name is ProfileName {
  return PROFILE_INFO.has(name);
}

/** The profile's facts; ERR_UNKNOWN_PROFILE naming the profiles when `name` is none of them. */
export function profileInfo(name: string): ProfileInfo {
  const info = typeof name === 'string' ? PROFILE_INFO.get(name) : undefined;
  if (info === undefined) {
    throw new KodeviserError('ERR_UNKNOWN_PROFILE', `profile must be one of ${PROFILES.join(', ')}; got ${String(name)}`);
  }
  return info;
}

export function parseProfile(name: string): { mode: Mode; primitive: Primitive } {
  const { mode, primitive } = profileInfo(name);
  return { mode, primitive };
}

export interface OtpOptions {
  profile: ProfileName;
  key: Uint8Array;
  /** 6..8, default 6. */
  digits?: number;
  /** totp time step X in seconds (30 or 60), default 30. */
  step?: number;
  /** totp T0 in unix seconds, default 0. */
  t0?: number;
}

export interface Otp {
  readonly profile: ProfileName;
  readonly mode: Mode;
  readonly primitive: Primitive;
  readonly digits: number;
  readonly step: number;
  readonly t0: number;
  /** The code for moving factor c (hotp counter or totp step, moving-factor.ts: up to 2^63 − 1). */
  generate(c: MovingFactor): string;
  /**
   * Searches c in [from, to] (inclusive), nearest to `expected` first (default `from`; on a tie
   * the earlier step first); returns the matched moving factor or null. Each comparison is
   * constant-time. A code of the wrong length or with non-digits is simply no match. The whole
   * window is computed every time unless `search.stopAtMatch`: then the search ends at the match,
   * so its time tells where in the window the code matched (only for callers that disclose the
   * matched moving factor anyway). `expected` may lie outside the window, even below 0: it is
   * clamped into it.
   */
  verify(
    code: string,
    window: { from: MovingFactor; to: MovingFactor; expected?: MovingFactor },
    search?: { stopAtMatch?: boolean },
  ): MovingFactor | null;
  /** totp: the step for a unix time in seconds: floor((t − t0) / step). */
  stepAt(unixSeconds: number): number;
}

/**
 * The RFC 4226 §5.3 truncated 31-bit value of the moving factor, given as its high and low 32-bit
 * halves, with the key already scheduled.
 */
type TruncatedMac = (high: number, low: number) => number;

function keyedTruncatedMac(primitive: Primitive, key: Uint8Array): TruncatedMac {
  if (primitive === 'sha1' || primitive === 'sha256' || primitive === 'sha512') {
    if (key.length === 0) throw new KodeviserError('ERR_KEY_LENGTH', `key must not be empty for ${primitive}`);
    const h = createHmac(primitive, key);
    return (high, low) => truncateWords(h.macCounter(high, low));
  }
  const allowed = PRIMITIVE_FACTS[primitive].keyLengths as readonly number[];
  if (!allowed.includes(key.length)) {
    throw new KodeviserError('ERR_KEY_LENGTH', `key must be ${allowed.join(' or ')} bytes for ${primitive}, got ${key.length}`);
  }
  const cmac = createCmac(primitive === 'tdes' ? createTdea(key) : createAes(key));
  const counter = new Uint8Array(8);
  const counterView = new DataView(counter.buffer);
  return (high, low) => {
    counterView.setUint32(0, high);
    counterView.setUint32(4, low);
    return truncateBlockCipherMac(cmac.mac(counter));
  };
}

/**
 * RFC 4226 §5.3 dynamic truncation of an HMAC held as big-endian 32-bit words (hmac.ts): the
 * offset is the low nibble of the last byte, and the four bytes from it straddle at most two
 * words. Shifting the second word right by 1 and then by 31 − r (rather than by 32 − r) makes
 * the word-aligned case r = 0 come out right without a branch (JavaScript shifts by count mod 32).
 */
function truncateWords(mac: Int32Array): number {
  const o = (mac[mac.length - 1] as number) & 0x0f;
  const k = o >>> 2;
  const r = (o & 3) * 8;
  return (((mac[k] as number) << r) | (((mac[k + 1] as number) >>> 1) >>> (31 - r))) & 0x7fffffff;
}

/**
 * The block-cipher profiles' truncation (docs/otp-algorithms.md): o = M[n−1] mod (n−4), so that
 * the byte that chose the offset is never part of the value, as in RFC 4226.
 */
function truncateBlockCipherMac(mac: Uint8Array): number {
  const n = mac.length;
  const o = (mac[n - 1] as number) % (n - 4);
  return (((mac[o] as number) & 0x7f) << 24) | ((mac[o + 1] as number) << 16) | ((mac[o + 2] as number) << 8) | (mac[o + 3] as number);
}

/** Leading zeros by count, so that a code is its number's digits with at most one concatenation. */
const ZEROS: readonly string[] = ['', '0', '00', '000', '0000', '00000', '000000', '0000000'];

/** The code as an integer, or −1 when it is not exactly `digits` decimal digits. */
function parseCode(code: string, digits: number): number {
  if (code.length !== digits) return -1;
  let value = 0;
  for (let i = 0; i < digits; i++) {
    const digit = code.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) return -1;
    value = value * 10 + digit;
  }
  return value;
}

export function createOtp(opts: OtpOptions): Otp {
  if (typeof opts !== 'object' || opts === null) throw new KodeviserError('ERR_ARGUMENT', 'opts must be an object');
  const { profile, digits = 6, step = 30, t0 = 0 } = opts;
  const { mode, primitive } = parseProfile(profile);
  const key = requireBytes(opts.key, 'key');
  if (!Number.isInteger(digits) || digits < 6 || digits > 8) {
    throw new KodeviserError('ERR_DIGITS', `digits must be an integer from 6 to 8, got ${String(digits)}`);
  }
  if (step !== 30 && step !== 60) throw new KodeviserError('ERR_ARGUMENT', `step must be 30 or 60 seconds, got ${String(step)}`);
  if (!Number.isSafeInteger(t0))
    throw new KodeviserError('ERR_ARGUMENT', `t0 must be an integer number of unix seconds, got ${String(t0)}`);

  const truncatedMac = keyedTruncatedMac(primitive, key);
  const modulus = 10 ** digits;
  /** The code of the moving factor of 32-bit halves `high` and `low`, as an integer below 10^digits. */
  const codeValue = (high: number, low: number): number => truncatedMac(high, low) % modulus;

  const generate = (c: MovingFactor): string => {
    requireMovingFactor(c, 'c');
    const value =
      typeof c === 'number' ? codeValue(Math.floor(c / 2 ** 32), c >>> 0) : codeValue(Number(c >> 32n), Number(c & 0xffffffffn));
    const text = String(value);
    return (ZEROS[digits - text.length] as string) + text;
  };

  return Object.freeze({
    profile,
    mode,
    primitive,
    digits,
    step,
    t0,
    generate,
    /*
     * What is secret here is the code's digits, not where in the window it matched: the
     * requester learns the outcome anyway, and the server moves its counter to the match. So
     * the code is parsed once and every candidate of the window is computed and compared as an
     * integer, with no early exit at the first match and no branch on whether a candidate
     * matched; a string compare that stops at the first differing character would time how many
     * leading digits a guess has right. The nearest match wins through arithmetic on a found
     * flag. The cost is the whole window every time (a server's happy path pays for its
     * look-ahead too), in exchange for a time that depends only on the window's size.
     * `stopAtMatch` trades that for the match's position, for a caller whose reply names the
     * moving factor (a server's code-only check): a user pressing once more than last time
     * matches the window's first candidate, and one code costs one MAC instead of the window's
     * ten. The digits are still compared without a branch, and a miss still costs the window.
     */
    verify(
      code: string,
      window: { from: MovingFactor; to: MovingFactor; expected?: MovingFactor },
      search?: { stopAtMatch?: boolean },
    ): MovingFactor | null {
      if (typeof code !== 'string') throw new KodeviserError('ERR_ARGUMENT', 'code must be a string');
      if (typeof window !== 'object' || window === null) throw new KodeviserError('ERR_ARGUMENT', 'window must be an object');
      const { from, to, expected = from } = window;
      requireMovingFactor(from, 'window.from');
      requireMovingFactor(to, 'window.to');
      if (to < from) throw new KodeviserError('ERR_MOVING_FACTOR', `window.to (${to}) must not be below window.from (${from})`);
      if (typeof expected !== 'bigint' && !Number.isSafeInteger(expected)) {
        throw new KodeviserError('ERR_MOVING_FACTOR', 'window.expected must be a safe integer, or a bigint');
      }
      if (search !== undefined && (typeof search !== 'object' || search === null)) {
        throw new KodeviserError('ERR_ARGUMENT', 'search must be an object when given');
      }
      const stopAtMatch = search?.stopAtMatch === true;
      const wanted = parseCode(code, digits);
      if (wanted < 0) return null;
      // The walk is in offsets k from `from`, plain numbers whatever the moving factors are (a
      // window is small): candidate from + k is the counter whose low word is fromLow + k, with
      // its carry into the high word.
      const span = movingFactorDistance(from, to);
      const fromHigh = typeof from === 'number' ? Math.floor(from / 2 ** 32) : Number(from >> 32n);
      const fromLow = typeof from === 'number' ? from >>> 0 : Number(from & 0xffffffffn);
      // Walk outwards from `expected`, clamped into the window: expected, −1, +1, −2, +2, …; the
      // first match in this order is the nearest, the earlier step on a tie. Which candidates
      // exist depends on the window alone, so skipping the ones outside it leaks nothing.
      const centre = Math.min(Math.max(movingFactorDistance(from, expected), 0), span);
      const last = 2 * Math.max(centre, span - centre);
      let found = 0;
      let match = 0;
      for (let i = 0; i <= last; i++) {
        const d = Math.floor((i + 1) / 2);
        const k = i % 2 === 1 ? centre - d : centre + d;
        if (k < 0 || k > span) continue;
        const low = fromLow + k;
        const diff = codeValue(fromHigh + Math.floor(low / 2 ** 32), low >>> 0) ^ wanted;
        const equal = ((diff | -diff) >>> 31) ^ 1; // 1 when diff is 0, without a branch
        match += (equal & (found ^ 1)) * (k - match);
        found |= equal;
        if (stopAtMatch && found === 1) break;
      }
      return found === 1 ? addToMovingFactor(from, match) : null;
    },
    stepAt(unixSeconds: number): number {
      if (mode !== 'totp') throw new KodeviserError('ERR_ARGUMENT', `stepAt is for totp profiles, not ${profile}`);
      if (!Number.isFinite(unixSeconds) || unixSeconds < t0) {
        throw new KodeviserError(
          'ERR_MOVING_FACTOR',
          `unixSeconds must be a finite time not before t0 (${t0}), got ${String(unixSeconds)}`,
        );
      }
      return Math.floor((unixSeconds - t0) / step);
    },
  });
}

export function generateOtp(opts: OtpOptions, c: MovingFactor): string {
  return createOtp(opts).generate(c);
}
