/**
 * A token's life under a usage pattern: `pressesPerDay` presses spread evenly over each day at
 * 25 °C, each code left up for the full display time, until the token stops showing codes or
 * `years` pass. Shared by the battery test and bench/emulator-core.ts.
 */
import { YEAR_US } from '../../src/crystal.js';
import { Machine, type ManufactureOptions } from '../../src/machine.js';

const DAY_US = 86_400e6;

export interface LifeResult {
  /** codes shown */
  codes: number;
  /** years from manufacture to the first press that showed no code, or null */
  diedAfterYears: number | null;
  /** what the LCD showed then */
  lastLcd: string;
  machine: Machine;
}

export function tenYearRun(opts: { pressesPerDay: number; years: number; manufacture?: Partial<ManufactureOptions> }): LifeResult {
  const m = Machine.manufacture({
    profile: 'hotp-sha1',
    key: new TextEncoder().encode('12345678901234567890'),
    manufacturedAt: Date.UTC(2024, 0, 1),
    driftPpm: 0,
    agingPpm: 0,
    seed: 7,
    traceLimit: 0,
    ...opts.manufacture,
  });
  const start = m.now();
  const end = start + opts.years * YEAR_US;
  let codes = 0;
  for (let day = 0; ; day++) {
    for (let p = 1; p <= opts.pressesPerDay; p++) {
      const at = start + day * DAY_US + Math.floor((p * DAY_US) / (opts.pressesPerDay + 1));
      if (at > end) return { codes, diedAfterYears: null, lastLcd: m.lcd(), machine: m };
      m.advanceTo(at);
      m.press();
      if (m.state().screen !== 'code') return { codes, diedAfterYears: (at - start) / YEAR_US, lastLcd: m.lcd(), machine: m };
      codes++;
    }
  }
}
