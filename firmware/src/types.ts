/**
 * The firmware's contract with the world: events in, effects out, both plain data.
 * The behaviour these types carry is docs/token.md. The firmware never reads a clock, a random
 * source or a device: every event says when it happened (`at`, the device's own RTC reading in
 * microseconds since the Unix epoch, i.e. its crystal's idea of time, drift included).
 */
import type { ProfileName } from '@kodeviser/shared';

/** Device time: the RTC's reading, µs since the Unix epoch as the device's crystal counts it. */
export type DeviceMicros = number;

/** The timers the firmware can arm; arming one that is armed moves it. */
export type TimerName =
  | 'debounce' // the button line has been stable long enough to count
  | 'long-press' // the button has been held for longPressMs
  | 'compute-done' // the MCU finished the MAC for a code
  | 'display-off' // the code (or the menu item) has been up long enough
  | 'menu-timeout';

/** Every timer, e.g. to cancel them all at a reset. */
export const TIMER_NAMES: readonly TimerName[] = Object.freeze(['debounce', 'long-press', 'compute-done', 'display-off', 'menu-timeout']);

/** What the factory programmer sends before the token is sealed. */
export interface Personalisation {
  profile: ProfileName;
  key: Uint8Array;
  serial: string; // ten digits, Luhn-checked
  digits: number; // 6..8
  step: number; // totp time step in seconds (30 or 60)
  counter: number; // hotp: the moving factor of the first press
}

export type FirmwareEvent =
  | { type: 'power-on'; at: DeviceMicros } // reset, battery insertion, after a brown-out
  | { type: 'button'; at: DeviceMicros; pressed: boolean } // a raw edge of the button line, bounces included
  | { type: 'timer'; at: DeviceMicros; timer: TimerName } // an armed timer expired
  | { type: 'rtc-tick'; at: DeviceMicros } // the RTC's periodic wake-up (config.rtcTickUs)
  | { type: 'nvm-done'; at: DeviceMicros; address: number; ok: boolean } // an NVM write finished; ok=false: it failed verify
  | { type: 'factory-personalise'; at: DeviceMicros; data: Personalisation }
  | { type: 'factory-seal'; at: DeviceMicros };

export type FirmwareEffect =
  | { type: 'lcd'; segments: readonly number[] } // the whole 8-byte segment buffer
  | { type: 'nvm-write'; address: number; data: Uint8Array } // one write; completion comes back as 'nvm-done'
  | { type: 'timer-arm'; timer: TimerName; at: DeviceMicros }
  | { type: 'timer-cancel'; timer: TimerName }
  | { type: 'cpu'; cycles: number; what: string } // work done in this step (battery accounting, trace)
  | { type: 'sleep' } // nothing pending: the MCU may enter low-power mode
  | { type: 'factory-reply'; ok: boolean; reason?: string }; // answer to a factory command

/** Build-time configuration of the firmware (token.md's *default* values). */
export interface FirmwareConfig {
  debounceMs: number; // 20
  displayOnMs: number; // 30_000
  longPressMs: number; // 6_000
  menuTimeoutMs: number; // 30_000
  lowBatteryPercent: number; // 10
  rtcTickUs: number; // how often the RTC wakes the MCU to account sleep charge (1 day)
  cpuHz: number; // MCU clock, e.g. 8 MHz
  firmwareVersion: string; // shown in the menu, e.g. '1.0.0'
  /** The charge budget: the firmware's counter starts at capacityNc and counts down. */
  capacityNc: number; // usable charge in nanocoulombs
  sleepCurrentNa: number; // MCU + RTC standby
  displayCurrentNa: number; // LCD on, MCU mostly idle
  activeCurrentNa: number; // MCU running
  nvmWriteNcPerByte: number; // charge of one byte written to NVM
  selfDischargePerYear: number; // fraction of capacity lost per year (0.01)
}

/** 'error': an NVM write failed, so no code is shown (added after the first contract; compatible). */
export type Screen = 'off' | 'computing' | 'code' | 'menu' | 'battery-empty' | 'factory' | 'error';

/** A read-only view of the state for tests, the emulator and the CLI. */
export interface FirmwareStateView {
  sealed: boolean;
  screen: Screen;
  menuItem: number | null; // index into the info menu when screen === 'menu'
  profile: ProfileName | null;
  serial: string | null;
  digits: number;
  /** hotp: the counter the next press will use; totp: the last step shown (null before any) */
  movingFactor: number | null;
  lastCode: string | null; // the code on the display (null when none is shown)
  /** the hotp counter or totp step of the code on the display (null when none is shown) */
  codeMovingFactor: number | null;
  codesShown: number; // how many codes were shown since manufacture
  batteryPercent: number; // the firmware's own estimate from its counter, 0..100
  lowBattery: boolean;
  lcd: readonly number[]; // the 8-byte segment buffer
  buttonDown: boolean; // the debounced button state
  nvmBusy: boolean; // a write is in flight
}
