/**
 * The PostgreSQL store's statements, each a named prepared statement (parsed and planned once
 * per connection), and the mapping of its rows.
 */
import type pg from 'pg';
import type { MovingFactor, ProfileName } from '@kodeviser/shared';
import type { AuditQuery, TokenStatus } from '../domain/types.js';
import type { AuditEntry, TokenRecord } from './types.js';
import { CREDENTIAL_COLUMNS, ORDER_COLUMNS, PROOF_COLUMNS, USER_COLUMNS, USER_HISTORY_SQL } from './rows.js';

export interface TokenRow {
  serial: string;
  profile: string;
  digits: number;
  step: number;
  t0: number;
  seed_ciphertext: Buffer;
  seed_nonce: Buffer;
  key_version: number;
  status: TokenStatus;
  /** int8s come exactly, a bigint above 2^53 − 1 (postgres.ts parseInt8) */
  last_moving_factor: MovingFactor;
  drift: number;
  drift_ms: number;
  drift_ppm: number;
  drift_ppm_var: number | null;
  failures: number;
  blocked_until: number | null;
  pending_moving_factor: MovingFactor | null;
  pending_at: number | null;
  imported_at: number;
  last_used_at: number | null;
  /** The user of the token's active assignment. */
  user_id: string | null;
  /** The user of its assignment, active or not (a token has one at most in its life). */
  owner: string | null;
  /** When its assignment ended, and the token that replaced it. */
  ended_at: number | null;
  replaced_by: string | null;
}

const bytes = (b: Buffer): Uint8Array => new Uint8Array(b.buffer, b.byteOffset, b.byteLength);

export function toRecord(r: TokenRow): TokenRecord {
  return {
    serial: r.serial,
    profile: r.profile as ProfileName,
    digits: r.digits,
    step: r.step,
    t0: r.t0,
    seed: { ciphertext: bytes(r.seed_ciphertext), nonce: bytes(r.seed_nonce), keyVersion: r.key_version },
    status: r.status,
    lastMovingFactor: r.last_moving_factor,
    drift: { steps: r.drift, offsetMs: r.drift_ms, ratePpm: r.drift_ppm, rateVar: r.drift_ppm_var },
    failures: r.failures,
    blockedUntil: r.blocked_until,
    pendingResync: r.pending_moving_factor === null ? null : { movingFactor: r.pending_moving_factor, at: r.pending_at ?? 0 },
    userId: r.user_id,
    importedAt: r.imported_at,
    lastUsedAt: r.last_used_at,
  };
}

/** A named (prepared) statement: `pg` prepares it on each connection the first time it runs there. */
export const stmt =
  (name: string, text: string) =>
  (...values: unknown[]): pg.QueryConfig => ({ name: `kodeviser_${name}`, text, values });

const TOKEN_COLUMNS = `t.serial, t.profile, t.digits, t.step, t.t0, t.seed_ciphertext, t.seed_nonce, t.key_version,
  t.status, t.last_moving_factor, t.drift, t.drift_ms, t.drift_ppm, t.drift_ppm_var, t.failures, t.blocked_until,
  t.pending_moving_factor, t.pending_at, t.imported_at, t.last_used_at`;
// A token and its assignment, any (a.serial is unique): the active one's user, and its user ever.
const BY_SERIAL = `SELECT ${TOKEN_COLUMNS}, CASE WHEN a.active THEN a.user_id END AS user_id, a.user_id AS owner,
  a.deactivated_at AS ended_at, a.replaced_by
  FROM tokens t LEFT JOIN assignments a ON a.serial = t.serial WHERE t.serial = $1`;
const BY_ACTIVE_USER = `SELECT ${TOKEN_COLUMNS}, a.user_id, a.user_id AS owner, a.deactivated_at AS ended_at, a.replaced_by
  FROM assignments a JOIN tokens t ON t.serial = a.serial WHERE a.user_id = $1 AND a.active`;
const AUDIT_COLUMNS = 'at, type, serial, user_id, ip, actor, reason, moving_factor, repeats';
/** The advisory lock namespace of names (a user ID, an identity, a secret; pg_advisory_xact_lock's first key): "kd". */
const NAME_LOCKS = 0x6b64;

export const sql = {
  insertTokens: stmt(
    'insert_tokens',
    `INSERT INTO tokens (serial, profile, digits, step, t0, seed_ciphertext, seed_nonce,
    key_version, last_moving_factor, drift, drift_ms, drift_ppm, drift_ppm_var, imported_at)
    SELECT *, $14::bigint FROM unnest($1::text[], $2::text[], $3::integer[], $4::integer[], $5::bigint[], $6::bytea[],
      $7::bytea[], $8::integer[], $9::bigint[], $10::bigint[], $11::bigint[], $12::float8[], $13::float8[])`,
  ),
  existingSerials: stmt('existing_serials', 'SELECT serial FROM tokens WHERE serial = ANY($1::text[])'),
  tokenBySerial: stmt('token_by_serial', BY_SERIAL),
  tokenOfUser: stmt('token_of_user', BY_ACTIVE_USER),
  // The rows an attempt decides on, locked until its transaction ends.
  tokenForUpdate: stmt('token_for_update', `${BY_SERIAL} FOR UPDATE OF t`),
  lockName: stmt('lock_name', `SELECT pg_advisory_xact_lock(${NAME_LOCKS}, hashtext($1))`),
  // The key's token and the user's active one, locked in serial order (the user's lock is held
  // already, so which token is active cannot change meanwhile).
  lockTokens: stmt(
    'lock_tokens',
    `SELECT serial FROM tokens WHERE serial = $1::text
      OR serial = (SELECT serial FROM assignments WHERE user_id = $2::text AND active)
    ORDER BY serial FOR UPDATE`,
  ),
  lockCredential: stmt('lock_credential', 'SELECT id FROM credentials WHERE id = $1 FOR UPDATE'),
  lockOrder: stmt('lock_order', 'SELECT id FROM orders WHERE id = $1 FOR UPDATE'),
  order: stmt('order', `SELECT ${ORDER_COLUMNS} FROM orders WHERE id = $1`),
  orderBySerial: stmt('order_by_serial', `SELECT ${ORDER_COLUMNS} FROM orders WHERE serial = $1`),
  orderByTracking: stmt('order_by_tracking', `SELECT ${ORDER_COLUMNS} FROM orders WHERE tracking_hash = $1`),
  userOrders: stmt('user_orders', "SELECT count(*)::integer AS n FROM orders WHERE user_id = $1 AND status <> 'cancelled'"),
  orders: stmt('orders', `SELECT ${ORDER_COLUMNS} FROM orders ORDER BY created_at DESC, id DESC LIMIT $1`),
  ordersByStatus: stmt(
    'orders_by_status',
    `SELECT ${ORDER_COLUMNS} FROM orders WHERE status = $1 ORDER BY created_at DESC, id DESC LIMIT $2`,
  ),
  createOrder: stmt(
    'create_order',
    `INSERT INTO orders (${ORDER_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
  ),
  // A step, only from the status the decision saw: $1 id, $2 from, $3 to, $4 at, $5 payment reference, $6 serial.
  updateOrder: stmt(
    'update_order',
    `UPDATE orders SET status = $3, updated_at = $4, payment_reference = COALESCE($5, payment_reference),
      serial = COALESCE($6, serial) WHERE id = $1 AND status = $2`,
  ),
  credentialById: stmt('credential_by_id', `SELECT ${CREDENTIAL_COLUMNS} FROM credentials WHERE id = $1`),
  credentialByHash: stmt('credential_by_hash', `SELECT ${CREDENTIAL_COLUMNS} FROM credentials WHERE token_hash = $1`),
  credentials: stmt('credentials', `SELECT ${CREDENTIAL_COLUMNS} FROM credentials ORDER BY created_at, id`),
  createCredential: stmt(
    'create_credential',
    `INSERT INTO credentials (${CREDENTIAL_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
  ),
  createProof: stmt('create_proof', `INSERT INTO proofs (${PROOF_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)`),
  linkIdentity: stmt('link_identity', 'UPDATE users SET identity_hash = $2 WHERE user_id = $1 AND identity_hash IS NULL'),
  createSecret: stmt('create_secret', 'INSERT INTO secrets (name, ciphertext, nonce, key_version) VALUES ($1, $2, $3, $4)'),
  revokeCredential: stmt('revoke_credential', 'UPDATE credentials SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL'),
  user: stmt('user', `SELECT ${USER_COLUMNS} FROM users WHERE user_id = $1`),
  userByIdentity: stmt('user_by_identity', `SELECT ${USER_COLUMNS} FROM users WHERE identity_hash = $1`),
  secret: stmt('secret', 'SELECT ciphertext, nonce, key_version FROM secrets WHERE name = $1'),
  userHistory: stmt('user_history', USER_HISTORY_SQL('$1')),
  proof: stmt('proof', `SELECT ${PROOF_COLUMNS} FROM proofs WHERE id_hash = $1`),
  guesses: stmt('guesses', 'UPDATE users SET guess_window_start = $2, guess_count = $3 WHERE user_id = $1'),
  useProof: stmt('use_proof', 'UPDATE proofs SET used_at = $1 WHERE id_hash = $2 AND used_at IS NULL'),
  // The compare-and-set and its audit event in one statement: the common accept, one round trip.
  // $1 serial, $2 moving factor, $3 drift, $4 at, $5 user, $6 ip, $7 actor, $8 note, $9 drift_ms, $10 drift_ppm,
  // $11 drift_ppm_var, $12 lane (the trigger audit_chain makes the row's hash).
  acceptAlone: stmt(
    'accept_alone',
    `WITH consumed AS (
      UPDATE tokens SET last_moving_factor = $2, drift = $3, drift_ms = $9, drift_ppm = $10, drift_ppm_var = $11,
        last_used_at = $4, pending_moving_factor = NULL, pending_at = NULL, failures = 0, blocked_until = NULL
      WHERE serial = $1 AND last_moving_factor < $2 RETURNING serial)
    INSERT INTO audit (${AUDIT_COLUMNS}, lane)
      SELECT $4, 'accept', serial, COALESCE((SELECT pseudonym FROM users WHERE user_id = $5), $5), $6, $7, $8, $2, 1, $12
      FROM consumed`,
  ),
  // $1 serial, $2 moving factor, $3 drift, $4 at, $5 success, $6 drift_ms, $7 drift_ppm, $8 drift_ppm_var.
  consume: stmt(
    'consume',
    `UPDATE tokens SET last_moving_factor = $2, drift = $3, drift_ms = $6, drift_ppm = $7,
      drift_ppm_var = $8, last_used_at = $4,
      pending_moving_factor = NULL, pending_at = NULL,
      failures = CASE WHEN $5 THEN 0 ELSE failures END,
      blocked_until = CASE WHEN $5 THEN NULL ELSE blocked_until END
    WHERE serial = $1 AND last_moving_factor < $2`,
  ),
  failures: stmt('failures', 'UPDATE tokens SET failures = $2, pending_moving_factor = NULL, pending_at = NULL WHERE serial = $1'),
  block: stmt('block', 'UPDATE tokens SET blocked_until = $2 WHERE serial = $1'),
  status: stmt('status', 'UPDATE tokens SET status = $2 WHERE serial = $1'),
  startResync: stmt('start_resync', 'UPDATE tokens SET pending_moving_factor = $2, pending_at = $3 WHERE serial = $1'),
  createUser: stmt(
    'create_user',
    'INSERT INTO users (user_id, password_hash, identity_hash, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)',
  ),
  setPassword: stmt('set_password', 'UPDATE users SET password_hash = $2, updated_at = $3 WHERE user_id = $1'),
  // A token's assignment is made once; the same user's may be made active again.
  assign: stmt(
    'assign',
    `INSERT INTO assignments (serial, user_id, active, activated_at) VALUES ($1, $2, true, $3)
    ON CONFLICT (serial) DO UPDATE SET active = true, activated_at = excluded.activated_at, deactivated_at = NULL, replaced_by = NULL
    WHERE assignments.user_id = excluded.user_id`,
  ),
  deactivate: stmt(
    'deactivate',
    'UPDATE assignments SET active = false, deactivated_at = $2, replaced_by = $3 WHERE serial = $1 AND active',
  ),
  audit: stmt(
    'audit',
    // A user is written as its pseudonym; a user ID no user has, as it was given; in the order given.
    `INSERT INTO audit (${AUDIT_COLUMNS}, lane)
      SELECT x.at, x.type, x.serial, COALESCE(u.pseudonym, x.user_id), x.ip, x.actor, x.reason, x.moving_factor, x.repeats, $10
      FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::bigint[], $9::integer[])
        WITH ORDINALITY AS x(at, type, serial, user_id, ip, actor, reason, moving_factor, repeats, n)
      LEFT JOIN users u ON u.user_id = x.user_id
      ORDER BY x.n`,
  ),
  ping: stmt('ping', 'SELECT 1 AS one'),
  claimLane: stmt('claim_lane', 'INSERT INTO audit_lanes (opened_at) VALUES ($1) RETURNING id'),
  chainRows: stmt(
    'chain_rows',
    `SELECT id, at, type, serial, user_id, ip, actor, reason, moving_factor, repeats, lane, hash
    FROM audit WHERE id > $1 AND id <= $2 ORDER BY id LIMIT $3`,
  ),
  newestAuditId: stmt('newest_audit_id', 'SELECT COALESCE(MAX(id), 0) AS id FROM audit'),
  lastAuditIdAt: stmt('last_audit_id_at', 'SELECT COALESCE(MAX(id), 0) AS id FROM audit WHERE at < $1'),
  checkpoints: stmt(
    'checkpoints',
    'SELECT id, at, up_to_id AS "upToId", pruned_to_id AS "prunedToId", jws FROM audit_checkpoints ORDER BY id',
  ),
  addCheckpoint: stmt('add_checkpoint', 'INSERT INTO audit_checkpoints (at, up_to_id, pruned_to_id, jws) VALUES ($1, $2, $3, $4)'),
  prunedTo: stmt('pruned_to', 'SELECT COALESCE(MAX(pruned_to_id), 0) AS id FROM audit_checkpoints'),
  deleteAudit: stmt('delete_audit', 'DELETE FROM audit WHERE id > $1 AND id <= $2'),
  pseudonymOf: stmt('pseudonym_of', 'SELECT pseudonym FROM users WHERE user_id = $1'),
  usersOfPseudonyms: stmt('users_of_pseudonyms', 'SELECT pseudonym, user_id FROM users WHERE pseudonym = ANY($1::text[])'),
  // Erasure (domain/decide.ts 'erase-user'): every device the user ever had revoked, its rows deleted.
  eraseDevices: stmt(
    'erase_devices',
    `UPDATE tokens SET status = 'revoked' WHERE serial IN (SELECT serial FROM assignments WHERE user_id = $1)`,
  ),
  // The user's orders deleted, and the devices they sent revoked: one statement, so that an order
  // fulfilled meanwhile (its row locked) is deleted with the serial it was sent with.
  eraseOrders: stmt(
    'erase_orders',
    `WITH gone AS (DELETE FROM orders WHERE user_id = $1 RETURNING serial)
    UPDATE tokens SET status = 'revoked' WHERE serial IN (SELECT serial FROM gone WHERE serial IS NOT NULL)`,
  ),
  eraseProofs: stmt('erase_proofs', 'DELETE FROM proofs WHERE user_id = $1'),
  eraseAssignments: stmt('erase_assignments', 'DELETE FROM assignments WHERE user_id = $1'),
  eraseUser: stmt('erase_user', 'DELETE FROM users WHERE user_id = $1'),
};

/**
 * One statement per combination of filters, so each uses its index (OR-NULL tricks would not). A
 * user's rows are those naming its pseudonym (`pseudonym`) or, from before it existed, its user ID.
 */
export function auditQuery(q: AuditQuery, pseudonym: string | undefined, limit: number): pg.QueryConfig {
  const where: string[] = [];
  const values: unknown[] = [];
  const filter = (column: string, op: string, value: unknown, key: string): string => {
    values.push(value);
    where.push(op === '= ANY' ? `${column} = ANY($${values.length}::text[])` : `${column} ${op} $${values.length}`);
    return key;
  };
  const name = [
    q.serial !== undefined ? filter('serial', '=', q.serial, 's') : '',
    q.userId !== undefined ? filter('user_id', '= ANY', [pseudonym ?? q.userId, q.userId], 'u') : '',
    q.since !== undefined ? filter('at', '>=', q.since, 't') : '',
  ].join('');
  values.push(limit);
  return stmt(
    `audit_query_${name}`,
    `SELECT id, ${AUDIT_COLUMNS} FROM audit ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
    ORDER BY id DESC LIMIT $${values.length}`,
  )(...values);
}

/** The audit events of one write, as the nine column arrays of sql.audit (its lane follows them). */
export function auditArrays(entries: readonly AuditEntry[]): unknown[][] {
  const columns: unknown[][] = [[], [], [], [], [], [], [], [], []];
  for (const e of entries) {
    const row = [
      e.at,
      e.type,
      e.serial ?? null,
      e.userId ?? null,
      e.ip ?? null,
      e.actor ?? null,
      e.reason ?? null,
      e.movingFactor ?? null,
      e.repeats ?? 1,
    ];
    row.forEach((v, i) => (columns[i] as unknown[]).push(v));
  }
  return columns;
}
