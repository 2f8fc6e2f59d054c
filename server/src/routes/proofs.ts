/**
 * Proofs of identity (operator or proofing bearer): a person's national ID and the document that
 * showed it, checked by staff at a citizen service centre or by the app's passport check. The
 * reply names the user the proof is for and the proof id (shown once), which the activation or
 * password reset it allows spends. Neither number is ever stored, logged or returned.
 */
import type { FastifyInstance, FastifyReply, preHandlerHookHandler } from 'fastify';
import { DOCUMENT_TYPES, SELF_PROOF_ACTION, type IdentityEvidence, type ProofRefusal } from '../domain/identity.js';
import type { TokenService } from '../domain/types.js';
import type { Metrics } from '../plugins/metrics.js';
import type { BearerAuth } from '../plugins/auth.js';
import { HttpError } from '../plugins/errors.js';
import { bearerSecurity, errorResponses, otpSchema, passwordSchema, userIdSchema } from './schemas.js';
import { blockedOrRateLimited, busyGate, outcomeReason, sendUserOutcome, userResultSchema } from './users.js';

const REFUSALS: Readonly<Record<ProofRefusal, string>> = {
  'identity-linked-elsewhere': 'this identity belongs to another user ID',
  'user-linked-elsewhere': 'this user ID belongs to another identity',
  'owner-proof-required': "this user ID exists from before identities: linking it needs its owner's device code and password (owner)",
  'owner-not-proven': "the owner's code and password did not check out (counted as a failed login)",
};

export interface ProofRoutesOptions {
  service: TokenService;
  auth: BearerAuth;
  metrics: Metrics;
  /** the per-userId limiter (a preHandler), or null when the limit is off */
  perUserLimit: preHandlerHookHandler | null;
}

const proofSchema = {
  type: 'object',
  required: ['proofId', 'userId', 'expiresAt'],
  additionalProperties: false,
  properties: {
    proofId: { type: 'string', description: '128 random bits: give it to the person, it is never shown again' },
    userId: { type: 'string' },
    expiresAt: { type: 'integer', description: 'unix ms' },
  },
} as const;

export async function proofRoutes(app: FastifyInstance, { service, auth, metrics, perUserLimit }: ProofRoutesOptions): Promise<void> {
  app.post<{ Body: { identity: IdentityEvidence; userId?: string; owner?: { otp: string; password: string } } }>(
    '/v1/proofs',
    {
      onRequest: auth.require('operator', 'proofing'),
      schema: {
        tags: ['identity'],
        security: bearerSecurity,
        summary: "Prove a person's identity (operator at a service centre, or the app's passport check): a proof for their user",
        description:
          'The first proof of a national ID creates its user (the userId given, if free, else a generated one); a later one is ' +
          'for that user. The proof allows one activation or password reset within 15 minutes.',
        body: {
          type: 'object',
          required: ['identity'],
          additionalProperties: false,
          properties: {
            identity: {
              type: 'object',
              required: ['nationalId', 'document'],
              additionalProperties: false,
              properties: {
                nationalId: {
                  type: 'string',
                  pattern: '^[0-9]{6}-?[0-9]{4}$',
                  description: 'ten digits (DDMMYY and four), as a CPR number',
                },
                document: {
                  type: 'object',
                  required: ['type', 'country', 'number'],
                  additionalProperties: false,
                  properties: {
                    type: { type: 'string', enum: [...DOCUMENT_TYPES] },
                    country: { type: 'string', pattern: '^[A-Za-z]{2}$', description: 'ISO 3166-1 alpha-2, e.g. DK' },
                    number: { type: 'string', minLength: 1, maxLength: 40, description: 'as printed; spaces and hyphens are dropped' },
                  },
                },
              },
            },
            userId: { ...userIdSchema, description: 'the user ID the person asks for (first proof), or the one they have' },
            owner: {
              type: 'object',
              description: 'linking a user from before identities: a code of its active device and its password, typed by its owner',
              required: ['otp', 'password'],
              additionalProperties: false,
              properties: { otp: otpSchema, password: passwordSchema },
            },
          },
        },
        response: { 201: proofSchema, ...errorResponses(401, 409) },
      },
    },
    async (request, reply) => {
      const actor = request.principal?.actor ?? 'unknown';
      const result = await service.prove(request.body, { ip: request.ip, actor });
      if ('refused' in result) throw new HttpError(409, result.refused, REFUSALS[result.refused]);
      return reply.code(201).send(result);
    },
  );

  app.post<{ Body: { userId: string; otp: string; password: string } }>(
    '/v1/proofs/self',
    {
      onRequest: busyGate(service),
      ...(perUserLimit ? { preHandler: perUserLimit } : {}),
      schema: {
        tags: ['identity'],
        summary: `The owner's own proof, with the current login: an approval of "${SELF_PROOF_ACTION}"`,
        description:
          'User ID, a code of the active device and the password, as a login (failures counted, blocks held, the same ' +
          'reject whichever factor was wrong); accepted, it gives a proof that allows adding or replacing a device.',
        body: {
          type: 'object',
          required: ['userId', 'otp', 'password'],
          additionalProperties: false,
          properties: { userId: userIdSchema, otp: otpSchema, password: passwordSchema },
        },
        response: { ...errorResponses(), 201: proofSchema, 401: userResultSchema, 429: blockedOrRateLimited },
      },
    },
    async (request, reply: FastifyReply) => {
      const { outcome, proof } = await service.proveSelf(request.body, { ip: request.ip });
      metrics.countOutcome('prove-self', outcome.result, outcomeReason(outcome));
      if (proof !== null) return reply.code(201).send(proof);
      return sendUserOutcome(reply, outcome.result === 'accept' ? { result: 'reject', reason: 'not-activated' } : outcome);
    },
  );
}
