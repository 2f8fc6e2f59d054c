/**
 * Receipts of logins and approvals: what the application that asked can keep and show later to
 * prove what the user approved, and when. A JWT (RFC 7519) signed with EdDSA (Ed25519, RFC 8037)
 * by a receipt key (receipt-keys.ts), verifiable by anyone with /.well-known/jwks.json.
 *
 * The text approved is in it as its SHA-256 only (`transaction_text_sha256`, base64url): the
 * application holds the text and shows it; the receipt proves it is the one approved without
 * carrying it. The accept's audit row holds the action, that hash and the receipt's jti
 * (decide.ts: approvalReason), so the server's own log says which receipt it issued.
 */
import { createHash, randomBytes } from 'node:crypto';
import { SignJWT } from 'jose';
import type { ApprovalNote } from '../domain/decide.js';
import type { ReceiptKey } from './receipt-keys.js';

export const RECEIPT_TYPE = 'kodeviser-receipt+jwt';
export const RECEIPT_LIFETIME_S = 300;

/** What a login or an approval was, as the receipt states it. */
export interface Approval extends ApprovalNote {
  audience: string | null;
  nonce: string | null;
}

export const textSha256 = (text: string): string => createHash('sha256').update(text, 'utf8').digest('base64url');
export const newJti = (): string => randomBytes(16).toString('base64url');

export interface ReceiptClaims {
  issuer: string;
  userId: string;
  serial: string;
  /** unix ms of the accept */
  at: number;
  approval: Approval;
}

/** The receipt of an accept, signed with `key`. */
export function signReceipt(c: ReceiptClaims, key: ReceiptKey): Promise<string> {
  const iat = Math.floor(c.at / 1000);
  const a = c.approval;
  const jwt = new SignJWT({
    amr: ['code_token', 'password'],
    action: a.action,
    ...(a.textSha256 !== null ? { transaction_text_sha256: a.textSha256 } : {}),
    ...(a.nonce !== null ? { nonce: a.nonce } : {}),
    serial: c.serial,
  })
    .setProtectedHeader({ alg: 'EdDSA', typ: RECEIPT_TYPE, kid: key.kid })
    .setIssuer(c.issuer)
    .setSubject(c.userId)
    .setIssuedAt(iat)
    .setExpirationTime(iat + RECEIPT_LIFETIME_S)
    .setJti(a.jti);
  if (a.audience !== null) jwt.setAudience(a.audience);
  return jwt.sign(key.privateKey);
}
