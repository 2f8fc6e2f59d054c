/**
 * The verification policy: which moving factors a code may match, when a match only starts a
 * resynchronisation, and what consecutive failures cost. Pure: the time comes in as an argument,
 * and the store applies the outcome atomically.
 *
 * Windows (RFC 4226 §7.4 look-ahead, RFC 6238 §5.2 and §6 for TOTP delay and drift):
 * - hotp: the next `hotpLookAhead` (10) counters after the last accepted one;
 * - totp: ±`totpWindow` (1) step around the expected step, which is the server's current step
 *   plus the drift the token showed at its last accept; the drift is recorded on every accept;
 * - a moving factor at or below the last accepted one is never a match, whatever the drift says
 *   (LinOTP issue #110: after a drift change, a window that reached back below the last accepted
 *   step let a spent code in again). The store's compare-and-set enforces it once more.
 *
 * A code found only in the wide window (hotp: up to `hotpWideLookAhead` (100) ahead; totp: ±10
 * steps, widening with idle time, below) is not accepted alone: it is remembered as a pending
 * resync, and only the next code, at exactly the following moving factor and within
 * `resyncTtlMs`, completes it (accepted, drift set). Two consecutive 6-digit codes are what a
 * guesser cannot produce, which is why the wide window may be wide. OneSpan's servers widen the
 * window with the time since the token was last used, because a crystal's error accumulates;
 * here: one more step per `totpIdleDaysPerStep` (7) days idle, up to `totpWideWindowMax` (540)
 * steps. The token's crystal is within ±20 ppm at 25 °C plus up to −14 ppm at the ends of its
 * temperature range and ±3 ppm ageing (docs/token.md): ≤ 37 ppm is 3.2 s a day, one 30-s step
 * in 9.4 days; 7 days leaves room, and 540 steps covers ten years of idle.
 *
 * Failures (NIST SP 800-63B §5.2.2 rate limiting): from the `blockAfter`-th (3rd) consecutive
 * failure the token is blocked for `firstBlockMs` (30 s), doubling with every further failure up
 * to `maxBlockMs` (1 h); during a block codes are not checked at all. The `lockAfter`-th (100th)
 * consecutive failure locks the token until an admin unlocks it (SP 800-63B: no more than 100
 * consecutive failed attempts). An accept resets the count.
 */
import type { Otp } from '@kodeviser/shared';
import type { FailureConsequence, TokenRecord } from '../store/types.js';

export interface PolicyOptions {
  hotpLookAhead: number;
  hotpWideLookAhead: number;
  totpWindow: number;
  totpWideWindow: number;
  totpIdleDaysPerStep: number;
  totpWideWindowMax: number;
  /** How long a pending resync waits for its consecutive code. */
  resyncTtlMs: number;
  /** Admin resync: counters ahead (hotp) or steps either side (totp) searched for the two codes. */
  adminHotpWindow: number;
  adminTotpWindow: number;
  blockAfter: number;
  firstBlockMs: number;
  maxBlockMs: number;
  lockAfter: number;
}

export const DEFAULT_POLICY: Readonly<PolicyOptions> = Object.freeze({
  hotpLookAhead: 10,
  hotpWideLookAhead: 100,
  totpWindow: 1,
  totpWideWindow: 10,
  totpIdleDaysPerStep: 7,
  totpWideWindowMax: 540,
  resyncTtlMs: 5 * 60_000,
  adminHotpWindow: 1000,
  adminTotpWindow: 2880,
  blockAfter: 3,
  firstBlockMs: 30_000,
  maxBlockMs: 3_600_000,
  lockAfter: 100,
});

const DAY_MS = 86_400_000;
/** Spent moving factors checked to tell a replay from a wrong code (audit only). */
const REPLAY_LOOK_BACK = 3;

export type PolicyToken = Pick<TokenRecord, 'lastMovingFactor' | 'drift' | 'pendingResync' | 'lastUsedAt' | 'importedAt'>;

export type CodeMatch =
  /** Accept this moving factor (compare-and-set in the store) and record `drift`. */
  | { kind: 'accept'; movingFactor: number; drift: number; completesResync: boolean }
  /** Matched only in the wide window: remember it, accept nothing. */
  | { kind: 'wide'; movingFactor: number }
  | { kind: 'none'; reason: 'bad-otp' | 'resync-mismatch' | 'replay' };

interface Window {
  from: number;
  to: number;
  expected: number;
}

/** [from, to] cut to the moving factors above `last` (and ≥ 0); null when nothing is left. */
function above(last: number, from: number, to: number, expected: number): Window | null {
  const lo = Math.max(from, last + 1, 0);
  return lo > to ? null : { from: lo, to, expected };
}

/** The step the server's clock is in, and the token's drift relative to it for a moving factor. */
function currentStep(otp: Otp, nowMs: number): number {
  return otp.stepAt(Math.floor(nowMs / 1000));
}

/** Extra wide-window steps for a totp token idle since its last use (or import). */
export function idleWidening(token: PolicyToken, nowMs: number, p: PolicyOptions): number {
  const idleMs = Math.max(0, nowMs - (token.lastUsedAt ?? token.importedAt));
  return Math.floor(idleMs / DAY_MS / p.totpIdleDaysPerStep);
}

export function pendingIsLive(token: PolicyToken, nowMs: number, p: PolicyOptions): boolean {
  const pending = token.pendingResync;
  return pending !== null && nowMs - pending.at <= p.resyncTtlMs && pending.movingFactor > token.lastMovingFactor;
}

export function matchCode(otp: Otp, token: PolicyToken, code: string, nowMs: number, p: PolicyOptions = DEFAULT_POLICY): CodeMatch {
  const last = token.lastMovingFactor;
  const step = otp.mode === 'totp' ? currentStep(otp, nowMs) : 0;
  const driftOf = (movingFactor: number) => (otp.mode === 'totp' ? movingFactor - step : 0);
  const live = pendingIsLive(token, nowMs, p);

  if (live) {
    const next = (token.pendingResync as { movingFactor: number }).movingFactor + 1;
    if (otp.verify(code, { from: next, to: next }) !== null) {
      return { kind: 'accept', movingFactor: next, drift: driftOf(next), completesResync: true };
    }
  }

  let normal: Window | null;
  let wide: Window | null;
  if (otp.mode === 'hotp') {
    normal = above(last, last + 1, last + p.hotpLookAhead, last + 1);
    wide = above(last, last + p.hotpLookAhead + 1, last + p.hotpWideLookAhead, last + 1);
  } else {
    const expected = step + token.drift;
    const reach = Math.min(p.totpWideWindow + idleWidening(token, nowMs, p), p.totpWideWindowMax);
    normal = above(last, expected - p.totpWindow, expected + p.totpWindow, expected);
    wide = above(last, expected - reach, expected + reach, expected);
  }

  const inNormal = normal ? otp.verify(code, normal) : null;
  if (inNormal !== null) {
    return { kind: 'accept', movingFactor: inNormal, drift: driftOf(inNormal), completesResync: false };
  }
  const inWide = wide ? otp.verify(code, wide) : null;
  if (inWide !== null) return { kind: 'wide', movingFactor: inWide };
  // Only for the audit log: a code of one of the last few spent moving factors is a replay.
  if (last >= 0 && otp.verify(code, { from: Math.max(0, last - REPLAY_LOOK_BACK + 1), to: last, expected: last }) !== null) {
    return { kind: 'none', reason: 'replay' };
  }
  return { kind: 'none', reason: live ? 'resync-mismatch' : 'bad-otp' };
}

/**
 * Admin resync: the moving factor of `otp2` when `otp1` and `otp2` are the codes of two
 * consecutive moving factors in the admin window (nearest the expected one first), else null.
 * Every candidate of otp1 is tried, not just the nearest, because in a window of thousands one
 * 6-digit code is likely to recur.
 */
export function findConsecutive(
  otp: Otp,
  token: PolicyToken,
  otp1: string,
  otp2: string,
  nowMs: number,
  p: PolicyOptions = DEFAULT_POLICY,
): { movingFactor: number; drift: number } | null {
  const last = token.lastMovingFactor;
  let window: Window | null;
  let step = 0;
  if (otp.mode === 'hotp') {
    window = above(last, last + 1, last + p.adminHotpWindow, last + 1);
  } else {
    step = currentStep(otp, nowMs);
    const expected = step + token.drift;
    window = above(last, step - p.adminTotpWindow, step + p.adminTotpWindow, Math.max(expected, last + 1));
  }
  if (!window) return null;
  const { from, to, expected } = window;
  const centre = Math.min(Math.max(expected, from), to);
  for (let d = 0; centre - d >= from || centre + d <= to; d++) {
    for (const c of d === 0 ? [centre] : [centre - d, centre + d]) {
      if (c < from || c > to) continue;
      if (otp.verify(otp1, { from: c, to: c }) !== null && otp.verify(otp2, { from: c + 1, to: c + 1 }) !== null) {
        return { movingFactor: c + 1, drift: otp.mode === 'totp' ? c + 1 - step : 0 };
      }
    }
  }
  return null;
}

/** What reaching `failures` consecutive failures costs. */
export function failureConsequence(failures: number, p: PolicyOptions = DEFAULT_POLICY): FailureConsequence {
  if (failures >= p.lockAfter) return { blockForMs: 0, lock: true };
  if (failures < p.blockAfter) return { blockForMs: 0, lock: false };
  // 2 ** large is Infinity, which Math.min caps, so no overflow check is needed.
  return { blockForMs: Math.min(p.firstBlockMs * 2 ** (failures - p.blockAfter), p.maxBlockMs), lock: false };
}
