/**
 * The seven hotp profiles end to end (manufacture → PSKC import → activate → log in): see
 * helpers/every-profile.ts. Time: the server runs on the real clock (no faketime needed).
 */
import t from 'tap';
import { everyProfile } from './helpers/every-profile.js';

await everyProfile(t, 'hotp');
