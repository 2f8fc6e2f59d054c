/**
 * The SQLite store when its database turns bad under it (issue 18, finding 3): another process
 * holding the write lock (a second connection in `BEGIN IMMEDIATE`, as a `sqlite3` shell or a
 * `VACUUM` would), a database file made read-only, a disk without room. A write must fail fast —
 * 503 `unavailable` with Retry-After and one log line, after the short busy timeout, not after
 * SQLite's 5 s on the event loop — readiness must say so, and both must recover once the lock is
 * released: a lock is not a failed sync, and must not leave the store refusing writes for ever.
 */
import t, { type Test } from 'tap';
import { chmodSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import Database from 'better-sqlite3';
import { loadConfig } from '../src/config.js';
import { StoreUnavailableError } from '../src/domain/errors.js';
import { describeError } from '../src/plugins/errors.js';
import { storeOptions } from '../src/store/open.js';
import { openSqliteStore, storeFailure } from '../src/store/sqlite.js';
import type { Origin } from '../src/store/types.js';
import { asService, device, importDevices, post, testApp } from './http-helpers.js';
import { tempDir } from './helpers/db.js';
import { row, serial } from './store-contract.js';
import { spend } from './helpers/writes.js';

/** A second connection to the file, as another process would have: it waits for no lock. */
function otherConnection(t: Test, path: string): Database.Database {
  const other = new Database(path, { timeout: 0 });
  t.teardown(() => {
    if (other.inTransaction) other.exec('ROLLBACK');
    other.close();
  });
  return other;
}

const timed = async <T>(fn: () => Promise<T>): Promise<[T, number]> => {
  const started = performance.now();
  const value = await fn();
  return [value, performance.now() - started];
};

t.test('a write lock held by another connection: 503 at once, readiness says so, and both recover', async (t) => {
  const path = join(tempDir(t), 'kodeviser.db');
  const store = openSqliteStore(path, { busyTimeoutMs: 50 });
  const { app, log } = await testApp(t, { store, captureLog: true });
  const d = device();
  await importDevices(app, d);
  t.equal((await app.inject({ url: '/readyz' })).statusCode, 200, 'ready');

  const other = otherConnection(t, path);
  other.exec('BEGIN IMMEDIATE');
  const code = d.press();
  const [locked, ms] = await timed(() => post(app, '/v1/validate', { serial: d.serial, otp: code }, asService));
  t.equal(locked.statusCode, 503, 'the validation is refused as unavailable');
  t.same(Object.keys(locked.json()).sort(), ['error', 'message'], 'the usual error shape, no stack');
  t.equal(locked.json().error, 'unavailable');
  t.match(locked.json().message, /locked/);
  t.equal(locked.headers['retry-after'], '1', 'with Retry-After');
  t.ok(ms < 1000, `answered in ${Math.round(ms)} ms with a 50 ms busy timeout (SQLite's 5 s before)`);
  const lines = log()
    .split('\n')
    .filter((l) => l.includes('"level":40') || l.includes('"level":50'));
  t.equal(lines.length, 1, 'one log line for it');
  t.match(lines[0], /SQLITE_BUSY/, 'naming SQLite’s code');
  t.notMatch(lines[0], /stack|at .*\.ts:/, 'without a stack trace');

  const [ready, readyMs] = await timed(() => app.inject({ url: '/readyz' }));
  t.same([ready.statusCode, ready.json()], [503, { status: 'unavailable' }], 'not ready while the lock is held');
  t.ok(readyMs < 1000, `readiness answered in ${Math.round(readyMs)} ms`);

  other.exec('COMMIT');
  t.equal((await app.inject({ url: '/readyz' })).statusCode, 200, 'ready again once the lock is released');
  const after = await post(app, '/v1/validate', { serial: d.serial, otp: code }, asService);
  t.same([after.statusCode, after.json().result], [200, 'accept'], 'the same code is accepted now: the refused attempt wrote nothing');
});

const T0 = Date.UTC(2026, 0, 1);
const at: Origin = { at: T0, ip: '198.51.100.7' };

t.test('the store: a foreign lock fails writes and the ping fast, and never poisons the group commit', async (t) => {
  const path = join(tempDir(t), 'k.db');
  const store = openSqliteStore(path, { busyTimeoutMs: 30 });
  t.teardown(() => store.close());
  await store.insertTokens([row(1), row(2)], at);
  const other = otherConnection(t, path);
  for (let round = 0; round < 3; round++) {
    other.exec('BEGIN IMMEDIATE');
    const [writes, ms] = await timed(() =>
      Promise.allSettled([store.attempt({ serial: serial(1) }, spend(round, at)), store.attempt({ serial: serial(2) }, spend(round, at))]),
    );
    t.same(
      writes.map((w) => (w.status === 'rejected' ? (w.reason as { code?: string }).code : w.value)),
      ['ERR_UNAVAILABLE', 'ERR_UNAVAILABLE'],
      `round ${round}: both writes refused as unavailable`,
    );
    t.ok(ms < 1000, `round ${round}: in ${Math.round(ms)} ms`);
    t.equal(await store.ping(), false, 'not ready');
    t.same((await store.getToken(serial(1)))?.lastMovingFactor, round - 1, 'reads go on (WAL: a writer does not block them)');
    other.exec('COMMIT');
    t.equal(await store.ping(), true, 'ready once released');
    t.same(
      await Promise.all([store.attempt({ serial: serial(1) }, spend(round, at)), store.attempt({ serial: serial(2) }, spend(round, at))]),
      ['accepted', 'accepted'],
      `round ${round}: writes go through again`,
    );
  }
});

t.test('the ping goes through the write queue: it shares the lock its own open transaction holds', async (t) => {
  const store = openSqliteStore(join(tempDir(t), 'k.db'), { busyTimeoutMs: 30 });
  t.teardown(() => store.close());
  await store.insertTokens([row(1)], at);
  // Writes in flight in every turn, so that some pings land while the group commit's transaction
  // is open (during a sync): a second BEGIN there would fail ("within a transaction").
  const work: Promise<unknown>[] = [];
  const pings: Promise<boolean>[] = [];
  for (let i = 0; i < 50; i++) {
    work.push(store.attempt({ serial: serial(1) }, spend(i, at)));
    pings.push(store.ping());
    await new Promise((r) => setImmediate(r));
  }
  await Promise.all(work);
  t.same(new Set(await Promise.all(pings)), new Set([true]), 'every ping said ready');
});

t.test('a read-only database file, or a disk without room: not ready; writable again: ready', async (t) => {
  const path = join(tempDir(t), 'kodeviser.db');
  const store = openSqliteStore(path, { busyTimeoutMs: 50 });
  const { app } = await testApp(t, { store });
  await importDevices(app, device());
  t.equal((await app.inject({ url: '/readyz' })).statusCode, 200);
  chmodSync(path, 0o444);
  t.teardown(() => chmodSync(path, 0o600));
  t.same((await app.inject({ url: '/readyz' })).json(), { status: 'unavailable' }, 'the file made read-only');
  chmodSync(path, 0o600);
  t.equal((await app.inject({ url: '/readyz' })).statusCode, 200, 'writable again');

  const full = openSqliteStore(join(tempDir(t), 'full.db'), { busyTimeoutMs: 50, minFreeBytes: Number.MAX_SAFE_INTEGER });
  t.teardown(() => full.close());
  await full.insertTokens([row(1)], at);
  t.equal(await full.ping(), false, 'less room on its file system than the store needs: not ready');
});

t.test('SQLite’s busy, full, read-only and I/O errors are the store being unavailable; others are not', async (t) => {
  const sqliteError = (code: string) => Object.assign(new Error(code.toLowerCase()), { code });
  for (const [code, message] of [
    ['SQLITE_BUSY', /locked by another process/],
    ['SQLITE_BUSY_SNAPSHOT', /locked by another process/],
    ['SQLITE_FULL', /full/],
    ['SQLITE_READONLY', /read-only/],
    ['SQLITE_READONLY_DBMOVED', /read-only/],
    ['SQLITE_IOERR_WRITE', /I\/O error/],
    ['SQLITE_IOERR_FSYNC', /I\/O error/],
  ] as const) {
    const cause = sqliteError(code);
    const e = storeFailure(cause, 50);
    t.ok(e instanceof StoreUnavailableError, code);
    t.match(e, { code: 'ERR_UNAVAILABLE', message, cause });
    t.same(describeError(e as Error), {
      status: 503,
      body: { error: 'unavailable', message: (e as Error).message },
      headers: { 'retry-after': '1' },
    });
  }
  for (const code of ['SQLITE_CONSTRAINT_PRIMARYKEY', 'SQLITE_ERROR', 'SQLITE_CORRUPT', 'EIO']) {
    const e = sqliteError(code);
    t.equal(storeFailure(e, 50), e, `${code} is left as it is`);
  }
});

t.test('KODEVISER_SQLITE_BUSY_TIMEOUT_MS and the PostgreSQL timeouts: defaults, settings, bounds', async (t) => {
  const load = (env: NodeJS.ProcessEnv) =>
    loadConfig({ env: { KODEVISER_MASTER_KEY: 'ab'.repeat(32), KODEVISER_ADMIN_TOKEN: 'a'.repeat(32), ...env }, cwd: tempDir(t) }).config;
  t.same(load({}).storeTimeouts, { sqliteBusyMs: 50, pgStatementMs: 5000, pgLockMs: 1000 }, 'defaults');
  t.same(
    load({ KODEVISER_SQLITE_BUSY_TIMEOUT_MS: '200', KODEVISER_PG_STATEMENT_TIMEOUT_MS: '0', KODEVISER_PG_LOCK_TIMEOUT_MS: '250' })
      .storeTimeouts,
    { sqliteBusyMs: 200, pgStatementMs: 0, pgLockMs: 250 },
  );
  t.throws(() => load({ KODEVISER_SQLITE_BUSY_TIMEOUT_MS: '5s' }), { code: 'ERR_ARGUMENT', message: /KODEVISER_SQLITE_BUSY_TIMEOUT_MS/ });
  t.throws(() => load({ KODEVISER_SQLITE_BUSY_TIMEOUT_MS: '600000' }), { code: 'ERR_ARGUMENT' });
  // What main.ts opens the store with.
  t.same(storeOptions({ sqliteBusyMs: 70, pgStatementMs: 800, pgLockMs: 90 }), {
    sqlite: { busyTimeoutMs: 70 },
    postgres: { statementTimeoutMs: 800, lockTimeoutMs: 90 },
  });
});
