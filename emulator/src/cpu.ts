/**
 * The MCU as far as the emulator needs it: cycles become active time at `cpuHz` (the firmware's
 * config, e.g. 8 MHz), which the battery pays for with the active current and the trace shows.
 * The firmware itself decides how long a computation keeps the screen busy (its compute-done
 * timer); this class only keeps the account.
 */
import { KodeviserError } from '@kodeviser/shared';
import type { CpuHal } from '@kodeviser/firmware';
import { tracing, type HwTrace } from './trace.js';

export class Cpu implements CpuHal {
  /** cycles run since construction */
  cycles = 0;
  /** the MCU is in low-power mode */
  asleep = true;

  constructor(
    readonly cpuHz: number,
    private readonly spent: (cycles: number) => void = () => {},
    private readonly trace: HwTrace = () => {},
  ) {
    if (!Number.isFinite(cpuHz) || cpuHz <= 0) throw new KodeviserError('ERR_ARGUMENT', 'cpuHz must be a positive number');
  }

  /** Active time the cycles so far took, µs. */
  get activeUs(): number {
    return (this.cycles / this.cpuHz) * 1e6;
  }

  /** CpuHal */
  run(cycles: number, what: string): void {
    if (!Number.isFinite(cycles) || cycles < 0) throw new KodeviserError('ERR_ARGUMENT', 'cycles must be a non-negative number');
    this.cycles += cycles;
    this.asleep = false;
    this.spent(cycles);
    if (tracing(this.trace)) this.trace('cpu', { cycles, what, activeUs: (cycles / this.cpuHz) * 1e6 });
  }

  /** CpuHal */
  sleep(): void {
    this.asleep = true;
  }
}
