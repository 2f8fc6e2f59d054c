/**
 * The TokenStore on PostgreSQL through `pg` (a Pool, default 10 connections), for running several
 * server instances over one database. Same contract and same results as the SQLite store
 * (sqlite.ts); only the way an attempt is made atomic differs.
 *
 * Durability: a write resolves only after PostgreSQL's COMMIT returned, and with
 * synchronous_commit on (PostgreSQL's default) COMMIT returns only once the WAL record is flushed
 * to disk, so an accepted code stays accepted through a crash. With synchronous_commit = off the
 * last commits before a crash can be lost — a code answered `accept` could then be accepted a
 * second time — so opening the store refuses a connection where it is off.
 *
 * Concurrency, at READ COMMITTED (the default isolation, no serialization retries needed): an
 * attempt locks what it decides on before reading it (`SELECT … FOR UPDATE`), so concurrent
 * attempts on one token are decided one after the other, each on what the one before committed,
 * whichever instance they reached. An attempt about a user first takes a transaction-scoped
 * advisory lock on the user ID, so two attempts about one user (two activations, which may create
 * the user or replace its device) serialise there too; the tokens it locks after that are locked
 * in serial order, so two attempts never wait for each other in a cycle. The common accept is
 * its compare-and-set and audit insert in one statement (a data-modifying CTE).
 *
 * Throughput: every statement is a named prepared statement (postgres-sql.ts), and the audit
 * events of one attempt go in one INSERT … SELECT FROM unnest(arrays).
 *
 * Faults: every connection runs with a statement_timeout and a lock_timeout (statementTimeoutMs,
 * lockTimeoutMs; defaults 5 s and 1 s, config.ts), so a session that holds a lock the store needs
 * (a `LOCK TABLE`, a long transaction, a migration run by hand) or a statement that hangs fails the
 * request after that long instead of holding it and its pooled connection indefinitely. Such a
 * timeout, a connection refused or lost, a database that is read-only or out of room or
 * connections, is StoreUnavailableError (503 with Retry-After). A pooled connection that fails
 * while idle is logged (one line: its code and message, never the URL, which may hold a password)
 * and replaced by the pool. Readiness (ping) takes the lock a write would take on the tokens table,
 * within the lock timeout, in a transaction that is not read-only.
 *
 * bigint columns come back as JS numbers (pg returns strings by default): they hold unix ms and
 * moving factors, which the service keeps below 2^53.
 */
import pg from 'pg';
import { KodeviserError, normalizeMovingFactor, type MovingFactor } from '@kodeviser/shared';
import type { CredentialRecord } from '../domain/credentials.js';
import type { ProofRecord } from '../domain/identity.js';
import type { OrderRecord } from '../domain/orders.js';
import type { Decision, Snapshot, Write } from '../domain/decide.js';
import { DEFAULT_STORE_TIMEOUTS } from '../config.js';
import { DuplicateSerialError, ServiceError, StoreUnavailableError } from '../domain/errors.js';
import { commonAccept, unapplied } from './apply.js';
import {
  credentialOf,
  credentialValues,
  proofOf,
  proofValues,
  secretOf,
  userHistoryOf,
  userOf,
  NOTHING_ELSE,
  type OtherRows,
  MAX_ORDER_LIMIT,
  orderOf,
  orderValues,
  type OrderRow,
  type UserHistoryRow,
  type CredentialRow,
  type ProofRow,
  type SecretRow,
  type UserRow,
} from './rows.js';
import { isPseudonym, MAX_AUDIT_LIMIT, toEvent, type AuditRow } from './audit-rows.js';
import { createPostgresOidc } from './postgres-oidc.js';
import { migratePostgres } from './postgres-schema.js';
import { auditArrays, auditQuery, sql, toRecord, type TokenRow } from './postgres-sql.js';
import type { ChainRow } from './audit-chain.js';
import type { AttemptKey, AuditEntry, NewTokenRecord, Origin, SealedSeed, StoredCheckpoint, TokenStore, UserRecord } from './types.js';
import type { StoreLog } from './open.js';

export interface PostgresStoreOptions {
  /** Connections at most (default 10). */
  poolSize?: number;
  /** How long a request waits for a free connection (or a new one) before it fails, ms (default 10 000). */
  connectionTimeoutMs?: number;
  /** statement_timeout of every connection, ms (default 5000; 0: PostgreSQL's own setting). */
  statementTimeoutMs?: number;
  /** lock_timeout of every connection, ms (default 1000; 0: PostgreSQL's own setting). */
  lockTimeoutMs?: number;
  /** Where a pooled connection's failure and readiness changes are told (one line each). */
  log?: StoreLog;
}

/** SQLSTATE classes and codes of a database that cannot serve now but may again (PostgreSQL, Appendix A). */
const UNAVAILABLE_CLASSES = ['08', '53', '57P']; // connection exception; insufficient resources; shutdown, cannot connect now
const LOCK_NOT_AVAILABLE = '55P03';
const QUERY_CANCELED = '57014';
const READ_ONLY_TRANSACTION = '25006';
/** Node's errors of a connection that could not be made or was lost. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
]);
/** pg's own errors for the same (they have no code). */
const PG_CONNECTION_MESSAGE = /^Connection terminated|timeout exceeded when trying to connect|is not queryable/;

/**
 * The driver's error as the store's: a lock or statement timeout, a connection refused or lost, a
 * read-only database, one out of room or connections, is StoreUnavailableError (503); anything else
 * is returned as it is. The message names the condition, not the server (the URL may hold a password).
 */
export function pgFailure(e: unknown): unknown {
  if (!(e instanceof Error) || e instanceof ServiceError) return e;
  const code = (e as { code?: unknown }).code;
  if (code === LOCK_NOT_AVAILABLE)
    return new StoreUnavailableError('the database is locked by another session (lock timeout); try again', e);
  if (code === QUERY_CANCELED) return new StoreUnavailableError('a database statement took too long (statement timeout); try again', e);
  if (code === READ_ONLY_TRANSACTION) return new StoreUnavailableError('the database is read-only', e);
  if (typeof code === 'string' && UNAVAILABLE_CLASSES.some((c) => code.startsWith(c))) {
    return new StoreUnavailableError(`the database is unavailable (${code})`, e);
  }
  if ((typeof code === 'string' && NETWORK_CODES.has(code)) || PG_CONNECTION_MESSAGE.test(e.message)) {
    return new StoreUnavailableError('the database cannot be reached', e);
  }
  return e;
}

const INT8_OID = 20;
/**
 * An int8 as a Number, except one beyond 2^53 − 1, which a Number would round: a BigInt, in the
 * one representation of a moving factor (@kodeviser/shared moving-factor.ts), the only int8
 * columns that reach that far.
 */
const parseInt8 = (text: string): MovingFactor => {
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : normalizeMovingFactor(BigInt(text));
};
const UNIQUE_VIOLATION = '23505';
const buffer = (u: Uint8Array): Buffer => Buffer.from(u.buffer, u.byteOffset, u.byteLength);

/**
 * Opens a pool on `connectionString` (postgres://user@host:port/db?options=-c%20search_path%3D…),
 * checks that commits are durable and brings the schema up to date. Rejects when PostgreSQL
 * cannot be reached, or refuses.
 */
/** Ids per pruning statement (each its own transaction). */
const PRUNE_CHUNK = 5000;

export async function openPostgresStore(connectionString: string, opts: PostgresStoreOptions = {}): Promise<TokenStore> {
  const statementTimeoutMs = opts.statementTimeoutMs ?? DEFAULT_STORE_TIMEOUTS.pgStatementMs;
  const lockTimeoutMs = opts.lockTimeoutMs ?? DEFAULT_STORE_TIMEOUTS.pgLockMs;
  const pool = new pg.Pool({
    connectionString,
    max: opts.poolSize ?? 10,
    connectionTimeoutMillis: opts.connectionTimeoutMs ?? 10_000,
    // Sent with each connection's startup (0: not sent, PostgreSQL's own setting holds).
    ...(statementTimeoutMs > 0 ? { statement_timeout: statementTimeoutMs } : {}),
    ...(lockTimeoutMs > 0 ? { lock_timeout: lockTimeoutMs } : {}),
    types: {
      getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
        oid === INT8_OID ? parseInt8 : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
    },
  });
  // A pooled connection that drops while idle (a database restart) is reported here; without a
  // listener the process would exit. The pool replaces it, and the next query that needs the
  // database fails or succeeds on its own. Its code and message only: not the client, whose
  // parameters hold the password.
  pool.on('error', (e: Error & { code?: string }) => {
    opts.log?.warn({ err: { code: e.code, message: e.message } }, 'an idle PostgreSQL connection failed; the pool replaces it');
  });
  // A connection lost while checked out (a terminated backend, a database restart mid-transaction)
  // emits 'error' too, and the pool listens only while the client is idle: without this, that
  // would end the process. The query in flight, if any, fails with it (a 503), and the client is
  // released broken, so the pool drops it.
  pool.on('connect', (client) => client.on('error', () => undefined));
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
      // A migration may wait for another instance's and rewrite big tables: no timeouts for it.
      await client.query('SET statement_timeout = 0; SET lock_timeout = 0');
      await migratePostgres(client);
      await client.query('RESET statement_timeout; RESET lock_timeout');
    } finally {
      client.release();
    }
  } catch (e) {
    await pool.end();
    throw e;
  }

  let closed = false;
  /** The reason readiness last failed for (null: ready), so that each change is logged once. */
  let notReady: string | null = null;
  const inFlight = new Set<Promise<unknown>>();
  /** Every method goes through here: refused once closed, and tracked so close() can wait for it. */
  const run = <T>(op: () => Promise<T>): Promise<T> => {
    if (closed) return Promise.reject(new ServiceError('ERR_STORE_CLOSED', 'the token store is closed'));
    const p = op().catch((e: unknown) => {
      throw pgFailure(e);
    });
    inFlight.add(p);
    const forget = () => inFlight.delete(p);
    p.then(forget, forget);
    return p;
  };

  /**
   * The audit lanes (audit-chain.ts) of this process not in use: a transaction takes one for
   * the rows it appends and gives it back at its end, so there are as many as connections ever
   * wrote at once here. A new one is claimed (committed at once, before BEGIN) when none is free.
   */
  const freeLanes: number[] = [];
  const takeLane = async (client: pg.PoolClient): Promise<number> =>
    freeLanes.pop() ?? Number((await client.query<{ id: string }>(sql.claimLane(Date.now()))).rows[0]!.id);

  /**
   * BEGIN … COMMIT on one pooled connection, the audit events `work` collected inserted last,
   * in one statement. Resolves after COMMIT returned, i.e. durably; rolls back on any throw.
   */
  const transaction = <T>(work: (client: pg.PoolClient, audit: AuditEntry[], lane: number) => Promise<T>): Promise<T> =>
    run(async () => {
      const client = await pool.connect();
      let broken: Error | undefined;
      let lane: number | null = null;
      try {
        lane = await takeLane(client);
        await client.query('BEGIN');
        const events: AuditEntry[] = [];
        const result = await work(client, events, lane);
        if (events.length > 0) await client.query(sql.audit(...auditArrays(events), lane));
        await client.query('COMMIT');
        return result;
      } catch (e) {
        // If the connection itself failed, ROLLBACK fails too: then the connection is discarded.
        await client.query('ROLLBACK').catch((rollbackError: Error) => (broken = rollbackError));
        throw e;
      } finally {
        client.release(broken);
        // Its head is in the database, committed or rolled back with the rows: free as it is.
        if (lane !== null) freeLanes.push(lane);
      }
    });

  /** One write of a decision, as SQL; audit rows go with the transaction's others at its end. */
  async function apply(client: pg.PoolClient, audit: AuditEntry[], w: Write): Promise<void> {
    let query: pg.QueryConfig;
    switch (w.kind) {
      case 'consume': {
        const d = w.drift;
        query = sql.consume(w.serial, w.movingFactor, d.steps, w.at, w.success, d.offsetMs, d.ratePpm, d.rateVar);
        break;
      }
      case 'failures':
        query = sql.failures(w.serial, w.failures);
        break;
      case 'block':
        query = sql.block(w.serial, w.until);
        break;
      case 'status':
        query = sql.status(w.serial, w.status);
        break;
      case 'start-resync':
        query = sql.startResync(w.serial, w.pending.movingFactor, w.pending.at);
        break;
      case 'create-user':
        query = sql.createUser(w.userId, w.passwordHash, w.identityHash, w.at);
        break;
      case 'set-password':
        query = sql.setPassword(w.userId, w.passwordHash, w.at);
        break;
      case 'assign':
        query = sql.assign(w.serial, w.userId, w.at);
        break;
      case 'deactivate':
        query = sql.deactivate(w.serial, w.at, w.replacedBy);
        break;
      case 'create-credential':
        query = sql.createCredential(...credentialValues(w.credential));
        break;
      case 'revoke-credential':
        query = sql.revokeCredential(w.id, w.at);
        break;
      case 'create-proof':
        query = sql.createProof(...proofValues(w.proof));
        break;
      case 'guesses':
        query = sql.guesses(w.userId, w.budget.windowStart, w.budget.count);
        break;
      case 'use-proof':
        query = sql.useProof(w.at, w.idHash);
        break;
      case 'link-identity':
        query = sql.linkIdentity(w.userId, w.identityHash);
        break;
      case 'create-order':
        query = sql.createOrder(...orderValues(w.order));
        break;
      case 'update-order':
        query = sql.updateOrder(w.id, w.from, w.to, w.at, w.paymentReference ?? null, w.serial ?? null);
        break;
      case 'erase-user':
        for (const q of [sql.eraseDevices, sql.eraseOrders, sql.eraseProofs, sql.eraseAssignments]) {
          await client.query(q(w.userId));
        }
        query = sql.eraseUser(w.userId);
        break;
      case 'create-secret':
        query = sql.createSecret(w.name, buffer(w.sealed.ciphertext), buffer(w.sealed.nonce), w.sealed.keyVersion);
        break;
      case 'audit':
        audit.push(w.entry);
        return;
    }
    if ((await client.query(query)).rowCount !== 1) throw unapplied(w);
  }

  type Others = OtherRows;
  type Rows = { token: TokenRow | undefined; userToken: TokenRow | undefined; others: Others };
  const onlyTokens = (k: AttemptKey): boolean =>
    k.userId === undefined &&
    k.credentialId === undefined &&
    k.identityHash === undefined &&
    k.secretName === undefined &&
    k.proofIdHash === undefined &&
    k.orderId === undefined;
  const snapshotOf = ({ token, userToken, others }: Rows): Snapshot => {
    const record = token ? toRecord(token) : null;
    return {
      token: record,
      tokenOwner: token?.owner ?? null,
      tokenEnded: token === undefined || token.ended_at === null ? null : { at: token.ended_at, replacedBy: token.replaced_by },
      userToken: userToken === undefined ? null : userToken.serial === token?.serial ? record : toRecord(userToken),
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
  /** The rows of `key`, read with `q` (the pool, in parallel; or a transaction's connection, in turn), without locks. */
  async function readKey(q: pg.Pool | pg.PoolClient, key: AttemptKey): Promise<Rows> {
    const { serial, userId, credentialId, identityHash, secretName, proofIdHash, orderId } = key;
    const row = <R>(query: pg.QueryConfig) => q.query<R & pg.QueryResultRow>(query).then((r) => r.rows[0]);
    const reads = [
      () => (serial === undefined ? undefined : row<TokenRow>(sql.tokenBySerial(serial))),
      () => (userId === undefined ? undefined : row<TokenRow>(sql.tokenOfUser(userId))),
      () => (userId === undefined ? null : row<UserRow>(sql.user(userId)).then(userOf)),
      () => (credentialId === undefined ? null : row<CredentialRow>(sql.credentialById(credentialId)).then(credentialOf)),
      () => (identityHash === undefined ? null : row<UserRow>(sql.userByIdentity(identityHash)).then(userOf)),
      () => (secretName === undefined ? null : row<SecretRow>(sql.secret(secretName)).then(secretOf)),
      () => (proofIdHash === undefined ? null : row<ProofRow>(sql.proof(proofIdHash)).then(proofOf)),
      () => (orderId === undefined ? null : row<OrderRow>(sql.order(orderId)).then(orderOf)),
      () => (orderId === undefined || userId === undefined ? 0 : row<{ n: number }>(sql.userOrders(userId)).then((r) => r?.n ?? 0)),
      () => (orderId === undefined || serial === undefined ? null : row<OrderRow>(sql.orderBySerial(serial)).then(orderOf)),
    ] as const;
    // A connection runs one query at a time: in a transaction they are sent in turn.
    const values: unknown[] = [];
    if (q instanceof pg.Pool) values.push(...(await Promise.all(reads.map((read) => read()))));
    else for (const read of reads) values.push(await read());
    const [token, userToken, user, credential, identityUser, secret, proof, order, userOrders, orderOfSerial] = values as [
      TokenRow | undefined,
      TokenRow | undefined,
      UserRecord | null,
      CredentialRecord | null,
      UserRecord | null,
      SealedSeed | null,
      ProofRecord | null,
      OrderRecord | null,
      number,
      OrderRecord | null,
    ];
    return { token, userToken, others: { user, credential, identityUser, secret, proof, order, userOrders, orderOfSerial } };
  }
  /**
   * The rows of `key`, locked until the transaction ends: the credential's row; an advisory lock
   * for each name the key holds (the user, the identity, the secret, the proof: rows that may not
   * exist yet, or whose spending must be decided one at a time — under the user's, its orders are
   * counted one attempt at a time), taken in one order; then the order's row; then the tokens (the
   * order a serial was sent with is decided on under its token's lock).
   */
  async function lockKey(client: pg.PoolClient, key: AttemptKey): Promise<Rows> {
    const { serial, userId, credentialId, identityHash, secretName, proofIdHash, orderId } = key;
    if (onlyTokens(key)) {
      // An attempt on a token alone (every validation): its row, locked, in one statement.
      const token = serial === undefined ? undefined : (await client.query<TokenRow>(sql.tokenForUpdate(serial))).rows[0];
      return { token, userToken: undefined, others: NOTHING_ELSE };
    }
    if (credentialId !== undefined) await client.query(sql.lockCredential(credentialId));
    const names = [
      userId === undefined ? null : `user:${userId}`,
      identityHash === undefined ? null : `identity:${identityHash}`,
      secretName === undefined ? null : `secret:${secretName}`,
      proofIdHash === undefined ? null : `proof:${proofIdHash}`,
    ];
    for (const name of names.filter((n) => n !== null).sort()) await client.query(sql.lockName(name));
    // After the names: an erasure holds its user's name while it deletes the user's orders.
    if (orderId !== undefined) await client.query(sql.lockOrder(orderId));
    if (serial !== undefined || userId !== undefined) await client.query(sql.lockTokens(serial ?? null, userId ?? null));
    return readKey(client, key);
  }

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
        for (const serial of serials) audit.push({ at: origin.at, type: 'import', serial, ip: origin.ip, actor: origin.actor ?? null });
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

    snapshot: (key) => run(async () => snapshotOf(await readKey(pool, key))),

    attempt<T>(key: AttemptKey, decide: (snapshot: Snapshot) => Decision<T>): Promise<T> {
      return transaction(async (client, audit, lane) => {
        const { result, writes } = decide(snapshotOf(await lockKey(client, key)));
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
              lane,
            ),
          );
          if (written.rowCount !== 1) throw unapplied(c);
          return result;
        }
        for (const w of writes) await apply(client, audit, w);
        return result;
      });
    },

    auditArchive: {
      rows: (after, upTo, limit) =>
        run(async () =>
          (await pool.query<ChainRow & { hash: Buffer | null }>(sql.chainRows(after, upTo, limit))).rows.map((r) => ({
            ...r,
            hash: r.hash === null ? null : new Uint8Array(r.hash),
          })),
        ),
      // Inserts take ROW EXCLUSIVE, which SHARE waits for: once it is granted every row there is
      // has committed, and every later one gets a larger id.
      boundary: () =>
        transaction(async (client) => {
          await client.query('LOCK TABLE audit IN SHARE MODE');
          return (await client.query<{ id: number }>(sql.newestAuditId())).rows[0]!.id;
        }),
      lastIdAt: (at) => run(async () => (await pool.query<{ id: number }>(sql.lastAuditIdAt(at))).rows[0]!.id),
      checkpoints: () => run(async () => (await pool.query<StoredCheckpoint>(sql.checkpoints())).rows),
      addCheckpoint: (cp) =>
        run(async () => {
          await pool.query(sql.addCheckpoint(cp.at, cp.upToId, cp.prunedToId, cp.jws));
        }),
      async prune(cp, entry) {
        const prunedTo = cp.prunedToId ?? 0;
        const from = await transaction(async (client, audit) => {
          const start = (await client.query<{ id: number }>(sql.prunedTo())).rows[0]!.id;
          await client.query(sql.addCheckpoint(cp.at, cp.upToId, cp.prunedToId, cp.jws));
          audit.push(entry);
          return start;
        });
        let deleted = 0;
        for (let after = from; after < prunedTo; after += PRUNE_CHUNK) {
          const upTo = Math.min(after + PRUNE_CHUNK, prunedTo);
          deleted += await run(async () => (await pool.query(sql.deleteAudit(after, upTo))).rowCount ?? 0);
        }
        return deleted;
      },
    },

    getUserHistory: (userId) => run(async () => userHistoryOf((await pool.query<UserHistoryRow>(sql.userHistory(userId))).rows)),
    getCredential: ({ tokenHash }) =>
      run(async () => credentialOf((await pool.query<CredentialRow>(sql.credentialByHash(tokenHash))).rows[0])),

    listCredentials: () =>
      run(async () => (await pool.query<CredentialRow>(sql.credentials())).rows.map((r) => credentialOf(r) as CredentialRecord)),

    getOrder: (id) => run(async () => orderOf((await pool.query<OrderRow>(sql.order(id))).rows[0])),
    getOrderByTracking: (hash) => run(async () => orderOf((await pool.query<OrderRow>(sql.orderByTracking(hash))).rows[0])),
    listOrders: ({ status, limit }) =>
      run(async () => {
        const n = Math.min(Math.max(1, Math.floor(limit)), MAX_ORDER_LIMIT);
        const { rows } = await pool.query<OrderRow>(status === undefined ? sql.orders(n) : sql.ordersByStatus(status, n));
        return rows.map((r) => orderOf(r) as OrderRecord);
      }),

    queryAudit: (query) =>
      run(async () => {
        const limit = Math.min(Math.max(1, Math.floor(query.limit ?? 100)), MAX_AUDIT_LIMIT);
        const pseudonym =
          query.userId === undefined
            ? undefined
            : (await pool.query<{ pseudonym: string }>(sql.pseudonymOf(query.userId))).rows[0]?.pseudonym;
        const rows = (await pool.query<AuditRow>(auditQuery(query, pseudonym, limit))).rows;
        const pseudonyms = [...new Set(rows.map((r) => r.user_id).filter(isPseudonym))];
        const users = new Map<string, string | null>(pseudonyms.map((p) => [p, null]));
        if (pseudonyms.length > 0) {
          for (const u of (await pool.query<{ pseudonym: string; user_id: string }>(sql.usersOfPseudonyms(pseudonyms))).rows) {
            users.set(u.pseudonym, u.user_id);
          }
        }
        return rows.map((r) => toEvent(r, users));
      }),

    oidc: createPostgresOidc(pool, run),

    /**
     * Ready when a write could be made now: a connection (within the pool's connection timeout),
     * a transaction that is not read-only (a standby, default_transaction_read_only), and the lock
     * every write takes on the tokens table, within the lock timeout (an ACCESS EXCLUSIVE lock
     * another session holds, say). Rolled back: it writes nothing.
     */
    async ping(): Promise<boolean> {
      let why: string | null;
      try {
        why = await run(async () => {
          const client = await pool.connect();
          let broken: Error | undefined;
          try {
            await client.query('BEGIN');
            await client.query('LOCK TABLE tokens IN ROW EXCLUSIVE MODE');
            const { rows } = await client.query<{ writable: boolean }>(
              "SELECT current_setting('transaction_read_only') = 'off' AS writable",
            );
            return rows[0]?.writable === true ? null : 'the database is read-only';
          } finally {
            await client.query('ROLLBACK').catch((rollbackError: Error) => (broken = rollbackError));
            client.release(broken);
          }
        });
      } catch (e) {
        if (closed) throw e;
        why = (e as Error).message;
      }
      if (why !== notReady) {
        if (why !== null) opts.log?.warn({ reason: why }, 'the database is not ready');
        else opts.log?.info({}, 'the database is ready again');
        notReady = why;
      }
      return why === null;
    },

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
