/**
 * A POST with no body and no Content-Type reaches the handler with `body` undefined (fastify
 * parses nothing); found by test/fuzz/import.test.ts as a 500 on POST /v1/tokens.
 */
import t from 'tap';
import { admin, operatorOf, testApp } from './http-helpers.js';

t.test('POST routes with an empty body and no Content-Type: a 4xx JSON error, never a 500', async (t) => {
  const { app } = await testApp(t);
  const operator = await operatorOf(app);
  for (const [url, headers] of [
    ['/v1/tokens', admin],
    ['/v1/activate', admin],
    ['/v1/authenticate', admin],
    ['/v1/users/self/password', admin],
    ['/v1/users/self/password-reset', admin],
    ['/v1/proofs', operator],
    ['/v1/proofs/self', admin],
    ['/v1/credentials', admin],
    ['/v1/validate', admin],
    ['/v1/tokens/1234567897/resync', admin],
    ['/v1/tokens/1234567897/lock', admin],
    ['/v1/orders', {}],
    [`/v1/orders/ord_${'a'.repeat(26)}/payment`, admin],
    [`/v1/orders/ord_${'a'.repeat(26)}/fulfil`, admin],
    [`/v1/orders/ord_${'a'.repeat(26)}/delivered`, admin],
    [`/v1/orders/ord_${'a'.repeat(26)}/collected`, operator],
    [`/v1/orders/ord_${'a'.repeat(26)}/cancel`, operator],
  ] as const) {
    const res = await app.inject({ method: 'POST', url, headers, payload: '' });
    t.ok(res.statusCode >= 400 && res.statusCode < 500 && res.statusCode !== 401, `${url}: ${res.statusCode} ${res.body}`);
    const body = res.json() as { error?: unknown; message?: unknown };
    t.type(body.error, 'string', `${url}: names the error`);
    t.type(body.message, 'string', `${url}: says what is wrong`);
  }
});
