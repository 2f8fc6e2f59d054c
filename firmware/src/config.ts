/**
 * The firmware build's default configuration (docs/token.md's *default* values) and the charge
 * budget behind the "up to 10 years of normal use" of the MitID code display.
 *
 * Normal use (our definition): 3 presses a day at 25 °C, each code left on the display for the
 * full 30 s, the RTC waking the MCU once a day. By the firmware's own counter that lasts
 * 10.0 years with these figures (firmware/test/battery-life.test.ts simulates it press by press);
 * 20 presses a day shortens it, but only a little: a coin-cell token spends nearly all of its
 * charge asleep.
 *
 * Physical figures:
 * - Cell: CR2032, 225 mAh to a 2.0 V cut-off (Panasonic CR2032 datasheet; Energizer CR2032:
 *   235 mAh) and about 1 % self-discharge a year at 20 °C (both datasheets), counted here at
 *   the calibration temperature of 25 °C: the firmware cannot measure temperature (the
 *   emulator's cell loses more when warm, emulator/src/battery.ts).
 * - The firmware's budget is 80 % of that, 180 mAh: the cell cannot be measured, so the counter
 *   must run out before the cell does, across the cells' spread and the capacity lost to pulse
 *   loads late in life, when the MCU's active pulses through the cell's rising internal
 *   resistance reach the brown-out level before the open-circuit voltage reaches 2.0 V
 *   (TI SWRA349 "Coin cells and peak current draw"; Nordic Semiconductor white paper "High pulse
 *   drain impact on CR2032 coin cell battery capacity"). 80 % is our choice, not a datasheet value.
 * - Asleep: MCU standby with the RTC on 0.5–1.5 µA (MSP430FR413x LPM3 < 1 µA, EFR32xG22 EM2
 *   1.4 µA), plus the always-on supply supervisor and board leakage. 1.85 µA is the one fitted
 *   figure: the value at the top of that range that gives 10 years of normal use.
 * - LCD on (MCU in standby driving the glass): 5 µA, "a few µA" for a small segment LCD with its
 *   bias generator; an estimate.
 * - MCU active: 300 µA/MHz at 8 MHz = 2.4 mA ("a few hundred µA/MHz" for MSP430-class parts).
 *   Check: AES-128 at ≈ 2,100 cycles (cost.ts) is 263 µs × 2.4 mA × 3 V
 *   ≈ 1.9 µJ per block, against the 2.2 µJ measured on an MSP430 (Buhrow et al.).
 * - NVM: a serial EEPROM page write draws about 1 mA for its ≈ 2 ms write cycle (Microchip
 *   24LC04B: 3 mA maximum, 5 ms maximum), about 2 µC per 16-byte page: 125 nC per byte.
 */
import type { FirmwareConfig } from './types.js';

/** µs in a Julian year (365.25 days), the unit of selfDischargePerYear. */
export const YEAR_US = 365.25 * 86_400 * 1e6;
/** nanocoulombs in one mAh: 1e-3 A × 3600 s × 1e9 nC/C */
export const NC_PER_MAH = 3.6e9;

export const DEFAULT_CONFIG: Readonly<FirmwareConfig> = Object.freeze({
  debounceMs: 20,
  displayOnMs: 30_000,
  longPressMs: 6_000,
  menuTimeoutMs: 30_000,
  lowBatteryPercent: 10,
  rtcTickUs: 86_400 * 1e6,
  cpuHz: 8_000_000,
  firmwareVersion: '1.0.0',
  capacityNc: 0.8 * 225 * NC_PER_MAH,
  sleepCurrentNa: 1_850,
  displayCurrentNa: 5_000,
  activeCurrentNa: 2_400_000,
  nvmWriteNcPerByte: 125,
  selfDischargePerYear: 0.01,
});
