/**
 * Activation and login, the two things an end user does (the MitID flow: serial and code to
 * activate, then user ID + code + password to log in).
 *
 * The answer is `200 {result:"accept"}` or `401 {result:"reject"}` and never says which factor
 * failed, whether the user exists, or that a resync has started (OWASP Authentication Cheat
 * Sheet: generic failure responses); the reason goes to the audit log and the metrics only.
 * A token blocked after repeated failures answers 429 with Retry-After (RFC 9110 §10.2.3).
 *
 * Two rate limits apply: the global one per client IP, and one per userId (keyed on the body,
 * so it runs after parsing) that slows an attacker who spreads guesses over many IPs.
 */
import type { FastifyInstance, FastifyReply, preHandlerHookHandler } from 'fastify';
import { parseSerial } from '@kodeviser/shared';
import type { ActivationRequest, TokenService, VerifyOutcome } from '../domain/types.js';
import type { Metrics } from '../plugins/metrics.js';
import { errorRef, errorResponses, otpSchema, passwordSchema, serialSchema, userIdSchema } from './schemas.js';

export const userResultSchema = {
  type: 'object',
  required: ['result'],
  additionalProperties: false,
  properties: { result: { type: 'string', enum: ['accept', 'reject'] } },
} as const;

const blockedSchema = {
  type: 'object',
  required: ['result', 'retryAfterSeconds'],
  additionalProperties: false,
  description: 'too many failed attempts: the token is blocked for a while (Retry-After says how long)',
  properties: { result: { type: 'string', enum: ['blocked'] }, retryAfterSeconds: { type: 'integer' } },
} as const;

/**
 * A 429 is either the token's block (from the service) or a rate limit (from @fastify/rate-limit,
 * as an Error body); fast-json-stringify picks the branch that matches.
 */
export const blockedOrRateLimited = {
  description: 'blocked after failed attempts, or rate limited; Retry-After says when to try again',
  anyOf: [blockedSchema, errorRef],
} as const;

/** Outcome → HTTP for end users: accept 200, blocked 429, everything else 401 "reject". */
export function sendUserOutcome(reply: FastifyReply, outcome: VerifyOutcome): FastifyReply {
  switch (outcome.result) {
    case 'accept':
      return reply.code(200).send({ result: 'accept' });
    case 'blocked':
      return reply
        .code(429)
        .header('retry-after', String(outcome.retryAfterSeconds))
        .send({ result: 'blocked', retryAfterSeconds: outcome.retryAfterSeconds });
    default:
      return reply.code(401).send({ result: 'reject' });
  }
}

/** The reason label for the outcome metrics ("ok" for accepts). */
export function outcomeReason(outcome: VerifyOutcome): string {
  return outcome.result === 'reject' ? outcome.reason : outcome.result === 'accept' ? 'ok' : outcome.result;
}

export interface UserRoutesOptions {
  service: TokenService;
  metrics: Metrics;
  /** the per-userId limiter (a preHandler), or null when the limit is off */
  perUserLimit: preHandlerHookHandler | null;
}

export async function userRoutes(app: FastifyInstance, { service, metrics, perUserLimit }: UserRoutesOptions): Promise<void> {
  const preHandler = perUserLimit ? { preHandler: perUserLimit } : {};
  const userResponses = { ...errorResponses(), 200: userResultSchema, 401: userResultSchema, 429: blockedOrRateLimited };

  app.post<{ Body: ActivationRequest }>(
    '/v1/activate',
    {
      ...preHandler,
      schema: {
        tags: ['users'],
        summary: "Activate a token for a user: serial from the back of the device, a code, and the user's new password",
        description:
          'A new user ID needs only the new device. An existing user replaces its device only with proof in ' +
          'the same request: currentOtp from the device active now and currentPassword; without it the answer is ' +
          'the same 401 reject as for a wrong code.',
        body: {
          type: 'object',
          required: ['userId', 'serial', 'otp', 'password'],
          additionalProperties: false,
          properties: {
            userId: userIdSchema,
            serial: serialSchema,
            otp: otpSchema,
            password: passwordSchema,
            currentOtp: { ...otpSchema, description: 'an existing user: a code of the device active now' },
            currentPassword: { ...passwordSchema, description: 'an existing user: the password in force now' },
          },
        },
        response: userResponses,
      },
    },
    async (request, reply) => {
      const outcome = await service.activate({ ...request.body, serial: parseSerial(request.body.serial) }, { ip: request.ip });
      metrics.countOutcome('activate', outcome.result, outcomeReason(outcome));
      return sendUserOutcome(reply, outcome);
    },
  );

  app.post<{ Body: { userId: string; otp: string; password: string } }>(
    '/v1/authenticate',
    {
      ...preHandler,
      schema: {
        tags: ['users'],
        summary: "Log in: user ID, the code shown by the user's active token, and the password",
        body: {
          type: 'object',
          required: ['userId', 'otp', 'password'],
          additionalProperties: false,
          properties: { userId: userIdSchema, otp: otpSchema, password: passwordSchema },
        },
        response: userResponses,
      },
    },
    async (request, reply) => {
      const outcome = await service.authenticate(request.body, { ip: request.ip });
      metrics.countOutcome('authenticate', outcome.result, outcomeReason(outcome));
      return sendUserOutcome(reply, outcome);
    },
  );
}
