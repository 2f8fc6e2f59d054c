/**
 * The verification policy: which moving factors a code may match, when a match only starts a
 * resynchronisation, what a totp accept teaches about the token's clock, and what consecutive
 * failures cost. Pure: the time comes in as an argument, and the store applies the outcome
 * atomically.
 *
 * Windows (RFC 4226 §7.4 look-ahead, RFC 6238 §5.2 and §6 for TOTP delay and drift):
 * - hotp: the next `hotpLookAhead` (10) counters after the last accepted one;
 * - totp: ±`totpWindow` (1) step around the expected step, the step the token's clock is
 *   predicted to be in (the clock model below);
 * - a moving factor at or below the last accepted one is never a match, whatever the drift says
 *   (LinOTP issue #110: after a drift change, a window that reached back below the last accepted
 *   step let a spent code in again). The store's compare-and-set enforces it once more.
 *
 * A code found only in the wide window (hotp: up to `hotpWideLookAhead` (100) ahead; totp: ±10
 * steps, widening with idle time, below) is not accepted alone: it is remembered as a pending
 * resync, and only the next code, at exactly the following moving factor and within
 * `resyncTtlMs`, completes it (accepted, drift measured). Two consecutive 6-digit codes are what
 * a guesser cannot produce, which is why the wide window may be wide. OneSpan's servers widen the
 * window with the time since the token was last used, because a crystal's error accumulates;
 * here: one more step per `totpIdleDaysPerStep` (7) days idle, up to `totpWideWindowMax` (540)
 * steps. The token's crystal is within ±20 ppm at 25 °C plus up to −21 ppm at the ends of its
 * 0–45 °C range and ±3 ppm ageing (docs/token.md): ≤ 44 ppm is 3.8 s a day, one 30-s step in
 * 7.9 days; with the rate learnt (below) only the error of the rate accumulates, so 7 days
 * leaves room, and 540 steps covers ten years of idle.
 *
 * The token's clock (totp). A code only says that the token's clock was somewhere in the matched
 * step when the button was pressed. Kept in whole steps (the token's step minus the server's at
 * each accept), the recorded drift was off by up to a step, so a use could land two steps from
 * the expected one after less than a step of drift, and the user had to type a second code: in
 * the simulation (test/totp-drift-simulation.test.ts: ±20 ppm crystals, the temperature of where
 * the token lives, a year) 0.6 % of weekly uses, 3.7 % of fortnightly ones, 24 % at four weeks.
 * So a token's clock is kept as three numbers (TokenDrift, store/types.ts):
 * - `offsetMs`, the token's clock minus the server's, measured at each accept of step m at server
 *   time t at the middle of the step: T0 + (m + ½)·X − t. Its error is uniform within ±X/2, plus
 *   the seconds the user takes to type the code, nearly the same every time, so they cancel out
 *   of every difference. The measurement replaces the offset outright: a prediction is never
 *   better than ±X/2 plus its rate's error, and blending the two (an α-β or a two-state Kalman
 *   filter) did no better in a prototype of the simulation, while replacing keeps the offset
 *   within the step the token last showed. The offset alone (no rate) still needs a second code
 *   in 2 % of fortnightly uses and 22 % at four weeks: the crystal's error accumulates between
 *   uses;
 * - `ratePpm`, that error as learnt: the offset predicted at time t is
 *   offsetMs + ratePpm·(t − lastUsedAt). Each accept at least `totpRateMinIntervalMs` (1 day)
 *   after the previous one implies a rate, the offset's change over the interval, whose noise is
 *   that of two offsets over the interval: σ² = 2·(X²/12 + typing²)/interval², a standard
 *   deviation of 145 ppm for a day, 10 ppm for two weeks, 5 ppm for four. A fixed gain would take
 *   a day as seriously as a month (a gain of ½ measured 8 % second codes for irregular use, worse
 *   than whole steps' 2.8 %); instead each implied rate is weighed against `rateVar`, the
 *   variance of the rate learnt so far (a one-state Kalman update: gain = rateVar/(rateVar + σ²)),
 *   which grows by `totpRateWanderPpm2PerDay` (0.2) a day between accepts, because temperature
 *   and ageing move the rate (a 0–45 °C seasonal swing by up to 0.35 ppm a day), and never beyond
 *   what is known of any crystal, (`totpRatePriorPpm` (15) ppm)²;
 * - an implied rate more than 3 σ (of the rate's variance and the noise together) from the learnt
 *   one means the rate changed (the token now lives somewhere colder) or was learnt wrong: it is
 *   learnt afresh, weighed against the prior variance, so a wrong rate costs a second code or two,
 *   not a season of them;
 * - an implied rate beyond ±`totpRateMaxPpm` (100) ppm, more than the interval's quantisation
 *   can explain, is no crystal but a clock that jumped (an MCU reset, an admin resync onto
 *   another clock): its offset is taken, the rate left alone. Rates are kept within ±100 ppm.
 * Measured in the simulation: 0.00 % second codes at weekly use, 0.16 % at two weeks, 2.3 % at
 * four weeks (half of them at the first use after activation, before any rate can be known),
 * 0.4 % for irregular use. A resync completed by the consecutive code measures the offset as any
 * accept does and teaches the rate by the same rules (its deviation is mostly beyond 3 σ, so the
 * rate is learnt afresh). An admin resync measures the offset only: its codes may have been read
 * out long before they were typed in (adminMeasuredDrift). A token imported with a whole-step
 * drift d (PSKC TimeDrift) or migrated from one gets the offset d·X — d was the token's step
 * minus the server's, so every window stays what it was — rate 0, and no `rateVar`: an imported
 * offset is no measurement, so the first accept learns no rate from it. Operators read the drift
 * in whole steps as before, now the predicted step minus the server's at the moment they ask.
 *
 * Failures (NIST SP 800-63B §5.2.2 rate limiting): from the `blockAfter`-th (3rd) consecutive
 * failure the token is blocked for `firstBlockMs` (30 s), doubling with every further failure up
 * to `maxBlockMs` (1 h); during a block codes are not checked at all. The `lockAfter`-th (100th)
 * consecutive failure locks the token until an admin unlocks it (SP 800-63B: no more than 100
 * consecutive failed attempts). An accept resets the count.
 */
import type { Otp } from '@kodeviser/shared';
import type { FailureConsequence, TokenDrift, TokenRecord } from '../store/types.js';

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
  | { kind: 'accept'; movingFactor: number; drift: TokenDrift; completesResync: boolean }
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
  const driftOf = (movingFactor: number) => (otp.mode === 'totp' ? measureDrift(otp, token, movingFactor, nowMs, p) : token.drift);
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
): { movingFactor: number; drift: TokenDrift } | null {
  const last = token.lastMovingFactor;
  let window: Window | null;
  if (otp.mode === 'hotp') {
    window = above(last, last + 1, last + p.adminHotpWindow, last + 1);
  } else {
    const step = stepOfMs(otp, nowMs);
    window = above(last, step - p.adminTotpWindow, step + p.adminTotpWindow, Math.max(expectedStep(otp, token, nowMs), last + 1));
  }
  if (!window) return null;
  const { from, to, expected } = window;
  const centre = Math.min(Math.max(expected, from), to);
  for (let d = 0; centre - d >= from || centre + d <= to; d++) {
    for (const c of d === 0 ? [centre] : [centre - d, centre + d]) {
      if (c < from || c > to) continue;
      if (otp.verify(otp1, { from: c, to: c }) !== null && otp.verify(otp2, { from: c + 1, to: c + 1 }) !== null) {
        return { movingFactor: c + 1, drift: otp.mode === 'totp' ? adminMeasuredDrift(otp, token, c + 1, nowMs, p) : token.drift };
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

/** What reaching `failures` consecutive failures costs. */
export function failureConsequence(failures: number, p: PolicyOptions = DEFAULT_POLICY): FailureConsequence {
  if (failures >= p.lockAfter) return { blockForMs: 0, lock: true };
  if (failures < p.blockAfter) return { blockForMs: 0, lock: false };
  // 2 ** large is Infinity, which Math.min caps, so no overflow check is needed.
  return { blockForMs: Math.min(p.firstBlockMs * 2 ** (failures - p.blockAfter), p.maxBlockMs), lock: false };
}
