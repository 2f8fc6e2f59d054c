/**
 * The validation service as the HTTP layer sees it: what a route may ask (`TokenService`) and what
 * it gets back (`VerifyOutcome`, `TokenInfo`, `AuditEvent`). Routes translate outcomes to HTTP;
 * nothing here knows about HTTP, and nothing here ever carries a seed, a code or a password back.
 *
 * Expected conditions of a token (wrong code, blocked, locked, revoked) are outcomes, not
 * exceptions; exceptions are for bad arguments (`KodeviserError`) and for admin requests that
 * cannot apply (`ServiceError`, see errors.ts).
 */
import type { MovingFactor, ProfileName } from '@kodeviser/shared';
import type { IdentityEvidence, ProofRefusal } from './identity.js';
import type { Delivery, OrderRefusal, OrderStatus, OrderStepRequest, OrderTracking, OrderView, PlacedOrder } from './orders.js';

/** Injected so that every time-dependent rule is testable with a fake clock. */
export interface Clock {
  /** Unix time in milliseconds. */
  now(): number;
}

/** Who is asking, for the audit log. */
export interface RequestContext {
  /** The client's IP address, as the HTTP layer resolved it. */
  ip: string;
  /** The bearer the request came with, when it needs one (plugins/auth.ts): the audit log's actor. */
  actor?: string;
}

/**
 * Why a code was refused. Goes to the audit log and the server log only: an end user is told
 * "rejected" and never which factor failed (routes must not put `reason` in a response body).
 */
export type RejectReason =
  | 'unknown-token' // no token with that serial
  | 'not-activated' // authenticate: the user has no active token
  | 'bad-otp' // the code matched no moving factor in the window
  | 'replay' // the code's moving factor was already accepted (or a concurrent request won it)
  | 'bad-password' // authenticate/activate: right code, wrong password (the code is consumed)
  | 'bad-otp-and-password'
  | 'resync-mismatch' // a resync was pending and this code was not the consecutive one
  | 'locked' // locked after too many failures or by an admin: needs an admin unlock
  | 'revoked'
  | 'assigned-elsewhere' // activate: the token is bound to another user
  | 'owner-not-proven' // a proof's link of a user from before identities: the owner's code or password failed
  | 'proof-unknown' // activate, password reset: no proof with that id (or its user is gone)
  | 'proof-expired' // older than its 15 minutes
  | 'proof-used'; // spent by an activation or reset already

export interface ActivationRequest {
  /** A proof of identity (POST /v1/proofs, /v1/proofs/self) for the user the device is for. */
  proofId: string;
  serial: string;
  otp: string;
  /** The user's password from now on. */
  password: string;
}

/** An activation's outcome: accepted, it names the user the proof was for. */
export type ActivationOutcome =
  Exclude<VerifyOutcome, { result: 'accept' }> | (Extract<VerifyOutcome, { result: 'accept' }> & { userId: string });

export type VerifyOutcome =
  | { result: 'accept'; serial: string; movingFactor: MovingFactor }
  /** `reason` is for the audit log, never for the end user. `serial` is absent when unknown. */
  | { result: 'reject'; reason: RejectReason; serial?: string }
  /** Too many consecutive failures: HTTP 429 with Retry-After. The code was not checked. */
  | { result: 'blocked'; retryAfterSeconds: number; serial: string }
  /**
   * The code matched only in the wide window (a token whose clock or counter ran far ahead):
   * not accepted; the next code the token shows (the consecutive moving factor) completes it.
   */
  | { result: 'resync-started'; serial: string };

/** One token to import, as the HTTP layer parsed it from JSON or PSKC. */
export interface TokenImport {
  /** Ten digits, Luhn-valid (printed form NN-NNNNNNN-N accepted). */
  serial: string;
  profile: ProfileName;
  key: Uint8Array;
  /** 6..8, default 6. */
  digits?: number;
  /** totp step in seconds (30 or 60), default 30. */
  step?: number;
  /** totp T0 in unix seconds, default 0. */
  t0?: number;
  /** hotp: the counter of the token's next code (default 0), up to 2^63 − 1. */
  counter?: MovingFactor;
  /** totp: the token's known clock offset in steps (PSKC TimeDrift), default 0. */
  drift?: number;
}

/** enabled: codes are checked; locked: until an admin unlocks; revoked: for good. */
export type TokenStatus = 'enabled' | 'locked' | 'revoked';

/** What an admin may see of a token: never the seed. */
export interface TokenInfo {
  serial: string;
  profile: ProfileName;
  digits: number;
  step: number;
  t0: number;
  status: TokenStatus;
  /** The last accepted moving factor (hotp counter or totp step); null before the first. */
  lastMovingFactor: MovingFactor | null;
  /**
   * totp: the step the token's clock is predicted to be in now minus the server's step (the
   * centre of the window a code is checked in). 0 for hotp.
   */
  drift: number;
  /** totp: the token's clock minus the server's now, as predicted, seconds (ms precision). 0 for hotp. */
  driftSeconds: number;
  /** totp: how fast the token's clock gains (+) or loses (−), ppm, as learnt from its accepts. 0 for hotp. */
  driftPpm: number;
  /** Consecutive failures since the last accept. */
  failures: number;
  /** Unix ms until which codes are not checked, or null. */
  blockedUntil: number | null;
  /** A wide-window match waiting for its consecutive code. */
  resyncPending: boolean;
  /** The user the token is bound to while active, or null. */
  userId: string | null;
  importedAt: number;
  lastUsedAt: number | null;
}

/** What a login or an approval is (the receipt's `action`); LOG_ON unless said. */
export const ACTIONS = ['LOG_ON', 'APPROVE', 'CONFIRM', 'ACCEPT', 'SIGN'] as const;
export type Action = (typeof ACTIONS)[number];
/** The longest text an approval shows (what a user can be expected to read on a phone). */
export const MAX_REFERENCE_TEXT = 130;

export interface AuthenticateRequest {
  userId: string;
  otp: string;
  password: string;
  action?: Action;
  /** The text being approved, at most MAX_REFERENCE_TEXT characters. */
  referenceText?: string;
  /** Who the receipt is for (its `aud`), e.g. the application's client id. */
  audience?: string;
  /** The application's nonce, echoed in the receipt. */
  nonce?: string;
}

/** A login's outcome; an accept with its receipt (a compact JWS). */
export type AuthenticateOutcome =
  Exclude<VerifyOutcome, { result: 'accept' }> | (Extract<VerifyOutcome, { result: 'accept' }> & { receipt: string });

export type AuditType =
  | 'import'
  | 'activate'
  | 'deactivate'
  | 'accept'
  | 'reject'
  | 'block'
  | 'lock'
  | 'unlock'
  | 'revoke'
  | 'resync-started'
  | 'resync'
  | 'credential-create'
  | 'credential-revoke'
  | 'proof'
  | 'approve'
  | 'password'
  | 'erase'
  | 'archive'
  | 'receipt-key'
  | 'order';

/** An entry of the append-only audit log. Never holds a code, a password or a key. */
export interface AuditEvent {
  id: number;
  /** Unix ms. */
  at: number;
  type: AuditType;
  serial: string | null;
  userId: string | null;
  ip: string | null;
  /** Who did an admin action (the admin's name), null for end-user requests. */
  actor: string | null;
  reason: string | null;
  movingFactor: MovingFactor | null;
  /**
   * How many refusals alike this row stands for (service.ts: repeats of a refusal from one address
   * are counted, not each written); 1 for every other row.
   */
  repeats: number;
}

/** What an admin or an operator sees of a user (GET /v1/users/:userId): never a hash, an identity number or a key. */
export interface UserView {
  userId: string;
  createdAt: number;
  /** Whether a national identity is linked (never which). */
  identityLinked: boolean;
  activeDevice: { serial: string; profile: ProfileName; activatedAt: number } | null;
  pastDevices: Array<{
    serial: string;
    profile: ProfileName;
    activatedAt: number;
    endedAt: number;
    /** replaced: by `replacedBy` (an operator may reinstate it within 7 days); revoked: lost, for good; deactivated: otherwise */
    ended: 'replaced' | 'revoked' | 'deactivated';
    replacedBy: string | null;
  }>;
  /** The last accepted code of any of its devices (a login, an approval, a validation), unix ms. */
  lastUsedAt: number | null;
}

export interface AuditQuery {
  serial?: string;
  userId?: string;
  /** Unix ms, inclusive. */
  since?: number;
  /** Newest first; default 100, at most 1000. */
  limit?: number;
}

export type ResyncOutcome =
  /** `drift`: the token's step minus the server's at the resync, whole steps. */
  | { result: 'resynced'; serial: string; movingFactor: MovingFactor; drift: number }
  /** The two codes were not found as consecutive codes in the admin window. */
  | { result: 'not-found'; serial: string };

export interface TokenService {
  /** All or nothing: throws ServiceError ERR_DUPLICATE_SERIAL naming the serial (in the store or twice in `records`). */
  importTokens(records: readonly TokenImport[], actor: string): Promise<{ imported: string[] }>;
  getToken(serial: string): Promise<TokenInfo | null>;
  /** Admin actions; throw ServiceError ERR_UNKNOWN_TOKEN, or ERR_TOKEN_STATE when the token is revoked. */
  lock(serial: string, actor: string, ctx: RequestContext): Promise<TokenInfo>;
  unlock(serial: string, actor: string, ctx: RequestContext): Promise<TokenInfo>;
  revoke(serial: string, actor: string, ctx: RequestContext): Promise<TokenInfo>;
  /** Two consecutive codes searched in a large window. */
  resync(serial: string, otp1: string, otp2: string, actor: string, ctx: RequestContext): Promise<ResyncOutcome>;
  /**
   * Binds the token to the proof's user and sets the user's password, once the code checks out,
   * spending the proof; the user's active device, if any, is deactivated (one active device per
   * user). Every refusal is the same to the caller.
   */
  activate(req: ActivationRequest, ctx: RequestContext): Promise<ActivationOutcome>;
  /** A login with the old password that, accepted, sets the new one. */
  changePassword(
    req: { userId: string; otp: string; oldPassword: string; newPassword: string },
    ctx: RequestContext,
  ): Promise<VerifyOutcome>;
  /** A forgotten password: a proof and a code of the user's active device set a new one, spending the proof. */
  resetPassword(req: { proofId: string; otp: string; newPassword: string }, ctx: RequestContext): Promise<VerifyOutcome>;
  /**
   * The user's active token's code AND the user's password; the outcome never says which failed.
   * An accept carries a signed receipt of what was approved (security/receipts.ts).
   */
  authenticate(req: AuthenticateRequest, ctx: RequestContext): Promise<AuthenticateOutcome>;
  /** The receipt keys' public JWKs, newest first (GET /.well-known/jwks.json). */
  receiptKeys(): Promise<object[]>;
  /** A new receipt key signs from now on; the old ones stay published. Returns the new key's kid. */
  rotateReceiptKeys(actor: string, ctx: RequestContext): Promise<{ kid: string; keys: number }>;
  /**
   * A proof of identity by an operator or the proofing back-end (`ctx.actor`): the user it is for,
   * its id (shown once) and when it expires; or why it cannot be made (domain/identity.ts).
   */
  prove(
    req: { identity: IdentityEvidence; userId?: string; owner?: { otp: string; password: string } },
    ctx: RequestContext & { actor: string },
  ): Promise<{ proofId: string; userId: string; expiresAt: number } | { refused: ProofRefusal }>;
  /** The owner's own proof: a login that, accepted, also gives a proof for the user. */
  proveSelf(
    req: { userId: string; otp: string; password: string },
    ctx: RequestContext,
  ): Promise<{ outcome: VerifyOutcome; proof: { proofId: string; userId: string; expiresAt: number } | null }>;
  /** A user as an operator sees it; null when there is none. */
  getUser(userId: string): Promise<UserView | null>;
  /**
   * An operator reverses a replacement within 7 days: `serial` (the replaced device) active again,
   * its replacement revoked, the password cleared. Throws ServiceError ERR_UNKNOWN_TOKEN,
   * ERR_TOKEN_STATE (revoked), ERR_NOT_REPLACED, ERR_TOO_LATE.
   */
  reinstate(serial: string, actor: string, ctx: RequestContext): Promise<{ serial: string; userId: string; revoked: string | null }>;
  /** Erases a user's personal data (lifecycle.ts decideErase); false when there is no such user. */
  eraseUser(userId: string, actor: string, ctx: RequestContext): Promise<boolean>;
  /** A code against a token by serial. */
  validate(req: { serial: string; otp: string }, ctx: RequestContext): Promise<VerifyOutcome>;
  /**
   * Places an order (domain/orders.ts): with a proof (not spent: it must exist, be its user's and
   * not have expired) the user's, priced on its earlier orders; without, anonymous and paid. A
   * proof that cannot tell whose the order is, is one refusal whether unknown or expired.
   */
  placeOrder(req: { proofId?: string; delivery: Delivery }, ctx: RequestContext): Promise<PlacedOrder | { refused: 'proof' }>;
  /**
   * What placeOrder would decide now — the price and the expected dates, or the proof's refusal —
   * by the same rule, writing nothing (no order, no audit row): what the order page shows before
   * the person confirms. placeOrder decides again, so an order placed in between may change it.
   */
  quoteOrder(
    req: { proofId?: string; delivery: Delivery },
    ctx: RequestContext,
  ): Promise<Pick<PlacedOrder, 'priceOre' | 'expectedBy'> | { refused: 'proof' }>;
  /** A step of an order's life by `actor` (admin or operator), or why it cannot be taken. */
  orderStep(orderId: string, step: OrderStepRequest, actor: string, ctx: RequestContext): Promise<OrderView | OrderRefusal>;
  /** An order as staff see it; null when there is none. */
  getOrder(orderId: string): Promise<OrderView | null>;
  /** An order as its tracking token shows it; null when there is none or the token is not its (the same). */
  trackOrder(orderId: string, trackingToken: string): Promise<OrderTracking | null>;
  /** Orders, of `status` if given, newest first (default 100, at most 1000). */
  listOrders(query: { status?: OrderStatus; limit?: number }): Promise<OrderView[]>;
  audit(query: AuditQuery): Promise<AuditEvent[]>;
  /** Whether a request that hashes a password would be refused now (its hashing queue is full). */
  busy(): boolean;
  /** The store answers. */
  ready(): Promise<boolean>;
  /** Waits for pending commits, then closes the store. */
  close(): Promise<void>;
}
