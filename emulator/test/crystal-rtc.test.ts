import t from 'tap';
import fc from 'fast-check';
import { Crystal, YEAR_US } from '../src/crystal.js';
import { Rtc } from '../src/rtc.js';
import { Scheduler } from '../src/scheduler.js';

const T0 = Date.UTC(2024, 0, 1) * 1000;
const DAY = 86_400e6;

function rtcWith(offsetPpm: number, agingPpm = 0, temperatureC = 25) {
  const scheduler = new Scheduler(T0);
  const traces: Array<[string, Record<string, unknown>]> = [];
  const rtc = new Rtc(scheduler, new Crystal({ offsetPpm, agingPpm }, T0), { deviceUs: T0, temperatureC }, (what, detail) =>
    traces.push([what, detail]),
  );
  return { scheduler, rtc, traces };
}

t.test('0 ppm at 25 °C counts true time exactly', (t) => {
  const { scheduler, rtc } = rtcWith(0);
  scheduler.runUntil(T0 + 10 * YEAR_US);
  t.equal(rtc.now(), T0 + 10 * YEAR_US);
  t.end();
});

t.test('+20 ppm gains about 10.5 minutes a year, -20 ppm loses as much', (t) => {
  for (const ppm of [20, -20]) {
    const { scheduler, rtc } = rtcWith(ppm);
    scheduler.runUntil(T0 + YEAR_US);
    const gainS = (rtc.now() - scheduler.now) / 1e6;
    t.ok(Math.abs(gainS - Math.sign(ppm) * 631.152) < 0.001, `${ppm} ppm: ${gainS.toFixed(3)} s a year`);
    t.ok(Math.abs(Math.abs(gainS) / 60 - 10.52) < 0.01, 'about 10.5 min');
  }
  t.end();
});

t.test('the temperature parabola: -0.034 ppm/°C² around 25 °C', (t) => {
  const c = new Crystal({ offsetPpm: 0, agingPpm: 0 }, T0);
  t.equal(c.ppm(T0, 25), 0);
  t.ok(Math.abs(c.ppm(T0, 5) - -13.6) < 1e-9, '20 °C below: -13.6 ppm');
  t.ok(Math.abs(c.ppm(T0, 45) - -13.6) < 1e-9, 'symmetric: 20 °C above too');
  t.ok(Math.abs(c.ppm(T0, 0) - -21.25) < 1e-9, '0 °C: -21.25 ppm');
  t.ok(Math.abs(c.deviceElapsed(T0, T0 + DAY, 5) - DAY * (1 - 13.6e-6)) < 1e-3, 'one cold day loses 1.175 s');
  t.end();
});

t.test('aging: the first year adds agingPpm, and integrates to the numeric integral', (t) => {
  const c = new Crystal({ offsetPpm: 0, agingPpm: 3 }, T0);
  t.equal(c.ppm(T0, 25), 0, 'new crystal');
  t.ok(Math.abs(c.ppm(T0 + YEAR_US, 25) - 3) < 1e-9, '+3 ppm after a year');
  const tenYears = c.ppm(T0 + 10 * YEAR_US, 25);
  t.ok(tenYears > 3 && tenYears < 6, `logarithmic: ${tenYears.toFixed(2)} ppm after ten years`);
  t.same(c.params(), { offsetPpm: 0, agingPpm: 3, agingTauDays: 30 });
  // Simpson over two years against the closed form
  const n = 2000,
    a = T0,
    b = T0 + 2 * YEAR_US,
    h = (b - a) / n;
  let sum = 0;
  for (let i = 0; i <= n; i++) sum += (i === 0 || i === n ? 1 : i % 2 ? 4 : 2) * (1 + c.ppm(a + i * h, 25) * 1e-6);
  const numeric = (sum * h) / 3;
  t.ok(Math.abs(numeric - c.deviceElapsed(a, b, 25)) < 5, 'closed form within 5 µs over two years');
  t.throws(() => new Crystal({ offsetPpm: NaN, agingPpm: 0 }, T0), { code: 'ERR_ARGUMENT', message: /crystal.offsetPpm/ });
  t.throws(() => new Crystal({ offsetPpm: 0, agingPpm: 0, agingTauDays: 0 }, T0), { code: 'ERR_ARGUMENT', message: /agingTauDays/ });
  t.end();
});

t.test('piecewise temperature integrates exactly, however the stretches are split', (t) => {
  const a = rtcWith(7, 3);
  const b = rtcWith(7, 3);
  const plan = [
    [25, 10],
    [5, 3],
    [40, 20],
    [25, 7],
  ] as const; // °C, days
  for (const [c, days] of plan) {
    a.rtc.setTemperature(c);
    a.scheduler.runUntil(a.scheduler.now + days * DAY);
    for (let i = 0; i < days * 4; i++) {
      // b changes "temperature" every 6 h, to the same value
      b.rtc.setTemperature(c);
      b.scheduler.runUntil(b.scheduler.now + DAY / 4);
    }
  }
  t.equal(a.scheduler.now, b.scheduler.now);
  t.ok(Math.abs(a.rtc.deviceAt(a.scheduler.now) - b.rtc.deviceAt(b.scheduler.now)) < 0.01, 'same device time');
  const c = new Crystal({ offsetPpm: 7, agingPpm: 3 }, T0);
  let expected = T0,
    at = T0;
  for (const [temp, days] of plan) {
    expected += c.deviceElapsed(at, at + days * DAY, temp);
    at += days * DAY;
  }
  t.ok(Math.abs(a.rtc.deviceAt(a.scheduler.now) - expected) < 0.01, 'equals the sum of the stretches');
  t.end();
});

t.test('trueTimeFor finds the first true µs at which the RTC reads the target', (t) => {
  fc.assert(
    fc.property(
      fc.double({ min: -25, max: 25, noNaN: true }),
      fc.integer({ min: 0, max: 45 }),
      fc.integer({ min: 1, max: 20 * 365 * 86_400 }),
      fc.integer({ min: 0, max: 999_999 }),
      (ppm, temp, s, us) => {
        const { rtc } = rtcWith(ppm, 3, temp);
        const target = T0 + s * 1e6 + us;
        const u = rtc.trueTimeFor(target);
        return Math.floor(rtc.deviceAt(u)) >= target && Math.floor(rtc.deviceAt(u - 1)) < target;
      },
    ),
    { numRuns: 300 },
  );
  const { rtc } = rtcWith(0);
  t.equal(rtc.trueTimeFor(T0 - 5), T0, 'a time already passed maps to now');
  t.end();
});

t.test('timers fire when the device clock reaches them, re-planned on temperature change', (t) => {
  const { scheduler, rtc } = rtcWith(-15);
  const fired: Array<[string, number, number]> = [];
  const at = T0 + 3600e6;
  rtc.arm('display-off', at, () => fired.push(['display-off', scheduler.now, rtc.now()]));
  rtc.arm('debounce', T0 + 1000, () => fired.push(['debounce', scheduler.now, rtc.now()]));
  rtc.arm('debounce', T0 + 2000, () => fired.push(['debounce', scheduler.now, rtc.now()])); // moves it
  rtc.arm('menu-timeout', T0 + 5000, () => fired.push(['menu-timeout', scheduler.now, rtc.now()]));
  rtc.cancel('menu-timeout');
  rtc.cancel('long-press'); // not armed: nothing happens
  t.same(
    rtc
      .armedTimers()
      .map((x) => x.name)
      .sort(),
    ['debounce', 'display-off'],
  );
  scheduler.runUntil(T0 + 1800e6);
  rtc.setTemperature(0); // slower from here on: the timer must move later
  scheduler.runUntil(T0 + 7200e6);
  t.equal(fired.length, 2);
  t.equal(fired[0]![0], 'debounce');
  t.equal(fired[0]![2], T0 + 2000);
  const [, trueAt, deviceAt] = fired[1]!;
  t.equal(deviceAt, at, 'fires exactly at its device time');
  t.ok(Math.floor(rtc.deviceAt(trueAt - 1)) < at, 'not a µs late');
  t.ok(trueAt - at > 1800 * 15 + 1800 * 21, `later than true ${(trueAt - at) / 1e6} s`);
  t.throws(() => rtc.arm('debounce', NaN, () => {}), { code: 'ERR_ARGUMENT', message: /debounce/ });
  t.end();
});

t.test('the periodic tick: ten years of daily wakes, cheap and on device time', (t) => {
  const { scheduler, rtc } = rtcWith(20, 3);
  let ticks = 0;
  let lastDevice = 0;
  rtc.onTick(DAY, () => {
    ticks++;
    lastDevice = rtc.now();
  });
  t.match(rtc.nextTick(), { periodUs: DAY, at: T0 + DAY });
  rtc.setTemperature(10);
  scheduler.runUntil(T0 + 10 * YEAR_US);
  t.ok(ticks >= 3652 && ticks <= 3653, `${ticks} ticks`);
  t.equal((lastDevice - T0) % DAY, 0, 'each on a whole device day');
  rtc.reset();
  t.equal(rtc.nextTick(), null);
  const before = ticks;
  scheduler.runUntil(scheduler.now + 2 * DAY);
  t.equal(ticks, before, 'no ticks without power');
  t.throws(() => rtc.onTick(0, () => {}), { code: 'ERR_ARGUMENT', message: /periodUs/ });
  t.end();
});

t.test('out of the 0–45 °C range: an out-of-spec condition, state and trace', (t) => {
  const { rtc, traces } = rtcWith(0);
  t.notOk(rtc.outOfSpec);
  rtc.setTemperature(-5);
  t.ok(rtc.outOfSpec);
  rtc.setTemperature(-8);
  rtc.setTemperature(20);
  t.notOk(rtc.outOfSpec);
  rtc.setTemperature(60);
  t.equal(rtc.outOfSpecEpisodes, 2);
  t.same(
    traces.map(([, d]) => d['outOfSpec']),
    [true, false, true],
  );
  t.throws(() => rtc.setTemperature(Infinity), { code: 'ERR_ARGUMENT', message: /temperatureC/ });
  const saved = rtc.save();
  const scheduler = new Scheduler(T0);
  const copy = Rtc.restore(scheduler, rtc.crystal, saved);
  t.same(copy.save(), saved, 'save/restore round trip');
  t.equal(copy.temperatureC, 60);
  t.end();
});
