/**
 * A totp token with an ideal crystal at 25 °C whose temperature swings with the seasons between
 * 0 °C (January) and 45 °C (July) — the whole operating range; the crystal's parabola slows it
 * by up to 21 ppm at the ends — used every two weeks for a year against the real server: see
 * helpers/drift-year.ts.
 * Time: faketime (real process); skips when libfaketime is not installed.
 */
import t from 'tap';
import { USES, driftYear } from './helpers/drift-year.js';

driftYear(t, {
  name: 'seasons-0-45C',
  profile: 'totp-aes128',
  driftPpm: 0,
  seed: 2029,
  temperature: (use) => Math.round(22.5 - 22.5 * Math.cos((2 * Math.PI * use) / USES)),
  expectDrift: (steps) => steps < 0,
  expectDriftText: 'behind after a year away from 25 °C',
});
