/**
 * Users as staff see them (admin, or an operator at a citizen service centre): when the user was
 * created, whether an identity is linked, the active device and the past ones with why each
 * ended, the last use. Never a hash, an identity number or a key. And a user's erasure (admin).
 */
import type { FastifyInstance } from 'fastify';
import type { TokenService, UserView } from '../domain/types.js';
import type { BearerAuth } from '../plugins/auth.js';
import { HttpError } from '../plugins/errors.js';
import { bearerSecurity, errorResponses, profileSchema, userIdSchema } from './schemas.js';

export interface AccountRoutesOptions {
  service: TokenService;
  auth: BearerAuth;
  /** What else an erasure forgets (the OpenID provider's way from its subject to the user). */
  forget?: (user: UserView) => Promise<void>;
}

const userViewSchema = {
  type: 'object',
  required: ['userId', 'createdAt', 'identityLinked', 'activeDevice', 'pastDevices', 'lastUsedAt'],
  additionalProperties: false,
  properties: {
    userId: { type: 'string' },
    createdAt: { type: 'integer', description: 'unix ms' },
    identityLinked: { type: 'boolean', description: 'whether a national identity is linked (never which)' },
    activeDevice: {
      type: ['object', 'null'],
      required: ['serial', 'profile', 'activatedAt'],
      additionalProperties: false,
      properties: { serial: { type: 'string' }, profile: profileSchema, activatedAt: { type: 'integer' } },
    },
    pastDevices: {
      type: 'array',
      items: {
        type: 'object',
        required: ['serial', 'profile', 'activatedAt', 'endedAt', 'ended', 'replacedBy'],
        additionalProperties: false,
        properties: {
          serial: { type: 'string' },
          profile: profileSchema,
          activatedAt: { type: 'integer' },
          endedAt: { type: 'integer' },
          ended: {
            type: 'string',
            enum: ['replaced', 'revoked', 'deactivated'],
            description: 'replaced: an operator may reinstate it within 7 days (POST /v1/tokens/:serial/reinstate)',
          },
          replacedBy: { type: ['string', 'null'] },
        },
      },
    },
    lastUsedAt: { type: ['integer', 'null'], description: 'the last accepted code of any of its devices, unix ms' },
  },
} as const;

const userParams = { type: 'object', required: ['userId'], additionalProperties: false, properties: { userId: userIdSchema } } as const;

export async function accountRoutes(app: FastifyInstance, { service, auth, forget }: AccountRoutesOptions): Promise<void> {
  app.get<{ Params: { userId: string } }>(
    '/v1/users/:userId',
    {
      onRequest: auth.require('admin', 'operator'),
      schema: {
        tags: ['identity'],
        security: bearerSecurity,
        summary: 'A user: created, identity linked or not, active and past devices (why each ended), last use (admin, operator)',
        params: userParams,
        response: { 200: userViewSchema, ...errorResponses(401, 404) },
      },
    },
    async (request) => {
      const user = await service.getUser(request.params.userId);
      if (user === null) throw new HttpError(404, 'unknown-user', 'no such user');
      return user;
    },
  );

  app.delete<{ Params: { userId: string } }>(
    '/v1/users/:userId',
    {
      onRequest: auth.require('admin'),
      schema: {
        tags: ['identity'],
        security: bearerSecurity,
        summary: "Erase a user's personal data: its devices revoked, its password, identity and user ID deleted (admin)",
        description:
          'The append-only audit log is not rewritten: its rows name the user by a pseudonym whose mapping this deletes, ' +
          'so GET /v1/audit shows them with userId null from now on.',
        params: userParams,
        response: { 204: { type: 'null', description: 'erased' }, ...errorResponses(401, 404) },
      },
    },
    async (request, reply) => {
      const actor = request.principal?.actor ?? 'admin';
      // Read first: once erased, the user's creation (part of its OpenID subject) is gone.
      const user = forget === undefined ? null : await service.getUser(request.params.userId);
      if (!(await service.eraseUser(request.params.userId, actor, { ip: request.ip }))) {
        throw new HttpError(404, 'unknown-user', 'no such user');
      }
      if (user !== null && forget !== undefined) await forget(user);
      return reply.code(204).send();
    },
  );
}
