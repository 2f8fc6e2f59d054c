/**
 * Fuzzing the order routes: POST /v1/orders (public: a proof or none, an address or a centre, of
 * right-looking and hostile fields) and GET /v1/orders/:id (a bearer, a tracking token, hostile
 * ones), KODEVISER_FUZZ_RUNS (10,000) hostile requests each through inject(); real proofs are
 * mixed in, so orders are placed (201) and refused (400; 401 for a proof) both.
 */
import { fuzzFile } from './app.js';

fuzzFile('order and order lookup: never a 5xx', ['POST /v1/orders', 'GET /v1/orders/:id'], (t, statuses) => {
  const placing = statuses.get('POST /v1/orders');
  t.ok((placing?.get(201) ?? 0) + (placing?.get(401) ?? 0) > 0, 'some got past the schema to the service (placed, or a proof refused)');
  t.ok((statuses.get('POST /v1/orders')?.get(400) ?? 0) > 0, 'some were refused as bad input');
  t.ok((statuses.get('GET /v1/orders/:id')?.get(404) ?? 0) > 0, 'some lookups reached the store');
});
