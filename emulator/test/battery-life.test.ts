/**
 * The coin cell over a token's life. Normal use is the firmware's definition
 * (firmware/src/config.ts): 3 presses a day at 25 °C, each code left up for the full 30 s, the
 * RTC waking the MCU daily. The firmware's counter budgets 80 % of the cell, so the token says
 * `bAtt` at ten years while the physical cell still holds charge; a weak cell browns out first.
 */
import t from 'tap';
import { DEFAULT_CONFIG } from '@kodeviser/firmware';
import { CR2032_CAPACITY_NC } from '../src/battery.js';
import { YEAR_US } from '../src/crystal.js';
import { tenYearRun } from './helpers/ten-years.js';

t.test('normal use: no more codes at ten years ± 5 %, with the cell not yet flat', (t) => {
  const r = tenYearRun({ pressesPerDay: 3, years: 11 });
  const years = r.diedAfterYears ?? Infinity;
  t.ok(years > 9.5 && years < 10.5, `stopped after ${years.toFixed(3)} years`);
  t.ok(r.codes > 0.95 * 3 * 365.25 * 10, `${r.codes} codes shown`);
  t.equal(r.lastLcd, 'bAtt    ', 'an empty counter shows bAtt and no code');
  const s = r.machine.state();
  t.match(s, { batteryPercent: 0, lowBattery: true, screen: 'battery-empty', lastCode: null, powered: true });
  const left = s.batteryTrueCharge / CR2032_CAPACITY_NC;
  t.ok(left > 0.1 && left < 0.25, `the cell still holds ${(100 * left).toFixed(1)} %`);
  // left alone, the cell browns out some years later, at an exact instant
  const m = r.machine;
  const start = m.now();
  t.ok(
    m.runUntil((x) => !x.state().powered, 5 * YEAR_US),
    'the cell browns out',
  );
  const after = (m.now() - start) / YEAR_US;
  t.ok(after > 1 && after < 4, `${after.toFixed(2)} years later`);
  t.equal(m.state().batteryTrueCharge, 0);
  t.match(m.trace.at(-1), undefined, 'no trace was kept (traceLimit 0)');
  m.powerOn();
  m.press();
  t.equal(m.lcd(), '        ', 'a dead cell shows nothing, and powerOn cannot revive it');
  t.end();
});

t.test('heavy use shortens the life (on a cell and budget a twentieth the size, to stay quick)', (t) => {
  // Asleep, the token draws 1.85 µA (160 mC a day); a press costs about 0.16 mC, mostly the LCD's
  // 30 s. So 20 presses a day cost about 2 % of the life, as firmware/src/config.ts says.
  const small = {
    batteryCapacityNc: CR2032_CAPACITY_NC / 20,
    firmware: { capacityNc: DEFAULT_CONFIG.capacityNc / 20 },
  };
  const normal = tenYearRun({ pressesPerDay: 3, years: 2, manufacture: small }).diedAfterYears ?? Infinity;
  const heavy = tenYearRun({ pressesPerDay: 20, years: 2, manufacture: small }).diedAfterYears ?? Infinity;
  t.ok(normal > 0.45 && normal < 0.6, `3 a day: ${normal.toFixed(3)} years`);
  const shorter = 1 - heavy / normal;
  t.ok(shorter > 0.01 && shorter < 0.05, `20 a day: ${heavy.toFixed(3)} years, ${(100 * shorter).toFixed(1)} % shorter`);
  t.end();
});

t.test('a weak cell browns out before the counter runs out: the token goes dark mid-life', (t) => {
  const r = tenYearRun({ pressesPerDay: 3, years: 11, manufacture: { batteryCapacityNc: 0.4 * CR2032_CAPACITY_NC } });
  const years = r.diedAfterYears ?? Infinity;
  t.ok(years > 4 && years < 6, `dark after ${years.toFixed(2)} years`);
  t.equal(r.lastLcd, '        ', 'no code, not even bAtt');
  t.match(r.machine.state(), { powered: false, batteryTrueCharge: 0 });
  t.ok(r.machine.state().batteryPercent > 40, "while the firmware's own counter still thought it had charge");
  t.end();
});
