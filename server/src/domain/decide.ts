/**
 * The decision of an attempt, pure: from what the store read inside its atomic unit (the
 * snapshot), the attempt and the policy, the outcome and the writes that carry it out, as plain
 * data. The store applies the writes before it commits and decides nothing itself, so every rule
 * of the policy (the gate, the windows, what a failure costs, who may bind a token, the audit's
 * wording) is written here once, and holds under concurrency: the decision sees the rows as they
 * are when they are written.
 */
import type { MovingFactor, Otp } from '@kodeviser/shared';
import type { AuditEntry, Origin, PendingResync, SealedSeed, TokenDrift, TokenRecord, UserRecord } from '../store/types.js';
import type { CredentialRecord } from './credentials.js';
import type { ProofRecord } from './identity.js';
import type { OrderRecord, OrderWrite } from './orders.js';
import { budgetSpentUntil, spendGuess, WRONG_CODE, type GuessBudget } from './guessing.js';
import { failureConsequence, findConsecutive, matchCode, type CodeMatch, type PolicyOptions } from './policy.js';
import type { Action, AuditType, RejectReason, ResyncOutcome, TokenStatus, VerifyOutcome } from './types.js';

/**
 * What the store reads for a decision, inside the atomic unit that applies it, for the attempt's
 * key (store/types.ts AttemptKey): its serial's token, its user and that user's active token.
 */
export interface Snapshot {
  /** The token of the key's serial; null when there is none, or the key names no serial. */
  token: TokenRecord | null;
  /** The user `token` was ever bound to, active or not: a token serves one user in its life. */
  tokenOwner: string | null;
  /** When `token`'s assignment ended, and the token that replaced it (null: revoked); null while active or never assigned. */
  tokenEnded: { at: number; replacedBy: string | null } | null;
  /** The key's user; null when there is none, or the key names no user. */
  user: UserRecord | null;
  /** The key user's active token (it may be `token` itself). */
  userToken: TokenRecord | null;
  /** The key's credential (domain/credentials.ts). */
  credential: CredentialRecord | null;
  /** The user linked to the key's identity (domain/identity.ts). */
  identityUser: UserRecord | null;
  /** The key's sealed secret (e.g. the identity key). */
  secret: SealedSeed | null;
  /** The key's proof of identity, used or expired too. */
  proof: ProofRecord | null;
  /** The key's order (domain/orders.ts). */
  order: OrderRecord | null;
  /**
   * The key user's orders, cancelled ones not counted; read only when the key names an order too
   * (the decisions about orders are the only ones that need it), else 0.
   */
  userOrders: number;
  /** The order the key's serial was sent with; read only when the key names an order too, else null. */
  orderOfSerial: OrderRecord | null;
}

/** A snapshot of a key that names nothing, or whose rows do not exist. */
export const EMPTY_SNAPSHOT: Snapshot = Object.freeze({
  token: null,
  tokenOwner: null,
  tokenEnded: null,
  user: null,
  userToken: null,
  credential: null,
  identityUser: null,
  secret: null,
  proof: null,
  order: null,
  userOrders: 0,
  orderOfSerial: null,
});

/**
 * What the password check found, against which stored hash ('' for none: a user whose password
 * was cleared is checked against nothing, and fails); null: not checked (the token was blocked).
 */
export type PasswordCheck = { ok: boolean; against: string } | null;

/** Whether `password` was checked against the hash `user` has now (else it must be checked again). */
export const checkedAgainst = (password: PasswordCheck, user: UserRecord): password is { ok: boolean; against: string } =>
  password !== null && password.against === (user.passwordHash ?? '');

/** One change to the store's rows; the store translates each into its SQL, in order. */
export type Write =
  /**
   * The moving factor is spent (it must be above the last spent one) and the clock measured; any
   * pending resync ends; `success` also clears failures and block.
   */
  | { kind: 'consume'; serial: string; movingFactor: MovingFactor; drift: TokenDrift; at: number; success: boolean }
  /** The consecutive failures now; any pending resync is cancelled with them. */
  | { kind: 'failures'; serial: string; failures: number }
  /** Codes are not checked before `until` (unix ms); null: not blocked. */
  | { kind: 'block'; serial: string; until: number | null }
  | { kind: 'status'; serial: string; status: TokenStatus }
  /** A wide-window match waits for its consecutive code. */
  | { kind: 'start-resync'; serial: string; pending: PendingResync }
  /** A new user (none may have the ID, or the identity, yet): without a password until an activation sets one. */
  | { kind: 'create-user'; userId: string; passwordHash: string | null; identityHash: string | null; at: number }
  /** null: none until a reset sets one (a login checks against nothing). */
  | { kind: 'set-password'; userId: string; passwordHash: string | null; at: number }
  /** The user ID's wrong codes in the current window (guessing.ts), as they are now. */
  | { kind: 'guesses'; userId: string; budget: GuessBudget }
  /** The token becomes the user's active one (the user must have none active). */
  | { kind: 'assign'; serial: string; userId: string; at: number }
  /** The token's active assignment ends; `replacedBy`: the token that became the user's active one instead. */
  | { kind: 'deactivate'; serial: string; at: number; replacedBy: string | null }
  /** A new credential (its id must be new). */
  | { kind: 'create-credential'; credential: CredentialRecord }
  | { kind: 'revoke-credential'; id: string; at: number }
  | { kind: 'create-proof'; proof: ProofRecord }
  /** The proof is spent (it must not be yet). */
  | { kind: 'use-proof'; idHash: string; at: number }
  /** A user from before identities linked to one (it must have none). */
  | { kind: 'link-identity'; userId: string; identityHash: string }
  /**
   * The user's personal data erased: every device it ever had revoked for good (those its orders
   * sent too), its proofs, orders (their addresses), assignments and row (password hash, identity
   * hash, the user ID, its pseudonym's mapping) deleted. The audit log is not touched: its rows
   * name the user by a pseudonym nothing maps any more.
   */
  | { kind: 'erase-user'; userId: string }
  /** A secret sealed under the master key, stored once under its name. */
  | { kind: 'create-secret'; name: string; sealed: SealedSeed }
  /** An order placed, or a step of its life (domain/orders.ts). */
  | OrderWrite
  | { kind: 'audit'; entry: AuditEntry };

export interface Decision<T> {
  result: T;
  writes: readonly Write[];
}

export type VerifyDecision = Decision<VerifyOutcome>;

/**
 * An audit row of the attempt from `o`, every field named: a literal of one shape, as a spread
 * of the origin with fields added is V8's slow path (25 % of a validation's CPU, measured).
 */
export function auditEntry(
  o: Origin,
  type: AuditType,
  serial: string | null,
  reason: string | null,
  movingFactor: MovingFactor | null,
  userId: string | null = o.userId ?? null,
): AuditEntry {
  return { at: o.at, type, serial, userId, ip: o.ip, actor: o.actor ?? null, reason, movingFactor };
}

export const audit = (entry: AuditEntry): Write => ({ kind: 'audit', entry });

/** A refusal that changes nothing but the audit log. */
export function refusal(o: Origin, reason: RejectReason, serial: string | null): VerifyDecision {
  return {
    result: serial === null ? { result: 'reject', reason } : { result: 'reject', reason, serial },
    writes: [audit(auditEntry(o, 'reject', serial, reason, null))],
  };
}

/** Whether codes for `token` are not checked at `at` (failures.md: a block is not a failure). */
export const isBlocked = (token: TokenRecord | null, at: number): boolean =>
  token !== null && token.blockedUntil !== null && token.blockedUntil > at;

/**
 * The refusals the token's state decides alone, before any code is looked at: not enabled, or
 * blocked (then codes are not even checked, nor counted: an attacker's trickle must not keep a
 * victim's token blocked for ever, but it is audited, so a lock-out from elsewhere leaves a trace).
 */
export function gate(token: TokenRecord, o: Origin): VerifyDecision | null {
  const { serial } = token;
  if (token.status !== 'enabled') return refusal(o, token.status, serial);
  if (isBlocked(token, o.at)) {
    return {
      result: { result: 'blocked', retryAfterSeconds: Math.ceil(((token.blockedUntil as number) - o.at) / 1000), serial },
      writes: [audit(auditEntry(o, 'reject', serial, 'blocked', null))],
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
  spent?: { movingFactor: MovingFactor; drift: TokenDrift },
): VerifyDecision {
  const { serial } = token;
  const failures = token.failures + 1;
  const writes: Write[] = [];
  if (spent) writes.push({ kind: 'consume', serial, movingFactor: spent.movingFactor, drift: spent.drift, at: o.at, success: false });
  writes.push({ kind: 'failures', serial, failures }, audit(auditEntry(o, 'reject', serial, reason, spent?.movingFactor ?? null)));
  const cost = failureConsequence(failures, policy);
  if (cost.lock) {
    writes.push(
      { kind: 'status', serial, status: 'locked' },
      audit(auditEntry(o, 'lock', serial, `${failures} consecutive failures`, null)),
    );
  } else if (cost.blockForMs > 0) {
    // A block is never shortened: a longer one may stand from before (a shorter schedule since).
    const until = Math.max(token.blockedUntil ?? 0, o.at + cost.blockForMs);
    writes.push(
      { kind: 'block', serial, until },
      audit(auditEntry(o, 'block', serial, `${failures} consecutive failures: ${cost.blockForMs / 1000} s`, null)),
    );
  }
  return { result: { result: 'reject', reason, serial }, writes };
}

/** A code that matched: spent, the clock measured, the failures cleared. */
function accepted(serial: string, match: Extract<CodeMatch, { kind: 'accept' }>, o: Origin): VerifyDecision {
  const { movingFactor, drift } = match;
  return {
    result: { result: 'accept', serial, movingFactor },
    writes: [
      { kind: 'consume', serial, movingFactor, drift, at: o.at, success: true },
      audit(auditEntry(o, 'accept', serial, match.completesResync ? 'resync' : null, movingFactor)),
    ],
  };
}

/** A code found only in the wide window: remembered until its consecutive code completes it. */
function resyncStarted(serial: string, movingFactor: MovingFactor, o: Origin): VerifyDecision {
  return {
    result: { result: 'resync-started', serial },
    writes: [
      { kind: 'start-resync', serial, pending: { movingFactor, at: o.at } },
      audit(auditEntry(o, 'resync-started', serial, null, movingFactor)),
    ],
  };
}

/** What a code's match means once every other factor is right: accepted, a resync started, or a failure. */
export function answer(token: TokenRecord, match: CodeMatch, o: Origin, policy: PolicyOptions): VerifyDecision {
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
 * A code and a password for an ungated token, as a login decides them: the reply never says
 * which failed; a right code with a wrong password is spent (whoever watched it typed cannot
 * replay it with the right one) and counts as a failure.
 */
export function withPassword(
  token: TokenRecord,
  code: string,
  passwordOk: boolean,
  o: Origin,
  policy: PolicyOptions,
  otp: Otp,
): VerifyDecision {
  const match = matchCode(otp, token, code, o.at, policy);
  if (passwordOk) return answer(token, match, o, policy);
  const spent = match.kind === 'accept' ? { movingFactor: match.movingFactor, drift: match.drift } : undefined;
  return failure(token, o, match.kind === 'none' ? 'bad-otp-and-password' : 'bad-password', policy, spent);
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
 * password was checked before the atomic unit (hashing takes ~100 ms); null when the check must
 * be made first, because it was skipped for a block that has ended meanwhile or made against a
 * hash replaced meanwhile.
 */
export function decideAuthenticate(
  { userToken: token, user }: Snapshot,
  code: string,
  password: PasswordCheck,
  o: Origin,
  policy: PolicyOptions,
  otpOf: (token: TokenRecord) => Otp,
  approval?: ApprovalNote,
): VerifyDecision | null {
  if (token === null || user === null) return refusal(o, 'not-activated', null);
  const gated = gate(token, o);
  if (gated) return gated;
  // The user ID's guessing budget, spent: answered as a block, before the password is looked at.
  const spentUntil = budgetSpentUntil(user.guesses, o.at, policy);
  if (spentUntil !== null) {
    return {
      result: { result: 'blocked', retryAfterSeconds: Math.ceil((spentUntil - o.at) / 1000), serial: token.serial },
      writes: [audit(auditEntry(o, 'reject', token.serial, 'guess-budget', null))],
    };
  }
  if (!checkedAgainst(password, user)) return null;
  const d = noteApproval(withPassword(token, code, password.ok, o, policy, otpOf(token)), approval);
  if (d.result.result !== 'reject' || !WRONG_CODE.has(d.result.reason)) return d;
  return {
    result: d.result,
    writes: [...d.writes, { kind: 'guesses', userId: user.userId, budget: spendGuess(user.guesses, o.at, policy) }],
  };
}

/** What an accepted login approved, for its audit row (security/receipts.ts signs the receipt). */
export interface ApprovalNote {
  action: Action;
  /** base64url(SHA-256(UTF-8 text)), when there is a text. */
  textSha256: string | null;
  /** The receipt's id, chosen before the decision so that the accept's row names it. */
  jti: string;
}

/** The accept's audit row says what was approved and which receipt was issued for it. */
function noteApproval(d: VerifyDecision, approval: ApprovalNote | undefined): VerifyDecision {
  if (approval === undefined || d.result.result !== 'accept') return d;
  const note = `${approval.action}${approval.textSha256 === null ? '' : ` text ${approval.textSha256}`} receipt ${approval.jti}`;
  return {
    result: d.result,
    writes: d.writes.map((w) =>
      w.kind === 'audit' && w.entry.type === 'accept'
        ? audit({ ...w.entry, reason: w.entry.reason ? `${w.entry.reason}; ${note}` : note })
        : w,
    ),
  };
}

/** `token` as `writes` leave it (the ones an attempt on it makes). */
function afterWrites(token: TokenRecord, writes: readonly Write[]): TokenRecord {
  let t = token;
  for (const w of writes) {
    if (!('serial' in w) || w.serial !== token.serial) continue;
    if (w.kind === 'consume') {
      t = { ...t, lastMovingFactor: w.movingFactor, drift: w.drift, lastUsedAt: w.at, pendingResync: null };
      if (w.success) t = { ...t, failures: 0, blockedUntil: null };
    } else if (w.kind === 'failures') t = { ...t, failures: w.failures, pendingResync: null };
    else if (w.kind === 'block') t = { ...t, blockedUntil: w.until };
    else if (w.kind === 'status') t = { ...t, status: w.status };
    else if (w.kind === 'start-resync') t = { ...t, pendingResync: w.pending };
  }
  return t;
}

/** Why an admin's request cannot apply to the token at all (the service throws for it). */
export type AdminRefusal = { refused: 'unknown-token' } | { refused: 'token-state'; status: TokenStatus };

/** The refusals of every admin action: a token must exist and not be revoked. */
function adminGate(token: TokenRecord | null): AdminRefusal | null {
  if (token === null) return { refused: 'unknown-token' };
  if (token.status === 'revoked') return { refused: 'token-state', status: token.status };
  return null;
}

/**
 * Admin resync (POST /v1/tokens/:serial/resync): two consecutive codes searched in the admin's
 * large window; found, they set the moving factor and clear failures, block and pending resync
 * (a locked token stays locked).
 */
export function decideResync(
  { token }: Snapshot,
  otp1: string,
  otp2: string,
  o: Origin,
  policy: PolicyOptions,
  otpOf: (token: TokenRecord) => Otp,
): Decision<ResyncOutcome | AdminRefusal> {
  const refused = adminGate(token);
  if (refused !== null || token === null) return { result: refused ?? { refused: 'unknown-token' }, writes: [] };
  const { serial } = token;
  const found = findConsecutive(otpOf(token), token, otp1, otp2, o.at, policy);
  if (found === null) {
    return { result: { result: 'not-found', serial }, writes: [audit(auditEntry(o, 'reject', serial, 'admin-resync-not-found', null))] };
  }
  const { movingFactor, drift } = found;
  return {
    result: { result: 'resynced', serial, movingFactor, drift: drift.steps },
    writes: [
      { kind: 'consume', serial, movingFactor, drift, at: o.at, success: true },
      audit(auditEntry(o, 'resync', serial, `drift ${drift.steps}`, movingFactor)),
    ],
  };
}

/** The audit event of each status an admin sets. */
const STATUS_EVENT: Readonly<Record<TokenStatus, AuditType>> = { enabled: 'unlock', locked: 'lock', revoked: 'revoke' };

/**
 * An admin's lock, unlock or revoke. Unlock also clears failures and block (an admin's unlock
 * of an enabled token lifts its block); revoke ends the token's assignment, audited under its
 * former user. Returns the token as it will be.
 */
export function decideStatus({ token }: Snapshot, to: TokenStatus, o: Origin): Decision<TokenRecord | AdminRefusal> {
  const refused = adminGate(token);
  if (refused !== null || token === null) return { result: refused ?? { refused: 'unknown-token' }, writes: [] };
  const { serial } = token;
  const writes: Write[] = [{ kind: 'status', serial, status: to }];
  if (to === 'enabled') writes.push({ kind: 'failures', serial, failures: 0 }, { kind: 'block', serial, until: null });
  const formerUser = to === 'revoked' ? token.userId : null;
  if (formerUser !== null) writes.push({ kind: 'deactivate', serial, at: o.at, replacedBy: null });
  writes.push(audit(auditEntry(o, STATUS_EVENT[to], serial, null, null, formerUser)));
  const after = afterWrites(token, writes);
  return { result: formerUser !== null ? { ...after, userId: null } : after, writes };
}
