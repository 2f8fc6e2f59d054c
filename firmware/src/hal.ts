/**
 * The hardware abstraction layer: one small interface per capability. The firmware core never
 * calls these; the runtime (runtime.ts) is the only code that does, carrying out effects and
 * turning hardware callbacks into events. Fallible hardware (NVM) reports failure as data.
 */
import type { DeviceMicros, TimerName } from './types.js';

export interface ButtonHal {
  /** Calls `edge` on every raw level change of the button line, bounces included. */
  onEdge(edge: (pressed: boolean) => void): void;
}
export interface LcdHal {
  /** Latches the whole 8-byte segment buffer (bit 0 = a … bit 6 = g, bit 7 = dp). */
  write(segments: readonly number[]): void;
}
export interface RtcHal {
  /** The RTC counter: device time in µs since the epoch, as the crystal counts it. */
  now(): DeviceMicros;
  /** Wakes the MCU every `periodUs` of device time. */
  onTick(periodUs: number, tick: () => void): void;
}
export interface TimerHal {
  /** Fires `expired` once when the RTC reaches `at`; re-arming a name moves it. */
  arm(name: TimerName, at: DeviceMicros, expired: () => void): void;
  cancel(name: TimerName): void;
}
export interface NvmHal {
  readonly size: number;
  /** The whole NVM as it is now (a copy). */
  read(): Uint8Array;
  /** Starts a write; `done(ok)` comes later (write latency), ok=false when it failed or was cut. */
  write(address: number, data: Uint8Array, done: (ok: boolean) => void): void;
}
export interface CpuHal {
  /** The MCU ran `cycles` cycles (what: a label for traces). */
  run(cycles: number, what: string): void;
  /** The MCU may sleep until the next interrupt. */
  sleep(): void;
}
export interface BatteryHal {
  /** The coin cell cannot be measured well (the firmware counts charge instead); the supply
   *  supervisor only tells when the voltage falls below the MCU's brown-out level: power is gone. */
  onBrownOut(lost: () => void): void;
}
export interface Hal {
  battery: BatteryHal;
  button: ButtonHal;
  lcd: LcdHal;
  rtc: RtcHal;
  timers: TimerHal;
  nvm: NvmHal;
  cpu: CpuHal;
}
