/**
 * Identities and proofs of identity. A person is a national identity number (ten digits, as the
 * Danish CPR number: the first six a date of birth, DDMMYY); a document (passport, ID card,
 * driving licence) is evidence of it, checked by an operator at a citizen service centre or by
 * the proofing back-end of the app. One national ID is one user, whatever document shows it.
 *
 * Neither number is stored: only keyed hashes (HMAC-SHA-256) under an identity key of its own,
 * kept sealed under the master key, so that the database alone cannot be searched for a person;
 * the hashes do not depend on the master key, so re-sealing the identity key under a new one
 * would keep every link (there is no rotation command yet). A proof is ≥ 128 random bits
 * (stored as its SHA-256), bound to its user, valid for 15 minutes, spent by what it allows.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { KodeviserError } from '@kodeviser/shared';
import {
  audit,
  auditEntry,
  checkedAgainst,
  decideAuthenticate,
  gate,
  withPassword,
  type Decision,
  type PasswordCheck,
  type Snapshot,
  type Write,
} from './decide.js';
import type { PolicyOptions } from './policy.js';
import { secretDigest } from '../security/secret-digest.js';
import { storedSecret, type SeedVault } from '../security/seed-vault.js';
import type { Otp } from '@kodeviser/shared';
import type { Origin, TokenRecord, TokenStore } from '../store/types.js';
import type { VerifyOutcome } from './types.js';

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
  /** The keyed hash of the document shown; null for the owner's own proof (a login). */
  documentHash: string | null;
  /** The credential (or 'admin') that made it; 'self' for the owner's own proof. */
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
  return { proofId, idHash: secretDigest(proofId) };
}

/** A user ID for a person who named none: `kv-` and 48 random bits. */
export const newUserId = (): string => `kv-${randomBytes(6).toString('hex')}`;

/** Why a proof cannot be made, each a 409 (the identity and user are the caller's to sort out). */
export type ProofRefusal =
  /** the identity is another user's */
  | 'identity-linked-elsewhere'
  /** the user ID is another identity's */
  | 'user-linked-elsewhere'
  /** the user existed before identities: linking needs its owner's device code and password too */
  | 'owner-proof-required'
  /** the owner's code and password, given for that, did not check out (counted as a failed login) */
  | 'owner-not-proven';

export interface ProofAttempt {
  nationalIdHash: string;
  documentHash: string;
  /** The user ID asked for, if any. */
  userId?: string;
  /** The user ID the person gets when none is asked for and the identity has none yet. */
  newUserId: string;
  idHash: string;
  /** For a user from before identities: a code of its active device and the password, as checked. */
  owner?: { otp: string; password: PasswordCheck };
}

export type ProofResult = { userId: string; expiresAt: number } | { refused: ProofRefusal };

/** The writes of a proof for `userId` made now, and its audit row. */
function proofWrites(userId: string, idHash: string, documentHash: string | null, o: Origin, reason: string | null): Write[] {
  return [
    {
      kind: 'create-proof',
      proof: { idHash, userId, documentHash, actor: o.actor ?? 'self', createdAt: o.at, expiresAt: o.at + PROOF_TTL_MS, usedAt: null },
    },
    audit(auditEntry(o, 'proof', null, reason, null, userId)),
  ];
}

/**
 * A proof of identity (POST /v1/proofs), decided on the identity's user and the user asked for:
 * the first proof of an identity creates its user (the ID asked for if free, else a new one);
 * a later one is for that user, and naming another user is refused. A user from before
 * identities is linked only with its owner's proof in the same request, decided as a login on its
 * active device (a failure counts as one) — else anyone who passes an ID check could take a
 * stranger's account. A proof does not change the user's password or device: it only allows the
 * activation or reset that spends it. Null when the owner's password must be checked first.
 */
export function decideProof(
  { user, userToken, identityUser }: Snapshot,
  a: ProofAttempt,
  o: Origin & { actor: string },
  policy: PolicyOptions,
  otpOf: (token: TokenRecord) => Otp,
): Decision<ProofResult> | null {
  const refuse = (refused: ProofRefusal, writes: readonly Write[] = []) => ({ result: { refused }, writes });
  const expiresAt = o.at + PROOF_TTL_MS;
  if (identityUser !== null) {
    if (a.userId !== undefined && a.userId !== identityUser.userId) return refuse('identity-linked-elsewhere');
    const userId = identityUser.userId;
    return { result: { userId, expiresAt }, writes: proofWrites(userId, a.idHash, a.documentHash, o, null) };
  }
  if (a.userId === undefined || user === null) {
    const userId = a.userId ?? a.newUserId;
    return {
      result: { userId, expiresAt },
      writes: [
        { kind: 'create-user', userId, passwordHash: null, identityHash: a.nationalIdHash, at: o.at },
        ...proofWrites(userId, a.idHash, a.documentHash, o, 'new user'),
      ],
    };
  }
  if (user.identityHash !== null) return refuse('user-linked-elsewhere');
  if (a.owner === undefined || userToken === null) return refuse('owner-proof-required');
  const as = { ...o, userId: user.userId };
  const gated = gate(userToken, as);
  if (gated) return refuse('owner-not-proven', gated.writes);
  const { password } = a.owner;
  if (!checkedAgainst(password, user)) return null;
  const login = withPassword(userToken, a.owner.otp, password.ok, as, policy, otpOf(userToken));
  if (login.result.result !== 'accept') return refuse('owner-not-proven', login.writes);
  return {
    result: { userId: user.userId, expiresAt },
    writes: [
      ...login.writes,
      { kind: 'link-identity', userId: user.userId, identityHash: a.nationalIdHash },
      ...proofWrites(user.userId, a.idHash, a.documentHash, o, 'identity linked'),
    ],
  };
}

/** The fixed text of the approval a self proof is. */
export const SELF_PROOF_ACTION = 'Add a new code display';

/**
 * The owner's own proof (POST /v1/proofs/self): "add or replace my device with my current login",
 * an approval of SELF_PROOF_ACTION decided as a login (failures counted, blocks held), which on
 * success also makes a proof for the user. Null as decideAuthenticate's.
 */
export function decideSelfProof(
  s: Snapshot,
  code: string,
  password: PasswordCheck,
  idHash: string,
  o: Origin,
  policy: PolicyOptions,
  otpOf: (token: TokenRecord) => Otp,
): Decision<{ outcome: VerifyOutcome; proof: { userId: string; expiresAt: number } | null }> | null {
  const login = decideAuthenticate(s, code, password, o, policy, otpOf);
  if (login === null) return null;
  const { user } = s;
  if (login.result.result !== 'accept' || user === null) return { result: { outcome: login.result, proof: null }, writes: login.writes };
  const userId = user.userId;
  return {
    result: { outcome: login.result, proof: { userId, expiresAt: o.at + PROOF_TTL_MS } },
    writes: [
      ...login.writes,
      audit(auditEntry(o, 'approve', login.result.serial, SELF_PROOF_ACTION, null, userId)),
      ...proofWrites(userId, idHash, null, o, 'self'),
    ],
  };
}

/** The identity key's name in the store's sealed secrets. */
export const IDENTITY_KEY = 'identity-key';

/**
 * The identity key: read, or made and stored by the first server that needs it (an attempt, so
 * two servers starting at once keep one), then kept.
 */
export function identityKeyOf(store: TokenStore, vault: SeedVault): () => Promise<Uint8Array> {
  let key: Promise<Uint8Array> | null = null;
  return () =>
    (key ??= storedSecret(store, vault, IDENTITY_KEY).catch((e: unknown) => {
      key = null;
      throw e;
    }));
}
