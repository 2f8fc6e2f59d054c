/**
 * Credentials (admin bearer): create one for an operator, a proofing back-end, a service (scoped
 * to a range of serials or not) or a metrics scraper (its token shown in the reply once, never
 * again), list them, revoke one at once.
 */
import type { FastifyInstance } from 'fastify';
import { CREDENTIAL_ROLES, MAX_NAME_LENGTH, type CredentialRole, type CredentialService, type SerialRange } from '../domain/credentials.js';
import type { BearerAuth } from '../plugins/auth.js';
import { bearerSecurity, errorResponses, serialSchema } from './schemas.js';

const idSchema = { type: 'string', pattern: '^cred-[0-9a-f]{16}$', description: 'credential id' } as const;

const serialsSchema = {
  type: 'object',
  required: ['from', 'to'],
  additionalProperties: false,
  properties: { from: serialSchema, to: serialSchema },
} as const;

const credentialInfoSchema = {
  type: 'object',
  description: 'a credential as an admin sees it: never its token',
  required: ['id', 'role', 'name', 'createdAt', 'expiresAt', 'revokedAt', 'serials'],
  additionalProperties: false,
  properties: {
    id: idSchema,
    role: { type: 'string', enum: [...CREDENTIAL_ROLES] },
    name: { type: 'string' },
    createdAt: { type: 'integer', description: 'unix ms' },
    expiresAt: { type: ['integer', 'null'], description: 'unix ms; null: never' },
    revokedAt: { type: ['integer', 'null'], description: 'unix ms; null: in force' },
    serials: {
      anyOf: [{ type: 'null' }, serialsSchema],
      description: 'a service credential: the serials it may validate; null: every serial',
    },
  },
} as const;

export interface CredentialRoutesOptions {
  credentials: CredentialService;
  auth: BearerAuth;
}

export async function credentialRoutes(app: FastifyInstance, { credentials, auth }: CredentialRoutesOptions): Promise<void> {
  const admin = { onRequest: auth.require('admin') };
  const base = { tags: ['credentials'], security: bearerSecurity };
  const actor = (request: { principal: { actor: string } | null }): string => request.principal?.actor ?? 'admin';

  app.post<{ Body: { role: CredentialRole; name: string; expiresAt?: number; serials?: SerialRange } }>(
    '/v1/credentials',
    {
      ...admin,
      schema: {
        ...base,
        summary: "Create a credential: an operator's, a proofing back-end's or a service's bearer token (shown once)",
        body: {
          type: 'object',
          required: ['role', 'name'],
          additionalProperties: false,
          properties: {
            role: { type: 'string', enum: [...CREDENTIAL_ROLES] },
            name: { type: 'string', minLength: 1, maxLength: MAX_NAME_LENGTH, description: 'who or what holds it' },
            expiresAt: { type: 'integer', minimum: 0, description: 'unix ms after which it is refused (default: never)' },
            serials: { ...serialsSchema, description: 'a service credential only: the serials it may validate, inclusive (default: all)' },
          },
        },
        response: {
          201: {
            ...credentialInfoSchema,
            description: 'the credential, with its bearer token: store it now, it is never shown again',
            required: [...credentialInfoSchema.required, 'token'],
            properties: { ...credentialInfoSchema.properties, token: { type: 'string' } },
          },
          ...errorResponses(401),
        },
      },
    },
    async (request, reply) => reply.code(201).send(await credentials.create(request.body, actor(request), { ip: request.ip })),
  );

  app.get<{ Querystring: { role?: CredentialRole } }>(
    '/v1/credentials',
    {
      ...admin,
      schema: {
        ...base,
        summary: 'List the credentials, oldest first, revoked ones too (never a token)',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { role: { type: 'string', enum: [...CREDENTIAL_ROLES], description: 'only those of this role' } },
        },
        response: {
          200: {
            type: 'object',
            required: ['credentials'],
            additionalProperties: false,
            properties: { credentials: { type: 'array', items: credentialInfoSchema } },
          },
          ...errorResponses(401),
        },
      },
    },
    async (request) => {
      const all = await credentials.list();
      const { role } = request.query;
      return { credentials: role === undefined ? all : all.filter((c) => c.role === role) };
    },
  );

  app.delete<{ Params: { id: string } }>(
    '/v1/credentials/:id',
    {
      ...admin,
      schema: {
        ...base,
        summary: 'Revoke a credential: its token is refused from now on',
        params: { type: 'object', required: ['id'], additionalProperties: false, properties: { id: idSchema } },
        response: { 200: credentialInfoSchema, ...errorResponses(401, 404) },
      },
    },
    async (request) => credentials.revoke(request.params.id, actor(request), { ip: request.ip }),
  );
}
