// The audit log's chains, checkpoints and archive (audit-log-contract.ts) on the SQLite store.
import t from 'tap';
import Database from 'better-sqlite3';
import { openSqliteStore } from '../src/store/sqlite.js';
import type { TokenStore } from '../src/store/types.js';
import { tempDbPath } from './helpers/db.js';
import { auditLogContract } from './audit-log-contract.js';

auditLogContract(t, 'SQLite', async (t) => {
  const path = tempDbPath(t);
  const stores: TokenStore[] = [];
  const openOne = (): TokenStore => {
    const s = openSqliteStore(path);
    stores.push(s);
    return s;
  };
  const store = openOne();
  const raw = new Database(path);
  raw.pragma('busy_timeout = 5000');
  t.teardown(async () => {
    for (const s of stores) await s.close();
    raw.close();
  });
  const run = (sql: string): Record<string, unknown>[] => {
    const stmt = raw.prepare(sql);
    if (stmt.reader) return stmt.all() as Record<string, unknown>[];
    stmt.run();
    return [];
  };
  return {
    store,
    another: async () => openOne(),
    raw: async (sql) => run(sql),
    tamper: async (sql) => {
      const triggers = raw.prepare(`SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit'`).all() as Array<{
        name: string;
        sql: string;
      }>;
      raw.transaction(() => {
        for (const tr of triggers) raw.exec(`DROP TRIGGER ${tr.name}`);
        run(sql);
        for (const tr of triggers) raw.exec(tr.sql);
      })();
    },
  };
});
