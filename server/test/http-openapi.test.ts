/**
 * The OpenAPI document at /docs/json is a valid OpenAPI 3 document (checked against the official
 * schema by an independent validator), lists every route the app serves, and gives each a request
 * schema (where it takes input) and response schemas; the Swagger UI is served at /docs.
 */
import t from 'tap';
import { Validator } from '@seriousme/openapi-schema-validator';
import { testApp } from './http-helpers.js';

interface Operation {
  requestBody?: { content: Record<string, { schema: unknown }> };
  parameters?: Array<{ in: string; name: string; schema: unknown }>;
  responses: Record<string, { content?: Record<string, { schema: unknown }>; description: string }>;
  security?: unknown[];
  summary?: string;
  tags?: string[];
}

t.test('OpenAPI 3 document: valid, every route, request and response schemas', async (t) => {
  const { app } = await testApp(t);
  const res = await app.inject({ url: '/docs/json' });
  t.equal(res.statusCode, 200);
  const doc = res.json() as {
    openapi: string;
    paths: Record<string, Record<string, Operation>>;
    components: { schemas: Record<string, unknown> };
  };
  t.match(doc.openapi, /^3\./);

  const validation = await new Validator().validate(structuredClone(doc));
  t.same(validation.errors ?? [], [], 'valid against the OpenAPI 3.0 schema');
  t.equal(validation.valid, true);

  const expected: Record<string, string[]> = {
    '/v1/tokens': ['post'],
    '/v1/tokens/{serial}': ['get'],
    '/v1/tokens/{serial}/lock': ['post'],
    '/v1/tokens/{serial}/unlock': ['post'],
    '/v1/tokens/{serial}/revoke': ['post'],
    '/v1/tokens/{serial}/resync': ['post'],
    '/v1/tokens/{serial}/reinstate': ['post'],
    '/v1/activate': ['post'],
    '/v1/authenticate': ['post'],
    '/v1/users/self/password': ['post'],
    '/v1/users/self/password-reset': ['post'],
    '/v1/users/{userId}': ['get'],
    '/v1/validate': ['post'],
    '/v1/audit': ['get'],
    '/v1/credentials': ['post', 'get'],
    '/v1/credentials/{id}': ['delete'],
    '/v1/proofs': ['post'],
    '/v1/proofs/self': ['post'],
    '/healthz': ['get'],
    '/readyz': ['get'],
    '/metrics': ['get'],
    '/v1/orders': ['post', 'get'],
    '/v1/orders/{id}': ['get'],
    '/v1/orders/{id}/payment': ['post'],
    '/v1/orders/{id}/fulfil': ['post'],
    '/v1/orders/{id}/delivered': ['post'],
    '/v1/orders/{id}/collected': ['post'],
    '/v1/orders/{id}/cancel': ['post'],
    '/.well-known/jwks.json': ['get'],
    '/v1/receipt-keys/rotate': ['post'],
    '/v1/oidc/clients': ['post', 'get'],
    '/v1/oidc/clients/{id}': ['delete'],
  };
  t.same(Object.keys(doc.paths).sort(), Object.keys(expected).sort(), "exactly the API routes (the UI's own are hidden)");
  for (const [path, methods] of Object.entries(expected)) {
    for (const method of methods) {
      const op = doc.paths[path]?.[method];
      t.ok(op, `${method.toUpperCase()} ${path} is documented`);
      if (!op) continue;
      t.ok(op.summary, `${path}: a summary`);
      t.ok(op.tags?.length, `${path}: a tag`);
      const input = op.requestBody !== undefined || (op.parameters?.length ?? 0) > 0;
      if (
        !['/healthz', '/readyz', '/metrics', '/.well-known/jwks.json', '/v1/receipt-keys/rotate'].includes(path) &&
        !(path === '/v1/oidc/clients' && method === 'get')
      )
        t.ok(input, `${method.toUpperCase()} ${path}: request schema`);
      const statuses = Object.keys(op.responses);
      t.ok(
        statuses.some((s) => s.startsWith('2')),
        `${path}: a success response`,
      );
      for (const s of statuses) {
        const content = op.responses[s]!.content;
        t.ok(content && Object.values(content).every((c) => c.schema), `${method.toUpperCase()} ${path} ${s}: a response schema`);
      }
      if (
        path.startsWith('/v1/tokens') ||
        path.startsWith('/v1/credentials') ||
        path === '/v1/proofs' ||
        path === '/v1/users/{userId}' ||
        path === '/v1/audit' ||
        path === '/v1/validate'
      ) {
        t.same(op.security, [{ bearer: [] }], `${path}: bearer auth declared`);
        t.ok(statuses.includes('401'), `${path}: 401 documented`);
      }
    }
  }
  const imp = doc.paths['/v1/tokens']!.post!;
  t.same(Object.keys(imp.requestBody!.content).sort(), ['application/json', 'application/pskc+xml'], 'import: JSON or PSKC');
  t.ok(doc.paths['/v1/authenticate']!.post!.responses['429'], 'authenticate: 429 documented');

  // The user routes of the proof flow: their request bodies and answers.
  const jsonBody = (path: string) =>
    doc.paths[path]!.post!.requestBody!.content['application/json']!.schema as { required: string[]; properties: Record<string, unknown> };
  const jsonResponse = (path: string, status: string) => doc.paths[path]!.post!.responses[status]!.content!['application/json']!.schema;
  const activation = jsonBody('/v1/activate');
  t.same(activation.required, ['proofId', 'serial', 'otp', 'password'], 'activate: a proof, no user ID');
  t.same(Object.keys(activation.properties).sort(), ['otp', 'password', 'proofId', 'serial']);
  t.match(activation.properties.proofId, { type: 'string', pattern: String });
  t.match(
    jsonResponse('/v1/activate', '200'),
    { required: ['result', 'userId'], properties: { result: { enum: ['accept'] }, userId: { type: 'string' } } },
    "activate: the accept names the proof's user",
  );
  t.match(jsonResponse('/v1/activate', '401'), { properties: { result: { enum: ['accept', 'reject'] } } });
  t.same(
    jsonBody('/v1/users/self/password').required,
    ['userId', 'otp', 'oldPassword', 'newPassword'],
    'password change: a login and the new one',
  );
  t.match(jsonBody('/v1/users/self/password').properties, {
    newPassword: { type: 'string', minLength: 8 },
    oldPassword: { type: 'string' },
  });
  t.same(
    jsonBody('/v1/users/self/password-reset').required,
    ['proofId', 'otp', 'newPassword'],
    'password reset: a proof, a code, the new one',
  );
  t.match(jsonBody('/v1/users/self/password-reset').properties, { proofId: { type: 'string' }, newPassword: { minLength: 8 } });
  for (const path of ['/v1/activate', '/v1/users/self/password', '/v1/users/self/password-reset', '/v1/proofs/self']) {
    const responses = doc.paths[path]!.post!.responses;
    t.ok(
      ['200', '201'].some((s) => s in responses) && '401' in responses && '429' in responses,
      `${path}: success, 401 and 429 documented`,
    );
    t.ok(responses['400'], `${path}: 400 documented`);
  }
  for (const path of ['/v1/users/self/password', '/v1/users/self/password-reset']) {
    t.match(jsonResponse(path, '200'), { properties: { result: { enum: ['accept', 'reject'] } } }, `${path}: the generic answer`);
    t.notOk(doc.paths[path]!.post!.security, `${path}: no bearer (the user's own factors)`);
  }

  // Orders: public to place (no bearer), staff for the rest; the tracking view without one.
  t.same(jsonBody('/v1/orders').required, ['delivery'], 'an order: a delivery, a proof if any');
  t.notOk(doc.paths['/v1/orders']!.post!.security, 'anyone may order');
  t.match(jsonResponse('/v1/orders', '201'), {
    required: ['orderId', 'trackingToken', 'status', 'priceOre', 'currency', 'userId', 'expectedBy'],
  });
  t.ok(doc.paths['/v1/orders']!.post!.responses['429'], 'its per-address limit documented');
  for (const path of ['payment', 'fulfil', 'delivered', 'collected', 'cancel']) {
    const op = doc.paths[`/v1/orders/{id}/${path}`]!.post!;
    t.same(op.security, [{ bearer: [] }], `${path}: bearer auth declared`);
    t.ok(
      ['401', '404', '409'].every((s) => s in op.responses),
      `${path}: 401, 404 and 409 documented`,
    );
  }
  t.same(doc.paths['/v1/orders/{id}']!.get!.security, [{ bearer: [] }, {}], 'a bearer, or the tracking token instead');
  t.same(doc.paths['/v1/orders']!.get!.security, [{ bearer: [] }]);

  const ui = await app.inject({ url: '/docs/' });
  t.equal(ui.statusCode, 200);
  t.match(ui.body, /swagger-ui/i, 'the Swagger UI page');
});
