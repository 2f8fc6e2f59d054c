/**
 * Fuzzing the end-user and code-checking routes: POST /v1/activate (a proof of identity, a
 * serial, a code, a password), /v1/authenticate, /v1/users/self/password (the current login and
 * a new password), /v1/users/self/password-reset (a proof, a code, a new password) and
 * /v1/validate, KODEVISER_FUZZ_RUNS (10,000) hostile requests each through inject(); real codes,
 * real proofs (spent by their first accepted use) and the real user are mixed in, so verdicts
 * (200, 401 reject, 429 blocked) come back too.
 */
import { fuzzFile } from './app.js';

fuzzFile(
  'activate, authenticate, password change and reset, validate: never a 5xx',
  ['POST /v1/activate', 'POST /v1/authenticate', 'POST /v1/users/self/password', 'POST /v1/users/self/password-reset', 'POST /v1/validate'],
  (t, statuses) => {
    for (const route of ['POST /v1/activate', 'POST /v1/users/self/password', 'POST /v1/users/self/password-reset'] as const) {
      t.ok((statuses.get(route)?.get(401) ?? 0) > 0, `${route}: some requests got past the schema to a verdict`);
    }
    t.ok((statuses.get('POST /v1/validate')?.get(200) ?? 0) > 0, 'some validations reached a verdict');
  },
);
