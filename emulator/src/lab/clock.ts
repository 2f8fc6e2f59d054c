/**
 * The lab's time controller: which virtual true time the machine should have reached at a given
 * moment of the page's monotonic clock. Virtual time runs at the real clock's rate times the
 * speed; pausing, changing speed or moving the machine by hand (a press, "+1 day", "Go to time")
 * re-anchors it, so virtual time never jumps back and a change of speed applies from that moment.
 *
 * `max` has no rate: the runner (session.ts) advances as far as it can in a slice of wall time
 * and yields to the page. A page that could not keep up (a background tab, a slow frame) does
 * not owe the lost time: at most MAX_FRAME_MS of real time counts per frame.
 *
 * Pure: the clock readings come in as arguments.
 */

export type Speed = number | 'max';

export interface SpeedOption {
  /** the <option> value */
  value: string;
  label: string;
  speed: Speed;
}

export const SPEED_OPTIONS: readonly SpeedOption[] = [
  ...[1, 10, 100, 1_000, 10_000, 100_000, 1_000_000].map((n) => ({ value: `x${n}`, label: `x${n}`, speed: n })),
  { value: 'max', label: 'max', speed: 'max' as const },
];

export function parseSpeed(value: string): Speed | null {
  return SPEED_OPTIONS.find((o) => o.value === value)?.speed ?? null;
}

export function speedValue(speed: Speed): string {
  return speed === 'max' ? 'max' : `x${speed}`;
}

/** The scheduler counts integer µs since the epoch up to 2^53 (the year 2255). */
export const MAX_TRUE_US = Number.MAX_SAFE_INTEGER;

/** Real time owed per frame at most, ms: a page that stalls for longer loses the rest. */
export const MAX_FRAME_MS = 250;

export class TimeController {
  private pausedNow = false;
  private rate: Speed = 1;
  private anchorMono = 0;
  private anchorUs = 0;

  get paused(): boolean {
    return this.pausedNow;
  }

  get speed(): Speed {
    return this.rate;
  }

  /** From now on, virtual time `virtualUs` corresponds to monotonic time `monoMs`. */
  sync(virtualUs: number, monoMs: number): void {
    this.anchorUs = virtualUs;
    this.anchorMono = monoMs;
  }

  pause(virtualUs: number, monoMs: number): void {
    this.pausedNow = true;
    this.sync(virtualUs, monoMs);
  }

  resume(virtualUs: number, monoMs: number): void {
    this.pausedNow = false;
    this.sync(virtualUs, monoMs);
  }

  setSpeed(speed: Speed, virtualUs: number, monoMs: number): void {
    if (speed !== 'max' && !(Number.isFinite(speed) && speed > 0)) throw new RangeError('speed must be positive or max');
    this.rate = speed;
    this.sync(virtualUs, monoMs);
  }

  /**
   * The virtual time due at `monoMs`, given that the machine is at `virtualUs`: never before the
   * machine, never more than MAX_FRAME_MS of real time (times the speed) ahead of it, and never
   * past MAX_TRUE_US. Paused and `max` return the machine's time (max is driven by slices).
   */
  target(monoMs: number, virtualUs: number): number {
    if (this.pausedNow || this.rate === 'max') return virtualUs;
    const speed = this.rate;
    let due = this.anchorUs + Math.round((monoMs - this.anchorMono) * 1000 * speed);
    const most = virtualUs + Math.round(MAX_FRAME_MS * 1000 * speed);
    if (due > most) {
      // behind: forgive the debt, carry on from here at the same rate
      due = most;
      this.sync(due, monoMs);
    }
    return Math.min(MAX_TRUE_US, Math.max(virtualUs, due));
  }
}
