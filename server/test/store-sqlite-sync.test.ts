// The SQLite store's durability with group commit: SQLite commits without syncing
// (synchronous=NORMAL), and the store fdatasyncs the write-ahead log itself, on a thread of its
// own (sync-thread.ts), before anyone hears back. That sync is replaced here by one the test
// completes by hand (it still syncs for real first), so the order can be observed: no reply before the sync of the
// log file, and a failed sync fails the store.
import t, { type Test } from 'tap';
import { readlinkSync } from 'node:fs';
import Database from 'better-sqlite3';
import { makeSerial } from '@kodeviser/shared';
import { NO_DRIFT } from '../src/domain/policy.js';
import { fdatasyncOffPool } from '../src/store/sync-thread.js';
import { openSqliteStore } from '../src/store/sqlite.js';
import type { NewTokenRecord, Origin, TokenStore } from '../src/store/types.js';
import { tempDbPath } from './helpers/db.js';
import { spend } from './helpers/writes.js';

const T0 = Date.UTC(2026, 0, 1);
const at: Origin = { at: T0, ip: '198.51.100.7' };
const serial = (n: number) => makeSerial(String(400_000_000 + n));
const row = (n: number): NewTokenRecord => ({
  serial: serial(n),
  profile: 'hotp-sha1',
  digits: 6,
  step: 30,
  t0: 0,
  seed: { ciphertext: Uint8Array.of(n, 1, 2, 3), nonce: new Uint8Array(12).fill(n), keyVersion: 1 },
  lastMovingFactor: -1,
  drift: NO_DRIFT,
});
/** An accept of `movingFactor` on token `n` (a replay when it is spent already). */
const accept = (store: TokenStore, n: number, movingFactor: number) => store.attempt({ serial: serial(n) }, spend(movingFactor, at));

interface HeldSync {
  file: string;
  release: (error?: NodeJS.ErrnoException) => void;
}

async function storeWithHeldSyncs(t: Test) {
  const held: HeldSync[] = [];
  let hold = false;
  const syncWal = (fd: number) =>
    new Promise<void>((resolve, reject) => {
      const file = readlinkSync(`/proc/self/fd/${fd}`);
      fdatasyncOffPool(fd).then(() => {
        if (!hold) return resolve();
        held.push({ file, release: (error) => (error ? reject(error) : resolve()) });
      }, reject);
    });
  const path = tempDbPath(t);
  const store: TokenStore = openSqliteStore(path, { syncWal });
  await store.insertTokens([row(1), row(2)], at);
  hold = true;
  return { store, path, held };
}

const until = async (cond: () => boolean) => {
  while (!cond()) await new Promise((r) => setTimeout(r, 2));
};

t.test('a reply waits for the fdatasync of the write-ahead log that covers its commit', async (t) => {
  const { store, path, held } = await storeWithHeldSyncs(t);
  const answered: string[] = [];
  const first = accept(store, 1, 0).then((r) => answered.push(`1:${r}`));
  await until(() => held.length === 1);
  t.equal(held[0]?.file, `${path}-wal`, 'the log file is what gets synced');

  // Committed (another connection sees it) but not yet durable: nobody has been told.
  const peek = new Database(path, { readonly: true });
  t.teardown(() => peek.close());
  t.equal(peek.prepare('SELECT last_moving_factor FROM tokens WHERE serial = ?').pluck().get(serial(1)), 0);
  const second = accept(store, 2, 0).then((r) => answered.push(`2:${r}`));
  await new Promise((r) => setTimeout(r, 20));
  t.same(answered, [], 'no reply before the sync');
  t.equal(held.length, 1, 'the second commit waits for the sync in flight, not a sync of its own');

  held[0]?.release();
  await first;
  t.same(answered, ['1:accepted']);
  await until(() => held.length === 2);
  t.same(answered, ['1:accepted'], 'the second waits for the next sync');
  held[1]?.release();
  await second;
  t.same(answered, ['1:accepted', '2:accepted']);
  await store.close();
});

t.test('a failed sync fails the waiting writes and every later one, and the store is no longer ready', async (t) => {
  const { store, held } = await storeWithHeldSyncs(t);
  const pending = accept(store, 1, 0);
  await until(() => held.length === 1);
  const eio = Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });
  held[0]?.release(eio);
  await t.rejects(pending, { code: 'EIO' });
  await t.rejects(accept(store, 2, 0), { code: 'EIO' });
  t.equal(await store.ping(), false, 'not ready');
  await t.rejects(store.close(), { code: 'EIO' }, 'close says so too');
  await t.rejects(store.getToken(serial(1)), { code: 'ERR_STORE_CLOSED' });
});

t.test('without group commit, and in memory, writes are answered without a sync of the store own', async (t) => {
  const path = tempDbPath(t);
  const store = openSqliteStore(path, { groupCommit: false }); // SQLite syncs inside each COMMIT (FULL)
  await store.insertTokens([row(1)], at);
  t.equal(await accept(store, 1, 3), 'accepted');
  await store.close();
  const memory = openSqliteStore(':memory:');
  await memory.insertTokens([row(1)], at);
  t.equal(await accept(memory, 1, 3), 'accepted', 'a database in memory has no log to sync');
  await memory.close();
});
