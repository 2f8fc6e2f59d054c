// The audit log's chains, checkpoints and archive (audit-log-contract.ts) on the PostgreSQL store,
// whose rows are hashed by the database's trigger: the verifier in JS checks that implementation.
import t from 'tap';
import { requirePostgres } from './helpers/postgres.js';
import { postgresUnderTest } from './helpers/stores.js';
import { auditLogContract } from './audit-log-contract.js';

if (await requirePostgres(t)) {
  auditLogContract(t, 'PostgreSQL', async (t) => {
    const { store, client, another, raw } = await postgresUnderTest(t);
    return {
      store,
      another,
      raw,
      tamper: async (sql) => {
        await client.query('BEGIN');
        await client.query('ALTER TABLE audit DISABLE TRIGGER USER');
        await client.query(sql);
        await client.query('ALTER TABLE audit ENABLE TRIGGER USER');
        await client.query('COMMIT');
      },
    };
  });
}
