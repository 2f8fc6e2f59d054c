/**
 * The 32.768 kHz tuning-fork crystal that clocks the RTC, as a frequency error in ppm:
 *
 *   ppm(t, T) = offset − 0.034·(T − 25)² + aging(t)
 *
 * - offset: the per-device calibration error at 25 °C (docs/token.md: within ±20 ppm, the usual
 *   tolerance of a 32.768 kHz watch crystal, e.g. Epson FC-135 / Abracon ABS07 datasheets).
 * - the parabola: the tuning-fork temperature coefficient −0.034 ppm/°C² around a 25 °C turnover
 *   (same datasheets; docs/token.md).
 * - aging: the logarithmic law used for quartz resonators, Δf/f = A·ln(1 + t/τ) (J. R. Vig,
 *   "Quartz Crystal Resonators and Oscillators" tutorial, §4 aging; MIL-PRF-55310 fits aging
 *   the same way). A is chosen so that the first year contributes `agingPpm` (datasheets give
 *   ±3 ppm for the first year at 25 °C); afterwards it keeps growing, ever more slowly
 *   (about 1.9 × the first-year figure after ten years with τ = 30 days).
 *
 * The RTC needs ∫(1 + ppm·1e−6) dt over stretches of constant temperature; every term has a
 * closed-form integral, so ten years integrate in one step, with no per-second stepping:
 *   ∫ ln(1 + t/τ) dt = (τ + t)·ln(1 + t/τ) − t.
 */
import { KodeviserError } from '@kodeviser/shared';

export const TURNOVER_C = 25;
export const TEMPERATURE_PPM_PER_C2 = -0.034;
export const YEAR_US = 365.25 * 86_400 * 1e6;
const DAY_US = 86_400 * 1e6;

export interface CrystalParams {
  /** frequency error at 25 °C, ppm (positive: the clock runs fast) */
  offsetPpm: number;
  /** aging accumulated over the first year after manufacture, ppm */
  agingPpm: number;
  /** the time constant of the logarithmic aging law, days (default 30) */
  agingTauDays?: number;
}

export class Crystal {
  readonly offsetPpm: number;
  readonly agingPpm: number;
  readonly agingTauDays: number;
  /** true time the aging clock starts from (manufacture), µs */
  readonly originUs: number;
  private readonly tauUs: number;
  private readonly agingScale: number;

  constructor(params: CrystalParams, originUs: number) {
    const { offsetPpm, agingPpm, agingTauDays = 30 } = params;
    requireFinite(offsetPpm, 'crystal.offsetPpm');
    requireFinite(agingPpm, 'crystal.agingPpm');
    if (!Number.isFinite(agingTauDays) || agingTauDays <= 0) {
      throw new KodeviserError('ERR_ARGUMENT', 'crystal.agingTauDays must be a positive number of days');
    }
    this.offsetPpm = offsetPpm;
    this.agingPpm = agingPpm;
    this.agingTauDays = agingTauDays;
    this.originUs = originUs;
    this.tauUs = agingTauDays * DAY_US;
    this.agingScale = agingPpm / Math.log1p(YEAR_US / this.tauUs);
  }

  params(): Required<CrystalParams> {
    return { offsetPpm: this.offsetPpm, agingPpm: this.agingPpm, agingTauDays: this.agingTauDays };
  }

  /** The temperature term alone, ppm. */
  static temperaturePpm(temperatureC: number): number {
    const d = temperatureC - TURNOVER_C;
    return TEMPERATURE_PPM_PER_C2 * d * d;
  }

  /** The frequency error at true time `trueUs` and temperature `temperatureC`, ppm. */
  ppm(trueUs: number, temperatureC: number): number {
    return this.offsetPpm + Crystal.temperaturePpm(temperatureC) + this.agingScale * Math.log1p(this.age(trueUs) / this.tauUs);
  }

  /** Device µs counted while true time runs from `fromUs` to `toUs` at a constant temperature. */
  deviceElapsed(fromUs: number, toUs: number, temperatureC: number): number {
    return toUs - fromUs + this.gain(fromUs, toUs, temperatureC);
  }

  /**
   * How far the device clock gets ahead of true time (µs, negative: behind) while true time
   * runs from `fromUs` to `toUs` at a constant temperature. Kept apart from the elapsed time
   * because it is small: summed over thousands of stretches it stays exact to far below a µs,
   * where absolute epoch-µs values (≈1.7e15, 0.25 µs apart as doubles) would not.
   */
  gain(fromUs: number, toUs: number, temperatureC: number): number {
    const constantPpm = this.offsetPpm + Crystal.temperaturePpm(temperatureC);
    const aging = this.agingScale === 0 ? 0 : this.agingScale * (this.agingIntegral(toUs) - this.agingIntegral(fromUs));
    return ((toUs - fromUs) * constantPpm + aging) * 1e-6;
  }

  private age(trueUs: number): number {
    return Math.max(0, trueUs - this.originUs);
  }

  /** ∫₀^age ln(1 + s/τ) ds */
  private agingIntegral(trueUs: number): number {
    const t = this.age(trueUs);
    return (this.tauUs + t) * Math.log1p(t / this.tauUs) - t;
  }
}

function requireFinite(value: number, argName: string): void {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new KodeviserError('ERR_ARGUMENT', `${argName} must be a finite number`);
  }
}
