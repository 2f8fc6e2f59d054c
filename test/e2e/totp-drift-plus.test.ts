/**
 * A totp token whose crystal runs +20 ppm fast (+3 ppm ageing on top), used every two weeks for
 * a year against the real server: see helpers/drift-year.ts.
 * Time: faketime (real process); skips when libfaketime is not installed.
 */
import t from 'tap';
import { driftYear } from './helpers/drift-year.js';

driftYear(t, {
  name: 'plus-20ppm',
  profile: 'totp-sha1',
  driftPpm: 20,
  seed: 2027,
  expectDrift: (steps) => steps >= 20,
  expectDriftText: 'more than ten minutes ahead after a year',
});
