// The background checkpointer: a worker thread's connection copies the write-ahead log into the
// database file, on request and every interval, without blocking the writer.
import t from 'tap';
import { statSync } from 'node:fs';
import Database from 'better-sqlite3';
import { startCheckpointer } from '../src/store/sqlite-checkpointer.js';
import { tempDbPath } from './helpers/db.js';

/** A WAL database whose own connection never checkpoints, with `rows` rows in the log only. */
function walDatabase(path: string, rows: number): Database.Database {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('wal_autocheckpoint = 0');
  db.exec('CREATE TABLE x (v BLOB)');
  const insert = db.prepare('INSERT INTO x (v) VALUES (randomblob(500))');
  db.transaction(() => {
    for (let i = 0; i < rows; i++) insert.run();
  })();
  return db;
}

t.test('a checkpoint on request copies the whole log while the writer stays open', async (t) => {
  const path = tempDbPath(t);
  const db = walDatabase(path, 200);
  const before = statSync(path).size;
  const checkpointer = startCheckpointer(path, { intervalMs: 60_000 });
  const report = await checkpointer.checkpoint();
  t.ok(report.log > 0, 'the log had frames');
  t.equal(report.checkpointed, report.log, 'all of them copied');
  t.equal(report.busy, 0);
  t.equal(report.synced, 1, 'and the database file synced');
  t.ok(statSync(path).size > before + 200 * 500, 'the rows are in the database file now');
  t.match(await checkpointer.checkpoint(), { checkpointed: report.checkpointed, synced: 0 }, 'nothing new copied: no sync');
  db.prepare('INSERT INTO x (v) VALUES (1)').run(); // the writer was never blocked
  await checkpointer.close();
  t.equal(db.prepare('SELECT count(*) FROM x').pluck().get() as number, 201);
  db.close();
});

t.test('checkpoints also run on their own, every interval', async (t) => {
  const path = tempDbPath(t);
  const db = walDatabase(path, 200);
  t.teardown(() => db.close());
  const before = statSync(path).size;
  const checkpointer = startCheckpointer(path, { intervalMs: 5 });
  while (statSync(path).size <= before) await new Promise((r) => setTimeout(r, 5));
  t.pass('the database file grew without being asked');
  await checkpointer.close();
});

t.test('a checkpointer that cannot open the database says so, and closes', async (t) => {
  const checkpointer = startCheckpointer(tempDbPath(t, 'missing.db'));
  await t.rejects(checkpointer.checkpoint(), { code: 'SQLITE_CANTOPEN', message: /checkpointer failed: SQLITE_CANTOPEN/ });
  await t.rejects(checkpointer.checkpoint(), { code: 'SQLITE_CANTOPEN' }, 'and keeps saying so');
  await checkpointer.close();
  const nowhere = startCheckpointer(`${tempDbPath(t)}.d/missing.db`);
  await t.rejects(nowhere.checkpoint(), { message: /directory does not exist/ }, 'a plain Error comes as it is');
  await nowhere.close();
});

t.test('a checkpoint that cannot copy the whole log still syncs what it copied', async (t) => {
  const path = tempDbPath(t);
  const db = walDatabase(path, 50);
  // A reader holding a snapshot at 50 rows keeps the frames written after it from being copied.
  const reader = new Database(path);
  t.teardown(() => reader.close());
  reader.exec('BEGIN');
  reader.prepare('SELECT count(*) FROM x').pluck().get();
  for (let i = 0; i < 50; i++) db.prepare('INSERT INTO x (v) VALUES (?)').run('y'.repeat(500));
  const checkpointer = startCheckpointer(path, { intervalMs: 60_000 });
  const report = await checkpointer.checkpoint();
  t.ok(
    report.checkpointed > 0 && report.checkpointed < report.log,
    `part of the log copied (${report.checkpointed} of ${report.log} frames)`,
  );
  t.equal(report.synced, 1, 'SQLite does not sync the database after such a checkpoint; the worker does');
  reader.exec('COMMIT');
  await checkpointer.close();
  db.close();
});
