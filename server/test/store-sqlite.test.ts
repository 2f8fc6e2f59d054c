// What only the SQLite store has: its journal mode and migrations table, and the switch that
// turns group commit off. Everything the TokenStore contract promises (compare-and-set, atomic
// failure counts, one active token per user, append-only audit, all-or-nothing import, audit
// queries, ack after commit, close) runs on SQLite and PostgreSQL alike in store-contract.ts,
// through store-contract-sqlite.test.ts.
import t from 'tap';
import Database from 'better-sqlite3';
import { NO_DRIFT } from '../src/domain/policy.js';
import { MIGRATIONS, migrate } from '../src/store/sqlite-schema.js';
import { openSqliteStore } from '../src/store/sqlite.js';
import type { Origin, TokenStore } from '../src/store/types.js';
import { tempDbPath, type TapLike } from './helpers/db.js';
import { checkMigratedDrift, v1TokenRow } from './helpers/migrated-drift.js';
import { attempt, row } from './store-contract.js';

const at = (): Origin => ({ at: Date.UTC(2026, 0, 1), ip: '198.51.100.7' });

function open(t: TapLike, path = tempDbPath(t)): { store: TokenStore; path: string } {
  const store = openSqliteStore(path);
  t.teardown(() => store.close());
  return { store, path };
}

t.test('schema: WAL journal, numbered migrations applied once', async (t) => {
  const { store, path } = open(t);
  const peek = new Database(path, { readonly: true });
  t.teardown(() => peek.close());
  t.equal(peek.pragma('journal_mode', { simple: true }), 'wal');
  t.same(peek.prepare('SELECT version, name FROM schema_migrations').all(), [
    { version: 1, name: 'tokens, users, assignments, audit' },
    { version: 2, name: 'tokens: clock offset (ms) and rate (ppm)' },
  ]);
  await store.close();
  const again = openSqliteStore(path);
  t.same(peek.prepare('SELECT count(*) AS n FROM schema_migrations').get(), { n: 2 }, 'reopening applies nothing twice');
  await again.close();

  const db = new Database(':memory:');
  t.same(migrate(db), [1, 2]);
  t.same(migrate(db, [{ version: 100, name: 'extra', sql: 'CREATE TABLE extra (x)' }, { version: 1, name: 'x', sql: 'nonsense' }]), [100], 'only the new one');
  t.same(migrate(db), [], 'nothing left');
  db.close();
});

t.test('a version-1 database with a whole-step drift opens and keeps accepting', async (t) => {
  const path = tempDbPath(t);
  const v1 = new Database(path);
  t.same(migrate(v1, MIGRATIONS.filter((m) => m.version === 1)), [1]);
  const row = v1TokenRow();
  v1.prepare(`INSERT INTO tokens (serial, profile, digits, step, t0, seed_ciphertext, seed_nonce, key_version, last_moving_factor,
    drift, imported_at, last_used_at) VALUES (@serial, @profile, @digits, @step, @t0, @seed_ciphertext, @seed_nonce, @key_version,
    @last_moving_factor, @drift, @imported_at, @last_used_at)`).run(row);
  v1.close();
  const { store } = open(t, path);
  await checkMigratedDrift(t, store);
  const peek = new Database(path, { readonly: true });
  t.teardown(() => peek.close());
  t.same(peek.prepare('SELECT drift FROM tokens').get(), { drift: 4 }, 'the whole-step column is still written, for the previous server');
});

t.test('without group commit every write is its own transaction, with the same results', async (t) => {
  const store = openSqliteStore(tempDbPath(t), { groupCommit: false, maxBatch: 8 });
  t.teardown(() => store.close());
  await store.insertTokens([row(1)], at());
  const both = await Promise.all([
    store.recordAttempt(attempt(1, { consume: { movingFactor: 2, drift: NO_DRIFT } })),
    store.recordAttempt(attempt(1, { consume: { movingFactor: 2, drift: NO_DRIFT } })),
  ]);
  t.same(both.map((r) => r.outcome).sort(), ['accepted', 'failed']);
});
