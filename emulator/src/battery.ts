/**
 * The physical coin cell: the charge that is really there, as opposed to the firmware's own
 * counter (which is an estimate it keeps in NVM). The cell is a CR2032, about 225 mAh to a
 * 2.0 V cut-off (Energizer CR2032 datasheet: 235 mAh nominal to 2.0 V at 15 kΩ; Panasonic
 * CR2032: 225 mAh) and loses about 1 % of its capacity a year to self-discharge (both
 * datasheets: "about 1 % per year at 20 °C").
 *
 * The load uses the same currents the firmware's budget is built from (FirmwareConfig), so with
 * the default figures both agree up to the firmware's accounting granularity:
 *   - while powered, the MCU+RTC standby current flows all the time;
 *   - while any LCD segment is lit, the display current flows on top of it;
 *   - each CPU cycle costs activeCurrent / cpuHz;  each NVM byte written costs nvmWriteNcPerByte;
 *   - self-discharge runs whether powered or not.
 * Continuous draws are integrated exactly between load changes, and the brown-out is scheduled
 * at the instant the charge would reach the cut-off, so a flat cell dies at the right time even
 * while the MCU sleeps for days. The temperature dependence of capacity is not modelled
 * (the operating range 0–45 °C costs a CR2032 little capacity at these µA loads); that of
 * self-discharge is: it doubles every 10 °C (the Arrhenius rule of thumb for a chemical rate; an
 * estimate, not a datasheet figure), about the firmware's calibration temperature of 25 °C,
 * where it is selfDischargePerYear. The firmware cannot measure temperature, so away from 25 °C
 * its counter and the cell part ways, which is what a lifetime sweep shows.
 */
import { KodeviserError } from '@kodeviser/shared';
import type { FirmwareConfig } from '@kodeviser/firmware';
import { YEAR_US } from './crystal.js';
import type { ScheduledEvent, Scheduler } from './scheduler.js';
import { tracing, type HwTrace } from './trace.js';

/** 225 mAh in nanocoulombs: 0.225 A·h × 3600 s/h × 1e9 nC/C */
export const CR2032_CAPACITY_NC = 225 * 3.6 * 1e9;
/** The temperature the firmware's charge budget is calibrated at, °C. */
const CALIBRATION_C = 25;

export type BatteryLoadFigures = Pick<
  FirmwareConfig,
  'sleepCurrentNa' | 'displayCurrentNa' | 'activeCurrentNa' | 'nvmWriteNcPerByte' | 'selfDischargePerYear' | 'cpuHz'
>;

export interface BatteryState {
  capacityNc: number;
  chargeNc: number;
  /** true time the charge was last brought up to date, µs */
  atUs: number;
  powered: boolean;
  displayOn: boolean;
  dead: boolean;
  /** °C; self-discharge doubles every 10 °C above 25 */
  temperatureC: number;
}

export class Battery {
  private state: BatteryState;
  private listener: (() => void) | null = null;
  private brownOutEvent: ScheduledEvent | null = null;
  private readonly figures: BatteryLoadFigures;

  constructor(
    private readonly scheduler: Scheduler,
    figures: BatteryLoadFigures,
    init: Pick<BatteryState, 'capacityNc' | 'chargeNc'> & Partial<BatteryState>,
    private readonly trace: HwTrace = () => {},
  ) {
    const { sleepCurrentNa, displayCurrentNa, activeCurrentNa, nvmWriteNcPerByte, selfDischargePerYear, cpuHz } = figures;
    this.figures = { sleepCurrentNa, displayCurrentNa, activeCurrentNa, nvmWriteNcPerByte, selfDischargePerYear, cpuHz };
    for (const [name, v] of Object.entries(this.figures)) {
      if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
        throw new KodeviserError('ERR_ARGUMENT', `battery figure ${name} must be a non-negative number`);
      }
    }
    if (!(init.capacityNc > 0)) throw new KodeviserError('ERR_ARGUMENT', 'battery.capacityNc must be positive');
    if (!(init.chargeNc >= 0 && init.chargeNc <= init.capacityNc)) {
      throw new KodeviserError('ERR_ARGUMENT', 'battery.chargeNc must be within 0..capacityNc');
    }
    this.state = {
      temperatureC: CALIBRATION_C,
      powered: false,
      displayOn: false,
      dead: init.chargeNc <= 0,
      ...init,
      atUs: scheduler.now,
    };
    this.plan();
  }

  save(): BatteryState {
    this.update();
    return { ...this.state };
  }

  /** The supply supervisor's brown-out line: one listener (the machine, which stops the firmware). */
  onBrownOut(lost: () => void): void {
    this.listener = lost;
  }

  /** The true remaining charge now, nC. */
  get chargeNc(): number {
    this.update();
    return this.state.chargeNc;
  }

  get capacityNc(): number {
    return this.state.capacityNc;
  }

  /** The cell has reached the cut-off: nothing runs any more. */
  get dead(): boolean {
    return this.state.dead;
  }

  /** The continuous current now, nA (= nC/s). */
  currentNa(): number {
    const f = this.figures;
    const selfDischarge =
      (this.state.capacityNc * f.selfDischargePerYear * 2 ** ((this.state.temperatureC - CALIBRATION_C) / 10)) / (YEAR_US / 1e6);
    if (this.state.dead) return 0;
    return (
      selfDischarge + (this.state.powered ? f.sleepCurrentNa : 0) + (this.state.powered && this.state.displayOn ? f.displayCurrentNa : 0)
    );
  }

  /** The load changes (power switched, display lit or dark). */
  setLoad(load: { powered?: boolean; displayOn?: boolean }): void {
    this.update();
    if (load.powered !== undefined) this.state.powered = load.powered;
    if (load.displayOn !== undefined) this.state.displayOn = load.displayOn;
    this.plan();
    if (tracing(this.trace)) this.trace('battery', { chargeNc: this.state.chargeNc, currentNa: this.currentNa() });
  }

  /** The cell's temperature from now on, °C (self-discharge follows it). */
  setTemperature(c: number): void {
    if (!Number.isFinite(c)) throw new KodeviserError('ERR_ARGUMENT', 'temperature must be a finite number of °C');
    this.update();
    this.state.temperatureC = c;
    this.plan();
  }

  /** The MCU ran `cycles` cycles at cpuHz with the active current. */
  drawCycles(cycles: number): void {
    this.draw((this.figures.activeCurrentNa * cycles) / this.figures.cpuHz);
  }

  /** `bytes` bytes were programmed into the NVM. */
  drawNvm(bytes: number): void {
    this.draw(this.figures.nvmWriteNcPerByte * bytes);
  }

  private draw(nc: number): void {
    if (this.state.dead) return;
    this.update();
    this.state.chargeNc -= nc;
    if (this.state.chargeNc <= 0) this.brownOut();
    else this.plan();
  }

  /** Brings the charge up to the scheduler's now. */
  private update(): void {
    const now = this.scheduler.now;
    const s = this.state;
    if (now > s.atUs && !s.dead) s.chargeNc = Math.max(0, s.chargeNc - (this.currentNa() * (now - s.atUs)) / 1e6);
    s.atUs = now;
  }

  /** Schedules the brown-out at the instant the continuous draw empties the cell. */
  private plan(): void {
    if (this.brownOutEvent) this.scheduler.cancel(this.brownOutEvent);
    this.brownOutEvent = null;
    if (this.state.dead) return;
    const rate = this.currentNa();
    if (rate <= 0) return;
    const at = this.state.atUs + Math.ceil((this.state.chargeNc / rate) * 1e6);
    // a cold, unpowered cell can outlast the scheduler's clock (2^53 µs: year 2255)
    if (!Number.isSafeInteger(at)) return;
    this.brownOutEvent = this.scheduler.schedule(
      at,
      () => {
        this.brownOutEvent = null;
        this.update();
        this.brownOut();
      },
      'battery:brown-out',
    );
  }

  private brownOut(): void {
    this.state.chargeNc = 0;
    this.state.dead = true;
    if (this.brownOutEvent) this.scheduler.cancel(this.brownOutEvent);
    this.brownOutEvent = null;
    if (tracing(this.trace)) this.trace('battery', { chargeNc: 0, currentNa: 0, dead: true });
    this.listener?.();
  }
}
