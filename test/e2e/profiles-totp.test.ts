/**
 * The seven totp profiles end to end (manufacture → PSKC import → activate → log in): see
 * helpers/every-profile.ts. Time: faketime (real process); skips when libfaketime is not installed.
 */
import t from 'tap';
import { everyProfile } from './helpers/every-profile.js';

await everyProfile(t, 'totp');
