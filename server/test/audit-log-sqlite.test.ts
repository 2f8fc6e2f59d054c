// The audit log's chains, checkpoints and archive (audit-log-contract.ts) on the SQLite store.
import t from 'tap';
import { sqliteUnderTest } from './helpers/stores.js';
import { auditLogContract } from './audit-log-contract.js';

auditLogContract(t, 'SQLite', async (t) => {
  const { store, db, another, raw } = sqliteUnderTest(t);
  return {
    store,
    another,
    raw,
    tamper: async (sql) => {
      const triggers = db.prepare(`SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit'`).all() as Array<{
        name: string;
        sql: string;
      }>;
      db.transaction(() => {
        for (const tr of triggers) db.exec(`DROP TRIGGER ${tr.name}`);
        db.exec(sql);
        for (const tr of triggers) db.exec(tr.sql);
      })();
    },
  };
});
