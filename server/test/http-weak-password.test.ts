// NIST SP 800-63B §5.1.1.2 at activation: a new password of the commonest kind is refused with a
// clear 400, before any code is looked at; nothing is spent, created or bound.
import t from 'tap';
import { isCommonPassword, weakPassword } from '../src/security/common-passwords.js';
import { admin, device, importDevices, post, testApp } from './http-helpers.js';

t.test('the list: the commonest passwords of 8 characters or more, without case', async (t) => {
  for (const p of ['password', 'Password1', '12345678', 'iloveyou1', 'qwertyuiop', 'PASSWORD123']) t.ok(isCommonPassword(p), p);
  for (const p of ['demo-password-1', 'correct horse battery staple', 'kodeviser-2026!']) t.notOk(isCommonPassword(p), p);
  t.equal(weakPassword('1234567'), 'the password must have at least 8 characters');
  t.equal(weakPassword('ÆØÅæøåÆØ'), null, 'eight characters, whatever their bytes');
});

t.test('activation with a common password: 400 weak-password, nothing changed', async (t) => {
  const { app } = await testApp(t);
  const d = device();
  await importDevices(app, d);
  const code = d.press();
  const res = await post(app, '/v1/activate', { userId: 'weak', serial: d.serial, otp: code, password: 'Password123' });
  t.same(
    [res.statusCode, res.json()],
    [400, { error: 'weak-password', message: 'the password is one of the most commonly used ones: choose another' }],
  );
  t.match((await app.inject({ url: `/v1/tokens/${d.serial}`, headers: admin })).json(), {
    userId: null,
    lastMovingFactor: null,
    failures: 0,
  });
  const ok = await post(app, '/v1/activate', { userId: 'weak', serial: d.serial, otp: code, password: 'a-rarer-passphrase' });
  t.equal(ok.statusCode, 200, 'the same code, a better password: accepted (the code was not spent)');
});
