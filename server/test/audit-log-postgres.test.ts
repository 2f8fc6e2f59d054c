// The audit log's chains, checkpoints and archive (audit-log-contract.ts) on the PostgreSQL store,
// whose rows are hashed by the database's trigger: the verifier in JS checks that implementation.
import t from 'tap';
import pg from 'pg';
import { openPostgresStore } from '../src/store/postgres.js';
import type { TokenStore } from '../src/store/types.js';
import { requirePostgres, tempSchema } from './helpers/postgres.js';
import { auditLogContract } from './audit-log-contract.js';

if (await requirePostgres(t)) {
  auditLogContract(t, 'PostgreSQL', async (t) => {
    const { url } = await tempSchema(t);
    const stores: TokenStore[] = [];
    const openOne = async (): Promise<TokenStore> => {
      const s = await openPostgresStore(url, { poolSize: 4 });
      stores.push(s);
      return s;
    };
    const store = await openOne();
    const raw = new pg.Client({ connectionString: url });
    await raw.connect();
    t.teardown(async () => {
      for (const s of stores) await s.close();
      await raw.end();
    });
    return {
      store,
      another: openOne,
      raw: async (sql) => (await raw.query(sql)).rows as Record<string, unknown>[],
      tamper: async (sql) => {
        await raw.query('BEGIN');
        await raw.query('ALTER TABLE audit DISABLE TRIGGER USER');
        await raw.query(sql);
        await raw.query('ALTER TABLE audit ENABLE TRIGGER USER');
        await raw.query('COMMIT');
      },
    };
  });
}
