/**
 * Signed checkpoints of the audit log: where each lane's chain stood (audit-chain.ts) as of a row
 * id, and, for an archive, which rows were pruned into which file. A JWS (RFC 7515, compact) over
 * a JSON payload, signed with Ed25519 (RFC 8037, alg EdDSA) by `jose`.
 *
 * The chain alone proves nothing to someone who can write the database: they can rewrite a row and
 * every hash after it. A checkpoint pins the heads with a key the database does not hold, so rows
 * up to it cannot be changed without its signature failing; rows after the newest checkpoint can
 * (so checkpoints are taken often, and kept outside the database too: README "Retention").
 *
 * The key is derived from the master key (HKDF-SHA256, RFC 5869), so there is nothing more to keep
 * safe; the public key, which is all a verifier needs, can be handed to an auditor (`audit key`).
 */
import { createPublicKey, hkdfSync, type KeyObject } from 'node:crypto';
import { calculateJwkThumbprint, CompactSign, compactVerify, exportJWK, type JWK } from 'jose';
import { bytesToHex, hexToBytes, KodeviserError } from '@kodeviser/shared';
import type { LaneHead } from '../store/audit-chain.js';
import { ed25519FromSeed } from './ed25519.js';

export interface CheckpointPayload {
  /** 'kodeviser-audit-checkpoint' */
  typ: typeof CHECKPOINT_TYPE;
  v: 1;
  /** Unix ms when it was made. */
  at: number;
  /** The newest row it covers. */
  upTo: number;
  /** Each lane's newest row up to `upTo`: its id and hash (hex). */
  lanes: Record<string, { id: number; hash: string }>;
  /** Rows up to this id were archived (and may be pruned); null for a checkpoint only. */
  prunedTo: number | null;
  /** The archive file those rows went to: its name, rows, and the SHA-256 of its lines before this checkpoint. */
  archive: { file: string; rows: number; sha256: string } | null;
}

export const CHECKPOINT_TYPE = 'kodeviser-audit-checkpoint';

export interface CheckpointKey {
  privateKey: KeyObject | null;
  publicKey: KeyObject;
  /** The public key's JWK thumbprint (RFC 7638), the JWS header's kid. */
  kid: string;
}

/** The checkpoint key of `masterKey`. */
export async function checkpointKey(masterKey: Uint8Array): Promise<CheckpointKey> {
  if (masterKey.length !== 32) throw new RangeError(`masterKey must be 32 bytes, got ${masterKey.length}`);
  const { privateKey, publicKey, kid } = await ed25519FromSeed(
    new Uint8Array(hkdfSync('sha256', masterKey, new Uint8Array(0), 'kodeviser audit checkpoint v1', 32)),
  );
  return { privateKey, publicKey, kid };
}

/** The public key as a JWK (with its kid), for a verifier without the master key. */
export async function publicJwk(key: CheckpointKey): Promise<JWK> {
  return { ...(await exportJWK(key.publicKey)), kid: key.kid, alg: 'EdDSA', use: 'sig' };
}

/** A verifier's key from a JWK as publicJwk wrote it; ERR_ARGUMENT when it is not one. */
export async function keyFromJwk(jwk: unknown): Promise<CheckpointKey> {
  const j = jwk as JWK;
  if (typeof j !== 'object' || j === null || j.kty !== 'OKP' || j.crv !== 'Ed25519' || typeof j.x !== 'string' || 'd' in j) {
    throw new KodeviserError('ERR_ARGUMENT', 'the public key must be an Ed25519 public JWK (kty OKP, crv Ed25519, x)');
  }
  let publicKey: KeyObject;
  try {
    publicKey = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: j.x }, format: 'jwk' });
  } catch {
    throw new KodeviserError('ERR_ARGUMENT', "the public key's x is not an Ed25519 public key");
  }
  return { privateKey: null, publicKey, kid: await calculateJwkThumbprint({ kty: 'OKP', crv: 'Ed25519', x: j.x }) };
}

export async function signCheckpoint(payload: CheckpointPayload, key: CheckpointKey): Promise<string> {
  if (key.privateKey === null) throw new KodeviserError('ERR_ARGUMENT', 'a public key cannot sign: the master key is needed');
  return new CompactSign(new TextEncoder().encode(JSON.stringify(payload)))
    .setProtectedHeader({ alg: 'EdDSA', kid: key.kid, typ: CHECKPOINT_TYPE })
    .sign(key.privateKey);
}

/** Thrown by openCheckpoint: a checkpoint that is not one, or not signed by the key. */
export class CheckpointError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CheckpointError';
  }
}

/** The payload of `jws` once its signature verifies with `key`; CheckpointError otherwise. */
export async function openCheckpoint(jws: string, key: CheckpointKey): Promise<CheckpointPayload> {
  let payload: Uint8Array;
  try {
    ({ payload } = await compactVerify(jws, key.publicKey, { algorithms: ['EdDSA'] }));
  } catch (e) {
    throw new CheckpointError(`its signature does not verify with key ${key.kid} (${(e as Error).message})`);
  }
  let p: CheckpointPayload;
  try {
    p = JSON.parse(new TextDecoder().decode(payload)) as CheckpointPayload;
  } catch {
    throw new CheckpointError('its payload is not JSON');
  }
  if (p?.typ !== CHECKPOINT_TYPE || p.v !== 1 || !Number.isSafeInteger(p.upTo) || typeof p.lanes !== 'object' || p.lanes === null) {
    throw new CheckpointError('its payload is not a kodeviser audit checkpoint');
  }
  return p;
}

/** Lane heads as a checkpoint writes them. */
export function lanesOf(heads: ReadonlyMap<number, LaneHead>): CheckpointPayload['lanes'] {
  const lanes: CheckpointPayload['lanes'] = {};
  for (const [lane, h] of [...heads].sort((a, b) => a[0] - b[0])) lanes[String(lane)] = { id: h.id, hash: bytesToHex(h.hash) };
  return lanes;
}

/** And back. */
export function headsOf(lanes: CheckpointPayload['lanes']): Map<number, LaneHead> {
  return new Map(Object.entries(lanes).map(([lane, h]) => [Number(lane), { id: h.id, hash: hexToBytes(h.hash) }]));
}
