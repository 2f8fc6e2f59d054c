/**
 * How many guesses a user ID gets, and what a user ID without a device answers.
 *
 * Two budgets. The token's consecutive failures (decide.ts failure: a block from the third,
 * doubling, the lock at the hundredth) bound a burst, and an accept resets them, so on their own
 * someone who knows a user's password would get about 33 code guesses a day for ever while the
 * real user logs in daily. So a user ID also has wrong codes per window (default 20 a day from the
 * first), which nothing resets and which count every wrong code whatever the password, so that the
 * answer never depends on the password; beyond them the ID is answered as a block is (README: the
 * yearly odds that leaves).
 *
 * A user ID with no active device (unknown, proven but not activated, its device revoked) answers
 * as if it had one that never accepts: the same 401s, the same block after the third, the same
 * Retry-After, the same timing (a password hashed, or not while blocked), so that a login tells
 * nobody whether the ID exists. Its state (PhantomState) lives where the rate limits do.
 */
import { audit, auditEntry, type Write } from './decide.js';
import { failureConsequence, type PolicyOptions } from './policy.js';
import type { VerifyOutcome } from './types.js';
import type { Origin } from '../store/types.js';

/** Wrong codes since `windowStart` (unix ms), in a window of policy.wrongCodesWindowMs. */
export interface GuessBudget {
  windowStart: number;
  count: number;
}

/** When the budget frees, when it is spent at `at`; null while guesses are left. */
export function budgetSpentUntil(b: GuessBudget | null, at: number, p: PolicyOptions): number | null {
  if (b === null || b.windowStart + p.wrongCodesWindowMs <= at) return null;
  return b.count >= p.wrongCodesPerWindow ? b.windowStart + p.wrongCodesWindowMs : null;
}

/** The budget after one more wrong code at `at` (a window that has ended starts anew). */
export function spendGuess(b: GuessBudget | null, at: number, p: PolicyOptions): GuessBudget {
  if (b === null || b.windowStart + p.wrongCodesWindowMs <= at) return { windowStart: at, count: 1 };
  return { windowStart: b.windowStart, count: b.count + 1 };
}

/** The reasons of a refusal whose code was wrong (not a right code with a wrong password, not a wide match). */
export const WRONG_CODE = new Set(['bad-otp', 'bad-otp-and-password', 'replay', 'resync-mismatch']);

/** A device that is not there: its consecutive failures and block, and the ID's budget. */
export interface PhantomState {
  failures: number;
  blockedUntil: number | null;
  budget: GuessBudget | null;
}

const blocked = (until: number, at: number): VerifyOutcome => ({
  result: 'blocked',
  retryAfterSeconds: Math.ceil((until - at) / 1000),
  // A phantom has no serial; the HTTP layer never shows one to a user.
  serial: '',
});
const rejected: VerifyOutcome = { result: 'reject', reason: 'not-activated' };

/**
 * What a user ID without a device answers before any password is checked: locked (a 401, at
 * once, as a locked token), blocked or out of budget (429); null: check the password (for the
 * time it takes), then decidePhantom.
 */
export function phantomGate(s: PhantomState | null, at: number, p: PolicyOptions): VerifyOutcome | null {
  if (s === null) return null;
  if (failureConsequence(s.failures, p).lock) return rejected;
  const until = Math.max(s.blockedUntil ?? 0, budgetSpentUntil(s.budget, at, p) ?? 0);
  return until > at ? blocked(until, at) : null;
}

/**
 * One more attempt on a user ID without a device, decided on its state as it is now (another
 * attempt may have changed it since the gate): as the gate would answer, or a failure, counted as a
 * token's would be (failureConsequence) and spending the budget.
 */
export function decidePhantom(s: PhantomState | null, at: number, p: PolicyOptions): { outcome: VerifyOutcome; state: PhantomState } {
  const current = s ?? { failures: 0, blockedUntil: null, budget: null };
  const gated = phantomGate(current, at, p);
  if (gated !== null) return { outcome: gated, state: current };
  const failures = current.failures + 1;
  const cost = failureConsequence(failures, p);
  const blockedUntil = cost.blockForMs > 0 ? Math.max(current.blockedUntil ?? 0, at + cost.blockForMs) : current.blockedUntil;
  return { outcome: rejected, state: { failures, blockedUntil, budget: spendGuess(current.budget, at, p) } };
}

/** How long a phantom's state matters after `at`: until its block and its budget window end (a lock: for good). */
export function phantomTtlMs(s: PhantomState, at: number, p: PolicyOptions): number | null {
  if (failureConsequence(s.failures, p).lock) return null;
  const ends = Math.max(s.blockedUntil ?? 0, s.budget === null ? 0 : s.budget.windowStart + p.wrongCodesWindowMs);
  // The failures outlive a block, as a token's do until an accept: keep the state a window longer.
  return Math.max(ends - at, 0) + p.wrongCodesWindowMs;
}

/** The audit row of a phantom's answer, as a login without a device was always audited. */
export const phantomWrites = (o: Origin, outcome: VerifyOutcome): Write[] => [
  audit(auditEntry(o, 'reject', null, outcome.result === 'blocked' ? 'blocked' : 'not-activated', null)),
];
