/**
 * Identities and proofs of identity. A person is a national identity number (ten digits, as the
 * Danish CPR number: the first six a date of birth, DDMMYY); a document (passport, ID card,
 * driving licence) is evidence of it, checked by an operator at a citizen service centre or by
 * the proofing back-end of the app. One national ID is one user, whatever document shows it.
 *
 * Neither number is stored: only keyed hashes (HMAC-SHA-256) under an identity key of its own,
 * kept sealed under the master key, so that the database alone cannot be searched for a person
 * and a master-key rotation re-seals the key and keeps every link. A proof is ≥ 128 random bits
 * (stored as its SHA-256), bound to its user, valid for 15 minutes, spent by what it allows.
 */
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { KodeviserError } from '@kodeviser/shared';
import type { Decision, Snapshot, Write } from './decide.js';
import type { SeedVault } from '../security/seed-vault.js';
import type { Origin, TokenStore } from '../store/types.js';
import type { Clock } from './types.js';

export const DOCUMENT_TYPES = ['passport', 'id-card', 'driving-licence'] as const;
export type DocumentType = (typeof DOCUMENT_TYPES)[number];

export interface IdentityEvidence {
  /** Ten digits. */
  nationalId: string;
  document: { type: DocumentType; country: string; number: string };
}

/** How long a proof allows an activation or a password reset. */
export const PROOF_TTL_MS = 15 * 60_000;

export interface ProofRecord {
  /** SHA-256 of the proof id, hex. */
  idHash: string;
  userId: string;
  /** The keyed hash of the document shown (identity.ts), for the audit of who showed what. */
  documentHash: string;
  /** The credential (or 'admin') that made it. */
  actor: string;
  createdAt: number;
  expiresAt: number;
  usedAt: number | null;
}

const TEN_DIGITS = /^[0-9]{10}$/;
const COUNTRY = /^[A-Z]{2}$/;
const DOCUMENT_NUMBER = /^[A-Z0-9]{1,30}$/;

/** `n` as a national ID: ten digits whose first six are a date (DDMMYY); else ERR_ARGUMENT. */
export function parseNationalId(n: unknown): string {
  const s = typeof n === 'string' ? n.replace(/[\s-]/g, '') : '';
  const day = Number(s.slice(0, 2));
  const month = Number(s.slice(2, 4));
  if (!TEN_DIGITS.test(s) || month < 1 || month > 12 || day < 1 || day > new Date(Date.UTC(2000, month, 0)).getUTCDate()) {
    throw new KodeviserError('ERR_ARGUMENT', 'identity.nationalId must be ten digits, the first six a date of birth (DDMMYY)');
  }
  return s;
}

/** A document as evidence: its number in upper case, spaces and hyphens dropped; else ERR_ARGUMENT. */
export function parseDocument(d: unknown): IdentityEvidence['document'] {
  const doc = (typeof d === 'object' && d !== null ? d : {}) as Record<string, unknown>;
  if (!DOCUMENT_TYPES.includes(doc.type as DocumentType)) {
    throw new KodeviserError('ERR_ARGUMENT', `identity.document.type must be one of ${DOCUMENT_TYPES.join(', ')}`);
  }
  const country = typeof doc.country === 'string' ? doc.country.toUpperCase() : '';
  if (!COUNTRY.test(country)) throw new KodeviserError('ERR_ARGUMENT', 'identity.document.country must be an ISO 3166-1 alpha-2 code');
  const number = typeof doc.number === 'string' ? doc.number.toUpperCase().replace(/[\s-]/g, '') : '';
  if (!DOCUMENT_NUMBER.test(number)) {
    throw new KodeviserError(
      'ERR_ARGUMENT',
      'identity.document.number must be 1 to 30 letters and digits (spaces and hyphens are dropped)',
    );
  }
  return { type: doc.type as DocumentType, country, number };
}

/** The keyed hashes of an identity's numbers, under the identity key. */
export function identityHashes(key: Uint8Array, e: IdentityEvidence): { nationalIdHash: string; documentHash: string } {
  const mac = (text: string) => createHmac('sha256', key).update(text, 'utf8').digest('hex');
  const d = e.document;
  return { nationalIdHash: mac(`national-id\0${e.nationalId}`), documentHash: mac(`document\0${d.type}\0${d.country}\0${d.number}`) };
}

/** A new proof id (128 random bits, base64url) and the hash it is stored as. */
export function newProofId(): { proofId: string; idHash: string } {
  const proofId = randomBytes(16).toString('base64url');
  return { proofId, idHash: proofIdHash(proofId) };
}
export const proofIdHash = (proofId: string): string => createHash('sha256').update(proofId, 'utf8').digest('hex');

/** A user ID for a person who named none: `kv-` and 48 random bits. */
export const newUserId = (): string => `kv-${randomBytes(6).toString('hex')}`;

/** Why a proof cannot be made, each a 409 (the identity and user are the caller's to sort out). */
export type ProofRefusal =
  /** the identity is another user's */
  | 'identity-linked-elsewhere'
  /** the user ID is another identity's */
  | 'user-linked-elsewhere'
  /** the user existed before identities: linking needs its owner's device and password too */
  | 'owner-proof-required';

export interface ProofAttempt {
  nationalIdHash: string;
  documentHash: string;
  /** The user ID asked for, if any. */
  userId?: string;
  /** The user ID the person gets when none is asked for and the identity has none yet. */
  newUserId: string;
  idHash: string;
}

/**
 * A proof of identity (POST /v1/proofs), decided on the identity's user and the user asked for:
 * the first proof of an identity creates its user (the ID asked for if free, else a new one);
 * a later one is for that user, and naming another user is refused. A proof does not change the
 * user's password or device: it only allows the activation or reset that spends it.
 */
export function decideProof(
  { user, identityUser }: Snapshot,
  a: ProofAttempt,
  o: Origin & { actor: string },
): Decision<{ userId: string; expiresAt: number } | { refused: ProofRefusal }> {
  const refuse = (refused: ProofRefusal) => ({ result: { refused }, writes: [] });
  let userId: string;
  const writes: Write[] = [];
  let created = false;
  if (identityUser !== null) {
    if (a.userId !== undefined && a.userId !== identityUser.userId) return refuse('identity-linked-elsewhere');
    userId = identityUser.userId;
  } else if (a.userId !== undefined && user !== null) {
    return refuse(user.identityHash !== null ? 'user-linked-elsewhere' : 'owner-proof-required');
  } else {
    userId = a.userId ?? a.newUserId;
    writes.push({ kind: 'create-user', userId, passwordHash: null, identityHash: a.nationalIdHash, at: o.at });
    created = true;
  }
  const expiresAt = o.at + PROOF_TTL_MS;
  writes.push(
    {
      kind: 'create-proof',
      proof: { idHash: a.idHash, userId, documentHash: a.documentHash, actor: o.actor, createdAt: o.at, expiresAt, usedAt: null },
    },
    {
      kind: 'audit',
      entry: {
        at: o.at,
        type: 'proof',
        serial: null,
        userId,
        ip: o.ip,
        actor: o.actor,
        reason: created ? 'new user' : null,
        movingFactor: null,
      },
    },
  );
  return { result: { userId, expiresAt }, writes };
}

/** The identity key's name in the store's sealed secrets. */
export const IDENTITY_KEY = 'identity-key';

export interface IdentityService {
  /**
   * A proof of identity, made by an operator or the proofing back-end (`actor`): the user it is
   * for, its id (shown once) and when it expires; or why it cannot be made.
   */
  prove(
    req: { identity: IdentityEvidence; userId?: string },
    actor: string,
    ctx: { ip: string },
  ): Promise<{ proofId: string; userId: string; expiresAt: number } | { refused: ProofRefusal }>;
}

export function createIdentityService(opts: { store: TokenStore; clock: Clock; vault: SeedVault }): IdentityService {
  const { store, clock, vault } = opts;
  let key: Promise<Uint8Array> | null = null;
  /** The identity key: read, or made and stored by the first server that needs it. */
  const identityKey = (): Promise<Uint8Array> =>
    (key ??= (async () => {
      const made = vault.seal(IDENTITY_KEY, randomBytes(32));
      const sealed = await store.attempt({ secretName: IDENTITY_KEY }, ({ secret }) =>
        secret !== null
          ? { result: secret, writes: [] }
          : { result: made, writes: [{ kind: 'create-secret', name: IDENTITY_KEY, sealed: made }] },
      );
      return vault.open(IDENTITY_KEY, sealed);
    })().catch((e: unknown) => {
      key = null;
      throw e;
    }));

  return {
    async prove(req, actor, ctx) {
      const identity = { nationalId: parseNationalId(req.identity?.nationalId), document: parseDocument(req.identity?.document) };
      if (req.userId !== undefined && (typeof req.userId !== 'string' || req.userId.length === 0)) {
        throw new KodeviserError('ERR_ARGUMENT', 'userId must be a non-empty string');
      }
      const { nationalIdHash, documentHash } = identityHashes(await identityKey(), identity);
      const { proofId, idHash } = newProofId();
      const o = { at: clock.now(), ip: ctx.ip, userId: null, actor };
      const attempt: ProofAttempt = {
        nationalIdHash,
        documentHash,
        newUserId: newUserId(),
        idHash,
        ...(req.userId !== undefined ? { userId: req.userId } : {}),
      };
      const result = await store.attempt(
        { identityHash: nationalIdHash, ...(req.userId !== undefined ? { userId: req.userId } : {}) },
        (s) => decideProof(s, attempt, o),
      );
      return 'refused' in result ? result : { proofId, ...result };
    },
  };
}
