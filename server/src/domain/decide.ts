/**
 * The decision of an attempt, pure: from what the store read inside its atomic unit (the
 * snapshot), the attempt and the policy, the outcome and the writes that carry it out, as plain
 * data. The store applies the writes before it commits and decides nothing itself, so every rule
 * of the policy (the gate, the windows, what a failure costs, the audit's wording) is written
 * here once, and holds under concurrency: the decision sees the row as it is when it is written.
 */
import type { Otp } from '@kodeviser/shared';
import type { AuditEntry, Origin, PendingResync, TokenDrift, TokenRecord, UserRecord } from '../store/types.js';
import { failureConsequence, matchCode, type CodeMatch, type PolicyOptions } from './policy.js';
import type { RejectReason, VerifyOutcome } from './types.js';

/**
 * What the store reads for a decision, inside the atomic unit that applies it: the token by its
 * serial, or a user's active token and the user.
 */
export interface Snapshot {
  token: TokenRecord | null;
  /** read for attempts keyed by a user ID; null for those keyed by a serial */
  user: UserRecord | null;
}

/** What the password check found, against which stored hash; null: not checked (the token was blocked). */
export type PasswordCheck = { ok: boolean; against: string } | null;

/** One change to the store's rows; the store translates each into its SQL, in order. */
export type Write =
  /** The moving factor is spent and the clock measured; `success` also clears failures and block. */
  | { kind: 'consume'; serial: string; movingFactor: number; drift: TokenDrift; at: number; success: boolean }
  /** The consecutive failures now; any pending resync is cancelled with them. */
  | { kind: 'failures'; serial: string; failures: number }
  /** Codes are not checked before `until` (unix ms). */
  | { kind: 'block'; serial: string; until: number }
  /** Locked until an admin unlocks it. */
  | { kind: 'lock'; serial: string }
  /** A wide-window match waits for its consecutive code. */
  | { kind: 'start-resync'; serial: string; pending: PendingResync }
  | { kind: 'audit'; entry: AuditEntry };

export interface Decision<T> {
  result: T;
  writes: readonly Write[];
}

/** What a failure did to the token, for the caller's log (the audit has it already). */
export type Consequence = 'blocked' | 'locked' | null;

export interface VerifyDecision extends Decision<VerifyOutcome> {
  consequence: Consequence;
}

/**
 * An audit row of the attempt from `o`, every field named: a literal of one shape, as a spread
 * of the origin with fields added is V8's slow path (25 % of a validation's CPU, measured).
 */
function auditEntry(
  o: Origin,
  type: AuditEntry['type'],
  serial: string | null,
  reason: string | null,
  movingFactor: number | null,
): AuditEntry {
  return { at: o.at, type, serial, userId: o.userId ?? null, ip: o.ip, actor: o.actor ?? null, reason, movingFactor };
}

/** A refusal that changes nothing but the audit log. */
export function refusal(o: Origin, reason: RejectReason, serial: string | null): VerifyDecision {
  return {
    result: serial === null ? { result: 'reject', reason } : { result: 'reject', reason, serial },
    writes: [{ kind: 'audit', entry: auditEntry(o, 'reject', serial, reason, null) }],
    consequence: null,
  };
}

/**
 * The refusals the token's state decides alone, before any code is looked at: not enabled, or
 * blocked (then codes are not even checked, nor counted: an attacker's trickle must not keep a
 * victim's token blocked for ever, but it is audited, so a lock-out from elsewhere leaves a trace).
 */
export function gate(token: TokenRecord, o: Origin): VerifyDecision | null {
  const { serial } = token;
  if (token.status !== 'enabled') return refusal(o, token.status, serial);
  if (token.blockedUntil !== null && token.blockedUntil > o.at) {
    return {
      result: { result: 'blocked', retryAfterSeconds: Math.ceil((token.blockedUntil - o.at) / 1000), serial },
      writes: [{ kind: 'audit', entry: auditEntry(o, 'reject', serial, 'blocked', null) }],
      consequence: null,
    };
  }
  return null;
}

/**
 * A failed attempt: one more consecutive failure, and what reaching it costs (policy.ts:
 * failureConsequence), audited with its reason. `spent`: the code's moving factor, when the code
 * was right but the attempt failed all the same (it is consumed: never replayable).
 */
export function failure(
  token: TokenRecord,
  o: Origin,
  reason: RejectReason,
  policy: PolicyOptions,
  spent?: { movingFactor: number; drift: TokenDrift },
): VerifyDecision {
  const { serial } = token;
  const failures = token.failures + 1;
  const writes: Write[] = [];
  if (spent) writes.push({ kind: 'consume', serial, movingFactor: spent.movingFactor, drift: spent.drift, at: o.at, success: false });
  writes.push(
    { kind: 'failures', serial, failures },
    { kind: 'audit', entry: auditEntry(o, 'reject', serial, reason, spent?.movingFactor ?? null) },
  );
  const cost = failureConsequence(failures, policy);
  let consequence: Consequence = null;
  if (cost.lock) {
    writes.push(
      { kind: 'lock', serial },
      { kind: 'audit', entry: auditEntry(o, 'lock', serial, `${failures} consecutive failures`, null) },
    );
    consequence = 'locked';
  } else if (cost.blockForMs > 0) {
    writes.push(
      { kind: 'block', serial, until: o.at + cost.blockForMs },
      {
        kind: 'audit',
        entry: auditEntry(o, 'block', serial, `${failures} consecutive failures: ${cost.blockForMs / 1000} s`, null),
      },
    );
    consequence = 'blocked';
  }
  return { result: { result: 'reject', reason, serial }, writes, consequence };
}

/** A code that matched: spent, the clock measured, the failures cleared. */
function accepted(serial: string, match: Extract<CodeMatch, { kind: 'accept' }>, o: Origin): VerifyDecision {
  const { movingFactor, drift } = match;
  return {
    result: { result: 'accept', serial, movingFactor },
    writes: [
      { kind: 'consume', serial, movingFactor, drift, at: o.at, success: true },
      { kind: 'audit', entry: auditEntry(o, 'accept', serial, match.completesResync ? 'resync' : null, movingFactor) },
    ],
    consequence: null,
  };
}

/** A code found only in the wide window: remembered until its consecutive code completes it. */
function resyncStarted(serial: string, movingFactor: number, o: Origin): VerifyDecision {
  return {
    result: { result: 'resync-started', serial },
    writes: [
      { kind: 'start-resync', serial, pending: { movingFactor, at: o.at } },
      { kind: 'audit', entry: auditEntry(o, 'resync-started', serial, null, movingFactor) },
    ],
    consequence: null,
  };
}

/** What a code's match means once every other factor is right: accepted, a resync started, or a failure. */
function answer(token: TokenRecord, match: CodeMatch, o: Origin, policy: PolicyOptions): VerifyDecision {
  switch (match.kind) {
    case 'accept':
      return accepted(token.serial, match, o);
    case 'wide':
      return resyncStarted(token.serial, match.movingFactor, o);
    case 'none':
      return failure(token, o, match.reason, policy);
  }
}

/**
 * A code against a token by serial (POST /v1/validate): the gate, the windows (policy.ts), then
 * an accept, a resync started, or a failure. The reply names the matched moving factor, so the
 * search may stop at the match.
 */
export function decideValidate(
  { token }: Snapshot,
  serial: string,
  code: string,
  o: Origin,
  policy: PolicyOptions,
  otpOf: (token: TokenRecord) => Otp,
): VerifyDecision {
  if (token === null) return refusal(o, 'unknown-token', serial);
  const gated = gate(token, o);
  if (gated) return gated;
  return answer(token, matchCode(otpOf(token), token, code, o.at, policy, true), o, policy);
}

/**
 * Log in (POST /v1/authenticate): the user's active token's code AND the user's password. The
 * reply never says which failed; a right code with a wrong password is spent (whoever watched it
 * typed cannot replay it with the right one) and counts as a failure. The password was checked
 * before the atomic unit (hashing takes ~100 ms); null when the check must be made first, because
 * it was skipped for a block that has ended meanwhile or made against a hash replaced meanwhile.
 */
export function decideAuthenticate(
  { token, user }: Snapshot,
  code: string,
  password: PasswordCheck,
  o: Origin,
  policy: PolicyOptions,
  otpOf: (token: TokenRecord) => Otp,
): VerifyDecision | null {
  if (token === null || user === null) return refusal(o, 'not-activated', null);
  const gated = gate(token, o);
  if (gated) return gated;
  if (password === null || password.against !== user.passwordHash) return null;
  const match = matchCode(otpOf(token), token, code, o.at, policy);
  if (!password.ok) {
    const spent = match.kind === 'accept' ? { movingFactor: match.movingFactor, drift: match.drift } : undefined;
    return failure(token, o, match.kind === 'none' ? 'bad-otp-and-password' : 'bad-password', policy, spent);
  }
  return answer(token, match, o, policy);
}
