/**
 * The bridge between the OpenID provider's interaction and the /login page: what the interaction
 * in this browser (its cookie) asks — who (login_hint), what to approve (idp_params, already
 * checked), for which relying party — and, once /login has decided the login as it decides any,
 * its end: a grant for the user made, the approval kept with it for the ID token's claims, and the
 * browser sent back to the provider, which sends it on to the relying party.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { parseIdpParams } from '../domain/approval.js';
import type { Action, Clock } from '../domain/types.js';
import { langOfLocales, type Lang } from '../pages/i18n.js';
import type { OidcStore } from '../store/types.js';
import type { OidcHost } from './host.js';
import { ACR_SUBSTANTIAL, AMR, APPROVAL_MODEL, approvalClaims } from './provider.js';

export interface LoginAsked {
  /** the interaction's id */
  uid: string;
  action: Action;
  referenceText?: string;
  /** login_hint: the user ID to fill in */
  userHint: string;
  /** the relying party's client id (a receipt's audience) */
  clientId: string;
  /** the scope it asked for */
  scope: string;
  /** where the relying party's redirect goes (its origin), for the page's form-action */
  redirectOrigin: string | null;
  /** the first of ui_locales the pages have */
  lang: Lang | null;
}

export interface OidcInteractions {
  /** What the interaction of this browser asks; null when it has none (expired, finished, never begun). */
  asked(request: FastifyRequest, reply: FastifyReply): Promise<LoginAsked | null>;
  /** Ends it: `userId` logged in (and approved `asked`); where the browser goes next. Null when it is gone. */
  finish(request: FastifyRequest, reply: FastifyReply, userId: string, asked: LoginAsked): Promise<string | null>;
}

/** How long a grant's approval is kept: as long as oidc-provider keeps a grant by default (14 days). */
const APPROVAL_TTL_MS = 14 * 24 * 3600 * 1000;

const originOf = (uri: unknown): string | null => {
  try {
    return typeof uri === 'string' ? new URL(uri).origin : null;
  } catch {
    return null;
  }
};

export function oidcInteractions(host: OidcHost, store: OidcStore, clock: Clock): OidcInteractions {
  const details = async (request: FastifyRequest, reply: FastifyReply) => {
    const provider = await host.provider();
    try {
      return { provider, details: await provider.interactionDetails(request.raw, reply.raw) };
    } catch {
      // SessionNotFound: no interaction cookie, or its interaction expired or ended.
      return null;
    }
  };
  return {
    async asked(request, reply) {
      const found = await details(request, reply);
      if (found === null) return null;
      const { uid, params } = found.details;
      const approval = parseIdpParams(params.idp_params);
      const a = 'error' in approval ? { action: 'LOG_ON' as const } : approval;
      return {
        uid,
        ...a,
        userHint: typeof params.login_hint === 'string' ? params.login_hint : '',
        clientId: String(params.client_id),
        scope: typeof params.scope === 'string' ? params.scope : 'openid',
        redirectOrigin: originOf(params.redirect_uri),
        lang: langOfLocales(params.ui_locales),
      };
    },
    async finish(request, reply, userId, asked) {
      // `asked` was read from this request's interaction; the provider finds it again by its
      // cookie when it takes the result, and refuses if it has gone meanwhile.
      const provider = await host.provider();
      // The provider knows the user by the opaque subject only (subject.ts).
      const accountId = await (await host.subjects()).subjectOf(userId);
      if (accountId === null) return null;
      const grant = new provider.Grant({ accountId, clientId: asked.clientId });
      grant.addOIDCScope(asked.scope);
      const grantId = await grant.save();
      await store.upsert(APPROVAL_MODEL, grantId, approvalClaims(asked), clock.now() + APPROVAL_TTL_MS);
      try {
        return await provider.interactionResult(
          request.raw,
          reply.raw,
          { login: { accountId, amr: AMR, acr: ACR_SUBSTANTIAL }, consent: { grantId } },
          { mergeWithLastSubmission: false },
        );
      } catch {
        return null;
      }
    },
  };
}
