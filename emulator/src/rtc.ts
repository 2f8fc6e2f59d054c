/**
 * The RTC and the MCU's timers, both counting device time (the crystal's idea of time), on top
 * of the scheduler's true time. Device time is integrated piecewise: between two temperature
 * changes the crystal's error has a closed-form integral (crystal.ts), so the RTC keeps one
 * anchor (true time, device time) per stretch of constant temperature and reads any instant
 * in O(1).
 *
 * Firmware timers and the periodic tick are in device time; each is scheduled at the first true
 * microsecond whose RTC reading reaches it. A temperature change bends the curve, so every
 * pending one is re-scheduled then. Out of the 0–45 °C operating range (docs/token.md) the RTC
 * records an out-of-spec condition: state here, a trace record through `trace`.
 */
import { KodeviserError } from '@kodeviser/shared';
import type { DeviceMicros, RtcHal, TimerName } from '@kodeviser/firmware';
import type { Crystal } from './crystal.js';
import type { ScheduledEvent, Scheduler } from './scheduler.js';
import { tracing, type HwTrace } from './trace.js';

export const OPERATING_MIN_C = 0;
export const OPERATING_MAX_C = 45;

interface DeviceTimer {
  at: DeviceMicros;
  expired: () => void;
  event: ScheduledEvent;
}

export interface RtcState {
  anchorTrueUs: number;
  /** device time minus true time at the anchor, µs (fractional) */
  anchorGainUs: number;
  temperatureC: number;
  outOfSpec: boolean;
  outOfSpecEpisodes: number;
}

export class Rtc implements RtcHal {
  private anchorTrueUs: number;
  private anchorGainUs: number;
  private temperature: number;
  private readonly timers = new Map<TimerName, DeviceTimer>();
  private tick: { periodUs: number; nextUs: DeviceMicros; fn: () => void; event: ScheduledEvent } | null = null;
  /** the temperature is outside the operating range now */
  outOfSpec = false;
  /** how many times the temperature left the operating range */
  outOfSpecEpisodes = 0;

  constructor(
    private readonly scheduler: Scheduler,
    readonly crystal: Crystal,
    init: { deviceUs: number; temperatureC: number; outOfSpecEpisodes?: number },
    private readonly trace: HwTrace = () => {},
  ) {
    this.anchorTrueUs = scheduler.now;
    this.anchorGainUs = init.deviceUs - scheduler.now;
    this.temperature = init.temperatureC;
    this.outOfSpec = isOutOfSpec(init.temperatureC);
    this.outOfSpecEpisodes = init.outOfSpecEpisodes ?? 0;
  }

  static restore(scheduler: Scheduler, crystal: Crystal, s: RtcState, trace?: HwTrace): Rtc {
    const rtc = new Rtc(scheduler, crystal, { deviceUs: scheduler.now, temperatureC: s.temperatureC }, trace);
    rtc.anchorTrueUs = s.anchorTrueUs;
    rtc.anchorGainUs = s.anchorGainUs;
    rtc.outOfSpec = s.outOfSpec;
    rtc.outOfSpecEpisodes = s.outOfSpecEpisodes;
    return rtc;
  }

  save(): RtcState {
    return {
      anchorTrueUs: this.anchorTrueUs,
      anchorGainUs: this.anchorGainUs,
      temperatureC: this.temperature,
      outOfSpec: this.outOfSpec,
      outOfSpecEpisodes: this.outOfSpecEpisodes,
    };
  }

  get temperatureC(): number {
    return this.temperature;
  }

  /** The exact (fractional) device time at true time `trueUs` ≥ the current anchor. */
  deviceAt(trueUs: number): number {
    return trueUs + this.gainAt(trueUs);
  }

  /** Device time minus true time at `trueUs` ≥ the current anchor, µs. */
  gainAt(trueUs: number): number {
    return this.anchorGainUs + this.crystal.gain(this.anchorTrueUs, trueUs, this.temperature);
  }

  /** RtcHal: the counter, whole µs of device time. */
  now(): DeviceMicros {
    return Math.floor(this.deviceAt(this.scheduler.now));
  }

  /** The first whole true µs (not before now) at which the RTC reads at least `deviceUs`. */
  trueTimeFor(deviceUs: DeviceMicros): number {
    const now = this.scheduler.now;
    if (Math.floor(this.deviceAt(now)) >= deviceUs) return now;
    // Newton on f(t) = deviceAt(t) − deviceUs; f' = 1 + ppm·1e−6 is within 1e−4 of 1 and
    // nearly constant, so two steps land within a microsecond.
    let t = now;
    for (let i = 0; i < 3; i++) {
      const slope = 1 + this.crystal.ppm(t, this.temperature) * 1e-6;
      t = t - (this.deviceAt(t) - deviceUs) / slope;
    }
    let u = Math.max(now, Math.ceil(t));
    while (u > now && Math.floor(this.deviceAt(u - 1)) >= deviceUs) u--;
    while (Math.floor(this.deviceAt(u)) < deviceUs) u++;
    return u;
  }

  /** Changes the temperature from now on; re-plans every pending device-time event. */
  setTemperature(temperatureC: number): void {
    if (typeof temperatureC !== 'number' || !Number.isFinite(temperatureC)) {
      throw new KodeviserError('ERR_ARGUMENT', 'temperatureC must be a finite number');
    }
    const now = this.scheduler.now;
    this.anchorGainUs = this.gainAt(now);
    this.anchorTrueUs = now;
    this.temperature = temperatureC;
    const out = isOutOfSpec(temperatureC);
    if (out && !this.outOfSpec) this.outOfSpecEpisodes++;
    if (out !== this.outOfSpec) {
      this.outOfSpec = out;
      if (tracing(this.trace)) this.trace('out-of-spec', { outOfSpec: out, temperatureC });
    }
    for (const [name, timer] of this.timers) this.armTrue(name, timer.at, timer.expired);
    if (this.tick) this.scheduleTick(this.tick.periodUs, this.tick.nextUs, this.tick.fn);
  }

  /** Wakes `tick` every `periodUs` of device time, the first one period from now. */
  onTick(periodUs: number, tick: () => void): void {
    if (!Number.isSafeInteger(periodUs) || periodUs <= 0) {
      throw new KodeviserError('ERR_ARGUMENT', 'periodUs must be a positive integer of µs');
    }
    this.scheduleTick(periodUs, this.now() + periodUs, tick);
  }

  /** Puts back a tick a snapshot had pending (its next wake at device time `nextUs`). */
  restoreTick(periodUs: number, nextUs: DeviceMicros, tick: () => void): void {
    this.scheduleTick(periodUs, nextUs, tick);
  }

  /** Calls `expired` once when the counter reaches `at` (device time); re-arming a name moves it. */
  arm(name: TimerName, at: DeviceMicros, expired: () => void): void {
    this.armTrue(name, at, expired);
  }

  cancel(name: TimerName): void {
    const timer = this.timers.get(name);
    if (timer) {
      this.scheduler.cancel(timer.event);
      this.timers.delete(name);
    }
  }

  /** The armed timers, device time (for snapshots and the inspector). */
  armedTimers(): Array<{ name: TimerName; at: DeviceMicros; event: ScheduledEvent }> {
    return [...this.timers].map(([name, t]) => ({ name, at: t.at, event: t.event }));
  }

  /** The timer is armed. */
  armed(name: TimerName): boolean {
    return this.timers.has(name);
  }

  /** The next tick's device time, or null when no tick is set. */
  nextTick(): { periodUs: number; at: DeviceMicros; event: ScheduledEvent } | null {
    return this.tick ? { periodUs: this.tick.periodUs, at: this.tick.nextUs, event: this.tick.event } : null;
  }

  /** Power is gone: the MCU's timers and tick go with it; the RTC keeps counting. */
  reset(): void {
    for (const name of [...this.timers.keys()]) this.cancel(name);
    if (this.tick) this.scheduler.cancel(this.tick.event);
    this.tick = null;
  }

  private armTrue(name: TimerName, at: DeviceMicros, expired: () => void): void {
    if (!Number.isFinite(at)) throw new KodeviserError('ERR_ARGUMENT', `timer ${name}: at must be a finite device time`);
    const old = this.timers.get(name);
    if (old) this.scheduler.cancel(old.event);
    const timer: DeviceTimer = {
      at,
      expired,
      event: this.scheduler.schedule(
        this.trueTimeFor(at),
        () => {
          this.timers.delete(name);
          expired();
        },
        `timer:${name}`,
      ),
    };
    this.timers.set(name, timer);
  }

  private scheduleTick(periodUs: number, nextUs: DeviceMicros, fn: () => void): void {
    if (this.tick) this.scheduler.cancel(this.tick.event);
    const event = this.scheduler.schedule(
      this.trueTimeFor(nextUs),
      () => {
        this.scheduleTick(periodUs, nextUs + periodUs, fn);
        fn();
      },
      'rtc-tick',
    );
    this.tick = { periodUs, nextUs, fn, event };
  }
}

export function isOutOfSpec(temperatureC: number): boolean {
  return temperatureC < OPERATING_MIN_C || temperatureC > OPERATING_MAX_C;
}
