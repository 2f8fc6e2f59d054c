// What only the SQLite store has: its journal mode and migrations table, and the switch that
// turns group commit off. Everything the TokenStore contract promises (compare-and-set, atomic
// failure counts, one active token per user, append-only audit, all-or-nothing import, audit
// queries, ack after commit, close) runs on SQLite and PostgreSQL alike in store-contract.ts,
// through store-contract-sqlite.test.ts.
import t from 'tap';
import { verifyLog } from '../src/audit-log.js';
import { checkpointKey } from '../src/security/audit-checkpoint.js';
import Database from 'better-sqlite3';
import { MIGRATIONS, migrate } from '../src/store/sqlite-schema.js';
import { toEvent, type AuditRow } from '../src/store/audit-rows.js';
import { openSqliteStore } from '../src/store/sqlite.js';
import type { Write } from '../src/domain/decide.js';
import type { Origin, TokenStore } from '../src/store/types.js';
import { tempDbPath, type TapLike } from './helpers/db.js';
import { checkMigratedDrift, v1TokenRow } from './helpers/migrated-drift.js';
import { acceptWrites, activateWrites, applyWrites, audited, spend } from './helpers/writes.js';
import { row, serial as serialOf } from './store-contract.js';

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
  const all = MIGRATIONS.map(({ version, name }) => ({ version, name }));
  t.same(peek.prepare('SELECT version, name FROM schema_migrations ORDER BY version').all(), all);
  await store.close();
  const again = openSqliteStore(path);
  t.same(peek.prepare('SELECT count(*) AS n FROM schema_migrations').get(), { n: all.length }, 'reopening applies nothing twice');
  await again.close();

  const db = new Database(':memory:');
  t.same(
    migrate(db),
    all.map((m) => m.version),
  );
  t.same(
    migrate(db, [
      { version: 99, name: 'extra', sql: 'CREATE TABLE extra (x)' },
      { version: 1, name: 'x', sql: 'nonsense' },
    ]),
    [99],
    'only the new one',
  );
  t.same(migrate(db), [], 'nothing left');
  db.close();
});

t.test('a version-1 database with a whole-step drift opens and keeps accepting', async (t) => {
  const path = tempDbPath(t);
  const v1 = new Database(path);
  t.same(
    migrate(
      v1,
      MIGRATIONS.filter((m) => m.version === 1),
    ),
    [1],
  );
  const row = v1TokenRow();
  v1.prepare(
    `INSERT INTO tokens (serial, profile, digits, step, t0, seed_ciphertext, seed_nonce, key_version, last_moving_factor,
    drift, imported_at, last_used_at) VALUES (@serial, @profile, @digits, @step, @t0, @seed_ciphertext, @seed_nonce, @key_version,
    @last_moving_factor, @drift, @imported_at, @last_used_at)`,
  ).run(row);
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
    store.attempt({ serial: serialOf(1) }, spend(2, at())),
    store.attempt({ serial: serialOf(1) }, spend(2, at())),
  ]);
  t.same(both.sort(), ['accepted', 'replay'], 'the second decides on the row the first left');
  t.match(await store.getToken(serialOf(1)), { lastMovingFactor: 2, failures: 1 }, 'both committed');
});

t.test('migration 3 chains an existing audit log: every query answers as it did before', async (t) => {
  const path = tempDbPath(t);
  const v1 = new Database(path);
  v1.pragma('journal_mode = WAL');
  migrate(
    v1,
    MIGRATIONS.filter((m) => m.version === 1),
  );
  const s = (n: number) => serialOf(n);
  v1.exec(`
    INSERT INTO tokens (serial, profile, digits, step, t0, seed_ciphertext, seed_nonce, key_version, last_moving_factor, imported_at)
      VALUES ('${s(1)}', 'hotp-sha1', 6, 30, 0, x'00', x'00', 1, 5, 0), ('${s(2)}', 'hotp-sha1', 6, 30, 0, x'00', x'00', 1, 5, 0),
             ('${s(3)}', 'hotp-sha1', 6, 30, 0, x'00', x'00', 1, 5, 0);
    INSERT INTO users (user_id, password_hash, updated_at) VALUES ('alice', 'h', 0), ('bob', 'h', 0);
    INSERT INTO assignments (serial, user_id, active, activated_at) VALUES ('${s(1)}', 'alice', 0, 0), ('${s(2)}', 'alice', 1, 0), ('${s(3)}', 'bob', 1, 0);
  `);
  const add = v1.prepare('INSERT INTO audit (at, type, serial, user_id, reason) VALUES (?, ?, ?, ?, ?)');
  const history: Array<[number, string, string | null, string | null, string | null]> = [
    [1, 'reject', s(9), null, 'unknown-token'],
    [2, 'import', s(1), null, null],
    [3, 'import', s(2), null, null],
    [4, 'import', s(3), null, null],
    [5, 'reject', s(1), 'bob', 'assigned-elsewhere'],
    [6, 'activate', s(1), 'alice', null],
    [7, 'accept', s(1), 'alice', null],
    [4, 'reject', null, 'carol', 'not-activated'],
    [9, 'deactivate', s(1), 'alice', null],
    [10, 'activate', s(2), 'alice', null],
    [11, 'lock', s(1), null, null],
    [12, 'accept', s(3), 'bob', null],
    [8, 'reject', s(2), 'alice', 'bad-otp'],
    [13, 'accept', s(2), 'alice', null],
  ];
  for (const h of history) add.run(...h);
  const queries = [];
  for (const serial of [undefined, s(1), s(2), s(3), s(9)]) {
    for (const userId of [undefined, 'alice', 'bob', 'carol']) {
      for (const since of [undefined, 6]) {
        for (const limit of [2, 100])
          queries.push({ ...(serial ? { serial } : {}), ...(userId ? { userId } : {}), ...(since ? { since } : {}), limit });
      }
    }
  }
  // The version-1 answers, by the version-1 indexes.
  const before = queries.map((q) => {
    const where = [q.serial ? 'serial = @serial' : '', q.userId ? 'user_id = @userId' : '', q.since ? 'at >= @since' : ''].filter(Boolean);
    const rows = v1
      .prepare(`SELECT * FROM audit ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT @limit`)
      .all(q) as AuditRow[];
    return rows.map((r) => ({ ...toEvent(r, new Map()), repeats: 1 }));
  });
  v1.close();

  const store = openSqliteStore(path);
  t.teardown(() => store.close());
  for (const [i, q] of queries.entries()) {
    const now = await store.queryAudit(q);
    if (JSON.stringify(now) !== JSON.stringify(before[i])) t.same(now, before[i], JSON.stringify(q));
  }
  t.pass(`${queries.length} queries answer as before the migration`);
  // New rows continue the chains the migration built.
  await store.attempt({ serial: s(2) }, spend(6, { ...at(), userId: 'alice' }));
  t.same(
    (await store.queryAudit({ serial: s(2), limit: 3 })).map((e) => e.type),
    ['accept', 'accept', 'reject'],
  );
  t.same(
    (await store.queryAudit({ userId: 'alice', limit: 4 })).map((e) => `${e.type} ${e.serial === s(2) ? 2 : 1}`),
    ['accept 2', 'accept 2', 'reject 2', 'activate 2'],
  );
});

t.test('attempt: the common accept, written in two statements, keeps the audit chain as the general path does', async (t) => {
  // Two stores with the same history; one accepts through attempt() on the token's key (the
  // accept's update and the chain's head in one statement), the other applies the same writes
  // on a key that reads nothing, so no chain head was read and every write takes the general path.
  const { store: oneStep } = open(t);
  const { store: generic } = open(t);
  interface Accept {
    serial: string;
    movingFactor: number;
    origin: Origin;
    reason?: string;
  }
  const accept = (n: number, movingFactor: number, over: Partial<Accept> = {}): Accept => ({
    serial: serialOf(n),
    movingFactor,
    origin: at(),
    ...over,
  });
  const writesOf = (a: Accept): Write[] => acceptWrites(a.serial, a.movingFactor, a.origin, undefined, a.reason ?? null);
  for (const store of [oneStep, generic]) {
    await store.insertTokens([row(1), row(2)], at());
    await applyWrites(store, activateWrites(serialOf(1), 0, at(), { userId: 'alice', passwordHash: 'h' }), { serial: serialOf(1) });
  }
  const viaAttempt = (a: Accept, before: Write[] = []) =>
    oneStep.attempt({ serial: a.serial }, (snapshot) => ({
      result: { user: snapshot.token?.userId ?? null, last: snapshot.token?.lastMovingFactor ?? null },
      writes: [...before, ...writesOf(a)],
    }));
  const viaGeneralPath = (a: Accept, before: Write[] = []) => applyWrites(generic, [...before, ...writesOf(a)], {});
  const plan = [
    accept(1, 1, { origin: { ...at(), userId: 'alice' } }), // the token's own user: chained
    accept(1, 2), // no user named: chained
    accept(1, 3, { origin: { ...at(), userId: 'mallory' } }), // another user named: not chained
    accept(2, 5), // a token never bound
    accept(1, 4, { reason: 'resync' }),
  ];
  for (const a of plan) {
    const seen = await viaAttempt(a);
    await viaGeneralPath(a);
    t.ok(seen.last === null || seen.last < a.movingFactor, `${a.serial} at ${a.movingFactor}: the decision saw the row before the accept`);
  }
  t.same(await viaAttempt(accept(1, 6)), { user: 'alice', last: 4 }, 'the decision sees the active user and the last accept');
  await viaGeneralPath(accept(1, 6));
  // A decision that writes an audit row before its accept: the general path, and the accept chains after that row.
  const note = audited({ ...at(), type: 'reject' as const, serial: serialOf(1), reason: 'bad-otp' as const });
  await viaAttempt(accept(1, 7), [note]);
  await applyWrites(generic, [note]);
  await viaGeneralPath(accept(1, 7));
  for (const n of [1, 2]) {
    t.same(await oneStep.getToken(serialOf(n)), await generic.getToken(serialOf(n)), `token ${n}: the same row`);
  }
  for (const query of [{ serial: serialOf(1) }, { serial: serialOf(2) }, { userId: 'alice' }, { userId: 'mallory' }, {}]) {
    const strip = (events: Awaited<ReturnType<TokenStore['queryAudit']>>) => events.map(({ id: _id, ...e }) => e);
    t.same(
      strip(await oneStep.queryAudit(query)),
      strip(await generic.queryAudit(query)),
      `audit ${JSON.stringify(query)}: the same events`,
    );
  }
  const mallory = await oneStep.queryAudit({ userId: 'mallory' });
  t.same(
    mallory.map((e) => [e.type, e.movingFactor]),
    [['accept', 3]],
    "another user's accept is found under that user",
  );
  t.same(
    (await oneStep.queryAudit({ serial: serialOf(1) })).map((e) => e.movingFactor ?? null).slice(0, 5),
    [7, null, 6, 4, 3],
    'the chain runs newest first through every row of the token',
  );
  const before = await oneStep.queryAudit({ limit: 1000 });
  await t.rejects(
    oneStep.attempt({ serial: serialOf(1) }, () => ({ result: null, writes: writesOf(accept(1, 2)) })),
    /broken invariant/,
    'an accept the row refuses (a decision that did not read it) is an error, not a silent loss',
  );
  await t.rejects(
    applyWrites(generic, [note, ...writesOf(accept(1, 2))]),
    /broken invariant/,
    'on the general path too, after a write that applied',
  );
  t.same(await oneStep.queryAudit({ limit: 1000 }), before, 'nothing of the refused attempt was written');
  t.equal((await generic.queryAudit({ limit: 1000 })).length, before.length, 'nor of the one on the general path, its audit row either');
  t.equal((await oneStep.getToken(serialOf(1)))?.lastMovingFactor, 7, 'the token is as it was');
});

t.test('one-step accepts name their audit ids: many in one transaction, and two stores over one file', async (t) => {
  const path = tempDbPath(t);
  const { store: a } = open(t, path);
  await a.insertTokens(
    [1, 2, 3, 4, 5, 6].map((n) => row(n)),
    at(),
  );
  const accept = (store: TokenStore, n: number, movingFactor: number) =>
    store.attempt({ serial: serialOf(n) }, () => ({ result: 'accepted', writes: acceptWrites(serialOf(n), movingFactor, at()) }));
  // Submitted in one turn: one batch, one transaction, five accepts each taking the next id.
  t.same(await Promise.all([1, 2, 3, 4, 5].map((n) => accept(a, n, 0))), Array(5).fill('accepted'), 'five accepts in one batch');
  // Another store (another process, say) writes between two of a's transactions.
  const { store: b } = open(t, path);
  t.equal(await accept(b, 6, 0), 'accepted', 'the other store accepts');
  t.equal(await accept(a, 1, 1), 'accepted', 'the first store accepts after it');
  await applyWrites(b, [audited({ ...at(), type: 'reject', serial: serialOf(2), reason: 'bad-otp' })]);
  t.equal(await accept(a, 2, 1), 'accepted');
  const all = await a.queryAudit({ limit: 100 });
  t.equal(new Set(all.map((e) => e.id)).size, all.length, 'every audit id is unique');
  for (const n of [1, 2, 6]) {
    const chain = await a.queryAudit({ serial: serialOf(n) });
    t.same(
      chain.map((e) => [e.type, e.movingFactor ?? null]),
      n === 1
        ? [
            ['accept', 1],
            ['accept', 0],
            ['import', null],
          ]
        : n === 2
          ? [
              ['accept', 1],
              ['reject', null],
              ['accept', 0],
              ['import', null],
            ]
          : [
              ['accept', 0],
              ['import', null],
            ],
      `token ${n}: its chain, newest first`,
    );
  }
});

t.test('migration 4 keys tokens by the serial as a number: rows, references, chains and the foreign-key switch survive', async (t) => {
  const path = tempDbPath(t);
  const v3 = new Database(path);
  v3.pragma('foreign_keys = ON');
  migrate(
    v3,
    MIGRATIONS.filter((m) => m.version <= 3),
  );
  const s = (n: number) => serialOf(n);
  // A serial with a leading zero too: its number must map back to the same ten digits.
  const zero = '0000000018';
  v3.exec(`
    INSERT INTO tokens (serial, profile, digits, step, t0, seed_ciphertext, seed_nonce, key_version, status, last_moving_factor,
        drift, drift_ms, drift_ppm, drift_ppm_var, failures, blocked_until, pending_moving_factor, pending_at, imported_at, last_used_at)
      VALUES ('${s(1)}', 'hotp-sha1', 6, 30, 0, x'0102', x'0304', 1, 'enabled', 5, 0, 0, 0, NULL, 2, 99, 7, 98, 10, 11),
             ('${s(2)}', 'totp-sha256', 8, 60, 5, x'05', x'06', 2, 'locked', 12, 1, 60000, 1.5, 0.25, 0, NULL, NULL, NULL, 20, NULL),
             ('${zero}', 'hotp-sha1', 6, 30, 0, x'07', x'08', 1, 'enabled', -1, 0, 0, 0, NULL, 0, NULL, NULL, NULL, 30, NULL);
    INSERT INTO users (user_id, password_hash, updated_at) VALUES ('alice', 'h', 0);
    INSERT INTO assignments (serial, user_id, active, activated_at) VALUES ('${s(1)}', 'alice', 1, 0);
  `);
  v3.prepare(`INSERT INTO audit (at, type, serial, user_id, chained, prev_id) VALUES (1, 'import', ?, NULL, 1, NULL)`).run(s(1));
  v3.prepare('UPDATE tokens SET last_audit_id = 1 WHERE serial = ?').run(s(1));
  const columns =
    'serial, profile, digits, step, t0, hex(seed_ciphertext) AS ct, hex(seed_nonce) AS nonce, key_version, status, ' +
    'last_moving_factor, drift, drift_ms, drift_ppm, drift_ppm_var, failures, blocked_until, pending_moving_factor, pending_at, ' +
    'imported_at, last_used_at, last_audit_id';
  const before = v3.prepare(`SELECT ${columns} FROM tokens ORDER BY serial`).all();
  t.same(migrate(v3), [4, 5, 6, 7, 8, 9, 10, 11, 12, 13]);
  t.same(v3.prepare(`SELECT ${columns} FROM tokens ORDER BY serial`).all(), before, 'every column of every row as it was');
  t.same(
    v3.prepare('SELECT serial_key FROM tokens ORDER BY serial').pluck().all(),
    [18, Number(s(1)), Number(s(2))],
    'keyed by the number',
  );
  t.equal(v3.pragma('foreign_keys', { simple: true }), 1, 'foreign keys are on again after the rebuild');
  t.same(v3.pragma('foreign_key_check'), [], 'assignments still reference tokens');
  t.throws(() => v3.prepare('DELETE FROM tokens WHERE serial = ?').run(s(1)), /FOREIGN KEY/, 'and the reference is enforced');
  t.throws(
    () => v3.prepare(`UPDATE tokens SET serial_key = 5 WHERE serial = ?`).run(s(2)),
    /CHECK/,
    'the key cannot drift from the serial',
  );
  v3.close();

  const { store } = open(t, path);
  t.equal((await store.getToken(s(1)))?.userId, 'alice', 'read by its number, joined to its user');
  t.equal((await store.getToken(zero))?.lastMovingFactor, -1, 'a serial with leading zeros is found');
  t.equal(await store.getToken('not-a-serial'), null, 'a string that is no serial finds nothing');
  t.equal(await store.attempt({ serial: s(1) }, spend(6, at())), 'accepted');
  t.same(
    (await store.queryAudit({ serial: s(1) })).map((e) => e.type),
    ['accept', 'import'],
    'the chain goes on from the migrated head',
  );
});

t.test('migration 8 pseudonymises the audit rows of users, once; erasure then leaves them naming nobody', async (t) => {
  const path = tempDbPath(t);
  const v7 = new Database(path);
  migrate(
    v7,
    MIGRATIONS.filter((m) => m.version <= 7),
  );
  v7.exec(`
    INSERT INTO tokens (serial_key, serial, profile, digits, step, t0, seed_ciphertext, seed_nonce, key_version, status,
        last_moving_factor, failures, imported_at)
      VALUES (${Number(serialOf(1))}, '${serialOf(1)}', 'hotp-sha1', 6, 30, 0, x'01', x'02', 1, 'enabled', 3, 0, 0);
    INSERT INTO users (user_id, password_hash, updated_at, created_at) VALUES ('alice', 'h', 0, 0), ('bob', 'h', 0, 0);
    INSERT INTO assignments (serial, user_id, active, activated_at) VALUES ('${serialOf(1)}', 'alice', 1, 0);
    INSERT INTO audit (at, type, serial, user_id) VALUES (1, 'accept', NULL, 'alice'), (2, 'reject', NULL, 'bob'),
      (3, 'reject', NULL, 'nobody'), (4, 'import', NULL, NULL);
  `);
  t.same(migrate(v7), [8, 9, 10, 11, 12, 13]);
  const rows = v7.prepare('SELECT user_id FROM audit ORDER BY id').pluck().all() as Array<string | null>;
  const pseudonyms = v7.prepare('SELECT pseudonym FROM users ORDER BY user_id').pluck().all() as string[];
  t.match(pseudonyms, [/^u [0-9a-f]{32}$/, /^u [0-9a-f]{32}$/]);
  t.not(pseudonyms[0], pseudonyms[1], 'one per user');
  t.same(rows, [pseudonyms[0], pseudonyms[1], 'nobody', null], "users' rows by pseudonym; a user ID no user had, as typed");
  t.equal(v7.prepare('SELECT pseudonym FROM assignments').pluck().get(), pseudonyms[0], "copied to the user's assignments");
  t.throws(() => v7.exec(`UPDATE audit SET user_id = 'x'`), /append-only/, 'the log is append-only again');
  v7.close();

  const { store } = open(t, path);
  t.same(
    (await store.queryAudit({})).map((e) => e.userId),
    [null, 'nobody', 'bob', 'alice'],
    'shown by user ID while the mapping exists',
  );
  t.same(
    (await store.queryAudit({ userId: 'alice' })).map((e) => e.at),
    [1],
  );
  await applyWrites(store, [{ kind: 'erase-user', userId: 'alice' }], { userId: 'alice' });
  t.same(
    (await store.queryAudit({})).map((e) => e.userId),
    [null, 'nobody', 'bob', null],
    "erased: alice's row is still there, naming nobody",
  );
  t.same(await store.queryAudit({ userId: 'alice' }), []);
  t.match(await store.getToken(serialOf(1)), { status: 'revoked', userId: null }, 'her device revoked for good');
  // Migration 11 chained the rows from before it in a lane of their own; later rows in the store's.
  await applyWrites(store, [{ kind: 'audit', entry: { at: 5, type: 'reject', reason: 'later' } }]);
  const chain = await verifyLog(store.auditArchive, await checkpointKey(new Uint8Array(32)));
  t.same(chain.breaks, [], 'the whole log verifies, old rows and new');
  t.same([chain.rows, chain.heads.size], [5, 2], 'the four rows from before in one lane, the later one in another');
});

t.test("migration 13 adds the OpenID provider's entries to a file of version 12, its rows untouched", async (t) => {
  const path = tempDbPath(t);
  const v12 = new Database(path);
  migrate(
    v12,
    MIGRATIONS.filter((m) => m.version <= 12),
  );
  v12.exec(`INSERT INTO users (user_id, password_hash, updated_at, created_at, pseudonym) VALUES ('alice', 'h', 0, 0, 'u 1')`);
  t.throws(() => v12.prepare('SELECT 1 FROM oidc_entries'), /no such table/, 'not there before');
  v12.close();

  const { store } = open(t, path);
  t.match((await store.snapshot({ userId: 'alice' })).user, { userId: 'alice', passwordHash: 'h' }, 'the rows from before are there');
  await store.oidc.upsert('Session', 's1', { uid: 'u1' }, null);
  t.same(await store.oidc.findBy('Session', 'uid', 'u1', 0), { payload: { uid: 'u1' }, expiresAt: null, consumedAt: null });
  const peek = new Database(path, { readonly: true });
  t.teardown(() => peek.close());
  t.same(peek.prepare('SELECT max(version) FROM schema_migrations').pluck().get(), 13);
  t.same(peek.prepare(`SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'oidc_entries' ORDER BY name`).pluck().all(), [
    'oidc_entries_by_expiry',
    'oidc_entries_by_grant',
    'oidc_entries_by_uid',
    'oidc_entries_by_user_code',
    'sqlite_autoindex_oidc_entries_1',
  ]);
});

t.test('a migration that rebuilds tables refuses to commit broken references, and restores the foreign-key switch', (t) => {
  const db = new Database(':memory:');
  t.teardown(() => db.close());
  migrate(
    db,
    MIGRATIONS.filter((m) => m.version <= 3),
  );
  db.pragma('foreign_keys = OFF');
  db.exec(`INSERT INTO users (user_id, password_hash, updated_at) VALUES ('bob', 'h', 0);
    INSERT INTO assignments (serial, user_id, active, activated_at) VALUES ('${serialOf(7)}', 'bob', 1, 0);`);
  db.pragma('foreign_keys = ON');
  t.throws(() => migrate(db), /migration 4 would break 1 reference\(s\), the first from assignments to tokens/);
  t.same(db.prepare('SELECT max(version) FROM schema_migrations').pluck().get(), 3, 'not applied');
  t.equal(db.prepare(`SELECT type FROM sqlite_schema WHERE name = 'tokens_by_number'`).pluck().get(), undefined, 'rolled back whole');
  t.equal(db.pragma('foreign_keys', { simple: true }), 1, 'the switch as it was');
  t.end();
});
