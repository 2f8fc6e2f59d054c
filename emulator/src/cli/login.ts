/**
 * `kodeviser login`: an OpenID Connect login completed without a browser, for CI. It follows the
 * authorization URL's redirects to the server's /login pages (plain HTML forms), posts the user ID,
 * presses the device (the file written back, as `press` does) and posts its code with the
 * password — each form with its CSRF token, cookies kept as a browser keeps them — until a redirect
 * leaves the server for the relying party; that URL (with `code` and `state`) is printed on stdout.
 * A page that refuses (a wrong code, a block, an expired login) ends it with its message.
 */
import { helpText, parseCommand, type CommandSpec } from './args.js';
import { loadDeviceAt, saveDevice } from './device.js';
import { runtimeError, usageError } from './errors.js';
import type { CliIo } from './io.js';

const spec = {
  name: 'login',
  usage: 'login --authorize-url URL --user ID --device FILE (--password P | KODEVISER_PASSWORD) [--json]',
  help: `Completes an OpenID Connect login at a kodeviser server without a browser: follows URL (the
relying party's authorization request) to the login pages, enters the user ID, presses the device
for its code, enters it and the password, and prints where the server sends the browser back
(the relying party's redirect URI with code and state).
  --authorize-url URL  the authorization request, e.g. http://127.0.0.1:8080/oidc/auth?client_id=…
  --user ID            the user ID
  --device FILE        the user's device file: pressed once, written back
  --password P         the password (or in the environment as KODEVISER_PASSWORD, kept out of ps)
  --json               print {redirect, code, state} instead`,
  options: {
    'authorize-url': { type: 'string' },
    user: { type: 'string' },
    device: { type: 'string' },
    password: { type: 'string' },
    json: { type: 'boolean' },
  },
  positionals: [],
} satisfies CommandSpec<Record<string, { type: 'string' | 'boolean' }>>;

/** What `login` needs beyond the CLI's io: the network and the environment. */
export interface LoginIo extends CliIo {
  fetch: typeof fetch;
  env: NodeJS.ProcessEnv;
}

interface Cookie {
  name: string;
  value: string;
  path: string;
}

/** A browser's cookie jar, as far as one origin's pages need it (RFC 6265 §5.1.4 path-match). */
class Jar {
  private readonly cookies: Cookie[] = [];

  keep(res: Response, url: URL): void {
    for (const line of res.headers.getSetCookie()) {
      const [pair = '', ...attributes] = line.split(';').map((p) => p.trim());
      const eq = pair.indexOf('=');
      if (eq <= 0) continue;
      const name = pair.slice(0, eq);
      const value = pair.slice(eq + 1);
      const attr = (key: string) => attributes.find((a) => a.toLowerCase().startsWith(`${key}=`))?.slice(key.length + 1);
      const path = attr('path') ?? url.pathname.replace(/\/[^/]*$/, '/');
      const expired = attr('max-age') === '0' || (attr('expires') !== undefined && Date.parse(attr('expires')!) <= Date.now());
      const at = this.cookies.findIndex((c) => c.name === name && c.path === path);
      if (at >= 0) this.cookies.splice(at, 1);
      if (!expired && value !== '') this.cookies.push({ name, value, path });
    }
  }

  header(url: URL): string {
    const matches = (p: string) => url.pathname === p || url.pathname.startsWith(p.endsWith('/') ? p : `${p}/`);
    return this.cookies
      .filter((c) => matches(c.path))
      .map((c) => `${c.name}=${c.value}`)
      .join('; ');
  }
}

const decode = (s: string): string =>
  s.replace(/&(#x[0-9a-f]+|#[0-9]+|amp|lt|gt|quot|apos);/gi, (whole, ref: string) => {
    if (ref[0] === '#') return String.fromCodePoint(ref[1]?.toLowerCase() === 'x' ? parseInt(ref.slice(2), 16) : Number(ref.slice(1)));
    return ({ amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" } as Record<string, string>)[ref.toLowerCase()] ?? whole;
  });

/** The form posting to `action` in `html`: its hidden fields. */
function formOf(html: string, action: string): Record<string, string> | null {
  const start = html.search(new RegExp(`<form[^>]*action="${action.replace(/[/?]/g, '\\$&')}"`));
  if (start < 0) return null;
  const form = html.slice(start, html.indexOf('</form>', start));
  const fields: Record<string, string> = {};
  for (const m of form.matchAll(/<input[^>]*type="hidden"[^>]*>/g)) {
    const name = /name="([^"]*)"/.exec(m[0])?.[1];
    if (name !== undefined) fields[name] = decode(/value="([^"]*)"/.exec(m[0])?.[1] ?? '');
  }
  return fields;
}

const problemOf = (html: string): string | null => {
  const m = /data-testid="problem"[^>]*>([^<]*)</.exec(html);
  return m?.[1] === undefined ? null : decode(m[1]).trim();
};

export async function login(argv: readonly string[], io: CliIo): Promise<number> {
  const parsed = parseCommand(spec, argv);
  if (parsed.help) {
    io.stdout(helpText(spec));
    return 0;
  }
  const v = parsed.values as { 'authorize-url'?: string; user?: string; device?: string; password?: string; json?: boolean };
  const lio: LoginIo = 'fetch' in io && 'env' in io ? (io as LoginIo) : { ...io, fetch: globalThis.fetch, env: process.env };
  if (v['authorize-url'] === undefined) throw usageError('login: --authorize-url URL is required');
  if (v.user === undefined) throw usageError('login: --user ID is required');
  if (v.device === undefined) throw usageError('login: --device FILE is required');
  const password = v.password ?? lio.env.KODEVISER_PASSWORD;
  if (password === undefined || password === '') throw usageError('login: --password P (or KODEVISER_PASSWORD) is required');
  let start: URL;
  try {
    start = new URL(v['authorize-url']);
  } catch {
    throw usageError(`--authorize-url must be a URL, got ${JSON.stringify(v['authorize-url'])}`);
  }
  if (start.protocol !== 'http:' && start.protocol !== 'https:') throw usageError('--authorize-url must be an http:// or https:// URL');
  const devicePath = io.path(v.device);

  const jar = new Jar();
  /** One request, its redirects followed while they stay on the server; a redirect away from it ends the login. */
  const go = async (url: URL, form?: Record<string, string>): Promise<{ url: URL; html: string } | { away: URL }> => {
    let next: URL = url;
    let body: Record<string, string> | undefined = form;
    for (let hops = 0; hops < 20; hops++) {
      let res: Response;
      try {
        res = await lio.fetch(next, {
          method: body === undefined ? 'GET' : 'POST',
          redirect: 'manual',
          headers: {
            cookie: jar.header(next),
            ...(body === undefined ? {} : { 'content-type': 'application/x-www-form-urlencoded' }),
          },
          ...(body === undefined ? {} : { body: new URLSearchParams(body).toString() }),
        });
      } catch (e) {
        throw runtimeError(`cannot reach ${next.origin}: ${(e as Error).message}`);
      }
      jar.keep(res, next);
      const location = res.headers.get('location');
      if (res.status >= 300 && res.status < 400 && location !== null) {
        const to = new URL(location, next);
        if (to.origin !== start.origin) return { away: to };
        next = to;
        body = undefined;
        continue;
      }
      const html = await res.text();
      if (res.status >= 400 || !(res.headers.get('content-type') ?? '').startsWith('text/html')) {
        throw runtimeError(`${next.pathname} answered ${res.status}: ${problemOf(html) ?? html.slice(0, 200)}`);
      }
      return { url: next, html };
    }
    throw runtimeError('too many redirects');
  };
  const expectPage = (r: Awaited<ReturnType<typeof go>>, what: string) => {
    if ('away' in r) throw runtimeError(`sent back to ${r.away.origin} before ${what}: ${r.away.href}`);
    return r;
  };

  const refused = (r: Awaited<ReturnType<typeof go>>): void => {
    const error = 'away' in r ? r.away.searchParams.get('error') : null;
    if (error !== null && 'away' in r)
      throw runtimeError(
        `refused: ${error}${r.away.searchParams.has('error_description') ? ` (${r.away.searchParams.get('error_description')})` : ''}`,
      );
  };
  const started = await go(start);
  refused(started);
  const first = expectPage(started, 'the login page');
  const userForm = formOf(first.html, '/login');
  if (userForm === null) throw runtimeError(`no login form at ${first.url.pathname}: ${problemOf(first.html) ?? 'not a login page'}`);
  const second = expectPage(await go(new URL('/login', first.url), { ...userForm, userId: v.user }), 'the code was asked for');
  const codeForm = formOf(second.html, '/login/code');
  if (codeForm === null) throw runtimeError(problemOf(second.html) ?? 'the code page did not come');

  const machine = loadDeviceAt(devicePath, io.nowMs() * 1000, io.stderr);
  machine.press();
  saveDevice(devicePath, machine);
  const code = machine.state().lastCode;
  if (code === null) throw runtimeError(`the device shows no code (LCD "${machine.lcd()}")`);

  const done = await go(new URL('/login/code', second.url), { ...codeForm, otp: code, password });
  refused(done);
  if (!('away' in done)) throw runtimeError(problemOf(done.html) ?? `the login ended at ${done.url.pathname}, not at the relying party`);
  const redirect = done.away;
  if (v.json === true) {
    io.stdout(
      `${JSON.stringify({ redirect: redirect.href, code: redirect.searchParams.get('code'), state: redirect.searchParams.get('state') })}\n`,
    );
  } else {
    io.stdout(`${redirect.href}\n`);
  }
  return 0;
}
