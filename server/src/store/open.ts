/**
 * The store a database URL names — `sqlite:<path>` (the embedded default) or
 * `postgres://…` / `postgresql://…` (several instances over one database) — opened and migrated,
 * so the process, the benchmarks and the tests all choose a store the same way, by DATABASE_URL
 * (parsed by config.ts, which also resolves a relative SQLite path).
 */
import { parseDatabaseUrl, type DatabaseConfig } from '../config.js';
import { openPostgresStore, type PostgresStoreOptions } from './postgres.js';
import { openSqliteStore, type SqliteStoreOptions } from './sqlite.js';
import type { TokenStore } from './types.js';

export interface OpenStoreOptions {
  sqlite?: SqliteStoreOptions;
  postgres?: PostgresStoreOptions;
}

/** Rejects with KodeviserError ERR_ARGUMENT for a URL of no known kind, or the driver's error when the database cannot be opened. */
export async function openStore(database: string | DatabaseConfig, opts: OpenStoreOptions = {}): Promise<TokenStore> {
  const db = typeof database === 'string' ? parseDatabaseUrl(database, process.cwd()) : database;
  return db.kind === 'sqlite' ? openSqliteStore(db.path, opts.sqlite) : openPostgresStore(db.url, opts.postgres);
}
