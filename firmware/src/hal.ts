/**
 * The hardware abstraction layer: what the firmware drives, one small interface per capability.
 * The firmware core never calls these; the runtime (runtime.ts) is the only code that does,
 * carrying out the core's effects. Nothing here takes a callback: what comes back from the
 * hardware (a line change, a tick, an expired timer, a finished write) the board hands to the
 * runtime's `send`, so everything pending is data. Fallible hardware (NVM) reports failure as data.
 */
import type { DeviceMicros, TimerName } from './types.js';

export interface LcdHal {
  /** Latches the whole 8-byte segment buffer (bit 0 = a … bit 6 = g, bit 7 = dp). */
  write(segments: readonly number[]): void;
}
export interface RtcHal {
  /** The RTC counter: device time in µs since the epoch, as the crystal counts it. */
  now(): DeviceMicros;
}
export interface TimerHal {
  /** Arms `name` to expire when the RTC reaches `at` (then the board sends a 'timer' event); re-arming moves it. */
  arm(name: TimerName, at: DeviceMicros): void;
  cancel(name: TimerName): void;
}
export interface NvmHal {
  /** The whole NVM as it is now (a copy). */
  read(): Uint8Array;
  /** Starts a write; its end comes later as an 'nvm-done' event, ok=false when it failed verify. */
  write(address: number, data: Uint8Array): void;
}
export interface CpuHal {
  /** The MCU ran `cycles` cycles (what: a label for traces). */
  run(cycles: number, what: string): void;
  /** The MCU may sleep until the next interrupt. */
  sleep(): void;
}
export interface Hal {
  lcd: LcdHal;
  rtc: RtcHal;
  timers: TimerHal;
  nvm: NvmHal;
  cpu: CpuHal;
}
