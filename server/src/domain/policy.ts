/**
 * The verification policy: which moving factors a code may match, when a match only starts a
 * resynchronisation, what a totp accept teaches about the token's clock, and what consecutive
 * failures cost. Pure: the time comes in as an argument. The reasons and the measurements behind
 * the clock model are in docs/totp-clock.md.
 *
 * - Windows (RFC 4226 §7.4, RFC 6238 §5.2 and §6): hotp the next `hotpLookAhead` counters; totp
 *   ±`totpWindow` steps around the step the token's clock is predicted to be in. A moving factor
 *   at or below the last accepted one never matches, whatever the drift says (LinOTP #110).
 * - A code only in the wide window (hotp `hotpWideLookAhead` ahead; totp ±`totpWideWindow` steps,
 *   one more per `totpIdleDaysPerStep` days idle, up to `totpWideWindowMax`) is remembered, and
 *   only the code of the very next moving factor, within `resyncTtlMs`, completes the resync: two
 *   consecutive codes are what a guesser cannot produce, so the wide window may be wide.
 * - The token's clock is an offset, measured at every accept, plus a rate learnt between accepts
 *   with a one-state Kalman update (TokenDrift, store/types.ts); an admin resync measures the
 *   offset only, an imported whole-step drift is no measurement.
 * - Failures (NIST SP 800-63B §5.2.2): from the `blockAfter`-th consecutive failure the token is
 *   blocked for `firstBlockMs`, doubling up to `maxBlockMs`, and codes are not checked while it
 *   is; the `lockAfter`-th locks it until an admin unlocks it. An accept resets the count.
 * - Moving factors go up to 2^63 − 1, what the stores keep (@kodeviser/shared moving-factor.ts):
 *   no window reaches beyond, so a hotp token that accepted 2^63 − 1 accepts no code after it.
 *   A totp step is always a plain number (the clock's reach is far below 2^53).
 */
import { addToMovingFactor, isMovingFactor, MAX_MOVING_FACTOR, movingFactorDistance, type MovingFactor, type Otp } from '@kodeviser/shared';
import type { PendingResync, TokenDrift, TokenRecord } from '../store/types.js';

export interface PolicyOptions {
  hotpLookAhead: number;
  hotpWideLookAhead: number;
  totpWindow: number;
  totpWideWindow: number;
  totpIdleDaysPerStep: number;
  totpWideWindowMax: number;
  /** Accepts closer together than this teach no rate (their offsets are still measured). */
  totpRateMinIntervalMs: number;
  /** The largest rate a token's clock may have, ppm either way. */
  totpRateMaxPpm: number;
  /** What is known of a crystal's rate before any measurement: its standard deviation, ppm. */
  totpRatePriorPpm: number;
  /** How much the rate's variance grows a day (temperature, ageing), ppm². */
  totpRateWanderPpm2PerDay: number;
  /** How long a pending resync waits for its consecutive code. */
  resyncTtlMs: number;
  /** Admin resync: counters ahead (hotp) or steps either side (totp) searched for the two codes. */
  adminHotpWindow: number;
  adminTotpWindow: number;
  blockAfter: number;
  firstBlockMs: number;
  maxBlockMs: number;
  lockAfter: number;
  /**
   * Wrong codes a user ID may send in a window of `wrongCodesWindowMs` from the first, whatever
   * the password and whatever accepts come between (guessing.ts): beyond, it is answered as a block.
   */
  wrongCodesPerWindow: number;
  wrongCodesWindowMs: number;
}

export const DEFAULT_POLICY: Readonly<PolicyOptions> = Object.freeze({
  hotpLookAhead: 10,
  hotpWideLookAhead: 100,
  totpWindow: 1,
  totpWideWindow: 10,
  totpIdleDaysPerStep: 7,
  totpWideWindowMax: 540,
  totpRateMinIntervalMs: 86_400_000,
  totpRateMaxPpm: 100,
  totpRatePriorPpm: 15,
  totpRateWanderPpm2PerDay: 0.2,
  resyncTtlMs: 5 * 60_000,
  adminHotpWindow: 1000,
  adminTotpWindow: 2880,
  blockAfter: 3,
  firstBlockMs: 30_000,
  maxBlockMs: 3_600_000,
  lockAfter: 100,
  wrongCodesPerWindow: 20,
  wrongCodesWindowMs: 86_400_000,
});

const DAY_MS = 86_400_000;
/** Spent moving factors checked to tell a replay from a wrong code (audit only). */
const REPLAY_LOOK_BACK = 3;
/**
 * How much the time from press to check varies, ms (standard deviation): the user types the code
 * within a few seconds (docs/token.md). Part of an offset measurement's noise.
 */
const TYPING_SD_MS = 2000;
/** An implied rate this many standard deviations from the learnt one means the rate changed. */
const RATE_CHANGE_SIGMAS = 3;

/** The drift of a token without a clock (hotp), or of a totp token nothing is known of. */
export const NO_DRIFT: Readonly<TokenDrift> = Object.freeze({ steps: 0, offsetMs: 0, ratePpm: 0, rateVar: null });

export type PolicyToken = Pick<TokenRecord, 'lastMovingFactor' | 'drift' | 'pendingResync' | 'lastUsedAt' | 'importedAt'>;

/** What a totp step is: X seconds from T0 (an Otp and a TokenRecord both carry it). */
export interface StepClock {
  step: number;
  t0: number;
}

export type CodeMatch =
  /** Accept this moving factor (compare-and-set in the store) and record `drift`. */
  | { kind: 'accept'; movingFactor: MovingFactor; drift: TokenDrift; completesResync: boolean }
  /** Matched only in the wide window: remember it, accept nothing. */
  | { kind: 'wide'; movingFactor: MovingFactor }
  | { kind: 'none'; reason: 'bad-otp' | 'resync-mismatch' | 'replay' };

interface Window {
  from: MovingFactor;
  to: MovingFactor;
  expected: MovingFactor;
}

/**
 * [from, to] cut to the moving factors above `last` (and ≥ 0) and up to 2^63 − 1; null when
 * nothing is left.
 */
function above(last: MovingFactor, from: MovingFactor, to: MovingFactor, expected: MovingFactor): Window | null {
  const next = addToMovingFactor(last, 1);
  let lo = from > next ? from : next;
  if (lo < 0) lo = 0;
  const hi = typeof to === 'bigint' && to > MAX_MOVING_FACTOR ? MAX_MOVING_FACTOR : to;
  return lo > hi ? null : { from: lo, to: hi, expected };
}

/** The step a clock reading `ms` (unix ms) is in; negative before T0 (so no window reaches it). */
function stepOfMs(clock: StepClock, ms: number): number {
  return Math.floor((ms / 1000 - clock.t0) / clock.step);
}

const clamp = (x: number, limit: number): number => Math.min(limit, Math.max(-limit, x));

/** The token's clock minus the server's at `nowMs`, ms, as predicted from its last measurement. */
export function predictedOffsetMs(token: PolicyToken, nowMs: number): number {
  const { offsetMs, ratePpm } = token.drift;
  return offsetMs + ratePpm * 1e-6 * (nowMs - (token.lastUsedAt ?? token.importedAt));
}

/** The step the token's clock is predicted to be in at server time `nowMs`: the window's centre. */
export function expectedStep(clock: StepClock, token: PolicyToken, nowMs: number): number {
  return stepOfMs(clock, nowMs + predictedOffsetMs(token, nowMs));
}

/**
 * The drift of a totp token imported `steps` whole steps off (PSKC TimeDrift): an offset of as
 * many steps, which gives the windows the whole-step drift gave; no rate, and no measurement yet.
 */
export function importedDrift(steps: number, stepSeconds: number): TokenDrift {
  return { steps, offsetMs: steps * stepSeconds * 1000, ratePpm: 0, rateVar: null };
}

/**
 * The token's clock as an accept of step `movingFactor` at server time `nowMs` measures it: the
 * offset at the middle of the step, and the rate updated from the offset's change since the last
 * accept, weighed by its noise (the rules and their reasons are in this file's header).
 */
export function measureDrift(
  clock: StepClock,
  token: PolicyToken,
  movingFactor: number,
  nowMs: number,
  p: PolicyOptions = DEFAULT_POLICY,
): TokenDrift {
  const stepMs = clock.step * 1000;
  const steps = movingFactor - stepOfMs(clock, nowMs);
  const offsetMs = Math.round(clock.t0 * 1000 + (movingFactor + 0.5) * stepMs - nowMs);
  const { ratePpm, rateVar } = token.drift;
  const priorVar = p.totpRatePriorPpm ** 2;
  // The first measurement: the rate stays as it was (0 unless imported), and may be learnt from now on.
  if (rateVar === null) return { steps, offsetMs, ratePpm, rateVar: priorVar };
  const intervalMs = nowMs - (token.lastUsedAt ?? token.importedAt);
  const predictedVar = Math.min(rateVar + (p.totpRateWanderPpm2PerDay * Math.max(0, intervalMs)) / DAY_MS, priorVar);
  const unchanged = { steps, offsetMs, ratePpm, rateVar: predictedVar };
  if (intervalMs < p.totpRateMinIntervalMs) return unchanged;
  const impliedPpm = ((offsetMs - token.drift.offsetMs) / intervalMs) * 1e6;
  // Two measurements a step apart at most (each ±½ step) bound what the quantisation can explain.
  if (Math.abs(impliedPpm) > p.totpRateMaxPpm + (stepMs / intervalMs) * 1e6) return unchanged;
  const observedPpm = clamp(impliedPpm, p.totpRateMaxPpm);
  const noiseVar = ((2 * (stepMs ** 2 / 12 + TYPING_SD_MS ** 2)) / intervalMs ** 2) * 1e12;
  // Further from the rate learnt than its variance and the noise explain: the rate has changed
  // (the token now lives somewhere colder) or was learnt wrong; learn it afresh, from the prior.
  const surprised = (observedPpm - ratePpm) ** 2 > RATE_CHANGE_SIGMAS ** 2 * (predictedVar + noiseVar);
  const weighed = surprised ? priorVar : predictedVar;
  const gain = weighed / (weighed + noiseVar);
  const learnt = ratePpm + gain * (observedPpm - ratePpm);
  return { steps, offsetMs, ratePpm: clamp(learnt, p.totpRateMaxPpm), rateVar: (1 - gain) * weighed };
}

/**
 * What an operator reads of a token's clock at `nowMs`: the predicted step minus the server's,
 * the predicted offset in seconds (ms precision) and the rate (0.01 ppm). All 0 for hotp, whose
 * drift is NO_DRIFT.
 */
export function driftNow(clock: StepClock, token: PolicyToken, nowMs: number): { drift: number; driftSeconds: number; driftPpm: number } {
  return {
    drift: expectedStep(clock, token, nowMs) - stepOfMs(clock, nowMs),
    driftSeconds: Math.round(predictedOffsetMs(token, nowMs)) / 1000,
    driftPpm: Math.round(token.drift.ratePpm * 100) / 100,
  };
}

/** Extra wide-window steps for a totp token idle since its last use (or import). */
export function idleWidening(token: PolicyToken, nowMs: number, p: PolicyOptions): number {
  const idleMs = Math.max(0, nowMs - (token.lastUsedAt ?? token.importedAt));
  return Math.floor(idleMs / DAY_MS / p.totpIdleDaysPerStep);
}

const STOP_AT_MATCH = Object.freeze({ stopAtMatch: true });

export function pendingIsLive(token: PolicyToken, nowMs: number, p: PolicyOptions): boolean {
  const pending = token.pendingResync;
  return pending !== null && nowMs - pending.at <= p.resyncTtlMs && pending.movingFactor > token.lastMovingFactor;
}

/**
 * How a code matches `token`'s windows. `disclosed`: the caller's reply names the matched moving
 * factor (the code-only /v1/validate), so the normal window's search may stop at the match
 * (Otp.verify's `stopAtMatch`: one MAC for the common press instead of the window's ten); with a
 * second factor it must not, or the reply's time would tell a right code from a wrong one when
 * the password was wrong.
 */
export function matchCode(
  otp: Otp,
  token: PolicyToken,
  code: string,
  nowMs: number,
  p: PolicyOptions = DEFAULT_POLICY,
  disclosed = false,
): CodeMatch {
  const last = token.lastMovingFactor;
  const driftOf = (movingFactor: MovingFactor) =>
    otp.mode === 'totp' ? measureDrift(otp, token, Number(movingFactor), nowMs, p) : token.drift;
  const live = pendingIsLive(token, nowMs, p);

  if (live) {
    const next = addToMovingFactor((token.pendingResync as PendingResync).movingFactor, 1);
    if (isMovingFactor(next) && otp.verify(code, { from: next, to: next }) !== null) {
      return { kind: 'accept', movingFactor: next, drift: driftOf(next), completesResync: true };
    }
  }

  let normal: Window | null;
  let wide: Window | null;
  if (otp.mode === 'hotp') {
    const next = addToMovingFactor(last, 1);
    normal = above(last, next, addToMovingFactor(last, p.hotpLookAhead), next);
    wide = above(last, addToMovingFactor(last, p.hotpLookAhead + 1), addToMovingFactor(last, p.hotpWideLookAhead), next);
  } else {
    const expected = expectedStep(otp, token, nowMs);
    const reach = Math.min(p.totpWideWindow + idleWidening(token, nowMs, p), p.totpWideWindowMax);
    normal = above(last, expected - p.totpWindow, expected + p.totpWindow, expected);
    wide = above(last, expected - reach, expected + reach, expected);
  }

  const inNormal = normal ? otp.verify(code, normal, disclosed ? STOP_AT_MATCH : undefined) : null;
  if (inNormal !== null) {
    return { kind: 'accept', movingFactor: inNormal, drift: driftOf(inNormal), completesResync: false };
  }
  const inWide = wide ? otp.verify(code, wide) : null;
  if (inWide !== null) return { kind: 'wide', movingFactor: inWide };
  // Only for the audit log: a code of one of the last few spent moving factors is a replay.
  if (last >= 0) {
    const back = addToMovingFactor(last, 1 - REPLAY_LOOK_BACK);
    if (otp.verify(code, { from: back > 0 ? back : 0, to: last, expected: last }) !== null) return { kind: 'none', reason: 'replay' };
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
): { movingFactor: MovingFactor; drift: TokenDrift } | null {
  const last = token.lastMovingFactor;
  let window: Window | null;
  if (otp.mode === 'hotp') {
    const next = addToMovingFactor(last, 1);
    window = above(last, next, addToMovingFactor(last, p.adminHotpWindow), next);
  } else {
    const step = stepOfMs(otp, nowMs);
    const expected = Math.max(expectedStep(otp, token, nowMs), Number(last) + 1);
    window = above(last, step - p.adminTotpWindow, step + p.adminTotpWindow, expected);
  }
  if (!window) return null;
  // Offsets k from the window's start, as in Otp.verify: the window is small, its ends may be bigints.
  const { from, to, expected } = window;
  const span = movingFactorDistance(from, to);
  const centre = Math.min(Math.max(movingFactorDistance(from, expected), 0), span);
  for (let d = 0; centre - d >= 0 || centre + d <= span; d++) {
    for (const k of d === 0 ? [centre] : [centre - d, centre + d]) {
      if (k < 0 || k > span) continue;
      const c = addToMovingFactor(from, k);
      const next = addToMovingFactor(c, 1);
      if (!isMovingFactor(next)) continue; // c is 2^63 − 1: there is no next code
      if (otp.verify(otp1, { from: c, to: c }) !== null && otp.verify(otp2, { from: next, to: next }) !== null) {
        return { movingFactor: next, drift: otp.mode === 'totp' ? adminMeasuredDrift(otp, token, Number(next), nowMs, p) : token.drift };
      }
    }
  }
  return null;
}

/**
 * The clock an admin resync leaves: the offset its codes give, which is the best there is until
 * the next accept measures it again, and the rate as it was, but no rate measurement to learn
 * from. The two codes may have been read out over the phone minutes before the admin typed them
 * in; taken as a measurement, that delay would reach the rate at the next accept (two minutes,
 * then a login two weeks later: +59 ppm taught to an exact clock). So the next accept is a first
 * measurement (`rateVar` null, as after an import): it measures the offset and learns no rate;
 * the ones after it learn as usual.
 */
function adminMeasuredDrift(clock: StepClock, token: PolicyToken, movingFactor: number, nowMs: number, p: PolicyOptions): TokenDrift {
  const measured = measureDrift(clock, token, movingFactor, nowMs, p);
  return { steps: measured.steps, offsetMs: measured.offsetMs, ratePpm: token.drift.ratePpm, rateVar: null };
}

export interface FailureConsequence {
  /** How long codes are not checked from now on (0: not blocked). */
  blockForMs: number;
  /** Lock the token until an admin unlocks it. */
  lock: boolean;
}

/** What reaching `failures` consecutive failures costs. */
export function failureConsequence(failures: number, p: PolicyOptions = DEFAULT_POLICY): FailureConsequence {
  if (failures >= p.lockAfter) return { blockForMs: 0, lock: true };
  if (failures < p.blockAfter) return { blockForMs: 0, lock: false };
  // 2 ** large is Infinity, which Math.min caps, so no overflow check is needed.
  return { blockForMs: Math.min(p.firstBlockMs * 2 ** (failures - p.blockAfter), p.maxBlockMs), lock: false };
}
