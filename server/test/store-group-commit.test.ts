// The group-commit queue on a fake transaction runner: batching, isolation, settling after commit.
import t from 'tap';
import { createGroupCommit } from '../src/store/group-commit.js';

function fakeDb() {
  const log: string[] = [];
  let depth = 0;
  return {
    log,
    transaction(work: () => void) {
      log.push('begin');
      depth++;
      try {
        work();
      } finally {
        depth--;
      }
      log.push('commit');
    },
    isolate<T>(op: () => T): T {
      if (depth !== 1) throw new Error('isolate outside a transaction');
      return op();
    },
  };
}

t.test('writes of one turn share one transaction, and settle only after its commit', async (t) => {
  const db = fakeDb();
  const gc = createGroupCommit(db);
  const settled: number[] = [];
  const all = [1, 2, 3, 4, 5].map((n) =>
    gc.submit(() => {
      db.log.push(`op${n}`);
      return n * 10;
    }).then((v) => {
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

t.test('a failed commit rejects the whole batch', async (t) => {
  const gc = createGroupCommit({
    transaction(work) {
      work();
      throw new Error('disk I/O error');
    },
    isolate: (op) => op(),
  });
  const results = await Promise.allSettled([gc.submit(() => 1), gc.submit(() => 2)]);
  t.same(results.map((r) => r.status), ['rejected', 'rejected']);
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

t.test('flush commits what is queued now, and is harmless when nothing is', async (t) => {
  const db = fakeDb();
  const gc = createGroupCommit(db);
  gc.flush();
  t.same(db.log, []);
  const p = gc.submit(() => 1);
  gc.flush();
  t.same(db.log, ['begin', 'commit']);
  t.equal(await p, 1);
});
