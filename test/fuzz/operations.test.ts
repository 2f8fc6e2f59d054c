/**
 * Fuzzing the operations routes and everything that is not a route: GET
 * /v1/audit (every parameter wrong, twice, prototype keys), /healthz, /readyz, and unknown paths
 * and methods — KODEVISER_FUZZ_RUNS (10,000) cases each, through inject(). /metrics has its own
 * file: each scrape costs milliseconds, so it runs beside this one.
 */
import { fuzzFile } from './app.js';

fuzzFile(
  'operations and unknown routes: never a 5xx',
  ['GET /v1/audit', 'GET /healthz', 'GET /readyz', 'any method, any path'],
  (t, statuses) => {
    t.ok((statuses.get('GET /v1/audit')?.get(200) ?? 0) > 0, 'some audit queries were answered');
  },
);
