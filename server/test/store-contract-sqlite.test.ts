// The TokenStore contract suite (store-contract.ts) on the SQLite store: a fresh file per test,
// a second better-sqlite3 connection for the raw SQL, a second store on the same file as the
// "other instance".
import t from 'tap';
import Database from 'better-sqlite3';
import { openSqliteStore } from '../src/store/sqlite.js';
import type { TokenStore } from '../src/store/types.js';
import { tempDbPath } from './helpers/db.js';
import { storeContract, type ContractStore } from './store-contract.js';

storeContract(t, 'SQLite', async (t) => {
  const path = tempDbPath(t);
  const stores: TokenStore[] = [];
  const openOne = (): TokenStore => {
    const s = openSqliteStore(path);
    stores.push(s);
    return s;
  };
  const store = openOne();
  const raw = new Database(path);
  raw.pragma('foreign_keys = ON');
  raw.pragma('busy_timeout = 5000');
  t.teardown(async () => {
    for (const s of stores) await s.close();
    raw.close();
  });
  const contractStore: ContractStore = {
    ...store,
    raw: async (sql: string) => {
      const stmt = raw.prepare(sql);
      if (stmt.reader) return stmt.all() as Record<string, unknown>[];
      stmt.run();
      return [];
    },
    another: async () => openOne(),
  };
  return contractStore;
});
