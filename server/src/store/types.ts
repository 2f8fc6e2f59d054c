/**
 * The persistence contract of the validation server. The SQLite adapter (sqlite.ts) is the
 * embedded default; the PostgreSQL adapter passes the same contract tests without any caller
 * changing, so:
 * - every method is async; an attempt is one atomic unit that commits entirely, with its audit
 *   events, before its promise resolves (durably), or not at all;
 * - the store decides nothing: the rules live in domain/decide.ts, which an attempt runs on the
 *   rows it read inside its unit, and whose writes it applies — so they hold under concurrency;
 * - nothing SQLite-specific shows: no rowids, no statement objects, times are unix ms integers,
 *   bytes are Uint8Array.
 * The store never sees a plaintext seed or password: seeds arrive sealed (security/seed-vault.ts)
 * and passwords hashed (security/password.ts).
 */
import type { MovingFactor, ProfileName } from '@kodeviser/shared';
import type { CredentialRecord } from '../domain/credentials.js';
import type { GuessBudget } from '../domain/guessing.js';
import type { Decision, Snapshot } from '../domain/decide.js';
import type { OrderRecord, OrderStatus } from '../domain/orders.js';
import type { AuditEvent, AuditQuery, AuditType, TokenStatus } from '../domain/types.js';
import type { ChainRow } from './audit-chain.js';

/** A seed encrypted under the master key of `keyVersion` (AES-256-GCM, the serial as AAD). */
export interface SealedSeed {
  ciphertext: Uint8Array;
  nonce: Uint8Array;
  keyVersion: number;
}

export interface PendingResync {
  /** The moving factor the wide-window code matched. */
  movingFactor: MovingFactor;
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
  /**
   * The last accepted moving factor, up to 2^63 − 1 (@kodeviser/shared moving-factor.ts: a bigint
   * above 2^53 − 1); -1 before the first (a hotp token imported at counter c has c − 1).
   */
  lastMovingFactor: MovingFactor;
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
  /** `scrypt$N$r$p$salt$hash` (security/password.ts); null until an activation sets one. */
  passwordHash: string | null;
  /** The keyed hash of the user's national ID (domain/identity.ts); null for a user from before identities. */
  identityHash: string | null;
  /** Its wrong codes in the current window (domain/guessing.ts); null: none yet. */
  guesses: GuessBudget | null;
}

/** A user's life as the rows keep it (never a hash). */
export interface UserHistory {
  userId: string;
  createdAt: number;
  identityLinked: boolean;
  devices: Array<{
    serial: string;
    profile: ProfileName;
    status: TokenStatus;
    activatedAt: number;
    /** null while active */
    deactivatedAt: number | null;
    /** the device that replaced it */
    replacedBy: string | null;
    lastUsedAt: number | null;
  }>;
}

/** Where a request came from; written with every audit event of the write. */
export interface Origin {
  at: number;
  ip: string | null;
  userId?: string | null;
  actor?: string | null;
}

/** Omit<AuditEvent, 'id'>, with every field but `type` optional. */
export type AuditEntry = Pick<AuditEvent, 'at' | 'type'> & Partial<Omit<AuditEvent, 'id' | 'at' | 'type'>>;

/**
 * What an attempt is about, the rows its snapshot (domain/decide.ts) holds: a token by its
 * serial, a user (and the user's active token), a credential, an identity, a secret, a proof, or several.
 * An empty key reads nothing (an attempt that only writes the audit log).
 */
export interface AttemptKey {
  serial?: string;
  userId?: string;
  credentialId?: string;
  /** A national ID's keyed hash: the user linked to it. */
  identityHash?: string;
  /** A sealed secret's name. */
  secretName?: string;
  /** A proof of identity by the SHA-256 of its id (domain/identity.ts). */
  proofIdHash?: string;
  /**
   * An order by its id (domain/orders.ts); with it, the user's count of orders and the order the
   * serial was sent with are read too.
   */
  orderId?: string;
}

/** A signed checkpoint of the audit log as stored (audit-checkpoint.ts makes and reads the JWS). */
export interface StoredCheckpoint {
  id: number;
  at: number;
  /** The newest row it covers. */
  upToId: number;
  /** The rows up to this id were archived and may be deleted; null: a checkpoint only. */
  prunedToId: number | null;
  /** The checkpoint itself, a compact JWS. */
  jws: string;
}

/**
 * What the audit command (audit-command.ts) needs of a store to verify, checkpoint and archive the
 * log; the requests never use it.
 */
export interface AuditArchive {
  /** The rows with `after` < id ≤ `upTo`, oldest first, at most `limit`, with their lanes and hashes. */
  rows(after: number, upTo: number, limit: number): Promise<ChainRow[]>;
  /** An id at or below which every row there will ever be is committed (the newest now, PostgreSQL: after in-flight writes end). */
  boundary(): Promise<number>;
  /** The newest row from before `at` (unix ms), or 0. */
  lastIdAt(at: number): Promise<number>;
  checkpoints(): Promise<StoredCheckpoint[]>;
  addCheckpoint(cp: Omit<StoredCheckpoint, 'id'>): Promise<void>;
  /**
   * Records `cp` (its prunedToId set) with the audit row `entry`, then deletes the rows up to
   * cp.prunedToId in transactions of a few thousand rows each, so the writes of a server on the
   * same database wait for one of them at most. Returns the rows deleted.
   */
  prune(cp: Omit<StoredCheckpoint, 'id'>, entry: AuditEntry): Promise<number>;
}

/**
 * What an OpenID provider (oidc-provider's adapter, server/src/oidc) keeps: each instance of one of
 * its models (Session, Interaction, AuthorizationCode, AccessToken, Grant, Client …) by id, its
 * payload as JSON, until it expires. Shared by every instance over the same database.
 */
export interface OidcEntry {
  payload: Record<string, unknown>;
  /** unix ms it expires at; null: never (a client) */
  expiresAt: number | null;
  /** unix ms it was consumed (an authorization code used once), or null */
  consumedAt: number | null;
}

export interface OidcStore {
  /** Creates or replaces `model`'s `id`; payload.grantId, payload.uid and payload.userCode (strings, when present) are kept indexed. consumedAt is cleared. */
  upsert(model: string, id: string, payload: Record<string, unknown>, expiresAt: number | null): Promise<void>;
  /** The entry, unless there is none or it expired at or before `now`. */
  find(model: string, id: string, now: number): Promise<OidcEntry | null>;
  /** The entry of `model` whose payload `field` is `value` (uid: an interaction's session; userCode: device flow), as find. */
  findBy(model: string, field: 'uid' | 'userCode', value: string, now: number): Promise<OidcEntry | null>;
  /** Marks it consumed at `at` (nothing when there is none). */
  consume(model: string, id: string, at: number): Promise<void>;
  destroy(model: string, id: string): Promise<void>;
  /** Destroys every entry (of any model) whose payload.grantId is `grantId`. */
  revokeByGrantId(grantId: string): Promise<void>;
  /** The entries of `model` that have not expired at `now`, oldest first (for listing clients). */
  list(model: string, now: number): Promise<Array<{ id: string } & OidcEntry>>;
  /** Deletes every entry that expired at or before `now`; returns how many. */
  sweep(now: number): Promise<number>;
}

export interface TokenStore {
  /** All or nothing; throws DuplicateSerialError naming the first serial that exists. Writes one 'import' event each. */
  insertTokens(tokens: readonly NewTokenRecord[], origin: Origin): Promise<void>;
  getToken(serial: string): Promise<TokenRecord | null>;
  /**
   * What an attempt on `key` would decide on, read now outside any atomic unit: for looking
   * before the work an attempt needs done first (a password hashed), never for deciding.
   */
  snapshot(key: AttemptKey): Promise<Snapshot>;
  /**
   * Reads the snapshot of `key` inside one atomic unit, runs `decide` on it and applies the
   * writes it returns (domain/decide.ts), in order, before the unit commits, so the decision sees
   * the rows as they are when they are written, whatever runs at the same time. The store
   * translates each write into its SQL and decides nothing; a write that cannot apply as the
   * decision said (a broken invariant) rolls the whole unit back and rejects. `decide` must be
   * synchronous and must not call the store.
   */
  attempt<T>(key: AttemptKey, decide: (snapshot: Snapshot) => Decision<T>): Promise<T>;
  /** A user and every device it ever had, oldest first; null when there is no such user. */
  getUserHistory(userId: string): Promise<UserHistory | null>;
  /** A credential by its token's hash (domain/credentials.ts), revoked or expired too. */
  getCredential(by: { tokenHash: string }): Promise<CredentialRecord | null>;
  /** Every credential, oldest first. */
  listCredentials(): Promise<CredentialRecord[]>;
  /** An order by its id (domain/orders.ts); null when there is none. */
  getOrder(id: string): Promise<OrderRecord | null>;
  /** An order by the SHA-256 of its tracking token; null when there is none. */
  getOrderByTracking(trackingHash: string): Promise<OrderRecord | null>;
  /** Orders, of `status` if given, newest first, at most `limit` (1 to 1000). */
  listOrders(query: { status?: OrderStatus; limit: number }): Promise<OrderRecord[]>;
  queryAudit(query: AuditQuery): Promise<AuditEvent[]>;
  readonly auditArchive: AuditArchive;
  readonly oidc: OidcStore;
  ping(): Promise<boolean>;
  /** Commits what is queued, then closes. Later calls reject with ERR_STORE_CLOSED. */
  close(): Promise<void>;
}

export type { AuditType };
