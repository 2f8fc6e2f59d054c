/**
 * The whole life of one token's coin cell in virtual time. The token is pressed N times a day,
 * evenly spaced, each code left up until the display times out, until a press no longer shows a
 * code: either the firmware's own charge counter reached 0 % (it shows bAtt) or the real cell
 * browned out first. Between presses the machine sleeps through its daily RTC wakes, so decades
 * cost seconds. `kodeviser lifetime` runs one; `--sweep` a grid of them (lifetime-sweep.ts).
 */
import { makeSerial, type ProfileName } from '@kodeviser/shared';
import { YEAR_US } from './crystal.js';
import { Machine } from './machine.js';

export const DAY_US = 86_400e6;

export interface LifetimeOptions {
  profile: ProfileName;
  pressesPerDay: number;
  temperatureC?: number;
  /** true time of manufacture, Unix ms */
  startMs: number;
  maxYears?: number;
  /** a sample for the plot every this many days (default 7) */
  sampleDays?: number;
}

export interface LifetimeResult {
  /** true µs from manufacture to the first press without a code; null: alive at maxYears */
  diedAfterUs: number | null;
  cause: 'firmware-empty' | 'cell-flat' | null;
  codes: number;
  /** true µs from manufacture to the first press that showed the low-battery mark */
  lowBatteryAfterUs: number | null;
  /** [years, firmware estimate %, true charge %] */
  samples: Array<[number, number, number]>;
}

export function simulateLifetime(opts: LifetimeOptions): LifetimeResult {
  const { profile, pressesPerDay, temperatureC = 25, startMs, maxYears = 30, sampleDays = 7 } = opts;
  const machine = Machine.manufacture({
    profile,
    serial: makeSerial('000000001'),
    driftPpm: 0,
    manufacturedAt: startMs,
    temperatureC,
    traceLimit: 0, // decades of presses: keep no trace
  });
  const start = machine.now();
  const capacityNc = machine.toDeviceFile().battery.capacityNc;
  const samples: LifetimeResult['samples'] = [];
  const sample = (): void => {
    const s = machine.state();
    samples.push([(machine.now() - start) / YEAR_US, s.batteryPercent, (100 * s.batteryTrueCharge) / capacityNc]);
  };
  sample();
  const intervalUs = Math.round(DAY_US / pressesPerDay);
  const endUs = start + maxYears * YEAR_US;
  let nextSample = start + sampleDays * DAY_US;
  let lowBatteryAfterUs: number | null = null;
  for (let t = start + intervalUs; t <= endUs; t += intervalUs) {
    machine.advanceTo(t);
    if (t >= nextSample) {
      sample();
      nextSample += sampleDays * DAY_US;
    }
    machine.press();
    const s = machine.state();
    if (s.screen !== 'code') {
      sample();
      return { diedAfterUs: t - start, cause: s.powered ? 'firmware-empty' : 'cell-flat', codes: s.codesShown, lowBatteryAfterUs, samples };
    }
    if (s.lowBattery && lowBatteryAfterUs === null) lowBatteryAfterUs = t - start;
  }
  sample();
  return { diedAfterUs: null, cause: null, codes: machine.state().codesShown, lowBatteryAfterUs, samples };
}
