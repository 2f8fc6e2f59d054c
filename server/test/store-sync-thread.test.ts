// The write-ahead log's fdatasync runs on a thread of its own (store/sync-thread.ts), not on
// libuv's pool, where password hashes run: with every pool thread busy hashing, a durable write
// is still answered at once (it used to wait for a pool thread, seconds in a login flood).
import { scrypt } from 'node:crypto';
import t from 'tap';
import { makeSerial } from '@kodeviser/shared';
import { NO_DRIFT } from '../src/domain/policy.js';
import { openSqliteStore } from '../src/store/sqlite.js';
import { tempDbPath } from './helpers/db.js';
import { spend } from './helpers/writes.js';

t.test('a durable write does not wait for the hashing threads', async (t) => {
  const serial = makeSerial('400000007');
  const store = openSqliteStore(tempDbPath(t));
  t.teardown(() => store.close());
  await store.insertTokens(
    [
      {
        serial,
        profile: 'hotp-sha1',
        digits: 6,
        step: 30,
        t0: 0,
        seed: { ciphertext: Uint8Array.of(1), nonce: new Uint8Array(12), keyVersion: 1 },
        lastMovingFactor: -1,
        drift: NO_DRIFT,
      },
    ],
    { at: 0, ip: null },
  );
  // Every thread of libuv's pool (4 unless UV_THREADPOOL_SIZE says otherwise) busy with a slow hash.
  const threads = Number(process.env.UV_THREADPOOL_SIZE ?? 4);
  const started = Date.now();
  const hashes = Array.from(
    { length: threads * 2 },
    () =>
      new Promise<number>((resolve, reject) =>
        scrypt('flood', 'salt', 32, { N: 2 ** 15, r: 16, p: 1, maxmem: 256 * 2 ** 20 }, (e) =>
          e ? reject(e) : resolve(Date.now() - started),
        ),
      ),
  );
  await new Promise((r) => setTimeout(r, 20));
  const before = Date.now();
  t.equal(await store.attempt({ serial }, spend(0, { at: 1, ip: null })), 'accepted');
  const took = Date.now() - before;
  const firstHash = Math.min(...(await Promise.all(hashes)));
  t.ok(firstHash > took, `answered (${took} ms) before the first hash ended (${firstHash} ms): the sync did not queue behind them`);
});
