/**
 * Credentials: bearer tokens an admin hands to the other parties of the service, each with a
 * role — `operator` (staff at a citizen service centre), `proofing` (the back-end that checked a
 * passport's chip and face in the app), `service` (an application validating codes, as the
 * configured service token does; optionally only a range of serials, so that a leaked one cannot
 * block every token), `metrics` (a Prometheus scraper: GET /metrics). A token is 256 random bits, shown once and stored as its
 * SHA-256 (a token that random needs no slow hash: nothing smaller than the token itself can be
 * guessed); every action by a credential is audited with its id as the actor.
 */
import { randomBytes } from 'node:crypto';
import { KodeviserError, parseSerial } from '@kodeviser/shared';
import { audit, auditEntry, type Decision, type Snapshot, type Write } from './decide.js';
import { ServiceError } from './errors.js';
import { secretDigest } from '../security/secret-digest.js';
import type { Origin, TokenStore } from '../store/types.js';
import type { AuditType, Clock, RequestContext } from './types.js';

export const CREDENTIAL_ROLES = ['operator', 'proofing', 'service', 'metrics'] as const;
export type CredentialRole = (typeof CREDENTIAL_ROLES)[number];

export interface CredentialRecord {
  id: string;
  role: CredentialRole;
  name: string;
  /** SHA-256 of the token, hex. */
  tokenHash: string;
  createdAt: number;
  /** Unix ms after which the token is refused; null: never. */
  expiresAt: number | null;
  revokedAt: number | null;
  /** A service credential's serials, inclusive (ten digits each); null: every serial. */
  serials: SerialRange | null;
}

export interface SerialRange {
  from: string;
  to: string;
}

/** What anyone is ever shown of a credential: never its token or the token's hash. */
export type CredentialInfo = Omit<CredentialRecord, 'tokenHash'>;

/** Who a bearer token is: the configured admin or service token, or a credential. */
export interface Principal {
  role: 'admin' | CredentialRole;
  /** The audit log's actor: 'admin', 'service', or the credential's id. */
  actor: string;
  /** The serials a scoped service credential may validate; absent: any. */
  serials?: SerialRange;
}

/** Whether `principal` may act on `serial` (ten digits). */
export const inScope = (principal: Principal, serial: string): boolean =>
  principal.serials === undefined || (serial >= principal.serials.from && serial <= principal.serials.to);

/**
 * The start of every credential's token: it tells one from the configured tokens without a
 * store lookup (and a secret scanner can recognise a leaked one, as GitHub's `ghp_` does).
 */
export const CREDENTIAL_TOKEN_PREFIX = 'kvc_';
const TOKEN_PATTERN = /^kvc_[A-Za-z0-9_-]{43}$/;
export const MAX_NAME_LENGTH = 100;

const infoOf = ({ tokenHash: _hash, ...info }: CredentialRecord): CredentialInfo => info;

/** Whether `c` may act at `at`. */
export const isUsable = (c: CredentialRecord, at: number): boolean => c.revokedAt === null && (c.expiresAt === null || at < c.expiresAt);

const auditOf = (o: Origin, type: AuditType, c: CredentialRecord): Write =>
  audit(auditEntry(o, type, null, `${c.id} ${c.role}`, null, null));

/** A new credential, unless its id is taken (ids are random: only a broken generator gets there). */
export function decideCreateCredential({ credential }: Snapshot, c: CredentialRecord, o: Origin): Decision<CredentialInfo | null> {
  if (credential !== null) return { result: null, writes: [] };
  return { result: infoOf(c), writes: [{ kind: 'create-credential', credential: c }, auditOf(o, 'credential-create', c)] };
}

/** Revoked at once; revoking a revoked credential changes nothing. Null: no such credential. */
export function decideRevokeCredential({ credential }: Snapshot, o: Origin): Decision<CredentialInfo | null> {
  if (credential === null) return { result: null, writes: [] };
  if (credential.revokedAt !== null) return { result: infoOf(credential), writes: [] };
  return {
    result: infoOf({ ...credential, revokedAt: o.at }),
    writes: [{ kind: 'revoke-credential', id: credential.id, at: o.at }, auditOf(o, 'credential-revoke', credential)],
  };
}

/** `r` as a range of serials, checked: both ends serials (parseSerial), `from` ≤ `to`. */
function serialRange(r: SerialRange): SerialRange {
  const at = (v: string, name: string) => {
    try {
      return parseSerial(v);
    } catch (e) {
      throw new KodeviserError('ERR_ARGUMENT', `serials.${name}: ${(e as Error).message}`);
    }
  };
  const from = at(r.from, 'from');
  const to = at(r.to, 'to');
  if (from > to) throw new KodeviserError('ERR_ARGUMENT', 'serials.from must not be after serials.to');
  return { from, to };
}

export interface CredentialService {
  create(
    req: { role: CredentialRole; name: string; expiresAt?: number; serials?: SerialRange },
    actor: string,
    ctx: RequestContext,
    /** the token to use (fixtures: a test suite knows it beforehand); default: 256 random bits */
    token?: string,
  ): Promise<CredentialInfo & { token: string }>;
  list(): Promise<CredentialInfo[]>;
  /** Throws ServiceError ERR_UNKNOWN_CREDENTIAL. */
  revoke(id: string, actor: string, ctx: RequestContext): Promise<CredentialInfo>;
  /** The credential a bearer token is, while usable; null for any other string. */
  principalOf(token: string): Promise<Principal | null>;
  /**
   * The credential with id `id`, while usable; null when there is none or it is revoked or has
   * expired. For a session that holds a credential's id, not its token (the console's cookie), so
   * that revoking the credential ends the session at once.
   */
  principalOfId(id: string): Promise<Principal | null>;
}

const principalOfRecord = (c: CredentialRecord): Principal =>
  c.serials === null ? { role: c.role, actor: c.id } : { role: c.role, actor: c.id, serials: c.serials };

export function createCredentialService({ store, clock }: { store: TokenStore; clock: Clock }): CredentialService {
  const origin = (ctx: RequestContext, actor: string): Origin => ({ at: clock.now(), ip: ctx.ip, userId: null, actor });
  return {
    async create(req, actor, ctx, given) {
      if (given !== undefined && !TOKEN_PATTERN.test(given)) {
        throw new KodeviserError('ERR_ARGUMENT', 'a given token must be kvc_ and 43 base64url characters');
      }
      if (!CREDENTIAL_ROLES.includes(req.role)) {
        throw new KodeviserError('ERR_ARGUMENT', `role must be one of ${CREDENTIAL_ROLES.join(', ')}`);
      }
      const name = typeof req.name === 'string' ? req.name.trim() : '';
      if (name.length === 0 || name.length > MAX_NAME_LENGTH) {
        throw new KodeviserError('ERR_ARGUMENT', `name must be 1 to ${MAX_NAME_LENGTH} characters`);
      }
      const o = origin(ctx, actor);
      if (req.expiresAt !== undefined && (!Number.isSafeInteger(req.expiresAt) || req.expiresAt <= o.at)) {
        throw new KodeviserError('ERR_ARGUMENT', 'expiresAt must be a time in the future (unix ms)');
      }
      const serials = req.serials === undefined ? null : serialRange(req.serials);
      if (serials !== null && req.role !== 'service') throw new KodeviserError('ERR_ARGUMENT', 'serials scope a service credential only');
      const token = given ?? CREDENTIAL_TOKEN_PREFIX + randomBytes(32).toString('base64url');
      const record: CredentialRecord = {
        id: `cred-${randomBytes(8).toString('hex')}`,
        role: req.role,
        name,
        tokenHash: secretDigest(token),
        createdAt: o.at,
        expiresAt: req.expiresAt ?? null,
        revokedAt: null,
        serials,
      };
      const info = await store.attempt({ credentialId: record.id }, (s) => decideCreateCredential(s, record, o));
      if (info === null) throw new Error(`credential id ${record.id} drawn twice`);
      return { ...info, token };
    },

    list: async () => (await store.listCredentials()).map(infoOf),

    async revoke(id, actor, ctx) {
      const o = origin(ctx, actor);
      const info = await store.attempt({ credentialId: id }, (s) => decideRevokeCredential(s, o));
      if (info === null) throw new ServiceError('ERR_UNKNOWN_CREDENTIAL', `no credential with id ${id}`);
      return info;
    },

    async principalOf(token) {
      if (!TOKEN_PATTERN.test(token)) return null;
      const c = await store.getCredential({ tokenHash: secretDigest(token) });
      if (c === null || !isUsable(c, clock.now())) return null;
      return principalOfRecord(c);
    },

    async principalOfId(id) {
      const { credential: c } = await store.snapshot({ credentialId: id });
      if (c === null || !isUsable(c, clock.now())) return null;
      return principalOfRecord(c);
    },
  };
}
