/**
 * /operator, the service centre's console, through the whole fastify pipeline (inject): sign-in
 * with an operator credential only, the session cookie (its attributes, its expiry, its signature,
 * and the credential looked up again on every request, so that revoking it ends the session), and
 * each form as the same service call as the operator's JSON route, checked in the service's state
 * and the audit log (actor: the credential's id); refusals and bad input answered in the page.
 * And CredentialService.principalOfId, which the session check stands on.
 */
import t from 'tap';
import { join } from 'node:path';
import fastifyCookie from '@fastify/cookie';
import type { FastifyInstance } from 'fastify';
import { formatSerial, makeSerial } from '@kodeviser/shared';
import { createCredentialService } from '../src/domain/credentials.js';
import { COMMON } from '../src/pages/i18n.js';
import { cookieKey } from '../src/pages/cookies.js';
import { OPERATOR_TEXTS } from '../src/pages/operator.js';
import { openSqliteStore } from '../src/store/sqlite.js';
import { FakeClock } from './helpers/clock.js';
import { tempDir } from './helpers/db.js';
import { decodeHtml, formSession, textOf, type FormPage } from './helpers/forms.js';
import { activate, admin, device, importDevices, post, proofFor, testApp, type Device } from './http-helpers.js';
import { identityOf } from '../../test/helpers/identities.js';

const en = OPERATOR_TEXTS.en;
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const PICKUP = { method: 'pickup', centre: 'Borgerservice Aarhus' } as const;

interface Operator {
  id: string;
  token: string;
}

async function newCredential(app: FastifyInstance, role: string, extra: Record<string, unknown> = {}): Promise<Operator> {
  const res = await post(app, '/v1/credentials', { role, name: `${role} at the desk`, ...extra }, admin);
  if (res.statusCode !== 201) throw new Error(`credential: ${res.statusCode} ${res.body}`);
  const { id, token } = res.json() as Operator;
  return { id, token };
}

/** A browser signed in to the console as `operator` (a new operator credential by default). */
async function signedIn(app: FastifyInstance, operator?: Operator, headers: Record<string, string> = {}) {
  const who = operator ?? (await newCredential(app, 'operator'));
  const b = formSession(app, headers);
  await b.get('/operator');
  const res = await b.post('/operator/signin', { token: who.token }, { follow: false });
  if (res.status !== 303) throw new Error(`sign-in: ${res.status} ${res.body}`);
  await b.get('/operator');
  return { b, operator: who };
}

const tokenOf = async (app: FastifyInstance, serial: string) =>
  (await app.inject({ url: `/v1/tokens/${serial}`, headers: admin })).json() as { status: string; userId: string | null; failures: number };

interface AuditRow {
  type: string;
  actor: string | null;
  reason: string | null;
  serial: string | null;
  userId: string | null;
}
const auditOf = async (app: FastifyInstance): Promise<AuditRow[]> =>
  (await app.inject({ url: '/v1/audit?limit=1000', headers: admin })).json().events as AuditRow[];

async function activeUser(app: FastifyInstance, userId: string, password = 'desk-password-1'): Promise<Device> {
  const d = device();
  await importDevices(app, d);
  const res = await activate(app, { userId, serial: d.serial, otp: d.press(), password });
  if (res.statusCode !== 200) throw new Error(`activate: ${res.statusCode} ${res.body}`);
  return d;
}

t.test('principalOfId: the credential with that id while usable, else null', async (t) => {
  const clock = new FakeClock(Date.UTC(2026, 0, 1, 12));
  const store = openSqliteStore(join(tempDir(t), 'credentials.db'));
  t.teardown(() => store.close());
  const credentials = createCredentialService({ store, clock });
  const ctx = { ip: '127.0.0.1' };
  const operator = await credentials.create({ role: 'operator', name: 'desk 1', expiresAt: clock.now() + HOUR }, 'admin', ctx);
  const scoped = await credentials.create(
    { role: 'service', name: 'shop', serials: { from: makeSerial('100000000'), to: makeSerial('199999999') } },
    'admin',
    ctx,
  );
  t.same(await credentials.principalOfId(operator.id), { role: 'operator', actor: operator.id });
  t.same(await credentials.principalOfId(scoped.id), { role: 'service', actor: scoped.id, serials: scoped.serials }, 'with its serials');
  t.same(await credentials.principalOfId(scoped.id), await credentials.principalOf(scoped.token), 'the same principal as its token');
  t.equal(await credentials.principalOfId('cred-0000000000000000'), null, 'no such credential');
  t.equal(await credentials.principalOfId(''), null);
  clock.advance(HOUR - 1);
  t.ok(await credentials.principalOfId(operator.id), 'usable until it expires');
  clock.advance(1);
  t.equal(await credentials.principalOfId(operator.id), null, 'expired');
  await credentials.revoke(scoped.id, 'admin', ctx);
  t.equal(await credentials.principalOfId(scoped.id), null, 'revoked');
});

t.test('sign-in: an operator credential only, every other token refused the same way', async (t) => {
  const { app, clock } = await testApp(t);
  const b = formSession(app);
  const page = await b.get('/operator');
  t.equal(page.status, 200);
  t.match(page.headers['content-type'], /^text\/html/);
  t.match(page.body, '<label for="token">Operator token</label>');
  t.match(page.body, /<input id="token" name="token" type="password"/, 'a password-type field');
  t.ok(page.field('_csrf'), 'the form has its CSRF token');
  t.notMatch(page.body, /<script/i, 'no script');
  t.notMatch(page.body, 'class="console"', 'no console before sign-in');

  const empty = await b.post('/operator/signin', { token: '' });
  t.equal(empty.status, 400);
  t.equal(empty.error('token'), 'Enter the operator token.');

  const proofing = await newCredential(app, 'proofing');
  const service = await newCredential(app, 'service');
  const metrics = await newCredential(app, 'metrics');
  const revoked = await newCredential(app, 'operator');
  t.equal((await app.inject({ method: 'DELETE', url: `/v1/credentials/${revoked.id}`, headers: admin })).statusCode, 200);
  const expiring = await newCredential(app, 'operator', { expiresAt: clock.now() + 1000 });
  clock.advance(1000);
  const refused: Array<[string, string]> = [
    ['the admin token', admin.authorization.slice('Bearer '.length)],
    ['a proofing credential', proofing.token],
    ['a service credential', service.token],
    ['a metrics credential', metrics.token],
    ['a revoked operator', revoked.token],
    ['an expired operator', expiring.token],
    ['an unknown token', `kvc_${'A'.repeat(43)}`],
    ['not a token at all', 'hello'],
  ];
  for (const [what, token] of refused) {
    const res = await b.post('/operator/signin', { token });
    t.equal(res.status, 401, what);
    t.equal(res.text('problem'), en.notOperator, `${what}: the one message`);
    t.equal(b.cookie('kv_console'), undefined, `${what}: no session`);
    t.match(res.body, '<input id="token"', `${what}: the form again`);
  }

  const operator = await newCredential(app, 'operator');
  const ok = await b.post('/operator/signin', { token: operator.token }, { follow: false });
  t.equal(ok.status, 303);
  t.equal(ok.headers.location, '/operator');
  const home = await b.get('/operator');
  t.equal(home.status, 200);
  t.match(home.body, 'class="console"');
  t.equal(home.text('operator'), `Signed in as ${operator.id}. ${en.signOut}`, 'and its sign-out button');
  for (const title of [en.userTitle, en.proofTitle, en.activateTitle, en.collectTitle, en.revokeTitle, en.unlockTitle, en.reinstateTitle]) {
    t.match(decodeHtml(home.body), new RegExp(`<h2 id="[a-z]+-title">${title}</h2>`), title);
  }
  for (const label of ['Serial number', 'One-time code', 'User ID', 'New password', 'Repeat the new password', 'Order id', 'Proof id']) {
    t.match(home.body, `>${label}</label>`, `labelled: ${label}`);
  }
  const forms = home.body.match(/<form method="post"/g) ?? [];
  const tokens = home.body.match(/name="_csrf"/g) ?? [];
  t.equal(forms.length, 7, 'six action forms and the sign-out');
  t.equal(tokens.length, forms.length, 'every form posted has its CSRF token');
  t.notMatch(home.body, operator.token, 'never the token in the page');
  t.notMatch(home.body, /<script/i, 'no script');
});

t.test('the session cookie: HttpOnly, SameSite=Strict, Path=/operator, 8 hours; Secure over TLS', async (t) => {
  const { app } = await testApp(t, { trustProxy: '127.0.0.1' });
  const operator = await newCredential(app, 'operator');
  const cookieOf = async (headers: Record<string, string>) => {
    const b = formSession(app, headers);
    await b.get('/operator');
    const res = await b.post('/operator/signin', { token: operator.token }, { follow: false });
    t.equal(res.status, 303);
    return res.cookies.find((c) => c.name === 'kv_console');
  };
  const plain = await cookieOf({});
  t.equal(plain?.httpOnly, true, 'HttpOnly');
  t.equal(plain?.sameSite, 'Strict');
  t.equal(plain?.path, '/operator');
  t.equal(plain?.maxAge, 28800);
  t.notOk(plain?.secure, 'not over plain HTTP');
  t.notMatch(JSON.stringify(plain), operator.token, 'the token is not in it');
  const tls = await cookieOf({ 'x-forwarded-proto': 'https' });
  t.equal(tls?.secure, true, 'Secure behind a TLS proxy');
  t.equal(tls?.sameSite, 'Strict');
});

t.test('revoking the credential ends its console sessions at once', async (t) => {
  const { app } = await testApp(t);
  const d = device();
  await importDevices(app, d);
  const { b, operator } = await signedIn(app);
  t.match(b.last?.body, 'class="console"');
  const kept = b.cookies();
  /** A browser holding the copy of the cookies kept from before the revocation. */
  const withKept = () => {
    const s = formSession(app);
    for (const c of kept) s.setCookie(c.name, c.value, c.path);
    return s;
  };
  const csrf = b.last?.field('_csrf') ?? '';

  t.equal((await app.inject({ method: 'DELETE', url: `/v1/credentials/${operator.id}`, headers: admin })).statusCode, 200);
  const page = await b.get('/operator');
  t.equal(page.status, 200);
  t.notMatch(page.body, 'class="console"', 'the console is gone');
  t.match(page.body, '<input id="token"', 'the sign-in form instead');
  t.equal(page.text('problem'), en.signInAgain);
  t.equal(b.cookie('kv_console'), undefined, 'the stale cookie cleared');

  // The cookie itself is still signed and unexpired: kept and sent again, it is refused all the same.
  t.ok(
    kept.some((c) => c.name === 'kv_console'),
    'the copy holds the session cookie',
  );
  const revoke = await withKept().post('/operator/revoke', { revokeSerial: d.serial }, { csrf, follow: false });
  t.equal(revoke.status, 401, 'a form posted after the revocation');
  t.equal(revoke.text('problem'), en.signInAgain);
  t.match(revoke.body, '<input id="token"');
  t.equal((await tokenOf(app, d.serial)).status, 'enabled', 'and nothing was done');
  const lookup = await withKept().get('/operator/user?userId=someone');
  t.equal(lookup.status, 401, 'nor is anything shown');
  t.notMatch(lookup.body, 'class="console"');
  const again = formSession(app);
  await again.get('/operator');
  t.equal((await again.post('/operator/signin', { token: operator.token })).status, 401, 'nor does its token sign in again');
});

t.test('a session ends after 8 hours; a forged, tampered or unsigned cookie is no session', async (t) => {
  const { app, clock, config } = await testApp(t);
  const { b, operator } = await signedIn(app);
  clock.advance(8 * HOUR - 1);
  t.match((await b.get('/operator')).body, 'class="console"', 'still signed in just before 8 hours');
  clock.advance(1);
  const ended = await b.get('/operator');
  t.notMatch(ended.body, 'class="console"', 'signed out at 8 hours');
  t.equal(ended.text('problem'), en.signInAgain);

  const session = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const signed = (value: object) => fastifyCookie.sign(session(value), cookieKey(config.masterKey));
  const proofing = await newCredential(app, 'proofing');
  const tries: Array<[string, string]> = [
    ['unsigned', session({ c: operator.id, s: 'x', exp: clock.now() + HOUR })],
    ['signed under another key', fastifyCookie.sign(session({ c: operator.id, s: 'x', exp: clock.now() + HOUR }), Buffer.alloc(32, 7))],
    ['tampered', `${signed({ c: operator.id, s: 'x', exp: clock.now() + HOUR }).slice(0, -2)}AA`],
    ['expired', signed({ c: operator.id, s: 'x', exp: clock.now() })],
    ['without an expiry', signed({ c: operator.id, s: 'x' })],
    ['without a session id', signed({ c: operator.id, exp: clock.now() + HOUR })],
    ["a proofing credential's", signed({ c: proofing.id, s: 'x', exp: clock.now() + HOUR })],
    ['no such credential', signed({ c: 'cred-0000000000000000', s: 'x', exp: clock.now() + HOUR })],
    ['not JSON', fastifyCookie.sign('bm90IGpzb24', cookieKey(config.masterKey))],
  ];
  for (const [what, value] of tries) {
    const res = await app.inject({ url: '/operator', headers: { cookie: `kv_console=${value}` } });
    t.notMatch(res.body, 'class="console"', what);
    const user = await app.inject({ url: '/operator/user?userId=x', headers: { cookie: `kv_console=${value}` } });
    t.equal(user.statusCode, 401, `${what}: a console page refused`);
  }
  // The test's own forgery under the real key shows the check above refuses what it should only.
  const good = await app.inject({
    url: '/operator',
    headers: { cookie: `kv_console=${signed({ c: operator.id, s: 'x', exp: clock.now() + HOUR })}` },
  });
  t.match(good.body, 'class="console"', 'a cookie as the server signs it is a session');
});

t.test('sign-out clears the session cookie, and ends the session for a kept copy of it too', async (t) => {
  const { app } = await testApp(t);
  const { b } = await signedIn(app);
  const kept = b.cookie('kv_console') ?? '';
  const other = await signedIn(app);
  const res = await b.post('/operator/signout', {}, { follow: false });
  t.equal(res.status, 200);
  t.equal(res.text('notice'), en.signedOut);
  const set = res.cookies.find((c) => c.name === 'kv_console');
  t.equal(set?.value, '', 'emptied');
  t.equal(set?.path, '/operator');
  t.equal(set?.expires?.toUTCString(), 'Thu, 01 Jan 1970 00:00:00 GMT');
  t.equal(b.cookie('kv_console'), undefined);
  const after = await b.get('/operator');
  t.notMatch(after.body, 'class="console"');
  t.equal(after.text('problem'), undefined, 'simply the sign-in form');
  const copy = formSession(app);
  copy.setCookie('kv_console', kept, '/operator');
  t.equal((await copy.get('/operator/user?userId=x')).status, 401, 'a copy of the cookie kept from before the sign-out is no session');
  t.match((await other.b.get('/operator')).body, 'class="console"', 'another session of the same operator goes on');
});

t.test('look up a user: devices, why each ended, last use; an unknown user; bad input', async (t) => {
  const { app } = await testApp(t);
  const first = await activeUser(app, 'hanne');
  const second = device();
  await importDevices(app, second);
  await activate(app, { userId: 'hanne', serial: second.serial, otp: second.press(), password: 'desk-password-2' });
  const { b } = await signedIn(app);

  const res = await b.get('/operator/user?userId=hanne');
  t.equal(res.status, 200);
  t.match(res.body, '<h2>User hanne</h2>');
  t.equal(res.text('identity-linked'), 'yes');
  t.match(res.text('active-device'), new RegExp(`^${formatSerial(second.serial)} \\(hotp-sha1\\), activated `));
  t.match(res.text('active-device'), /^\d{2}-\d{7}-\d /, 'printed NN-NNNNNNN-N');
  t.match(
    res.body,
    new RegExp(
      `<td>${formatSerial(first.serial)}</td><td>hotp-sha1</td><td>[^<]+</td><td>[^<]+</td><td>replaced</td><td>${formatSerial(second.serial)}</td>`,
    ),
  );
  t.match(res.body, '<dt>Last used</dt><dd>1 Jan 2026, 13:00</dd>', "the activation's code, in Copenhagen time");
  t.equal(res.field('userId'), 'hanne', 'the form keeps what was looked up');
  t.match(res.body, 'class="console"', 'the rest of the console below');

  const unknown = await b.get('/operator/user?userId=nobody');
  t.equal(unknown.status, 404);
  t.equal(unknown.text('problem'), 'No such user: nobody.');

  const da = await b.get('/operator/user?userId=hanne&lang=da');
  t.match(da.body, '<h2>Bruger hanne</h2>');
  t.match(da.body, '>Bruger-id</label>');
  t.match(da.body, '<td>udskiftet</td>');
  await b.get('/operator?lang=en');

  for (const [what, q, message] of [
    ['empty', '', 'Enter the user ID.'],
    ['with a space', 'han%20ne', COMMON.en.userIdFormat],
    ['too long', 'x'.repeat(129), 'The user ID is too long (at most 128 characters).'],
  ] as const) {
    const bad = await b.get(`/operator/user?userId=${q}`);
    t.equal(bad.status, 400, what);
    t.equal(bad.error('userId'), message, `${what}: next to the field`);
    t.equal(bad.text('problem'), `Check the form “${en.userTitle}” below.`, `${what}: and said at the top`);
  }
});

t.test('an ID check makes a proof, shown once and offered to the assisted activation; its refusals', async (t) => {
  const { app } = await testApp(t);
  const d = device();
  await importDevices(app, d);
  const { b, operator } = await signedIn(app);
  const identity = identityOf('karen');
  const fields = (over: Record<string, string> = {}) => ({
    nationalId: `${identity.nationalId.slice(0, 6)}-${identity.nationalId.slice(6)}`,
    documentType: 'passport',
    country: 'dk',
    documentNumber: identity.document.number,
    proofUserId: 'karen',
    ...over,
  });

  const made = await b.post('/operator/proof', fields());
  t.equal(made.status, 200);
  t.same(made.texts('success'), ['ID check recorded for user karen.']);
  const proofId = made.text('proof-id') ?? '';
  t.match(proofId, /^[A-Za-z0-9_-]{22}$/);
  t.match(decodeHtml(made.body), 'Give it to the person: it allows one activation within 15 minutes');
  t.equal(made.field('proofId'), proofId, 'the activation form is filled in with it');
  t.equal(made.field('nationalId'), '', 'the ID check form is empty again');
  t.notMatch(made.body, identity.nationalId, 'the national ID is not shown back');
  t.notMatch(made.body, fields().nationalId);
  const proofRow = (await auditOf(app)).find((e) => e.type === 'proof');
  t.match(proofRow, { actor: operator.id, userId: 'karen' }, "audited under the operator's credential");

  // The same person asks for another user ID; another person asks for karen.
  const elsewhere = await b.post('/operator/proof', fields({ proofUserId: 'karen2' }));
  t.equal(elsewhere.status, 409);
  t.equal(elsewhere.text('problem'), en['identity-linked-elsewhere']);
  t.equal(elsewhere.field('proofUserId'), 'karen2', 'the form kept');
  const someoneElse = identityOf('not-karen');
  const taken = await b.post(
    '/operator/proof',
    fields({ nationalId: someoneElse.nationalId, documentNumber: someoneElse.document.number, proofUserId: 'karen' }),
  );
  t.equal(taken.status, 409);
  t.equal(taken.text('problem'), en['user-linked-elsewhere']);
  const again = await b.post('/operator/proof', fields({ proofUserId: '' }));
  t.same(again.texts('success'), ['ID check recorded for user karen.'], "without a user ID: the person's own user");

  const activated = await b.post('/operator/activate', {
    proofId,
    serial: formatSerial(d.serial),
    otp: d.press(),
    password: 'karen-password-1',
    password2: 'karen-password-1',
  });
  t.equal(activated.status, 200);
  t.same(activated.texts('success'), [`Activated: user karen, device ${formatSerial(d.serial)}.`]);
  t.match(await tokenOf(app, d.serial), { status: 'enabled', userId: 'karen' });
  const activateRow = (await auditOf(app)).find((e) => e.type === 'activate');
  t.match(activateRow, { actor: operator.id, userId: 'karen' }, "the assisted activation is audited under the operator's credential");
  const login = await post(app, '/v1/authenticate', { userId: 'karen', otp: d.press(), password: 'karen-password-1' });
  t.equal(login.statusCode, 200, 'karen logs in with her new password');

  const bad: Array<[string, Record<string, string>, string, string]> = [
    ['an empty national ID', { nationalId: '' }, 'nationalId', 'Enter the national ID.'],
    ['a short national ID', { nationalId: '12345' }, 'nationalId', en.nationalIdFormat],
    ['a national ID that is no date', { nationalId: '3201901234' }, 'nationalId', en.nationalIdFormat],
    ['an unknown document', { documentType: 'library-card' }, 'documentType', COMMON.en.badForm],
    ['an empty country', { country: '' }, 'country', 'Enter the issuing country.'],
    ['a country of digits', { country: '12' }, 'country', en.countryFormat],
    ['a country too long', { country: 'DNK' }, 'country', 'The issuing country is too long (at most 2 characters).'],
    ['an empty document number', { documentNumber: '' }, 'documentNumber', 'Enter the document number.'],
    ['a document number with signs', { documentNumber: 'AB#12' }, 'documentNumber', en.documentNumberFormat],
    ['a user ID with a space', { proofUserId: 'kar en' }, 'proofUserId', COMMON.en.userIdFormat],
  ];
  for (const [what, over, field, message] of bad) {
    const res = await b.post('/operator/proof', fields(over));
    t.equal(res.status, 400, what);
    t.equal(res.error(field), message, `${what}: next to the field`);
    t.equal(res.text('problem'), `Check the form “${en.proofTitle}” below.`);
  }
  t.equal((await auditOf(app)).filter((e) => e.type === 'proof').length, 2, 'no proof made by a bad form');
});

t.test('assisted activation: refusals, a block, a weak password, bad input', async (t) => {
  const { app } = await testApp(t);
  const d = device();
  await importDevices(app, d);
  const { b } = await signedIn(app);
  const proofId = await proofFor(app, 'ole');
  const form = (over: Record<string, string> = {}) => ({
    proofId,
    serial: d.serial,
    otp: d.otp.generate(d.counter),
    password: 'ole-password-1',
    password2: 'ole-password-1',
    ...over,
  });

  const bad: Array<[string, Record<string, string>, string, string]> = [
    ['no proof id', { proofId: '' }, 'proofId', 'Enter the proof id.'],
    ['a proof id with signs', { proofId: 'a+b' }, 'proofId', en.proofIdFormat],
    ['no serial', { serial: '' }, 'serial', 'Enter the serial number.'],
    ['a serial of the wrong form', { serial: '12-34' }, 'serial', COMMON.en.serialFormat],
    ['a serial with a wrong check digit', { serial: '1234567890' }, 'serial', COMMON.en.serialCheck],
    ['no code', { otp: '' }, 'otp', 'Enter the one-time code.'],
    ['a code of letters', { otp: 'abcdef' }, 'otp', COMMON.en.otpFormat],
    ['a short password', { password: 'short', password2: 'short' }, 'password', 'The new password is too short (at least 8 characters).'],
    ['passwords that differ', { password2: 'ole-password-2' }, 'password2', COMMON.en.passwordsDiffer],
  ];
  for (const [what, over, field, message] of bad) {
    const res = await b.post('/operator/activate', form(over));
    t.equal(res.status, 400, what);
    t.equal(res.error(field), message, `${what}: next to the field`);
    t.equal(res.field('otp'), '', `${what}: the code not shown again`);
    t.notMatch(res.body, 'ole-password-1', `${what}: nor the password`);
  }

  const weak = await b.post('/operator/activate', form({ password: 'Password123', password2: 'Password123' }));
  t.equal(weak.status, 400);
  t.equal(weak.text('problem'), COMMON.en.weakPassword);
  t.equal(weak.field('proofId'), proofId, 'the form kept');
  t.match(await tokenOf(app, d.serial), { userId: null, failures: 0 }, 'nothing done');

  const wrong = await b.post('/operator/activate', form({ otp: '000000' }));
  t.equal(wrong.status, 401);
  t.equal(wrong.text('problem'), en.activateRefused);
  t.equal(wrong.field('serial'), d.serial, 'the form kept');
  const unknownProof = await b.post('/operator/activate', form({ proofId: 'AAAAAAAAAAAAAAAAAAAAAA' }));
  t.equal(unknownProof.text('problem'), en.activateRefused, 'an unknown proof: the same refusal');

  let blocked: FormPage | null = null;
  for (let i = 0; i < 5 && blocked === null; i++) {
    const res = await b.post('/operator/activate', form({ otp: '000000' }));
    if (res.status === 429) blocked = res;
  }
  t.ok(blocked, 'blocked after repeated failures');
  t.match(
    blocked!.text('problem'),
    /^Your code display is temporarily blocked after too many failed attempts\. Try again in \d+ seconds\.$/,
  );
  t.match(blocked!.headers['retry-after'], /^\d+$/);
});

t.test('hand over a pickup order: against a proof of its user, or an ID check for an anonymous one', async (t) => {
  const { app } = await testApp(t);
  const { b, operator } = await signedIn(app);
  const order = async (body: object) => {
    const res = await post(app, '/v1/orders', body);
    if (res.statusCode !== 201) throw new Error(`order: ${res.statusCode} ${res.body}`);
    return res.json().orderId as string;
  };
  const step = (id: string, what: string, body: object) => post(app, `/v1/orders/${id}/${what}`, body, admin);
  const proofId = await proofFor(app, 'kim');
  const mine = await order({ proofId, delivery: PICKUP });
  const d = device();
  await importDevices(app, d);
  t.equal((await step(mine, 'fulfil', { serial: d.serial })).statusCode, 200);

  const bad: Array<[string, Record<string, string>, string, string]> = [
    ['no order id', { orderId: '' }, 'orderId', 'Enter the order id.'],
    ['an order id of the wrong form', { orderId: 'order-1' }, 'orderId', en.orderIdFormat],
    ['neither proof nor document', { orderProofId: '' }, 'orderProofId', en.proofOrIdCheck],
    ['both', { document: 'passport' }, 'orderProofId', en.notBoth],
    ['a proof id with signs', { orderProofId: 'a b' }, 'orderProofId', en.proofIdFormat],
    ['an unknown document', { orderProofId: '', document: 'library-card' }, 'document', COMMON.en.badForm],
  ];
  for (const [what, over, field, message] of bad) {
    const res = await b.post('/operator/collect', { orderId: mine, orderProofId: proofId, document: '', ...over });
    t.equal(res.status, 400, what);
    t.equal(res.error(field), message, `${what}: next to the field`);
  }

  const stranger = await proofFor(app, 'lis');
  const notOwner = await b.post('/operator/collect', { orderId: mine, orderProofId: stranger, document: '' });
  t.equal(notOwner.status, 409, "another user's proof");
  t.equal(notOwner.text('problem'), en.notTheOwner.replace('{order}', mine));
  t.equal(notOwner.field('orderId'), mine, 'the form kept');
  const idCheck = await b.post('/operator/collect', { orderId: mine, orderProofId: '', document: 'passport' });
  t.equal(idCheck.status, 409, "an ID check is not enough for a user's order");
  const unknown = await b.post('/operator/collect', { orderId: `ord_${'a'.repeat(26)}`, orderProofId: proofId, document: '' });
  t.equal(unknown.status, 404);
  t.equal(unknown.text('problem'), `No such order: ord_${'a'.repeat(26)}.`);

  const handed = await b.post('/operator/collect', { orderId: mine, orderProofId: proofId, document: '' });
  t.equal(handed.status, 200);
  t.same(handed.texts('success'), [`Order ${mine} is now collected.`]);
  t.match((await app.inject({ url: `/v1/orders/${mine}`, headers: admin })).json(), { status: 'collected', userId: 'kim' });
  const twice = await b.post('/operator/collect', { orderId: mine, orderProofId: proofId, document: '' });
  t.equal(twice.status, 409);
  t.equal(twice.text('problem'), `Order ${mine} is collected: it cannot be handed over.`);

  const anonymous = await order({ delivery: PICKUP });
  t.equal((await step(anonymous, 'payment', { reference: 'psp-1' })).statusCode, 200);
  const e = device();
  await importDevices(app, e);
  t.equal((await step(anonymous, 'fulfil', { serial: e.serial })).statusCode, 200);
  const noOwner = await b.post('/operator/collect', { orderId: anonymous, orderProofId: proofId, document: '' });
  t.equal(noOwner.status, 409, 'no owner to prove');
  const checked = await b.post('/operator/collect', { orderId: anonymous, orderProofId: '', document: 'driving-licence' });
  t.same(checked.texts('success'), [`Order ${anonymous} is now collected.`]);
  const da = await b.get('/operator?lang=da');
  t.match(da.body, '>Anonym bestilling: det tjekkede dokument</label>');
  t.match(da.body, '<option value="driving-licence">Kørekort</option>');
  await b.get('/operator?lang=en');

  const rows = (await auditOf(app)).filter((r) => r.type === 'order' && /collected/.test(r.reason ?? ''));
  t.equal(rows.length, 2);
  t.match(rows, [
    { actor: operator.id, reason: /ID checked \(driving-licence\)$/, userId: null },
    { actor: operator.id, userId: 'kim' },
  ]);
});

t.test('revoke, unlock, reinstate: done under the credential, the refusals said in the page', async (t) => {
  const { app, clock } = await testApp(t);
  const signed = await signedIn(app);
  let b = signed.b;
  const operator = signed.operator;
  const never = makeSerial('999999999');

  // Revoke a lost device.
  const lost = await activeUser(app, 'per');
  const revoked = await b.post('/operator/revoke', { revokeSerial: formatSerial(lost.serial) });
  t.equal(revoked.status, 200);
  t.same(revoked.texts('success'), [`Device ${formatSerial(lost.serial)} is revoked.`]);
  t.equal((await tokenOf(app, lost.serial)).status, 'revoked');
  const twice = await b.post('/operator/revoke', { revokeSerial: lost.serial });
  t.equal(twice.status, 409);
  t.equal(twice.text('problem'), en.ERR_TOKEN_STATE);
  const unknown = await b.post('/operator/revoke', { revokeSerial: never });
  t.equal(unknown.status, 404);
  t.equal(unknown.text('problem'), en.ERR_UNKNOWN_TOKEN);
  t.equal(unknown.field('revokeSerial'), never, 'the form kept');
  const badSerial = await b.post('/operator/revoke', { revokeSerial: '1234567890' });
  t.equal(badSerial.status, 400);
  t.equal(badSerial.error('revokeSerial'), COMMON.en.serialCheck);
  const empty = await b.post('/operator/revoke', { revokeSerial: '' });
  t.equal(empty.error('revokeSerial'), 'Enter the serial number.');

  // Unlock a locked one.
  const locked = device();
  await importDevices(app, locked);
  t.equal((await post(app, `/v1/tokens/${locked.serial}/lock`, {}, admin)).statusCode, 200);
  const unlocked = await b.post('/operator/unlock', { unlockSerial: locked.serial });
  t.equal(unlocked.status, 200);
  t.same(unlocked.texts('success'), [`Device ${formatSerial(locked.serial)} is unlocked, its failed attempts cleared.`]);
  t.equal((await tokenOf(app, locked.serial)).status, 'enabled');
  t.equal((await b.post('/operator/unlock', { unlockSerial: lost.serial })).status, 409, 'a revoked device is not unlocked');

  // Reverse a replacement made without the owner.
  const own = await activeUser(app, 'ida', 'ida-password-1');
  const attackers = device();
  await importDevices(app, attackers);
  await activate(app, { userId: 'ida', serial: attackers.serial, otp: attackers.press(), password: 'mallory-pw-1' });
  const notReplaced = await b.post('/operator/reinstate', { reinstateSerial: attackers.serial });
  t.equal(notReplaced.status, 409);
  t.equal(notReplaced.text('problem'), en.ERR_NOT_REPLACED);
  const back = await b.post('/operator/reinstate', { reinstateSerial: own.serial });
  t.equal(back.status, 200);
  t.same(back.texts('success'), [
    `Device ${formatSerial(own.serial)} is active again for user ida.`,
    `Its replacement ${formatSerial(attackers.serial)} is revoked.`,
    en.passwordCleared,
  ]);
  t.match(await tokenOf(app, own.serial), { status: 'enabled', userId: 'ida' });
  t.equal((await tokenOf(app, attackers.serial)).status, 'revoked');
  const later = device();
  await importDevices(app, later);
  await activate(app, { userId: 'ida', serial: later.serial, otp: later.press(), password: 'ida-password-2' });
  clock.advance(7 * DAY + 1);
  b = (await signedIn(app, operator)).b; // the session ended after 8 hours
  const tooLate = await b.post('/operator/reinstate', { reinstateSerial: own.serial });
  t.equal(tooLate.status, 409);
  t.equal(tooLate.text('problem'), en.ERR_TOO_LATE);
  await b.get('/operator?lang=da');
  const da = await b.post('/operator/reinstate', { reinstateSerial: own.serial });
  t.equal(da.text('problem'), OPERATOR_TEXTS.da.ERR_TOO_LATE, 'in Danish');

  const rows = await auditOf(app);
  t.match(
    rows.find((r) => r.type === 'revoke' && r.serial === lost.serial),
    { actor: operator.id },
    "the revocation audited under the operator's credential",
  );
  t.match(
    rows.find((r) => r.type === 'unlock' && r.serial === locked.serial),
    { actor: operator.id },
  );
  t.match(
    rows.find((r) => r.type === 'activate' && /reinstated/.test(r.reason ?? '')),
    { actor: operator.id, userId: 'ida' },
  );
});

t.test('a missing or expired CSRF token: 403, the page again with the message', async (t) => {
  const { app } = await testApp(t, { pages: { formValidityMs: 50 } });
  const d = device();
  await importDevices(app, d);
  const { b } = await signedIn(app);
  const missing = await b.post('/operator/revoke', { revokeSerial: d.serial }, { csrf: '' });
  t.equal(missing.status, 403);
  t.equal(missing.text('problem'), COMMON.en.formExpired);
  t.match(missing.body, 'class="console"', 'the console, the session intact');
  t.equal(missing.field('revokeSerial'), d.serial, 'the form kept');
  t.equal((await tokenOf(app, d.serial)).status, 'enabled', 'nothing done');

  await b.get('/operator');
  await new Promise((resolve) => setTimeout(resolve, 80));
  const expired = await b.post('/operator/revoke', { revokeSerial: d.serial });
  t.equal(expired.status, 403);
  t.equal(expired.text('problem'), COMMON.en.formExpired);
  t.equal((await tokenOf(app, d.serial)).status, 'enabled', 'nothing done');

  const fresh = formSession(app);
  await fresh.get('/operator');
  const operator = await newCredential(app, 'operator');
  const signIn = await fresh.post('/operator/signin', { token: operator.token }, { csrf: 'forged' });
  t.equal(signIn.status, 403, 'the sign-in form too');
  t.equal(signIn.text('problem'), COMMON.en.formExpired);
  t.equal(fresh.cookie('kv_console'), undefined);
});

t.test('in Danish: the sign-in form, its refusal, the console', async (t) => {
  const { app } = await testApp(t);
  const b = formSession(app);
  const page = await b.get('/operator?lang=da');
  t.match(page.body, '<html lang="da">');
  t.match(page.body, '<label for="token">Operatørnøgle</label>');
  const refused = await b.post('/operator/signin', { token: 'nope' });
  t.equal(refused.text('problem'), OPERATOR_TEXTS.da.notOperator);
  const operator = await newCredential(app, 'operator');
  await b.post('/operator/signin', { token: operator.token });
  const home = await b.get('/operator');
  for (const label of ['Serienummer', 'Engangskode', 'Bruger-id', 'Ny adgangskode', 'Gentag den nye adgangskode']) {
    t.match(home.body, `>${label}</label>`, label);
  }
  t.match(home.body, `<h2 id="revoke-title">${OPERATOR_TEXTS.da.revokeTitle}</h2>`);
  const noSession = await app.inject({ method: 'POST', url: '/operator/revoke', headers: { cookie: 'kv_lang=da' }, payload: {} });
  t.equal(noSession.statusCode, 401);
  t.equal(textOf(noSession.body, 'problem'), OPERATOR_TEXTS.da.signInAgain);
});
