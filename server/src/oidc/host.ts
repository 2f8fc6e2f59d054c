/**
 * The OpenID provider of a running server, made at its first use: by then the server listens, so
 * its issuer (KODEVISER_ISSUER, else this server's URL + /oidc, with the port actually bound) is
 * known. A relying party's client is stored through the same sealing as the provider's adapter.
 */
import { KodeviserError } from '@kodeviser/shared';
import type { FastifyInstance } from 'fastify';
import type Provider from 'oidc-provider';
import type { ClientMetadata } from 'oidc-provider';
import type { Clock, TokenService, UserView } from '../domain/types.js';
import { createSeedVault } from '../security/seed-vault.js';
import type { TokenStore } from '../store/types.js';
import { sealClient } from './adapter.js';
import { createOidcProvider } from './provider.js';
import { SUBJECT_KEY, subjects, type Subjects } from './subject.js';

/**
 * How a client authenticates at the token endpoint: with its secret in the Authorization header
 * (the default) or in the form, or not at all — a public client (a single-page or native app),
 * which has no secret and is held to PKCE like every client here.
 */
export const CLIENT_AUTH_METHODS = ['client_secret_basic', 'client_secret_post', 'none'] as const;
export type ClientAuthMethod = (typeof CLIENT_AUTH_METHODS)[number];

/** A relying party as it is registered. */
export interface NewClient {
  client_id: string;
  /** none for a public client (token_endpoint_auth_method none) */
  client_secret?: string | undefined;
  token_endpoint_auth_method?: ClientAuthMethod | undefined;
  name: string;
  redirect_uris: string[];
  /** where a logout may send the user back to (RP-initiated logout); none: the provider's page */
  post_logout_redirect_uris?: string[] | undefined;
  /** where the provider posts a logout token when the user logs out (back-channel logout) */
  backchannel_logout_uri?: string | undefined;
}

export interface OidcHost {
  provider(): Promise<Provider>;
  /** Who each user is to the provider (subject.ts). */
  subjects(): Promise<Subjects>;
  /** Forgets `user`'s subject (the user is being erased); nothing when the provider never named anyone. */
  forget(user: UserView): Promise<void>;
  /**
   * Registers a client of the code flow, its metadata checked by the provider (what
   * it would refuse at the first login is refused now: a KodeviserError saying why) and its secret
   * stored sealed.
   */
  addClient(c: NewClient): Promise<void>;
}

export interface OidcHostOptions {
  /** KODEVISER_ISSUER, when set */
  issuer?: string;
  /** the host the server listens on (config.host) */
  listenHost: string;
  store: TokenStore;
  clock: Clock;
  masterKey: Uint8Array;
  service: TokenService;
  proxy: boolean;
}

/** This server's URL, as main.ts prints it: the configured host and the port bound. */
function serverUrl(app: FastifyInstance, host: string): string {
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

export function oidcHost(app: FastifyInstance, o: OidcHostOptions): OidcHost {
  let made: Promise<Provider> | null = null;
  let madeSubjects: Promise<Subjects> | null = null;
  const vault = createSeedVault({ masterKey: o.masterKey });
  const subjectsOnce = (): Promise<Subjects> =>
    (madeSubjects ??= subjects(o.store, vault, o.service, o.clock).catch((e: unknown) => {
      madeSubjects = null;
      throw e;
    }));
  return {
    subjects: subjectsOnce,
    async forget(user) {
      // Without a subject key the provider never named anyone; none is made for an erasure.
      if ((await o.store.snapshot({ secretName: SUBJECT_KEY })).secret === null) return;
      await (await subjectsOnce()).forget(user);
    },
    provider() {
      made ??= subjectsOnce()
        .then((s) =>
          createOidcProvider({
            issuer: o.issuer ?? `${serverUrl(app, o.listenHost)}/oidc`,
            store: o.store,
            clock: o.clock,
            masterKey: o.masterKey,
            subjects: s,
            proxy: o.proxy,
          }),
        )
        .catch((e: unknown) => {
          made = null;
          throw e;
        });
      return made;
    },
    async addClient(c) {
      const metadata: ClientMetadata & { client_id: string } = {
        client_id: c.client_id,
        ...(c.client_secret === undefined ? {} : { client_secret: c.client_secret }),
        client_name: c.name,
        redirect_uris: c.redirect_uris,
        ...(c.post_logout_redirect_uris?.length ? { post_logout_redirect_uris: c.post_logout_redirect_uris } : {}),
        ...(c.backchannel_logout_uri === undefined ? {} : { backchannel_logout_uri: c.backchannel_logout_uri }),
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        token_endpoint_auth_method: c.token_endpoint_auth_method ?? 'client_secret_basic',
      };
      const provider = await this.provider();
      try {
        await provider.Client.validate(metadata);
      } catch (e) {
        throw new KodeviserError(
          'ERR_ARGUMENT',
          (e as { error_description?: string }).error_description ?? 'the client metadata is not valid',
        );
      }
      await o.store.oidc.upsert('Client', metadata.client_id, sealClient(metadata, vault), null);
    },
  };
}
