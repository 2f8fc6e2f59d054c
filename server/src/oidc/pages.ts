/**
 * The few pages the OpenID provider renders itself — the logout question, the page after a
 * logout without a way back, and a request refused before any login — in the service pages' look
 * (their stylesheet) and language (the kv_lang cookie they set, or `ui_locales`), and under their
 * kind of Content-Security-Policy (providerCsp). oidc-provider's defaults load a web font from
 * Google and carry inline styles: a local stand-in must work offline and under a strict policy.
 */
import type { KoaContextWithOIDC } from 'oidc-provider';
import { cspHeader } from '../pages/csp.js';
import { Eta } from 'eta';
import { COMMON, format, isLang, LANG_COOKIE, LANG_COOKIE_OPTIONS, langOfLocales, type Lang, type Texts } from '../pages/i18n.js';
import { switchHref } from '../pages/render.js';
import { VIEWS_DIR } from '../pages/views.js';

const TEXTS: Texts<'logoutTitle' | 'logoutFrom' | 'logoutFromApp' | 'yes' | 'no' | 'doneTitle' | 'done' | 'doneWith' | 'refused'> = {
  en: {
    logoutTitle: 'Log out',
    logoutFrom: 'Do you want to log out of the code display login at {host}?',
    logoutFromApp: 'Do you want to log out of the code display login at {host}? {app} asked for it.',
    yes: 'Yes, log me out',
    no: 'No, stay logged in',
    doneTitle: 'Logged out',
    done: 'You are logged out.',
    doneWith: 'You are logged out of {app}.',
    refused: 'The login could not start',
  },
  da: {
    logoutTitle: 'Log ud',
    logoutFrom: 'Vil du logge ud af kodeviser-login på {host}?',
    logoutFromApp: 'Vil du logge ud af kodeviser-login på {host}? {app} har bedt om det.',
    yes: 'Ja, log mig ud',
    no: 'Nej, forbliv logget ind',
    doneTitle: 'Logget ud',
    done: 'Du er logget ud.',
    doneWith: 'Du er logget ud af {app}.',
    refused: 'Login kunne ikke starte',
  },
};

const html = (s: unknown): string => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/**
 * The language of the pages the user saw: ?lang= (the switch on these pages; then remembered as
 * the pages remember it), their cookie, else the request's ui_locales, else English.
 */
function langOf(ctx: KoaContextWithOIDC): Lang {
  const asked = ctx.query.lang;
  if (isLang(asked)) {
    const { maxAgeS, ...options } = LANG_COOKIE_OPTIONS;
    ctx.cookies.set(LANG_COOKIE, asked, { ...options, maxAge: maxAgeS * 1000, secure: ctx.secure, signed: false, overwrite: true });
    return asked;
  }
  const cookie = ctx.cookies.get(LANG_COOKIE, { signed: false });
  if (isLang(cookie)) return cookie;
  return langOfLocales(ctx.oidc?.params?.ui_locales) ?? 'en';
}

const eta = new Eta({ views: VIEWS_DIR, autoEscape: true, autoTrim: false, cache: true });

/** A page in the layout of the service's pages (header, language switch), `content` already HTML. */
function page(ctx: KoaContextWithOIDC, lang: Lang, title: string, content: string): void {
  const other: Lang = lang === 'en' ? 'da' : 'en';
  ctx.type = 'html';
  ctx.body = eta.render('oidc', {
    title,
    content,
    lang,
    common: COMMON[lang],
    lab: false,
    // A form's page (a refusal after a post) switches on the front page: a post cannot be repeated by a link.
    switchHref: switchHref(ctx.method === 'GET' ? ((ctx.req as { originalUrl?: string }).originalUrl ?? ctx.originalUrl) : '/', other),
    switchLang: other,
  });
}

/** The question before a logout: `form` is the provider's (its xsrf token), both buttons submit it. */
export async function logoutSource(ctx: KoaContextWithOIDC, form: string): Promise<void> {
  const lang = langOf(ctx);
  const t = TEXTS[lang];
  const app = ctx.oidc.client?.clientName ?? ctx.oidc.client?.clientId;
  const question = app === undefined ? format(t.logoutFrom, { host: ctx.host }) : format(t.logoutFromApp, { host: ctx.host, app });
  page(
    ctx,
    lang,
    t.logoutTitle,
    `<p data-testid="logout-question">${html(question)}</p>${form}<p><button autofocus type="submit" form="op.logoutForm" name="logout" value="yes">${html(t.yes)}</button> <button type="submit" form="op.logoutForm" class="secondary">${html(t.no)}</button></p>`,
  );
}

/** After a logout with no post_logout_redirect_uri to go back to. */
export async function postLogoutSuccessSource(ctx: KoaContextWithOIDC): Promise<void> {
  const lang = langOf(ctx);
  const t = TEXTS[lang];
  const app = ctx.oidc.client?.clientName ?? ctx.oidc.client?.clientId;
  const text = app === undefined ? t.done : format(t.doneWith, { app });
  page(ctx, lang, t.doneTitle, `<p class="success" role="status" data-testid="logged-out">${html(text)}</p>`);
}

/** A request refused before anyone logged in (a bad client, redirect URI, PKCE, idp_params…). */
export async function renderError(ctx: KoaContextWithOIDC, out: { error: string; error_description?: string | undefined }): Promise<void> {
  const lang = langOf(ctx);
  page(ctx, lang, TEXTS[lang].refused, `<p data-testid="problem">${html(out.error)}: ${html(out.error_description ?? '')}</p>`);
}

/**
 * Every response of the provider gets the pages' policy, with `script-src 'self'` for the one
 * script it writes: the auto-submitting form of response_mode=form_post (and of a logout with no
 * session to ask about), whose hash oidc-provider adds to script-src itself. A form that ends in a
 * redirect to the relying party (the logout question, a form_post) is held to form-action there
 * too: once the provider has checked the URI against the client, its origin is allowed.
 */
export async function providerCsp(ctx: KoaContextWithOIDC, next: () => Promise<void>): Promise<void> {
  ctx.set('content-security-policy', cspHeader([], ["'self'"]));
  // As the pages: an id_token_hint in a logout URL is not sent on to anyone.
  ctx.set('referrer-policy', 'no-referrer');
  await next();
  const client = ctx.oidc?.client;
  const params = ctx.oidc?.params;
  if (client === undefined || params === undefined) return;
  const back = [
    typeof params.post_logout_redirect_uri === 'string' && client.postLogoutRedirectUriAllowed(params.post_logout_redirect_uri)
      ? params.post_logout_redirect_uri
      : null,
    typeof params.redirect_uri === 'string' && client.redirectUriAllowed(params.redirect_uri) ? params.redirect_uri : null,
  ].flatMap((uri) => (uri === null || !URL.canParse(uri) ? [] : [new URL(uri).origin]));
  if (back.length > 0) {
    const csp = ctx.response.get('content-security-policy');
    ctx.set(
      'content-security-policy',
      csp.replace(/(^|;)form-action ([^;]*)/, (_, start: string, list: string) => `${start}form-action ${list} ${back.join(' ')}`),
    );
  }
}
