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
    '/v1/activate': ['post'],
    '/v1/authenticate': ['post'],
    '/v1/validate': ['post'],
    '/v1/audit': ['get'],
    '/v1/credentials': ['post', 'get'],
    '/v1/credentials/{id}': ['delete'],
    '/v1/proofs': ['post'],
    '/v1/proofs/self': ['post'],
    '/healthz': ['get'],
    '/readyz': ['get'],
    '/metrics': ['get'],
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
      if (!['/healthz', '/readyz', '/metrics'].includes(path)) t.ok(input, `${method.toUpperCase()} ${path}: request schema`);
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

  const ui = await app.inject({ url: '/docs/' });
  t.equal(ui.statusCode, 200);
  t.match(ui.body, /swagger-ui/i, 'the Swagger UI page');
});
