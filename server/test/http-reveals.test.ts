// What the server tells an attacker, and how many guesses it gives: each finding of the review
// (issue "leaks and guessing") as a test that failed on the code before its fix.
import t from 'tap';
import { activate, admin, asService, credential, device, importDevices, post, proofFor, testApp } from './http-helpers.js';

t.test('/metrics is behind a bearer: its outcome reasons would tell a caller what each guess found', async (t) => {
  const { app } = await testApp(t);
  const metrics = (headers: Record<string, string> = {}) => app.inject({ method: 'GET', url: '/metrics', headers });
  const anonymous = await metrics();
  t.same([anonymous.statusCode, anonymous.json().error], [401, 'unauthorized'], 'anonymous: nothing');
  t.notMatch(anonymous.body, /otp_outcomes/);
  t.equal((await metrics(admin)).statusCode, 200, 'the admin reads it');
  const scraper = await metrics(await credential(app, 'metrics'));
  t.equal(scraper.statusCode, 200, 'a metrics credential reads it');
  t.match(scraper.body, /kodeviser_otp_outcomes_total|kodeviser_http_requests_total/);
  for (const role of ['operator', 'proofing', 'service'] as const) {
    t.equal((await metrics(await credential(app, role))).statusCode, 401, `${role}: not theirs`);
  }
  t.equal((await metrics(asService)).statusCode, 401, 'nor the service token');
  const doc = (await app.inject({ method: 'GET', url: '/docs/json' })).json();
  t.same(doc.paths['/metrics'].get.security, [{ bearer: [] }], 'the OpenAPI document says so');
});

t.test('a service credential scoped to a range of serials validates those only', async (t) => {
  const { app } = await testApp(t);
  const [inside, outside] = [device('hotp-sha1', '1000000008'), device('hotp-sha1', '2000000006')];
  await importDevices(app, inside, outside);
  const created = await post(
    app,
    '/v1/credentials',
    { role: 'service', name: 'bank A', serials: { from: '10-0000000-8', to: '1999999996' } },
    admin,
  );
  t.equal(created.statusCode, 201);
  t.same(created.json().serials, { from: '1000000008', to: '1999999996' }, 'normalised, shown in the listing too');
  const scoped = { authorization: `Bearer ${created.json().token}` };
  t.match((await post(app, '/v1/validate', { serial: inside.serial, otp: inside.press() }, scoped)).json(), { result: 'accept' });
  const refused = await post(app, '/v1/validate', { serial: outside.serial, otp: '000000' }, scoped);
  t.same([refused.statusCode, refused.json().error], [403, 'forbidden'], 'another range: refused before any code is looked at');
  t.match(
    (await app.inject({ method: 'GET', url: `/v1/tokens/${outside.serial}`, headers: admin })).json(),
    { failures: 0 },
    "so a leaked credential cannot block another range's tokens",
  );
  for (const [body, message] of [
    [{ role: 'operator', name: 'x', serials: { from: '1000000008', to: '1999999996' } }, /service credential only/],
    [{ role: 'service', name: 'x', serials: { from: '1999999996', to: '1000000008' } }, /from must not be after/],
    [{ role: 'service', name: 'x', serials: { from: '1000000000', to: '1999999996' } }, /serials\.from/],
  ] as const) {
    const res = await post(app, '/v1/credentials', body, admin);
    t.match([res.statusCode, res.json()], [400, { message }]);
  }
  t.same((await post(app, '/v1/credentials', { role: 'service', name: 'all' }, admin)).json().serials, null, 'unscoped: null');
});

t.test('a user ID without a device answers as one with a device: the same statuses and Retry-After', async (t) => {
  const { app, clock } = await testApp(t);
  const [real, revokedOne] = [device(), device()];
  await importDevices(app, real, revokedOne);
  await activate(app, { userId: 'has-device', serial: real.serial, otp: real.press(), password: 'real-password-1' });
  await activate(app, { userId: 'lost-device', serial: revokedOne.serial, otp: revokedOne.press(), password: 'lost-password-1' });
  await post(app, `/v1/tokens/${revokedOne.serial}/revoke`, {}, admin);
  await proofFor(app, 'proven-only'); // a user, never activated
  const ids = ['has-device', 'never-heard-of', 'proven-only', 'lost-device'];
  const answers = async () => {
    const seen: Record<string, Array<[number, string | undefined]>> = {};
    for (const userId of ids) {
      const res = await post(app, '/v1/authenticate', { userId, otp: '000000', password: 'guessed-password' });
      (seen[userId] ??= []).push([res.statusCode, res.headers['retry-after'] as string | undefined]);
    }
    return seen;
  };
  const rounds: Array<Record<string, Array<[number, string | undefined]>>> = [];
  for (let i = 0; i < 5; i++) rounds.push(await answers());
  clock.advance(31_000);
  for (let i = 0; i < 2; i++) rounds.push(await answers());
  const byId = (userId: string) => rounds.map((r) => r[userId]![0]);
  t.same(
    byId('has-device'),
    [
      [401, undefined],
      [401, undefined],
      [401, undefined],
      [429, '30'],
      [429, '30'],
      [401, undefined],
      [429, '60'],
    ],
    'a real device: blocked after the third, 30 s, then 60 s',
  );
  for (const userId of ids.slice(1)) t.same(byId(userId), byId('has-device'), `${userId}: the same`);
});

t.test("an accept does not give the guesser's budget back: 20 wrong codes a day per user ID", async (t) => {
  const { app, clock } = await testApp(t);
  const d = device();
  await importDevices(app, d);
  await activate(app, { userId: 'victim', serial: d.serial, otp: d.press(), password: 'victim-password-1' });
  const guess = () => post(app, '/v1/authenticate', { userId: 'victim', otp: '000000', password: 'victim-password-1' });
  const own = () => post(app, '/v1/authenticate', { userId: 'victim', otp: d.press(), password: 'victim-password-1' });
  // The guesser knows the password and sends two wrong codes between the owner's daily logins.
  for (let day = 0; day < 9; day++) {
    for (let i = 0; i < 2; i++) t.equal((await guess()).statusCode, 401, `day ${day}, guess ${i}`);
    t.equal((await own()).statusCode, 200, `day ${day}: the owner logs in, the failures reset`);
    clock.advance(60_000);
  }
  for (let i = 19; i <= 20; i++) t.equal((await guess()).statusCode, 401, `wrong code ${i}`);
  const spent = await guess();
  t.same([spent.statusCode, spent.json().result], [429, 'blocked'], 'the 21st wrong code in a day: answered as a block');
  t.equal(Number(spent.headers['retry-after']), 86_400 - 540, 'until the window that began with the first wrong code ends');
  t.equal((await own()).statusCode, 429, 'the owner too, until then (as a block after failures would)');
  clock.advance(86_400_000 - 540_000);
  t.equal((await own()).statusCode, 200, 'a new window');
  const phantom = () => post(app, '/v1/authenticate', { userId: 'nobody-at-all', otp: '000000', password: 'x-password-1' });
  const statuses: number[] = [];
  for (let i = 0; i < 21; i++) {
    statuses.push((await phantom()).statusCode);
    clock.advance(3_600_000); // past every block
  }
  t.same(statuses.slice(18), [401, 401, 429], 'an unknown ID: the same 20, whatever the blocks');
});

t.test('bearer guessing is limited: 20 failed tokens a minute per address, then 429, /v1/validate too', async (t) => {
  const { app } = await testApp(t, { rateLimit: { perIp: 10_000 } });
  const from = (remoteAddress: string, authorization?: string, url = '/v1/audit') =>
    app.inject({ method: 'GET', url, remoteAddress, headers: authorization === undefined ? {} : { authorization } });
  for (let i = 0; i < 5; i++) t.equal((await from('192.0.2.7')).statusCode, 401, 'no header: not a guess, not counted');
  const operator = await credential(app, 'operator');
  for (let i = 0; i < 5; i++)
    t.equal((await from('192.0.2.7', operator.authorization)).statusCode, 401, 'a real token of another role: not counted');
  const statuses: number[] = [];
  for (let i = 0; i < 20; i++) statuses.push((await from('192.0.2.7', `Bearer guess-${i}`)).statusCode);
  t.same(new Set(statuses), new Set([401]), 'twenty guesses: 401 each');
  const over = await from('192.0.2.7', 'Bearer guess-20');
  t.same([over.statusCode, over.json().error], [429, 'rate-limited'], 'the 21st: refused');
  t.ok(Number(over.headers['retry-after']) > 0 && Number(over.headers['retry-after']) <= 60, 'for the rest of the minute');
  t.equal((await from('192.0.2.7', admin.authorization)).statusCode, 429, 'the right token too: nothing is looked at');
  const validate = await app.inject({
    method: 'POST',
    url: '/v1/validate',
    remoteAddress: '192.0.2.7',
    headers: { authorization: 'Bearer guess-x' },
    payload: { serial: '1000000008', otp: '000000' },
  });
  t.equal(validate.statusCode, 429, '/v1/validate, exempt from the per-IP limit, is not exempt from this one');
  t.equal((await from('192.0.2.8', admin.authorization)).statusCode, 200, 'another address is not affected');

  const { app: unlimited } = await testApp(t, { rateLimit: { perIp: 0 } });
  const codes = [];
  for (let i = 0; i < 30; i++)
    codes.push((await unlimited.inject({ url: '/v1/audit', headers: { authorization: `Bearer g${i}` } })).statusCode);
  t.same(new Set(codes), new Set([401]), 'KODEVISER_RATE_LIMIT_IP=0 switches it off with the other per-IP limits');
});
