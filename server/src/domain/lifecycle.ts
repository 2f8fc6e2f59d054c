/**
 * The decisions of a user's life with a device, after identity (identity.ts): activating a device
 * with a proof, changing the password with the current login, resetting a forgotten one with a
 * proof and a code of the active device. Each is decided inside the store's unit (decide.ts) and
 * spends what allowed it in that same unit: of two concurrent uses of one proof, one wins.
 */
import type { Otp } from '@kodeviser/shared';
import { matchCode, type PolicyOptions } from './policy.js';
import {
  answer,
  audit,
  auditEntry,
  decideAuthenticate,
  gate,
  refusal,
  type Decision,
  type PasswordCheck,
  type Snapshot,
  type VerifyDecision,
  type Write,
} from './decide.js';
import type { ActivationOutcome, RejectReason, VerifyOutcome } from './types.js';
import type { Origin, TokenRecord } from '../store/types.js';

/**
 * Why the snapshot's proof cannot be spent at `at`, or null when it can. A proof whose user is
 * gone (erased) is as unknown as one never made.
 */
export function proofRefusal({ proof, user }: Snapshot, at: number): RejectReason | null {
  if (proof === null || user === null || user.userId !== proof.userId) return 'proof-unknown';
  if (proof.usedAt !== null) return 'proof-used';
  if (proof.expiresAt <= at) return 'proof-expired';
  return null;
}

/** A decision made before or without an accept (a refusal, a block, a failed code), as an activation's. */
const notAccepted = (d: VerifyDecision): Decision<ActivationOutcome> => d as Decision<Exclude<VerifyOutcome, { result: 'accept' }>>;

export interface ActivationAttempt {
  serial: string;
  /** A code of the token to activate. */
  otp: string;
  /** The hash of the user's password from now on; null: not hashed yet (the token was blocked). */
  passwordHash: string | null;
}

/**
 * Activation (POST /v1/activate), on the snapshot of the proof, its user (and the user's active
 * token) and the serial: a proof not yet spent, a token that serves no other user (a token serves
 * one user in its life), and a code of it. Accepted, the proof is spent, the password set and the
 * token becomes the user's active one; the one active before is deactivated, "replaced by" the new
 * one (an operator may reverse that within a week: decideReinstate). Every refusal is the same
 * reject to the caller, its reason audited; a wrong code counts against the token as any failure.
 * Null when the password must be hashed first.
 */
export function decideActivate(
  s: Snapshot,
  a: ActivationAttempt,
  o: Origin,
  policy: PolicyOptions,
  otpOf: (token: TokenRecord) => Otp,
): Decision<ActivationOutcome> | null {
  const { token, user, userToken, proof } = s;
  const unspendable = proofRefusal(s, o.at);
  if (unspendable !== null || user === null || proof === null) {
    return notAccepted(refusal({ ...o, userId: proof?.userId ?? null }, unspendable ?? 'proof-unknown', a.serial));
  }
  const { userId } = user;
  const as: Origin = { ...o, userId };
  if (token === null) return notAccepted(refusal(as, 'unknown-token', a.serial));
  const { serial } = token;
  if (s.tokenOwner !== null && s.tokenOwner !== userId) return notAccepted(refusal(as, 'assigned-elsewhere', serial));
  const gated = gate(token, as);
  if (gated) return notAccepted(gated);
  if (a.passwordHash === null) return null;
  const match = matchCode(otpOf(token), token, a.otp, o.at, policy);
  if (match.kind !== 'accept') return notAccepted(answer(token, match, as, policy));
  const writes: Write[] = [
    { kind: 'consume', serial, movingFactor: match.movingFactor, drift: match.drift, at: o.at, success: true },
    { kind: 'use-proof', idHash: proof.idHash, at: o.at },
    { kind: 'set-password', userId, passwordHash: a.passwordHash, at: o.at },
  ];
  if (userToken !== null && userToken.serial !== serial) {
    writes.push(
      { kind: 'deactivate', serial: userToken.serial, at: o.at, replacedBy: serial },
      audit(auditEntry(as, 'deactivate', userToken.serial, `replaced by ${serial}`, null)),
    );
  }
  writes.push(
    { kind: 'assign', serial, userId, at: o.at },
    audit(auditEntry(as, 'activate', serial, `proof by ${proof.actor}`, null)),
    audit(auditEntry(as, 'accept', serial, match.completesResync ? 'resync' : null, match.movingFactor)),
  );
  return { result: { result: 'accept', serial, movingFactor: match.movingFactor, userId }, writes };
}

/**
 * A password change (POST /v1/users/self/password): a login with the old password (decided as
 * decideAuthenticate: failures counted, blocks held) that, accepted, sets the new one. Null when
 * a password must be checked or hashed first.
 */
export function decidePasswordChange(
  s: Snapshot,
  code: string,
  oldPassword: PasswordCheck,
  newHash: string | null,
  o: Origin,
  policy: PolicyOptions,
  otpOf: (token: TokenRecord) => Otp,
): VerifyDecision | null {
  const login = decideAuthenticate(s, code, oldPassword, o, policy, otpOf);
  if (login === null || login.result.result !== 'accept') return login;
  if (newHash === null || s.user === null) return null;
  const { userId } = s.user;
  return {
    result: login.result,
    writes: [
      ...login.writes,
      { kind: 'set-password', userId, passwordHash: newHash, at: o.at },
      audit(auditEntry(o, 'password', login.result.serial, 'changed', null, userId)),
    ],
  };
}

/**
 * A forgotten password (POST /v1/users/self/password-reset): a proof of identity, not yet spent,
 * and a code of the user's active device (a failure counts against it) set a new password,
 * spending the proof. Null when the new password must be hashed first.
 */
export function decidePasswordReset(
  s: Snapshot,
  code: string,
  newHash: string | null,
  o: Origin,
  policy: PolicyOptions,
  otpOf: (token: TokenRecord) => Otp,
): VerifyDecision | null {
  const { user, userToken: token, proof } = s;
  const unspendable = proofRefusal(s, o.at);
  if (unspendable !== null || user === null || proof === null)
    return refusal({ ...o, userId: proof?.userId ?? null }, unspendable ?? 'proof-unknown', null);
  const as: Origin = { ...o, userId: user.userId };
  if (token === null) return refusal(as, 'not-activated', null);
  const gated = gate(token, as);
  if (gated) return gated;
  if (newHash === null) return null;
  const match = matchCode(otpOf(token), token, code, o.at, policy);
  const d = answer(token, match, as, policy);
  if (d.result.result !== 'accept') return d;
  return {
    result: d.result,
    writes: [
      ...d.writes,
      { kind: 'use-proof', idHash: proof.idHash, at: o.at },
      { kind: 'set-password', userId: user.userId, passwordHash: newHash, at: o.at },
      audit(auditEntry(as, 'password', token.serial, `reset with proof by ${proof.actor}`, null)),
    ],
  };
}

/** How long an operator may reverse a replacement. */
export const REINSTATE_WITHIN_MS = 7 * 86_400_000;

export type ReinstateRefusal =
  | { refused: 'unknown-token' }
  /** revoked: for good */
  | { refused: 'token-state'; status: 'revoked' }
  /** active, never assigned, ended otherwise than by a replacement, or replaced again since */
  | { refused: 'not-replaced' }
  | { refused: 'too-late' };

export interface Reinstated {
  serial: string;
  userId: string;
  /** The replacement, revoked; null when it was no longer active. */
  revoked: string | null;
}

/**
 * An operator reverses a replacement (POST /v1/tokens/:serial/reinstate) within a week: the way
 * back when a device was replaced without its owner. On the snapshot of the old token and its
 * owner: the replacement (if still the owner's active device) is revoked for good, the old device
 * is active again, and the password is cleared, since whoever made the replacement chose it: the
 * owner sets a new one with a proof and the old device (decidePasswordReset).
 */
export function decideReinstate(s: Snapshot, o: Origin): Decision<Reinstated | ReinstateRefusal> {
  const { token, tokenOwner: userId, tokenEnded: ended, userToken } = s;
  const refuse = (r: ReinstateRefusal) => ({ result: r, writes: [] });
  if (token === null) return refuse({ refused: 'unknown-token' });
  if (token.status === 'revoked') return refuse({ refused: 'token-state', status: 'revoked' });
  if (userId === null || ended === null || ended.replacedBy === null) return refuse({ refused: 'not-replaced' });
  if (userToken !== null && userToken.serial !== ended.replacedBy) return refuse({ refused: 'not-replaced' });
  if (o.at - ended.at > REINSTATE_WITHIN_MS) return refuse({ refused: 'too-late' });
  const { serial } = token;
  const as: Origin = { ...o, userId };
  const writes: Write[] = [];
  if (userToken !== null) {
    writes.push(
      { kind: 'status', serial: userToken.serial, status: 'revoked' },
      { kind: 'deactivate', serial: userToken.serial, at: o.at, replacedBy: null },
      audit(auditEntry(as, 'revoke', userToken.serial, `replacement of ${serial} reversed`, null)),
    );
  }
  writes.push(
    { kind: 'assign', serial, userId, at: o.at },
    { kind: 'set-password', userId, passwordHash: null, at: o.at },
    audit(auditEntry(as, 'activate', serial, `reinstated: replacement by ${ended.replacedBy} reversed; password cleared`, null)),
  );
  return { result: { serial, userId, revoked: userToken?.serial ?? null }, writes };
}

/**
 * Erasure of a user's personal data (DELETE /v1/users/:userId, admin): every device it ever had
 * revoked for good (a token serves one user in its life, and the record of whose it was goes),
 * its proofs, password hash, identity hash and user ID deleted. The append-only audit log is not
 * rewritten: its rows name the user by a pseudonym whose mapping the erasure deletes. The erasure's
 * own row names no user.
 */
export function decideErase({ user }: Snapshot, o: Origin): Decision<{ erased: boolean }> {
  if (user === null) return { result: { erased: false }, writes: [] };
  return {
    result: { erased: true },
    writes: [audit(auditEntry(o, 'erase', null, 'personal data erased', null, null)), { kind: 'erase-user', userId: user.userId }],
  };
}
