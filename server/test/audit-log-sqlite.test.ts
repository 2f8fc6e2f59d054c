// The audit log's chains, checkpoints and archive (audit-log-contract.ts) on the SQLite store.
import t from 'tap';
import { sqliteUnderTest, tamperSqlite } from './helpers/stores.js';
import { auditLogContract } from './audit-log-contract.js';

auditLogContract(t, 'SQLite', async (t) => {
  const { store, db, another, raw } = sqliteUnderTest(t);
  return {
    store,
    another,
    raw,
    tamper: async (sql) => tamperSqlite(db, sql),
  };
});
