// A token's audit chain that points at a row that is not there (an accept whose audit insert was
// lost, a file damaged) must end the walk and be reported, never loop on the event loop.
import Database from 'better-sqlite3';
import t from 'tap';
import { openSqliteStore } from '../src/store/sqlite.js';
import { tempDbPath } from './helpers/db.js';
import { row as rowOf, serial as serialOf } from './store-contract.js';
import { spend } from './helpers/writes.js';

const serial = serialOf(1);
const row = rowOf(1);

t.test('a broken chain ends the walk: the rows before the break, and a warning', async (t) => {
  const path = tempDbPath(t);
  const warnings: string[] = [];
  const log = { warn: (_obj: object, message: string) => warnings.push(message), info: () => undefined };
  const store = openSqliteStore(path);
  await store.insertTokens([row], { at: 1, ip: null });
  for (let m = 0; m < 3; m++) await store.attempt({ serial }, spend(m, { at: 10 + m, ip: null }));
  await store.close();
  const db = new Database(path);
  // The head points past the end: the newest row "lost".
  db.prepare('UPDATE tokens SET last_audit_id = 999 WHERE serial = ?').run(serial);
  db.close();
  const again = openSqliteStore(path, { log });
  t.teardown(() => again.close());
  const events = await Promise.race([again.queryAudit({ serial }), new Promise<'hung'>((r) => setTimeout(() => r('hung'), 5000).unref())]);
  t.not(events, 'hung', 'the query answers');
  t.same(events, [], 'the chain broke at its head: nothing of it can be found');
  t.match(warnings, [new RegExp(`audit chain of token ${serial} broken at row 999`)], 'and it is reported');
});

t.test('a link that does not point to an older row ends the walk too: a damaged chain cannot loop', async (t) => {
  const path = tempDbPath(t);
  const store = openSqliteStore(path);
  await store.insertTokens([row], { at: 1, ip: null });
  for (let m = 0; m < 3; m++) await store.attempt({ serial }, spend(m, { at: 10 + m, ip: null }));
  const newest = (await store.queryAudit({ serial, limit: 1 }))[0]!;
  await store.close();
  // Damage the file as a disk might: the newest row links to itself.
  const db = new Database(path);
  db.exec('DROP TRIGGER audit_is_append_only_update');
  db.prepare('UPDATE audit SET prev_id = id WHERE id = ?').run(newest.id);
  db.close();
  const warnings: string[] = [];
  const again = openSqliteStore(path, { log: { warn: (_o: object, m: string) => warnings.push(m), info: () => undefined } });
  t.teardown(() => again.close());
  const events = await Promise.race([
    again.queryAudit({ serial, userId: 'nobody' }),
    new Promise<'hung'>((r) => setTimeout(() => r('hung'), 5000).unref()),
  ]);
  t.same(events, [], 'answered, not looping');
  t.match(warnings, [new RegExp(`broken at row ${newest.id}`)]);
});

t.test('a query reads a bounded number of rows: a filter that keeps nothing of a long chain ends', async (t) => {
  const warnings: string[] = [];
  const store = openSqliteStore(tempDbPath(t), {
    maxAuditScan: 20,
    log: { warn: (_o: object, m: string) => warnings.push(m), info: () => undefined },
  });
  t.teardown(() => store.close());
  await store.insertTokens([row], { at: 1, ip: null });
  for (let m = 0; m < 50; m++) await store.attempt({ serial }, spend(m, { at: 10 + m, ip: null }));
  t.same(await store.queryAudit({ serial, userId: 'nobody' }), [], 'nothing kept, and the walk stopped');
  t.match(warnings, [/read 20 rows and stopped there/]);
  t.equal((await store.queryAudit({ serial, limit: 5 })).length, 5, 'a query that finds its rows soon is not affected');
  const n = (await store.queryAudit({ serial, limit: 30 })).length;
  t.ok(n > 15 && n <= 20, `one that needs more than the bound gets what it read (${n})`);
});
