/**
 * /login through the whole fastify pipeline (inject): the two steps, the same decision as
 * POST /v1/authenticate (accept with a receipt, the one refusal, the block), the approval text
 * carried in a signed cookie, and every bad input answered on the page — never JSON, never a
 * stack trace.
 */
import t from 'tap';
import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { decodeJwt } from 'jose';
import { createHash } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { formSession, type FormPage, type FormSession } from './helpers/forms.js';
import { activate, admin, device, importDevices, testApp, type Device } from './http-helpers.js';

const PASSWORD = 'pages-password-1';

async function activeUser(app: FastifyInstance, userId: string): Promise<Device> {
  const d = device('hotp-sha1');
  await importDevices(app, d);
  const res = await activate(app, { userId, serial: d.serial, otp: d.press(), password: PASSWORD });
  if (res.statusCode !== 200) throw new Error(`activate: ${res.statusCode} ${res.body}`);
  return d;
}

/** Logs in through the pages: the first step, then the code and password; the last response. */
async function logIn(b: FormSession, userId: string, otp: string, password: string, start = '/login'): Promise<FormPage> {
  const page = await b.get(start);
  const first = await b.post('/login', { userId, action: page.field('action') ?? '', text: page.field('text') ?? '' }, { follow: false });
  if (first.status !== 303) return first;
  await b.get('/login/code');
  return b.post('/login/code', { otp, password });
}

t.test('the login page: labelled, with a CSP that allows no script, and in Danish by the switch', async (t) => {
  const { app } = await testApp(t);
  const b = formSession(app);
  const res = await b.get('/login');
  t.equal(res.status, 200);
  t.match(res.headers['content-type'], /^text\/html/);
  const csp = String(res.headers['content-security-policy']);
  t.match(csp, /default-src 'none'/);
  t.notMatch(csp, /unsafe-inline|script-src/, 'no script at all, so no inline one');
  t.match(csp, /form-action 'self'/);
  t.match(csp, /frame-ancestors 'none'/);
  t.equal(res.headers['cache-control'], 'no-store');
  t.equal(res.headers['referrer-policy'], 'no-referrer');
  t.match(res.body, '<label for="userId">User ID</label>');
  t.match(res.body, '<html lang="en">');
  const csrf = res.cookies.find((c) => c.name === 'kv_csrf');
  t.ok(csrf?.httpOnly, 'the CSRF secret is HttpOnly');
  t.equal(csrf?.sameSite, 'Strict');

  const da = await b.get('/login?lang=da');
  t.match(da.body, '<label for="userId">Bruger-id</label>');
  t.match(da.body, '<html lang="da">');
  t.match(da.body, 'href="/login?lang=en"', 'the switch leads back to English');
  // Remembered: the next page is Danish without asking.
  t.match((await b.get('/login')).body, 'Bruger-id');
  t.match((await b.get('/')).body, 'Bestil en kodeviser');
});

t.test('a page that is not there: a page saying so for a browser, JSON for the API and for other clients', async (t) => {
  const { app } = await testApp(t);
  const b = formSession(app);
  const html = { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' };
  for (const path of ['/logn', '/login/x', '/order/track/x/y', '/nothing?lang=da']) {
    const res = await b.get(path, html);
    t.equal(res.status, 404, path);
    t.match(res.headers['content-type'], /^text\/html/, `${path}: a page`);
    t.match(String(res.headers['content-security-policy']), /default-src 'none'/, `${path}: under the pages' policy`);
    t.match(res.body, /<a href="\/">/, `${path}: the way to the front page`);
  }
  t.match((await b.get('/nothing', html)).body, 'Siden findes ikke', "in the pages' language (remembered from ?lang=da)");
  for (const [path, headers] of [
    ['/v1/nothing', html],
    ['/logn', { accept: 'application/json' }],
    ['/logn', {}],
  ] as const) {
    const res = await app.inject({ url: path, headers });
    t.equal(res.statusCode, 404);
    t.match(res.json(), { error: 'not-found', message: String }, `${path} ${JSON.stringify(headers)}: JSON`);
  }
  for (const headers of [{ 'content-type': 'application/pskc+xml' }, { ...html, 'content-type': 'text/plain' }]) {
    const refused = await app.inject({ method: 'GET', url: '/v1/activate', headers, payload: '{}' });
    t.match(
      refused.headers['content-type'],
      /^application\/json/,
      `a GET with a body the API cannot read (${headers['content-type']}): JSON`,
    );
    t.match(refused.json(), { error: String, message: String });
  }
  const posted = await app.inject({ method: 'POST', url: '/logn', headers: html, payload: {} });
  t.match(posted.json(), { error: 'not-found' }, 'a POST: JSON as before');
});

t.test("a page's language link stays on this site, whatever path was asked for", async (t) => {
  const { app } = await testApp(t);
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as AddressInfo;
  // Raw request lines, as a crafted link sends them (fetch and inject would tidy the path first).
  const switchOf = (path: string) =>
    new Promise<string | undefined>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path, headers: { accept: 'text/html' } }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (d: string) => (body += d));
        res.on('end', () => resolve(/class="lang" href="([^"]*)"/.exec(body)?.[1]));
      });
      req.on('error', reject).end();
    });
  for (const path of ['//evil.example/login', '/\\evil.example/x', '///evil.example', '/\\/evil.example', '//evil.example/?lang=en']) {
    const href = await switchOf(path);
    t.match(href, /^\/[^/\\]/, `${path}: ${href}`);
  }
  t.equal(await switchOf('/login?user=alice'), '/login?user=alice&amp;lang=da', 'an ordinary page keeps its path and query');
});

t.test('a login through the pages is the API login: accepted with a receipt, audited', async (t) => {
  const { app } = await testApp(t);
  const d = await activeUser(app, 'alice');
  const b = formSession(app);
  t.equal((await b.get('/login?user=alice')).field('userId'), 'alice', '?user= fills in the user ID');
  const first = await b.post('/login', { userId: 'alice' }, { follow: false });
  t.equal(first.status, 303);
  t.equal(first.headers.location, '/login/code');
  const interaction = first.cookies.find((c) => c.name === 'kv_login');
  t.ok(interaction?.httpOnly);
  t.equal(interaction?.sameSite, 'Lax', 'the login interaction survives a cross-site redirect');
  t.equal(interaction?.path, '/login');
  t.notOk(interaction?.secure, 'not Secure over plain HTTP');

  const code = await b.get('/login/code');
  t.match(code.body, '<label for="otp">One-time code</label>');
  t.match(code.body, '<label for="password">Password</label>');
  t.match(code.body, 'autocomplete="one-time-code"');
  t.equal(code.text('user'), 'User ID: alice · Not you? Start again');

  const done = await b.post('/login/code', { otp: d.press(), password: PASSWORD });
  t.equal(done.status, 200);
  t.equal(done.text('success'), 'You are logged in as alice.');
  const receipt = decodeJwt(done.text('receipt') ?? '');
  t.equal(receipt.action, 'LOG_ON');
  t.equal(receipt.serial, d.serial, 'of the device that showed the code');
  t.equal(b.cookie('kv_login'), undefined, 'the interaction is spent');

  const audit = await app.inject({ url: '/v1/audit?userId=alice', headers: admin });
  t.ok(
    (audit.json().events as Array<{ type: string }>).some((e) => e.type === 'accept'),
    'the accept is in the audit log as the API writes it',
  );
  // The same code again: a replay, refused as any failure.
  const again = await logIn(b, 'alice', d.otp.generate(d.counter - 1), PASSWORD);
  t.equal(again.status, 401);
});

t.test('every refusal reads the same; a block says how long', async (t) => {
  const { app } = await testApp(t, { policy: { blockAfter: 3 } });
  const d = await activeUser(app, 'bob');
  const b = formSession(app);
  const wrongCode = await logIn(b, 'bob', '000000', PASSWORD);
  const wrongPassword = await logIn(b, 'bob', d.press(), 'not-the-password');
  const noSuchUser = await logIn(b, 'nobody-here', '123456', PASSWORD);
  for (const res of [wrongCode, wrongPassword, noSuchUser]) {
    t.equal(res.status, 401);
    t.equal(res.text('problem'), 'That did not work. Check the code and the password, and try again with a new code.');
  }
  t.equal(wrongCode.text('problem'), noSuchUser.text('problem'), 'an unknown user reads as a wrong code');
  await logIn(b, 'bob', '000000', PASSWORD);
  const blocked = await logIn(b, 'bob', d.press(), PASSWORD);
  t.equal(blocked.status, 429);
  t.match(
    blocked.text('problem'),
    /^Your code display is temporarily blocked after too many failed attempts\. Try again in \d+ (seconds|minutes)\.$/,
  );
  t.ok(Number(blocked.headers['retry-after']) > 0);
});

t.test('an approval shows its text, and the receipt carries its digest; the text cannot be changed between the steps', async (t) => {
  const { app } = await testApp(t);
  const d = await activeUser(app, 'carol');
  const b = formSession(app);
  const text = 'Pay 1.234,50 DKK to "Ærø Færger" <ref 42>';
  const start = `/login?action=APPROVE&text=${encodeURIComponent(text)}`;
  const page = await b.get(start);
  const inForm = text.replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  t.match(page.body, `name="text" value="${inForm}"`, 'escaped in the form');
  t.equal(page.field('text'), text, 'and sent back as it came');
  t.notMatch(page.body, '<ref 42>', 'never raw HTML');
  const code = await b.post('/login', { userId: 'carol', action: 'APPROVE', text });
  t.equal(code.url, '/login/code');
  t.match(code.body, '<h1>Approve</h1>');
  t.equal(code.text('reference-text'), text, 'shown as it came (raw HTML would lose its <ref 42> as a tag)');
  t.notMatch(code.body, '<ref 42>', 'never raw HTML');

  // A cookie with another text (re-signed by nobody) is not the interaction.
  const forged = formSession(app);
  forged.setCookie('kv_csrf', b.cookie('kv_csrf')!);
  const [payload, sig] = decodeURIComponent(b.cookie('kv_login')!).split('.');
  const changed = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(payload!, 'base64url').toString()), r: 'Pay 9999 DKK' })).toString(
    'base64url',
  );
  forged.setCookie('kv_login', `${changed}.${sig}`, '/login');
  const refused = await forged.post(
    '/login/code',
    { otp: d.otp.generate(d.counter), password: PASSWORD },
    { csrf: code.field('_csrf') ?? '' },
  );
  t.equal(refused.status, 400);
  t.equal(refused.text('problem'), 'Your login took too long. Please start again.');

  const done = await b.post('/login/code', { otp: d.press(), password: PASSWORD });
  t.equal(done.status, 200);
  t.equal(done.text('success'), 'You approved as carol:');
  const receipt = decodeJwt(done.text('receipt') ?? '');
  t.equal(receipt.action, 'APPROVE');
  t.equal(receipt.transaction_text_sha256, createHash('sha256').update(text, 'utf8').digest('base64url'));
});

t.test('bad input is answered on the page, with the form again', async (t) => {
  const { app } = await testApp(t);
  const d = await activeUser(app, 'dave');
  const b = formSession(app);
  const cases: Array<[string, string]> = [
    ['', 'Enter the user ID.'],
    ['x'.repeat(129), 'The user ID is too long (at most 128 characters).'],
    ['two words', 'A user ID has letters, digits and signs, and no spaces.'],
  ];
  for (const [userId, message] of cases) {
    await b.get('/login');
    const res = await b.post('/login', { userId });
    t.equal(res.status, 400, JSON.stringify(userId));
    t.match(res.headers['content-type'], /^text\/html/);
    t.match(res.body, `<p class="error" id="userId-error">${message}</p>`);
    t.match(res.body, 'aria-invalid="true"');
  }
  const badAction = await b.get('/login?action=TRANSFER');
  t.equal(badAction.status, 400);
  t.match(badAction.text('problem'), /not one of LOG_ON, APPROVE/);
  const longText = await b.get(`/login?action=APPROVE&text=${'x'.repeat(131)}`);
  t.equal(longText.status, 400);
  t.equal(longText.text('problem'), 'The text to approve is longer than 130 characters.');
  // 130 characters (not bytes) is allowed: å is two bytes.
  t.equal((await b.get(`/login?action=APPROVE&text=${encodeURIComponent('å'.repeat(130))}`)).status, 200);

  await b.get('/login');
  t.equal((await b.post('/login', { userId: 'dave' })).url, '/login/code', 'on to the code');
  for (const [otp, message] of [
    ['', 'Enter the one-time code.'],
    ['12345', 'The one-time code is the 6 digits the code display shows.'],
    ['12a456', 'The one-time code is the 6 digits the code display shows.'],
    ['1'.repeat(40), 'The one-time code is too long (at most 8 characters).'],
  ]) {
    const res = await b.post('/login/code', { otp: otp!, password: PASSWORD });
    t.equal(res.status, 400);
    t.match(res.body, `<p class="error" id="otp-error">${message}</p>`);
  }
  const noPassword = await b.post('/login/code', { otp: '123456', password: '' });
  t.match(noPassword.body, '<p class="error" id="password-error">Enter the password.</p>');
  const info = await app.inject({ url: `/v1/tokens/${d.serial}`, headers: admin });
  t.equal(info.json().failures, 0, 'a malformed form is not an attempt');
  // "123 456" as people type it is the code 123456.
  const spaced = await b.post('/login/code', {
    otp: `${d.otp.generate(d.counter).slice(0, 3)} ${d.otp.generate(d.counter).slice(3)}`,
    password: PASSWORD,
  });
  t.equal(spaced.status, 200);

  const huge = await b.post('/login', { userId: 'x'.repeat(20_000) });
  t.equal(huge.status, 413);
  t.match(huge.headers['content-type'], /^text\/html/);
  t.equal(huge.text('problem'), 'What was sent is too large.');
  const repeated = await app.inject({
    method: 'POST',
    url: '/login',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: `kv_csrf=${b.cookie('kv_csrf')}` },
    payload: 'userId=a&userId=b',
  });
  t.equal(repeated.statusCode, 403, 'no token: refused before the body is looked at');
  t.match(repeated.headers['content-type'], /^text\/html/);
});

t.test('a form without its CSRF token, or with an expired one, is refused with the form and a message', async (t) => {
  const { app } = await testApp(t, { pages: { formValidityMs: 1000 } });
  const b = formSession(app);
  await b.get('/login');
  const missing = await b.post('/login', { userId: 'erin' }, { csrf: '' });
  t.equal(missing.status, 403);
  t.match(missing.headers['content-type'], /^text\/html/);
  t.equal(missing.text('problem'), 'The form had expired. Please fill it in again.');
  t.match(missing.body, 'value="erin"', 'what was typed is kept');
  t.ok(missing.field('_csrf'), 'with a fresh token');

  const forged = await b.post('/login', { userId: 'erin' }, { csrf: 'forged-token' });
  t.equal(forged.status, 403);

  const noCookie = formSession(app);
  const token = (await b.get('/login')).field('_csrf') ?? '';
  t.equal((await noCookie.post('/login', { userId: 'erin' }, { csrf: token })).status, 403, 'a token without its secret cookie');

  await b.get('/login');
  await new Promise((r) => setTimeout(r, 1100));
  const expired = await b.post('/login', { userId: 'erin' });
  t.equal(expired.status, 403);
  t.equal(expired.text('problem'), 'The form had expired. Please fill it in again.');
  t.equal((await b.post('/login', { userId: 'erin' }, { follow: false })).status, 303, 'the fresh form it came with works');
});

t.test('behind a TLS proxy the cookies are Secure', async (t) => {
  const { app } = await testApp(t, { trustProxy: '127.0.0.1' });
  const b = formSession(app, { 'x-forwarded-proto': 'https' });
  const page = await b.get('/login?lang=da');
  for (const c of page.cookies) t.ok(c.secure, `${c.name} is Secure`);
  const first = await b.post('/login', { userId: 'frank' }, { follow: false });
  t.ok(first.cookies.find((c) => c.name === 'kv_login')?.secure);
});

t.test('a login session that has run out asks to start again', async (t) => {
  const { app, clock } = await testApp(t);
  const b = formSession(app);
  await b.get('/login');
  await b.post('/login', { userId: 'gina' }, { follow: false });
  clock.advance(10 * 60 * 1000 + 1);
  const code = await b.get('/login/code');
  t.equal(code.text('problem'), 'Your login took too long. Please start again.');
  t.match(code.body, 'action="/login"');
});

t.test('a page refused by one of the app-wide hooks, before its cookies were read, is still a page', async (t) => {
  const { app } = await testApp(t);
  const pskc = await app.inject({ url: '/?=', headers: { 'content-type': 'application/pskc+xml' }, payload: '{}}' });
  t.equal(pskc.statusCode, 415);
  t.match(pskc.headers['content-type'], /^text\/html/);
  t.match(pskc.body, 'The form could not be read.');
  t.equal(pskc.headers['content-security-policy'], (await app.inject('/login')).headers['content-security-policy'], 'under the same CSP');
});

t.test("a relying party's login that has expired, or was never begun, says so and goes no further", async (t) => {
  const { app } = await testApp(t);
  const b = formSession(app);
  const page = await b.get('/login?interaction=no-such-interaction');
  t.equal(page.status, 400);
  t.equal(page.text('problem'), 'This login has expired or was already used. Go back to the application and start again from there.');
  const posted = await b.post('/login', { userId: 'someone', interaction: 'no-such-interaction' }, { follow: false });
  t.equal(posted.status, 400, 'a form naming an interaction this browser is not in');
  t.equal(b.cookie('kv_login', '/login'), undefined, 'no login begun');
});
