// The battery-life calibration of config.ts, simulated press by press on the pure core:
// normal use (3 presses a day at 25 °C, each code shown the full 30 s, a daily RTC wake-up)
// must last 10 years ± 5 % by the firmware's own counter, and heavy use must last less.
import t from 'tap';
import { batteryPercent, TEXT_BATTERY_EMPTY, textFor } from '@kodeviser/firmware';
import { sealedToken } from './driver.js';

const DAY_US = 86_400e6;
const YEAR_DAYS = 365.25;

/** Days until a press shows bAtt, pressing at evenly spread times of each day. */
function lifetimeDays(pressesPerDay: number, maxDays: number): { days: number; lowAtDay: number | null; codes: number } {
  const d = sealedToken('hotp-sha1', { ticks: true });
  d.keepLog = false;
  const start = d.now;
  let lowAtDay: number | null = null;
  for (let day = 0; day < maxDays; day++) {
    for (let i = 0; i < pressesPerDay; i++) {
      d.advance(start + day * DAY_US + ((i + 1) * DAY_US) / (pressesPerDay + 1) - d.now);
      d.press();
      if (textFor(d.state.lcd).startsWith(TEXT_BATTERY_EMPTY)) return { days: day, lowAtDay, codes: d.codesShown.length };
      if (lowAtDay === null && d.view().lowBattery) lowAtDay = day;
      d.advance(31e6); // the code stays up its full 30 s
    }
  }
  return { days: Infinity, lowAtDay, codes: d.codesShown.length };
}

const normal = lifetimeDays(3, 12 * 366);
const normalYears = normal.days / YEAR_DAYS;
t.comment(
  `normal use: ${normalYears.toFixed(2)} years, ${normal.codes} codes, low battery from year ${((normal.lowAtDay ?? NaN) / YEAR_DAYS).toFixed(2)}`,
);

t.test('normal use lasts 10 years ± 5 % by the firmware counter', async (t) => {
  t.ok(normalYears >= 9.5 && normalYears <= 10.5, `${normalYears.toFixed(3)} years`);
  t.equal(normal.codes, normal.days * 3, 'every press before the end showed a code');
  t.ok(
    normal.lowAtDay !== null && normal.lowAtDay < normal.days && normal.lowAtDay > normal.days * 0.85,
    'the b warning comes in the last ~10 % of the life',
  );
});

t.test('heavy use (20 presses a day) shortens it', async (t) => {
  // one simulated year is enough: the spending rate is steady, so the life is the budget over a
  // year's spend (10 years at 20 presses a day would take ~10 s of test time)
  const yearly = (pressesPerDay: number): number => {
    const d = sealedToken('hotp-sha1', { ticks: true });
    d.keepLog = false;
    const start = d.now;
    const spentBefore = d.state.spentNc;
    for (let day = 0; day < 365; day++) {
      for (let i = 0; i < pressesPerDay; i++) {
        d.advance(start + day * DAY_US + ((i + 1) * DAY_US) / (pressesPerDay + 1) - d.now);
        d.press();
        d.advance(31e6);
      }
    }
    d.advance(start + 365 * DAY_US - d.now);
    return ((d.state.spentNc - spentBefore) * YEAR_DAYS) / 365;
  };
  const capacity = sealedToken().config.capacityNc;
  const normalProjected = capacity / yearly(3);
  const heavyYears = capacity / yearly(20);
  t.comment(`heavy use: ${heavyYears.toFixed(2)} years (normal, projected the same way: ${normalProjected.toFixed(2)})`);
  t.ok(Math.abs(normalProjected - normalYears) < 0.05, 'the projection agrees with the full simulation');
  t.ok(heavyYears < normalYears - 0.1, `${heavyYears.toFixed(2)} < ${normalYears.toFixed(2)} years`);
});

t.test('batteryPercent rounds up, so 0 % means the budget is spent', async (t) => {
  const config = sealedToken().config;
  t.equal(batteryPercent({ config, spentNc: 0 }), 100);
  t.equal(batteryPercent({ config, spentNc: config.capacityNc * 0.995 }), 1);
  t.equal(batteryPercent({ config, spentNc: config.capacityNc }), 0);
  t.equal(batteryPercent({ config, spentNc: config.capacityNc * 2 }), 0);
});
