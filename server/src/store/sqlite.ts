/**
 * The embedded TokenStore: SQLite through better-sqlite3, one connection, every statement
 * prepared once.
 *
 * Durability: an accepted code must stay accepted through a crash or power cut right after the
 * reply (else it could be accepted a second time). The journal is a write-ahead log, and a commit
 * is durable once the log is on disk. SQLite's synchronous=FULL gets there by an fsync of the
 * log inside every COMMIT, on the calling thread, which for a Node server is the event loop:
 * ~4 ms on this disk during which no request moves (a p99 of that wait times the queue behind
 * it). So with group commit (the default) the connection runs
 * synchronous=NORMAL, under which SQLite syncs the log only around checkpoints (and the log
 * header when a new log starts), and group-commit.ts makes each batch durable itself, with an
 * fdatasync of the log file on libuv's thread pool, before any of its callers hears back: the
 * same fdatasync of the same file that FULL would issue, only off the event loop, and one for
 * every batch committed while the previous one ran. Writes go through that queue; reads are
 * batched per turn of the event loop and see what the writes before them did, of which the last
 * few milliseconds' may not be durable yet, nor even committed (while a sync runs, the next
 * batch's writes wait in the connection's open transaction) — and every validation ends in a
 * write, so its reply waits for a sync that covers whatever it read. That open transaction holds
 * SQLite's write lock for as long as the server is busy, so one server process writes a file
 * (several servers share a PostgreSQL database instead). Without group commit, every write is its
 * own synchronous=FULL transaction.
 *
 * The rules that must hold under concurrency are single statements: accepting a moving factor
 * is `UPDATE … WHERE last_moving_factor < ?` with its `changes` checked (a compare-and-set), the
 * failure count is `failures = failures + 1 … RETURNING failures`. decideAndApply (what
 * /v1/validate uses) goes further: it reads the token and writes the verdict inside the same
 * write transaction, so each request is judged on the token as the previous one left it.
 *
 * Cost per accept, the reason for the shapes here: every page a transaction dirties is written
 * to the log at commit (two pwrite calls each) and copied back at checkpoint, so an accept should
 * dirty only its token's page and the audit log's last pages. Hence the audit chain of
 * sqlite-schema.ts (migration 3) instead of indexes keyed by serial and user. And every
 * statement costs a few microseconds of the event loop's time whatever it does (binding,
 * stepping, turning the row into JS), so a validate accept is three: the token read (with its
 * chain head), the compare-and-set (which also moves the head), the audit insert.
 */
import { closeSync, fdatasync, openSync } from 'node:fs';
import Database from 'better-sqlite3';
import type { ProfileName } from '@kodeviser/shared';
import { DuplicateSerialError, ServiceError } from '../domain/errors.js';
import type { AuditQuery, RejectReason, TokenStatus } from '../domain/types.js';
import { createGroupCommit, type GroupCommit } from './group-commit.js';
import { startCheckpointer } from './sqlite-checkpointer.js';
import { migrate } from './sqlite-schema.js';
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

export interface SqliteStoreOptions {
  /**
   * Commit concurrent writes together and sync them off the event loop, one fdatasync per batch
   * (default true); false: one synchronous=FULL transaction per write, its fsync on the event loop.
   */
  groupCommit?: boolean;
  /** Writes per batch at most (default 512). */
  maxBatch?: number;
  /**
   * With group commit: checkpoint the log from a worker thread (sqlite-checkpointer.ts) every
   * this many ms, so the checkpoint SQLite runs on the event loop has little left to do
   * (default 1000; 0: SQLite's own checkpoints only).
   */
  checkpointIntervalMs?: number;
}

/**
 * A token row as the read statements return it: an array in `TOKEN_COLUMNS` order (better-sqlite3's
 * raw mode). Reading a token is on the path of every request, and an object row costs the
 * creation of one property per column each time (~20 µs a read here, a sixth of a validation's
 * store time), an array row does not.
 */
type TokenRow = [
  serial: string,
  profile: string,
  digits: number,
  step: number,
  t0: number,
  seedCiphertextHex: string,
  seedNonceHex: string,
  keyVersion: number,
  status: TokenStatus,
  lastMovingFactor: number,
  drift: number,
  driftMs: number,
  driftPpm: number,
  driftPpmVar: number | null,
  failures: number,
  blockedUntil: number | null,
  pendingMovingFactor: number | null,
  pendingAt: number | null,
  importedAt: number,
  lastUsedAt: number | null,
  userId: string | null,
];
// The seed's bytes come as hex text: better-sqlite3 makes each BLOB a Buffer with its own backing
// store, ~1.1 µs apiece measured here (two per read, the read's largest cost after the lookup),
// where hex() and Buffer.from(…, 'hex') from Node's pool cost ~0.2 µs.
const TOKEN_COLUMNS = `t.serial, t.profile, t.digits, t.step, t.t0, hex(t.seed_ciphertext), hex(t.seed_nonce), t.key_version,
  t.status, t.last_moving_factor, t.drift, t.drift_ms, t.drift_ppm, t.drift_ppm_var, t.failures, t.blocked_until,
  t.pending_moving_factor, t.pending_at, t.imported_at, t.last_used_at, a.user_id`;

/**
 * What decideAndApply reads: the token row, then what an accept needs to extend the token's audit
 * chain without reading the token again: its newest audit row and its user ever (audit()).
 */
type DecisionRow = [...TokenRow, lastAuditId: number | null, everUserId: string | null];
/** The token's audit chain as decideAndApply read it: where the accept's row goes (audit()). */
interface ChainHead {
  /** The token's key in the tokens table (serialKey), as the read used it. */
  key: number;
  lastAuditId: number | null;
  everUserId: string | null;
}

const hexBytes = (hex: string): Uint8Array => {
  const b = Buffer.from(hex, 'hex');
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
};
/**
 * The tokens table's key (sqlite-schema.ts, migration 4): a serial's ten digits as a number. A
 * string that is not ten digits (no serial is) gets -1, which no row has.
 */
const TEN_DIGITS = /^[0-9]{10}$/;
const serialKey = (serial: string): number => (TEN_DIGITS.test(serial) ? Number(serial) : -1);
/** A TokenDrift as the named parameters of the statements that write it. */
const driftParams = (d: TokenDrift) => ({ drift: d.steps, driftMs: d.offsetMs, driftPpm: d.ratePpm, driftPpmVar: d.rateVar });

function toRecord(r: TokenRow): TokenRecord {
  const [
    serial,
    profile,
    digits,
    step,
    t0,
    ciphertextHex,
    nonceHex,
    keyVersion,
    status,
    lastMovingFactor,
    drift,
    driftMs,
    driftPpm,
    driftPpmVar,
    failures,
    blockedUntil,
    pendingMovingFactor,
    pendingAt,
    importedAt,
    lastUsedAt,
    userId,
  ] = r;
  return {
    serial,
    profile: profile as ProfileName,
    digits,
    step,
    t0,
    seed: { ciphertext: hexBytes(ciphertextHex), nonce: hexBytes(nonceHex), keyVersion },
    status,
    lastMovingFactor,
    drift: { steps: drift, offsetMs: driftMs, ratePpm: driftPpm, rateVar: driftPpmVar },
    failures,
    blockedUntil,
    pendingResync: pendingMovingFactor === null ? null : { movingFactor: pendingMovingFactor, at: pendingAt ?? 0 },
    userId,
    importedAt,
    lastUsedAt,
  };
}

/**
 * How often the checkpointer worker copies the log back (sqlite-checkpointer.ts). Each of its
 * checkpoints ends in an fdatasync of the database file, a device flush behind the random page
 * writes it made, which the log's own syncs (every reply waits for one) queue behind: once a
 * second rather than five times cost fewer syncs and shorter waits, 5-10 % more validations per
 * second at 10 k and at 1 M tokens in alternated pairs, and a lower p99 (9 ms against 11 at 1 M).
 */
const DEFAULT_CHECKPOINT_INTERVAL_MS = 1000;

export function openSqliteStore(path: string, opts: SqliteStoreOptions = {}): TokenStore {
  const db = new Database(path);
  // Every accept rewrites one row of a random token and every page it dirties is written to the
  // WAL and later checkpointed back, so smaller pages mean less I/O per commit: 1 KiB pages
  // measured ~35 % more accepts/s than the 4 KiB default on 100 k tokens, and checkpointing every
  // 10 000 pages (10 MiB of WAL) rather than 1 000 another ~15 %. page_size only takes effect on a
  // new file, before it turns to WAL.
  db.pragma('page_size = 1024');
  db.pragma('journal_mode = WAL');
  db.pragma('wal_autocheckpoint = 10000');
  db.pragma('synchronous = FULL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  // A million tokens are ~150 MiB: keep the hot part of the tokens table and its index in memory
  // (the default page cache is 2 MiB) so a lookup does not go to the kernel for every page.
  db.pragma('cache_size = -65536');
  migrate(db);
  // After migrate, so the schema is committed under FULL and the log file exists (SQLite opens it
  // with the first transaction in WAL mode). A database that cannot be in WAL mode (in memory)
  // keeps FULL and SQLite's own syncs.
  const groupCommit = opts.groupCommit ?? true;
  const wal = groupCommit && db.pragma('journal_mode', { simple: true }) === 'wal' ? openSync(`${db.name}-wal`, 'r+') : null;
  db.pragma(wal === null ? 'synchronous = FULL' : 'synchronous = NORMAL');
  const checkpointIntervalMs = opts.checkpointIntervalMs ?? DEFAULT_CHECKPOINT_INTERVAL_MS;
  const checkpointer = wal !== null && checkpointIntervalMs > 0 ? startCheckpointer(db.name, { intervalMs: checkpointIntervalMs }) : null;
  // With the worker copying the log as it grows, SQLite's own checkpoint (the one that lets the
  // log start over) finds only the last interval's pages to copy, but still pays an fsync of the
  // database file (13-21 ms measured here): let the log reach 50 MiB first, so that pause comes
  // every ~15 000 accepts rather than every ~3 000.
  if (checkpointer) db.pragma('wal_autocheckpoint = 50000');

  const sql = {
    insertToken: db.prepare(`INSERT INTO tokens (serial_key, serial, profile, digits, step, t0, seed_ciphertext, seed_nonce,
      key_version, last_moving_factor, drift, drift_ms, drift_ppm, drift_ppm_var, imported_at)
      VALUES (@serialKey, @serial, @profile, @digits, @step, @t0, @ciphertext, @nonce, @keyVersion, @lastMovingFactor, @drift,
        @driftMs, @driftPpm, @driftPpmVar, @at)`),
    tokenBySerial: db
      .prepare(
        `SELECT ${TOKEN_COLUMNS} FROM tokens t
      LEFT JOIN assignments a ON a.serial = t.serial AND a.active = 1 WHERE t.serial_key = ?`,
      )
      .raw(),
    // tokenBySerial and the token's chain head (what auditHead reads) in one lookup: the user of
    // any assignment, active or not, and the active one's as TokenRow's userId.
    tokenForDecision: db
      .prepare(
        `SELECT ${TOKEN_COLUMNS.replace(/a\.user_id$/, 'CASE WHEN a.active = 1 THEN a.user_id END')},
      t.last_audit_id, a.user_id FROM tokens t LEFT JOIN assignments a ON a.serial = t.serial WHERE t.serial_key = ?`,
      )
      .raw(),
    // tokenForDecision's columns for a user's active token (its user ever is that user).
    tokenOfUserForDecision: db
      .prepare(
        `SELECT ${TOKEN_COLUMNS}, t.last_audit_id, a.user_id FROM assignments a
      JOIN tokens t ON t.serial = a.serial WHERE a.user_id = ? AND a.active = 1`,
      )
      .raw(),
    tokenOfUser: db
      .prepare(
        `SELECT ${TOKEN_COLUMNS} FROM assignments a
      JOIN tokens t ON t.serial = a.serial WHERE a.user_id = ? AND a.active = 1`,
      )
      .raw(),
    user: db.prepare('SELECT user_id, password_hash FROM users WHERE user_id = ?'),
    status: db.prepare('SELECT status FROM tokens WHERE serial_key = ?').pluck(),
    // The compare-and-set. A success also clears the failure count and block in the same statement.
    // Positional parameters: the two statements every accept runs are spared building an object
    // of named parameters for each call.
    // consume(movingFactor, drift, driftMs, driftPpm, driftPpmVar, at, success, success, serialKey, movingFactor).
    consume: db.prepare(`UPDATE tokens SET last_moving_factor = ?, drift = ?, drift_ms = ?, drift_ppm = ?, drift_ppm_var = ?,
      last_used_at = ?,
      pending_moving_factor = NULL, pending_at = NULL,
      failures = CASE WHEN ? THEN 0 ELSE failures END,
      blocked_until = CASE WHEN ? THEN NULL ELSE blocked_until END
      WHERE serial_key = ? AND status = 'enabled' AND last_moving_factor < ?`),
    // consume for a successful accept whose audit row joins the token's chain: the same
    // compare-and-set, and the chain's head moved to the id the accept's row is about to take
    // (nextAuditId), so the row needs no second update of the token.
    // consumeAndChain(movingFactor, drift, driftMs, driftPpm, driftPpmVar, at, auditId, serialKey, movingFactor).
    consumeAndChain: db.prepare(`UPDATE tokens SET last_moving_factor = ?, drift = ?, drift_ms = ?, drift_ppm = ?, drift_ppm_var = ?,
      last_used_at = ?,
      pending_moving_factor = NULL, pending_at = NULL, failures = 0, blocked_until = NULL, last_audit_id = ?
      WHERE serial_key = ? AND status = 'enabled' AND last_moving_factor < ?`),
    lastAuditId: db.prepare('SELECT COALESCE(MAX(id), 0) FROM audit').pluck(),
    countFailure: db
      .prepare(
        `UPDATE tokens SET failures = failures + 1, pending_moving_factor = NULL, pending_at = NULL
      WHERE serial_key = ? AND status = 'enabled' RETURNING failures`,
      )
      .pluck(),
    setFailures: db.prepare('UPDATE tokens SET failures = ?, pending_moving_factor = NULL, pending_at = NULL WHERE serial_key = ?'),
    block: db.prepare('UPDATE tokens SET blocked_until = MAX(COALESCE(blocked_until, 0), @until) WHERE serial_key = @serialKey'),
    lock: db.prepare(`UPDATE tokens SET status = 'locked' WHERE serial_key = ?`),
    startResync: db.prepare(`UPDATE tokens SET pending_moving_factor = @movingFactor, pending_at = @at
      WHERE serial_key = @serialKey AND status = 'enabled' AND last_moving_factor < @movingFactor`),
    resync: db.prepare(`UPDATE tokens SET last_moving_factor = @movingFactor, drift = @drift, drift_ms = @driftMs,
      drift_ppm = @driftPpm, drift_ppm_var = @driftPpmVar, last_used_at = @at,
      failures = 0, blocked_until = NULL, pending_moving_factor = NULL, pending_at = NULL
      WHERE serial_key = @serialKey AND status <> 'revoked' AND last_moving_factor < @movingFactor`),
    changeStatus: db.prepare(`UPDATE tokens SET status = @to,
      failures = CASE WHEN @to = 'enabled' THEN 0 ELSE failures END,
      blocked_until = CASE WHEN @to = 'enabled' THEN NULL ELSE blocked_until END
      WHERE serial_key = @serialKey AND status IN (SELECT value FROM json_each(@from))`),
    endAssignment: db
      .prepare(
        `UPDATE assignments SET active = 0, deactivated_at = @at
      WHERE serial = @serial AND active = 1 RETURNING user_id`,
      )
      .pluck(),
    createUser: db.prepare(`INSERT INTO users (user_id, password_hash, updated_at) VALUES (@userId, @passwordHash, @at)
      ON CONFLICT (user_id) DO NOTHING`),
    setPassword: db.prepare('UPDATE users SET password_hash = @passwordHash, updated_at = @at WHERE user_id = @userId'),
    deactivateOthers: db
      .prepare(
        `UPDATE assignments SET active = 0, deactivated_at = @at
      WHERE user_id = @userId AND active = 1 AND serial <> @serial RETURNING serial`,
      )
      .pluck(),
    assign: db.prepare(`INSERT INTO assignments (serial, user_id, active, activated_at) VALUES (@serial, @userId, 1, @at)
      ON CONFLICT (serial) DO UPDATE SET active = 1, activated_at = excluded.activated_at, deactivated_at = NULL
      WHERE assignments.user_id = excluded.user_id`),
    audit: db.prepare(`INSERT INTO audit (at, type, serial, user_id, ip, actor, reason, moving_factor, chained, prev_id)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
    chainedAudit: db.prepare(`INSERT INTO audit (id, at, type, serial, user_id, ip, actor, reason, moving_factor, chained, prev_id)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?)`),
    // The token's newest audit row and its user (ever: a token is bound to one user at most).
    auditHead: db
      .prepare(
        `SELECT t.last_audit_id, a.user_id FROM tokens t
      LEFT JOIN assignments a ON a.serial = t.serial WHERE t.serial_key = ?`,
      )
      .raw(),
    setAuditHead: db.prepare('UPDATE tokens SET last_audit_id = ? WHERE serial_key = ?'),
    auditRow: db.prepare('SELECT * FROM audit WHERE id = ?'),
    tokensEverOfUser: db.prepare('SELECT serial FROM assignments WHERE user_id = ?').pluck(),
    ping: db.prepare('SELECT 1').pluck(),
    // The group commit's transaction: it stays open across turns of the event loop while a sync
    // runs (group-commit.ts), so it cannot be a db.transaction() function.
    begin: db.prepare('BEGIN IMMEDIATE'),
    commit: db.prepare('COMMIT'),
    rollback: db.prepare('ROLLBACK'),
  };

  // Audit queries (see the chain in sqlite-schema.ts). Without a serial or user: the log itself,
  // newest first, one statement per filter so each uses its index.
  const auditQueries = new Map<string, Database.Statement>();
  const auditStatement = (where: string): Database.Statement => {
    let stmt = auditQueries.get(where);
    if (!stmt) {
      stmt = db.prepare(`SELECT * FROM audit ${where ? `WHERE ${where}` : ''} ORDER BY id DESC LIMIT @limit`);
      auditQueries.set(where, stmt);
    }
    return stmt;
  };
  /** A token's chain, newest first. */
  function* chainOf(serial: string): Generator<AuditRow> {
    let id = (sql.auditHead.get(serialKey(serial)) as [number | null, string | null] | undefined)?.[0] ?? null;
    while (id !== null) {
      const row = sql.auditRow.get(id) as AuditRow & { prev_id: number | null };
      yield row;
      id = row.prev_id;
    }
  }
  function queryAuditRows(q: AuditQuery, limit: number): AuditRow[] {
    const since = q.since !== undefined ? 'at >= @since' : '';
    if (q.serial === undefined && q.userId === undefined) return auditStatement(since).all({ since: q.since, limit }) as AuditRow[];
    // The sources, each newest first: the chains of the token (or of every token the user ever
    // had), and the rows outside any chain from their partial index.
    const unchained =
      q.serial !== undefined
        ? ['chained = 0', 'serial = @serial', q.userId !== undefined ? 'user_id = @userId' : '', since]
        : ['chained = 0', 'user_id = @userId', since];
    const serials = q.serial !== undefined ? [q.serial] : (sql.tokensEverOfUser.all(q.userId) as string[]);
    const keep = (r: AuditRow): boolean => (q.userId === undefined || r.user_id === q.userId) && (q.since === undefined || r.at >= q.since);
    const sources: Array<Iterator<AuditRow>> = [
      (
        auditStatement(unchained.filter(Boolean).join(' AND ')).all({
          serial: q.serial,
          userId: q.userId,
          since: q.since,
          limit,
        }) as AuditRow[]
      ).values(),
      ...serials.map((serial) => chainOf(serial)),
    ];
    // Merge by id, newest first, taking only the rows the filters keep.
    const heads: Array<AuditRow | undefined> = sources.map(() => undefined);
    const advance = (i: number): void => {
      let r = sources[i]!.next();
      while (!r.done && !keep(r.value)) r = sources[i]!.next();
      heads[i] = r.done ? undefined : r.value;
    };
    sources.forEach((_, i) => advance(i));
    const rows: AuditRow[] = [];
    while (rows.length < limit) {
      let newest = -1;
      for (let i = 0; i < heads.length; i++) if (heads[i] && (newest < 0 || heads[i]!.id > heads[newest]!.id)) newest = i;
      if (newest < 0) break;
      rows.push(heads[newest]!);
      advance(newest);
    }
    return rows;
  }

  /**
   * The newest audit id, as known inside the current write transaction (null: not read yet in
   * it). The one-step accept names its row's id before inserting it, the id SQLite would give it
   * (the largest plus one); reading MAX(id) in every accept's statement cost ~2 µs, once per
   * transaction costs nothing. Only this connection writes while it holds the write lock, and a
   * savepoint rolled back after an insert leaves the count ahead: a gap, never a duplicate.
   */
  let lastAuditId: number | null = null;
  const nextAuditId = (): number => (lastAuditId ??= sql.lastAuditId.get() as number) + 1;

  /** Appends an audit row, to its token's chain when it belongs there. */
  const audit = (e: AuditEntry): void => {
    const serial = e.serial ?? null;
    const userId = e.userId ?? null;
    const key = serial === null ? null : serialKey(serial);
    const head = key === null ? undefined : (sql.auditHead.get(key) as [number | null, string | null] | undefined);
    const chained = head !== undefined && (userId === null || userId === head[1]);
    const { lastInsertRowid } = sql.audit.run(
      e.at,
      e.type,
      serial,
      userId,
      e.ip ?? null,
      e.actor ?? null,
      e.reason ?? null,
      e.movingFactor ?? null,
      chained ? 1 : 0,
      chained ? head[0] : null,
    );
    if (chained) sql.setAuditHead.run(lastInsertRowid, key);
    lastAuditId = Number(lastInsertRowid);
  };
  const from = (o: Origin) => ({ at: o.at, ip: o.ip, userId: o.userId ?? null, actor: o.actor ?? null });

  const isolate = db.transaction((op: () => unknown) => op());
  const writes: GroupCommit = createGroupCommit({
    // IMMEDIATE takes the write lock at BEGIN, so another process cannot make our COMMIT fail as busy.
    begin: () => {
      sql.begin.run();
      lastAuditId = null;
    },
    commit: () => sql.commit.run(),
    // A failed COMMIT may have rolled the transaction back already (an I/O error does).
    rollback: () => {
      if (db.inTransaction) sql.rollback.run();
    },
    isolate: <T>(op: () => T) => isolate(op) as T,
    ...(wal !== null ? { sync: () => new Promise<void>((resolve, reject) => fdatasync(wal, (e) => (e ? reject(e) : resolve()))) } : {}),
    enabled: groupCommit,
    ...(opts.maxBatch !== undefined ? { maxBatch: opts.maxBatch } : {}),
  });

  let closed = false;
  const storeClosed = (): ServiceError => new ServiceError('ERR_STORE_CLOSED', 'the token store is closed');
  const open = (): void => {
    if (closed) throw storeClosed();
  };
  // Reads wait for the end of the event loop's current turn and then run together, in one read
  // transaction, or in a savepoint of the writes' open one (DataLoader's batching, for the same
  // reason): outside a transaction every
  // statement is a transaction of its own, and in WAL mode starting and ending one costs two
  // fcntl locks on the -shm file and a check of the wal-index, ~7 µs measured here, against
  // ~1 µs for the lookup itself. A busy server reads for many requests in one turn.
  let reads: Array<{ fn: () => unknown; resolve: (value: unknown) => void; reject: (error: unknown) => void }> = [];
  const readTogether = db.transaction((batch: typeof reads) => {
    for (const r of batch) {
      try {
        r.resolve(r.fn());
      } catch (e) {
        r.reject(e);
      }
    }
  });
  const runReads = (): void => {
    const batch = reads;
    if (batch.length === 0) return;
    reads = [];
    try {
      readTogether.deferred(batch);
    } catch (e) {
      // BEGIN or COMMIT itself failed (an I/O error): the reads not yet answered fail with it.
      for (const r of batch) r.reject(e);
    }
  };
  const read = <T>(fn: () => T): Promise<T> => {
    if (closed) return Promise.reject(storeClosed());
    return new Promise<T>((resolve, reject) => {
      if (reads.push({ fn, resolve: resolve as (value: unknown) => void, reject }) === 1) setImmediate(runReads);
    });
  };
  const write = async <T>(op: () => T): Promise<T> => {
    open();
    return writes.submit(op);
  };

  function failAttempt(cmd: AttemptCommand, reason: RejectReason, movingFactor: number | null): AttemptResult {
    const { serial, origin } = cmd;
    const o = from(origin);
    const key = serialKey(serial);
    const failures = sql.countFailure.get(key) as number | undefined;
    if (failures === undefined) {
      // Locked or revoked meanwhile: refused, but not a failure of the code.
      const status = sql.status.get(key) as TokenStatus | undefined;
      const why: RejectReason = status === undefined ? 'unknown-token' : status === 'locked' ? 'locked' : 'revoked';
      audit({ ...o, type: 'reject', serial, reason: why, movingFactor });
      return { outcome: 'failed', reason: why, failures: 0, blockedUntil: null, locked: status === 'locked' };
    }
    audit({ ...o, type: 'reject', serial, reason, movingFactor });
    const consequence = cmd.onFailure(failures);
    let blockedUntil: number | null = null;
    if (consequence.lock) {
      sql.lock.run(key);
      audit({ ...o, type: 'lock', serial, reason: `${failures} consecutive failures` });
    } else if (consequence.blockForMs > 0) {
      blockedUntil = origin.at + consequence.blockForMs;
      sql.block.run({ serialKey: key, until: blockedUntil });
      audit({ ...o, type: 'block', serial, reason: `${failures} consecutive failures: ${consequence.blockForMs / 1000} s` });
    }
    return { outcome: 'failed', reason, failures, blockedUntil, locked: consequence.lock };
  }

  function bind(serial: string, { userId, passwordHash, replaces }: Binding, origin: Origin): void {
    const o = { ...from(origin), userId };
    if ((replaces === null ? sql.createUser : sql.setPassword).run({ userId, passwordHash, at: origin.at }).changes !== 1) {
      throw userChanged(userId);
    }
    const deactivated = sql.deactivateOthers.all({ userId, serial, at: origin.at }) as string[];
    if (!isReplaced(deactivated, serial, replaces)) throw userChanged(userId);
    for (const other of deactivated) audit({ ...o, type: 'deactivate', serial: other, reason: `replaced by ${serial}` });
    if (sql.assign.run({ serial, userId, at: origin.at }).changes === 0) {
      throw new ServiceError('ERR_ASSIGNED_ELSEWHERE', `token ${serial} is bound to another user`, serial);
    }
    audit({ ...o, type: 'activate', serial });
  }

  /**
   * The common accept, whose token attempt() has just read (`head`): the compare-and-set, the
   * chain's head and the accept's audit row in two statements instead of four (audit() would
   * read the head again and update the token a second time), which at a million tokens is two
   * descents of the tokens B-tree saved. The same rows as apply() writes; false when nothing was
   * written (the decision saw the row as it is, so only a broken invariant gets there).
   */
  function acceptChained(c: Extract<Write, { kind: 'consume' }>, e: AuditEntry, head: ChainHead): boolean {
    const { drift } = c;
    const id = nextAuditId();
    if (
      sql.consumeAndChain.run(c.movingFactor, drift.steps, drift.offsetMs, drift.ratePpm, drift.rateVar, c.at, id, head.key, c.movingFactor)
        .changes === 0
    ) {
      return false;
    }
    sql.chainedAudit.run(
      id,
      e.at,
      'accept',
      c.serial,
      e.userId ?? null,
      e.ip ?? null,
      e.actor ?? null,
      e.reason ?? null,
      c.movingFactor,
      head.lastAuditId,
    );
    lastAuditId = id;
    return true;
  }

  /** One write of a decision, as SQL. */
  function apply(w: Write): void {
    switch (w.kind) {
      case 'consume': {
        const { drift } = w;
        const success = w.success ? 1 : 0;
        sql.consume.run(
          w.movingFactor,
          drift.steps,
          drift.offsetMs,
          drift.ratePpm,
          drift.rateVar,
          w.at,
          success,
          success,
          serialKey(w.serial),
          w.movingFactor,
        );
        return;
      }
      case 'failures':
        sql.setFailures.run(w.failures, serialKey(w.serial));
        return;
      case 'block':
        sql.block.run({ serialKey: serialKey(w.serial), until: w.until });
        return;
      case 'lock':
        sql.lock.run(serialKey(w.serial));
        return;
      case 'start-resync':
        sql.startResync.run({ serialKey: serialKey(w.serial), ...w.pending });
        return;
      case 'audit':
        audit(w.entry);
        return;
    }
  }

  function applyAttempt(cmd: AttemptCommand): AttemptResult {
    const { serial, origin, consume } = cmd;
    let consumed = false;
    if (consume) {
      const { movingFactor, drift } = consume;
      const success = cmd.success ? 1 : 0;
      consumed =
        sql.consume.run(
          movingFactor,
          drift.steps,
          drift.offsetMs,
          drift.ratePpm,
          drift.rateVar,
          origin.at,
          success,
          success,
          serialKey(serial),
          movingFactor,
        ).changes === 1;
      if (!consumed) return failAttempt(cmd, 'replay', consume.movingFactor);
    }
    if (!(consumed && cmd.success)) return failAttempt(cmd, cmd.reason, consume?.movingFactor ?? null);
    if (cmd.bind) bind(serial, cmd.bind, origin);
    audit({
      ...from(origin),
      ...(cmd.bind ? { userId: cmd.bind.userId } : {}),
      type: 'accept',
      serial,
      movingFactor: consume?.movingFactor ?? null,
      reason: cmd.acceptNote ?? null,
    });
    return { outcome: 'accepted' };
  }

  function applyStartResync(serial: string, pending: PendingResync, origin: Origin): void {
    if (sql.startResync.run({ serialKey: serialKey(serial), ...pending }).changes === 1) {
      audit({ ...from(origin), type: 'resync-started', serial, movingFactor: pending.movingFactor });
    }
  }

  return {
    insertTokens(tokens: readonly NewTokenRecord[], origin: Origin): Promise<void> {
      return write(() => {
        for (const t of tokens) {
          try {
            sql.insertToken.run({
              serialKey: serialKey(t.serial),
              serial: t.serial,
              profile: t.profile,
              digits: t.digits,
              step: t.step,
              t0: t.t0,
              ciphertext: t.seed.ciphertext,
              nonce: t.seed.nonce,
              keyVersion: t.seed.keyVersion,
              lastMovingFactor: t.lastMovingFactor,
              ...driftParams(t.drift),
              at: origin.at,
            });
          } catch (e) {
            throw (e as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY' ? new DuplicateSerialError(t.serial) : e;
          }
          audit({ ...from(origin), type: 'import', serial: t.serial });
        }
      });
    },

    getToken: (serial) =>
      read(() => {
        const row = sql.tokenBySerial.get(serialKey(serial)) as TokenRow | undefined;
        return row ? toRecord(row) : null;
      }),

    getActiveToken: (userId) =>
      read(() => {
        const row = sql.tokenOfUser.get(userId) as TokenRow | undefined;
        return row ? toRecord(row) : null;
      }),

    getUser: (userId) =>
      read((): UserRecord | null => {
        const row = sql.user.get(userId) as { user_id: string; password_hash: string } | undefined;
        return row ? { userId: row.user_id, passwordHash: row.password_hash } : null;
      }),

    recordAttempt: (cmd: AttemptCommand): Promise<AttemptResult> => write(() => applyAttempt(cmd)),

    startResync: (serial: string, pending: PendingResync, origin: Origin): Promise<void> =>
      write(() => applyStartResync(serial, pending, origin)),

    attempt<T>(key: AttemptKey, decide: (snapshot: Snapshot) => Decision<T>): Promise<T> {
      return write(() => {
        const byUser = 'userId' in key;
        const row = (byUser ? sql.tokenOfUserForDecision.get(key.userId) : sql.tokenForDecision.get(serialKey(key.serial))) as
          DecisionRow | undefined;
        const k = row ? serialKey(row[0]) : -1;
        const user = byUser ? (sql.user.get(key.userId) as { user_id: string; password_hash: string } | undefined) : undefined;
        const { result, writes } = decide({
          token: row ? toRecord(row as unknown as TokenRow) : null,
          user: user ? { userId: user.user_id, passwordHash: user.password_hash } : null,
        });
        // The common accept, whose audit row joins the token's chain (no user named, or the
        // token's own) at the head just read.
        const accept = row ? commonAccept(writes) : null;
        if (row && accept && (accept.entry.userId == null || accept.entry.userId === row[22])) {
          if (!acceptChained(accept.consume, accept.entry, { key: k, lastAuditId: row[21], everUserId: row[22] })) {
            throw new Error(`token ${accept.consume.serial} changed inside its own write: the accept was not written`);
          }
          return result;
        }
        for (const w of writes) apply(w);
        return result;
      });
    },

    resync(serial: string, movingFactor: number, drift: TokenDrift, origin: Origin): Promise<boolean> {
      return write(() => {
        const done = sql.resync.run({ serialKey: serialKey(serial), movingFactor, ...driftParams(drift), at: origin.at }).changes === 1;
        if (done) audit({ ...from(origin), type: 'resync', serial, movingFactor, reason: `drift ${drift.steps}` });
        return done;
      });
    },

    changeStatus(change: StatusChange): Promise<boolean> {
      return write(() => {
        const { serial, to, origin } = change;
        const changed = sql.changeStatus.run({ serialKey: serialKey(serial), to, from: JSON.stringify(change.from) }).changes === 1;
        if (!changed) return false;
        const formerUser = to === 'revoked' ? (sql.endAssignment.get({ serial, at: origin.at }) as string | undefined) : undefined;
        audit({ ...from(origin), ...(formerUser ? { userId: formerUser } : {}), type: STATUS_EVENT[to], serial });
        return true;
      });
    },

    appendAudit: (entries) => write(() => entries.forEach(audit)),

    queryAudit: (query) =>
      read(() => {
        const limit = Math.min(Math.max(1, Math.floor(query.limit ?? 100)), MAX_AUDIT_LIMIT);
        return queryAuditRows(query, limit).map(toEvent);
      }),

    // A store whose log could not be synced takes no more writes: not ready, so it gets restarted.
    ping: () => read(() => !writes.failed && sql.ping.get() === 1),

    async close(): Promise<void> {
      if (closed) return;
      // Reads asked for before the close are answered.
      runReads();
      closed = true;
      try {
        await writes.drain();
      } finally {
        // The worker's connection first, so that the store's is the last: closing it checkpoints
        // the whole log and removes it.
        await checkpointer?.close();
        db.close();
        if (wal !== null) closeSync(wal);
      }
    },
  };
}
