/**
 * Fuzzing token import: POST /v1/tokens with hostile JSON batches and with
 * hostile PSKC documents (routes.ts, hostile-pskc.ts), KODEVISER_FUZZ_RUNS (10,000) cases each,
 * through inject(). Valid records of fresh serials are mixed in, so the store's insert path (201,
 * and 409 for duplicates) is fuzzed too, not only the schema.
 */
import { fuzzFile } from './app.js';

fuzzFile('POST /v1/tokens, JSON and PSKC: never a 5xx', ['POST /v1/tokens (JSON)', 'POST /v1/tokens (PSKC)'], (t, statuses) => {
  t.ok((statuses.get('POST /v1/tokens (JSON)')?.get(201) ?? 0) > 0, 'some JSON batches were imported');
  t.ok((statuses.get('POST /v1/tokens (PSKC)')?.get(201) ?? 0) > 0, 'some PSKC documents were imported');
});
