/**
 * The server checkpoints its own audit log (plugins/audit-checkpoints.ts): on its timer, the rows
 * since the newest checkpoint are signed; a log that does not chain is logged as an error, naming
 * the rows at fault, and is signed no more; a period of 0 takes none.
 */
import t from 'tap';
import { verified, verifyLog } from '../src/audit-log.js';
import { checkpointKey } from '../src/security/audit-checkpoint.js';
import { sqliteUnderTest, tamperSqlite } from './helpers/stores.js';
import { testApp } from './http-helpers.js';

const PERIOD_MS = 30;
const MASTER = Uint8Array.from({ length: 32 }, (_, i) => 255 - i);

/** An audit row, as any refusal writes one. */
const write = (store: ReturnType<typeof sqliteUnderTest>['store'], at: number, reason: string) =>
  store.attempt({}, () => ({
    result: undefined,
    writes: [{ kind: 'audit', entry: { at, type: 'reject', serial: null, userId: null, ip: '192.0.2.1', reason } }],
  }));

/** Resolves once `check` holds, or fails the test after a few seconds. */
async function until(check: () => Promise<boolean>): Promise<boolean> {
  for (let i = 0; i < 200; i++) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 15));
  }
  return false;
}

t.test('the server signs the rows since its newest checkpoint, and never a broken log', async (t) => {
  const { store, db } = sqliteUnderTest(t);
  // Rows from before this start: the first checkpoint walks the whole log.
  await write(store, Date.UTC(2025, 11, 31), 'bad-otp');
  await write(store, Date.UTC(2025, 11, 31), 'bad-otp');
  const { clock, log } = await testApp(t, { store, auditCheckpointMs: PERIOD_MS, captureLog: true });
  const archive = store.auditArchive;
  const key = await checkpointKey(MASTER);

  t.ok(await until(async () => (await archive.checkpoints()).length === 1), 'a checkpoint, without anyone asking');
  const first = await verifyLog(archive, key);
  t.ok(verified(first) && first.unprotected === 0, 'every row under it; signed with the master key');

  await write(store, clock.now(), 'bad-password');
  await new Promise((r) => setTimeout(r, PERIOD_MS * 4));
  t.equal((await archive.checkpoints()).length, 1, 'none again within half a period of the last (by the clock)');
  clock.advance(PERIOD_MS);
  t.ok(await until(async () => (await archive.checkpoints()).length === 2), 'after it, the new row signed');
  t.equal((await verifyLog(archive, key)).unprotected, 0);

  // Someone with the database changes a row the newest checkpoint does not cover yet.
  await write(store, clock.now(), 'bad-otp');
  const { id } = db.prepare('SELECT MAX(id) AS id FROM audit').get() as { id: number };
  tamperSqlite(db, `UPDATE audit SET reason = 'nothing happened' WHERE id = ${id}`);
  clock.advance(PERIOD_MS);
  t.ok(await until(async () => log().includes('the audit log does not verify')), 'an error in the log');
  const line = JSON.parse(
    log()
      .split('\n')
      .find((l) => l.includes('the audit log does not verify'))!,
  ) as Record<string, unknown>;
  t.match(line, { level: 50, breaks: [id] }, 'at error level, naming the row');
  t.notMatch(log(), 'nothing happened', "never the row's content");
  t.equal((await archive.checkpoints()).length, 2, 'and nothing signed over it');
});

t.test('a period of 0: the server takes no checkpoint', async (t) => {
  const { store } = sqliteUnderTest(t);
  const { clock } = await testApp(t, { store, auditCheckpointMs: 0 });
  await write(store, clock.now(), 'bad-otp');
  await new Promise((r) => setTimeout(r, 100));
  t.same(await store.auditArchive.checkpoints(), []);
});
