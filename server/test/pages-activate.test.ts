/**
 * /activate through the whole fastify pipeline (inject): the activation form, the same decision
 * as POST /v1/activate (the one refusal, the block, a weak password), the three ways to a proof
 * of identity — typed (an operator's), /activate/self (the owner's login, as POST
 * /v1/proofs/self), /activate/passport (simulated, only when switched on) — the proof kept in a
 * signed cookie, the limits, the forms' CSRF tokens, and never JSON or a stack trace.
 */
import t from 'tap';
import type { FastifyInstance } from 'fastify';
import { makeSerial } from '@kodeviser/shared';
import { nationalIdOf } from '../../test/helpers/identities.js';
import { activate, admin, device, importDevices, proofFor, testApp, type Device } from './http-helpers.js';
import { formSession, isPage, type FormPage, type FormSession } from './helpers/forms.js';

const PASSWORD = 'pages-password-1';
const NEW_PASSWORD = 'a-new-pages-password';

const label = (page: FormPage, name: string): string | undefined => new RegExp(`<label for="${name}">([^<]*)</label>`).exec(page.body)?.[1];
const autocomplete = (page: FormPage, name: string): string | undefined =>
  new RegExp(`<input id="${name}"[^>]* autocomplete="([^"]*)"`).exec(page.body)?.[1];

async function imported(app: FastifyInstance): Promise<Device> {
  const d = device('hotp-sha1');
  await importDevices(app, d);
  return d;
}

/** A user activated over the API (an operator's proof): its device. */
async function activeUser(app: FastifyInstance, userId: string): Promise<Device> {
  const d = await imported(app);
  const res = await activate(app, { userId, serial: d.serial, otp: d.press(), password: PASSWORD });
  if (res.statusCode !== 200) throw new Error(`activate: ${res.statusCode} ${res.body}`);
  return d;
}

const userOf = async (app: FastifyInstance, userId: string) => (await app.inject({ url: `/v1/users/${userId}`, headers: admin })).json();

/** The activation form filled in for `d`. */
const activation = (d: Device, more: Record<string, string> = {}): Record<string, string> => ({
  serial: d.serial,
  otp: d.press(),
  password: NEW_PASSWORD,
  password2: NEW_PASSWORD,
  ...more,
});

async function activatePage(b: FormSession, fields: Record<string, string>): Promise<FormPage> {
  await b.get('/activate');
  return b.post('/activate', fields);
}

/** A serial of the right form whose check digit is wrong. */
function badCheckDigit(): string {
  const good = makeSerial('123456789');
  return `${good.slice(0, -1)}${(Number(good.slice(-1)) + 1) % 10}`;
}

t.test('the activation page: the three ways, labelled fields, the CSP; in Danish by the switch', async (t) => {
  const { app } = await testApp(t);
  const b = formSession(app);
  const page = await b.get('/activate');
  isPage(t, page, 200, 'GET /activate');
  t.same(
    ['proofId', 'serial', 'otp', 'password', 'password2'].map((f) => label(page, f)),
    ['Proof of identity', 'Serial number', 'One-time code', 'New password', 'Repeat the new password'],
  );
  t.same(
    ['otp', 'password', 'password2'].map((f) => autocomplete(page, f)),
    ['one-time-code', 'new-password', 'new-password'],
  );
  t.match(page.body, /type="password"[^>]*autocomplete="new-password"/);
  t.match(page.body, /operator checks your passport or ID card/);
  t.match(page.body, /<a href="\/activate\/self">/, 'the way with the current code display');
  t.notMatch(page.body, /\/activate\/passport/, 'no passport check offered (it is off)');
  t.ok(page.field('_csrf'));

  const da = await b.get('/activate?lang=da');
  isPage(t, da, 200, 'GET /activate?lang=da');
  t.same(
    ['proofId', 'serial', 'otp', 'password', 'password2'].map((f) => label(da, f)),
    ['Identitetsbevis', 'Serienummer', 'Engangskode', 'Ny adgangskode', 'Gentag den nye adgangskode'],
  );

  const self = await b.get('/activate/self?lang=en');
  isPage(t, self, 200, 'GET /activate/self');
  t.same(
    ['userId', 'otp', 'password'].map((f) => label(self, f)),
    ['User ID', 'One-time code', 'Password'],
  );
  t.same(
    ['userId', 'otp', 'password'].map((f) => autocomplete(self, f)),
    ['username', 'one-time-code', 'current-password'],
  );
  const selfDa = await b.get('/activate/self?lang=da');
  t.same(
    ['userId', 'otp', 'password'].map((f) => label(selfDa, f)),
    ['Bruger-id', 'Engangskode', 'Adgangskode'],
  );
});

t.test('each bad field is said next to it (400), nothing asked of the service', async (t) => {
  const { app, service } = await testApp(t);
  const d = await imported(app);
  const b = formSession(app);

  const empty = await activatePage(b, { proofId: '', serial: '', otp: '', password: '', password2: '' });
  isPage(t, empty, 400, 'an empty form');
  t.same(
    ['proofId', 'serial', 'otp', 'password', 'password2'].map((f) => empty.error(f)),
    ['Enter the proof of identity.', 'Enter the serial number.', 'Enter the one-time code.', 'Enter the new password.', undefined],
  );

  const proofId = await proofFor(app, 'ida');
  const cases: Array<[string, Record<string, string>, string, RegExp | string]> = [
    ['a proof id of the wrong form', { proofId: 'not a proof!' }, 'proofId', /^A proof of identity is the letters, digits/],
    ['a proof id too long', { proofId: 'p'.repeat(65) }, 'proofId', /at most 64/],
    ['a serial of the wrong form', { serial: '12-345' }, 'serial', /printed on the back as NN-NNNNNNN-N/],
    ['a serial too long', { serial: '1'.repeat(13) }, 'serial', /too long \(at most 12 characters\)/],
    ['a serial whose check digit is wrong', { serial: badCheckDigit() }, 'serial', /^That serial number does not exist/],
    ['a code of letters', { otp: 'abcdef' }, 'otp', 'The one-time code is the 6 digits the code display shows.'],
    ['a code too long', { otp: '1234567890' }, 'otp', /too long/],
    ['a short password', { password: 'short', password2: 'short' }, 'password', /too short \(at least 8 characters\)/],
    ['a password too long', { password: 'p'.repeat(257), password2: 'p'.repeat(257) }, 'password', /too long/],
    ['passwords that differ', { password2: `${NEW_PASSWORD}!` }, 'password2', 'The two passwords are not the same.'],
  ];
  for (const [what, change, field, expected] of cases) {
    const page = await activatePage(b, activation(d, { proofId, ...change }));
    isPage(t, page, 400, what);
    if (typeof expected === 'string') t.equal(page.error(field), expected, what);
    else t.match(page.error(field), expected, what);
    t.equal(page.field('password'), '', `${what}: a password is never sent back`);
    t.notOk(page.body.includes(NEW_PASSWORD), `${what}: nowhere in the page`);
    t.equal(page.field('otp'), '', `${what}: nor the code`);
  }
  const typed = await activatePage(b, activation(d, { proofId, serial: ` ${d.serial} `, password2: 'different-1' }));
  t.equal(typed.field('serial'), d.serial, 'the serial as typed (spaces dropped)');
  t.equal((await service.getToken(d.serial))?.userId ?? null, null, 'nothing activated');

  const da = formSession(app);
  await da.get('/activate?lang=da');
  const daEmpty = await da.post('/activate', { proofId, serial: '', otp: '', password: '', password2: '' });
  t.equal(daEmpty.error('serial'), 'Indtast serienummer.', 'in Danish');
});

t.test('a form without its CSRF token, with a forged one, or too late: 403, the form again, saying it expired', async (t) => {
  const { app } = await testApp(t);
  const d = await imported(app);
  const proofId = await proofFor(app, 'ida');
  const b = formSession(app);
  await b.get('/activate');
  for (const [what, csrf] of [
    ['no token', null],
    ['a forged token', 'forged'],
  ] as const) {
    const page = await b.post('/activate', activation(d, { proofId }), { csrf });
    isPage(t, page, 403, what);
    t.equal(page.text('problem'), 'The form had expired. Please fill it in again.', what);
    t.equal(page.field('serial'), d.serial, `${what}: the serial as typed`);
  }
  await b.get('/activate/self');
  const self = await b.post('/activate/self', { userId: 'ida', otp: '123456', password: PASSWORD }, { csrf: null });
  isPage(t, self, 403, 'the self proof without a token');
  t.equal(self.field('userId'), 'ida');
  t.equal((await userOf(app, 'ida')).activeDevice, null, 'nothing activated');

  const late = await testApp(t, { pages: { formValidityMs: 100 } });
  const e = await imported(late.app);
  const lateProof = await proofFor(late.app, 'jon');
  const slow = formSession(late.app);
  await slow.get('/activate');
  await new Promise((resolve) => setTimeout(resolve, 250));
  const expired = await slow.post('/activate', activation(e, { proofId: lateProof }));
  isPage(t, expired, 403, 'an expired token');
  t.equal(expired.text('problem'), 'The form had expired. Please fill it in again.');
});

t.test("an operator's proof typed: activated, the user ID said, a link to log in", async (t) => {
  const { app } = await testApp(t);
  const d = await imported(app);
  const proofId = await proofFor(app, 'ida');
  const b = formSession(app);

  // Every refusal reads the same: a wrong code, an unknown proof.
  const wrongCode = await activatePage(b, activation(d, { proofId, otp: '000000' }));
  isPage(t, wrongCode, 401, 'a wrong code');
  const failed = 'That did not work. Check the proof of identity, the serial number and the code, and try again with a new code.';
  t.equal(wrongCode.text('problem'), failed);
  const unknownProof = await activatePage(b, activation(d, { proofId: 'AAAAAAAAAAAAAAAAAAAAAA' }));
  isPage(t, unknownProof, 401, 'an unknown proof');
  t.equal(unknownProof.text('problem'), failed, 'the same refusal');
  const weak = await activatePage(b, activation(d, { proofId, password: 'Password123', password2: 'Password123' }));
  isPage(t, weak, 400, 'a common password');
  t.equal(weak.text('problem'), 'That password is too easy to guess. Choose a longer or less common one.');
  t.equal(weak.field('serial'), d.serial, 'the form again, as typed');

  const done = await activatePage(b, activation(d, { proofId: ` ${proofId} ` }));
  isPage(t, done, 200, 'activated');
  t.equal(done.text('success'), 'Your code display is active. Your user ID is ida.');
  t.match(done.body, /<a href="\/login\?user=ida" data-testid="login-link">Log in<\/a>/);
  t.match(await userOf(app, 'ida'), { userId: 'ida', activeDevice: { serial: d.serial } });

  // The proof was spent: the same refusal for it now.
  const again = await activatePage(b, activation(await imported(app), { proofId }));
  isPage(t, again, 401, 'a spent proof');
  t.equal(again.text('problem'), failed);
});

t.test('a device blocked after failures: said, with how long (429)', async (t) => {
  const { app } = await testApp(t);
  const d = await imported(app);
  const proofId = await proofFor(app, 'ida');
  const b = formSession(app);
  for (let i = 0; i < 3; i++) t.equal((await activatePage(b, activation(d, { proofId, otp: '000000' }))).status, 401, `failure ${i + 1}`);
  const blocked = await activatePage(b, activation(d, { proofId }));
  isPage(t, blocked, 429, 'blocked');
  t.equal(blocked.text('problem'), 'Your code display is temporarily blocked after too many failed attempts. Try again in 30 seconds.');
  t.equal(blocked.headers['retry-after'], '30');
});

t.test('proven with the current code display: kept for the activation, which replaces the device', async (t) => {
  const { app } = await testApp(t);
  const old = await activeUser(app, 'jon');
  const b = formSession(app);
  await b.get('/activate/self');

  const empty = await b.post('/activate/self', { userId: '', otp: '', password: '' });
  isPage(t, empty, 400, 'an empty form');
  t.same(
    ['userId', 'otp', 'password'].map((f) => empty.error(f)),
    ['Enter the user ID.', 'Enter the one-time code.', 'Enter the password.'],
  );
  const spaces = await b.post('/activate/self', { userId: 'j o n', otp: '12345', password: PASSWORD });
  isPage(t, spaces, 400, 'a user ID with spaces, a short code');
  t.equal(spaces.error('userId'), 'A user ID has letters, digits and signs, and no spaces.');
  t.equal(spaces.error('otp'), 'The one-time code is the 6 digits the code display shows.');
  const long = await b.post('/activate/self', { userId: 'u'.repeat(200), otp: '123456', password: PASSWORD });
  t.match(long.error('userId'), /too long/);

  const wrong = await b.post('/activate/self', { userId: 'jon', otp: old.press(), password: 'not-the-password' });
  isPage(t, wrong, 401, 'a wrong password');
  const failed = 'That did not work. Check the code and the password, and try again with a new code.';
  t.equal(wrong.text('problem'), failed);
  t.equal(wrong.field('userId'), 'jon');
  const nobody = await b.post('/activate/self', { userId: 'nobody', otp: '123456', password: PASSWORD });
  t.equal(nobody.text('problem'), failed, 'an unknown user: the same refusal');
  t.equal(b.cookie('kv_proof'), undefined, 'no proof kept');

  const proven = await b.post('/activate/self', { userId: ' jon ', otp: old.press(), password: PASSWORD });
  isPage(t, proven, 200, 'proven');
  t.equal(proven.url, '/activate', 'back on the activation form');
  t.equal(proven.text('proven'), 'Identity proven for user jon.');
  t.equal(label(proven, 'proofId'), undefined, 'no proof field: the proof is kept');
  t.ok(b.cookie('kv_proof', '/activate'), 'kept in a cookie for /activate');
  t.equal(b.cookie('kv_proof', '/order'), undefined, 'not sent elsewhere');
  t.notOk(/[A-Za-z0-9_-]{22}/.test(proven.text('proven') ?? ''), 'the proof id is never shown');
  t.equal((await b.get('/activate?lang=da')).text('proven'), 'Identitet bevist for bruger jon.');
  await b.get('/activate?lang=en');

  const next = await imported(app);
  const done = await b.post('/activate', activation(next));
  isPage(t, done, 200, 'activated with the kept proof');
  t.equal(done.text('success'), 'Your code display is active. Your user ID is jon.');
  t.equal(b.cookie('kv_proof'), undefined, 'the proof spent, the cookie gone');
  t.match(await userOf(app, 'jon'), { activeDevice: { serial: next.serial }, pastDevices: [{ serial: old.serial, ended: 'replaced' }] });

  const fresh = await b.get('/activate');
  t.equal(label(fresh, 'proofId'), 'Proof of identity', 'the proof field again');
});

t.test('a proof kept is forgotten by "use another proof", and expires with the proof', async (t) => {
  const { app, clock } = await testApp(t);
  const old = await activeUser(app, 'kim');
  const b = formSession(app);
  await b.get('/activate/self');
  t.equal(
    (await b.post('/activate/self', { userId: 'kim', otp: old.press(), password: PASSWORD })).text('proven'),
    'Identity proven for user kim.',
  );
  const forgot = await b.post('/activate/forget', {});
  isPage(t, forgot, 200, 'forgotten');
  t.equal(forgot.text('proven'), undefined);
  t.equal(label(forgot, 'proofId'), 'Proof of identity');

  await b.get('/activate/self');
  await b.post('/activate/self', { userId: 'kim', otp: old.press(), password: PASSWORD });
  clock.advance(15 * 60_000 + 1);
  const later = await b.get('/activate');
  t.equal(later.text('proven'), undefined, 'after its 15 minutes');
  t.equal(label(later, 'proofId'), 'Proof of identity');
});

t.test('a self proof blocked after failures: said, with how long (429)', async (t) => {
  const { app } = await testApp(t);
  const d = await activeUser(app, 'lea');
  const b = formSession(app);
  await b.get('/activate/self');
  for (let i = 0; i < 3; i++) await b.post('/activate/self', { userId: 'lea', otp: '000000', password: PASSWORD });
  const blocked = await b.post('/activate/self', { userId: 'lea', otp: d.press(), password: PASSWORD });
  isPage(t, blocked, 429, 'blocked');
  t.match(
    blocked.text('problem'),
    /^Your code display is temporarily blocked after too many failed attempts\. Try again in \d+ seconds\.$/,
  );
  t.match(blocked.headers['retry-after'], /^\d+$/);
});

t.test('the simulated passport check: off by default (404, not offered)', async (t) => {
  const { app } = await testApp(t);
  const b = formSession(app);
  const get = await b.get('/activate/passport');
  isPage(t, get, 404, 'GET /activate/passport');
  t.equal(get.text('problem'), 'This server offers no passport check here.');
  await b.get('/activate');
  const posted = await b.post('/activate/passport', { nationalId: nationalIdOf(3_000_000), passportNumber: 'P1', userId: '' });
  isPage(t, posted, 404, 'POST /activate/passport');
  t.equal(b.cookie('kv_proof'), undefined, 'no proof');
});

t.test('the simulated passport check, when on: labelled as simulated, a proof kept, refusals said', async (t) => {
  const { app } = await testApp(t, { pages: { simulatedPassport: true } });
  const b = formSession(app);
  const start = await b.get('/activate');
  t.match(start.body, /<a href="\/activate\/passport">a simulated passport check for test identities<\/a>/, 'offered');
  const page = await b.get('/activate/passport');
  isPage(t, page, 200, 'GET /activate/passport');
  t.match(page.text('simulated'), /^A simulation for test identities/);
  t.same(
    ['nationalId', 'passportNumber', 'userId'].map((f) => label(page, f)),
    ['National ID (CPR number)', 'Passport number', 'User ID you would like (optional)'],
  );
  t.match((await b.get('/activate/passport?lang=da')).text('simulated'), /^En simulering for testidentiteter/);
  await b.get('/activate/passport?lang=en');

  const nationalId = nationalIdOf(3_000_000);
  const empty = await b.post('/activate/passport', { nationalId: '', passportNumber: '', userId: '' });
  isPage(t, empty, 400, 'an empty form');
  t.same(
    ['nationalId', 'passportNumber', 'userId'].map((f) => empty.error(f)),
    ['Enter the national ID.', 'Enter the passport number.', undefined],
  );
  const bad = await b.post('/activate/passport', { nationalId: '3213991234', passportNumber: 'P#1', userId: 'a b' });
  isPage(t, bad, 400, 'no date of birth, a sign in the number, a space in the user ID');
  t.equal(bad.error('nationalId'), 'A national ID is ten digits, the first six a date of birth (DDMMYY).');
  t.equal(bad.error('passportNumber'), 'A passport number is 1 to 30 letters and digits.');
  t.equal(bad.error('userId'), 'A user ID has letters, digits and signs, and no spaces.');
  t.equal(bad.field('nationalId'), '3213991234', 'as typed');
  const long = await b.post('/activate/passport', { nationalId: `${nationalId}0`, passportNumber: 'P'.repeat(31), userId: '' });
  t.match(long.error('nationalId'), /ten digits/);
  t.match(long.error('passportNumber'), /1 to 30/);

  const proven = await b.post('/activate/passport', {
    nationalId: `${nationalId.slice(0, 6)}-${nationalId.slice(6)}`,
    passportNumber: 'p 123',
    userId: 'mia',
  });
  isPage(t, proven, 200, 'proven');
  t.equal(proven.text('proven'), 'Identity proven for user mia.');
  const d = await imported(app);
  const done = await b.post('/activate', activation(d));
  t.equal(done.text('success'), 'Your code display is active. Your user ID is mia.');
  t.match(await userOf(app, 'mia'), { identityLinked: true, activeDevice: { serial: d.serial } });
  const audit = (await app.inject({ url: '/v1/audit?userId=mia', headers: admin })).json().events as Array<{
    type: string;
    actor: string | null;
  }>;
  t.ok(
    audit.some((e) => e.type === 'proof' && e.actor === 'simulated-passport'),
    'the proof audited as the simulated check',
  );

  // The same person asking for another user ID; another person asking for hers.
  await b.get('/activate/passport');
  const elsewhere = await b.post('/activate/passport', { nationalId, passportNumber: 'P123', userId: 'mia2' });
  isPage(t, elsewhere, 409, 'an identity with another user ID');
  t.equal(elsewhere.text('problem'), 'This identity has another user ID. Leave the user ID empty to get yours.');
  const taken = await b.post('/activate/passport', { nationalId: nationalIdOf(3_000_001), passportNumber: 'P456', userId: 'mia' });
  isPage(t, taken, 409, "another person's user ID");
  t.equal(taken.text('problem'), 'That user ID belongs to someone else. Choose another, or leave it empty.');
  t.equal(taken.field('passportNumber'), 'P456', 'the form as typed');

  // Without a wished user ID, the same person gets hers.
  const mine = await b.post('/activate/passport', { nationalId, passportNumber: 'P123', userId: '' });
  t.equal(mine.text('proven'), 'Identity proven for user mia.');
});

t.test('the limits: per device, whatever the form adds; a busy service said on the form', async (t) => {
  const { app } = await testApp(t, { rateLimit: { perIp: 1000, perUser: 2 } });
  const d = await imported(app);
  const proofId = await proofFor(app, 'ida');
  const b = formSession(app);
  for (let i = 0; i < 2; i++) {
    const page = await activatePage(b, activation(d, { proofId, otp: '000000', userId: `someone-${i}` }));
    t.equal(page.status, 401, `attempt ${i + 1}`);
  }
  const limited = await activatePage(b, activation(d, { proofId, userId: 'someone-else' }));
  isPage(t, limited, 429, 'the third on one device');
  t.match(limited.text('problem'), /^Too many attempts\. Try again in \d+ seconds\.$/);
  t.equal(limited.field('serial'), d.serial);

  const busy = await testApp(t, { service: (real) => ({ ...real, busy: () => true }) });
  const c = formSession(busy.app);
  await c.get('/activate');
  const refused = await c.post('/activate', { proofId, serial: d.serial, otp: '123456', password: NEW_PASSWORD, password2: NEW_PASSWORD });
  isPage(t, refused, 503, 'a busy service');
  t.equal(refused.text('problem'), 'The service is busy. Try again in a moment.');
  t.equal(label(refused, 'serial'), 'Serial number', 'the form again');
  await c.get('/activate/self');
  const self = await c.post('/activate/self', { userId: 'ida', otp: '123456', password: PASSWORD });
  isPage(t, self, 503, 'a busy service, the self proof');
});
