/**
 * POST /v1/validate: a code against a token by serial, for trusted back ends (admin or service
 * bearer token). Unlike the end-user routes it answers 200 for both accept and reject — the
 * request itself succeeded; `result` is the verdict — and it tells a caller that a resync has
 * started ("resync-started": ask the user for the next code). The reject reason stays in the
 * audit log. A blocked token answers 429 with Retry-After, as for end users.
 *
 * The per-IP rate limit does not apply here: the callers are a few back ends, each sending the
 * validations of all its users from one address, and each is authenticated by its bearer token;
 * guessing is stopped per token by the service's block after three wrong codes.
 */
import type { FastifyInstance } from 'fastify';
import { movingFactorToJson, parseSerial } from '@kodeviser/shared';
import { inScope } from '../domain/credentials.js';
import type { TokenService } from '../domain/types.js';
import { HttpError } from '../plugins/errors.js';
import type { BearerAuth } from '../plugins/auth.js';
import type { Metrics } from '../plugins/metrics.js';
import { bearerSecurity, errorRef, errorResponses, movingFactorSchema, otpSchema, serialSchema } from './schemas.js';
import { outcomeReason } from './users.js';

export interface ValidateRoutesOptions {
  service: TokenService;
  auth: BearerAuth;
  metrics: Metrics;
}

export async function validateRoutes(app: FastifyInstance, { service, auth, metrics }: ValidateRoutesOptions): Promise<void> {
  app.post<{ Body: { serial: string; otp: string } }>(
    '/v1/validate',
    {
      onRequest: auth.require('admin', 'service'),
      config: { rateLimit: false },
      schema: {
        tags: ['validation'],
        summary: 'Validate a code against a token (admin or service token)',
        security: bearerSecurity,
        body: {
          type: 'object',
          required: ['serial', 'otp'],
          additionalProperties: false,
          properties: { serial: serialSchema, otp: otpSchema },
        },
        response: {
          200: {
            type: 'object',
            required: ['result', 'serial', 'movingFactor'],
            additionalProperties: false,
            properties: {
              result: { type: 'string', enum: ['accept', 'reject', 'resync-started'] },
              serial: { type: 'string' },
              movingFactor: movingFactorSchema('the accepted hotp counter or totp step; null unless accepted', true),
            },
          },
          ...errorResponses(401, 403),
          429: {
            description: 'the token is blocked after failed attempts, or the caller is rate limited; Retry-After says when to try again',
            anyOf: [
              {
                type: 'object',
                required: ['result', 'serial', 'retryAfterSeconds'],
                additionalProperties: false,
                properties: {
                  result: { type: 'string', enum: ['blocked'] },
                  serial: { type: 'string' },
                  retryAfterSeconds: { type: 'integer' },
                },
              },
              errorRef,
            ],
          },
        },
      },
    },
    async (request, reply) => {
      const serial = parseSerial(request.body.serial);
      if (request.principal !== null && !inScope(request.principal, serial)) {
        throw new HttpError(403, 'forbidden', `this credential may not validate serial ${serial}`);
      }
      const outcome = await service.validate(
        { serial, otp: request.body.otp },
        request.principal === null ? { ip: request.ip } : { ip: request.ip, actor: request.principal.actor },
      );
      metrics.countOutcome('validate', outcome.result, outcomeReason(outcome));
      switch (outcome.result) {
        case 'accept':
          return { result: 'accept', serial, movingFactor: movingFactorToJson(outcome.movingFactor) };
        case 'blocked':
          return reply
            .code(429)
            .header('retry-after', String(outcome.retryAfterSeconds))
            .send({ result: 'blocked', serial, retryAfterSeconds: outcome.retryAfterSeconds });
        default:
          return { result: outcome.result, serial, movingFactor: null };
      }
    },
  );
}
