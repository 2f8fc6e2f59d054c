/**
 * The persistence contract of the validation server. The SQLite adapter (sqlite.ts) is the
 * embedded default; a PostgreSQL adapter must pass the same contract tests without any caller
 * changing, so:
 * - every method is async, and every write method is one atomic unit: it commits entirely, with
 *   its audit events, before its promise resolves (durably), or not at all;
 * - the rules that must hold under concurrency live in these methods, not in their callers:
 *   accepting a moving factor is a compare-and-set (applied only if it is above the last accepted
 *   one), the failure count is incremented atomically, and one user has at most one active token;
 * - nothing SQLite-specific shows: no rowids, no statement objects, times are unix ms integers,
 *   bytes are Uint8Array.
 * The store never sees a plaintext seed or password: seeds arrive sealed (security/seed-vault.ts)
 * and passwords hashed (security/password.ts).
 */
import type { ProfileName } from '@kodeviser/shared';
import type { Decision, Snapshot } from '../domain/decide.js';
import type { AuditEvent, AuditQuery, AuditType, RejectReason, TokenStatus } from '../domain/types.js';

/** A seed encrypted under the master key of `keyVersion` (AES-256-GCM, the serial as AAD). */
export interface SealedSeed {
  ciphertext: Uint8Array;
  nonce: Uint8Array;
  keyVersion: number;
}

export interface PendingResync {
  /** The moving factor the wide-window code matched. */
  movingFactor: number;
  /** Unix ms when it matched. */
  at: number;
}

/**
 * A token's clock as the server tracks it (server/src/domain/policy.ts says how and why). A hotp
 * token has none: all zeros, `rateVar` null.
 */
export interface TokenDrift {
  /**
   * Whole steps: the token's step minus the server's, at the last accept (or as imported). What
   * the server before offsets read, still written so that it can run on the database again.
   */
  steps: number;
  /** The token's clock minus the server's, ms, as of `lastUsedAt` (`importedAt` before any use). */
  offsetMs: number;
  /** How fast that offset grows, ppm (µs a second): the crystal's error as learnt from accepts. */
  ratePpm: number;
  /**
   * The variance of `ratePpm`, ppm²; null while `offsetMs` is not a measurement yet (imported or
   * migrated from whole steps), so the first accept measures the offset but learns no rate.
   */
  rateVar: number | null;
}

export interface TokenRecord {
  serial: string;
  profile: ProfileName;
  digits: number;
  step: number;
  t0: number;
  seed: SealedSeed;
  status: TokenStatus;
  /** The last accepted moving factor; -1 before the first (a hotp token imported at counter c has c − 1). */
  lastMovingFactor: number;
  drift: TokenDrift;
  failures: number;
  blockedUntil: number | null;
  pendingResync: PendingResync | null;
  /** The user of the token's active assignment, or null. */
  userId: string | null;
  importedAt: number;
  lastUsedAt: number | null;
}

export type NewTokenRecord = Pick<TokenRecord, 'serial' | 'profile' | 'digits' | 'step' | 't0' | 'seed' | 'lastMovingFactor' | 'drift'>;

export interface UserRecord {
  userId: string;
  /** `scrypt$N$r$p$salt$hash` (security/password.ts). */
  passwordHash: string;
}

/** Where a request came from; written with every audit event of the write. */
export interface Origin {
  at: number;
  ip: string | null;
  userId?: string | null;
  actor?: string | null;
}

export interface FailureConsequence {
  /** How long codes are not checked from now on (0: not blocked). */
  blockForMs: number;
  /** Lock the token until an admin unlocks it. */
  lock: boolean;
}

/**
 * One end-user attempt, applied atomically: either the code's moving factor is consumed (if
 * `consume` is given and it is above the last accepted one) and, when `success`, the token's
 * failures, block and pending resync are cleared; or it counts as a failure: the failure count is
 * incremented, `onFailure(newCount)` says whether to block or lock, and the pending resync is
 * cleared (the next code must complete a resync, any other code cancels it).
 */
export interface AttemptCommand {
  serial: string;
  origin: Origin;
  /** The moving factor the code matched, and the token's clock as that accept measured it. */
  consume?: { movingFactor: number; drift: TokenDrift };
  /** Whether the attempt succeeds when `consume` applies (false: right code, wrong password). */
  success: boolean;
  /** The reason written when the attempt fails (replaced by 'replay' when the compare-and-set loses). */
  reason: RejectReason;
  /** Written as the reason of the accept event (e.g. 'resync' when it completed a resync). */
  acceptNote?: string;
  /** On success: bind the token to this user (Binding says on what condition). */
  bind?: Binding;
  /** Pure: the consequence of reaching `failures` consecutive failures. */
  onFailure: (failures: number) => FailureConsequence;
}

/**
 * A token bound to a user by activation, with the user's new password. Applied only while the
 * user is as the decision saw it, else the whole attempt throws ServiceError ERR_USER_CHANGED:
 * `replaces` null creates the user (who must not exist yet); a serial replaces the user's active
 * token, which must still be that one, and deactivates it (unless it is the token bound).
 */
export interface Binding {
  userId: string;
  passwordHash: string;
  replaces: string | null;
}

export type AttemptResult =
  | { outcome: 'accepted' }
  | {
      outcome: 'failed';
      reason: RejectReason;
      failures: number;
      blockedUntil: number | null;
      locked: boolean;
    };

export interface StatusChange {
  serial: string;
  /** Applied only if the token is in one of these states. */
  from: readonly TokenStatus[];
  to: TokenStatus;
  origin: Origin;
}

/** Omit<AuditEvent, 'id'>, with every field but `type` optional. */
export type AuditEntry = Pick<AuditEvent, 'at' | 'type'> & Partial<Omit<AuditEvent, 'id' | 'at' | 'type'>>;

/** What an attempt is about: a token by its serial, or a user (its active token, and the user's row). */
export type AttemptKey = { serial: string } | { userId: string };

export interface TokenStore {
  /** All or nothing; throws DuplicateSerialError naming the first serial that exists. Writes one 'import' event each. */
  insertTokens(tokens: readonly NewTokenRecord[], origin: Origin): Promise<void>;
  getToken(serial: string): Promise<TokenRecord | null>;
  /** The user's active token, or null. */
  getActiveToken(userId: string): Promise<TokenRecord | null>;
  getUser(userId: string): Promise<UserRecord | null>;
  recordAttempt(cmd: AttemptCommand): Promise<AttemptResult>;
  /**
   * Reads the snapshot of `key` inside one atomic unit, runs `decide` on it and applies the
   * writes it returns (domain/decide.ts) before the unit commits, so the decision sees the rows as
   * they are when they are written, whatever runs at the same time. The store translates each
   * write into its SQL and decides nothing. `decide` must be synchronous and must not call the
   * store.
   */
  attempt<T>(key: AttemptKey, decide: (snapshot: Snapshot) => Decision<T>): Promise<T>;
  /** Remembers a wide-window match; writes 'resync-started'. */
  startResync(serial: string, pending: PendingResync, origin: Origin): Promise<void>;
  /**
   * Admin resync: compare-and-set of the moving factor (above the last accepted only), clears
   * failures, block and pending resync; writes 'resync'. False when the compare-and-set lost.
   */
  resync(serial: string, movingFactor: number, drift: TokenDrift, origin: Origin): Promise<boolean>;
  /**
   * lock / unlock / revoke, writing the event named by the target ('enabled' → 'unlock'). Unlock
   * clears failures and block; revoke ends the token's assignment. False when the token is not
   * in a `from` state (or does not exist).
   */
  changeStatus(change: StatusChange): Promise<boolean>;
  appendAudit(entries: readonly AuditEntry[]): Promise<void>;
  queryAudit(query: AuditQuery): Promise<AuditEvent[]>;
  ping(): Promise<boolean>;
  /** Commits what is queued, then closes. Later calls reject with ERR_STORE_CLOSED. */
  close(): Promise<void>;
}

export type { AuditType };
