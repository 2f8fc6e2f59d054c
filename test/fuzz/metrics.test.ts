/**
 * Fuzzing GET /metrics, KODEVISER_FUZZ_RUNS (10,000) cases through inject():
 * methods, query strings, credentials and bodies it should ignore or refuse.
 */
import { fuzzFile } from './app.js';

fuzzFile('GET /metrics: never a 5xx', ['GET /metrics']);
