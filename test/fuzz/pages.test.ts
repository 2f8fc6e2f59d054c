/**
 * Fuzzing the service's pages: every form route (/login and its code step, /order and its
 * confirmation, /activate and its self proof, the operator's sign-in and console forms) and the
 * GET pages that read a query, KODEVISER_FUZZ_PAGE_RUNS (default 5,000) hostile requests each
 * through inject(). Bodies are forms built as text — fields repeated, missing, unknown, of
 * troublemaking strings, with valid values mixed in —, now and then JSON or garbage under another
 * content type; the CSRF token and the cookies are valid in most cases, so that the handlers run.
 * The property (a page's, not the API's): never a 5xx; every answer a page (text/html) or a
 * redirect, whatever went wrong; never JSON, never a stack trace. Then the pages still log in.
 */
import fc from 'fast-check';
import t from 'tap';
import type { InjectOptions } from 'fastify';
import { activate, admin, device, importDevices, proofFor, testApp } from '../../server/test/http-helpers.js';
import { checkPage, fuzzRoute, type FuzzReply } from './check.js';
import { hostileString, request, type FuzzRequest } from './hostile.js';

const RUNS = Number(process.env.KODEVISER_FUZZ_PAGE_RUNS ?? 5_000);
const PASSWORD = 'fuzz-pages-password';

const FORMS = {
  '/login': ['userId', 'action', 'text'],
  '/login/code': ['otp', 'password'],
  '/order': ['method', 'name', 'street', 'postcode', 'city', 'country', 'centre', 'proofId'],
  '/order/confirm': ['quote', 'price'],
  '/activate': ['proofId', 'serial', 'otp', 'password', 'password2'],
  '/activate/self': ['userId', 'otp', 'password'],
  '/operator/signin': ['token'],
  '/operator/proof': ['nationalId', 'documentType', 'country', 'documentNumber', 'proofUserId'],
  '/operator/activate': ['proofId', 'serial', 'otp', 'password', 'password2'],
  '/operator/collect': ['orderId', 'orderProofId', 'document'],
  '/operator/revoke': ['revokeSerial'],
  '/operator/unlock': ['unlockSerial'],
  '/operator/reinstate': ['reinstateSerial'],
} as const;

const GETS = {
  '/login': ['user', 'action', 'text', 'lang'],
  '/order/track': ['id', 'tracking', 'lang'],
  '/operator/user': ['userId', 'lang'],
  '/activate': ['lang'],
} as const;

t.test('the pages: never a 5xx, always a page', async (t) => {
  const { app } = await testApp(t);
  const d = device('hotp-sha1');
  const spare = device('hotp-sha1');
  await importDevices(app, d, spare);
  const activated = await activate(app, { userId: 'fuzz-page-user', serial: d.serial, otp: d.press(), password: PASSWORD });
  t.equal(activated.statusCode, 200);
  const proofs = [await proofFor(app, 'fuzz-page-user'), await proofFor(app, 'fuzz-page-other')];
  const operator = (
    await app.inject({ method: 'POST', url: '/v1/credentials', headers: admin, payload: { role: 'operator', name: 'fuzz' } })
  ).json().token as string;
  const order = (
    await app.inject({ method: 'POST', url: '/v1/orders', payload: { delivery: { method: 'pickup', centre: 'Aarhus' } } })
  ).json().orderId as string;

  // A browser's cookies and a form's token, as a real session has them: the CSRF secret, a login
  // interaction, an order waiting for its confirmation, a console session.
  const jar = new Map<string, string>();
  const keep = (res: { cookies: Array<{ name: string; value: string }> }) => res.cookies.forEach((c) => jar.set(c.name, c.value));
  const cookieHeader = () => [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
  const form = async (url: string, fields: Record<string, string>) => {
    const page = await app.inject({
      url: url === '/operator/signin' ? '/operator' : url.replace(/\/(code|confirm)$/, ''),
      headers: { cookie: cookieHeader() },
    });
    keep(page);
    const csrf = /name="_csrf" value="([^"]*)"/.exec(page.body)?.[1] ?? '';
    const res = await app.inject({
      method: 'POST',
      url,
      headers: { cookie: cookieHeader(), 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ _csrf: csrf, ...fields }).toString(),
    });
    keep(res);
    return csrf;
  };
  await form('/login', { userId: 'fuzz-page-user' });
  await form('/order', { method: 'pickup', centre: 'Aarhus' });
  await form('/operator/signin', { token: operator });
  const csrf =
    /name="_csrf" value="([^"]*)"/.exec((await app.inject({ url: '/login', headers: { cookie: cookieHeader() } })).body)?.[1] ?? '';
  const goodCookies = cookieHeader();

  const valid: Record<string, fc.Arbitrary<string>> = {
    userId: fc.constantFrom('fuzz-page-user', 'fuzz-page-other', 'nobody'),
    otp: fc.oneof(fc.constant(d.otp.generate(d.counter)), fc.stringMatching(/^[0-9]{6}$/)),
    password: fc.constantFrom(PASSWORD, 'wrong-password-1', 'short'),
    password2: fc.constantFrom(PASSWORD, 'wrong-password-1'),
    serial: fc.constantFrom(
      d.serial,
      spare.serial,
      `${spare.serial.slice(0, 2)}-${spare.serial.slice(2, 9)}-${spare.serial.slice(9)}`,
      '1234567890',
    ),
    proofId: fc.constantFrom(...proofs),
    orderProofId: fc.constantFrom(...proofs, ''),
    orderId: fc.constantFrom(order, 'ord_aaaaaaaaaaaaaaaaaaaaaaaaaa'),
    method: fc.constantFrom('post', 'pickup', 'drone'),
    country: fc.constantFrom('DK', 'dk', 'SE', 'DNK'),
    postcode: fc.constantFrom('8000', '800', 'SW1A 1AA'),
    action: fc.constantFrom('LOG_ON', 'APPROVE', 'SIGN', 'TRANSFER', ''),
    text: fc.oneof(fc.constant('Pay 10 DKK'), fc.string({ maxLength: 140 })),
    nationalId: fc.constantFrom('0101901234', '010190-1234', '3201901234'),
    documentType: fc.constantFrom('passport', 'id-card', 'driving-licence', 'library-card'),
    document: fc.constantFrom('passport', 'id-card', ''),
    token: fc.constantFrom(operator, 'kvc_nope', ''),
    lang: fc.constantFrom('en', 'da', 'xx'),
  };
  const valueOf = (field: string): fc.Arbitrary<string> =>
    fc.oneof({ arbitrary: valid[field] ?? fc.string({ maxLength: 40 }), weight: 3 }, { arbitrary: hostileString, weight: 2 });
  const fieldsOf = (names: readonly string[]): fc.Arbitrary<Array<[string, string]>> =>
    fc
      .tuple(
        ...names.map((n) =>
          fc.option(
            valueOf(n).map((v) => [n, v] as [string, string]),
            { freq: 6, nil: null },
          ),
        ),
        fc.array(fc.tuple(fc.constantFrom(...names, '_csrf', 'extra', '__proto__'), hostileString), { maxLength: 3 }),
      )
      .map((parts) => {
        const extra = parts.pop() as Array<[string, string]>;
        return [...(parts as Array<[string, string] | null>).filter((p): p is [string, string] => p !== null), ...extra];
      });
  const encode = (pairs: Array<[string, string]>): string =>
    pairs.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v.replace(/[\ud800-\udfff]/g, '?'))}`).join('&');

  const postArbitrary = (url: string, names: readonly string[]): fc.Arbitrary<FuzzRequest> =>
    fc
      .record({
        fields: fieldsOf(names),
        csrf: fc.oneof({ arbitrary: fc.constant(csrf), weight: 8 }, { arbitrary: fc.constantFrom('', 'forged'), weight: 1 }),
        cookie: fc.oneof(
          { arbitrary: fc.constant(goodCookies), weight: 8 },
          { arbitrary: fc.constantFrom('', 'kv_csrf=garbage; kv_login=x.y'), weight: 1 },
        ),
        body: fc.oneof(
          { arbitrary: fc.constant<'form'>('form'), weight: 12 },
          { arbitrary: fc.constantFrom<'json' | 'text' | 'none' | 'raw'>('json', 'text', 'none', 'raw'), weight: 1 },
        ),
        raw: fc.uint8Array({ maxLength: 200 }),
      })
      .map(({ fields, csrf: token, cookie, body, raw }) => {
        const pairs: Array<[string, string]> = [['_csrf', token], ...fields];
        const headers: Record<string, string | null> = { cookie: cookie === '' ? null : cookie };
        if (body === 'json')
          return request('POST', url, { ...headers, 'content-type': 'application/json' }, JSON.stringify(Object.fromEntries(pairs)));
        if (body === 'text') return request('POST', url, { ...headers, 'content-type': 'text/plain' }, encode(pairs));
        if (body === 'none') return request('POST', url, headers);
        if (body === 'raw')
          return request('POST', url, { ...headers, 'content-type': 'application/x-www-form-urlencoded' }, Buffer.from(raw));
        return request('POST', url, { ...headers, 'content-type': 'application/x-www-form-urlencoded' }, encode(pairs));
      });
  const getArbitrary = (url: string, names: readonly string[]): fc.Arbitrary<FuzzRequest> =>
    fc
      .record({ fields: fieldsOf(names), cookie: fc.constantFrom(goodCookies, '') })
      .map(({ fields, cookie }) => request('GET', `${url}?${encode(fields)}`, { cookie: cookie === '' ? null : cookie }));

  const send = async (req: FuzzRequest): Promise<FuzzReply> => {
    const res = await app.inject(req as InjectOptions);
    return { statusCode: res.statusCode, headers: res.headers, body: res.body };
  };
  for (const [url, names] of Object.entries(FORMS)) await fuzzRoute(t, `POST ${url}`, send, postArbitrary(url, names), RUNS, checkPage);
  for (const [url, names] of Object.entries(GETS)) await fuzzRoute(t, `GET ${url}`, send, getArbitrary(url, names), RUNS, checkPage);

  // Still the service: a fresh session logs in through the pages.
  jar.clear();
  await form('/login', { userId: 'fuzz-page-user' });
  const page = await app.inject({ url: '/login/code', headers: { cookie: cookieHeader() } });
  const token = /name="_csrf" value="([^"]*)"/.exec(page.body)?.[1] ?? '';
  const info = (await app.inject({ url: `/v1/tokens/${d.serial}`, headers: admin })).json() as {
    blockedUntil: number | null;
    status: string;
  };
  if (info.status === 'enabled' && info.blockedUntil === null) {
    const done = await app.inject({
      method: 'POST',
      url: '/login/code',
      headers: { cookie: cookieHeader(), 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ _csrf: token, otp: d.otp.generate(d.counter + 5), password: PASSWORD }).toString(),
    });
    t.match(done.body, 'You are logged in as fuzz-page-user.', 'the pages still log in');
  } else {
    t.pass(`the fuzzed token ended ${info.status}${info.blockedUntil !== null ? ', blocked' : ''}: nothing to log in with`);
  }
});
