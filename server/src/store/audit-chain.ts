/**
 * The audit log's hash chains, which make it tamper-evident: each row carries the SHA-256 of its
 * predecessor's hash and its own content, so a row changed, removed or slipped in breaks every
 * hash after it, and a signed checkpoint (audit-checkpoint.ts) pins the heads.
 *
 * A chain per lane rather than one for the whole log: one chain would make every writing
 * transaction wait for the one before it to commit (PostgreSQL commits concurrently; the order of
 * ids is not the order of commits). A lane is used by one writer at a time — SQLite's single
 * connection, a PostgreSQL transaction that took it from its process's free lanes — so its rows
 * follow each other in id order, and its head is known. Lanes are rows of audit_lanes, claimed
 * by a writer and never shared with another process.
 *
 * Both stores hash the same bytes, so one verifier serves both: SQLite here in JS, PostgreSQL in
 * its insert trigger (postgres-schema.ts, migration 9), which the verifier checks in the tests —
 * two implementations of one encoding. The encoding is plain on purpose, easy to write in SQL:
 * 'v1', then each field as `-` (null) or `<utf-8 byte length>:<text>`, separated by ','.
 * The id is hashed too, so rows cannot be renumbered; within a lane ids only grow.
 */
import { createHash } from 'node:crypto';
import type { AuditRow } from './audit-rows.js';

/** The head of a lane before its first row. */
export const GENESIS: Uint8Array = new Uint8Array(32);

/**
 * What a row's hash covers: the row as the database stores it (audit-rows.ts; the user as its
 * pseudonym), in its lane. The moving factor is hashed as its decimal digits, whichever its
 * representation (a number, a bigint above 2^53 − 1).
 */
export interface ChainContent extends Omit<AuditRow, 'type'> {
  /** as stored: a row is verified whatever it says */
  type: string;
  lane: number;
}

/** A stored row with its chain: what verify and archive read. */
export interface ChainRow extends Omit<ChainContent, 'lane'> {
  lane: number | null;
  hash: Uint8Array | null;
}

const field = (v: string | number | bigint | null): string => {
  if (v === null) return '-';
  const text = typeof v === 'string' ? v : String(v);
  return `${Buffer.byteLength(text, 'utf8')}:${text}`;
};

/** The bytes a row contributes to its hash. */
export function encodeContent(r: ChainContent): string {
  return [
    'v1',
    field(r.id),
    field(r.lane),
    field(r.at),
    field(r.type),
    field(r.serial),
    field(r.user_id),
    field(r.ip),
    field(r.actor),
    field(r.reason),
    field(r.moving_factor),
    field(r.repeats),
  ].join(',');
}

/** SHA-256(prev ‖ encodeContent(r)). */
export function chainHash(prev: Uint8Array, r: ChainContent): Uint8Array {
  if (prev.length !== 32) throw new RangeError(`prev must be a 32-byte hash, got ${prev.length} bytes`);
  const h = createHash('sha256').update(prev).update(encodeContent(r), 'utf8').digest();
  return new Uint8Array(h.buffer, h.byteOffset, h.byteLength);
}

export const sameHash = (a: Uint8Array | null, b: Uint8Array | null): boolean =>
  a !== null && b !== null && a.length === b.length && Buffer.compare(a, b) === 0;

/** Where a lane stands: its newest row's id and hash. */
export interface LaneHead {
  id: number;
  hash: Uint8Array;
}

/** A break found by the verifier: the first row (by id) of a lane whose hash does not follow. */
export interface ChainBreak {
  lane: number | null;
  id: number;
  /** 'hash': changed, or a row before it in its lane removed or inserted; 'unhashed': no lane or hash at all */
  problem: 'hash' | 'unhashed';
}

/**
 * Follows every lane through `rows` (in id order) from `heads` (a lane absent starts at GENESIS),
 * recording the breaks; a break does not stop the walk: the stored hash is taken as the head, so
 * each later, independent break is found too. Returns the heads reached, for the next batch.
 */
export function followChains(rows: Iterable<ChainRow>, heads: Map<number, LaneHead>, breaks: ChainBreak[]): number {
  let n = 0;
  for (const r of rows) {
    n++;
    if (r.hash === null || r.lane === null) {
      breaks.push({ lane: r.lane, id: r.id, problem: 'unhashed' });
      continue;
    }
    const prev = heads.get(r.lane)?.hash ?? GENESIS;
    if (!sameHash(chainHash(prev, { ...r, lane: r.lane }), r.hash)) breaks.push({ lane: r.lane, id: r.id, problem: 'hash' });
    heads.set(r.lane, { id: r.id, hash: r.hash });
  }
  return n;
}
