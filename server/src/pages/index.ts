/**
 * The service's pages, rendered on the server from server/views (Eta through @fastify/view): what
 * a citizen does (/login, /order, /activate) and the service centre's console (/operator). They
 * decide nothing themselves: each form becomes the same TokenService call as its JSON route, so
 * blocks, replays, budgets and the audit log are the service's.
 *
 * Everything here is in its own plugin scope, so none of it reaches the JSON API:
 *  - forms (application/x-www-form-urlencoded, @fastify/formbody), 16 KiB at most;
 *  - cookies (@fastify/cookie), signed under a key of their own (cookies.ts);
 *  - CSRF tokens on every form (@fastify/csrf-protection: a secret in a Strict, HttpOnly cookie,
 *    a token in the form that expires after formValidityMs);
 *  - headers (@fastify/helmet): a Content-Security-Policy allowing this origin's stylesheet and
 *    nothing else — no script at all, inline or not —, forms posted to this origin only, no
 *    framing; no referrer (a tracking link's token stays here); and no caching of a page.
 * A request that fails — a bad or expired form, a rate limit, a busy service — gets its form
 * again with a message (the route's `pageForm`), or a page saying what went wrong; never JSON,
 * never a stack trace.
 */
import { readFileSync } from 'node:fs';
import fastifyCookie from '@fastify/cookie';
import fastifyCsrf from '@fastify/csrf-protection';
import fastifyFormbody from '@fastify/formbody';
import fastifyHelmet from '@fastify/helmet';
import fastifyView from '@fastify/view';
import { Eta } from 'eta';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest, onRequestHookHandler, preHandlerHookHandler } from 'fastify';
import type { CredentialService } from '../domain/credentials.js';
import type { Clock, TokenService } from '../domain/types.js';
import { describeError, sendError } from '../plugins/errors.js';
import type { SharedState } from '../security/shared-state.js';
import type { OidcInteractions } from '../oidc/interaction.js';
import { cookieKey } from './cookies.js';
import { cspHeader, PAGES_CSP } from './csp.js';
import { COMMON, duration, format, langOf } from './i18n.js';
import { activatePages } from './activate.js';
import { loginPages } from './login.js';
import { operatorPages } from './operator.js';
import { orderPages } from './order.js';
import { render } from './render.js';
import { VIEWS_DIR } from './views.js';

const ASSETS = new URL('../../assets/', import.meta.url);

/** How long a page's form may be sent after it was shown, by default (its CSRF token's validity). */
export const DEFAULT_FORM_VALIDITY_MS = 60 * 60 * 1000;
const FORM_BODY_LIMIT = 16 * 1024;

export interface PageOptions {
  service: TokenService;
  credentials: CredentialService;
  clock: Clock;
  masterKey: Uint8Array;
  /** the per-userId limiter of the JSON routes (a preHandler), or null when it is off */
  perUserLimit: preHandlerHookHandler | null;
  /** the orders-per-address limit of POST /v1/orders, which the order page counts on too; null: off */
  ordersLimit: onRequestHookHandler | null;
  /** the OpenID provider's interactions, which /login completes; null: no provider */
  oidc: OidcInteractions | null;
  /** the state the instances share (Redis when configured): ended console sessions */
  shared: SharedState;
  /** how long a form may be sent after it was shown, ms (default DEFAULT_FORM_VALIDITY_MS) */
  formValidityMs?: number;
  /** /activate offers a simulated passport check for test identities (a lab server only) */
  simulatedPassport?: boolean;
  /** the device lab is served at /lab/ (the header links to it) */
  lab?: boolean;
}

/** What each page module is given. */
export type PageModuleOptions = Required<Omit<PageOptions, 'masterKey' | 'formValidityMs'>>;

const NOT_FOUND_ROUTE = '/*';

/** A request the not-found page is for: a browser's (it asks for HTML), outside the API. */
const wantsPage = (request: FastifyRequest): boolean =>
  !request.url.startsWith('/v1/') && (request.headers.accept ?? '').includes('text/html');

export async function pageRoutes(app: FastifyInstance, opts: PageOptions): Promise<void> {
  // Read once: two small files, served with a day's caching.
  const assets = {
    'pages.css': { type: 'text/css; charset=utf-8', body: readFileSync(new URL('pages.css', ASSETS)) },
    'favicon.svg': { type: 'image/svg+xml', body: readFileSync(new URL('favicon.svg', ASSETS)) },
  } as const;
  await app.register(fastifyCookie, { secret: cookieKey(opts.masterKey) });
  await app.register(fastifyFormbody, { bodyLimit: FORM_BODY_LIMIT });
  await app.register(fastifyCsrf, {
    cookieKey: 'kv_csrf',
    cookieOpts: { path: '/', sameSite: 'strict', httpOnly: true, secure: 'auto', signed: true },
    csrfOpts: { validity: opts.formValidityMs ?? DEFAULT_FORM_VALIDITY_MS },
  });
  await app.register(fastifyHelmet, {
    contentSecurityPolicy: PAGES_CSP,
    referrerPolicy: { policy: 'no-referrer' },
    // HSTS means something only over TLS, which a proxy in front adds (and then its headers).
    strictTransportSecurity: false,
  });
  await app.register(fastifyView, {
    engine: { eta: new Eta({ autoEscape: true, autoTrim: false }) },
    templates: VIEWS_DIR,
    production: true,
    defaultContext: { lab: opts.lab === true },
  });
  app.addHook('onSend', async (_request, reply) => {
    if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store');
  });

  app.setErrorHandler(async (err: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    // The not-found route below sees every GET no other route has, the API's too: refused before
    // it ran (a body it cannot read, say), those are answered as the API answers.
    if (request.routeOptions.url === NOT_FOUND_ROUTE && !wantsPage(request)) return sendError(err, request, reply);
    // Refused by a hook of the app's before @fastify/cookie's ran (a PSKC body sent to a page, a
    // request without Host): no cookies were read, and the page is made without them.
    request.cookies ??= {};
    // …nor @fastify/helmet's: the page gets the pages' policy all the same.
    if (!reply.hasHeader('content-security-policy')) reply.header('content-security-policy', cspHeader());
    const { status: described, body, headers } = describeError(err);
    const lang = langOf(request, reply);
    const t = COMMON[lang];
    const csrf = err.code === 'FST_CSRF_INVALID_TOKEN' || err.code === 'FST_CSRF_MISSING_SECRET';
    const status = csrf ? 403 : described;
    const retry = Number(headers?.['retry-after'] ?? 60);
    const message = csrf
      ? t.formExpired
      : body.error === 'rate-limited'
        ? format(t.tooMany, { wait: duration(retry, lang) })
        : body.error === 'busy'
          ? t.busy
          : body.error === 'unavailable'
            ? t.unavailable
            : body.error === 'weak-password'
              ? t.weakPassword
              : body.error === 'payload-too-large'
                ? t.tooLarge
                : status < 500
                  ? t.badForm
                  : t.internal;
    if (status >= 500 && status !== 503) {
      request.log.error({ err: { type: err.name, code: err.code, message: err.message, stack: err.stack } }, 'unexpected error');
    } else {
      request.log.debug({ statusCode: status, error: csrf ? 'csrf' : body.error }, 'page request refused');
    }
    if (headers) reply.headers(headers);
    const form = request.routeOptions.config?.pageForm;
    if (form !== undefined && (status < 500 || status === 503)) return form(request, reply, { status, message });
    return render(request, reply, 'message', { title: t.problem, message }, status);
  });

  for (const [name, { type, body }] of Object.entries(assets)) {
    app.get(`/assets/${name}`, { schema: { hide: true } }, async (_request, reply) =>
      reply.header('cache-control', 'public, max-age=86400').type(type).send(body),
    );
  }
  app.get('/', { schema: { hide: true } }, async (request, reply) => render(request, reply, 'home', {}));

  const modules: PageModuleOptions = {
    service: opts.service,
    credentials: opts.credentials,
    clock: opts.clock,
    perUserLimit: opts.perUserLimit,
    ordersLimit: opts.ordersLimit,
    shared: opts.shared,
    oidc: opts.oidc,
    simulatedPassport: opts.simulatedPassport === true,
    lab: opts.lab === true,
  };
  await app.register(loginPages, modules);
  await app.register(orderPages, modules);
  await app.register(activatePages, modules);
  await app.register(operatorPages, modules);

  // A path no route has, asked for by a browser (/logn, /order/x): a page saying so, in the pages'
  // language, with the way to the front page. The API's paths, and a client that does not ask
  // for HTML, get the JSON 404 as before.
  app.get(NOT_FOUND_ROUTE, { schema: { hide: true } }, async (request, reply) => {
    if (!wantsPage(request)) return reply.callNotFound();
    const t = COMMON[langOf(request, reply)];
    return render(request, reply, 'message', { title: t.notFoundTitle, message: t.notFound }, 404);
  });
}
