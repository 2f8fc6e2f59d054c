// The TokenStore contract suite (store-contract.ts) on the PostgreSQL store, each test in a
// schema of its own (dropped at its end), plus what only PostgreSQL has: the migrations table
// and its advisory lock (three stores opening one empty schema at once), the refusal of
// synchronous_commit = off, and the plain skip when no PostgreSQL answers.
import t, { type Test } from 'tap';
import { createServer } from 'node:net';
import pg from 'pg';
import { verifyLog } from '../src/audit-log.js';
import { checkpointKey } from '../src/security/audit-checkpoint.js';
import { openPostgresStore } from '../src/store/postgres.js';
import { PG_MIGRATIONS, migratePostgres } from '../src/store/postgres-schema.js';
import { openStore } from '../src/store/open.js';
import type { TokenStore } from '../src/store/types.js';
import { checkMigratedDrift, v1TokenRow } from './helpers/migrated-drift.js';
import { PG_URL, postgresUnreachable, requirePostgres, skipMessage, tempSchema, withSearchPath } from './helpers/postgres.js';
import { postgresUnderTest } from './helpers/stores.js';
import { storeContract, row, serial, type ContractStore } from './store-contract.js';

t.test('an unreachable PostgreSQL is a plainly named skip, within about 2 s', async (t) => {
  const started = process.hrtime.bigint();
  t.match(
    await skipMessage('postgres://postgres@127.0.0.1:1/test'),
    /^PostgreSQL not reachable at postgres:\/\/postgres@127\.0\.0\.1:1\/test \(.+\): the PostgreSQL suite skipped$/,
  );
  t.ok(process.hrtime.bigint() - started < 5_000_000_000n, 'does not hang');
  t.notMatch(await skipMessage('postgres://postgres:secret@127.0.0.1:1/test', 'x'), 'secret', 'a password in the URL is not printed');
  // A peer that accepts the connection and never answers: the connect timeout ends the wait.
  const silent = createServer(() => undefined);
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  const port = (silent.address() as { port: number }).port;
  t.match(await postgresUnreachable(`postgres://postgres@127.0.0.1:${port}/test`, 300), /timeout/i, 'a silent server: the connect timeout');
  silent.close();
});

if (await requirePostgres(t)) {
  storeContract(t, 'PostgreSQL', async (t) => {
    const { store, another, raw } = await postgresUnderTest(t);
    const contractStore: ContractStore = { ...store, raw, another };
    return contractStore;
  });

  t.test('three instances opening one empty schema at once migrate it once', async (t) => {
    const { url } = await tempSchema(t);
    const stores = await Promise.all([1, 2, 3].map(() => openStore(url)));
    t.teardown(() => Promise.all(stores.map((s) => s.close())));
    const peek = new pg.Client({ connectionString: url });
    await peek.connect();
    t.teardown(() => peek.end());
    t.same((await peek.query('SELECT version, name FROM kodeviser_migrations ORDER BY version')).rows, [
      { version: 1, name: 'tokens, users, assignments, audit' },
      { version: 2, name: 'tokens: clock offset (ms) and rate (ppm)' },
      { version: 3, name: 'credentials' },
      { version: 4, name: 'identities: users without a password yet, linked to an identity; proofs; sealed secrets' },
      { version: 5, name: 'life cycle: which device replaced an assignment; when a user was created' },
      { version: 6, name: 'audit rows name users by pseudonym, so that erasing a user leaves the log untouched' },
      { version: 7, name: 'credentials: a metrics role; a service credential scoped to a range of serials' },
      { version: 8, name: 'users: wrong codes in the current window (the guessing budget an accept does not reset)' },
      { version: 9, name: 'audit: hash chains per lane (tamper-evident), repeats counted, checkpoints, pruning of archived rows' },
      { version: 10, name: 'orders of code displays' },
      { version: 11, name: "the OpenID provider's entries" },
    ]);
    await (stores[0] as TokenStore).insertTokens([row(1)], { at: 0, ip: null });
    t.equal((await (stores[2] as TokenStore).getToken(serial(1)))?.serial, serial(1), 'all three work on the same tables');
    t.same(await migratePostgres(await peekClient(t, url)), [], 'nothing left to apply');
    await t.rejects(peek.query('TRUNCATE audit'), /append-only/, 'TRUNCATE is refused too');
  });

  t.test('a failing migration leaves nothing behind; later ones apply in order', async (t) => {
    const { url } = await tempSchema(t);
    const client = await peekClient(t, url);
    await t.rejects(
      migratePostgres(client, [...PG_MIGRATIONS, { version: 100, name: 'broken', sql: 'CREATE TABLE extra (x int); nonsense' }]),
      /syntax error/,
    );
    t.same(
      (await client.query(`SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = current_schema()`)).rows,
      [{ n: 0 }],
      'not even migration 1',
    );
    t.same(
      await migratePostgres(client, [{ version: 100, name: 'extra', sql: 'CREATE TABLE extra (x int)' }, ...PG_MIGRATIONS]),
      [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 100],
    );
    t.same(await migratePostgres(client), []);
  });

  t.test('migration 6 pseudonymises the audit rows of users, once; erasure then leaves them naming nobody', async (t) => {
    const { url } = await tempSchema(t);
    const client = await peekClient(t, url);
    await migratePostgres(
      client,
      PG_MIGRATIONS.filter((m) => m.version <= 5),
    );
    await client.query(`
      INSERT INTO users (user_id, password_hash, updated_at, created_at) VALUES ('alice', 'h', 0, 0), ('bob', 'h', 0, 0);
      INSERT INTO audit (at, type, serial, user_id) VALUES (1, 'accept', NULL, 'alice'), (2, 'reject', NULL, 'bob'),
        (3, 'reject', NULL, 'nobody'), (4, 'import', NULL, NULL);
    `);
    t.same(await migratePostgres(client), [6, 7, 8, 9, 10, 11]);
    const rows = (await client.query('SELECT user_id FROM audit ORDER BY id')).rows.map((r) => r.user_id);
    const pseudonyms = (await client.query('SELECT pseudonym FROM users ORDER BY user_id')).rows.map((r) => r.pseudonym);
    t.match(pseudonyms, [/^u [0-9a-f]{32}$/, /^u [0-9a-f]{32}$/]);
    t.not(pseudonyms[0], pseudonyms[1], 'one per user');
    t.same(rows, [pseudonyms[0], pseudonyms[1], 'nobody', null], "users' rows by pseudonym; a user ID no user had, as typed");
    await t.rejects(client.query(`UPDATE audit SET user_id = 'x'`), /append-only/, 'the log is append-only again');

    const store = await openPostgresStore(url, { poolSize: 2 });
    t.teardown(() => store.close());
    t.same(
      (await store.queryAudit({})).map((e) => e.userId),
      [null, 'nobody', 'bob', 'alice'],
      'shown by user ID while mapped',
    );
    await store.attempt({ userId: 'alice' }, () => ({ result: null, writes: [{ kind: 'erase-user', userId: 'alice' }] }));
    t.same(
      (await store.queryAudit({})).map((e) => e.userId),
      [null, 'nobody', 'bob', null],
      "erased: alice's row naming nobody",
    );
    t.same(await store.queryAudit({ userId: 'alice' }), []);
    // Migration 9 chained the rows from before it in a lane of their own; later rows in the store's.
    await store.attempt({}, () => ({ result: null, writes: [{ kind: 'audit', entry: { at: 5, type: 'reject', reason: 'later' } }] }));
    const chain = await verifyLog(store.auditArchive, await checkpointKey(new Uint8Array(32)));
    t.same(chain.breaks, [], 'the whole log verifies, old rows and new');
    t.same([chain.rows, chain.heads.size], [5, 2], 'the four rows from before in one lane, the later one in another');
  });

  t.test('a version-1 database with a whole-step drift opens and keeps accepting', async (t) => {
    const { url } = await tempSchema(t);
    const client = await peekClient(t, url);
    t.same(
      await migratePostgres(
        client,
        PG_MIGRATIONS.filter((m) => m.version === 1),
      ),
      [1],
    );
    const row = v1TokenRow();
    await client.query(
      `INSERT INTO tokens (serial, profile, digits, step, t0, seed_ciphertext, seed_nonce, key_version,
      last_moving_factor, drift, imported_at, last_used_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
      Object.values(row),
    );
    const store = await openPostgresStore(url, { poolSize: 2 });
    t.teardown(() => store.close());
    await checkMigratedDrift(t, store);
    t.same(
      (await client.query('SELECT drift::int FROM tokens')).rows,
      [{ drift: 4 }],
      'the whole-step column is still written, for the previous server',
    );
  });

  t.test("migration 11 adds the OpenID provider's entries to a database of version 10, its rows untouched", async (t) => {
    const { url } = await tempSchema(t);
    const client = await peekClient(t, url);
    t.same(
      await migratePostgres(
        client,
        PG_MIGRATIONS.filter((m) => m.version <= 10),
      ),
      [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
    );
    await client.query(`INSERT INTO users (user_id, password_hash, updated_at, created_at) VALUES ('alice', 'h', 0, 0)`);
    await t.rejects(client.query('SELECT 1 FROM oidc_entries'), /does not exist/, 'not there before');
    t.same(await migratePostgres(client), [11]);
    const store = await openPostgresStore(url, { poolSize: 2 });
    t.teardown(() => store.close());
    t.match((await store.snapshot({ userId: 'alice' })).user, { userId: 'alice', passwordHash: 'h' }, 'the rows from before are there');
    await store.oidc.upsert('Session', 's1', { uid: 'u1' }, null);
    t.same(await store.oidc.findBy('Session', 'uid', 'u1', 0), { payload: { uid: 'u1' }, expiresAt: null, consumedAt: null });
    t.same(
      (
        await client.query(
          `SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() AND tablename = 'oidc_entries' ORDER BY indexname`,
        )
      ).rows.map((r) => r.indexname),
      ['oidc_entries_by_expiry', 'oidc_entries_by_grant', 'oidc_entries_by_uid', 'oidc_entries_by_user_code', 'oidc_entries_pkey'],
    );
    t.same(await migratePostgres(client), [], 'applied once');
  });

  t.test('synchronous_commit = off is refused: commits would not be durable', async (t) => {
    const { schema } = await tempSchema(t);
    const url = new URL(withSearchPath(PG_URL, schema));
    url.searchParams.set('options', `-c search_path=${schema} -c synchronous_commit=off`);
    await t.rejects(openPostgresStore(url.toString()), { code: 'ERR_ARGUMENT', message: /synchronous_commit is off/ });
    await t.rejects(
      openPostgresStore('postgres://postgres@127.0.0.1:1/test', { connectionTimeoutMs: 2000 }),
      /ECONNREFUSED/,
      'unreachable: the driver error',
    );
  });
}

async function peekClient(t: Test, url: string): Promise<pg.PoolClient> {
  const pool = new pg.Pool({ connectionString: url, max: 1 });
  const client = await pool.connect();
  t.teardown(async () => {
    client.release();
    await pool.end();
  });
  return client;
}
