/**
 * The tokens table's rows as the SQLite store reads them: one column list, named, from which the
 * SELECTs are built and by which a row is read.
 *
 * A row comes as an array in that order (better-sqlite3's raw mode), read through COL by name:
 * reading a token is on the path of every request, and an object row costs the creation of one
 * property per column each time (~20 µs a read here, a sixth of a validation's store time), an
 * array row does not.
 */
import type { MovingFactor, ProfileName } from '@kodeviser/shared';
import type { TokenStatus } from '../domain/types.js';
import type { TokenDrift, TokenRecord } from './types.js';

/** What each column of a token read holds. */
export interface TokenColumns {
  serial: string;
  profile: string;
  digits: number;
  step: number;
  t0: number;
  seedCiphertextHex: string;
  seedNonceHex: string;
  keyVersion: number;
  status: TokenStatus;
  /** As exactMovingFactorSql reads it. */
  lastMovingFactor: number | string;
  drift: number;
  driftMs: number;
  driftPpm: number;
  driftPpmVar: number | null;
  failures: number;
  blockedUntil: number | null;
  pendingMovingFactor: number | string | null;
  pendingAt: number | null;
  importedAt: number;
  lastUsedAt: number | null;
  /** The user of the token's active assignment. */
  userId: string | null;
  /** The user of its assignment, active or not (a token has one at most in its life). */
  owner: string | null;
  /** The newest row of the token's audit chain (sqlite-schema.ts, migration 3). */
  lastAuditId: number | null;
  /** When its assignment ended, and the token that replaced it. */
  endedAt: number | null;
  replacedBy: string | null;
  /** The owner's pseudonym in the audit log (sqlite-schema.ts, migration 8). */
  ownerPseudonym: string | null;
}

/**
 * A moving-factor column (up to 2^63 − 1) read exactly: better-sqlite3 reads an INTEGER as a
 * double, which loses digits above 2^53 − 1, so such a value is read as its decimal text instead,
 * for readMovingFactor; every other as the plain number, for one comparison in SQLite (reading
 * every integer of the statement as a BigInt, better-sqlite3's safeIntegers, would cost each read).
 */
export function exactMovingFactorSql(column: string): string {
  return `CASE WHEN ${column} > ${Number.MAX_SAFE_INTEGER} THEN CAST(${column} AS TEXT) ELSE ${column} END`;
}

/** A value exactMovingFactorSql read, as the moving factor (its text only ever above 2^53 − 1). */
export const readMovingFactor = (value: number | string): MovingFactor => (typeof value === 'string' ? BigInt(value) : value);

// The seed's bytes come as hex text: better-sqlite3 makes each BLOB a Buffer with its own backing
// store, ~1.1 µs apiece measured here (two per read, the read's largest cost after the lookup),
// where hex() and Buffer.from(…, 'hex') from Node's pool cost ~0.2 µs.
const COLUMN_SQL: Readonly<Record<keyof TokenColumns, string>> = {
  serial: 't.serial',
  profile: 't.profile',
  digits: 't.digits',
  step: 't.step',
  t0: 't.t0',
  seedCiphertextHex: 'hex(t.seed_ciphertext)',
  seedNonceHex: 'hex(t.seed_nonce)',
  keyVersion: 't.key_version',
  status: 't.status',
  lastMovingFactor: exactMovingFactorSql('t.last_moving_factor'),
  drift: 't.drift',
  driftMs: 't.drift_ms',
  driftPpm: 't.drift_ppm',
  driftPpmVar: 't.drift_ppm_var',
  failures: 't.failures',
  blockedUntil: 't.blocked_until',
  pendingMovingFactor: exactMovingFactorSql('t.pending_moving_factor'),
  pendingAt: 't.pending_at',
  importedAt: 't.imported_at',
  lastUsedAt: 't.last_used_at',
  userId: 'CASE WHEN a.active = 1 THEN a.user_id END',
  owner: 'a.user_id',
  lastAuditId: 't.last_audit_id',
  endedAt: 'a.deactivated_at',
  replacedBy: 'a.replaced_by',
  ownerPseudonym: 'a.pseudonym',
};

/** A token read: an array of TokenColumns' values, in COL's order. */
export type TokenRow = readonly unknown[];

/** Each column's place in a TokenRow. */
export const COL = Object.fromEntries(Object.keys(COLUMN_SQL).map((name, i) => [name, i])) as Readonly<Record<keyof TokenColumns, number>>;

export const col = <K extends keyof TokenColumns>(row: TokenRow, name: K): TokenColumns[K] => row[COL[name]] as TokenColumns[K];

/**
 * The columns, selected from `tokens t` joined to its assignment `a` (any, active or not:
 * `a.serial` is unique), which the reads append.
 */
export const TOKEN_SELECT = `SELECT ${Object.values(COLUMN_SQL).join(', ')}`;
export const BY_SERIAL = `${TOKEN_SELECT} FROM tokens t LEFT JOIN assignments a ON a.serial = t.serial WHERE t.serial_key = ?`;
export const BY_ACTIVE_USER = `${TOKEN_SELECT} FROM assignments a JOIN tokens t ON t.serial = a.serial WHERE a.user_id = ? AND a.active = 1`;

/**
 * The tokens table's key (sqlite-schema.ts, migration 4): a serial's ten digits as a number. A
 * string that is not ten digits (no serial is) gets -1, which no row has.
 */
const TEN_DIGITS = /^[0-9]{10}$/;
export const serialKey = (serial: string): number => (TEN_DIGITS.test(serial) ? Number(serial) : -1);

/** A TokenDrift as the named parameters of the statements that write it. */
export const driftParams = (d: TokenDrift) => ({ drift: d.steps, driftMs: d.offsetMs, driftPpm: d.ratePpm, driftPpmVar: d.rateVar });

const hexBytes = (hex: string): Uint8Array => {
  const b = Buffer.from(hex, 'hex');
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
};

/** When the row's assignment ended, as the Snapshot's tokenEnded. */
export function endedOf(r: TokenRow): { at: number; replacedBy: string | null } | null {
  const at = col(r, 'endedAt');
  return at === null ? null : { at, replacedBy: col(r, 'replacedBy') };
}

export function toRecord(r: TokenRow): TokenRecord {
  const pendingMovingFactor = col(r, 'pendingMovingFactor');
  return {
    serial: col(r, 'serial'),
    profile: col(r, 'profile') as ProfileName,
    digits: col(r, 'digits'),
    step: col(r, 'step'),
    t0: col(r, 't0'),
    seed: { ciphertext: hexBytes(col(r, 'seedCiphertextHex')), nonce: hexBytes(col(r, 'seedNonceHex')), keyVersion: col(r, 'keyVersion') },
    status: col(r, 'status'),
    lastMovingFactor: readMovingFactor(col(r, 'lastMovingFactor')),
    drift: { steps: col(r, 'drift'), offsetMs: col(r, 'driftMs'), ratePpm: col(r, 'driftPpm'), rateVar: col(r, 'driftPpmVar') },
    failures: col(r, 'failures'),
    blockedUntil: col(r, 'blockedUntil'),
    pendingResync:
      pendingMovingFactor === null ? null : { movingFactor: readMovingFactor(pendingMovingFactor), at: col(r, 'pendingAt') ?? 0 },
    userId: col(r, 'userId'),
    importedAt: col(r, 'importedAt'),
    lastUsedAt: col(r, 'lastUsedAt'),
  };
}
