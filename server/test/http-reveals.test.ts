// What the server tells an attacker, and how many guesses it gives: each finding of the review
// (issue "leaks and guessing") as a test that failed on the code before its fix.
import t from 'tap';
import { admin, asService, credential, device, importDevices, post, testApp } from './http-helpers.js';

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
