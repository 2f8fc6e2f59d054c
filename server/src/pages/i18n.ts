/**
 * The pages' languages: English by default, Danish by the switch in every page's header (a link
 * with ?lang=da, remembered in a cookie), so that it works without JavaScript. Each page module
 * keeps its own texts as a `Texts` object, both languages side by side (the compiler checks that
 * neither misses a key); the texts every page shares are COMMON here.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';

export const LANGUAGES = ['en', 'da'] as const;
export type Lang = (typeof LANGUAGES)[number];

/** A page's texts in every language, each with the same keys. */
export type Texts<K extends string> = Readonly<Record<Lang, Readonly<Record<K, string>>>>;

export const LANG_COOKIE = 'kv_lang';
/** How the language cookie is kept (the OpenID provider's pages set it too): a year, this site, no script. */
export const LANG_COOKIE_OPTIONS = { path: '/', maxAgeS: 365 * 24 * 3600, httpOnly: true, sameSite: 'lax' } as const;

export const isLang = (v: unknown): v is Lang => typeof v === 'string' && (LANGUAGES as readonly string[]).includes(v);

/** Remembers `lang` for the next pages (Secure behind TLS). */
function rememberLang(reply: FastifyReply, lang: Lang): void {
  const { maxAgeS, ...options } = LANG_COOKIE_OPTIONS;
  reply.setCookie(LANG_COOKIE, lang, { ...options, maxAge: maxAgeS, secure: 'auto' });
}

/** The request's language: ?lang= (then remembered), else the cookie, else English. */
export function langOf(request: FastifyRequest, reply: FastifyReply): Lang {
  const asked = (request.query as { lang?: unknown } | undefined)?.lang;
  if (isLang(asked)) {
    if (request.cookies[LANG_COOKIE] !== asked) rememberLang(reply, asked);
    return asked;
  }
  const kept = request.cookies[LANG_COOKIE];
  return isLang(kept) ? kept : 'en';
}

/**
 * The first language of a list of BCP 47 tags (OpenID Connect's ui_locales, space-separated, most
 * preferred first) that the pages have, by its primary subtag; null when none is.
 */
export function langOfLocales(locales: unknown): Lang | null {
  if (typeof locales !== 'string') return null;
  for (const tag of locales.split(' ')) {
    const primary = tag.split('-')[0]?.toLowerCase();
    if (isLang(primary)) return primary;
  }
  return null;
}

/**
 * A relying party's preferred language (ui_locales), taken when the user has not chosen one here
 * (no ?lang=, no cookie), and remembered like a choice, so every step of the login speaks it.
 */
export function preferLang(request: FastifyRequest, reply: FastifyReply, preferred: Lang | null): void {
  if (preferred === null || isLang((request.query as { lang?: unknown } | undefined)?.lang) || isLang(request.cookies[LANG_COOKIE])) return;
  rememberLang(reply, preferred);
  request.cookies[LANG_COOKIE] = preferred;
}

/** `template` with each {name} replaced by params[name]. */
export function format(template: string, params: Readonly<Record<string, string | number>>): string {
  return template.replace(/\{(\w+)\}/g, (whole, name: string) => (name in params ? String(params[name]) : whole));
}

/** A wait as a person reads it: seconds under two minutes, else whole minutes (rounded up). */
export function duration(seconds: number, lang: Lang): string {
  const s = Math.max(1, Math.ceil(seconds));
  if (s < 120) return lang === 'da' ? `${s} sekunder` : `${s} seconds`;
  const m = Math.ceil(s / 60);
  return lang === 'da' ? `${m} minutter` : `${m} minutes`;
}

/** An amount in øre as money: "41.76 DKK" / "41,76 kr.", and "free" / "gratis" for nothing. */
export function price(ore: number, lang: Lang): string {
  if (ore === 0) return lang === 'da' ? 'gratis' : 'free';
  const kroner = `${Math.floor(ore / 100)}${lang === 'da' ? ',' : '.'}${String(ore % 100).padStart(2, '0')}`;
  return lang === 'da' ? `${kroner} kr.` : `${kroner} DKK`;
}

export const COMMON: Texts<
  | 'service'
  | 'skip'
  | 'switchTo'
  | 'switchLabel'
  | 'navLogin'
  | 'navOrder'
  | 'navActivate'
  | 'navOperator'
  | 'navLab'
  | 'problem'
  | 'notFoundTitle'
  | 'notFound'
  | 'formExpired'
  | 'badForm'
  | 'tooLarge'
  | 'tooMany'
  | 'busy'
  | 'unavailable'
  | 'internal'
  | 'required'
  | 'tooLong'
  | 'tooShort'
  | 'userIdFormat'
  | 'otpFormat'
  | 'serialFormat'
  | 'serialCheck'
  | 'passwordsDiffer'
  | 'weakPassword'
  | 'blocked'
  | 'home'
  | 'homeIntro'
> = {
  en: {
    service: 'kodeviser — code display service',
    skip: 'Skip to the content',
    switchTo: 'Dansk',
    switchLabel: 'Skift til dansk',
    navLogin: 'Log in',
    navOrder: 'Order a code display',
    navActivate: 'Activate',
    navOperator: 'Service centre',
    navLab: 'Device lab',
    problem: 'There is a problem',
    notFoundTitle: 'Page not found',
    notFound: 'There is no page at this address. Check it, or start again from the front page.',
    formExpired: 'The form had expired. Please fill it in again.',
    badForm: 'The form could not be read. Please fill it in again.',
    tooLarge: 'What was sent is too large.',
    tooMany: 'Too many attempts. Try again in {wait}.',
    busy: 'The service is busy. Try again in a moment.',
    unavailable: 'The service is unavailable just now. Try again in a moment.',
    internal: 'Something went wrong on our side. Try again later.',
    required: 'Enter the {field}.',
    tooLong: 'The {field} is too long (at most {max} characters).',
    tooShort: 'The {field} is too short (at least {min} characters).',
    userIdFormat: 'A user ID has letters, digits and signs, and no spaces.',
    otpFormat: 'The one-time code is the 6 digits the code display shows.',
    serialFormat: 'The serial number is printed on the back as NN-NNNNNNN-N (ten digits).',
    serialCheck: 'That serial number does not exist: check the digits on the back of the device.',
    passwordsDiffer: 'The two passwords are not the same.',
    weakPassword: 'That password is too easy to guess. Choose a longer or less common one.',
    blocked: 'Your code display is temporarily blocked after too many failed attempts. Try again in {wait}.',
    home: 'The code display service',
    homeIntro: 'Order a code display, activate it, log in and approve with its codes.',
  },
  da: {
    service: 'kodeviser — kodeviser-tjenesten',
    skip: 'Gå til indholdet',
    switchTo: 'English',
    switchLabel: 'Switch to English',
    navLogin: 'Log på',
    navOrder: 'Bestil en kodeviser',
    navActivate: 'Aktivér',
    navOperator: 'Borgerservice',
    navLab: 'Enhedslaboratorium',
    problem: 'Der er et problem',
    notFoundTitle: 'Siden findes ikke',
    notFound: 'Der er ingen side på denne adresse. Tjek den, eller begynd forfra på forsiden.',
    formExpired: 'Formularen var udløbet. Udfyld den igen.',
    badForm: 'Formularen kunne ikke læses. Udfyld den igen.',
    tooLarge: 'Det sendte er for stort.',
    tooMany: 'For mange forsøg. Prøv igen om {wait}.',
    busy: 'Tjenesten har travlt. Prøv igen om et øjeblik.',
    unavailable: 'Tjenesten er ikke tilgængelig lige nu. Prøv igen om et øjeblik.',
    internal: 'Der gik noget galt hos os. Prøv igen senere.',
    required: 'Indtast {field}.',
    tooLong: '{Field} er for langt (højst {max} tegn).',
    tooShort: '{Field} er for kort (mindst {min} tegn).',
    userIdFormat: 'Et bruger-id består af bogstaver, tal og tegn, uden mellemrum.',
    otpFormat: 'Engangskoden er de 6 cifre, kodeviseren viser.',
    serialFormat: 'Serienummeret står på bagsiden som NN-NNNNNNN-N (ti cifre).',
    serialCheck: 'Det serienummer findes ikke: tjek cifrene på bagsiden af enheden.',
    passwordsDiffer: 'De to adgangskoder er ikke ens.',
    weakPassword: 'Den adgangskode er for let at gætte. Vælg en længere eller mindre almindelig.',
    blocked: 'Din kodeviser er midlertidigt spærret efter for mange fejlede forsøg. Prøv igen om {wait}.',
    home: 'Kodeviser-tjenesten',
    homeIntro: 'Bestil en kodeviser, aktivér den, log på og godkend med dens koder.',
  },
};
