/**
 * The receipt keys (security/receipt-keys.ts): published for anyone who verifies a receipt, and
 * rotated by the admin. The set is the same on every instance over one database.
 */
import type { FastifyInstance } from 'fastify';
import type { TokenService } from '../domain/types.js';
import type { BearerAuth } from '../plugins/auth.js';
import { bearerSecurity, errorResponses } from './schemas.js';

export interface ReceiptRoutesOptions {
  service: TokenService;
  auth: BearerAuth;
}

const jwkSchema = {
  type: 'object',
  required: ['kty', 'crv', 'x', 'kid', 'alg', 'use'],
  additionalProperties: false,
  properties: {
    kty: { type: 'string', enum: ['OKP'] },
    crv: { type: 'string', enum: ['Ed25519'] },
    x: { type: 'string' },
    kid: { type: 'string', description: 'the JWK thumbprint (RFC 7638)' },
    alg: { type: 'string', enum: ['EdDSA'] },
    use: { type: 'string', enum: ['sig'] },
  },
} as const;

export async function receiptRoutes(app: FastifyInstance, { service, auth }: ReceiptRoutesOptions): Promise<void> {
  app.get(
    '/.well-known/jwks.json',
    {
      schema: {
        tags: ['receipts'],
        summary: "The receipt keys' public keys (RFC 7517), newest first: the first signs now, the others signed before a rotation",
        response: {
          200: {
            type: 'object',
            required: ['keys'],
            additionalProperties: false,
            properties: { keys: { type: 'array', items: jwkSchema } },
          },
        },
      },
    },
    async (_request, reply) => {
      // Short: a rotation reaches the verifiers within a minute.
      reply.header('cache-control', 'public, max-age=60');
      return { keys: await service.receiptKeys() };
    },
  );

  app.post(
    '/v1/receipt-keys/rotate',
    {
      onRequest: auth.require('admin'),
      schema: {
        tags: ['receipts'],
        security: bearerSecurity,
        summary: 'Rotate the receipt key: a new key signs from now on; the old ones stay published (admin)',
        response: {
          200: {
            type: 'object',
            required: ['kid', 'keys'],
            additionalProperties: false,
            properties: { kid: { type: 'string', description: 'the new key' }, keys: { type: 'integer', description: 'keys published' } },
          },
          ...errorResponses(401),
        },
      },
    },
    async (request) => service.rotateReceiptKeys(request.principal?.actor ?? 'admin', { ip: request.ip }),
  );
}
