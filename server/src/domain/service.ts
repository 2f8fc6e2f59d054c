/**
 * The TokenService: the verification policy (policy.ts, decide.ts) applied to tokens in a
 * TokenStore, with seeds sealed at rest (security/seed-vault.ts) and passwords hashed
 * (security/password.ts).
 *
 * Every attempt is decided by decide.ts inside the store's atomic unit (TokenStore.attempt), on
 * the rows as they are when they are written, so concurrent requests are decided one after the
 * other: the same code is accepted once, a block holds, one activation of a user wins. What is
 * left here is the work a decision needs done before it, outside the unit:
 * - passwords are hashed and checked first (scrypt takes ~100 ms, on the thread pool), against
 *   the hash read a moment before; if the row inside the unit says otherwise (a hash replaced, a
 *   block ended), the decision asks for the check again;
 * - not while the token is blocked: an attacker's trickle must not buy password hashes;
 * - otherwise always, whether or not the user or token exists, so neither the reply nor its
 *   timing tells which factor was wrong, or whether the user has a device.
 */
import { addToMovingFactor, createOtp, isProfileName, KodeviserError, parseSerial, requireMovingFactor, type Otp } from '@kodeviser/shared';
import { LRUCache } from 'lru-cache';
import type { Logger } from 'pino';
import {
  boundedHasher,
  createPasswordHasher,
  DEFAULT_SCRYPT_PARAMS,
  type HashingLimits,
  type PasswordHasher,
  type ScryptParams,
} from '../security/password.js';
import { weakPassword } from '../security/common-passwords.js';
import { memoryState, type SharedState } from '../security/shared-state.js';
import { auditRepeats, type AuditRepeats } from '../security/audit-repeats.js';
import { repeatable, repeatKey } from './repeats.js';
import { budgetSpentUntil, decidePhantom, phantomGate, phantomTtlMs, phantomWrites, type PhantomState } from './guessing.js';
import { createSeedVault } from '../security/seed-vault.js';
import { receiptKeys } from '../security/receipt-keys.js';
import { newJti, signReceipt, textSha256, type Approval } from '../security/receipts.js';
import type { AttemptKey, AuditEntry, NewTokenRecord, Origin, TokenRecord, TokenStore, UserHistory } from '../store/types.js';
import { decideActivate, decideErase, decidePasswordChange, decidePasswordReset, decideReinstate } from './lifecycle.js';
import { secretDigest } from '../security/secret-digest.js';
import {
  audit,
  auditEntry,
  decideAuthenticate,
  decideResync,
  decideStatus,
  decideValidate,
  isBlocked,
  type AdminRefusal,
  type Decision,
  type PasswordCheck,
  type Snapshot,
  type Write,
} from './decide.js';
import { Doorkeeper } from './doorkeeper.js';
import {
  decideProof,
  decideSelfProof,
  identityHashes,
  identityKeyOf,
  newProofId,
  newUserId,
  parseDocument,
  parseNationalId,
  type ProofResult,
} from './identity.js';
import { DuplicateSerialError, ServiceError } from './errors.js';
import { createOrderService } from './order-service.js';
import type { IsHoliday, OrderPolicy } from './orders.js';
import { DEFAULT_POLICY, driftNow, importedDrift, NO_DRIFT, type PolicyOptions } from './policy.js';
import { ACTIONS, MAX_REFERENCE_TEXT } from './types.js';
import type {
  AuditEvent,
  AuditQuery,
  AuthenticateRequest,
  Clock,
  RequestContext,
  TokenImport,
  TokenInfo,
  TokenService,
  TokenStatus,
  UserView,
  VerifyOutcome,
} from './types.js';

export interface TokenServiceOptions {
  store: TokenStore;
  clock: Clock;
  /** 32 bytes: the AES-256-GCM key the seeds are sealed under. */
  masterKey: Uint8Array;
  /** The version of `masterKey`, stored with each sealed seed (default 1). */
  keyVersion?: number;
  logger?: Logger;
  policy?: Partial<PolicyOptions>;
  /** Password hashing cost (default N = 2^15, r = 8, p = 1). */
  scrypt?: ScryptParams;
  /** Prepared Otp objects kept (default 20 000; 0.2–2.4 KB each by profile, measured: ≤ 50 MB). */
  otpCacheSize?: number;
  /** Where what user IDs without a device were sent is kept (guessing.ts; default: in memory). */
  guesses?: SharedState;
  /** The password hasher (default: scrypt with `scrypt`, bounded by `hashing`); tests count its work through it. */
  passwords?: PasswordHasher;
  /** Hashes at once and waiting (security/password.ts boundedHasher; default 2 and 100). */
  hashing?: HashingLimits;
  /** The receipts' `iss` (KODEVISER_ISSUER; default "kodeviser"). */
  issuer?: string;
  /**
   * Repeats of an anonymous refusal from one address counted, one row standing for those of a
   * window (domain/repeats.ts, security/audit-repeats.ts; default: windows of 60 s, at most
   * 10 000 open); false or a window of 0: every refusal is a row of its own.
   */
  auditRepeats?: { windowMs: number; maxKeys?: number } | false;
  /** Orders (domain/orders.ts): the policy's settings that differ from its defaults; the holidays (default Denmark's). */
  orders?: { policy?: Partial<OrderPolicy>; isHoliday?: IsHoliday };
}

function requireString(value: unknown, argName: string): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new KodeviserError('ERR_ARGUMENT', `${argName} must be a non-empty string`);
  }
  return value;
}

function requireContext(ctx: RequestContext): void {
  if (typeof ctx !== 'object' || ctx === null || typeof ctx.ip !== 'string') {
    throw new KodeviserError('ERR_ARGUMENT', 'ctx.ip must be a string');
  }
}

/** What an admin sees of `t` at `nowMs` (the drift as predicted for that moment). */
function toInfo(t: TokenRecord, nowMs: number): TokenInfo {
  return {
    serial: t.serial,
    profile: t.profile,
    digits: t.digits,
    step: t.step,
    t0: t.t0,
    status: t.status,
    lastMovingFactor: t.lastMovingFactor < 0 ? null : t.lastMovingFactor,
    ...driftNow(t, t, nowMs),
    failures: t.failures,
    blockedUntil: t.blockedUntil,
    resyncPending: t.pendingResync !== null,
    userId: t.userId,
    importedAt: t.importedAt,
    lastUsedAt: t.lastUsedAt,
  };
}

/** A user's history as an operator sees it. */
function toUserView(h: UserHistory): UserView {
  const active = h.devices.find((d) => d.deactivatedAt === null) ?? null;
  const used = h.devices.map((d) => d.lastUsedAt).filter((at): at is number => at !== null);
  return {
    userId: h.userId,
    createdAt: h.createdAt,
    identityLinked: h.identityLinked,
    activeDevice: active === null ? null : { serial: active.serial, profile: active.profile, activatedAt: active.activatedAt },
    pastDevices: h.devices
      .filter((d) => d.deactivatedAt !== null)
      .map((d) => ({
        serial: d.serial,
        profile: d.profile,
        activatedAt: d.activatedAt,
        endedAt: d.deactivatedAt as number,
        ended: d.replacedBy !== null ? 'replaced' : d.status === 'revoked' ? 'revoked' : 'deactivated',
        replacedBy: d.replacedBy,
      })),
    lastUsedAt: used.length === 0 ? null : Math.max(...used),
  };
}

/** Checks one import record and turns it into a row with a sealed seed. */
function checkImport(r: TokenImport, i: number): Omit<NewTokenRecord, 'seed'> & { key: Uint8Array } {
  const at = `records[${i}]`;
  if (typeof r !== 'object' || r === null) throw new KodeviserError('ERR_ARGUMENT', `${at} must be an object`);
  const wrap = <T>(fn: () => T): T => {
    try {
      return fn();
    } catch (e) {
      throw e instanceof KodeviserError ? new KodeviserError(e.code, `${at}: ${e.message}`) : e;
    }
  };
  const serial = wrap(() => parseSerial(r.serial));
  if (typeof r.profile !== 'string' || !isProfileName(r.profile)) {
    throw new KodeviserError('ERR_UNKNOWN_PROFILE', `${at}.profile is not a known profile: ${String(r.profile)}`);
  }
  // createOtp checks key length, digits, step and t0 exactly as the token will use them.
  const otp = wrap(() =>
    createOtp({
      profile: r.profile,
      key: r.key,
      ...(r.digits !== undefined ? { digits: r.digits } : {}),
      ...(r.step !== undefined ? { step: r.step } : {}),
      ...(r.t0 !== undefined ? { t0: r.t0 } : {}),
    }),
  );
  const counter = requireMovingFactor(r.counter ?? 0, `${at}.counter`);
  const drift = r.drift ?? 0;
  if (!Number.isSafeInteger(drift)) {
    throw new KodeviserError('ERR_ARGUMENT', `${at}.drift must be an integer number of steps, got ${String(r.drift)}`);
  }
  const hotp = otp.mode === 'hotp';
  return {
    serial,
    profile: otp.profile,
    digits: otp.digits,
    step: otp.step,
    t0: otp.t0,
    key: r.key,
    lastMovingFactor: hotp ? addToMovingFactor(counter, -1) : -1,
    drift: hotp ? NO_DRIFT : importedDrift(drift, otp.step),
  };
}

export function createTokenService(opts: TokenServiceOptions): TokenService {
  const { store, clock, logger } = opts;
  const policy: PolicyOptions = { ...DEFAULT_POLICY, ...opts.policy };
  const vault = createSeedVault({ masterKey: opts.masterKey, ...(opts.keyVersion !== undefined ? { keyVersion: opts.keyVersion } : {}) });
  const passwords = opts.passwords ?? boundedHasher(createPasswordHasher(opts.scrypt ?? DEFAULT_SCRYPT_PARAMS), opts.hashing);
  const identityKey = identityKeyOf(store, vault);
  const receipts = receiptKeys(store, vault, () => clock.now());
  const issuer = opts.issuer ?? 'kodeviser';
  const guesses = opts.guesses ?? memoryState();
  const otpCacheSize = opts.otpCacheSize ?? 20_000;
  if (!Number.isSafeInteger(otpCacheSize) || otpCacheSize < 1) {
    throw new KodeviserError('ERR_ARGUMENT', `otpCacheSize must be a positive integer, got ${String(otpCacheSize)}`);
  }
  // lru-cache rather than a Map's insertion order: evicting a Map's first key walks past every
  // entry deleted before it (V8 compacts the table only when it grows), which with a million
  // tokens cycling through 20 000 slots cost ~8 µs a request, more than opening the seed.
  const otps = new LRUCache<string, Otp>({ max: otpCacheSize });
  // Admitted on a second validation within the last `otpCacheSize` new tokens (doorkeeper.ts).
  const doorkeeper = new Doorkeeper(otpCacheSize);
  const repeatsOptions = opts.auditRepeats ?? { windowMs: 60_000 };
  const repeats: AuditRepeats | null =
    repeatsOptions === false || repeatsOptions.windowMs === 0
      ? null
      : auditRepeats({
          windowMs: repeatsOptions.windowMs,
          ...(repeatsOptions.maxKeys !== undefined ? { maxKeys: repeatsOptions.maxKeys } : {}),
          now: () => clock.now(),
          // Straight to the store, not through attempt(): a summary row is never counted again.
          write: (entry) => store.attempt({}, () => ({ result: undefined, writes: [audit(entry)] })),
          onError: (e, entry) =>
            logger?.error(
              { err: { type: (e as Error).name, message: (e as Error).message }, reason: entry.reason, repeats: entry.repeats },
              'the audit row of repeated refusals could not be written',
            ),
        });

  function otpOf(t: TokenRecord): Otp {
    const key = `${t.serial}:${t.seed.keyVersion}`;
    let otp = otps.get(key);
    if (!otp) {
      const seed = vault.open(t.serial, t.seed);
      otp = createOtp({ profile: t.profile, key: seed, digits: t.digits, step: t.step, t0: t.t0 });
      seed.fill(0);
      if (doorkeeper.seen(key)) otps.set(key, otp);
    }
    return otp;
  }

  const origin = (ctx: RequestContext, userId: string | null, actor?: string): Origin => ({
    at: clock.now(),
    ip: ctx.ip,
    userId,
    actor: actor ?? null,
  });

  /** What a decided failure cost a token, in the server log (the audit log has it too). */
  function logConsequences(writes: readonly Write[]): void {
    for (const w of writes) {
      if (w.kind === 'status' && w.status === 'locked') logger?.warn({ serial: w.serial }, 'token locked after consecutive failures');
      else if (w.kind === 'block' && w.until !== null) logger?.info({ serial: w.serial }, 'token blocked after consecutive failures');
    }
  }

  /**
   * Every attempt of the service (TokenStore.attempt): an anonymous refusal (domain/repeats.ts)
   * whose key has a window open is dropped from the writes, to be counted instead. The counter
   * is told what became of the refusal only once the unit has committed, so that it counts
   * exactly the refusals made (security/audit-repeats.ts).
   */
  async function attempt<T>(key: AttemptKey, decide: (s: Snapshot) => Decision<T>): Promise<T> {
    if (repeats === null) return store.attempt(key, decide);
    let refusal = null as { key: string; entry: AuditEntry; counted: boolean } | null;
    const result = await store.attempt(key, (s) => {
      const decided = decide(s);
      const entry = repeatable(decided.writes);
      if (entry === null) return decided;
      const repeat = repeatKey(entry);
      refusal = { key: repeat, entry, counted: repeats.isOpen(repeat) };
      return refusal.counted ? { result: decided.result, writes: [] } : decided;
    });
    if (refusal?.counted === true) repeats.count(refusal.key, refusal.entry);
    else if (refusal !== null) repeats.opened(refusal.key);
    return result;
  }

  /**
   * An attempt on `key` whose decision needs work done first, outside the store's unit (a
   * password hashed or checked: `prepare`, on a snapshot read just before): `decide` runs on the
   * snapshot inside the unit and may ask (null) for the work to be done again on the snapshot it
   * saw; a loop, as each round is made on newer rows.
   */
  async function decidePrepared<W, R>(
    key: AttemptKey,
    prepare: (s: Snapshot) => Promise<W>,
    decide: (s: Snapshot, work: W) => Decision<R> | null,
    /** The key's snapshot, when the caller has just read it. */
    read?: Snapshot,
  ): Promise<R> {
    let work = await prepare(read ?? (await store.snapshot(key)));
    for (;;) {
      const prepared = work;
      const d = await attempt<{ decided: Decision<R> } | { again: Snapshot }>(key, (s) => {
        const decided = decide(s, prepared);
        return decided === null ? { result: { again: s }, writes: [] } : { result: { decided }, writes: decided.writes };
      });
      if ('again' in d) {
        work = await prepare(d.again);
        continue;
      }
      logConsequences(d.decided.writes);
      return d.decided.result;
    }
  }

  /**
   * A login's password check on the snapshot: not while the token is blocked or the user ID's
   * guessing budget is spent (guessing.ts: answered as a block without it).
   */
  const loginCheck =
    (password: string, at: number) =>
    ({ userToken, user }: Snapshot): Promise<PasswordCheck> =>
      budgetSpentUntil(user?.guesses ?? null, at, policy) !== null
        ? Promise.resolve(null)
        : checkPassword(password, userToken === null ? undefined : (user?.passwordHash ?? undefined), userToken, at);

  /**
   * A login (authenticate, a self proof, a password change) decided by `decide`; for a user ID
   * with no active device, the phantom's answer instead (guessing.ts: as a device that never
   * accepts, so that the answers and their timing do not tell whether the ID exists), its state
   * where the rate limits are, the attempt audited as before. `asResult` turns a phantom's
   * outcome into the login's result.
   */
  async function login<W, R>(
    userId: string,
    password: string,
    o: Origin,
    prepare: (s: Snapshot) => Promise<W>,
    decide: (s: Snapshot, work: W) => Decision<R> | null,
    asResult: (outcome: VerifyOutcome) => R,
  ): Promise<R> {
    const snapshot = await store.snapshot({ userId });
    if (snapshot.userToken !== null) return decidePrepared({ userId }, prepare, decide, snapshot);
    const key = `phantom:${userId}`;
    const gated = phantomGate(await guesses.get<PhantomState>(key), o.at, policy);
    if (gated === null) await passwords.verifyNothing(password);
    const outcome =
      gated ??
      (await guesses.update<PhantomState, VerifyOutcome>(key, (current) => {
        const d = decidePhantom(current, o.at, policy);
        return { value: d.state, ttlMs: phantomTtlMs(d.state, o.at, policy), result: d.outcome };
      }));
    // Audited on the user's rows as they are now: should a device have been activated meanwhile,
    // the login is decided on it after all.
    const activated = await attempt({ userId }, (s) =>
      s.userToken !== null ? { result: true, writes: [] } : { result: false, writes: phantomWrites(o, outcome) },
    );
    return activated ? decidePrepared({ userId }, prepare, decide) : asResult(outcome);
  }

  /** What a login approves (security/receipts.ts), its arguments checked; LOG_ON unless said. */
  function approvalOf(req: AuthenticateRequest): Approval {
    const action = req.action ?? 'LOG_ON';
    if (!ACTIONS.includes(action)) throw new KodeviserError('ERR_ARGUMENT', `action must be one of ${ACTIONS.join(', ')}`);
    const optional = (v: unknown, argName: string): string | null => (v === undefined ? null : requireString(v, argName));
    const text = optional(req.referenceText, 'referenceText');
    if (text !== null && [...text].length > MAX_REFERENCE_TEXT) {
      throw new KodeviserError('ERR_ARGUMENT', `referenceText must be at most ${MAX_REFERENCE_TEXT} characters`);
    }
    return {
      action,
      textSha256: text === null ? null : textSha256(text),
      audience: optional(req.audience, 'audience'),
      nonce: optional(req.nonce, 'nonce'),
      jti: newJti(),
    };
  }

  /** A login's arguments, checked. */
  function loginArgs(req: { userId: string; otp: string; password: string }, ctx: RequestContext) {
    const userId = requireString(req.userId, 'userId');
    const otp = requireString(req.otp, 'otp');
    const password = requireString(req.password, 'password');
    requireContext(ctx);
    return { userId, otp, password, o: origin(ctx, userId) };
  }

  /** `password` against `hash` (or against nothing, for the same time); null while `token` is blocked. */
  async function checkPassword(password: string, hash: string | undefined, token: TokenRecord | null, at: number): Promise<PasswordCheck> {
    if (isBlocked(token, at)) return null;
    if (hash === undefined) return { ok: await passwords.verifyNothing(password), against: '' };
    return { ok: await passwords.verify(password, hash), against: hash };
  }

  /** A new password, checked against the rule (security/common-passwords.ts); else ERR_WEAK_PASSWORD. */
  function newPasswordOf(password: unknown, argName: string): string {
    const p = requireString(password, argName);
    const weak = weakPassword(p);
    if (weak !== null) throw new ServiceError('ERR_WEAK_PASSWORD', weak);
    return p;
  }

  /** The arguments of an attempt that spends a proof: the proof id's hash and the new password. */
  function proofArgs(proofId: unknown, password: unknown, passwordArg: string): { proofIdHash: string; password: string } {
    const id = requireString(proofId, 'proofId');
    return { proofIdHash: secretDigest(id), password: newPasswordOf(password, passwordArg) };
  }

  /**
   * The key of an attempt that spends the proof: the proof, and its user as read a moment before
   * (a proof's user never changes, so the unit reads the same one), with `more`.
   */
  async function proofKey(proofIdHash: string, more: AttemptKey): Promise<AttemptKey> {
    const { proof } = await store.snapshot({ proofIdHash });
    return proof === null ? { ...more, proofIdHash } : { ...more, proofIdHash, userId: proof.userId };
  }

  /**
   * The preparation of a new password's hash, made once however many rounds the decision asks
   * for; not while `blocked` says the attempt will be answered by a block (an attacker's trickle
   * must not buy hashes), and otherwise always, whatever else is wrong, for the same timing.
   */
  function newPasswordHash(password: string, blocked: (s: Snapshot) => boolean): (s: Snapshot) => Promise<string | null> {
    let hashed: Promise<string> | null = null;
    return async (s) => (blocked(s) ? null : (hashed ??= passwords.hash(password)));
  }

  /** An admin's action decided in the store's unit, its refusals thrown. */
  async function administer<T>(serial: string, decide: (s: Snapshot) => Decision<T | AdminRefusal>): Promise<T> {
    const result = await attempt({ serial }, decide);
    if (typeof result === 'object' && result !== null && 'refused' in result) {
      if (result.refused === 'unknown-token') throw new ServiceError('ERR_UNKNOWN_TOKEN', `no token with serial ${serial}`, serial);
      throw new ServiceError('ERR_TOKEN_STATE', `token ${serial} is ${result.status}`, serial);
    }
    return result as T;
  }

  const orders = createOrderService({ store, clock, attempt, ...opts.orders });

  async function setStatus(serial: string, to: TokenStatus, actor: string, ctx: RequestContext): Promise<TokenInfo> {
    const s = parseSerial(serial);
    requireString(actor, 'actor');
    requireContext(ctx);
    const o = origin(ctx, null, actor);
    return toInfo(await administer(s, (snapshot) => decideStatus(snapshot, to, o)), o.at);
  }

  return {
    async importTokens(records, actor) {
      if (!Array.isArray(records)) throw new KodeviserError('ERR_ARGUMENT', 'records must be an array');
      requireString(actor, 'actor');
      const seen = new Set<string>();
      const rows: NewTokenRecord[] = records.map((r, i) => {
        const { key, ...row } = checkImport(r, i);
        if (seen.has(row.serial)) throw new DuplicateSerialError(row.serial);
        seen.add(row.serial);
        return { ...row, seed: vault.seal(row.serial, key) };
      });
      await store.insertTokens(rows, { at: clock.now(), ip: null, actor });
      return { imported: rows.map((r) => r.serial) };
    },

    async getToken(serial) {
      const token = await store.getToken(parseSerial(serial));
      return token ? toInfo(token, clock.now()) : null;
    },

    lock: (serial, actor, ctx) => setStatus(serial, 'locked', actor, ctx),
    unlock: (serial, actor, ctx) => setStatus(serial, 'enabled', actor, ctx),
    revoke: (serial, actor, ctx) => setStatus(serial, 'revoked', actor, ctx),

    async resync(serial, otp1, otp2, actor, ctx) {
      const s = parseSerial(serial);
      requireString(otp1, 'otp1');
      requireString(otp2, 'otp2');
      requireString(actor, 'actor');
      requireContext(ctx);
      const o = origin(ctx, null, actor);
      return administer(s, (snapshot) =>
        decideResync(snapshot, otp1, otp2, { ...o, userId: snapshot.token?.userId ?? null }, policy, otpOf),
      );
    },

    async activate(req, ctx) {
      const { proofIdHash, password } = proofArgs(req.proofId, req.password, 'password');
      const serial = parseSerial(req.serial);
      const otp = requireString(req.otp, 'otp');
      requireContext(ctx);
      const o = origin(ctx, null, ctx.actor);
      return decidePrepared(
        await proofKey(proofIdHash, { serial }),
        newPasswordHash(password, ({ token, proof }) => isBlocked(token, o.at) && proof !== null),
        (snapshot, passwordHash) => decideActivate(snapshot, { serial, otp, passwordHash }, o, policy, otpOf),
      );
    },

    async changePassword(req, ctx) {
      const { userId, otp, password: oldPassword, o } = loginArgs({ ...req, password: req.oldPassword }, ctx);
      const newPassword = newPasswordOf(req.newPassword, 'newPassword');
      const hashNew = newPasswordHash(
        newPassword,
        ({ userToken, user }) => isBlocked(userToken, o.at) || budgetSpentUntil(user?.guesses ?? null, o.at, policy) !== null,
      );
      const check = loginCheck(oldPassword, o.at);
      return login(
        userId,
        oldPassword,
        o,
        (s) => Promise.all([check(s), hashNew(s)]),
        (s, [old, newHash]) => decidePasswordChange(s, otp, old, newHash, o, policy, otpOf),
        (outcome) => outcome,
      );
    },

    async resetPassword(req, ctx) {
      const { proofIdHash, password } = proofArgs(req.proofId, req.newPassword, 'newPassword');
      const otp = requireString(req.otp, 'otp');
      requireContext(ctx);
      const o = origin(ctx, null);
      return decidePrepared(
        await proofKey(proofIdHash, {}),
        newPasswordHash(password, ({ userToken, proof }) => isBlocked(userToken, o.at) && proof !== null),
        (snapshot, newHash) => decidePasswordReset(snapshot, otp, newHash, o, policy, otpOf),
      );
    },

    async prove(req, ctx) {
      requireContext(ctx);
      const actor = requireString(ctx.actor, 'ctx.actor');
      const identity = { nationalId: parseNationalId(req.identity?.nationalId), document: parseDocument(req.identity?.document) };
      const userId = req.userId === undefined ? undefined : requireString(req.userId, 'userId');
      const owner =
        req.owner === undefined
          ? undefined
          : { otp: requireString(req.owner.otp, 'owner.otp'), password: requireString(req.owner.password, 'owner.password') };
      const { nationalIdHash, documentHash } = identityHashes(await identityKey(), identity);
      const { proofId, idHash } = newProofId();
      const o = { ...origin(ctx, null, actor), actor };
      const attempt = { nationalIdHash, documentHash, newUserId: newUserId(), idHash, ...(userId !== undefined ? { userId } : {}) };
      const key = { identityHash: nationalIdHash, ...(userId !== undefined ? { userId } : {}) };
      // The owner's password counts only when a user from before identities is to be linked, but
      // is checked (against nothing otherwise) whenever one is given: the time taken must not tell
      // whether the user ID is such a user.
      const result = await decidePrepared<PasswordCheck, ProofResult>(
        key,
        async (s) => {
          if (owner === undefined) return null;
          const linkable = s.identityUser === null && s.user !== null && s.user.identityHash === null;
          return checkPassword(owner.password, linkable ? (s.user?.passwordHash ?? undefined) : undefined, s.userToken, o.at);
        },
        (s, checked) =>
          decideProof(s, owner === undefined ? attempt : { ...attempt, owner: { otp: owner.otp, password: checked } }, o, policy, otpOf),
      );
      return 'refused' in result ? result : { proofId, ...result };
    },

    async proveSelf(req, ctx) {
      const { userId, otp, password, o } = loginArgs(req, ctx);
      const { proofId, idHash } = newProofId();
      const { outcome, proof } = await login(
        userId,
        password,
        o,
        loginCheck(password, o.at),
        (s, check) => decideSelfProof(s, otp, check, idHash, o, policy, otpOf),
        (phantom) => ({ outcome: phantom, proof: null }),
      );
      return { outcome, proof: proof === null ? null : { proofId, ...proof } };
    },

    async authenticate(req, ctx) {
      const { otp, password, o, userId } = loginArgs(req, ctx);
      const approval = approvalOf(req);
      // The key first: a store that cannot give it fails the login before a code is spent.
      const key = await receipts.current();
      const outcome = await login(
        userId,
        password,
        o,
        loginCheck(password, o.at),
        (s, check) => decideAuthenticate(s, otp, check, o, policy, otpOf, approval),
        (phantom) => phantom,
      );
      if (outcome.result !== 'accept') return outcome;
      // Signed once the accept is durable: a receipt is never issued for a login a crash took back.
      const receipt = await signReceipt({ issuer, userId, serial: outcome.serial, at: o.at, approval }, key);
      return { ...outcome, receipt };
    },

    receiptKeys: () => receipts.published(),

    async rotateReceiptKeys(actor, ctx) {
      requireString(actor, 'actor');
      requireContext(ctx);
      const o = origin(ctx, null, actor);
      const key = await receipts.rotate();
      await store.attempt({}, () => ({
        result: undefined,
        writes: [audit(auditEntry(o, 'receipt-key', null, `rotated: generation ${key.generation}, kid ${key.kid}`, null))],
      }));
      return { kid: key.kid, keys: (await receipts.published()).length };
    },

    async getUser(userId) {
      const history = await store.getUserHistory(requireString(userId, 'userId'));
      return history === null ? null : toUserView(history);
    },

    async eraseUser(userId, actor, ctx) {
      requireString(userId, 'userId');
      requireString(actor, 'actor');
      requireContext(ctx);
      const o = origin(ctx, null, actor);
      return (await attempt({ userId }, (s) => decideErase(s, o))).erased;
    },

    async reinstate(serial, actor, ctx) {
      const s = parseSerial(serial);
      requireString(actor, 'actor');
      requireContext(ctx);
      const o = origin(ctx, null, actor);
      const owner = (await store.snapshot({ serial: s })).tokenOwner;
      const result = await attempt(owner === null ? { serial: s } : { serial: s, userId: owner }, (snapshot) =>
        decideReinstate(snapshot, o),
      );
      if ('refused' in result) {
        switch (result.refused) {
          case 'unknown-token':
            throw new ServiceError('ERR_UNKNOWN_TOKEN', `no token with serial ${s}`, s);
          case 'token-state':
            throw new ServiceError('ERR_TOKEN_STATE', `token ${s} is revoked`, s);
          case 'not-replaced':
            throw new ServiceError(
              'ERR_NOT_REPLACED',
              `token ${s} was not replaced by its owner's device active now (it is active, never assigned, revoked, or replaced again since)`,
              s,
            );
          case 'too-late':
            throw new ServiceError('ERR_TOO_LATE', `token ${s} was replaced more than 7 days ago`, s);
        }
      }
      return result;
    },

    async validate(req, ctx) {
      const serial = parseSerial(req.serial);
      const otp = requireString(req.otp, 'otp');
      requireContext(ctx);
      const d = await attempt({ serial }, (snapshot) => {
        const decided = decideValidate(snapshot, serial, otp, origin(ctx, snapshot.token?.userId ?? null, ctx.actor), policy, otpOf);
        return { result: decided, writes: decided.writes };
      });
      logConsequences(d.writes);
      return d.result;
    },

    ...orders,

    async audit(query: AuditQuery): Promise<AuditEvent[]> {
      const q: AuditQuery = { ...query };
      if (query.serial !== undefined) q.serial = parseSerial(query.serial);
      if (query.userId !== undefined) q.userId = requireString(query.userId, 'userId');
      if (query.since !== undefined && !Number.isSafeInteger(query.since)) {
        throw new KodeviserError('ERR_ARGUMENT', 'since must be unix milliseconds');
      }
      if (query.limit !== undefined && (!Number.isSafeInteger(query.limit) || query.limit < 1)) {
        throw new KodeviserError('ERR_ARGUMENT', 'limit must be a positive integer');
      }
      return store.queryAudit(q);
    },

    busy: () => passwords.saturated?.() === true,

    async ready() {
      try {
        return await store.ping();
      } catch {
        return false;
      }
    },

    async close() {
      // The counted refusals first, while the store still takes their rows.
      await repeats?.close();
      await store.close();
    },
  };
}
