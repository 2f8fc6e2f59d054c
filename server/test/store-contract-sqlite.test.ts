// The TokenStore contract suite (store-contract.ts) on the SQLite store: a fresh file per test,
// a second better-sqlite3 connection for the raw SQL, a second store on the same file as the
// "other instance".
import t from 'tap';
import { sqliteUnderTest } from './helpers/stores.js';
import { storeContract, type ContractStore } from './store-contract.js';

storeContract(t, 'SQLite', async (t) => {
  const { store, another, raw } = sqliteUnderTest(t, { foreignKeys: true });
  const contractStore: ContractStore = { ...store, raw, another };
  return contractStore;
});
