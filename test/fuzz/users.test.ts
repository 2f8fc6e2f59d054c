/**
 * Fuzzing the code-checking routes: POST /v1/activate, /v1/authenticate and
 * /v1/validate, KODEVISER_FUZZ_RUNS (10,000) hostile requests each through inject(); real codes
 * and the real user are mixed in, so verdicts (200, 401 reject, 429 blocked) come back too.
 */
import { fuzzFile } from './app.js';

fuzzFile(
  'activate, authenticate and validate: never a 5xx',
  ['POST /v1/activate', 'POST /v1/authenticate', 'POST /v1/validate'],
  (t, statuses) => {
    t.ok((statuses.get('POST /v1/validate')?.get(200) ?? 0) > 0, 'some validations reached a verdict');
  },
);
