/**
 * The lab's model, without a page: one Machine (the firmware on its virtual hardware), the time
 * controller that moves it with the real clock, the button's edges, the last trace records and a
 * VCD recording of the session. The DOM code (view.ts, main.ts) only reads it and calls it, so
 * everything here runs and is tested in Node.
 *
 * Determinism, the contract with `kodeviser press FILE --at T` (which is: load the file,
 * advanceTo(T), Machine.press(): down, 120 ms, up, run until the firmware settles):
 * - Go to time runs forward with `advanceTo`; to an earlier time it reloads the file as loaded
 *   and runs it there, as the CLI loads it;
 * - moving the machine in many steps (the frames of a running lab) or in one (Go to time) runs
 *   the same events in the same order: the scheduler and the RTC are exact, so the LCD does not
 *   depend on how time was cut up;
 * - a button edge is a real edge (`buttonDown` / `buttonUp`), but a release less than 120 ms of
 *   virtual time after its press first lets the rest of the 120 ms pass, as `Machine.press()`
 *   holds it, so a click whose down and up arrive in the same frame is still a press;
 * - on a paused lab the release also runs until the firmware has settled (the code is up), the
 *   rest of `Machine.press()`; so down + up on a paused lab is exactly `Machine.press()`:
 *   `buttonDown()`, `advance(120 ms)`, then `press(0)` = `buttonUp()` + settle;
 * - while running, the release is the bare edge and the firmware settles as time runs on.
 */
import { isKodeviserError } from '@kodeviser/shared';
import { Crystal, YEAR_US } from '../crystal.js';
import { parseDeviceFile, shiftHistory, type DeviceFile } from '../device-file.js';
import { Machine, type MachineState } from '../machine.js';
import type { TraceRecord } from '../trace.js';
import { VcdRecorder } from '../vcd.js';
import { MAX_TRUE_US, TimeController, type Speed } from './clock.js';
import { parseTimeInput } from './format.js';

/** The page's clocks: the wall clock (Date.now) and a monotonic one (performance.now), ms. */
export interface LabClocks {
  wallMs(): number;
  monoMs(): number;
}

/** How long `Machine.press()` holds the button, µs; a shorter press is held this long. */
export const PRESS_US = 120_000;
/** How many trace records the live trace keeps. */
export const TRACE_KEEP = 50;
/** "Run until the display changes" gives up after this much virtual time. */
export const UNTIL_CHANGE_LIMIT_US = YEAR_US;
export const HOUR_US = 3_600_000_000;
export const DAY_US = 24 * HOUR_US;
/** Normal use (firmware/src/config.ts): three presses a day, evenly spaced. */
export const NORMAL_USE_PER_DAY = 3;
const NORMAL_USE_INTERVAL_US = Math.round(DAY_US / NORMAL_USE_PER_DAY);
/** At `max`, the machine moves at most this much virtual time between two looks at the clock. */
const MAX_CHUNK_US = DAY_US;
/** The VCD stops growing after this many signal records (a decade at max makes a few hundred thousand). */
export const VCD_MAX_RECORDS = 2_000_000;

/** A refusal with a message for the page (a bad file, a time in the past, ...). */
export class LabError extends Error {
  override readonly name = 'LabError';
}

const errorText = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/** What `kodeviser press --at` does with a time before the file's (device-file.ts). */
export { shiftHistory };

function sameSegments(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export class LabSession {
  readonly time = new TimeController();
  /** Bumps on every change worth keeping (the device file would differ). */
  revision = 0;
  /** Bumps on every trace record. */
  traceCount = 0;
  /** Whether the machine presses itself three times a day while time runs (normal use). */
  normalUse = false;
  private m: Machine | null = null;
  private ring: TraceRecord[] = [];
  private recorder: VcdRecorder | null = null;
  private vcdRecords = 0;
  private held: { sinceUs: number } | null = null;
  private crystal: Crystal | null = null;
  private capacityNc = 1;
  private temperature = 25;
  private nextUseUs = 0;
  private serial = '';
  /** the device file as it was loaded: what Go to time reloads to go back */
  private loadedFile: DeviceFile | null = null;

  constructor(private readonly clocks: LabClocks) {}

  get machine(): Machine | null {
    return this.m;
  }

  get loaded(): boolean {
    return this.m !== null;
  }

  // ---- devices ---------------------------------------------------------------------------------

  /**
   * Loads a device file (JSON text or a parsed value). The lab runs from the real now at ×1, or
   * from the file's own time when that is later (true time never runs backwards). Throws
   * LabError naming what is wrong; the lab keeps its previous device then.
   */
  load(input: string | unknown): DeviceFile {
    let file: DeviceFile;
    try {
      file = parseDeviceFile(input);
    } catch (e) {
      throw new LabError(errorText(e));
    }
    this.start(file, Math.max(file.trueTimeUs, Math.round(this.clocks.wallMs()) * 1000));
    this.loadedFile = file;
    const mono = this.clocks.monoMs();
    this.time.setSpeed(1, this.m!.now(), mono);
    this.time.resume(this.m!.now(), mono);
    return file;
  }

  /** A machine from `file`, run to true time `atUs`, with a fresh trace and recording; replaces the current one only when all went well. */
  private start(file: DeviceFile, atUs: number): void {
    let m: Machine;
    try {
      m = Machine.fromDeviceFile(file, { traceLimit: 0 });
      m.advanceTo(Math.min(MAX_TRUE_US, atUs));
    } catch (e) {
      if (isKodeviserError(e) || e instanceof Error) throw new LabError(errorText(e));
      throw e;
    }
    this.m = m;
    this.serial = file.serial;
    this.crystal = new Crystal(file.crystal, Date.parse(file.manufacturedAt) * 1000);
    this.capacityNc = file.battery.capacityNc;
    this.temperature = file.temperatureC;
    this.held = null;
    this.ring = [];
    this.vcdRecords = 0;
    const s = m.state();
    const recorder = new VcdRecorder(
      m.now(),
      { button: s.buttonDown, segments: m.lcdSegments(), batteryChargeUc: s.batteryTrueCharge / 1000, nvmBusy: s.nvmBusy },
      'kodeviser device lab',
    );
    this.recorder = recorder;
    m.onTrace((r) => {
      if (this.m !== m) return;
      this.ring.push(r);
      if (this.ring.length > TRACE_KEEP) this.ring.shift();
      this.traceCount++;
      if (r.kind === 'hw' && this.vcdRecords < VCD_MAX_RECORDS) {
        this.vcdRecords++;
        recorder.record(r);
      }
    });
    this.nextUseUs = m.now() + NORMAL_USE_INTERVAL_US;
    this.revision++;
  }

  /** The device as the CLI writes it (device.ts deviceJson). */
  deviceJson(): string {
    return `${JSON.stringify(this.need().toDeviceFile(), null, 2)}\n`;
  }

  /** `<serial>.json` */
  fileName(): string {
    this.need();
    return `${this.serial}.json`;
  }

  /** The session so far as a value change dump (time 0: when the device was loaded). */
  vcd(): string {
    const m = this.need();
    const recorder = this.recorder as VcdRecorder;
    recorder.end(m.now());
    return recorder.toString();
  }

  get vcdTruncated(): boolean {
    return this.vcdRecords >= VCD_MAX_RECORDS;
  }

  // ---- the button ------------------------------------------------------------------------------

  get buttonHeld(): boolean {
    return this.held !== null;
  }

  /** The button's down edge, now. False when there is no device or it is already down. */
  buttonDown(): boolean {
    const m = this.m;
    if (m === null || this.held !== null) return false;
    m.buttonDown();
    this.held = { sinceUs: m.now() };
    this.moved();
    return true;
  }

  /** The button's up edge (after at least 120 ms of virtual time held; see the file's comment). */
  buttonUp(): boolean {
    const m = this.m;
    if (m === null || this.held === null) return false;
    const rest = PRESS_US - (m.now() - this.held.sinceUs);
    this.held = null;
    if (rest > 0) m.advance(Math.min(rest, MAX_TRUE_US - m.now()));
    if (this.time.paused) m.press(0);
    else m.buttonUp();
    this.moved();
    return true;
  }

  // ---- time ------------------------------------------------------------------------------------

  get paused(): boolean {
    return this.time.paused;
  }

  get speed(): Speed {
    return this.time.speed;
  }

  pause(): void {
    this.time.pause(this.m?.now() ?? 0, this.clocks.monoMs());
  }

  resume(): void {
    this.time.resume(this.m?.now() ?? 0, this.clocks.monoMs());
  }

  setSpeed(speed: Speed): void {
    this.time.setSpeed(speed, this.m?.now() ?? 0, this.clocks.monoMs());
  }

  setNormalUse(on: boolean): void {
    this.normalUse = on;
    if (this.m !== null) this.nextUseUs = this.m.now() + NORMAL_USE_INTERVAL_US;
  }

  /**
   * One frame of a running lab at a numeric speed: the machine catches up with the clock.
   * Returns whether the machine moved.
   */
  frame(): boolean {
    const m = this.m;
    if (m === null || this.time.paused || this.time.speed === 'max') return false;
    const before = m.now();
    this.run(this.time.target(this.clocks.monoMs(), before));
    return this.afterRun(before);
  }

  /** A slice of `max`: runs the machine until `budgetMs` of wall time are spent. Returns whether it moved. */
  maxSlice(budgetMs: number): boolean {
    const m = this.m;
    if (m === null || this.time.paused || this.time.speed !== 'max') return false;
    const before = m.now();
    const deadline = this.clocks.monoMs() + budgetMs;
    do {
      this.run(Math.min(MAX_TRUE_US, m.now() + MAX_CHUNK_US));
    } while (m.now() < MAX_TRUE_US && this.clocks.monoMs() < deadline);
    return this.afterRun(before);
  }

  /** Single step: pauses and fires the next scheduled event. Returns its label, or null when nothing is scheduled. */
  step(): string | null {
    const m = this.need();
    this.pause();
    const next = m.scheduler.list()[0];
    if (next === undefined) return null;
    m.scheduler.runNext();
    this.moved();
    return next.label || 'an event';
  }

  /** +1 hour, +1 day, +1 year: every event of that much virtual time, at once; running or paused stays so. */
  jump(us: number): void {
    const m = this.need();
    if (!Number.isSafeInteger(us) || us < 0) throw new LabError('a jump must be a non-negative integer of µs');
    const to = Math.min(MAX_TRUE_US, m.now() + us);
    m.advanceTo(to);
    this.moved();
  }

  /**
   * Go to time: runs to exactly that true time and pauses there. Forward, that is
   * `Machine.advanceTo`. True time cannot run backwards, so an earlier time reloads the device
   * file as it was loaded and runs it to that time instead, exactly as `kodeviser press --at`
   * loads a file (a time before the file's own moves the device's whole history back, as the
   * CLI's shiftHistory does); what happened in the lab since the load is undone then.
   */
  goTo(text: string): { us: number; reloaded: boolean } {
    const m = this.need();
    const parsed = parseTimeInput(text);
    if ('error' in parsed) throw new LabError(parsed.error);
    const us = parsed.us;
    if (us > MAX_TRUE_US) throw new LabError('That is past the emulator’s last instant (the year 2255).');
    if (us < 0) throw new LabError('The emulator’s time starts at 1970-01-01T00:00:00Z.');
    let reloaded = false;
    if (us >= m.now()) {
      m.advanceTo(us);
    } else {
      const file = this.loadedFile as DeviceFile;
      this.start(us < file.trueTimeUs ? shiftHistory(file, Math.floor((us - file.trueTimeUs) / 1000)) : file, us);
      reloaded = true;
    }
    this.time.pause(this.m!.now(), this.clocks.monoMs());
    this.moved();
    return { us, reloaded };
  }

  /** Runs until the LCD shows something else (at most UNTIL_CHANGE_LIMIT_US), then pauses. Returns whether it changed. */
  untilChange(): boolean {
    const m = this.need();
    const start = m.lcdSegments();
    const limit = Math.min(UNTIL_CHANGE_LIMIT_US, MAX_TRUE_US - m.now());
    const changed = m.runUntil((x) => !sameSegments(x.lcdSegments(), start), limit);
    this.time.pause(m.now(), this.clocks.monoMs());
    this.moved();
    return changed;
  }

  // ---- environment -----------------------------------------------------------------------------

  get temperatureC(): number {
    return this.temperature;
  }

  setTemperature(c: number): void {
    const m = this.need();
    if (!Number.isFinite(c)) throw new LabError('The temperature must be a number of °C.');
    if (c === this.temperature) return;
    m.setTemperature(c);
    this.temperature = c;
    this.revision++;
  }

  // ---- what the page shows ---------------------------------------------------------------------

  /** The crystal's frequency error now, ppm (offset, temperature and aging). */
  ppm(): number {
    const m = this.need();
    return (this.crystal as Crystal).ppm(m.now(), this.temperature);
  }

  /** The cell's true charge, % of its capacity. */
  trueBatteryPercent(state: MachineState = this.need().state()): number {
    return (100 * state.batteryTrueCharge) / this.capacityNc;
  }

  /** The last TRACE_KEEP trace records, oldest first. */
  traceTail(): readonly TraceRecord[] {
    return this.ring;
  }

  /** The next scheduled event, if any. */
  nextEvent(): { label: string; at: number } | null {
    const next = this.m?.scheduler.list()[0];
    return next === undefined ? null : { label: next.label, at: next.at };
  }

  // ---- inside ----------------------------------------------------------------------------------

  private need(): Machine {
    if (this.m === null) throw new LabError('Load a device first.');
    return this.m;
  }

  /** The machine was moved by hand: the clock carries on from its time. */
  private moved(): void {
    const m = this.m as Machine;
    this.time.sync(m.now(), this.clocks.monoMs());
    if (this.nextUseUs <= m.now()) this.nextUseUs = m.now() + NORMAL_USE_INTERVAL_US;
    this.revision++;
  }

  private afterRun(before: number): boolean {
    const m = this.m as Machine;
    if (m.now() >= MAX_TRUE_US) this.time.pause(m.now(), this.clocks.monoMs());
    if (m.now() === before) return false;
    this.revision++;
    return true;
  }

  /** Runs the machine to `target`, pressing it on the normal-use schedule on the way when that is on. */
  private run(target: number): void {
    const m = this.m as Machine;
    while (this.normalUse && this.nextUseUs <= target) {
      if (this.nextUseUs > m.now()) m.advanceTo(this.nextUseUs);
      if (this.held === null) m.press();
      this.nextUseUs += NORMAL_USE_INTERVAL_US;
    }
    if (target > m.now()) m.advanceTo(target);
  }
}
