/**
 * The lab's time controller (emulator/src/lab/clock.ts): virtual time = the real clock × speed
 * from the last anchor, re-anchored by pause, resume, a change of speed or a move by hand, never
 * backwards, a stalled page owing at most MAX_FRAME_MS, and `max` and paused standing still.
 */
import t from 'tap';
import { MAX_FRAME_MS, MAX_TRUE_US, SPEED_OPTIONS, TimeController, parseSpeed, speedValue } from '../src/lab/clock.js';

const T0 = 1_767_225_600_000_000; // 2026-01-01T00:00:00Z, µs

t.test('the speeds the page offers', (t) => {
  t.same(
    SPEED_OPTIONS.map((o) => o.value),
    ['x1', 'x10', 'x100', 'x1000', 'x10000', 'x100000', 'x1000000', 'max'],
  );
  t.equal(parseSpeed('x1000'), 1000);
  t.equal(parseSpeed('max'), 'max');
  t.equal(parseSpeed('x3'), null);
  t.equal(parseSpeed(''), null);
  for (const o of SPEED_OPTIONS) t.equal(speedValue(o.speed), o.value, 'value and speed round-trip');
  t.end();
});

t.test('runs at the real rate times the speed from its anchor', (t) => {
  const c = new TimeController();
  t.equal(c.paused, false);
  t.equal(c.speed, 1);
  c.sync(T0, 1000);
  t.equal(c.target(1016, T0), T0 + 16_000, 'x1: 16 ms are 16 000 µs');
  t.equal(c.target(1100, T0 + 16_000), T0 + 100_000, 'from the anchor, not from the last frame: no rounding drift');
  c.setSpeed(1000, T0 + 100_000, 1100);
  t.equal(c.target(1110, T0 + 100_000), T0 + 100_000 + 10_000_000, 'x1000 from the moment of the change');
  c.setSpeed(0.5, T0, 0);
  t.equal(c.target(3, T0), T0 + 1500, 'fractional speeds round to whole µs');
  t.throws(() => c.setSpeed(0, T0, 0), RangeError);
  t.throws(() => c.setSpeed(-1, T0, 0), RangeError);
  t.throws(() => c.setSpeed(NaN, T0, 0), RangeError);
  t.end();
});

t.test('paused and max stand still; resume carries on from the machine', (t) => {
  const c = new TimeController();
  c.sync(T0, 0);
  c.pause(T0 + 5, 10);
  t.equal(c.paused, true);
  t.equal(c.target(10_000, T0 + 5), T0 + 5);
  c.resume(T0 + 5, 10_000);
  t.equal(c.target(10_010, T0 + 5), T0 + 5 + 10_000, 'no debt from the paused stretch');
  c.setSpeed('max', T0, 0);
  t.equal(c.target(500, T0 + 77), T0 + 77, 'max is driven by slices, not by the clock');
  t.end();
});

t.test('never before the machine; a stalled page owes at most MAX_FRAME_MS', (t) => {
  const c = new TimeController();
  c.setSpeed(10, T0, 0);
  t.equal(c.target(1, T0 + 1_000_000), T0 + 1_000_000, 'a machine ahead of the clock (a press held 120 ms) is not pulled back');
  const c2 = new TimeController();
  c2.setSpeed(10, T0, 0);
  t.equal(c2.target(60_000, T0), T0 + MAX_FRAME_MS * 1000 * 10, 'a minute-long stall counts as 250 ms');
  t.equal(c2.target(60_016, T0 + MAX_FRAME_MS * 10_000), T0 + MAX_FRAME_MS * 10_000 + 160_000, 'and the clock carries on from there');
  const end = new TimeController();
  end.setSpeed(1_000_000, MAX_TRUE_US - 10, 0);
  t.equal(end.target(100, MAX_TRUE_US - 10), MAX_TRUE_US, 'the scheduler’s last µs (the year 2255) is the end');
  t.end();
});
