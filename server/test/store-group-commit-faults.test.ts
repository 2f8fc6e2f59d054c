// The group commit when the database fails under it for a while (a lock another process holds, a
// full disk): the batch of the time fails, the next one begins afresh; only a failed sync is final.
import t from 'tap';
import { createGroupCommit } from '../src/store/group-commit.js';
import { fakeDb } from './helpers/fake-group-db.js';

const busy = () => Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' });

t.test('a begin that finds the database locked fails its batch only, as often as it happens, and poisons nothing', async (t) => {
  const db = fakeDb();
  let locked = true;
  const gc = createGroupCommit({
    ...db,
    begin() {
      if (locked) throw busy();
      db.begin();
    },
    sync: async () => undefined,
  });
  for (let i = 0; i < 3; i++) {
    const batch = await Promise.allSettled([gc.submit(() => i), gc.submit(() => -i)]);
    t.same(
      batch.map((r) => (r.status === 'rejected' ? (r.reason as { code?: string }).code : r.value)),
      ['SQLITE_BUSY', 'SQLITE_BUSY'],
      `locked, try ${i}`,
    );
    t.equal(gc.failed, false, 'the store is not failed');
  }
  locked = false;
  t.same(await Promise.all([gc.submit(() => 'a'), gc.submit(() => 'b')]), ['a', 'b'], 'released: the next batch goes through');
  t.same(db.log, ['begin', 'commit']);
  await gc.drain();
});

t.test('a rollback that fails after a failed commit: the callers hear the commit’s error, and the process goes on', async (t) => {
  const db = fakeDb();
  let full = true;
  const gc = createGroupCommit({
    ...db,
    commit() {
      if (full) throw Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
      db.commit();
    },
    rollback() {
      db.rollback();
      if (full) throw Object.assign(new Error('disk I/O error'), { code: 'SQLITE_IOERR' });
    },
  });
  const results = await Promise.allSettled([gc.submit(() => 1), gc.submit(() => 2)]);
  t.same(
    results.map((r) => (r.status === 'rejected' ? (r.reason as { code?: string }).code : r.value)),
    ['SQLITE_FULL', 'SQLITE_FULL'],
  );
  full = false;
  t.equal(await gc.submit(() => 3), 3, 'room again: writes go through');
  t.equal(gc.failed, false);
});
