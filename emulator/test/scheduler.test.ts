import t from 'tap';
import fc from 'fast-check';
import { Scheduler } from '../src/scheduler.js';

t.test('fires in time order, ties in insertion order, and moves now', (t) => {
  const s = new Scheduler(1000);
  const seen: string[] = [];
  s.schedule(1300, () => seen.push('c'), 'c');
  s.schedule(1100, () => seen.push('a1'));
  s.schedule(1100, () => seen.push('a2'));
  s.after(200, () => seen.push('b'));
  t.equal(s.pending, 4);
  t.equal(s.nextAt(), 1100);
  t.equal(s.runUntil(1250), 3);
  t.same(seen, ['a1', 'a2', 'b']);
  t.equal(s.now, 1250);
  t.ok(s.runNext());
  t.equal(s.now, 1300);
  t.notOk(s.runNext(), 'nothing left');
  t.equal(s.nextAt(), undefined);
  t.end();
});

t.test('an event may schedule more events, at the same instant too', (t) => {
  const s = new Scheduler(0);
  const seen: number[] = [];
  s.schedule(10, () => {
    seen.push(s.now);
    s.schedule(10, () => seen.push(-s.now));
    s.schedule(20, () => seen.push(s.now));
  });
  s.runUntil(100);
  t.same(seen, [10, -10, 20]);
  t.end();
});

t.test('cancel removes an event once, and compaction keeps order', (t) => {
  const s = new Scheduler(0);
  const seen: number[] = [];
  const keep = s.schedule(5, () => seen.push(5));
  const drop = s.schedule(3, () => seen.push(3));
  t.ok(s.cancel(drop));
  t.notOk(s.cancel(drop), 'already cancelled');
  t.notOk(s.cancel({ at: 1, seq: 0, label: 'not ours' }), 'foreign handle');
  // many re-arms of a timer: dead entries are compacted away
  let last = s.schedule(1000, () => seen.push(-1));
  for (let i = 0; i < 500; i++) {
    s.cancel(last);
    last = s.schedule(1000 + i, () => seen.push(1000));
  }
  t.equal(s.pending, 2);
  t.same(
    s.list().map((e) => e.at),
    [5, 1499],
  );
  s.runUntil(2000);
  t.same(seen, [5, 1000]);
  t.notOk(s.cancel(keep), 'fired events cannot be cancelled');
  t.end();
});

t.test('rejects times in the past and bad numbers, naming the argument', (t) => {
  const s = new Scheduler(100);
  t.throws(() => s.schedule(99, () => {}), { code: 'ERR_ARGUMENT', message: /^at/ });
  t.throws(() => s.schedule(1.5 + 100, () => {}), { code: 'ERR_ARGUMENT', message: /^at/ });
  t.throws(() => s.runUntil(50), { code: 'ERR_ARGUMENT', message: /^t / });
  t.throws(() => new Scheduler(-1), { code: 'ERR_ARGUMENT', message: /^startUs/ });
  t.end();
});

t.test('property: any mix of schedules and cancels fires live events sorted by (time, insertion)', (t) => {
  fc.assert(
    fc.property(fc.array(fc.record({ at: fc.integer({ min: 0, max: 50 }), cancel: fc.boolean() }), { maxLength: 300 }), (ops) => {
      const s = new Scheduler(0);
      const fired: number[] = [];
      const handles = ops.map((op, i) => s.schedule(op.at, () => fired.push(i)));
      ops.forEach((op, i) => {
        if (op.cancel) s.cancel(handles[i]!);
      });
      s.runUntil(60);
      const expected = ops
        .map((op, i) => ({ ...op, i }))
        .filter((o) => !o.cancel)
        .sort((a, b) => a.at - b.at || a.i - b.i)
        .map((o) => o.i);
      return JSON.stringify(fired) === JSON.stringify(expected);
    }),
    { numRuns: 200 },
  );
  t.end();
});
