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
 * fdatasync of the log file on a thread of its own (sync-thread.ts), before any of its callers hears back: the
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
 * Concurrency: an attempt reads its snapshot, decides and applies the writes inside one write
 * transaction of the group commit's, and the connection runs them one after the other, so each
 * is decided on the rows as the one before left them. A validate accept is three statements: the
 * token read (with its audit chain's head), the compare-and-set that also moves the head, the
 * audit insert (sqlite-writes.ts).
 *
 * Faults: SQLite waits for a lock another connection holds (another process in a write
 * transaction, a `sqlite3` shell, a VACUUM) by sleeping in the calling thread, i.e. the event
 * loop, up to the busy timeout: so that is short (busyTimeoutMs, default 50 ms; 5 s only while
 * opening, when there is nothing to answer yet). Only a foreign connection can make the store's
 * BEGIN IMMEDIATE wait: its own writes all go through the one group commit, which holds the lock
 * itself while a batch is open. A write that finds the lock held past the timeout, or the disk full,
 * the file read-only, an I/O error, fails its batch only, as StoreUnavailableError (503 with
 * Retry-After); the next batch tries again, so the store recovers by itself once the lock is
 * released. Only a failed sync of the log stops the store for good (group-commit.ts). Readiness
 * (ping) tells the truth: the file and its log writable, room on their file system, and a write
 * transaction begun within the busy timeout, through the group commit's own queue.
 *
 * The parts: sqlite-schema.ts (schema and migrations), sqlite-rows.ts (a token row's columns),
 * sqlite-reads.ts (read batching), group-commit.ts, sqlite-writes.ts (writes as SQL),
 * sqlite-audit.ts (the audit log and its chains), sqlite-checkpointer.ts, sqlite-oidc.ts (the OpenID
 * provider's entries).
 */
import { accessSync, closeSync, constants, fchmodSync, openSync, statfsSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { DEFAULT_STORE_TIMEOUTS } from '../config.js';
import { DuplicateSerialError, ServiceError, StoreUnavailableError } from '../domain/errors.js';
import type { CredentialRecord } from '../domain/credentials.js';
import type { Decision, Snapshot } from '../domain/decide.js';
import { commonAccept } from './apply.js';
import {
  CREDENTIAL_COLUMNS,
  credentialOf,
  PROOF_COLUMNS,
  proofOf,
  secretOf,
  USER_COLUMNS,
  USER_HISTORY_SQL,
  userHistoryOf,
  type UserHistoryRow,
  userOf,
  NOTHING_ELSE,
  type OtherRows,
  MAX_ORDER_LIMIT,
  ORDER_COLUMNS,
  orderOf,
  type CredentialRow,
  type OrderRow,
  type ProofRow,
  type SecretRow,
  type UserRow,
} from './rows.js';
import { createGroupCommit, type GroupCommit } from './group-commit.js';
import { createSqliteAuditLog } from './sqlite-audit.js';
import { startCheckpointer } from './sqlite-checkpointer.js';
import { createSqliteOidc } from './sqlite-oidc.js';
import { createReadBatcher } from './sqlite-reads.js';
import { BY_ACTIVE_USER, BY_SERIAL, col, driftParams, endedOf, serialKey, toRecord, type TokenRow } from './sqlite-rows.js';
import { migrate } from './sqlite-schema.js';
import { fdatasyncOffPool } from './sync-thread.js';
import { createSqliteWriter } from './sqlite-writes.js';
import type { AttemptKey, NewTokenRecord, Origin, TokenStore } from './types.js';
import type { OrderRecord } from '../domain/orders.js';
import type { StoreLog } from './open.js';

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
  /**
   * How long a write waits for the database's write lock when another process holds it, ms, before
   * it fails as unavailable (503). SQLite waits on the calling thread, the event loop, so every
   * request waits with it: keep it short (default 50).
   */
  busyTimeoutMs?: number;
  /** Readiness: less room than this on the database's file system, bytes, is not ready (default 1 MiB). */
  minFreeBytes?: number;
  /** Where readiness changes are told (one line each way), and a broken audit chain. */
  log?: StoreLog;
  /** Rows one audit query reads at most (sqlite-audit.ts; default 100 000). */
  maxAuditScan?: number;
  /** How group commit makes the log durable (default: fdatasync on the sync thread, sync-thread.ts); tests hold it. */
  syncWal?: (fd: number) => Promise<void>;
}

/**
 * KODEVISER_SQLITE_BUSY_TIMEOUT_MS's default (config.ts), 50 ms: long enough for another
 * process's short write transaction (an operator's UPDATE in a `sqlite3` shell), short enough that
 * the event loop it stops does not hold every request up for long.
 */
const DEFAULT_BUSY_TIMEOUT_MS = DEFAULT_STORE_TIMEOUTS.sqliteBusyMs;
const DEFAULT_MIN_FREE_BYTES = 1 << 20;
/** While opening: migrations may wait for another process's transaction; no request waits yet. */
const OPEN_BUSY_TIMEOUT_MS = 5000;

/**
 * SQLite's error as the store's: a lock held past the busy timeout, a full disk, a read-only file
 * or an I/O error is StoreUnavailableError (503, the driver's error its cause); anything else is
 * returned as it is (a constraint, a bug: 500).
 */
export function storeFailure(e: unknown, busyTimeoutMs: number): unknown {
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code !== 'string' || !code.startsWith('SQLITE_')) return e;
  // The primary code, without the extended part: SQLITE_IOERR_FSYNC → IOERR.
  switch (code.split('_')[1]) {
    case 'BUSY':
      return new StoreUnavailableError(`the database is locked by another process (waited ${busyTimeoutMs} ms); try again`, e);
    case 'FULL':
      return new StoreUnavailableError('the disk of the database is full', e);
    case 'READONLY':
      return new StoreUnavailableError('the database is read-only', e);
    case 'IOERR':
      return new StoreUnavailableError('the database could not be read or written (an I/O error)', e);
    default:
      return e;
  }
}

/**
 * How often the checkpointer worker copies the log back (sqlite-checkpointer.ts). Each of its
 * checkpoints ends in an fdatasync of the database file, a device flush behind the random page
 * writes it made, which the log's own syncs (every reply waits for one) queue behind: once a
 * second rather than five times cost fewer syncs and shorter waits, 5-10 % more validations per
 * second at 10 k and at 1 M tokens in alternated pairs, and a lower p99 (9 ms against 11 at 1 M).
 */
const DEFAULT_CHECKPOINT_INTERVAL_MS = 1000;

/**
 * Creates the database file, empty (which SQLite takes for a new database), readable by its owner
 * only whatever the umask: SQLite would create it 0644 less the umask, and it holds the sealed
 * seeds, the password hashes and the audit log. SQLite gives the -wal and -shm files it creates
 * later the database file's mode. A file that is there already is left as it is; one that cannot
 * be created is left to SQLite to report.
 */
function createPrivately(path: string): void {
  if (path === '' || path === ':memory:' || path.startsWith('file:')) return;
  let fd: number;
  try {
    fd = openSync(path, 'wx', 0o600);
  } catch {
    return;
  }
  try {
    fchmodSync(fd, 0o600); // the umask may have narrowed the mode (never widened it): be exact
  } finally {
    closeSync(fd);
  }
}

/** Opens the file with its pragmas and schema, and says whether group commit syncs its log. */
function openDatabase(path: string, groupCommit: boolean, busyTimeoutMs: number): { db: Database.Database; wal: number | null } {
  createPrivately(path);
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
  db.pragma(`busy_timeout = ${OPEN_BUSY_TIMEOUT_MS}`);
  // An erased user's rows are zeroed where they lay, not left in free space for anyone with the
  // file to read (FAST: where that costs no extra I/O, i.e. within the pages written anyway).
  db.pragma('secure_delete = FAST');
  // A million tokens are ~150 MiB: keep the hot part of the tokens table and its index in memory
  // (the default page cache is 2 MiB) so a lookup does not go to the kernel for every page.
  db.pragma('cache_size = -65536');
  migrate(db);
  // After migrate, so the schema is committed under FULL and the log file exists (SQLite opens it
  // with the first transaction in WAL mode). A database that cannot be in WAL mode (in memory)
  // keeps FULL and SQLite's own syncs.
  const wal = groupCommit && db.pragma('journal_mode', { simple: true }) === 'wal' ? openSync(`${db.name}-wal`, 'r+') : null;
  db.pragma(wal === null ? 'synchronous = FULL' : 'synchronous = NORMAL');
  db.pragma(`busy_timeout = ${busyTimeoutMs}`);
  return { db, wal };
}

/** Ids per pruning transaction: ~10 ms of the write lock each. */
const PRUNE_CHUNK = 5000;

export function openSqliteStore(path: string, opts: SqliteStoreOptions = {}): TokenStore {
  const busyTimeoutMs = opts.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS;
  const { db, wal } = openDatabase(path, opts.groupCommit ?? true, busyTimeoutMs);
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
    tokenBySerial: db.prepare(BY_SERIAL).raw(),
    tokenOfUser: db.prepare(BY_ACTIVE_USER).raw(),
    user: db.prepare(`SELECT ${USER_COLUMNS} FROM users WHERE user_id = ?`),
    userByIdentity: db.prepare(`SELECT ${USER_COLUMNS} FROM users WHERE identity_hash = ?`),
    secret: db.prepare('SELECT ciphertext, nonce, key_version FROM secrets WHERE name = ?'),
    credentialById: db.prepare(`SELECT ${CREDENTIAL_COLUMNS} FROM credentials WHERE id = ?`),
    proof: db.prepare(`SELECT ${PROOF_COLUMNS} FROM proofs WHERE id_hash = ?`),
    order: db.prepare(`SELECT ${ORDER_COLUMNS} FROM orders WHERE id = ?`),
    orderBySerial: db.prepare(`SELECT ${ORDER_COLUMNS} FROM orders WHERE serial = ?`),
    orderByTracking: db.prepare(`SELECT ${ORDER_COLUMNS} FROM orders WHERE tracking_hash = ?`),
    userOrders: db.prepare("SELECT count(*) FROM orders WHERE user_id = ? AND status <> 'cancelled'").pluck(),
    orders: db.prepare(`SELECT ${ORDER_COLUMNS} FROM orders ORDER BY created_at DESC, id DESC LIMIT ?`),
    ordersByStatus: db.prepare(`SELECT ${ORDER_COLUMNS} FROM orders WHERE status = ? ORDER BY created_at DESC, id DESC LIMIT ?`),
    userHistory: db.prepare(USER_HISTORY_SQL('?')),
    credentialByHash: db.prepare(`SELECT ${CREDENTIAL_COLUMNS} FROM credentials WHERE token_hash = ?`),
    credentials: db.prepare(`SELECT ${CREDENTIAL_COLUMNS} FROM credentials ORDER BY created_at, id`),
    ping: db.prepare('SELECT 1').pluck(),
    // The group commit's transaction: it stays open across turns of the event loop while a sync
    // runs (group-commit.ts), so it cannot be a db.transaction() function.
    begin: db.prepare('BEGIN IMMEDIATE'),
    commit: db.prepare('COMMIT'),
    rollback: db.prepare('ROLLBACK'),
  };
  const log = createSqliteAuditLog(db, opts.log ? (obj, msg) => opts.log?.warn(obj, msg) : undefined, opts.maxAuditScan);
  const writer = createSqliteWriter(db, log);

  const isolate = db.transaction((op: () => unknown) => op());
  // SQLite rolls the whole transaction back on some errors (a full disk, an I/O error): what comes
  // after must not run, nor commit, outside it.
  const rolledBack = (): StoreUnavailableError =>
    new StoreUnavailableError('the write transaction was rolled back by the database (a full disk or an I/O error); try again');
  const writes: GroupCommit = createGroupCommit({
    // IMMEDIATE takes the write lock at BEGIN, so another process cannot make our COMMIT fail as busy.
    // Held by another process past the busy timeout: the batch fails as unavailable, the next tries again.
    begin: () => {
      log.begin();
      try {
        sql.begin.run();
      } catch (e) {
        throw storeFailure(e, busyTimeoutMs);
      }
    },
    commit: () => {
      if (!db.inTransaction) throw rolledBack();
      try {
        sql.commit.run();
      } catch (e) {
        throw storeFailure(e, busyTimeoutMs);
      }
    },
    // A failed COMMIT may have rolled the transaction back already (an I/O error does).
    rollback: () => {
      if (db.inTransaction) sql.rollback.run();
      log.rollback();
    },
    isolate: <T>(op: () => T): T => {
      if (!db.inTransaction) throw rolledBack();
      const mark = log.mark();
      try {
        return isolate(op) as T;
      } catch (e) {
        log.restore(mark);
        throw storeFailure(e, busyTimeoutMs);
      }
    },
    ...(wal !== null ? { sync: () => (opts.syncWal ?? fdatasyncOffPool)(wal) } : {}),
    enabled: opts.groupCommit ?? true,
    ...(opts.maxBatch !== undefined ? { maxBatch: opts.maxBatch } : {}),
  });

  let closed = false;
  const storeClosed = (): ServiceError => new ServiceError('ERR_STORE_CLOSED', 'the token store is closed');
  const reads = createReadBatcher(db, () => (closed ? storeClosed() : null));
  const read = <T>(fn: () => T): Promise<T> =>
    reads.read(() => {
      try {
        return fn();
      } catch (e) {
        throw storeFailure(e, busyTimeoutMs);
      }
    });
  const write = async <T>(op: () => T): Promise<T> => {
    if (closed) throw storeClosed();
    return writes.submit(op);
  };

  const file = db.memory ? null : db.name;
  const minFreeBytes = opts.minFreeBytes ?? DEFAULT_MIN_FREE_BYTES;
  /**
   * Why the database cannot take writes, as the file system sees it, or null: the file or its log
   * not writable (by mode: a file made read-only is taken as meant so, even by root, whom the
   * kernel would let write; by this process's user; a read-only file system), or no room left.
   * A handful of system calls on the main thread, a few microseconds, once per readiness probe.
   */
  const unwritable = (): string | null => {
    if (file === null) return null;
    for (const f of [file, `${file}-wal`]) {
      try {
        if ((statSync(f).mode & 0o222) === 0) return `${f} is read-only`;
        accessSync(f, constants.W_OK);
      } catch (e) {
        const code = (e as { code?: string }).code;
        // The log exists only while a connection has the database open in WAL mode.
        if (code === 'ENOENT' && f !== file) continue;
        return `${f} is not writable (${code ?? 'error'})`;
      }
    }
    let free: number;
    try {
      const { bavail, bsize } = statfsSync(dirname(file));
      free = bavail * bsize;
    } catch (e) {
      return `the file system of ${file} cannot be asked for its room (${(e as { code?: string }).code ?? 'error'})`;
    }
    return free < minFreeBytes ? `the file system of ${file} has less than ${minFreeBytes} bytes free` : null;
  };
  /** The reason readiness last failed for (null: ready), so that each change is logged once. */
  let notReady: string | null = null;
  const readiness = (why: string | null): boolean => {
    if (why !== notReady) {
      if (why !== null) opts.log?.warn({ reason: why }, 'the database is not ready');
      else opts.log?.info({}, 'the database is ready again');
      notReady = why;
    }
    return why === null;
  };

  type Others = OtherRows;
  type Rows = { token: TokenRow | undefined; userToken: TokenRow | undefined; others: Others };
  /** The rows of `key`, the tokens as raw rows (whose chain heads the common accept needs). */
  function readKey(key: AttemptKey): Rows {
    const { serial, userId, credentialId, identityHash, secretName, proofIdHash, orderId } = key;
    const token = serial === undefined ? undefined : (sql.tokenBySerial.get(serialKey(serial)) as TokenRow | undefined);
    if (
      userId === undefined &&
      credentialId === undefined &&
      identityHash === undefined &&
      secretName === undefined &&
      proofIdHash === undefined &&
      orderId === undefined
    ) {
      return { token, userToken: undefined, others: NOTHING_ELSE };
    }
    const userToken =
      userId === undefined
        ? undefined
        : token !== undefined && col(token, 'userId') === userId
          ? token
          : (sql.tokenOfUser.get(userId) as TokenRow | undefined);
    const others: Others = {
      user: userId === undefined ? null : userOf(sql.user.get(userId) as UserRow | undefined),
      credential: credentialId === undefined ? null : credentialOf(sql.credentialById.get(credentialId) as CredentialRow | undefined),
      identityUser: identityHash === undefined ? null : userOf(sql.userByIdentity.get(identityHash) as UserRow | undefined),
      secret: secretName === undefined ? null : secretOf(sql.secret.get(secretName) as SecretRow | undefined),
      proof: proofIdHash === undefined ? null : proofOf(sql.proof.get(proofIdHash) as ProofRow | undefined),
      order: orderId === undefined ? null : orderOf(sql.order.get(orderId) as OrderRow | undefined),
      userOrders: orderId === undefined || userId === undefined ? 0 : (sql.userOrders.get(userId) as number),
      orderOfSerial: orderId === undefined || serial === undefined ? null : orderOf(sql.orderBySerial.get(serial) as OrderRow | undefined),
    };
    return { token, userToken, others };
  }
  /** The token row of `serial` among those read (no array or closure made: every accept asks). */
  const rowOf = ({ token, userToken }: Rows, serial: string): TokenRow | undefined =>
    token !== undefined && col(token, 'serial') === serial
      ? token
      : userToken !== undefined && col(userToken, 'serial') === serial
        ? userToken
        : undefined;
  const snapshotOf = ({ token: row, userToken, others }: Rows): Snapshot => {
    const token = row ? toRecord(row) : null;
    return {
      token,
      tokenOwner: row ? col(row, 'owner') : null,
      tokenEnded: row ? endedOf(row) : null,
      userToken: userToken === row ? token : userToken ? toRecord(userToken) : null,
      // Named one by one: a spread here is V8's slow path, on every validation.
      user: others.user,
      credential: others.credential,
      identityUser: others.identityUser,
      secret: others.secret,
      proof: others.proof,
      order: others.order,
      userOrders: others.userOrders,
      orderOfSerial: others.orderOfSerial,
    };
  };

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
          log.append({ at: origin.at, type: 'import', serial: t.serial, ip: origin.ip, actor: origin.actor ?? null });
        }
      });
    },

    getToken: (serial) =>
      read(() => {
        const row = sql.tokenBySerial.get(serialKey(serial)) as TokenRow | undefined;
        return row ? toRecord(row) : null;
      }),

    snapshot: (key) => read(() => snapshotOf(readKey(key))),

    attempt<T>(key: AttemptKey, decide: (snapshot: Snapshot) => Decision<T>): Promise<T> {
      return write(() => {
        const rows = readKey(key);
        const { result, writes } = decide(snapshotOf(rows));
        // The common accept, whose audit row joins the token's chain at the head just read.
        const accept = commonAccept(writes);
        const row = accept === null ? undefined : rowOf(rows, accept.consume.serial);
        if (accept !== null && row !== undefined) {
          const head = {
            key: serialKey(accept.consume.serial),
            lastAuditId: col(row, 'lastAuditId'),
            owner: col(row, 'owner'),
            pseudonym: col(row, 'ownerPseudonym'),
          };
          if (log.joins(head, accept.entry.userId)) {
            writer.acceptChained(accept.consume, accept.entry, head);
            return result;
          }
        }
        for (const w of writes) writer.apply(w);
        return result;
      });
    },

    getUserHistory: (userId) => read(() => userHistoryOf(sql.userHistory.all(userId) as UserHistoryRow[])),
    getCredential: ({ tokenHash }) => read(() => credentialOf(sql.credentialByHash.get(tokenHash) as CredentialRow | undefined)),

    listCredentials: () => read(() => (sql.credentials.all() as CredentialRow[]).map((r) => credentialOf(r) as CredentialRecord)),

    getOrder: (id) => read(() => orderOf(sql.order.get(id) as OrderRow | undefined)),
    getOrderByTracking: (hash) => read(() => orderOf(sql.orderByTracking.get(hash) as OrderRow | undefined)),
    listOrders: ({ status, limit }) =>
      read(() => {
        const n = Math.min(Math.max(1, Math.floor(limit)), MAX_ORDER_LIMIT);
        const rows = (status === undefined ? sql.orders.all(n) : sql.ordersByStatus.all(status, n)) as OrderRow[];
        return rows.map((r) => orderOf(r) as OrderRecord);
      }),

    queryAudit: (query) => read(() => log.query(query)),

    auditArchive: {
      rows: (after, upTo, limit) => read(() => log.archive.rows(after, upTo, limit)),
      boundary: () => read(() => log.archive.newestId()),
      lastIdAt: (at) => read(() => log.archive.lastIdAt(at)),
      checkpoints: () => read(() => log.archive.checkpoints()),
      addCheckpoint: (cp) => write(() => log.archive.addCheckpoint(cp)),
      async prune(cp, entry) {
        const prunedTo = cp.prunedToId ?? 0;
        const from = await write(() => {
          const start = Math.max(0, ...log.archive.checkpoints().map((c) => c.prunedToId ?? 0));
          log.archive.addCheckpoint(cp);
          log.append(entry);
          return start;
        });
        let deleted = 0;
        for (let after = from; after < prunedTo; after += PRUNE_CHUNK) {
          const upTo = Math.min(after + PRUNE_CHUNK, prunedTo);
          deleted += await write(() => log.archive.deleteRows(after, upTo));
        }
        return deleted;
      },
    },

    oidc: createSqliteOidc(db, { read, write }),

    /**
     * Ready when a write could be made now. A store whose log could not be synced takes no more
     * writes: not ready, so it gets restarted. Then the file system (unwritable); then a write
     * transaction, through the group commit's queue: it joins the transaction open at the time
     * (holding the write lock already) or begins one, which fails after the busy timeout while
     * another process holds the lock.
     */
    async ping(): Promise<boolean> {
      if (writes.failed) return readiness('the write-ahead log could not be synced: restart the server');
      const why = unwritable();
      if (why !== null) return readiness(why);
      try {
        return readiness((await write(() => sql.ping.get() === 1)) ? null : 'SELECT 1 did not answer 1');
      } catch (e) {
        if (closed) throw e;
        return readiness((e as Error).message);
      }
    },

    async close(): Promise<void> {
      if (closed) return;
      // Reads asked for before the close are answered.
      reads.flush();
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
