/**
 * The OpenID provider under /oidc (oidc-provider's own Koa app, handed the raw request: Fastify
 * reads no body there), made at the first request, once the server's address is known: its issuer
 * is KODEVISER_ISSUER, else this server's URL + /oidc (with PORT=0, the port bound). And its
 * clients, made by an admin: POST /v1/oidc/clients {name, redirect_uris} → {client_id,
 * client_secret} (the secret shown once, kept sealed; post_logout_redirect_uris optional;
 * token_endpoint_auth_method none for a public client, which has no secret), GET to list them
 * (never a secret), DELETE.
 */
import { randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isKodeviserError } from '@kodeviser/shared';
import { CLIENT_AUTH_METHODS, type ClientAuthMethod, type OidcHost } from '../oidc/host.js';
import type { BearerAuth } from '../plugins/auth.js';
import { HttpError } from '../plugins/errors.js';
import type { OidcStore } from '../store/types.js';
import type { Clock } from '../domain/types.js';
import { bearerSecurity, errorResponses } from './schemas.js';

export const OIDC_PREFIX = '/oidc';

export interface OidcRoutesOptions {
  host: OidcHost;
  auth: BearerAuth;
  store: OidcStore;
  clock: Clock;
}

const clientIdSchema = {
  type: 'string',
  pattern: '^[A-Za-z0-9_.-]{1,64}$',
  description: 'a client id: kvo_ and 22 characters when made here; a fixture names its own',
} as const;
const redirectUriSchema = {
  type: 'string',
  minLength: 1,
  maxLength: 2000,
  pattern: '^https?://[^\\s#]+$',
  description: 'where the authorization response goes: http(s), no fragment',
} as const;
const clientSchema = {
  type: 'object',
  required: ['client_id', 'name', 'redirect_uris'],
  additionalProperties: false,
  properties: {
    client_id: clientIdSchema,
    name: { type: 'string' },
    redirect_uris: { type: 'array', items: { type: 'string' } },
    post_logout_redirect_uris: { type: 'array', items: { type: 'string' } },
    backchannel_logout_uri: { type: 'string' },
    token_endpoint_auth_method: { type: 'string', enum: CLIENT_AUTH_METHODS },
  },
} as const;

/** A stored client as an admin sees it: never its secret. */
function viewOf(payload: Record<string, unknown>): ClientView {
  const p = payload as Omit<ClientView, 'name'> & { client_name: string };
  return {
    client_id: p.client_id,
    name: p.client_name,
    redirect_uris: p.redirect_uris,
    ...(p.post_logout_redirect_uris ? { post_logout_redirect_uris: p.post_logout_redirect_uris } : {}),
    ...(p.backchannel_logout_uri ? { backchannel_logout_uri: p.backchannel_logout_uri } : {}),
    token_endpoint_auth_method: p.token_endpoint_auth_method ?? 'client_secret_basic',
  };
}
interface ClientView {
  client_id: string;
  name: string;
  redirect_uris: string[];
  post_logout_redirect_uris?: string[] | undefined;
  backchannel_logout_uri?: string | undefined;
  token_endpoint_auth_method: ClientAuthMethod;
}

export async function oidcRoutes(app: FastifyInstance, { host, auth, store, clock }: OidcRoutesOptions): Promise<void> {
  // oidc-provider reads the request itself: no body parsed here, whatever its type.
  await app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', (_request, _payload, done) => done(null, undefined));
    const handle = async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
      const provider = await host.provider();
      const callback = provider.callback();
      reply.hijack();
      const req = request.raw as typeof request.raw & { originalUrl?: string };
      req.originalUrl = req.url ?? '/';
      req.url = (req.url ?? '/').slice(OIDC_PREFIX.length) || '/';
      await new Promise<void>((resolve) => {
        reply.raw.once('close', resolve);
        reply.raw.once('finish', resolve);
        void callback(req, reply.raw);
      });
    };
    for (const url of [OIDC_PREFIX, `${OIDC_PREFIX}/*`]) {
      scope.route({ method: ['GET', 'POST', 'OPTIONS', 'HEAD', 'DELETE', 'PUT', 'PATCH'], url, schema: { hide: true }, handler: handle });
    }
  });

  const admin = { onRequest: auth.require('admin') };
  const base = { tags: ['oidc'], security: bearerSecurity };

  app.post<{
    Body: {
      name: string;
      redirect_uris: string[];
      post_logout_redirect_uris?: string[];
      backchannel_logout_uri?: string;
      token_endpoint_auth_method?: ClientAuthMethod;
    };
  }>(
    '/v1/oidc/clients',
    {
      ...admin,
      schema: {
        ...base,
        summary:
          'Register a relying party: its name, redirect URIs, logout redirect URIs and how it authenticates; its secret is shown once (admin)',
        body: {
          type: 'object',
          required: ['name', 'redirect_uris'],
          additionalProperties: false,
          properties: {
            name: { type: 'string', minLength: 1, maxLength: 100 },
            redirect_uris: { type: 'array', minItems: 1, maxItems: 20, uniqueItems: true, items: redirectUriSchema },
            post_logout_redirect_uris: {
              type: 'array',
              maxItems: 20,
              uniqueItems: true,
              items: { ...redirectUriSchema, description: 'where an RP-initiated logout may send the user back to' },
            },
            backchannel_logout_uri: {
              ...redirectUriSchema,
              description: 'where the provider posts a logout token (OpenID Connect Back-Channel Logout) when the user logs out',
            },
            token_endpoint_auth_method: {
              type: 'string',
              enum: CLIENT_AUTH_METHODS,
              default: 'client_secret_basic',
              description: 'its secret in the Authorization header (default) or in the form; none: a public client, no secret (PKCE only)',
            },
          },
        },
        response: {
          201: {
            ...clientSchema,
            properties: {
              ...clientSchema.properties,
              client_secret: { type: 'string', description: 'shown once: store it now (a public client has none)' },
            },
          },
          ...errorResponses(401),
        },
      },
    },
    async (request, reply) => {
      const clientId = `kvo_${randomBytes(16).toString('base64url')}`;
      const method = request.body.token_endpoint_auth_method ?? 'client_secret_basic';
      const clientSecret = method === 'none' ? undefined : randomBytes(32).toString('base64url');
      try {
        await host.addClient({ ...request.body, client_id: clientId, client_secret: clientSecret, token_endpoint_auth_method: method });
      } catch (e) {
        if (isKodeviserError(e)) throw new HttpError(400, 'bad-client', e.message);
        throw e;
      }
      const { name, redirect_uris, post_logout_redirect_uris, backchannel_logout_uri } = request.body;
      return reply.code(201).send({
        ...viewOf({
          client_id: clientId,
          client_name: name,
          redirect_uris,
          post_logout_redirect_uris,
          backchannel_logout_uri,
          token_endpoint_auth_method: method,
        }),
        ...(clientSecret === undefined ? {} : { client_secret: clientSecret }),
      });
    },
  );

  app.get(
    '/v1/oidc/clients',
    {
      ...admin,
      schema: {
        ...base,
        summary: 'The relying parties (never a secret) (admin)',
        response: {
          200: {
            type: 'object',
            required: ['clients'],
            additionalProperties: false,
            properties: { clients: { type: 'array', items: clientSchema } },
          },
          ...errorResponses(401),
        },
      },
    },
    async () => {
      const entries = await store.list('Client', clock.now());
      return { clients: entries.map(({ payload }) => viewOf(payload)) };
    },
  );

  app.delete<{ Params: { id: string } }>(
    '/v1/oidc/clients/:id',
    {
      ...admin,
      schema: {
        ...base,
        summary: 'Remove a relying party: its client id and secret are refused from now on (admin)',
        params: { type: 'object', required: ['id'], additionalProperties: false, properties: { id: clientIdSchema } },
        response: { 200: { ...clientSchema, description: 'the client removed' }, ...errorResponses(401, 404) },
      },
    },
    async (request) => {
      const found = await store.find('Client', request.params.id, clock.now());
      if (found === null) throw new HttpError(404, 'unknown-client', 'no such client');
      await store.destroy('Client', request.params.id);
      return viewOf(found.payload);
    },
  );
}
