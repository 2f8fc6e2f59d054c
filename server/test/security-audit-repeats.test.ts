// Repeats counted (security/audit-repeats.ts), with a clock and timers moved by hand: a window
// opens with a row written, counts what comes while open, and writes one row when it ends; the
// sum of the rows' repeats is the number of refusals; bounded; close() writes what is counted.
import t from 'tap';
import { auditRepeats, type AuditRepeatsOptions, type TimerHandle, type Timers } from '../src/security/audit-repeats.js';
import type { AuditEntry } from '../src/store/types.js';
import { FakeClock } from './helpers/clock.js';
import type { TapLike } from './helpers/db.js';

/** Timers that fire when the test says, against the fake clock. */
class FakeTimers implements Timers {
  private pending = new Map<TimerHandle, { fn: () => void; at: number }>();
  unrefs = 0;
  constructor(private clock: FakeClock) {}
  setTimeout(fn: () => void, ms: number): TimerHandle {
    const handle = { unref: () => this.unrefs++ };
    this.pending.set(handle, { fn, at: this.clock.now() + ms });
    return handle;
  }
  clearTimeout(handle: TimerHandle): void {
    this.pending.delete(handle);
  }
  get size(): number {
    return this.pending.size;
  }
  /** Moves the clock by `ms`, firing each timer due. */
  advance(ms: number): void {
    this.clock.advance(ms);
    for (const [handle, { fn, at }] of [...this.pending]) {
      if (at > this.clock.now()) continue;
      this.pending.delete(handle);
      fn();
    }
  }
}

function counter(t: TapLike, opts: Partial<AuditRepeatsOptions> = {}) {
  const clock = new FakeClock(Date.UTC(2026, 0, 1, 12));
  const timers = new FakeTimers(clock);
  const written: AuditEntry[] = [];
  const repeats = auditRepeats({
    windowMs: 60_000,
    now: () => clock.now(),
    timers,
    write: async (entry) => {
      written.push(entry);
    },
    ...opts,
  });
  t.teardown(() => repeats.close());
  return { repeats, clock, timers, written };
}

const refusalFrom = (ip: string, at: number, userId: string): AuditEntry => ({
  at,
  type: 'reject',
  serial: null,
  userId,
  ip,
  actor: null,
  reason: 'not-activated',
  movingFactor: null,
});

/** What a caller does with one refusal: looks, then counts it or writes it (then tells). */
function refuse(repeats: ReturnType<typeof auditRepeats>, key: string, entry: AuditEntry, rows: AuditEntry[]): void {
  if (repeats.isOpen(key)) repeats.count(key, entry);
  else {
    rows.push(entry);
    repeats.opened(key);
  }
}

const flushed = () => new Promise((resolve) => setImmediate(resolve));

t.test('a window counts the refusals after its row, and writes them as one when it ends', async (t) => {
  const { repeats, clock, timers, written } = counter(t);
  const rows: AuditEntry[] = [];
  t.equal(repeats.isOpen('k'), false, 'nothing open at first');
  for (let i = 0; i < 10; i++) {
    refuse(repeats, 'k', refusalFrom('203.0.113.7', clock.now(), `user-${i}`), rows);
    clock.advance(1000);
  }
  t.equal(rows.length, 1, 'the first is a row');
  t.same(written, [], 'the rest counted, nothing written yet');
  t.equal(timers.unrefs, 1, 'the timer does not hold the process');
  timers.advance(60_000 - 10_000 - 1);
  t.same(written, [], 'not before the window ends');
  timers.advance(1);
  await flushed();
  t.equal(written.length, 1, 'its end writes one row');
  t.match(written[0], { reason: 'not-activated', ip: '203.0.113.7', userId: null, repeats: 9, at: Date.UTC(2026, 0, 1, 12) + 9000 });
  t.equal(repeats.isOpen('k'), false, 'and closes it');
  t.equal(timers.size, 0, 'no timer left');
  refuse(repeats, 'k', refusalFrom('203.0.113.7', clock.now(), 'user-x'), rows);
  t.equal(rows.length, 2, 'the next refusal is a row again, and opens the next window');
  t.equal(repeats.isOpen('k'), true);
});

t.test('a window that nothing was counted in writes nothing', async (t) => {
  const { repeats, timers, written } = counter(t);
  repeats.opened('k');
  timers.advance(60_000);
  await repeats.close();
  t.same(written, []);
});

t.test('keys are counted apart; opened twice, one window', async (t) => {
  const { repeats, clock, timers, written } = counter(t);
  const rows: AuditEntry[] = [];
  for (let i = 0; i < 5; i++) {
    refuse(repeats, 'a', refusalFrom('203.0.113.7', clock.now(), 'u'), rows);
    refuse(repeats, 'b', refusalFrom('203.0.113.8', clock.now(), 'u'), rows);
  }
  repeats.opened('a');
  timers.advance(60_000);
  await flushed();
  t.equal(rows.length, 2);
  t.same(
    written.map((e) => [e.ip, e.repeats, e.userId]),
    [
      ['203.0.113.7', 4, 'u'],
      ['203.0.113.8', 4, 'u'],
    ],
  );
});

t.test('a window found open but ended before the count starts a new count: none is lost', async (t) => {
  const { repeats, clock, timers, written } = counter(t);
  repeats.opened('k');
  clock.advance(59_999);
  t.equal(repeats.isOpen('k'), true, 'looked at while open');
  timers.advance(1);
  repeats.count('k', refusalFrom('203.0.113.7', clock.now(), 'u'));
  t.equal(repeats.isOpen('k'), true, 'the count opened a window');
  await repeats.close();
  t.same(
    written.map((e) => e.repeats),
    [1],
  );
});

t.test('a window past its end is closed to a look, and ends at the next call without its timer', async (t) => {
  const { repeats, clock, written } = counter(t);
  repeats.opened('k');
  repeats.count('k', refusalFrom('203.0.113.7', clock.now(), 'u'));
  clock.advance(60_000);
  t.equal(repeats.isOpen('k'), false, 'so its refusal is written as a row');
  repeats.opened('k');
  await flushed();
  t.same(
    written.map((e) => e.repeats),
    [1],
    'the old count written',
  );
  t.equal(repeats.isOpen('k'), true, 'and a new window open');
});

t.test('at most maxKeys windows: beyond, a key is not aggregated', async (t) => {
  const { repeats, clock, written } = counter(t, { maxKeys: 2 });
  const rows: AuditEntry[] = [];
  for (let i = 0; i < 3; i++) for (const key of ['a', 'b', 'c']) refuse(repeats, key, refusalFrom(key, clock.now(), 'u'), rows);
  t.same(
    rows.map((e) => e.ip),
    ['a', 'b', 'c', 'c', 'c'],
    'c gets no window: each of its refusals is a row',
  );
  // A count whose window ended, with no room for a new one: written at once.
  clock.advance(60_000);
  repeats.opened('x');
  repeats.opened('y');
  repeats.count('a', refusalFrom('a', clock.now(), 'u'));
  await flushed();
  t.same(
    written.map((e) => [e.ip, e.repeats]),
    [
      ['a', 2],
      ['b', 2],
      ['a', 1],
    ],
  );
});

t.test('close() writes every count, stops the timer, and waits for the writes', async (t) => {
  let release = () => undefined as void;
  const written: AuditEntry[] = [];
  const { repeats, clock, timers } = counter(t, {
    write: (entry) =>
      new Promise<void>((resolve) => {
        release = () => {
          written.push(entry);
          resolve();
        };
      }),
  });
  repeats.opened('k');
  repeats.count('k', refusalFrom('203.0.113.7', clock.now(), 'u'));
  repeats.count('k', refusalFrom('203.0.113.7', clock.now(), 'v'));
  let closed = false;
  const closing = repeats.close().then(() => (closed = true));
  await flushed();
  t.equal(closed, false, 'waits for the write');
  t.equal(timers.size, 0, 'the timer stopped');
  t.equal(repeats.isOpen('k'), false, 'nothing is counted once closing');
  release();
  await closing;
  t.same(
    written.map((e) => [e.repeats, e.userId]),
    [[2, null]],
  );
  repeats.count('k', refusalFrom('203.0.113.7', clock.now(), 'u'));
  t.equal(written.length, 1, 'a count told after close (looked at before) is written at once');
  release();
  t.equal(written.length, 2);
});

t.test('a write that fails is handed to onError, never thrown', async (t) => {
  const errors: Array<[string, number | undefined]> = [];
  const { repeats, clock } = counter(t, {
    write: () => Promise.reject(new Error('disk full')),
    onError: (e, entry) => errors.push([(e as Error).message, entry.repeats]),
  });
  repeats.opened('k');
  repeats.count('k', refusalFrom('203.0.113.7', clock.now(), 'u'));
  await repeats.close();
  t.same(errors, [['disk full', 1]]);
});

t.test('bad options', async (t) => {
  const write = async () => undefined;
  t.throws(() => auditRepeats({ write, windowMs: 0 }), RangeError);
  t.throws(() => auditRepeats({ write, maxKeys: 0 }), RangeError);
});
