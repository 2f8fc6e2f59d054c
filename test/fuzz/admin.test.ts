/**
 * Fuzzing token administration: GET /v1/tokens/:serial and POST
 * /v1/tokens/:serial/{lock,unlock,revoke,resync}, KODEVISER_FUZZ_RUNS (10,000) cases each through
 * inject(): hostile path segments (encoded, raw percent tricks, over-long), query strings,
 * methods, credentials and, for resync, hostile JSON bodies.
 */
import { fuzzFile } from './app.js';

fuzzFile(
  'token administration: never a 5xx',
  [
    'GET /v1/tokens/:serial',
    'POST /v1/tokens/:serial/lock',
    'POST /v1/tokens/:serial/unlock',
    'POST /v1/tokens/:serial/revoke',
    'POST /v1/tokens/:serial/resync',
  ],
  (t, statuses) => {
    t.ok((statuses.get('GET /v1/tokens/:serial')?.get(200) ?? 0) > 0, 'some reads found their token');
  },
);
