/**
 * A browser's view of the server's pages, through inject(): cookies kept (by name and path, gone
 * when cleared or expired), forms posted as application/x-www-form-urlencoded with the CSRF token
 * of the last page shown, redirects followed as a browser follows them (a GET of the Location),
 * and what a test reads of a page: a form field's value, an element's text by its data-testid, the
 * message next to a field, the cookies its response set.
 */
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import type { Test } from 'tap';

export interface FormPage {
  status: number;
  body: string;
  headers: LightMyRequestResponse['headers'];
  /** the URL this page was answered for (after redirects) */
  url: string;
  /** the first field named `name`: an input's value (a radio's or checkbox's only when checked), a textarea's text, a select's chosen option */
  field(name: string): string | undefined;
  /** the text of the first element with data-testid=`testid`: its tags dropped, entities decoded, white space collapsed */
  text(testid: string): string | undefined;
  /** the texts of every element with data-testid=`testid`, in page order */
  texts(testid: string): string[];
  /** the message next to field `name`: the text of the element with id `${name}-error`, if any */
  error(name: string): string | undefined;
  /** the cookies this page's own response set (not a redirect's before it), with their attributes, as light-my-request parses them */
  cookies: LightMyRequestResponse['cookies'];
}

export interface PostOptions {
  /** the `_csrf` sent: by default the last page's; null sends none */
  csrf?: string | null;
  /** follow a redirect (default true) */
  follow?: boolean;
  headers?: Record<string, string>;
}

export interface FormSession {
  get(url: string, headers?: Record<string, string>): Promise<FormPage>;
  post(url: string, fields: Record<string, string>, opts?: PostOptions): Promise<FormPage>;
  /** a cookie's value as the browser holds it, for `path` (default: any path) */
  cookie(name: string, path?: string): string | undefined;
  /** every cookie the browser holds (expired ones dropped), e.g. to copy them into another session */
  cookies(): KeptCookie[];
  /** keeps `name`=`value` for `path` (default '/') until the session ends, as if set by the server: a forged or a copied cookie */
  setCookie(name: string, value: string, path?: string): void;
  /** the last page shown, or null */
  readonly last: FormPage | null;
}

export interface KeptCookie {
  name: string;
  value: string;
  path: string;
  /** unix ms; null: for the session */
  expires: number | null;
}

const ENTITIES: Readonly<Record<string, string>> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: '\u00a0' };

/** HTML text with its character references decoded. */
export function decodeHtml(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (whole, ref: string) => {
    if (ref[0] === '#') return String.fromCodePoint(ref[1] === 'x' || ref[1] === 'X' ? parseInt(ref.slice(2), 16) : Number(ref.slice(1)));
    return ENTITIES[ref.toLowerCase()] ?? whole;
  });
}

/** A start tag's attributes (`<input name="a" checked>` → {name: 'a', checked: ''}), values decoded. */
export function attributesOf(tag: string): Record<string, string> {
  const attrs: Record<string, string> = {};
  const inner = tag.replace(/^<[a-zA-Z][\w-]*/, '').replace(/\/?>$/, '');
  for (const m of inner.matchAll(/([^\s=/>]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+)))?/g)) {
    attrs[m[1]!.toLowerCase()] = decodeHtml(m[2] ?? m[3] ?? m[4] ?? '');
  }
  return attrs;
}

/** The first field named `name` in `html`, as a form would send it. */
export function fieldOf(html: string, name: string): string | undefined {
  for (const m of html.matchAll(/<(input|textarea|select)\b[^>]*>/gi)) {
    const attrs = attributesOf(m[0]);
    if (attrs.name !== name) continue;
    const kind = m[1]!.toLowerCase();
    const rest = html.slice(m.index + m[0].length);
    if (kind === 'textarea') return decodeHtml(rest.slice(0, rest.search(/<\/textarea>/i)));
    if (kind === 'select') {
      const options = [...rest.slice(0, rest.search(/<\/select>/i)).matchAll(/<option\b[^>]*>([^<]*)/gi)].map((o) => ({
        attrs: attributesOf(o[0].slice(0, o[0].indexOf('>') + 1)),
        text: decodeHtml(o[1] ?? '').trim(),
      }));
      const chosen = options.find((o) => 'selected' in o.attrs) ?? options[0];
      return chosen === undefined ? undefined : (chosen.attrs.value ?? chosen.text);
    }
    const type = (attrs.type ?? 'text').toLowerCase();
    if ((type === 'radio' || type === 'checkbox') && !('checked' in attrs)) continue;
    return attrs.value ?? (type === 'radio' || type === 'checkbox' ? 'on' : '');
  }
  return undefined;
}

/** The texts of the elements whose attribute `attr` is `value` in `html`, in order: tags dropped, entities decoded, white space collapsed. */
function textsWhere(html: string, attr: string, value: string): string[] {
  const starts = new RegExp(`<([a-zA-Z][\\w-]*)\\b[^>]*\\s${attr}="${value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}"[^>]*>`, 'g');
  return [...html.matchAll(starts)].map((start) => {
    const tag = start[1]!;
    const from = start.index + start[0].length;
    // The element ends at its own end tag: elements of its name inside it are counted.
    const tags = new RegExp(`<(/?)${tag}\\b[^>]*>`, 'gi');
    tags.lastIndex = from;
    let depth = 1;
    let end = html.length;
    for (let m = tags.exec(html); m !== null; m = tags.exec(html)) {
      depth += m[1] === '/' ? -1 : 1;
      if (depth === 0) {
        end = m.index;
        break;
      }
    }
    return decodeHtml(html.slice(from, end).replace(/<[^>]*>/g, ''))
      .replace(/\s+/g, ' ')
      .trim();
  });
}

/** The text of the first element with data-testid=`testid` in `html`. */
export const textOf = (html: string, testid: string): string | undefined => textsWhere(html, 'data-testid', testid)[0];

/** The texts of every element with data-testid=`testid` in `html`. */
export const textsOf = (html: string, testid: string): string[] => textsWhere(html, 'data-testid', testid);

/** The message shown next to field `name` in `html` (the element with id `${name}-error`, as aria-describedby names it). */
export const errorOf = (html: string, name: string): string | undefined => textsWhere(html, 'id', `${name}-error`)[0];

const pathMatches = (cookiePath: string, path: string): boolean =>
  path === cookiePath || path.startsWith(cookiePath.endsWith('/') ? cookiePath : `${cookiePath}/`);

/** A session with `app`'s pages: `headers` go with every request. */
export function formSession(app: FastifyInstance, headers: Record<string, string> = {}): FormSession {
  const jar = new Map<string, KeptCookie>();
  let last: FormPage | null = null;

  const keep = (res: LightMyRequestResponse, url: string): void => {
    const now = Date.now();
    const requestPath = new URL(url, 'http://localhost').pathname;
    for (const c of res.cookies as Array<{ name: string; value: string; path?: string; maxAge?: number; expires?: Date }>) {
      // A cookie without a Path is the request's directory's (RFC 6265 §5.1.4).
      const path = c.path ?? (requestPath.lastIndexOf('/') > 0 ? requestPath.slice(0, requestPath.lastIndexOf('/')) : '/');
      const expires = c.maxAge !== undefined ? now + c.maxAge * 1000 : c.expires !== undefined ? c.expires.getTime() : null;
      const key = `${c.name};${path}`;
      if (expires !== null && expires <= now) jar.delete(key);
      else jar.set(key, { name: c.name, value: c.value, path, expires });
    }
  };

  const cookieHeader = (url: string): Record<string, string> => {
    const path = new URL(url, 'http://localhost').pathname;
    const now = Date.now();
    const sent = [...jar.values()]
      .filter((c) => (c.expires === null || c.expires > now) && pathMatches(c.path, path))
      // Longer paths first, as a browser sends them.
      .sort((a, b) => b.path.length - a.path.length)
      .map((c) => `${c.name}=${c.value}`);
    return sent.length === 0 ? {} : { cookie: sent.join('; ') };
  };

  const pageOf = (res: LightMyRequestResponse, url: string): FormPage => {
    const body = res.body;
    last = {
      status: res.statusCode,
      body,
      headers: res.headers,
      url,
      field: (name) => fieldOf(body, name),
      text: (testid) => textOf(body, testid),
      texts: (testid) => textsOf(body, testid),
      error: (name) => errorOf(body, name),
      cookies: res.cookies,
    };
    return last;
  };

  const followed = async (res: LightMyRequestResponse, url: string, follow: boolean): Promise<FormPage> => {
    keep(res, url);
    const location = res.headers.location;
    if (follow && [301, 302, 303, 307, 308].includes(res.statusCode) && typeof location === 'string') {
      const next = new URL(location, new URL(url, 'http://localhost'));
      return session.get(next.pathname + next.search);
    }
    return pageOf(res, url);
  };

  const session: FormSession = {
    async get(url, more = {}) {
      const res = await app.inject({ method: 'GET', url, headers: { ...headers, ...more, ...cookieHeader(url) } });
      return followed(res, url, true);
    },
    async post(url, fields, opts = {}) {
      const csrf = opts.csrf === undefined ? last?.field('_csrf') : opts.csrf;
      const form = new URLSearchParams(csrf === null || csrf === undefined ? fields : { _csrf: csrf, ...fields });
      const res = await app.inject({
        method: 'POST',
        url,
        headers: { ...headers, ...opts.headers, ...cookieHeader(url), 'content-type': 'application/x-www-form-urlencoded' },
        payload: form.toString(),
      });
      return followed(res, url, opts.follow !== false);
    },
    cookie(name, path) {
      for (const c of jar.values()) if (c.name === name && (path === undefined || pathMatches(c.path, path))) return c.value;
      return undefined;
    },
    cookies() {
      const now = Date.now();
      return [...jar.values()].filter((c) => c.expires === null || c.expires > now).map((c) => ({ ...c }));
    },
    setCookie(name, value, path = '/') {
      jar.set(`${name};${path}`, { name, value, path, expires: null });
    },
    get last() {
      return last;
    },
  };
  return session;
}

/**
 * Asserts that `page` is a page as every page answer must be, whatever went wrong: `status`, HTML
 * under the pages' CSP (which allows no script), and neither JSON nor a stack trace in it.
 */
export function isPage(t: Test, page: FormPage, status: number, what: string): void {
  t.equal(page.status, status, `${what}: ${status}`);
  t.match(page.headers['content-type'], /^text\/html/, `${what}: HTML`);
  t.match(page.headers['content-security-policy'], /default-src 'none'/, `${what}: the CSP`);
  t.notMatch(page.headers['content-security-policy'], /script-src/, `${what}: no script allowed`);
  t.notMatch(page.body, /"error"\s*:|"result"\s*:|\bat [\w.<>]+ \(|node_modules|\.ts:\d+/, `${what}: no JSON, no stack trace`);
}
