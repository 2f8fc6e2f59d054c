/**
 * The store a database URL names — `sqlite:<path>` (the embedded default) or
 * `postgres://…` / `postgresql://…` (several instances over one database) — opened and migrated,
 * so the process, the benchmarks and the tests all choose a store the same way, by DATABASE_URL
 * (parsed by config.ts, which also resolves a relative SQLite path).
 */
import { parseDatabaseUrl, type DatabaseConfig, type StoreTimeouts } from '../config.js';
import { openPostgresStore, type PostgresStoreOptions } from './postgres.js';
import { openSqliteStore, type SqliteStoreOptions } from './sqlite.js';
import type { TokenStore } from './types.js';

/** Where a store tells what no request hears of: readiness changes, a pooled connection lost (pino's Logger is one). */
export interface StoreLog {
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
}

export interface OpenStoreOptions {
  sqlite?: SqliteStoreOptions;
  postgres?: PostgresStoreOptions;
}

/** The options of either store from the configuration's timeouts (config.ts: KODEVISER_SQLITE_BUSY_TIMEOUT_MS, KODEVISER_PG_*). */
export function storeOptions(timeouts: StoreTimeouts | undefined, log?: StoreLog): OpenStoreOptions {
  const logged = log === undefined ? {} : { log };
  if (timeouts === undefined) return { sqlite: logged, postgres: logged };
  return {
    sqlite: { busyTimeoutMs: timeouts.sqliteBusyMs, ...logged },
    postgres: { statementTimeoutMs: timeouts.pgStatementMs, lockTimeoutMs: timeouts.pgLockMs, ...logged },
  };
}

/** Rejects with KodeviserError ERR_ARGUMENT for a URL of no known kind, or the driver's error when the database cannot be opened. */
export async function openStore(database: string | DatabaseConfig, opts: OpenStoreOptions = {}): Promise<TokenStore> {
  const db = typeof database === 'string' ? parseDatabaseUrl(database, process.cwd()) : database;
  return db.kind === 'sqlite' ? openSqliteStore(db.path, opts.sqlite) : openPostgresStore(db.url, opts.postgres);
}
