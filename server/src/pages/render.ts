/**
 * How a page is sent: the view (server/views/<name>.eta, Eta with every `<%= %>` escaped) inside
 * the layout, with what every page needs — the language and its common texts, a CSRF token for
 * its forms, and the language switch's link. A page a form was posted to switches language on
 * the GET page the form belongs to (`home`), since a POST cannot be repeated by a link.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { COMMON, langOf, LANGUAGES, type Lang } from './i18n.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * A page route's form, rendered again with `problem` when the request fails before or in its
     * handler (an expired CSRF token, a rate limit, a busy service): the person sees the form and
     * what went wrong, never an error document.
     */
    pageForm?: (request: FastifyRequest, reply: FastifyReply, problem: PageProblem) => Promise<string>;
    /** The GET page a POST route's page belongs to (where the language switch leads). */
    pageHome?: string;
  }
}

export interface PageProblem {
  status: number;
  message: string;
}

/**
 * The link that shows the page at `url` in the other language: its path, always one slash first — a path
 * asked for as //elsewhere.example/x (or /\elsewhere…, which browsers read alike) would otherwise
 * make the link a protocol-relative one, off this site.
 */
export function switchHref(url: string, to: Lang): string {
  const [path = '/', query = ''] = url.split('?', 2);
  const params = new URLSearchParams(query);
  params.set('lang', to);
  return `/${path.replace(/^[/\\]+/, '')}?${params.toString()}`;
}

/** Sends `view` with `data` as an HTML page with `status`. */
export async function render(request: FastifyRequest, reply: FastifyReply, view: string, data: object, status = 200): Promise<string> {
  const lang = langOf(request, reply);
  const other = LANGUAGES.find((l) => l !== lang) ?? 'en';
  return reply.code(status).viewAsync(`${view}.eta`, {
    ...data,
    lang,
    common: COMMON[lang],
    csrf: reply.generateCsrf(),
    switchHref: switchHref(request.method === 'GET' ? request.url : (request.routeOptions.config.pageHome ?? '/'), other),
    switchLang: other,
  });
}

/** What a form's page says beyond its fields: a problem at the top, and each field's own. */
export interface FormState {
  problem?: PageProblem;
  errors?: Readonly<Record<string, string | undefined>>;
  /** the page's status, when it is neither of those (a refusal said next to its field: 401) */
  status?: number;
}

/**
 * A form's page: `problem` said at the top, `errors` next to their fields; its status the one
 * given, else the problem's, else 400 when a field is wrong, else 200.
 */
export function renderForm(
  request: FastifyRequest,
  reply: FastifyReply,
  view: string,
  data: object,
  state: FormState = {},
): Promise<string> {
  const errors = state.errors ?? {};
  const wrong = Object.values(errors).some((e) => e !== undefined);
  return render(
    request,
    reply,
    view,
    { ...data, errors, problem: state.problem?.message ?? null },
    state.status ?? state.problem?.status ?? (wrong ? 400 : 200),
  );
}
