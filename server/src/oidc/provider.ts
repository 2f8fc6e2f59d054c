/**
 * The OpenID provider (oidc-provider, OpenID Certified), for relying parties that log people in
 * with a code display: the authorization code flow with PKCE (S256) required, discovery, JWKS,
 * userinfo and RP-initiated logout, its interaction being the service's /login page.
 *
 * - ID tokens are signed RS256 (what OpenID Connect requires by default) or EdDSA when a client
 *   asks, with the provider's own keys (keys.ts); `sub` is opaque and stable per user (subject.ts),
 *   and is the provider's accountId too, so a back-channel logout token names nobody either.
 * - Approvals come as relying parties send them to a broker (domain/approval.ts, `idp_params`),
 *   are checked before anyone is asked to log in, always need a fresh login (a session is never
 *   reused to approve), and are recorded with the grant the login makes, so the ID token carries
 *   `action`, `reference_text` and `transaction_text_sha256` (as the receipts name it), beside
 *   `amr: ["code_token","password"]` and the substantial-assurance `acr`.
 * - Everything it keeps goes through storeAdapter into the project's store.
 */
import Provider, { errors, interactionPolicy, type Configuration, type KoaContextWithOIDC } from 'oidc-provider';
import { parseIdpParams, type ApprovalAsked } from '../domain/approval.js';
import type { Clock } from '../domain/types.js';
import { LANGUAGES } from '../pages/i18n.js';
import { textSha256 } from '../security/receipts.js';
import { createSeedVault } from '../security/seed-vault.js';
import type { TokenStore } from '../store/types.js';
import { storeAdapter } from './adapter.js';
import { oidcCookieKey, oidcSigningKeys } from './keys.js';
import { logoutSource, postLogoutSuccessSource, providerCsp, renderError } from './pages.js';
import type { Subjects } from './subject.js';

/** NSIS "substantial" (what a code display gives, as the national login names it). */
export const ACR_SUBSTANTIAL = 'https://data.gov.dk/concept/core/nsis/Substantial';
export const AMR = ['code_token', 'password'];
/** The model under which a grant's approval is kept (by grant id), for its tokens' claims. */
export const APPROVAL_MODEL = 'Approval';
const APPROVAL_CLAIMS = ['action', 'reference_text', 'transaction_text_sha256'];

export interface OidcProviderOptions {
  /** e.g. http://127.0.0.1:8080/oidc */
  issuer: string;
  store: TokenStore;
  clock: Clock;
  masterKey: Uint8Array;
  /** who each user is to the provider: its accountIds (subject.ts) */
  subjects: Subjects;
  /** trust X-Forwarded-Proto and -Host (behind the proxies the server trusts) */
  proxy: boolean;
}

/** What the authorization request asks to have approved (checked: extraParams refused it otherwise). */
export function approvalOf(ctx: KoaContextWithOIDC): ApprovalAsked {
  const asked = parseIdpParams(ctx.oidc.params?.idp_params);
  return 'error' in asked ? { action: 'LOG_ON' } : asked;
}

/** The claims of an approval, as the ID token carries them. */
export function approvalClaims(a: ApprovalAsked): Record<string, string> {
  return a.referenceText === undefined
    ? { action: a.action }
    : { action: a.action, reference_text: a.referenceText, transaction_text_sha256: textSha256(a.referenceText) };
}

export async function createOidcProvider(o: OidcProviderOptions): Promise<Provider> {
  const vault = createSeedVault({ masterKey: o.masterKey });
  const keys = await oidcSigningKeys(o.store, vault);

  const policy = interactionPolicy.base();
  policy.get('login')?.checks.add(
    // Asked for until the login of this very interaction is done (its result is there on resuming).
    new interactionPolicy.Check('approval_needs_login', 'an approval is always asked for with a new login', (ctx) =>
      approvalOf(ctx).action !== 'LOG_ON' && ctx.oidc.result?.login === undefined
        ? interactionPolicy.Check.REQUEST_PROMPT
        : interactionPolicy.Check.NO_NEED_TO_PROMPT,
    ),
  );

  const configuration: Configuration = {
    adapter: storeAdapter(o.store.oidc, o.clock, vault),
    jwks: { keys: keys as NonNullable<Configuration['jwks']>['keys'] },
    cookies: { keys: [oidcCookieKey(o.masterKey)] },
    pkce: { required: () => true, methods: ['S256'] },
    features: {
      devInteractions: { enabled: false },
      rpInitiatedLogout: { enabled: true, logoutSource, postLogoutSuccessSource },
      // A logout tells every relying party of the session that registered a backchannel_logout_uri.
      backchannelLogout: { enabled: true },
      userinfo: { enabled: true },
      revocation: { enabled: true },
    },
    enabledJWA: { idTokenSigningAlgValues: ['RS256', 'EdDSA'], userinfoSigningAlgValues: ['RS256', 'EdDSA'] },
    responseTypes: ['code'],
    scopes: ['openid', 'offline_access'],
    // With the openid scope: how the user logged in (amr, acr, auth_time) and what was approved.
    claims: { sid: null, openid: ['sub', 'acr', 'amr', 'auth_time', ...APPROVAL_CLAIMS] },
    // The approval's claims go into the ID token itself: a relying party reads what was approved there.
    conformIdTokenClaims: false,
    acrValues: [ACR_SUBSTANTIAL],
    // The pages' languages: ui_locales picks one for a user who has not chosen (pages/i18n.ts).
    discovery: { ui_locales_supported: [...LANGUAGES] },
    extraParams: {
      idp_params(_ctx: KoaContextWithOIDC, value: string | undefined) {
        const asked = parseIdpParams(value);
        if ('error' in asked) throw new errors.InvalidRequest(asked.error);
      },
    },
    interactions: { policy, url: (_ctx, interaction) => `/login?interaction=${encodeURIComponent(interaction.uid)}` },
    async findAccount(_ctx, accountId, token) {
      // The accountId is the user's opaque subject (subject.ts).
      if ((await o.subjects.userOf(accountId)) === null) return undefined;
      const grantId = (token as { grantId?: string } | undefined)?.grantId;
      const approval = grantId === undefined ? null : await o.store.oidc.find(APPROVAL_MODEL, grantId, o.clock.now());
      return {
        accountId,
        claims: () => ({ sub: accountId, ...(approval?.payload ?? {}) }),
      };
    },
    renderError,
  };
  const provider = new Provider(o.issuer, configuration);
  provider.proxy = o.proxy;
  provider.use(providerCsp);
  return provider;
}
