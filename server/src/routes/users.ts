/**
 * What an end user does (the MitID flow): activate a device with a proof of identity, serial and
 * code; log in with user ID + code + password; change the password, or reset a forgotten one with
 * a proof.
 *
 * The answer is `200 {result:"accept"}` or `401 {result:"reject"}` and never says which factor
 * failed, whether the user exists, or that a resync has started (OWASP Authentication Cheat
 * Sheet: generic failure responses); the reason goes to the audit log and the metrics only.
 * A token blocked after repeated failures answers 429 with Retry-After (RFC 9110 §10.2.3).
 *
 * Two rate limits apply: the global one per client IP, and one per userId (keyed on the body,
 * so it runs after parsing) that slows an attacker who spreads guesses over many IPs.
 */
import type { FastifyInstance, FastifyReply, onRequestHookHandler, preHandlerHookHandler } from 'fastify';
import { hashingBusy } from '../security/password.js';
import { parseSerial } from '@kodeviser/shared';
import { ACTIONS, MAX_REFERENCE_TEXT } from '../domain/types.js';
import type { ActivationRequest, AuthenticateRequest, TokenService, VerifyOutcome } from '../domain/types.js';
import type { Metrics } from '../plugins/metrics.js';
import { errorRef, errorResponses, otpSchema, passwordSchema, proofIdSchema, serialSchema, userIdSchema } from './schemas.js';

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

const activatedSchema = {
  type: 'object',
  required: ['result', 'userId'],
  additionalProperties: false,
  properties: { result: { type: 'string', enum: ['accept'] }, userId: { type: 'string', description: "the proof's user" } },
} as const;

const authenticatedSchema = {
  type: 'object',
  required: ['result', 'receipt'],
  additionalProperties: false,
  properties: {
    result: { type: 'string', enum: ['accept'] },
    receipt: { type: 'string', description: 'a compact JWS, typ kodeviser-receipt+jwt (EdDSA)' },
  },
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

/** How long a refusal for load is held before it is sent: a client that retries at once waits that long. */
export const BUSY_REFUSAL_DELAY_MS = 250;

/**
 * An onRequest hook refusing (503 busy) while the service's password hashing is saturated. The
 * refusal is held for BUSY_REFUSAL_DELAY_MS (a timer, no work): a flood that retries as soon as it
 * is answered would otherwise get as many refusals as the event loop can send, and take the time
 * of every other request with them.
 */
export const busyGate =
  (service: TokenService): onRequestHookHandler =>
  (_request, _reply, done) => {
    if (!service.busy()) return done();
    setTimeout(() => done(hashingBusy()), BUSY_REFUSAL_DELAY_MS);
  };

export async function userRoutes(app: FastifyInstance, { service, metrics, perUserLimit }: UserRoutesOptions): Promise<void> {
  // Every route here hashes a password: with the hashing queue full, refused before the body is
  // even read (a flood of logins then costs as little as a refusal can).
  const preHandler = { onRequest: busyGate(service), ...(perUserLimit ? { preHandler: perUserLimit } : {}) };
  const userResponses = { ...errorResponses(), 200: userResultSchema, 401: userResultSchema, 429: blockedOrRateLimited };

  app.post<{ Body: ActivationRequest }>(
    '/v1/activate',
    {
      ...preHandler,
      schema: {
        tags: ['users'],
        summary: "Activate a device for the proof's user: serial from the back of the device, a code, and the user's new password",
        description:
          'The proof (POST /v1/proofs or /v1/proofs/self) says whose device it is, and is spent by the activation. ' +
          "The user's active device, if any, is deactivated (replaced by this one). Every refusal (no, expired or " +
          "used proof; a wrong code; a serial unknown, revoked or another user's) is the same 401.",
        body: {
          type: 'object',
          required: ['proofId', 'serial', 'otp', 'password'],
          additionalProperties: false,
          properties: { proofId: proofIdSchema, serial: serialSchema, otp: otpSchema, password: passwordSchema },
        },
        response: { ...userResponses, 200: activatedSchema },
      },
    },
    async (request, reply) => {
      const outcome = await service.activate({ ...request.body, serial: parseSerial(request.body.serial) }, { ip: request.ip });
      metrics.countOutcome('activate', outcome.result, outcomeReason(outcome));
      if (outcome.result === 'accept') return reply.code(200).send({ result: 'accept', userId: outcome.userId });
      return sendUserOutcome(reply, outcome);
    },
  );

  app.post<{ Body: { userId: string; otp: string; oldPassword: string; newPassword: string } }>(
    '/v1/users/self/password',
    {
      ...preHandler,
      schema: {
        tags: ['users'],
        summary: 'Change the password: user ID, a code of the active device, the old password and the new one',
        description: 'Decided as a login (a failure counts as one); every refusal is the same 401.',
        body: {
          type: 'object',
          required: ['userId', 'otp', 'oldPassword', 'newPassword'],
          additionalProperties: false,
          properties: {
            userId: userIdSchema,
            otp: otpSchema,
            oldPassword: { ...passwordSchema, minLength: 1, description: 'the password in force now' },
            newPassword: passwordSchema,
          },
        },
        response: userResponses,
      },
    },
    async (request, reply) => {
      const outcome = await service.changePassword(request.body, { ip: request.ip });
      metrics.countOutcome('password-change', outcome.result, outcomeReason(outcome));
      return sendUserOutcome(reply, outcome);
    },
  );

  app.post<{ Body: { proofId: string; otp: string; newPassword: string } }>(
    '/v1/users/self/password-reset',
    {
      ...preHandler,
      schema: {
        tags: ['users'],
        summary: 'Reset a forgotten password: a proof of identity, a code of the active device and the new password',
        description: 'The proof is spent; a wrong code counts against the device as any failure. Every refusal is the same 401.',
        body: {
          type: 'object',
          required: ['proofId', 'otp', 'newPassword'],
          additionalProperties: false,
          properties: { proofId: proofIdSchema, otp: otpSchema, newPassword: passwordSchema },
        },
        response: userResponses,
      },
    },
    async (request, reply) => {
      const outcome = await service.resetPassword(request.body, { ip: request.ip });
      metrics.countOutcome('password-reset', outcome.result, outcomeReason(outcome));
      return sendUserOutcome(reply, outcome);
    },
  );

  app.post<{ Body: AuthenticateRequest }>(
    '/v1/authenticate',
    {
      ...preHandler,
      schema: {
        tags: ['users'],
        summary: "Log in or approve: user ID, the code shown by the user's active token, and the password",
        description:
          'An accept answers with a receipt: a JWT signed with EdDSA (verify it with GET /.well-known/jwks.json) ' +
          'naming the user, the device, the action and, for an approval, the SHA-256 of the text approved ' +
          '(transaction_text_sha256), with `aud` and `nonce` when given; it expires after 5 minutes.',
        body: {
          type: 'object',
          required: ['userId', 'otp', 'password'],
          additionalProperties: false,
          properties: {
            userId: userIdSchema,
            otp: otpSchema,
            password: passwordSchema,
            action: { type: 'string', enum: [...ACTIONS], default: 'LOG_ON', description: 'what the user does' },
            referenceText: {
              type: 'string',
              minLength: 1,
              maxLength: MAX_REFERENCE_TEXT,
              description: 'the text shown to the user and approved (its SHA-256 is in the receipt)',
            },
            audience: { type: 'string', minLength: 1, maxLength: 256, description: "the receipt's aud: who asked (a client id)" },
            nonce: { type: 'string', minLength: 1, maxLength: 256, description: "echoed in the receipt's nonce" },
          },
        },
        response: { ...userResponses, 200: authenticatedSchema },
      },
    },
    async (request, reply) => {
      const outcome = await service.authenticate(request.body, { ip: request.ip });
      metrics.countOutcome('authenticate', outcome.result, outcomeReason(outcome));
      if (outcome.result === 'accept') return reply.code(200).send({ result: 'accept', receipt: outcome.receipt });
      return sendUserOutcome(reply, outcome);
    },
  );
}
