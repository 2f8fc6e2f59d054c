/**
 * The SQLite store's audit log: appending rows, each token's chain of them, and the queries.
 *
 * Why a chain (sqlite-schema.ts, migration 3): every page a transaction dirties is written to
 * the log at commit and copied back at checkpoint, so an accept should dirty only its token's
 * page and the audit log's last pages, not indexes keyed by serial and user. A row about a token
 * and its own user (or no user) links to the token's previous one, the token keeps the newest;
 * every other row is unchained and found through a partial index.
 */
import type Database from 'better-sqlite3';
import type { AuditEvent, AuditQuery } from '../domain/types.js';
import { chainHash, GENESIS, type ChainContent, type ChainRow } from './audit-chain.js';
import { isPseudonym, MAX_AUDIT_LIMIT, toEvent, type AuditRow } from './audit-rows.js';
import { exactMovingFactorSql, readMovingFactor, serialKey } from './sqlite-rows.js';
import type { AuditEntry, StoredCheckpoint } from './types.js';

/** Where a token's chain ends, as a read inside the write transaction found it. */
export interface ChainHead {
  /** The token's key in the tokens table (serialKey). */
  key: number;
  lastAuditId: number | null;
  /** The user of the token's assignment, active or not. */
  owner: string | null;
  /** The owner's pseudonym, which its rows carry (migration 8). */
  pseudonym: string | null;
}

/** Where this connection's lane stood at a savepoint (opaque). */
export type LaneMark = unknown;

export interface SqliteAuditLog {
  /** To call at each write transaction's BEGIN: the newest id is read again in it. */
  begin(): void;
  /** To call when the write transaction rolled back: the lane's head goes back to where BEGIN found it. */
  rollback(): void;
  /** Where the lane stands now, for `restore` after a savepoint rolled back. */
  mark(): LaneMark;
  restore(mark: LaneMark): void;
  /** Appends a row, to its token's chain when it belongs there. */
  append(e: AuditEntry): void;
  /** Whether a row of `userId` about a token whose chain is `head` joins that chain. */
  joins(head: ChainHead, userId: string | null | undefined): boolean;
  /**
   * The id the next row will take. The one-step accept names its row's id before inserting it,
   * the id SQLite would give it (the largest plus one); reading MAX(id) in every accept's
   * statement cost ~2 µs, once per transaction costs nothing. Only this connection writes while
   * it holds the write lock, and a savepoint rolled back after an insert leaves the count ahead:
   * a gap, never a duplicate.
   */
  nextId(): number;
  /** Appends the row `id` (from nextId) to the chain at `head`, whose token already points at it. */
  appendChained(id: number, e: AuditEntry, head: ChainHead): void;
  query(q: AuditQuery): AuditEvent[];
  /** The audit archive's reads and writes, each synchronous: the store runs them as its reads and writes. */
  archive: {
    rows(after: number, upTo: number, limit: number): ChainRow[];
    newestId(): number;
    lastIdAt(at: number): number;
    checkpoints(): StoredCheckpoint[];
    addCheckpoint(cp: Omit<StoredCheckpoint, 'id'>): void;
    /** Deletes the rows of ids in (after, upTo]; the trigger refuses those no checkpoint archived. */
    deleteRows(after: number, upTo: number): number;
  };
}

/** An audit row's columns, its moving factor read exactly (sqlite-rows.ts exactMovingFactorSql). */
const ROW_COLUMNS = `id, at, type, serial, user_id, ip, actor, reason, ${exactMovingFactorSql('moving_factor')} AS moving_factor, repeats`;

/** A row as read with ROW_COLUMNS: a moving factor above 2^53 − 1 as its decimal text. */
type ReadRow<R extends { moving_factor: unknown }> = Omit<R, 'moving_factor'> & { moving_factor: number | string | null };
const exactRow = <R extends { moving_factor: unknown }>(r: ReadRow<R>): R =>
  (typeof r.moving_factor === 'string' ? { ...r, moving_factor: readMovingFactor(r.moving_factor) } : r) as R;

/** The rows one audit query reads at most (a walk of chains on the event loop: ~1 µs a row). */
export const MAX_AUDIT_SCAN = 100_000;

export function createSqliteAuditLog(
  db: Database.Database,
  warn?: (obj: object, msg: string) => void,
  maxScan: number = MAX_AUDIT_SCAN,
): SqliteAuditLog {
  const sql = {
    lastAuditId: db.prepare('SELECT COALESCE(MAX(id), 0) FROM audit').pluck(),
    insert: db.prepare(`INSERT INTO audit (id, at, type, serial, user_id, ip, actor, reason, moving_factor, repeats, lane, hash,
      chained, prev_id) VALUES (@id, @at, @type, @serial, @user_id, @ip, @actor, @reason, @moving_factor, @repeats, @lane, @hash,
      @chained, @prev_id)`),
    claimLane: db.prepare('INSERT INTO audit_lanes (opened_at) VALUES (?)'),
    chainRows: db.prepare(`SELECT ${ROW_COLUMNS}, lane, hash FROM audit WHERE id > ? AND id <= ? ORDER BY id LIMIT ?`),
    lastIdAt: db.prepare('SELECT COALESCE(MAX(id), 0) FROM audit WHERE at < ?').pluck(),
    checkpoints: db.prepare('SELECT id, at, up_to_id AS upToId, pruned_to_id AS prunedToId, jws FROM audit_checkpoints ORDER BY id'),
    addCheckpoint: db.prepare('INSERT INTO audit_checkpoints (at, up_to_id, pruned_to_id, jws) VALUES (?, ?, ?, ?)'),
    deleteRows: db.prepare('DELETE FROM audit WHERE id > ? AND id <= ?'),
    prunedTo: db.prepare('SELECT COALESCE(MAX(pruned_to_id), 0) FROM audit_checkpoints').pluck(),
    head: db
      .prepare(
        'SELECT t.last_audit_id, a.user_id, a.pseudonym FROM tokens t LEFT JOIN assignments a ON a.serial = t.serial WHERE t.serial_key = ?',
      )
      .raw(),
    setHead: db.prepare('UPDATE tokens SET last_audit_id = ? WHERE serial_key = ?'),
    row: db.prepare(`SELECT ${ROW_COLUMNS}, prev_id FROM audit WHERE id = ?`),
    pseudonymOf: db.prepare('SELECT pseudonym FROM users WHERE user_id = ?').pluck(),
    userOfPseudonym: db.prepare('SELECT user_id FROM users WHERE pseudonym = ?').pluck(),
    tokensEverOfUser: db.prepare('SELECT serial FROM assignments WHERE user_id = ?').pluck(),
  };
  let lastId: number | null = null;
  /**
   * This connection's lane (audit-chain.ts) and its head, replaced (never changed) by each
   * append so that a mark is the object itself; claimed inside the first write transaction that
   * appends, so a rollback of that transaction takes the claim back too.
   */
  type Lane = { id: number; head: Uint8Array } | null;
  let lane: Lane = null;
  let atBegin: Lane = null;
  /** The row ids up to which the log was pruned: a chain that reaches them ends there, whole. */
  let prunedTo = sql.prunedTo.get() as number;
  const headOf = (key: number): ChainHead | null => {
    const h = sql.head.get(key) as [number | null, string | null, string | null] | undefined;
    return h === undefined ? null : { key, lastAuditId: h[0], owner: h[1], pseudonym: h[2] };
  };
  const joins = (head: ChainHead, userId: string | null | undefined): boolean => userId == null || userId === head.owner;

  // Without a serial or user: the log itself, newest first, one statement per filter so each uses its index.
  const statements = new Map<string, Database.Statement>();
  const statement = (where: string): Database.Statement => {
    let stmt = statements.get(where);
    if (!stmt) {
      stmt = db.prepare(`SELECT ${ROW_COLUMNS} FROM audit ${where ? `WHERE ${where}` : ''} ORDER BY id DESC LIMIT @limit`);
      statements.set(where, stmt);
    }
    return stmt;
  };
  /**
   * A token's chain, newest first. A link to a row that is not there (an insert lost, a damaged
   * file), or not older than the row before (ids only grow), ends the walk and is reported: the
   * rows past it cannot be found this way, and the walk must not go on for ever.
   */
  function* chainOf(serial: string): Generator<ReadRow<AuditRow>> {
    let id = headOf(serialKey(serial))?.lastAuditId ?? null;
    let newer = Number.POSITIVE_INFINITY;
    while (id !== null) {
      const row = id < newer ? (sql.row.get(id) as (ReadRow<AuditRow> & { prev_id: number | null }) | undefined) : undefined;
      if (row === undefined && id < newer && id <= (prunedTo = Math.max(prunedTo, sql.prunedTo.get() as number))) return;
      if (row === undefined) {
        warn?.({ serial, at: id }, `audit chain of token ${serial} broken at row ${id}: the older rows of its chain are not searched`);
        return;
      }
      yield row;
      newer = id;
      id = row.prev_id;
    }
  }
  /** The rows `q` asks for; a user's are those naming its pseudonym or, from before it existed, its user ID. */
  function queryRows(q: AuditQuery, pseudonym: string | undefined, limit: number): Array<ReadRow<AuditRow>> {
    const since = q.since !== undefined ? 'at >= @since' : '';
    if (q.serial === undefined && q.userId === undefined)
      return statement(since).all({ since: q.since, limit }) as Array<ReadRow<AuditRow>>;
    // The sources, each newest first: the chains of the token (or of every token the user ever
    // had), and the rows outside any chain from their partial index.
    const unchained =
      q.serial !== undefined
        ? ['chained = 0', 'serial = @serial', q.userId !== undefined ? 'user_id IN (@pseudonym, @userId)' : '', since]
        : ['chained = 0', 'user_id IN (@pseudonym, @userId)', since];
    const serials = q.serial !== undefined ? [q.serial] : (sql.tokensEverOfUser.all(q.userId) as string[]);
    const keep = (r: ReadRow<AuditRow>): boolean =>
      (q.userId === undefined || r.user_id === pseudonym || r.user_id === q.userId) && (q.since === undefined || r.at >= q.since);
    const params = { serial: q.serial, userId: q.userId, pseudonym, since: q.since, limit };
    const sources: Array<Iterator<ReadRow<AuditRow>>> = [
      (statement(unchained.filter(Boolean).join(' AND ')).all(params) as Array<ReadRow<AuditRow>>).values(),
      ...serials.map((serial) => chainOf(serial)),
    ];
    // Merge by id, newest first, taking only the rows the filters keep. The chains are walked on
    // the event loop, so a query reads at most `maxScan` rows (a filter that keeps nothing of a
    // long chain would read all of it) and ends there, saying so in the log.
    let scanned = 0;
    const heads: Array<ReadRow<AuditRow> | undefined> = sources.map(() => undefined);
    const advance = (i: number): void => {
      for (;;) {
        if (scanned >= maxScan) {
          if (scanned++ === maxScan) warn?.({ maxScan }, `an audit query read ${maxScan} rows and stopped there: narrow it (since)`);
          heads[i] = undefined;
          return;
        }
        const r = sources[i]!.next();
        scanned++;
        if (r.done) {
          heads[i] = undefined;
          return;
        }
        if (keep(r.value)) {
          heads[i] = r.value;
          return;
        }
      }
    };
    sources.forEach((_, i) => advance(i));
    const rows: Array<ReadRow<AuditRow>> = [];
    while (rows.length < limit) {
      let newest = -1;
      for (let i = 0; i < heads.length; i++) if (heads[i] && (newest < 0 || heads[i]!.id > heads[newest]!.id)) newest = i;
      if (newest < 0) break;
      rows.push(heads[newest]!);
      advance(newest);
    }
    return rows;
  }

  /** Writes row `r` (its user as stored) to the lane, hashed after the lane's head. */
  const insert = (r: Omit<ChainContent, 'lane'>, chained: boolean, prevId: number | null): void => {
    if (lane === null) lane = { id: Number(sql.claimLane.run(r.at).lastInsertRowid), head: GENESIS };
    const row = { ...r, lane: lane.id };
    const hash = chainHash(lane.head, row);
    sql.insert.run({ ...row, hash, chained: chained ? 1 : 0, prev_id: prevId });
    lane = { id: lane.id, head: hash };
    lastId = r.id;
  };
  const content = (id: number, e: AuditEntry, userId: string | null): Omit<ChainContent, 'lane'> => ({
    id,
    at: e.at,
    type: e.type,
    serial: e.serial ?? null,
    user_id: userId,
    ip: e.ip ?? null,
    actor: e.actor ?? null,
    reason: e.reason ?? null,
    moving_factor: e.movingFactor ?? null,
    repeats: e.repeats ?? 1,
  });
  const nextId = (): number => (lastId ??= sql.lastAuditId.get() as number) + 1;

  return {
    begin() {
      lastId = null;
      atBegin = lane;
    },
    rollback() {
      lastId = null;
      lane = atBegin;
    },
    mark: () => lane,
    restore(mark) {
      lastId = null;
      lane = mark as Lane;
    },
    joins,
    append(e) {
      const serial = e.serial ?? null;
      const userId = e.userId ?? null;
      const head = serial === null ? null : headOf(serialKey(serial));
      const chained = head !== null && joins(head, userId);
      const id = nextId();
      // A user is written as its pseudonym; a user ID no user has, as it was given.
      const stored = userId === null ? null : ((sql.pseudonymOf.get(userId) as string | undefined) ?? userId);
      insert(content(id, e, stored), chained, chained ? head.lastAuditId : null);
      if (chained) sql.setHead.run(id, head.key);
    },
    nextId,
    appendChained(id, e, head) {
      // the owner's (joins: a chained row names no user or the token's owner)
      insert(content(id, e, e.userId == null ? null : (head.pseudonym ?? e.userId)), true, head.lastAuditId);
    },
    query(q) {
      const limit = Math.min(Math.max(1, Math.floor(q.limit ?? 100)), MAX_AUDIT_LIMIT);
      const pseudonym = q.userId === undefined ? undefined : ((sql.pseudonymOf.get(q.userId) as string | undefined) ?? q.userId);
      const rows = queryRows(q, pseudonym, limit);
      const users = new Map<string, string | null>();
      for (const r of rows) {
        if (isPseudonym(r.user_id) && !users.has(r.user_id)) {
          users.set(r.user_id, (sql.userOfPseudonym.get(r.user_id) as string | undefined) ?? null);
        }
      }
      return rows.map((r) => toEvent(exactRow<AuditRow>(r), users));
    },
    archive: {
      rows: (after, upTo, limit) =>
        (sql.chainRows.all(after, upTo, limit) as Array<ReadRow<ChainRow> & { hash: Buffer | null }>).map((r) => ({
          ...exactRow<ChainRow>(r),
          hash: r.hash === null ? null : new Uint8Array(r.hash),
        })),
      newestId: () => sql.lastAuditId.get() as number,
      lastIdAt: (at) => sql.lastIdAt.get(at) as number,
      checkpoints: () => sql.checkpoints.all() as StoredCheckpoint[],
      addCheckpoint: (cp) => void sql.addCheckpoint.run(cp.at, cp.upToId, cp.prunedToId, cp.jws),
      deleteRows(after, upTo) {
        const n = sql.deleteRows.run(after, upTo).changes;
        prunedTo = Math.max(prunedTo, upTo);
        return n;
      },
    },
  };
}
