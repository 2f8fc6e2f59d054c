// NIST SP 800-63B §5.1.1.2 for every new password (activation, change, reset): one of the commonest
// kind is refused with a clear 400, before any code is looked at; nothing is spent, created or bound.
import t from 'tap';
import { isCommonPassword, weakPassword } from '../src/security/common-passwords.js';
import { activate, admin, device, importDevices, post, proofFor, testApp } from './http-helpers.js';

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
  const proofId = await proofFor(app, 'weak');
  const res = await post(app, '/v1/activate', { proofId, serial: d.serial, otp: code, password: 'Password123' });
  t.same(
    [res.statusCode, res.json()],
    [400, { error: 'weak-password', message: 'the password is one of the most commonly used ones: choose another' }],
  );
  t.match((await app.inject({ url: `/v1/tokens/${d.serial}`, headers: admin })).json(), {
    userId: null,
    lastMovingFactor: null,
    failures: 0,
  });
  const ok = await post(app, '/v1/activate', { proofId, serial: d.serial, otp: code, password: 'a-rarer-passphrase' });
  t.same(
    [ok.statusCode, ok.json()],
    [200, { result: 'accept', userId: 'weak' }],
    'the same proof and code, a better password: accepted (neither was spent)',
  );
});

t.test('a new password of the commonest kind is refused by the change and the reset too, nothing changed', async (t) => {
  const { app } = await testApp(t);
  const d = device();
  await importDevices(app, d);
  t.equal((await activate(app, { userId: 'kim', serial: d.serial, otp: d.press(), password: 'kims-first-passphrase' })).statusCode, 200);
  const weak = { error: 'weak-password', message: 'the password is one of the most commonly used ones: choose another' };
  const code = d.press();
  const change = await post(app, '/v1/users/self/password', {
    userId: 'kim',
    otp: code,
    oldPassword: 'kims-first-passphrase',
    newPassword: 'qwertyuiop',
  });
  t.same([change.statusCode, change.json()], [400, weak], 'a change');
  const proofId = await proofFor(app, 'kim');
  const reset = await post(app, '/v1/users/self/password-reset', { proofId, otp: code, newPassword: 'iloveyou1' });
  t.same([reset.statusCode, reset.json()], [400, weak], 'a reset');
  t.match(
    (await app.inject({ url: `/v1/tokens/${d.serial}`, headers: admin })).json(),
    { lastMovingFactor: 0, failures: 0 },
    'no code spent',
  );
  const login = await post(app, '/v1/authenticate', { userId: 'kim', otp: code, password: 'kims-first-passphrase' });
  t.equal(login.statusCode, 200, 'the password is the one before, and the code was not spent');
  const again = await post(app, '/v1/users/self/password-reset', { proofId, otp: d.press(), newPassword: 'kims-second-passphrase' });
  t.equal(again.statusCode, 200, 'nor the proof');
});
