/**
 * The TokenStore on PostgreSQL through `pg` (a Pool, default 10 connections), for running several
 * server instances over one database. Same contract and same results as the SQLite store
 * (sqlite.ts); only the way each rule is made atomic differs.
 *
 * Durability: a write resolves only after PostgreSQL's COMMIT returned, and with
 * synchronous_commit on (PostgreSQL's default) COMMIT returns only once the WAL record is flushed
 * to disk, so an accepted code stays accepted through a crash. With synchronous_commit = off the
 * last commits before a crash can be lost — a code answered `accept` could then be accepted a
 * second time — so opening the store refuses a connection where it is off.
 *
 * Concurrency, at READ COMMITTED (the default isolation, no serialization retries needed):
 * - accepting a moving factor is one `UPDATE … WHERE serial = $1 AND last_moving_factor < $2`:
 *   a concurrent UPDATE of the same row waits for the first to commit and then re-checks the
 *   condition on the row's new version, so of N requests carrying the same code exactly one
 *   changes the row (the compare-and-set), whichever instance they reached;
 * - a plain accept (no binding, no failure) is that UPDATE and its audit INSERT in one statement
 *   (a data-modifying CTE): one round trip and one commit;
 * - a failure is `failures = failures + 1 … RETURNING failures` inside a transaction: the row
 *   stays locked until COMMIT, so the block or lock decided from the returned count is written
 *   before any other attempt on the token can count;
 * - binding a token to a user first upserts the user's row, which locks it: two activations for
 *   one user serialise there, and the second deactivates what the first committed (the partial
 *   unique index one_active_token_per_user would refuse anything else).
 *
 * Throughput: every statement is a named prepared statement (parsed and planned once per
 * connection), and audit events of one write go in one INSERT … SELECT FROM unnest(arrays).
 *
 * bigint columns come back as JS numbers (pg returns strings by default): they hold unix ms and
 * moving factors, which the service keeps below 2^53.
 */
import pg from 'pg';
import { KodeviserError, type ProfileName } from '@kodeviser/shared';
import { DuplicateSerialError, ServiceError } from '../domain/errors.js';
import type { AuditQuery, RejectReason, TokenStatus } from '../domain/types.js';
import { migratePostgres } from './postgres-schema.js';
import { isReplaced, userChanged } from './binding.js';
import { commonAccept } from './common-accept.js';
import { MAX_AUDIT_LIMIT, STATUS_EVENT, toEvent, type AuditRow } from './audit-rows.js';
import type { Decision, Snapshot, Write } from '../domain/decide.js';
import type {
  AttemptCommand,
  AttemptResult,
  AttemptKey,
  AuditEntry,
  Binding,
  NewTokenRecord,
  Origin,
  PendingResync,
  StatusChange,
  TokenDrift,
  TokenRecord,
  TokenStore,
  UserRecord,
} from './types.js';

export interface PostgresStoreOptions {
  /** Connections at most (default 10). */
  poolSize?: number;
  /** How long a request waits for a free connection (or a new one) before it fails, ms (default 10 000). */
  connectionTimeoutMs?: number;
}

interface TokenRow {
  serial: string;
  profile: string;
  digits: number;
  step: number;
  t0: number;
  seed_ciphertext: Buffer;
  seed_nonce: Buffer;
  key_version: number;
  status: TokenStatus;
  last_moving_factor: number;
  drift: number;
  drift_ms: number;
  drift_ppm: number;
  drift_ppm_var: number | null;
  failures: number;
  blocked_until: number | null;
  pending_moving_factor: number | null;
  pending_at: number | null;
  imported_at: number;
  last_used_at: number | null;
  user_id: string | null;
}

const INT8_OID = 20;
const UNIQUE_VIOLATION = '23505';

const bytes = (b: Buffer): Uint8Array => new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
const buffer = (u: Uint8Array): Buffer => Buffer.from(u.buffer, u.byteOffset, u.byteLength);

function toRecord(r: TokenRow): TokenRecord {
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
const stmt =
  (name: string, text: string) =>
  (...values: unknown[]): pg.QueryConfig => ({ name: `kodeviser_${name}`, text, values });

const TOKEN_COLUMNS = `t.serial, t.profile, t.digits, t.step, t.t0, t.seed_ciphertext, t.seed_nonce, t.key_version,
  t.status, t.last_moving_factor, t.drift, t.drift_ms, t.drift_ppm, t.drift_ppm_var, t.failures, t.blocked_until,
  t.pending_moving_factor, t.pending_at, t.imported_at, t.last_used_at, a.user_id`;
const AUDIT_COLUMNS = 'at, type, serial, user_id, ip, actor, reason, moving_factor';

const sql = {
  insertTokens: stmt(
    'insert_tokens',
    `INSERT INTO tokens (serial, profile, digits, step, t0, seed_ciphertext, seed_nonce,
    key_version, last_moving_factor, drift, drift_ms, drift_ppm, drift_ppm_var, imported_at)
    SELECT *, $14::bigint FROM unnest($1::text[], $2::text[], $3::integer[], $4::integer[], $5::bigint[], $6::bytea[],
      $7::bytea[], $8::integer[], $9::bigint[], $10::bigint[], $11::bigint[], $12::float8[], $13::float8[])`,
  ),
  existingSerials: stmt('existing_serials', 'SELECT serial FROM tokens WHERE serial = ANY($1::text[])'),
  tokenBySerial: stmt(
    'token_by_serial',
    `SELECT ${TOKEN_COLUMNS} FROM tokens t
    LEFT JOIN assignments a ON a.serial = t.serial AND a.active WHERE t.serial = $1`,
  ),
  tokenOfUser: stmt(
    'token_of_user',
    `SELECT ${TOKEN_COLUMNS} FROM assignments a
    JOIN tokens t ON t.serial = a.serial WHERE a.user_id = $1 AND a.active`,
  ),
  // The row an attempt decides on, locked until its transaction ends: concurrent attempts on one
  // token are decided one after the other, each on what the one before wrote.
  tokenForUpdate: stmt(
    'token_for_update',
    `SELECT ${TOKEN_COLUMNS} FROM tokens t
    LEFT JOIN assignments a ON a.serial = t.serial AND a.active WHERE t.serial = $1 FOR UPDATE OF t`,
  ),
  tokenOfUserForUpdate: stmt(
    'token_of_user_for_update',
    `SELECT ${TOKEN_COLUMNS} FROM assignments a
    JOIN tokens t ON t.serial = a.serial WHERE a.user_id = $1 AND a.active FOR UPDATE OF t`,
  ),
  user: stmt('user', 'SELECT user_id, password_hash FROM users WHERE user_id = $1'),
  status: stmt('status', 'SELECT status FROM tokens WHERE serial = $1'),
  // The compare-and-set and its audit event in one statement: the common accept, one round trip.
  // $1 serial, $2 moving factor, $3 drift, $4 at, $5 user, $6 ip, $7 actor, $8 note, $9 drift_ms, $10 drift_ppm,
  // $11 drift_ppm_var.
  acceptAlone: stmt(
    'accept_alone',
    `WITH consumed AS (
      UPDATE tokens SET last_moving_factor = $2, drift = $3, drift_ms = $9, drift_ppm = $10, drift_ppm_var = $11,
        last_used_at = $4, pending_moving_factor = NULL, pending_at = NULL, failures = 0, blocked_until = NULL
      WHERE serial = $1 AND status = 'enabled' AND last_moving_factor < $2 RETURNING serial)
    INSERT INTO audit (${AUDIT_COLUMNS}) SELECT $4, 'accept', serial, $5, $6, $7, $8, $2 FROM consumed`,
  ),
  // The compare-and-set inside a transaction (with a binding, or a wrong second factor).
  // $1 serial, $2 moving factor, $3 drift, $4 at, $5 success, $6 drift_ms, $7 drift_ppm, $8 drift_ppm_var.
  consume: stmt(
    'consume',
    `UPDATE tokens SET last_moving_factor = $2, drift = $3, drift_ms = $6, drift_ppm = $7,
      drift_ppm_var = $8, last_used_at = $4,
      pending_moving_factor = NULL, pending_at = NULL,
      failures = CASE WHEN $5 THEN 0 ELSE failures END,
      blocked_until = CASE WHEN $5 THEN NULL ELSE blocked_until END
    WHERE serial = $1 AND status = 'enabled' AND last_moving_factor < $2`,
  ),
  countFailure: stmt(
    'count_failure',
    `UPDATE tokens SET failures = failures + 1, pending_moving_factor = NULL, pending_at = NULL
    WHERE serial = $1 AND status = 'enabled' RETURNING failures`,
  ),
  setFailures: stmt('set_failures', 'UPDATE tokens SET failures = $2, pending_moving_factor = NULL, pending_at = NULL WHERE serial = $1'),
  setPending: stmt('set_pending', 'UPDATE tokens SET pending_moving_factor = $2, pending_at = $3 WHERE serial = $1'),
  block: stmt('block', 'UPDATE tokens SET blocked_until = GREATEST(COALESCE(blocked_until, 0), $2) WHERE serial = $1'),
  lock: stmt('lock', `UPDATE tokens SET status = 'locked' WHERE serial = $1`),
  // $1 serial, $2 moving factor, $3 pending at, $4 at, $5 user, $6 ip, $7 actor.
  startResync: stmt(
    'start_resync',
    `WITH started AS (
      UPDATE tokens SET pending_moving_factor = $2, pending_at = $3
      WHERE serial = $1 AND status = 'enabled' AND last_moving_factor < $2 RETURNING serial)
    INSERT INTO audit (${AUDIT_COLUMNS}) SELECT $4, 'resync-started', serial, $5, $6, $7, NULL, $2 FROM started`,
  ),
  // $1 serial, $2 moving factor, $3 drift, $4 at, $5 user, $6 ip, $7 actor, $8 reason, $9 drift_ms, $10 drift_ppm,
  // $11 drift_ppm_var.
  resync: stmt(
    'resync',
    `WITH resynced AS (
      UPDATE tokens SET last_moving_factor = $2, drift = $3, drift_ms = $9, drift_ppm = $10, drift_ppm_var = $11,
        last_used_at = $4,
        failures = 0, blocked_until = NULL, pending_moving_factor = NULL, pending_at = NULL
      WHERE serial = $1 AND status <> 'revoked' AND last_moving_factor < $2 RETURNING serial)
    INSERT INTO audit (${AUDIT_COLUMNS}) SELECT $4, 'resync', serial, $5, $6, $7, $8, $2 FROM resynced`,
  ),
  changeStatus: stmt(
    'change_status',
    `UPDATE tokens SET status = $2,
      failures = CASE WHEN $2 = 'enabled' THEN 0 ELSE failures END,
      blocked_until = CASE WHEN $2 = 'enabled' THEN NULL ELSE blocked_until END
    WHERE serial = $1 AND status = ANY($3::text[])`,
  ),
  endAssignment: stmt(
    'end_assignment',
    `UPDATE assignments SET active = false, deactivated_at = $2
    WHERE serial = $1 AND active RETURNING user_id`,
  ),
  createUser: stmt(
    'create_user',
    `INSERT INTO users (user_id, password_hash, updated_at) VALUES ($1, $2, $3)
    ON CONFLICT (user_id) DO NOTHING`,
  ),
  setPassword: stmt('set_password', 'UPDATE users SET password_hash = $2, updated_at = $3 WHERE user_id = $1'),
  deactivateOthers: stmt(
    'deactivate_others',
    `UPDATE assignments SET active = false, deactivated_at = $3
    WHERE user_id = $1 AND active AND serial <> $2 RETURNING serial`,
  ),
  assign: stmt(
    'assign',
    `INSERT INTO assignments (serial, user_id, active, activated_at) VALUES ($1, $2, true, $3)
    ON CONFLICT (serial) DO UPDATE SET active = true, activated_at = excluded.activated_at, deactivated_at = NULL
    WHERE assignments.user_id = excluded.user_id`,
  ),
  audit: stmt(
    'audit',
    `INSERT INTO audit (${AUDIT_COLUMNS}) SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[],
    $4::text[], $5::text[], $6::text[], $7::text[], $8::bigint[])`,
  ),
  ping: stmt('ping', 'SELECT 1 AS one'),
};

/** One statement per combination of filters, so each uses its index (OR-NULL tricks would not). */
function auditQuery(q: AuditQuery, limit: number): pg.QueryConfig {
  const where: string[] = [];
  const values: unknown[] = [];
  const filter = (column: string, op: string, value: unknown, key: string): string => {
    values.push(value);
    where.push(`${column} ${op} $${values.length}`);
    return key;
  };
  const name = [
    q.serial !== undefined ? filter('serial', '=', q.serial, 's') : '',
    q.userId !== undefined ? filter('user_id', '=', q.userId, 'u') : '',
    q.since !== undefined ? filter('at', '>=', q.since, 't') : '',
  ].join('');
  values.push(limit);
  return stmt(
    `audit_query_${name}`,
    `SELECT id, ${AUDIT_COLUMNS} FROM audit ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
    ORDER BY id DESC LIMIT $${values.length}`,
  )(...values);
}

/** The audit events of one write, as the eight column arrays of sql.audit. */
function auditArrays(entries: readonly AuditEntry[]): unknown[][] {
  const columns: unknown[][] = [[], [], [], [], [], [], [], []];
  for (const e of entries) {
    const row = [e.at, e.type, e.serial ?? null, e.userId ?? null, e.ip ?? null, e.actor ?? null, e.reason ?? null, e.movingFactor ?? null];
    row.forEach((v, i) => (columns[i] as unknown[]).push(v));
  }
  return columns;
}

const from = (o: Origin) => ({ at: o.at, ip: o.ip, userId: o.userId ?? null, actor: o.actor ?? null });

/**
 * Opens a pool on `connectionString` (postgres://user@host:port/db?options=-c%20search_path%3D…),
 * checks that commits are durable and brings the schema up to date. Rejects when PostgreSQL
 * cannot be reached, or refuses.
 */
export async function openPostgresStore(connectionString: string, opts: PostgresStoreOptions = {}): Promise<TokenStore> {
  const pool = new pg.Pool({
    connectionString,
    max: opts.poolSize ?? 10,
    connectionTimeoutMillis: opts.connectionTimeoutMs ?? 10_000,
    types: {
      getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
        oid === INT8_OID ? Number : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
    },
  });
  // A pooled connection that drops while idle (a database restart) is reported here; without a
  // listener the process would exit. The pool replaces it, and the next query that needs the
  // database fails or succeeds on its own.
  pool.on('error', () => undefined);
  try {
    const client = await pool.connect();
    try {
      const { rows } = await client.query<{ synchronous_commit: string }>('SHOW synchronous_commit');
      if (rows[0]?.synchronous_commit === 'off') {
        throw new KodeviserError(
          'ERR_ARGUMENT',
          'DATABASE_URL: synchronous_commit is off for this connection, so a crash could undo accepted codes; set it on (ALTER DATABASE … SET synchronous_commit = on)',
        );
      }
      await migratePostgres(client);
    } finally {
      client.release();
    }
  } catch (e) {
    await pool.end();
    throw e;
  }

  let closed = false;
  const inFlight = new Set<Promise<unknown>>();
  /** Every method goes through here: refused once closed, and tracked so close() can wait for it. */
  const run = <T>(op: () => Promise<T>): Promise<T> => {
    if (closed) return Promise.reject(new ServiceError('ERR_STORE_CLOSED', 'the token store is closed'));
    const p = op();
    inFlight.add(p);
    const forget = () => inFlight.delete(p);
    p.then(forget, forget);
    return p;
  };

  /**
   * BEGIN … COMMIT on one pooled connection, the audit events `work` collected inserted last,
   * in one statement. Resolves after COMMIT returned, i.e. durably; rolls back on any throw.
   */
  const transaction = <T>(work: (client: pg.PoolClient, audit: AuditEntry[]) => Promise<T>): Promise<T> =>
    run(async () => {
      const client = await pool.connect();
      let broken: Error | undefined;
      try {
        await client.query('BEGIN');
        const events: AuditEntry[] = [];
        const result = await work(client, events);
        if (events.length > 0) await client.query(sql.audit(...auditArrays(events)));
        await client.query('COMMIT');
        return result;
      } catch (e) {
        // If the connection itself failed, ROLLBACK fails too: then the connection is discarded.
        await client.query('ROLLBACK').catch((rollbackError: Error) => (broken = rollbackError));
        throw e;
      } finally {
        client.release(broken);
      }
    });

  async function failAttempt(
    client: pg.PoolClient,
    audit: AuditEntry[],
    cmd: AttemptCommand,
    reason: RejectReason,
    movingFactor: number | null,
  ): Promise<AttemptResult> {
    const { serial, origin } = cmd;
    const o = from(origin);
    const counted = await client.query<{ failures: number }>(sql.countFailure(serial));
    const failures = counted.rows[0]?.failures;
    if (failures === undefined) {
      // Locked or revoked meanwhile: refused, but not a failure of the code.
      const status = (await client.query<{ status: TokenStatus }>(sql.status(serial))).rows[0]?.status;
      const why: RejectReason = status === undefined ? 'unknown-token' : status === 'locked' ? 'locked' : 'revoked';
      audit.push({ ...o, type: 'reject', serial, reason: why, movingFactor });
      return { outcome: 'failed', reason: why, failures: 0, blockedUntil: null, locked: status === 'locked' };
    }
    audit.push({ ...o, type: 'reject', serial, reason, movingFactor });
    const consequence = cmd.onFailure(failures);
    let blockedUntil: number | null = null;
    if (consequence.lock) {
      await client.query(sql.lock(serial));
      audit.push({ ...o, type: 'lock', serial, reason: `${failures} consecutive failures` });
    } else if (consequence.blockForMs > 0) {
      blockedUntil = origin.at + consequence.blockForMs;
      await client.query(sql.block(serial, blockedUntil));
      audit.push({ ...o, type: 'block', serial, reason: `${failures} consecutive failures: ${consequence.blockForMs / 1000} s` });
    }
    return { outcome: 'failed', reason, failures, blockedUntil, locked: consequence.lock };
  }

  async function bind(
    client: pg.PoolClient,
    audit: AuditEntry[],
    serial: string,
    { userId, passwordHash, replaces }: Binding,
    origin: Origin,
  ): Promise<void> {
    const o = { ...from(origin), userId };
    // First, as it locks the user's row: concurrent bindings for this user wait here.
    const user = await client.query((replaces === null ? sql.createUser : sql.setPassword)(userId, passwordHash, origin.at));
    if (user.rowCount !== 1) throw userChanged(userId);
    const others = (await client.query<{ serial: string }>(sql.deactivateOthers(userId, serial, origin.at))).rows.map((r) => r.serial);
    if (!isReplaced(others, serial, replaces)) throw userChanged(userId);
    for (const other of others) audit.push({ ...o, type: 'deactivate', serial: other, reason: `replaced by ${serial}` });
    if ((await client.query(sql.assign(serial, userId, origin.at))).rowCount === 0) {
      throw new ServiceError('ERR_ASSIGNED_ELSEWHERE', `token ${serial} is bound to another user`, serial);
    }
    audit.push({ ...o, type: 'activate', serial });
  }

  /** One write of a decision, as SQL; audit rows go with the transaction's others at its end. */
  async function apply(client: pg.PoolClient, audit: AuditEntry[], w: Write): Promise<void> {
    switch (w.kind) {
      case 'consume': {
        const d = w.drift;
        await client.query(sql.consume(w.serial, w.movingFactor, d.steps, w.at, w.success, d.offsetMs, d.ratePpm, d.rateVar));
        return;
      }
      case 'failures':
        await client.query(sql.setFailures(w.serial, w.failures));
        return;
      case 'block':
        await client.query(sql.block(w.serial, w.until));
        return;
      case 'lock':
        await client.query(sql.lock(w.serial));
        return;
      case 'start-resync':
        await client.query(sql.setPending(w.serial, w.pending.movingFactor, w.pending.at));
        return;
      case 'audit':
        audit.push(w.entry);
        return;
    }
  }

  const acceptEvent = (cmd: AttemptCommand): AuditEntry => ({
    ...from(cmd.origin),
    ...(cmd.bind ? { userId: cmd.bind.userId } : {}),
    type: 'accept',
    serial: cmd.serial,
    movingFactor: cmd.consume?.movingFactor ?? null,
    reason: cmd.acceptNote ?? null,
  });

  /** The general attempt: the same steps, in the same order, as the SQLite store's. */
  const attemptInTransaction = (cmd: AttemptCommand): Promise<AttemptResult> =>
    transaction(async (client, audit) => {
      const { serial, origin, consume } = cmd;
      let consumed = false;
      if (consume) {
        const d = consume.drift;
        const consuming = sql.consume(serial, consume.movingFactor, d.steps, origin.at, cmd.success, d.offsetMs, d.ratePpm, d.rateVar);
        consumed = (await client.query(consuming)).rowCount === 1;
        if (!consumed) return failAttempt(client, audit, cmd, 'replay', consume.movingFactor);
      }
      if (!(consumed && cmd.success)) return failAttempt(client, audit, cmd, cmd.reason, consume?.movingFactor ?? null);
      if (cmd.bind) await bind(client, audit, serial, cmd.bind, origin);
      audit.push(acceptEvent(cmd));
      return { outcome: 'accepted' };
    });

  return {
    insertTokens(tokens: readonly NewTokenRecord[], origin: Origin): Promise<void> {
      const serials = tokens.map((t) => t.serial);
      return transaction(async (client, audit) => {
        await client.query(
          sql.insertTokens(
            serials,
            tokens.map((t) => t.profile),
            tokens.map((t) => t.digits),
            tokens.map((t) => t.step),
            tokens.map((t) => t.t0),
            tokens.map((t) => buffer(t.seed.ciphertext)),
            tokens.map((t) => buffer(t.seed.nonce)),
            tokens.map((t) => t.seed.keyVersion),
            tokens.map((t) => t.lastMovingFactor),
            tokens.map((t) => t.drift.steps),
            tokens.map((t) => t.drift.offsetMs),
            tokens.map((t) => t.drift.ratePpm),
            tokens.map((t) => t.drift.rateVar),
            origin.at,
          ),
        );
        for (const serial of serials) audit.push({ ...from(origin), type: 'import', serial });
      }).catch(async (e: unknown) => {
        // Rolled back by now: find which serial it was, as the SQLite store names it.
        if ((e as { code?: string }).code === UNIQUE_VIOLATION) throw new DuplicateSerialError(await firstDuplicate(serials));
        throw e;
      });
    },

    getToken: (serial) =>
      run(async () => {
        const row = (await pool.query<TokenRow>(sql.tokenBySerial(serial))).rows[0];
        return row ? toRecord(row) : null;
      }),

    getActiveToken: (userId) =>
      run(async () => {
        const row = (await pool.query<TokenRow>(sql.tokenOfUser(userId))).rows[0];
        return row ? toRecord(row) : null;
      }),

    getUser: (userId) =>
      run(async (): Promise<UserRecord | null> => {
        const row = (await pool.query<{ user_id: string; password_hash: string }>(sql.user(userId))).rows[0];
        return row ? { userId: row.user_id, passwordHash: row.password_hash } : null;
      }),

    attempt<T>(key: AttemptKey, decide: (snapshot: Snapshot) => Decision<T>): Promise<T> {
      return transaction(async (client, audit) => {
        const byUser = 'userId' in key;
        const row = (await client.query<TokenRow>(byUser ? sql.tokenOfUserForUpdate(key.userId) : sql.tokenForUpdate(key.serial))).rows[0];
        const user = byUser ? (await client.query<{ user_id: string; password_hash: string }>(sql.user(key.userId))).rows[0] : undefined;
        const { result, writes } = decide({
          token: row ? toRecord(row) : null,
          user: user ? { userId: user.user_id, passwordHash: user.password_hash } : null,
        });
        // The common accept: the update and its audit row in one statement.
        const accept = commonAccept(writes);
        if (accept) {
          const { consume: c, entry: e } = accept;
          const d = c.drift;
          const written = await client.query(
            sql.acceptAlone(
              c.serial,
              c.movingFactor,
              d.steps,
              e.at,
              e.userId ?? null,
              e.ip ?? null,
              e.actor ?? null,
              e.reason ?? null,
              d.offsetMs,
              d.ratePpm,
              d.rateVar,
            ),
          );
          if (written.rowCount !== 1) throw new Error(`token ${c.serial} changed inside its own transaction: the accept was not written`);
          return result;
        }
        for (const w of writes) await apply(client, audit, w);
        return result;
      });
    },

    recordAttempt(cmd: AttemptCommand): Promise<AttemptResult> {
      const { consume } = cmd;
      if (!consume || !cmd.success || cmd.bind) return attemptInTransaction(cmd);
      return run(async (): Promise<AttemptResult | null> => {
        const e = acceptEvent(cmd);
        const d = consume.drift;
        const r = await pool.query(
          sql.acceptAlone(
            cmd.serial,
            consume.movingFactor,
            d.steps,
            e.at,
            e.userId,
            e.ip,
            e.actor,
            e.reason,
            d.offsetMs,
            d.ratePpm,
            d.rateVar,
          ),
        );
        return r.rowCount === 1 ? { outcome: 'accepted' } : null;
      }).then((accepted) => accepted ?? attemptInTransaction(cmd));
    },

    startResync: (serial: string, pending: PendingResync, origin: Origin) =>
      run(async () => {
        const o = from(origin);
        await pool.query(sql.startResync(serial, pending.movingFactor, pending.at, o.at, o.userId, o.ip, o.actor));
      }),

    resync: (serial: string, movingFactor: number, drift: TokenDrift, origin: Origin) =>
      run(async () => {
        const o = from(origin);
        const r = await pool.query(
          sql.resync(
            serial,
            movingFactor,
            drift.steps,
            o.at,
            o.userId,
            o.ip,
            o.actor,
            `drift ${drift.steps}`,
            drift.offsetMs,
            drift.ratePpm,
            drift.rateVar,
          ),
        );
        return r.rowCount === 1;
      }),

    changeStatus(change: StatusChange): Promise<boolean> {
      return transaction(async (client, audit) => {
        const { serial, to, origin } = change;
        if ((await client.query(sql.changeStatus(serial, to, change.from))).rowCount !== 1) return false;
        const formerUser =
          to === 'revoked' ? (await client.query<{ user_id: string }>(sql.endAssignment(serial, origin.at))).rows[0]?.user_id : undefined;
        audit.push({ ...from(origin), ...(formerUser ? { userId: formerUser } : {}), type: STATUS_EVENT[to], serial });
        return true;
      });
    },

    appendAudit: (entries) =>
      run(async () => {
        if (entries.length > 0) await pool.query(sql.audit(...auditArrays(entries)));
      }),

    queryAudit: (query) =>
      run(async () => {
        const limit = Math.min(Math.max(1, Math.floor(query.limit ?? 100)), MAX_AUDIT_LIMIT);
        return (await pool.query<AuditRow>(auditQuery(query, limit))).rows.map(toEvent);
      }),

    ping: () => run(async () => (await pool.query<{ one: number }>(sql.ping())).rows[0]?.one === 1),

    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      await Promise.allSettled([...inFlight]);
      await pool.end();
    },
  };

  /** The serial a refused import names: the first of the batch already stored, else the first repeated within it. */
  async function firstDuplicate(serials: readonly string[]): Promise<string> {
    const stored = new Set((await pool.query<{ serial: string }>(sql.existingSerials(serials))).rows.map((r) => r.serial));
    const seen = new Set<string>();
    const repeated = serials.find((s) => seen.size === seen.add(s).size);
    return serials.find((s) => stored.has(s)) ?? (repeated as string);
  }
}
