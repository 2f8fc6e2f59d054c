/**
 * The process that store-crash.test.ts kills: accepts moving factors on a few tokens as fast as
 * it can and prints `ack <serial> <movingFactor>` for each accept whose promise has resolved,
 * i.e. each one the store has acknowledged. Writes to a pipe are synchronous on Linux, so a
 * printed ack reached the parent before the child did anything else.
 */
import { makeSerial } from '@kodeviser/shared';
import { NO_DRIFT } from '../../src/domain/policy.js';
import { openSqliteStore } from '../../src/store/sqlite.js';
import { spend } from './writes.js';

const [path, tokenCount = '8'] = process.argv.slice(2);
if (!path) throw new Error('usage: crash-child.ts <db path> [tokens]');
const store = openSqliteStore(path);
const serials = Array.from({ length: Number(tokenCount) }, (_, i) => makeSerial(String(300_000_000 + i)));
await store.insertTokens(
  serials.map((serial) => ({
    serial,
    profile: 'hotp-sha1' as const,
    digits: 6,
    step: 30,
    t0: 0,
    seed: { ciphertext: new Uint8Array(36), nonce: new Uint8Array(12), keyVersion: 1 },
    lastMovingFactor: -1,
    drift: NO_DRIFT,
  })),
  { at: 0, ip: null },
);
process.stdout.write('ready\n');
for (let movingFactor = 0; ; movingFactor++) {
  await Promise.all(
    serials.map((serial) =>
      store.attempt({ serial }, spend(movingFactor, { at: movingFactor, ip: '192.0.2.9' })).then((r) => {
        if (r === 'accepted') process.stdout.write(`ack ${serial} ${movingFactor}\n`);
      }),
    ),
  );
}
