/**
 * A store under test on a fresh database, with what the contract suites need beside it: other
 * stores over the same database (other server instances) and a connection of its own for raw
 * SQL. Everything is closed when `t` ends.
 */
import Database from 'better-sqlite3';
import pg from 'pg';
import { openPostgresStore } from '../../src/store/postgres.js';
import { openSqliteStore } from '../../src/store/sqlite.js';
import type { TokenStore } from '../../src/store/types.js';
import { tempDbPath, type TapLike } from './db.js';
import { tempSchema } from './postgres.js';

export interface StoreUnderTest {
  store: TokenStore;
  /** Another store over the same database. */
  another(): Promise<TokenStore>;
  /** One SQL statement on the raw connection: the rows it reads (none for a write). */
  raw(sql: string): Promise<Record<string, unknown>[]>;
}

/** A SQLite file of its own; `foreignKeys`: the raw connection enforces them too. */
export function sqliteUnderTest(t: TapLike, opts: { foreignKeys?: boolean } = {}): StoreUnderTest & { db: Database.Database } {
  const path = tempDbPath(t);
  const stores: TokenStore[] = [];
  const openOne = (): TokenStore => {
    const s = openSqliteStore(path);
    stores.push(s);
    return s;
  };
  const store = openOne();
  const db = new Database(path);
  if (opts.foreignKeys === true) db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  t.teardown(async () => {
    for (const s of stores) await s.close();
    db.close();
  });
  return {
    store,
    db,
    another: async () => openOne(),
    raw: async (sql) => {
      const stmt = db.prepare(sql);
      if (stmt.reader) return stmt.all() as Record<string, unknown>[];
      stmt.run();
      return [];
    },
  };
}

/**
 * Runs `sql` on a SQLite database with the audit log's append-only triggers lifted, and puts them
 * back: what someone who can write the file could do.
 */
export function tamperSqlite(db: Database.Database, sql: string): void {
  const triggers = db.prepare(`SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit'`).all() as Array<{
    name: string;
    sql: string;
  }>;
  db.transaction(() => {
    for (const tr of triggers) db.exec(`DROP TRIGGER ${tr.name}`);
    db.exec(sql);
    for (const tr of triggers) db.exec(tr.sql);
  })();
}

/** A PostgreSQL schema of its own (dropped at the end). */
export async function postgresUnderTest(t: TapLike): Promise<StoreUnderTest & { client: pg.Client }> {
  const { url } = await tempSchema(t);
  const stores: TokenStore[] = [];
  const openOne = async (): Promise<TokenStore> => {
    const s = await openPostgresStore(url, { poolSize: 4 });
    stores.push(s);
    return s;
  };
  const store = await openOne();
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  t.teardown(async () => {
    for (const s of stores) await s.close();
    await client.end();
  });
  return { store, client, another: openOne, raw: async (sql) => (await client.query(sql)).rows as Record<string, unknown>[] };
}
