/**
 * A POST with no body and no Content-Type reaches the handler with `body` undefined (fastify
 * parses nothing); found by test/fuzz/import.test.ts as a 500 on POST /v1/tokens.
 */
import t from 'tap';
import { admin, testApp } from './http-helpers.js';

t.test('POST routes with an empty body and no Content-Type: a 4xx JSON error, never a 500', async (t) => {
  const { app } = await testApp(t);
  for (const url of [
    '/v1/tokens',
    '/v1/activate',
    '/v1/authenticate',
    '/v1/validate',
    '/v1/tokens/1234567897/resync',
    '/v1/tokens/1234567897/lock',
  ]) {
    const res = await app.inject({ method: 'POST', url, headers: admin, payload: '' });
    t.ok(res.statusCode >= 400 && res.statusCode < 500 && res.statusCode !== 401, `${url}: ${res.statusCode} ${res.body}`);
    const body = res.json() as { error?: unknown; message?: unknown };
    t.type(body.error, 'string', `${url}: names the error`);
    t.type(body.message, 'string', `${url}: says what is wrong`);
  }
});
