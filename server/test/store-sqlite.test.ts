// The SQLite TokenStore on real files: schema rules the database enforces, compare-and-set,
// atomic failure counting, all-or-nothing import, audit queries, commit-before-acknowledge.
import t from 'tap';
import Database from 'better-sqlite3';
import { makeSerial } from '@kodeviser/shared';
import { migrate } from '../src/store/sqlite-schema.js';
import { openSqliteStore } from '../src/store/sqlite.js';
import type { AttemptCommand, NewTokenRecord, Origin, TokenStore } from '../src/store/types.js';
import { tempDbPath, type TapLike } from './helpers/db.js';

const T0 = Date.UTC(2026, 0, 1);
const at = (ms = 0): Origin => ({ at: T0 + ms, ip: '198.51.100.7' });
const serial = (n: number) => makeSerial(String(200_000_000 + n));
const row = (n: number, over: Partial<NewTokenRecord> = {}): NewTokenRecord => ({
  serial: serial(n),
  profile: 'hotp-sha1',
  digits: 6,
  step: 30,
  t0: 0,
  seed: { ciphertext: Uint8Array.of(n, 1, 2, 3), nonce: new Uint8Array(12).fill(n), keyVersion: 1 },
  lastMovingFactor: -1,
  drift: 0,
  ...over,
});
const never = () => ({ blockForMs: 0, lock: false });
const attempt = (n: number, over: Partial<AttemptCommand> = {}): AttemptCommand => ({
  serial: serial(n),
  origin: at(),
  success: true,
  reason: 'bad-otp',
  onFailure: never,
  ...over,
});

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
  t.same(peek.prepare('SELECT version, name FROM schema_migrations').all(), [{ version: 1, name: 'tokens, users, assignments, audit' }]);
  await store.close();
  const again = openSqliteStore(path);
  t.same(peek.prepare('SELECT count(*) AS n FROM schema_migrations').get(), { n: 1 }, 'reopening applies nothing twice');
  await again.close();

  const db = new Database(':memory:');
  t.same(migrate(db), [1]);
  t.same(migrate(db, [{ version: 2, name: 'extra', sql: 'CREATE TABLE extra (x)' }, { version: 1, name: 'x', sql: 'nonsense' }]), [2], 'only the new one');
  t.same(migrate(db), [], 'nothing left');
  db.close();
});

t.test('the audit log refuses UPDATE and DELETE, whoever asks', async (t) => {
  const { store, path } = open(t);
  await store.appendAudit([{ at: T0, type: 'lock', serial: serial(1), actor: 'admin' }]);
  const raw = new Database(path);
  t.teardown(() => raw.close());
  t.throws(() => raw.prepare(`UPDATE audit SET reason = 'x'`).run(), /append-only/);
  t.throws(() => raw.prepare('DELETE FROM audit').run(), /append-only/);
  t.equal((await store.queryAudit({})).length, 1);
});

t.test('one active token per user is a database constraint', async (t) => {
  const { store, path } = open(t);
  await store.insertTokens([row(1), row(2)], at());
  await store.recordAttempt(attempt(1, { consume: { movingFactor: 0, drift: 0 }, bind: { userId: 'alice', passwordHash: 'h1' } }));
  const raw = new Database(path);
  t.teardown(() => raw.close());
  t.throws(
    () => raw.prepare(`INSERT INTO assignments (serial, user_id, active, activated_at) VALUES (?, 'alice', 1, 0)`).run(serial(2)),
    /UNIQUE constraint failed: assignments.user_id/,
  );
  t.throws(
    () => raw.prepare(`INSERT INTO assignments (serial, user_id, active, activated_at) VALUES (?, 'bob', 1, 0)`).run(serial(9)),
    /FOREIGN KEY/,
    'assignments reference tokens and users',
  );

  // Through the store, binding a second token deactivates the first.
  await store.recordAttempt(attempt(2, { consume: { movingFactor: 0, drift: 0 }, bind: { userId: 'alice', passwordHash: 'h2' } }));
  t.equal((await store.getActiveToken('alice'))?.serial, serial(2));
  t.equal((await store.getToken(serial(1)))?.userId, null);
  t.same(await store.getUser('alice'), { userId: 'alice', passwordHash: 'h2' }, 'the password is the latest');
  const events = await store.queryAudit({ userId: 'alice' });
  t.same(events.map((e) => [e.type, e.serial]), [
    ['accept', serial(2)],
    ['activate', serial(2)],
    ['deactivate', serial(1)],
    ['accept', serial(1)],
    ['activate', serial(1)],
  ]);

  // A token bound to alice (even inactive) cannot be bound to bob: the attempt rolls back whole.
  await t.rejects(
    store.recordAttempt(attempt(1, { consume: { movingFactor: 1, drift: 0 }, bind: { userId: 'bob', passwordHash: 'h' } })),
    { code: 'ERR_ASSIGNED_ELSEWHERE' },
  );
  t.equal((await store.getToken(serial(1)))?.lastMovingFactor, 0, 'the code was not consumed');
  t.equal(await store.getUser('bob'), null, 'nor bob created');
});

t.test('accepting a moving factor is a compare-and-set, also inside one batch', async (t) => {
  const { store } = open(t);
  await store.insertTokens([row(1)], at());
  const both = await Promise.all([
    store.recordAttempt(attempt(1, { consume: { movingFactor: 5, drift: 0 } })),
    store.recordAttempt(attempt(1, { consume: { movingFactor: 5, drift: 0 } })),
  ]);
  t.same(both.map((r) => r.outcome), ['accepted', 'failed']);
  t.match(both[1], { reason: 'replay', failures: 1 });
  t.match(await store.recordAttempt(attempt(1, { consume: { movingFactor: 3, drift: 0 } })), { outcome: 'failed', reason: 'replay', failures: 2 }, 'lower is a replay');
  t.same(await store.recordAttempt(attempt(1, { consume: { movingFactor: 6, drift: 2 } })), { outcome: 'accepted' });
  t.match(await store.getToken(serial(1)), { lastMovingFactor: 6, drift: 2, failures: 0, lastUsedAt: T0 });
});

t.test('failures count atomically; the policy callback decides block and lock', async (t) => {
  const { store } = open(t);
  await store.insertTokens([row(1)], at());
  const seen: number[] = [];
  const onFailure = (n: number) => {
    seen.push(n);
    return { blockForMs: n >= 3 ? 1000 * n : 0, lock: n >= 5 };
  };
  const results = await Promise.all([1, 2, 3, 4].map(() => store.recordAttempt(attempt(1, { success: false, onFailure }))));
  t.same(seen, [1, 2, 3, 4], 'each failure saw its own count');
  t.match(results[3], { outcome: 'failed', reason: 'bad-otp', failures: 4, blockedUntil: T0 + 4000, locked: false });
  t.match(await store.getToken(serial(1)), { failures: 4, blockedUntil: T0 + 4000, status: 'enabled' });
  t.match(await store.recordAttempt(attempt(1, { success: false, onFailure })), { failures: 5, locked: true });
  t.match(await store.getToken(serial(1)), { status: 'locked' });
  t.match(await store.recordAttempt(attempt(1, { consume: { movingFactor: 9, drift: 0 }, onFailure })), { outcome: 'failed', reason: 'locked', failures: 0 }, 'a locked token consumes nothing and counts nothing');
  t.match(await store.getToken(serial(1)), { failures: 5, lastMovingFactor: -1 });
  t.match(await store.recordAttempt(attempt(7, { success: false })), { reason: 'unknown-token' });

  const types = (await store.queryAudit({ serial: serial(1) })).map((e) => e.type);
  t.same(types.slice(0, 3), ['reject', 'lock', 'reject'], 'the lock is audited');
  t.equal(types.filter((x) => x === 'block').length, 2);

  t.equal(await store.changeStatus({ serial: serial(1), from: ['locked'], to: 'enabled', origin: at() }), true);
  t.match(await store.getToken(serial(1)), { status: 'enabled', failures: 0, blockedUntil: null }, 'unlock clears failures and block');
});

t.test('a right code with a wrong second factor is consumed and still counts as a failure', async (t) => {
  const { store } = open(t);
  await store.insertTokens([row(1)], at());
  t.match(await store.recordAttempt(attempt(1, { consume: { movingFactor: 4, drift: 0 }, success: false, reason: 'bad-password' })), {
    outcome: 'failed',
    reason: 'bad-password',
    failures: 1,
  });
  t.match(await store.getToken(serial(1)), { lastMovingFactor: 4, failures: 1 });
  const [ev] = await store.queryAudit({ serial: serial(1), limit: 1 });
  t.match(ev, { type: 'reject', reason: 'bad-password', movingFactor: 4, ip: '198.51.100.7' });
});

t.test('pending resync: set above the last accepted only, cleared by any attempt', async (t) => {
  const { store } = open(t);
  await store.insertTokens([row(1, { lastMovingFactor: 10 })], at());
  await store.startResync(serial(1), { movingFactor: 8, at: T0 }, at());
  t.equal((await store.getToken(serial(1)))?.pendingResync, null, 'not below the last accepted');
  await store.startResync(serial(1), { movingFactor: 80, at: T0 + 5 }, at(5));
  t.same((await store.getToken(serial(1)))?.pendingResync, { movingFactor: 80, at: T0 + 5 });
  await store.recordAttempt(attempt(1, { success: false, reason: 'resync-mismatch' }));
  t.equal((await store.getToken(serial(1)))?.pendingResync, null, 'a failure clears it');
  await store.startResync(serial(1), { movingFactor: 80, at: T0 + 6 }, at(6));
  await store.recordAttempt(attempt(1, { consume: { movingFactor: 81, drift: 0 }, acceptNote: 'resync' }));
  t.match(await store.getToken(serial(1)), { pendingResync: null, lastMovingFactor: 81 });
  t.match((await store.queryAudit({ serial: serial(1), limit: 1 }))[0], { type: 'accept', reason: 'resync', movingFactor: 81 });
});

t.test('admin resync is a compare-and-set too, and refuses revoked tokens', async (t) => {
  const { store } = open(t);
  await store.insertTokens([row(1, { lastMovingFactor: 10 })], at());
  await store.recordAttempt(attempt(1, { success: false }));
  t.equal(await store.resync(serial(1), 10, 0, at()), false, 'not to the same counter');
  t.equal(await store.resync(serial(1), 500, 3, { ...at(), actor: 'admin' }), true);
  t.match(await store.getToken(serial(1)), { lastMovingFactor: 500, drift: 3, failures: 0 });
  t.match((await store.queryAudit({ serial: serial(1), limit: 1 }))[0], { type: 'resync', actor: 'admin', movingFactor: 500 });
  await store.changeStatus({ serial: serial(1), from: ['enabled'], to: 'revoked', origin: at() });
  t.equal(await store.resync(serial(1), 600, 0, at()), false);
});

t.test('status changes apply only from the given states; revoke ends the assignment', async (t) => {
  const { store } = open(t);
  await store.insertTokens([row(1)], at());
  await store.recordAttempt(attempt(1, { consume: { movingFactor: 0, drift: 0 }, bind: { userId: 'carol', passwordHash: 'h' } }));
  t.equal(await store.changeStatus({ serial: serial(1), from: ['locked'], to: 'enabled', origin: at() }), false);
  t.equal(await store.changeStatus({ serial: serial(1), from: ['enabled'], to: 'locked', origin: at() }), true);
  t.equal(await store.changeStatus({ serial: serial(1), from: ['enabled', 'locked'], to: 'revoked', origin: { ...at(), actor: 'admin' } }), true);
  t.match(await store.getToken(serial(1)), { status: 'revoked', userId: null });
  t.equal(await store.getActiveToken('carol'), null);
  t.match((await store.queryAudit({ serial: serial(1), limit: 1 }))[0], { type: 'revoke', userId: 'carol', actor: 'admin' });
  t.equal(await store.changeStatus({ serial: serial(5), from: ['enabled'], to: 'locked', origin: at() }), false, 'unknown serial');
});

t.test('import is all or nothing and names the duplicate serial', async (t) => {
  const { store } = open(t);
  await store.insertTokens([row(1)], at());
  await t.rejects(store.insertTokens([row(2), row(3), row(1), row(4)], at()), {
    name: 'DuplicateSerialError',
    code: 'ERR_DUPLICATE_SERIAL',
    serial: serial(1),
    message: new RegExp(serial(1)),
  });
  for (const n of [2, 3, 4]) t.equal(await store.getToken(serial(n)), null, `${serial(n)} not imported`);
  t.equal((await store.queryAudit({})).filter((e) => e.type === 'import').length, 1, 'no import events of the failed batch');
  const back = await store.getToken(serial(1));
  t.same(back?.seed, row(1).seed, 'the sealed seed comes back byte for byte');
});

t.test('audit queries filter by serial, user and time, newest first, bounded', async (t) => {
  const { store } = open(t);
  await store.appendAudit([
    { at: T0, type: 'import', serial: serial(1) },
    { at: T0 + 10, type: 'accept', serial: serial(1), userId: 'u1', movingFactor: 3 },
    { at: T0 + 20, type: 'reject', serial: serial(2), userId: 'u1', reason: 'bad-otp', ip: '203.0.113.9' },
    { at: T0 + 30, type: 'lock', serial: serial(2), actor: 'admin' },
  ]);
  t.same((await store.queryAudit({ serial: serial(1) })).map((e) => e.type), ['accept', 'import']);
  t.same((await store.queryAudit({ userId: 'u1' })).map((e) => e.at - T0), [20, 10]);
  t.same((await store.queryAudit({ since: T0 + 20 })).map((e) => e.type), ['lock', 'reject']);
  t.same((await store.queryAudit({ serial: serial(2), userId: 'u1', since: T0 })).map((e) => e.type), ['reject']);
  t.same((await store.queryAudit({ limit: 1 })).map((e) => e.type), ['lock']);
  t.equal((await store.queryAudit({ limit: 0 })).length, 1, 'limit at least 1');
  t.match((await store.queryAudit({ serial: serial(2) }))[1], {
    type: 'reject', serial: serial(2), userId: 'u1', ip: '203.0.113.9', actor: null, reason: 'bad-otp', movingFactor: null,
  });
  t.equal(await store.ping(), true);
});

t.test('every write is acknowledged only once committed, and visible to another connection then', async (t) => {
  const { store, path } = open(t);
  const n = 200;
  await store.insertTokens(Array.from({ length: n }, (_, i) => row(i)), at());
  const peek = new Database(path, { readonly: true });
  t.teardown(() => peek.close());
  const lastOf = peek.prepare('SELECT last_moving_factor FROM tokens WHERE serial = ?').pluck();
  let unseen = 0;
  await Promise.all(
    Array.from({ length: n }, (_, i) =>
      store.recordAttempt(attempt(i, { consume: { movingFactor: 7, drift: 0 } })).then((r) => {
        if (r.outcome !== 'accepted' || lastOf.get(serial(i)) !== 7) unseen++;
      }),
    ),
  );
  t.equal(unseen, 0, 'every acknowledged accept was already on disk');
});

t.test('close commits what is queued, then refuses', async (t) => {
  const path = tempDbPath(t);
  const store = openSqliteStore(path, { groupCommit: true });
  await store.insertTokens([row(1)], at());
  const pending = store.recordAttempt(attempt(1, { consume: { movingFactor: 1, drift: 0 } }));
  await store.close();
  t.same(await pending, { outcome: 'accepted' });
  await store.close();
  await t.rejects(store.getToken(serial(1)), { code: 'ERR_STORE_CLOSED' });
  await t.rejects(store.appendAudit([]), { code: 'ERR_STORE_CLOSED' });
  const reopened = openSqliteStore(path);
  t.equal((await reopened.getToken(serial(1)))?.lastMovingFactor, 1);
  await reopened.close();
});

t.test('without group commit every write is its own transaction, with the same results', async (t) => {
  const store = openSqliteStore(tempDbPath(t), { groupCommit: false, maxBatch: 8 });
  t.teardown(() => store.close());
  await store.insertTokens([row(1)], at());
  const both = await Promise.all([
    store.recordAttempt(attempt(1, { consume: { movingFactor: 2, drift: 0 } })),
    store.recordAttempt(attempt(1, { consume: { movingFactor: 2, drift: 0 } })),
  ]);
  t.same(both.map((r) => r.outcome).sort(), ['accepted', 'failed']);
});
