/**
 * Operations: liveness (/healthz: the process answers), readiness (/readyz: the database could take
 * a write now — not locked by another process past the store's timeout, its file writable with room
 * on the disk, its connections working; the store's ping says how — so a load balancer stops
 * sending traffic when it could not, the Kubernetes probe convention),
 * Prometheus metrics (/metrics) and the audit log (/v1/audit, admin).
 */
import type { FastifyInstance } from 'fastify';
import { movingFactorToJson, parseSerial } from '@kodeviser/shared';
import type { AuditQuery, TokenService } from '../domain/types.js';
import type { BearerAuth } from '../plugins/auth.js';
import { HttpError } from '../plugins/errors.js';
import type { Metrics } from '../plugins/metrics.js';
import { bearerSecurity, errorResponses, movingFactorSchema, serialSchema, userIdSchema } from './schemas.js';

export interface OperationsRoutesOptions {
  service: TokenService;
  auth: BearerAuth;
  metrics: Metrics;
}

const statusSchema = {
  type: 'object',
  required: ['status'],
  additionalProperties: false,
  properties: { status: { type: 'string', enum: ['ok', 'unavailable'] } },
} as const;

const auditEventSchema = {
  type: 'object',
  required: ['id', 'at', 'type', 'serial', 'userId', 'ip', 'actor', 'reason', 'movingFactor', 'repeats'],
  additionalProperties: false,
  properties: {
    id: { type: 'integer' },
    at: { type: 'integer', description: 'unix ms' },
    type: { type: 'string' },
    serial: { type: ['string', 'null'] },
    userId: { type: ['string', 'null'] },
    ip: { type: ['string', 'null'] },
    actor: { type: ['string', 'null'] },
    reason: { type: ['string', 'null'] },
    movingFactor: movingFactorSchema('the hotp counter or totp step the event is about', true),
    repeats: {
      type: 'integer',
      minimum: 1,
      description: 'how many refusals alike the row stands for (counted, not each written); 1 for every other row',
    },
  },
} as const;

/** `since` as unix ms or an ISO 8601 date-time: people type the one, scripts the other. */
function parseSince(text: string): number {
  const ms = /^[0-9]+$/.test(text) ? Number(text) : Date.parse(text);
  if (!Number.isSafeInteger(ms))
    throw new HttpError(400, 'bad-request', 'querystring/since must be unix milliseconds or an ISO 8601 date-time');
  return ms;
}

export async function operationsRoutes(app: FastifyInstance, { service, auth, metrics }: OperationsRoutesOptions): Promise<void> {
  app.get(
    '/healthz',
    {
      schema: { tags: ['operations'], summary: 'Liveness: the process answers', response: { 200: statusSchema } },
    },
    async () => ({ status: 'ok' }),
  );

  app.get(
    '/readyz',
    {
      schema: {
        tags: ['operations'],
        summary: 'Readiness: the database could take a write now',
        response: { 200: statusSchema, 503: statusSchema },
      },
    },
    async (request, reply) => {
      let ready = false;
      try {
        ready = await service.ready();
      } catch (e) {
        request.log.warn({ err: { type: (e as Error).name, message: (e as Error).message } }, 'readiness check failed');
      }
      return reply.code(ready ? 200 : 503).send({ status: ready ? 'ok' : 'unavailable' });
    },
  );

  // Behind a bearer: the outcome counters' reasons (a wrong code with a right password, an unknown
  // user) would otherwise tell an anonymous caller what each of its own attempts found.
  app.get(
    '/metrics',
    {
      onRequest: auth.require('admin', 'metrics'),
      schema: {
        tags: ['operations'],
        security: bearerSecurity,
        summary: 'Prometheus metrics (text exposition format; admin, or a metrics credential)',
        produces: ['text/plain'],
        response: { 200: { type: 'string', description: 'Prometheus text format 0.0.4' }, ...errorResponses(401) },
      },
    },
    async (_request, reply) => {
      const text = await metrics.registry.metrics();
      return reply.type(metrics.registry.contentType).send(text);
    },
  );

  app.get<{ Querystring: { serial?: string; userId?: string; since?: string; limit?: string } }>(
    '/v1/audit',
    {
      onRequest: auth.require('admin'),
      schema: {
        tags: ['operations'],
        summary: 'The audit log, newest first (admin)',
        security: bearerSecurity,
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            serial: serialSchema,
            userId: userIdSchema,
            since: { type: 'string', description: 'unix ms or ISO 8601 date-time, inclusive' },
            limit: { type: 'string', pattern: '^(1000|[1-9][0-9]{0,2})$', description: 'how many events at most, 1 to 1000 (default 100)' },
          },
        },
        response: {
          200: {
            type: 'object',
            required: ['events'],
            additionalProperties: false,
            properties: { events: { type: 'array', items: auditEventSchema } },
          },
          ...errorResponses(401),
        },
      },
    },
    async (request) => {
      const q = request.query;
      const query: AuditQuery = {};
      if (q.serial !== undefined) query.serial = parseSerial(q.serial);
      if (q.userId !== undefined) query.userId = q.userId;
      if (q.since !== undefined) query.since = parseSince(q.since);
      if (q.limit !== undefined) query.limit = Number(q.limit);
      const events = await service.audit(query);
      return {
        events: events.map((e) => (typeof e.movingFactor === 'bigint' ? { ...e, movingFactor: movingFactorToJson(e.movingFactor) } : e)),
      };
    },
  );
}
