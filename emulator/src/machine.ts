/**
 * The Machine: a kodeviser token on the bench. Like an avr8js board, it is passive: the firmware
 * core (pure `init`/`step`) runs only when the virtual hardware has something to tell it, and the
 * hardware moves only when the scheduler's virtual true time reaches its next event. This file
 * is the board's wiring, plus the controls a test or the CLI uses (docs/contracts.md): press the
 * button, let time pass, change the temperature, cut power.
 *
 * The firmware runs in its own effect loop (firmware/src/runtime.ts); the board hands it every
 * hardware event and carries out its effects through the HAL below. Every pending callback is
 * one of a few named kinds (a firmware timer, the RTC tick, a button edge, an NVM write) that a
 * snapshot writes down as data and a restore schedules again in the same order; the firmware's
 * RAM and what it waits for are data too, so a snapshot keeps them as they are.
 */
import { bytesToBase64, KodeviserError, isProfileName, makeSerial, parseSerial, profileInfo, type ProfileName } from '@kodeviser/shared';
import {
  createRuntime,
  DEFAULT_CONFIG,
  NVM_SIZE,
  init,
  textFor,
  type EventPayload,
  type FirmwareConfig,
  type FirmwareEffect,
  type FirmwareEvent,
  type FirmwareRuntime,
  type FirmwareState,
  type FirmwareStateView,
  type RuntimePending,
  type TimerName,
} from '@kodeviser/firmware';
import { Battery, CR2032_CAPACITY_NC } from './battery.js';
import { Button, NO_BOUNCE, checkBounce, type BounceOptions } from './button.js';
import { Cpu } from './cpu.js';
import { Crystal } from './crystal.js';
import { DEVICE_FILE_FORMAT, DEVICE_FILE_VERSION, decodeNvm, type DeviceFile } from './device-file.js';
import { Lcd } from './lcd.js';
import { EEPROM_TIMING, Nvm, type NvmTiming, type NvmWork } from './nvm.js';
import { Prng } from './prng.js';
import { Rtc, type RtcState } from './rtc.js';
import { Scheduler, type ScheduledEvent } from './scheduler.js';
import { appendBounded, type HwTrace, type TraceKind, type TraceRecord } from './trace.js';

/** n bytes of the platform's CSPRNG (Web Crypto: Node 20 and the browser alike, for the lab). */
const randomBytes = (n: number): Uint8Array => globalThis.crypto.getRandomValues(new Uint8Array(n));

export interface ManufactureOptions {
  profile: ProfileName;
  /** the device key; from the CSPRNG when absent (20/32/64 bytes for HMAC, the cipher's key length otherwise) */
  key?: Uint8Array;
  digits?: number;
  step?: number;
  /** ten digits with a Luhn check digit; from the device's seeded generator when absent */
  serial?: string;
  counter?: number;
  /** the crystal's error at 25 °C, ppm; default: uniform within ±20 from the seeded generator */
  driftPpm?: number;
  /** true time of manufacture, unix ms */
  manufacturedAt: number;
  temperatureC?: number;
  firmware?: Partial<FirmwareConfig>;
  // --- extensions beyond docs/contracts.md (all optional) ---
  /** the crystal's aging over its first year, ppm (default +3, the usual datasheet figure) */
  agingPpm?: number;
  /** seed of the device's generator (bounce patterns, default drift and serial); CSPRNG when absent */
  seed?: number;
  /** the physical cell's capacity, nC (default a CR2032's 225 mAh) */
  batteryCapacityNc?: number;
  bounce?: BounceOptions;
  nvmTiming?: NvmTiming;
  /** how many trace records to keep (the oldest are dropped), default 100 000 */
  traceLimit?: number;
}

type Flat<T> = { [K in keyof T]: T[K] };
/** The firmware's view plus what only the bench knows (a plain object type, so it fits Record<string, unknown>). */
export type MachineState = Flat<
  FirmwareStateView & {
    /** the physical cell's remaining charge, nC */
    batteryTrueCharge: number;
    /** the temperature is outside the 0–45 °C operating range now */
    outOfSpec: boolean;
    powered: boolean;
  }
>;

/**
 * Everything a Machine is, as data, plus a reference to its (immutable) firmware state. The
 * firmware's RAM holds the key, so a snapshot is for memory only; files are `toDeviceFile`.
 */
export interface MachineSnapshot {
  readonly file: DeviceFile;
  readonly rtc: RtcState;
  readonly firmware: FirmwareState | null;
  /** what the firmware was waiting for (its timers, its write in flight) */
  readonly firmwarePending: RuntimePending | null;
  readonly lcd: readonly number[];
  readonly button: { level: boolean; target: boolean };
  readonly displayOn: boolean;
  /** callbacks that were waiting, in the order they would have fired */
  readonly pending: readonly Pending[];
  readonly nvmQueue: NvmWork['queue'];
  readonly nvmCut: NvmWork['cut'];
  readonly traceLimit: number;
}

type Pending =
  | { kind: 'timer'; timer: TimerName; deviceAt: number }
  | { kind: 'tick'; periodUs: number; deviceAt: number }
  | { kind: 'edge'; at: number; level: boolean }
  | { kind: 'nvm'; write: NonNullable<NvmWork['current']> };

/** press() gives the firmware this long after the release to settle (it needs milliseconds). */
const SETTLE_LIMIT_US = 10_000_000;

interface Restored {
  rtc?: RtcState;
  displayOn?: boolean;
}

export class Machine {
  readonly scheduler: Scheduler;
  readonly trace: TraceRecord[] = [];
  private readonly listeners: Array<(r: TraceRecord) => void> = [];
  private readonly traceLimit: number;
  private readonly config: FirmwareConfig;
  private readonly label: Pick<DeviceFile, 'serial' | 'profile' | 'digits' | 'step' | 'manufacturedAt'>;
  private readonly prng: Prng;
  private readonly rtc: Rtc;
  private readonly battery: Battery;
  private readonly button: Button;
  private readonly display: Lcd;
  private readonly memory: Nvm;
  private readonly cpu: Cpu;
  /** the firmware, in its effect loop; without RAM while there is no power */
  private readonly runtime: FirmwareRuntime;
  private factoryReply: { ok: boolean; reason?: string } | null = null;

  private constructor(file: DeviceFile, traceLimit: number, restored: Restored = {}) {
    this.traceLimit = traceLimit;
    this.config = { ...file.firmware };
    this.label = { serial: file.serial, profile: file.profile, digits: file.digits, step: file.step, manufacturedAt: file.manufacturedAt };
    const hw: HwTrace = Object.assign((what: string, detail: Record<string, unknown>): void => this.record('hw', what, detail), {
      enabled: () => this.tracing(),
    });
    const s = (this.scheduler = new Scheduler(file.trueTimeUs));
    this.prng = new Prng(file.rngState);
    const crystal = new Crystal(file.crystal, Date.parse(file.manufacturedAt) * 1000);
    this.rtc = restored.rtc
      ? Rtc.restore(s, crystal, restored.rtc, hw)
      : new Rtc(
          s,
          crystal,
          { deviceUs: file.deviceTimeUs, temperatureC: file.temperatureC, outOfSpecEpisodes: file.outOfSpecEpisodes },
          hw,
        );
    this.battery = new Battery(
      s,
      this.config,
      {
        ...file.battery,
        powered: file.powered,
        displayOn: file.powered && (restored.displayOn ?? false),
        temperatureC: file.temperatureC,
      },
      hw,
    );
    this.battery.onBrownOut(() => this.powerLoss('brown-out'));
    this.button = new Button(s, this.prng, checkBounce(file.bounce), hw);
    this.display = new Lcd(hw, (lit) => this.battery.setLoad({ displayOn: lit }));
    this.memory = new Nvm(s, decodeNvm(file.nvm), file.nvmTiming, hw, (n) => this.battery.drawNvm(n));
    this.cpu = new Cpu(this.config.cpuHz, (c) => this.battery.drawCycles(c));
    this.runtime = createRuntime(
      {
        lcd: this.display,
        rtc: this.rtc,
        timers: { arm: (timer, at) => this.armTimer(timer, at), cancel: (timer) => this.rtc.cancel(timer) },
        nvm: { read: () => this.memory.read(), write: (address, data) => this.memory.write(address, data, this.nvmDone(address)) },
        cpu: this.cpu,
      },
      this.config,
      {
        start: 'off',
        onEvent: (event) => this.tracing() && this.record('event', event.type, eventDetail(event)),
        onEffect: (effect) => this.tracing() && this.record('effect', effect.type, effectDetail(effect)),
        onFactoryReply: (reply) => (this.factoryReply = reply),
      },
    );
  }

  /** the firmware's RAM; null while there is no power */
  private get fw(): FirmwareState | null {
    return this.runtime.state;
  }

  // ---- making and keeping machines -----------------------------------------------------------

  /** A new token: blank (erased) NVM, a fresh cell; personalised and sealed through the factory events. */
  static manufacture(opts: ManufactureOptions): Machine {
    if (typeof opts !== 'object' || opts === null) throw new KodeviserError('ERR_ARGUMENT', 'opts must be an object');
    if (typeof opts.profile !== 'string' || !isProfileName(opts.profile)) {
      throw new KodeviserError('ERR_UNKNOWN_PROFILE', `profile must be a known profile, got ${String(opts.profile)}`);
    }
    if (!Number.isFinite(opts.manufacturedAt) || opts.manufacturedAt < 0) {
      throw new KodeviserError('ERR_ARGUMENT', 'manufacturedAt must be a non-negative unix time in ms');
    }
    const seed = opts.seed ?? randomBytes(4).reduce((n, b) => n * 256 + b, 0);
    if (!Number.isSafeInteger(seed) || seed < 0 || seed > 0xffffffff)
      throw new KodeviserError('ERR_ARGUMENT', 'seed must be a 32-bit unsigned integer');
    const prng = new Prng(seed);
    const key = opts.key ?? randomBytes(profileInfo(opts.profile).keyBytes);
    const serial = opts.serial === undefined ? makeSerial(String(prng.int(0, 999_999_999)).padStart(9, '0')) : parseSerial(opts.serial);
    const driftPpm = opts.driftPpm ?? Math.round(prng.range(-20, 20) * 1000) / 1000;
    const trueUs = Math.round(opts.manufacturedAt) * 1000;
    const capacityNc = opts.batteryCapacityNc ?? CR2032_CAPACITY_NC;
    const digits = opts.digits ?? 6;
    const stepS = opts.step ?? 30;
    const file: DeviceFile = {
      format: DEVICE_FILE_FORMAT,
      version: DEVICE_FILE_VERSION,
      serial,
      profile: opts.profile,
      digits,
      step: stepS,
      manufacturedAt: new Date(trueUs / 1000).toISOString(),
      trueTimeUs: trueUs,
      deviceTimeUs: trueUs,
      crystal: { offsetPpm: driftPpm, agingPpm: opts.agingPpm ?? 3, agingTauDays: 30 },
      temperatureC: opts.temperatureC ?? 25,
      outOfSpecEpisodes: 0,
      battery: { capacityNc, chargeNc: capacityNc },
      powered: false,
      nvm: bytesToBase64(new Uint8Array(NVM_SIZE).fill(0xff)), // an erased EEPROM
      nvmTiming: opts.nvmTiming ?? EEPROM_TIMING,
      bounce: opts.bounce ?? NO_BOUNCE,
      rngState: prng.state,
      firmware: { ...DEFAULT_CONFIG, ...opts.firmware },
    };
    const m = new Machine(file, traceLimitOf(opts.traceLimit));
    if (m.rtc.outOfSpec) m.rtc.outOfSpecEpisodes = 1;
    m.powerOn();
    m.factory({
      type: 'factory-personalise',
      data: { profile: opts.profile, key, serial, digits, step: stepS, counter: opts.counter ?? 0 },
    });
    m.factory({ type: 'factory-seal' });
    return m;
  }

  /**
   * A token from its device file, at the file's true time. A powered token wakes as from deep
   * sleep: RAM rebuilt from the NVM (firmware init), display off, no reset event.
   */
  static fromDeviceFile(file: DeviceFile, opts: { traceLimit?: number } = {}): Machine {
    const m = new Machine(file, traceLimitOf(opts.traceLimit));
    if (file.powered && !m.battery.dead) m.attach(init(m.config, m.memory.read()), false);
    return m;
  }

  /** The token as a JSON-safe device file; the key stays inside the NVM image. */
  toDeviceFile(): DeviceFile {
    const b = this.battery.save();
    return {
      format: DEVICE_FILE_FORMAT,
      version: DEVICE_FILE_VERSION,
      ...this.label,
      trueTimeUs: this.scheduler.now,
      deviceTimeUs: this.rtc.deviceAt(this.scheduler.now),
      crystal: this.rtc.crystal.params(),
      temperatureC: this.rtc.temperatureC,
      outOfSpecEpisodes: this.rtc.outOfSpecEpisodes,
      battery: { capacityNc: b.capacityNc, chargeNc: b.chargeNc },
      powered: this.fw !== null,
      nvm: bytesToBase64(this.memory.read()),
      nvmTiming: { ...this.memory.timing },
      bounce: { ...this.button.bounce },
      rngState: this.prng.state,
      firmware: { ...this.config },
    };
  }

  snapshot(): MachineSnapshot {
    const waiting: Array<{ at: number; seq: number; p: Pending }> = [];
    for (const t of this.rtc.armedTimers()) waiting.push({ ...order(t.event), p: { kind: 'timer', timer: t.name, deviceAt: t.at } });
    const tick = this.rtc.nextTick();
    if (tick) waiting.push({ ...order(tick.event), p: { kind: 'tick', periodUs: tick.periodUs, deviceAt: tick.at } });
    for (const e of this.button.pendingEdges()) waiting.push({ ...order(e.event), p: { kind: 'edge', at: e.event.at, level: e.level } });
    const work = this.memory.save();
    if (work.current) waiting.push({ ...order(work.current.event), p: { kind: 'nvm', write: work.current } });
    waiting.sort((a, b) => a.at - b.at || a.seq - b.seq);
    return Object.freeze({
      file: this.toDeviceFile(),
      rtc: this.rtc.save(),
      firmware: this.fw,
      firmwarePending: this.fw === null ? null : this.runtime.pending(),
      lcd: Array.from(this.display.segments()),
      button: { level: this.button.level, target: this.button.target },
      displayOn: this.battery.save().displayOn,
      pending: waiting.map((w) => w.p),
      nvmQueue: work.queue,
      nvmCut: work.cut,
      traceLimit: this.traceLimit,
    });
  }

  /** A machine in exactly the snapshot's state; from here on it runs as the original would. */
  static restore(snap: MachineSnapshot): Machine {
    const m = new Machine(snap.file, snap.traceLimit, { rtc: snap.rtc, displayOn: snap.displayOn });
    m.display.restore(snap.lcd);
    m.button.restore(snap.button.level, snap.button.target);
    if (snap.firmware !== null) m.attach(snap.firmware, false, false, snap.firmwarePending ?? undefined);
    for (const p of snap.pending) {
      switch (p.kind) {
        case 'timer':
          m.armTimer(p.timer, p.deviceAt);
          break;
        case 'tick':
          m.rtc.restoreTick(p.periodUs, p.deviceAt, m.onTick);
          break;
        case 'edge':
          m.button.scheduleEdge(p.at, p.level);
          break;
        case 'nvm':
          m.memory.resume(p.write, m.nvmDone(p.write.address), m.onCut);
          break;
      }
    }
    m.memory.restoreQueue({ current: null, queue: snap.nvmQueue, cut: snap.nvmCut }, m.nvmDone, m.onCut);
    return m;
  }

  // ---- clocks ----------------------------------------------------------------------------------

  /** True time, µs since the epoch. */
  now(): number {
    return this.scheduler.now;
  }

  /** What the RTC reads, µs since the epoch. */
  deviceTime(): number {
    return this.rtc.now();
  }

  /** Runs every event up to now + `us` (µs of true time). */
  advance(us: number): void {
    if (!Number.isSafeInteger(us) || us < 0) throw new KodeviserError('ERR_ARGUMENT', 'us must be a non-negative integer of µs');
    this.scheduler.runUntil(this.scheduler.now + us);
  }

  advanceTo(trueUs: number): void {
    if (!Number.isSafeInteger(trueUs) || trueUs < this.scheduler.now) {
      throw new KodeviserError('ERR_ARGUMENT', `trueUs must be an integer of µs not before now (${this.scheduler.now})`);
    }
    this.scheduler.runUntil(trueUs);
  }

  /** Runs events until `pred` holds (checked first and after each event) or `limitUs` passed. */
  runUntil(pred: (m: Machine) => boolean, limitUs: number): boolean {
    if (!Number.isSafeInteger(limitUs) || limitUs < 0)
      throw new KodeviserError('ERR_ARGUMENT', 'limitUs must be a non-negative integer of µs');
    const deadline = this.scheduler.now + limitUs;
    for (;;) {
      if (pred(this)) return true;
      const next = this.scheduler.nextAt();
      if (next === undefined || next > deadline) {
        this.scheduler.runUntil(deadline);
        return pred(this);
      }
      this.scheduler.runNext();
    }
  }

  // ---- the button ------------------------------------------------------------------------------

  /** Down, hold `ms` (default 120), up; then runs until the firmware settles (the code is up). */
  press(ms = 120): void {
    if (!Number.isFinite(ms) || ms < 0) throw new KodeviserError('ERR_ARGUMENT', 'ms must be a non-negative number of milliseconds');
    this.buttonDown();
    this.advance(Math.round(ms * 1000));
    this.buttonUp();
    this.runUntil((m) => m.settled(), SETTLE_LIMIT_US);
  }

  /** A press held for `ms` (longPressMs, 6 s by default, or more: the information menu). */
  hold(ms: number): void {
    this.press(ms);
  }

  buttonDown(): void {
    this.button.set(true);
    this.scheduler.runUntil(this.scheduler.now);
  }

  buttonUp(): void {
    this.button.set(false);
    this.scheduler.runUntil(this.scheduler.now);
  }

  /** Nothing in progress: the line and the debounced state agree, no MAC being computed, no NVM write. */
  private settled(): boolean {
    const fw = this.fw;
    if (fw === null) return true;
    return (
      this.button.level === this.button.target &&
      fw.button.down === this.button.level &&
      !this.rtc.armed('debounce') &&
      !this.rtc.armed('compute-done') &&
      !this.memory.busy &&
      fw.screen !== 'computing'
    );
  }

  // ---- environment and power -------------------------------------------------------------------

  setTemperature(c: number): void {
    this.rtc.setTemperature(c);
    this.battery.setTemperature(c);
    this.record('hw', 'temperature', { temperatureC: c, outOfSpec: this.rtc.outOfSpec });
  }

  /**
   * Brown-out now, or when `atWriteByte` bytes of an NVM write have landed: of the next write, or
   * (an extension of docs/contracts.md) of the write `atWrite` writes after it.
   */
  cutPower(opts: { atWriteByte?: number; atWrite?: number } = {}): void {
    if (opts.atWriteByte === undefined) {
      if (opts.atWrite !== undefined) throw new KodeviserError('ERR_ARGUMENT', 'atWrite needs atWriteByte');
      this.powerLoss('cut');
      return;
    }
    this.memory.armCut({ atWrite: opts.atWrite ?? 0, atWriteByte: opts.atWriteByte }, this.onCut);
  }

  /** Power returns (after a cut): the MCU resets and boots from the NVM. A flat cell stays dead. */
  powerOn(): void {
    if (this.fw !== null) return;
    if (this.battery.dead) {
      this.record('hw', 'power', { powered: false, cause: 'battery-dead' });
      return;
    }
    this.attach(init(this.config, this.memory.read()), true);
  }

  // ---- what the user and the tests see ---------------------------------------------------------

  /** The LCD as text: 8 characters, '.' after one whose decimal point is lit. */
  lcd(): string {
    return textFor(this.display.segments());
  }

  lcdSegments(): Uint8Array {
    return this.display.segments();
  }

  lcdArt(): string {
    return this.display.art();
  }

  state(): MachineState {
    // without power there is no RAM: show what a boot would find in the NVM
    // The view is a fresh object: completed in place, as a spread copy cost a lifetime sweep 7 %.
    const state = this.runtime.view() as MachineState;
    state.lcd = Array.from(this.display.segments());
    state.nvmBusy = this.memory.busy;
    state.batteryTrueCharge = this.battery.chargeNc;
    state.outOfSpec = this.rtc.outOfSpec;
    state.powered = this.fw !== null;
    return state;
  }

  /** The NVM image now (a copy). */
  nvm(): Uint8Array {
    return this.memory.read();
  }

  onTrace(listener: (r: TraceRecord) => void): void {
    this.listeners.push(listener);
  }

  // ---- the board's wiring ----------------------------------------------------------------------

  /** Power on with RAM `fw`: the load, the button line and the RTC tick; `reset` sends power-on. */
  private attach(fw: FirmwareState, reset: boolean, tick = true, pending?: RuntimePending): void {
    this.runtime.restore(fw, pending);
    this.battery.setLoad({ powered: true });
    this.button.onEdge((pressed) => this.runtime.send({ type: 'button', pressed }));
    if (tick) this.rtc.onTick(this.config.rtcTickUs, this.onTick);
    this.record('hw', 'power', { powered: true, cause: reset ? 'reset' : 'wake' });
    if (reset) this.runtime.send({ type: 'power-on' });
  }

  private readonly onTick = (): void => this.runtime.send({ type: 'rtc-tick' });
  private readonly onCut = (): void => this.powerLoss('cut');
  private readonly nvmDone =
    (address: number) =>
    (ok: boolean): void =>
      this.runtime.send({ type: 'nvm-done', address, ok });

  private armTimer(timer: TimerName, at: number): void {
    this.rtc.arm(timer, at, () => this.runtime.send({ type: 'timer', timer }));
  }

  /** Power is gone: RAM, timers, the write in flight, the glass; the RTC and the NVM stay. */
  private powerLoss(cause: 'cut' | 'brown-out'): void {
    if (this.fw === null) return;
    this.runtime.powerLost();
    this.memory.powerLost();
    this.rtc.reset();
    this.button.detach();
    this.cpu.sleep();
    this.display.blank();
    this.battery.setLoad({ powered: false, displayOn: false });
    this.record('hw', 'power', { powered: false, cause });
  }

  /** A factory command, run until the firmware answers; a refusal throws, naming the reason. */
  private factory(event: EventPayload): void {
    this.factoryReply = null;
    this.runtime.send(event);
    this.runUntil((m) => m.factoryReply !== null && !m.memory.busy, SETTLE_LIMIT_US);
    const reply = this.factoryReply as { ok: boolean; reason?: string } | null;
    if (reply === null || !reply.ok) {
      throw new KodeviserError('ERR_ARGUMENT', `the token refused ${event.type}: ${reply?.reason ?? 'no answer'}`);
    }
  }

  /** Whether anything keeps or hears trace records (else they are not even made). */
  private tracing(): boolean {
    return this.traceLimit !== 0 || this.listeners.length !== 0;
  }

  private record(kind: TraceKind, what: string, detail: Record<string, unknown>): void {
    if (!this.tracing()) return;
    const r: TraceRecord = { trueUs: this.scheduler.now, deviceUs: this.rtc.now(), kind, what, detail };
    appendBounded(this.trace, r, this.traceLimit);
    for (const l of this.listeners) l(r);
  }
}

function order(e: ScheduledEvent): { at: number; seq: number } {
  return { at: e.at, seq: e.seq };
}

/** Trace detail of an event; never the key. */
function eventDetail(e: FirmwareEvent): Record<string, unknown> {
  switch (e.type) {
    case 'button':
      return { pressed: e.pressed };
    case 'timer':
      return { timer: e.timer };
    case 'nvm-done':
      return { address: e.address, ok: e.ok };
    case 'factory-personalise': {
      const { profile, serial, digits, step: s, counter } = e.data;
      return { profile, serial, digits, step: s, counter, keyBytes: e.data.key.length };
    }
    default:
      return {};
  }
}

/** Trace detail of an effect; NVM data (the key, when personalising) is never copied. */
function effectDetail(e: FirmwareEffect): Record<string, unknown> {
  switch (e.type) {
    case 'lcd':
      return { segments: Array.from(e.segments) };
    case 'nvm-write':
      return { address: e.address, length: e.data.length };
    case 'timer-arm':
      return { timer: e.timer, at: e.at };
    case 'timer-cancel':
      return { timer: e.timer };
    case 'cpu':
      return { cycles: e.cycles, what: e.what };
    case 'factory-reply':
      return e.reason === undefined ? { ok: e.ok } : { ok: e.ok, reason: e.reason };
    default:
      return {};
  }
}

function traceLimitOf(n: number | undefined): number {
  if (n === undefined) return 100_000;
  if (!Number.isSafeInteger(n) || n < 0) throw new KodeviserError('ERR_ARGUMENT', 'traceLimit must be a non-negative integer');
  return n;
}
