// The group-commit queue on a fake transaction runner: batching, isolation, settling after commit.
import t from 'tap';
import { createGroupCommit } from '../src/store/group-commit.js';
import { fakeDb } from './helpers/fake-group-db.js';

t.test('writes of one turn share one transaction, and settle only after its commit', async (t) => {
  const db = fakeDb();
  const gc = createGroupCommit(db);
  const settled: number[] = [];
  const all = [1, 2, 3, 4, 5].map((n) =>
    gc
      .submit(() => {
        db.log.push(`op${n}`);
        return n * 10;
      })
      .then((v) => {
        settled.push(v);
        t.equal(db.log.at(-1), 'commit', `op${n} settles after the commit`);
      }),
  );
  t.same(db.log, [], 'nothing runs in the submitting turn');
  await Promise.all(all);
  t.same(db.log, ['begin', 'op1', 'op2', 'op3', 'op4', 'op5', 'commit']);
  t.same(settled, [10, 20, 30, 40, 50]);
});

t.test('an op that throws rejects only its own caller', async (t) => {
  const db = fakeDb();
  const gc = createGroupCommit(db);
  const a = gc.submit(() => 'a');
  const b = gc.submit(() => {
    throw new Error('duplicate');
  });
  const c = gc.submit(() => 'c');
  t.equal(await a, 'a');
  await t.rejects(b, { message: 'duplicate' });
  t.equal(await c, 'c');
  t.same(db.log, ['begin', 'commit']);
});

t.test('a failed commit rejects the whole batch and rolls it back; a failed begin rejects its batch', async (t) => {
  const db = fakeDb();
  let commitFails = true;
  const gc = createGroupCommit({
    ...db,
    commit() {
      if (commitFails) throw new Error('disk I/O error');
      db.commit();
    },
  });
  const results = await Promise.allSettled([gc.submit(() => 1), gc.submit(() => 2)]);
  t.same(
    results.map((r) => r.status),
    ['rejected', 'rejected'],
  );
  t.match(results[0], { reason: { message: 'disk I/O error' } });
  t.same(db.log, ['begin', 'rollback']);
  commitFails = false;
  t.equal(await gc.submit(() => 3), 3, 'the next batch commits');

  const locked = createGroupCommit({
    ...fakeDb(),
    begin() {
      throw new Error('database is locked');
    },
  });
  await t.rejects(
    locked.submit(() => 1),
    { message: 'database is locked' },
  );
});

t.test('a full batch commits at once; disabled means one transaction per write', async (t) => {
  const db = fakeDb();
  const gc = createGroupCommit({ ...db, maxBatch: 2 });
  const p = [gc.submit(() => db.log.push('x')), gc.submit(() => db.log.push('y'))];
  t.same(db.log, ['begin', 'x', 'y', 'commit'], 'committed synchronously when the batch filled');
  gc.submit(() => db.log.push('z'));
  await Promise.all(p);

  const solo = fakeDb();
  const one = createGroupCommit({ ...solo, enabled: false });
  await Promise.all([one.submit(() => solo.log.push('a')), one.submit(() => solo.log.push('b'))]);
  t.same(solo.log, ['begin', 'a', 'commit', 'begin', 'b', 'commit']);
});

t.test('drain commits what is queued now, and is harmless when nothing is', async (t) => {
  const db = fakeDb();
  const gc = createGroupCommit(db);
  await gc.drain();
  t.same(db.log, []);
  const p = gc.submit(() => 1);
  const drained = gc.drain();
  t.same(db.log, ['begin', 'commit'], 'committed in the calling turn');
  await drained;
  t.equal(await p, 1);
});

/** A sync the test completes by hand, counting the calls. */
function manualSync() {
  const calls: Array<{ resolve: () => void; reject: (e: Error) => void }> = [];
  return {
    calls,
    sync: () => new Promise<void>((resolve, reject) => calls.push({ resolve, reject })),
  };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

t.test('with a sync, callers hear back only after the sync that covers their commit', async (t) => {
  const db = fakeDb();
  const s = manualSync();
  const gc = createGroupCommit({ ...db, sync: s.sync });
  const settled: string[] = [];
  const first = [gc.submit(() => 'a'), gc.submit(() => 'b')].map((p) => p.then((v) => settled.push(v)));
  await tick();
  t.same(db.log, ['begin', 'commit'], 'committed at once');
  t.equal(s.calls.length, 1, 'one sync for the batch');
  await tick();
  t.same(settled, [], 'nobody answered while the sync runs');

  // Two more writes arrive while the first sync runs: they run at once, in a transaction left open.
  const second = gc
    .submit(() => {
      db.log.push('c');
      return 'c';
    })
    .then((v) => settled.push(v));
  await tick();
  const third = gc
    .submit(() => {
      throw new Error('duplicate');
    })
    .catch((e: Error) => settled.push(e.message));
  await tick();
  t.same(db.log, ['begin', 'commit', 'begin', 'c'], 'they ran during the sync, uncommitted');
  t.equal(s.calls.length, 1, 'still one sync in flight');

  s.calls[0]?.resolve();
  await Promise.all(first);
  t.same(settled, ['a', 'b'], 'the first batch answered');
  t.same(db.log, ['begin', 'commit', 'begin', 'c', 'commit'], 'their transaction commits when the sync ends');
  t.equal(s.calls.length, 2, 'and the next sync covers them');
  await tick();
  t.same(settled, ['a', 'b'], 'they wait for it');
  s.calls[1]?.resolve();
  await Promise.all([second, third]);
  t.same(settled, ['a', 'b', 'c', 'duplicate'], 'an op that threw is told after the sync too');
  const drained = gc.drain();
  t.equal(s.calls.length, 2, 'nothing left to sync');
  await drained;
});

t.test('a full batch commits during a sync, and a sync follows for it', async (t) => {
  const db = fakeDb();
  const s = manualSync();
  const gc = createGroupCommit({ ...db, sync: s.sync, maxBatch: 2 });
  const first = gc.submit(() => 1);
  await tick();
  const full = [gc.submit(() => 2), gc.submit(() => 3)];
  t.same(db.log, ['begin', 'commit', 'begin', 'commit'], 'the full batch did not wait');
  s.calls[0]?.resolve();
  t.equal(await first, 1);
  t.equal(s.calls.length, 2, 'a sync for the full batch, with nothing left in the queue');
  s.calls[1]?.resolve();
  t.same(await Promise.all(full), [2, 3]);
});

t.test('a failed sync fails everything waiting and every later write', async (t) => {
  const db = fakeDb();
  const s = manualSync();
  const gc = createGroupCommit({ ...db, sync: s.sync });
  const covered = gc.submit(() => 1);
  await tick();
  const waiting = gc.submit(() => 2);
  await tick();
  const queued = gc.submit(() => 3);
  const drained = gc.drain();
  t.same(db.log, ['begin', 'commit', 'begin'], 'the writes after the first ran in an open transaction');
  s.calls[0]?.reject(new Error('EIO: i/o error, fdatasync'));
  const outcomes = await Promise.allSettled([covered, waiting, queued, drained]);
  t.same(
    outcomes.map((o) => o.status),
    ['rejected', 'rejected', 'rejected', 'rejected'],
  );
  t.match(outcomes[0], { reason: { message: /EIO/ } });
  t.same(db.log, ['begin', 'commit', 'begin', 'rollback'], 'and that transaction is rolled back');
  await t.rejects(
    gc.submit(() => 4),
    { message: /EIO/ },
    'the queue stays failed',
  );
  t.equal(s.calls.length, 1, 'no second sync after a failure');
});
