/**
 * The TokenService: the verification policy (policy.ts) applied to tokens in a TokenStore, with
 * seeds sealed at rest (security/seed-vault.ts) and passwords hashed (security/password.ts).
 *
 * validate and authenticate are decided by decide.ts inside the store's atomic unit
 * (TokenStore.attempt), on the rows as they are when they are written, so concurrent requests
 * are decided one after the other: the same code is accepted once, and a block holds. activate
 * and the admin's resync still read, decide here and write through the store's commands (the
 * compare-and-set decides their races); they move to decide.ts next.
 *
 * Decisions taken here, and why:
 * - authenticate evaluates the code and the password every time (the scrypt hash runs on the
 *   thread pool while the code is checked), so neither the reply nor its timing tells which
 *   factor was wrong. A right code with a wrong password is consumed (it can never be replayed
 *   with the right password by whoever watched it being typed) and counts as a failure;
 * - a user without an active token costs the same scrypt as one with, for the same reason;
 * - attempts while blocked are not checked and not counted (counting them would let an attacker
 *   keep a victim's token blocked for ever with a trickle of requests), but are audited, so a
 *   lock-out from another IP leaves a trace;
 * - a wide-window match does not reset the failure count, and a wrong code cancels a pending
 *   resync: only the very next code may complete it;
 * - activate binds the token and sets the user's password on a valid code. A code proves
 *   possession of the token only, so it creates new users only: an existing user is bound to
 *   another device only when the same request proves its owner (a code of the active device and
 *   the current password), and the store applies the binding only while the user is still as
 *   read. Claiming a free user ID with any spare device remains possible until activation
 *   requires a proof of identity.
 */
import { createOtp, isProfileName, KodeviserError, parseSerial, type Otp } from '@kodeviser/shared';
import { LRUCache } from 'lru-cache';
import type { Logger } from 'pino';
import { createPasswordHasher, DEFAULT_SCRYPT_PARAMS, type ScryptParams } from '../security/password.js';
import { createSeedVault } from '../security/seed-vault.js';
import type {
  AttemptCommand,
  AttemptResult,
  AuditEntry,
  Binding,
  NewTokenRecord,
  Origin,
  PendingResync,
  TokenRecord,
  TokenStore,
} from '../store/types.js';
import { decideAuthenticate, decideValidate, gate, type PasswordCheck, type VerifyDecision } from './decide.js';
import { Doorkeeper } from './doorkeeper.js';
import { DuplicateSerialError, ServiceError, isServiceError } from './errors.js';
import {
  DEFAULT_POLICY,
  driftNow,
  failureConsequence,
  findConsecutive,
  importedDrift,
  matchCode,
  NO_DRIFT,
  type CodeMatch,
  type PolicyOptions,
} from './policy.js';
import type {
  AuditEvent,
  AuditQuery,
  Clock,
  RejectReason,
  RequestContext,
  ResyncOutcome,
  TokenImport,
  TokenInfo,
  TokenService,
  TokenStatus,
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
}

/** What the store is to do with a matched code: start a resync, or apply an attempt. */
type Plan = { kind: 'resync'; pending: PendingResync } | { kind: 'attempt'; command: AttemptCommand };

/** What the second factor of a request says, and what to bind on success (activation). */
interface SecondFactor {
  ok: boolean;
  /** Why it failed, when it is not the password (the audit reason; default 'bad-password'). */
  reason?: RejectReason;
  bind?: Binding;
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
  const counter = r.counter ?? 0;
  if (!Number.isSafeInteger(counter) || counter < 0) {
    throw new KodeviserError('ERR_MOVING_FACTOR', `${at}.counter must be a non-negative integer, got ${String(r.counter)}`);
  }
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
    lastMovingFactor: hotp ? counter - 1 : -1,
    drift: hotp ? NO_DRIFT : importedDrift(drift, otp.step),
  };
}

export function createTokenService(opts: TokenServiceOptions): TokenService {
  const { store, clock, logger } = opts;
  const policy: PolicyOptions = { ...DEFAULT_POLICY, ...opts.policy };
  const vault = createSeedVault({ masterKey: opts.masterKey, ...(opts.keyVersion !== undefined ? { keyVersion: opts.keyVersion } : {}) });
  const passwords = createPasswordHasher(opts.scrypt ?? DEFAULT_SCRYPT_PARAMS);
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
  const onFailure = (failures: number) => failureConsequence(failures, policy);

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
    ...(actor !== undefined ? { actor } : {}),
  });

  /** A reject whose reason is known before any store write, and the audit row that records it. */
  const rejection = (o: Origin, outcome: VerifyOutcome & { result: 'reject' }): { outcome: VerifyOutcome; audit: AuditEntry } => ({
    outcome,
    audit: { ...o, type: 'reject', serial: outcome.serial ?? null, reason: outcome.reason },
  });

  async function refuse(o: Origin, outcome: VerifyOutcome & { result: 'reject' }): Promise<VerifyOutcome> {
    await store.appendAudit([rejection(o, outcome).audit]);
    return outcome;
  }

  /** What the store is to do with a code's match, once the second factor has spoken. */
  function planOf(token: TokenRecord, match: CodeMatch, o: Origin, second: SecondFactor): Plan {
    const { serial } = token;
    if (match.kind === 'wide' && second.ok) return { kind: 'resync', pending: { movingFactor: match.movingFactor, at: o.at } };
    const command: AttemptCommand =
      match.kind === 'accept'
        ? {
            serial,
            origin: o,
            consume: { movingFactor: match.movingFactor, drift: match.drift },
            success: second.ok,
            reason: second.reason ?? 'bad-password',
            ...(match.completesResync ? { acceptNote: 'resync' } : {}),
            ...(second.bind ? { bind: second.bind } : {}),
            onFailure,
          }
        : {
            serial,
            origin: o,
            success: false,
            // a wide match lands here only with a failed second factor
            reason:
              match.kind === 'none' && second.ok
                ? match.reason
                : (second.reason ?? (match.kind === 'wide' ? 'bad-password' : 'bad-otp-and-password')),
            onFailure,
          };
    return { kind: 'attempt', command };
  }

  /** What a decided failure cost the token, in the server log (the audit log has it too). */
  function logConsequence(d: VerifyDecision): void {
    const serial = d.result.serial;
    if (d.consequence === 'locked') logger?.warn({ serial }, 'token locked after consecutive failures');
    else if (d.consequence === 'blocked') logger?.info({ serial }, 'token blocked after consecutive failures');
  }

  function attemptOutcome(cmd: AttemptCommand, result: AttemptResult): VerifyOutcome {
    const { serial } = cmd;
    if (result.outcome === 'accepted') {
      return { result: 'accept', serial, movingFactor: (cmd.consume as { movingFactor: number }).movingFactor };
    }
    if (result.locked) logger?.warn({ serial, failures: result.failures }, 'token locked after consecutive failures');
    else if (result.blockedUntil !== null) logger?.info({ serial, failures: result.failures }, 'token blocked after consecutive failures');
    return { result: 'reject', reason: result.reason, serial };
  }

  /**
   * The common path of validate, authenticate and activate, once the token is known: status,
   * block, code (and the second factor, evaluated in parallel), then one atomic store command.
   */
  async function check(token: TokenRecord, code: string, o: Origin, secondFactor?: () => Promise<SecondFactor>): Promise<VerifyOutcome> {
    const gated = gate(token, o);
    if (gated) {
      // A token that is not enabled costs the second factor's work all the same, so the reply
      // time does not tell a locked token from a wrong password; a blocked one does not (an
      // attacker's trickle of requests must not buy password hashes).
      if (gated.result.result === 'reject' && secondFactor) await secondFactor().catch(() => undefined);
      await store.appendAudit(gated.writes.flatMap((w) => (w.kind === 'audit' ? [w.entry] : [])));
      return gated.result;
    }
    const factor = secondFactor ? secondFactor() : Promise.resolve<SecondFactor>({ ok: true });
    let match: CodeMatch;
    try {
      // Without a second factor (validate) the reply names the moving factor: the search may stop at it.
      match = matchCode(otpOf(token), token, code, o.at, policy, secondFactor === undefined);
    } catch (e) {
      // A seed that fails to open: never leave the second factor's promise unobserved.
      await factor.catch(() => undefined);
      throw e;
    }
    const plan = planOf(token, match, o, await factor);
    if (plan.kind === 'resync') {
      await store.startResync(token.serial, plan.pending, o);
      return { result: 'resync-started', serial: token.serial };
    }
    return attemptOutcome(plan.command, await store.recordAttempt(plan.command));
  }

  async function setStatus(serial: string, to: TokenStatus, actor: string, ctx: RequestContext): Promise<TokenInfo> {
    const s = parseSerial(serial);
    requireString(actor, 'actor');
    requireContext(ctx);
    const changed = await store.changeStatus({ serial: s, from: ['enabled', 'locked'], to, origin: origin(ctx, null, actor) });
    const token = await store.getToken(s);
    if (!token) throw new ServiceError('ERR_UNKNOWN_TOKEN', `no token with serial ${s}`, s);
    if (!changed) throw new ServiceError('ERR_TOKEN_STATE', `token ${s} is ${token.status}`, s);
    return toInfo(token, clock.now());
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

    async resync(serial, otp1, otp2, actor, ctx): Promise<ResyncOutcome> {
      const s = parseSerial(serial);
      requireString(otp1, 'otp1');
      requireString(otp2, 'otp2');
      requireString(actor, 'actor');
      requireContext(ctx);
      const token = await store.getToken(s);
      if (!token) throw new ServiceError('ERR_UNKNOWN_TOKEN', `no token with serial ${s}`, s);
      if (token.status === 'revoked') throw new ServiceError('ERR_TOKEN_STATE', `token ${s} is revoked`, s);
      const o = origin(ctx, token.userId, actor);
      const found = findConsecutive(otpOf(token), token, otp1, otp2, o.at, policy);
      if (found && (await store.resync(s, found.movingFactor, found.drift, o))) {
        return { result: 'resynced', serial: s, movingFactor: found.movingFactor, drift: found.drift.steps };
      }
      await store.appendAudit([{ ...o, type: 'reject', serial: s, reason: 'admin-resync-not-found' }]);
      return { result: 'not-found', serial: s };
    },

    async activate(req, ctx) {
      const userId = requireString(req.userId, 'userId');
      const serial = parseSerial(req.serial);
      const otp = requireString(req.otp, 'otp');
      const password = requireString(req.password, 'password');
      const currentOtp = req.currentOtp === undefined ? undefined : requireString(req.currentOtp, 'currentOtp');
      const currentPassword = req.currentPassword === undefined ? undefined : requireString(req.currentPassword, 'currentPassword');
      requireContext(ctx);
      const o = origin(ctx, userId);
      const [token, user, active] = await Promise.all([store.getToken(serial), store.getUser(userId), store.getActiveToken(userId)]);
      if (!token) return refuse(o, { result: 'reject', reason: 'unknown-token', serial });
      if (token.userId !== null && token.userId !== userId) {
        return refuse(o, { result: 'reject', reason: 'assigned-elsewhere', serial });
      }
      /**
       * Whom the activation replaces: nobody for a user ID not taken yet; for an existing user, the
       * active device, once a code of it (consumed) and the current password prove its owner as a
       * login would. Possession of a new token alone never takes over a user.
       */
      const replaces = async (): Promise<string | null | false> => {
        if (user === null) return null;
        if (active === null || currentOtp === undefined || currentPassword === undefined) {
          await passwords.verifyNothing(currentPassword ?? password);
          return false;
        }
        const proof = await check(active, currentOtp, o, async () => ({ ok: await passwords.verify(currentPassword, user.passwordHash) }));
        return proof.result === 'accept' ? active.serial : false;
      };
      try {
        return await check(token, otp, o, async (): Promise<SecondFactor> => {
          const [passwordHash, replaced] = await Promise.all([passwords.hash(password), replaces()]);
          if (replaced === false) return { ok: false, reason: 'owner-not-proven' };
          return { ok: true, bind: { userId, passwordHash, replaces: replaced } };
        });
      } catch (e) {
        // The store refused the binding: the token was once bound to another user (now inactive),
        // or the user was created or changed device since it was read above.
        if (isServiceError(e) && e.code === 'ERR_ASSIGNED_ELSEWHERE') {
          return refuse(o, { result: 'reject', reason: 'assigned-elsewhere', serial });
        }
        if (isServiceError(e) && e.code === 'ERR_USER_CHANGED') {
          return refuse(o, { result: 'reject', reason: 'user-changed', serial });
        }
        throw e;
      }
    },

    async authenticate(req, ctx) {
      const userId = requireString(req.userId, 'userId');
      const otp = requireString(req.otp, 'otp');
      const password = requireString(req.password, 'password');
      requireContext(ctx);
      const o = origin(ctx, userId);
      // The password is hashed before the atomic unit (it takes ~100 ms), against the hash read
      // here; not while the token is blocked (an attacker's trickle must not buy hashes), and a
      // user without an active token costs the same hash as one with. The decision takes the row
      // as it is inside the unit: if the block has ended or the hash changed meanwhile, it asks
      // for the check to be made again (null).
      const [token, user] = await Promise.all([store.getActiveToken(userId), store.getUser(userId)]);
      const checkPassword = async (hash: string | undefined): Promise<PasswordCheck> => {
        if (hash === undefined) return { ok: await passwords.verifyNothing(password), against: '' };
        return { ok: await passwords.verify(password, hash), against: hash };
      };
      const blocked = token !== null && token.blockedUntil !== null && token.blockedUntil > o.at;
      let check: PasswordCheck = blocked ? null : await checkPassword(token === null ? undefined : user?.passwordHash);
      for (;;) {
        const checked = check;
        const decision = await store.attempt<VerifyDecision | { retry: string | undefined }>({ userId }, (snapshot) => {
          const d = decideAuthenticate(snapshot, otp, checked, o, policy, otpOf);
          return d === null ? { result: { retry: snapshot.user?.passwordHash }, writes: [] } : { result: d, writes: d.writes };
        });
        if ('retry' in decision) {
          check = await checkPassword(decision.retry);
          continue;
        }
        logConsequence(decision);
        return decision.result;
      }
    },

    async validate(req, ctx) {
      const serial = parseSerial(req.serial);
      const otp = requireString(req.otp, 'otp');
      requireContext(ctx);
      const decision = await store.attempt({ serial }, (snapshot) => {
        const d = decideValidate(snapshot, serial, otp, origin(ctx, snapshot.token?.userId ?? null), policy, otpOf);
        return { result: d, writes: d.writes };
      });
      logConsequence(decision);
      return decision.result;
    },

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

    async ready() {
      try {
        return await store.ping();
      } catch {
        return false;
      }
    },

    close: () => store.close(),
  };
}
