/**
 * A totp token whose crystal runs −20 ppm slow (+3 ppm ageing: −17 ppm), used every two weeks
 * for a year against the real server: see helpers/drift-year.ts.
 * Time: faketime (real process); skips when libfaketime is not installed.
 */
import t from 'tap';
import { driftYear } from './helpers/drift-year.js';

driftYear(t, {
  name: 'minus-20ppm',
  profile: 'totp-sha256',
  driftPpm: -20,
  seed: 2028,
  expectDrift: (steps) => steps <= -14,
  expectDriftText: 'about nine minutes behind after a year',
});
