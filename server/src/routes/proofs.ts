/**
 * Proofs of identity (operator or proofing bearer): a person's national ID and the document that
 * showed it, checked by staff at a citizen service centre or by the app's passport check. The
 * reply names the user the proof is for and the proof id (shown once), which the activation or
 * password reset it allows spends. Neither number is ever stored, logged or returned.
 */
import type { FastifyInstance } from 'fastify';
import { DOCUMENT_TYPES, type IdentityEvidence, type IdentityService, type ProofRefusal } from '../domain/identity.js';
import type { BearerAuth } from '../plugins/auth.js';
import { HttpError } from '../plugins/errors.js';
import { bearerSecurity, errorResponses, userIdSchema } from './schemas.js';

const REFUSALS: Readonly<Record<ProofRefusal, string>> = {
  'identity-linked-elsewhere': 'this identity belongs to another user ID',
  'user-linked-elsewhere': 'this user ID belongs to another identity',
  'owner-proof-required': "this user ID exists from before identities: linking it needs its owner's device and password",
};

export async function proofRoutes(
  app: FastifyInstance,
  { identities, auth }: { identities: IdentityService; auth: BearerAuth },
): Promise<void> {
  app.post<{ Body: { identity: IdentityEvidence; userId?: string } }>(
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
          },
        },
        response: {
          201: {
            type: 'object',
            required: ['proofId', 'userId', 'expiresAt'],
            additionalProperties: false,
            properties: {
              proofId: { type: 'string', description: '128 random bits: give it to the person, it is never shown again' },
              userId: { type: 'string' },
              expiresAt: { type: 'integer', description: 'unix ms' },
            },
          },
          ...errorResponses(401, 409),
        },
      },
    },
    async (request, reply) => {
      const actor = request.principal?.actor ?? 'unknown';
      const result = await identities.prove(request.body, actor, { ip: request.ip });
      if ('refused' in result) throw new HttpError(409, result.refused, REFUSALS[result.refused]);
      return reply.code(201).send(result);
    },
  );
}
