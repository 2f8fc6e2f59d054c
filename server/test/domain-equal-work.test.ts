// What each answer costs, counted: a refusal must cost the same password work (one scrypt) as
// the answer it could be told apart from, or its timing tells what the answer does not (an
// unknown serial, another user's device, a user ID without a device, a user from before
// identities). A block costs none, as a block does for a real device.
import t from 'tap';
import { createPasswordHasher, type PasswordHasher } from '../src/security/password.js';
import { CTX, FAST_SCRYPT, activateUser, importToken, newSerial, proofFor, serviceFixture } from './helpers/service.js';
import { identityOf } from '../../test/helpers/identities.js';

/** A hasher that counts its scrypt runs. */
function counting(): { hasher: PasswordHasher; runs(): number } {
  const real = createPasswordHasher(FAST_SCRYPT);
  let runs = 0;
  const count =
    <A extends unknown[], R>(fn: (...a: A) => Promise<R>) =>
    (...a: A): Promise<R> => {
      runs++;
      return fn(...a);
    };
  return {
    hasher: { params: real.params, hash: count(real.hash), verify: count(real.verify), verifyNothing: count(real.verifyNothing) },
    runs: () => runs,
  };
}

t.test('activation: one password hash whatever is wrong, none while the device is blocked', async (t) => {
  const { hasher, runs } = counting();
  const { service } = serviceFixture(t, { service: { passwords: hasher } });
  const [mine, theirs] = [await importToken(service), await importToken(service)];
  await activateUser(service, { userId: 'other', serial: theirs.serial, otp: theirs.otp.generate(0), password: 'other-password-1' });
  const cost = async (req: { proofId: string; serial: string; otp: string }) => {
    const before = runs();
    const outcome = await service.activate({ ...req, password: 'mine-password-1' }, CTX);
    return [outcome.result, runs() - before];
  };
  const proofId = await proofFor(service, 'mine');
  t.same(await cost({ proofId: 'no-such-proof', serial: mine.serial, otp: '000000' }), ['reject', 1], 'no proof');
  t.same(await cost({ proofId, serial: newSerial(), otp: '000000' }), ['reject', 1], 'an unknown serial');
  t.same(await cost({ proofId, serial: theirs.serial, otp: theirs.otp.generate(1) }), ['reject', 1], "another user's device");
  t.same(await cost({ proofId, serial: mine.serial, otp: '000000' }), ['reject', 1], 'a wrong code');
  await cost({ proofId, serial: mine.serial, otp: '000001' });
  await cost({ proofId, serial: mine.serial, otp: '000002' });
  t.same(await cost({ proofId, serial: mine.serial, otp: mine.otp.generate(0) }), ['blocked', 0], 'blocked: none');
});

t.test('login: a user ID without a device costs what one with a device does', async (t) => {
  const { hasher, runs } = counting();
  const { service } = serviceFixture(t, { service: { passwords: hasher } });
  const d = await importToken(service);
  await activateUser(service, { userId: 'real', serial: d.serial, otp: d.otp.generate(0), password: 'real-password-1' });
  await proofFor(service, 'proven-only');
  const costs: Record<string, Array<[string, number]>> = {};
  for (let i = 0; i < 4; i++) {
    for (const userId of ['real', 'unknown', 'proven-only']) {
      const before = runs();
      const outcome = await service.authenticate({ userId, otp: '000000', password: 'a-guess-1' }, CTX);
      (costs[userId] ??= []).push([outcome.result, runs() - before]);
    }
  }
  const expected = [
    ['reject', 1],
    ['reject', 1],
    ['reject', 1],
    ['blocked', 0],
  ];
  for (const userId of Object.keys(costs)) t.same(costs[userId], expected, `${userId}: three checked, then blocked unchecked`);
});

t.test("a proof with an owner's code and password: one check whoever the user is", async (t) => {
  const { hasher, runs } = counting();
  const { service, store } = serviceFixture(t, { service: { passwords: hasher } });
  const d = await importToken(service);
  await activateUser(service, { userId: 'linked', serial: d.serial, otp: d.otp.generate(0), password: 'linked-password-1' });
  // A user from before identities: its identity hash cleared, as the identities migration leaves one.
  await store.attempt({ userId: 'legacy' }, () => ({
    result: null,
    writes: [{ kind: 'create-user', userId: 'legacy', passwordHash: 'scrypt$16$1$1$AAAA$AAAA', identityHash: null, at: 0 }],
  }));
  const owner = { otp: '000000', password: 'owner-password-1' };
  for (const userId of ['linked', 'legacy', 'brand-new']) {
    const before = runs();
    await service.prove({ identity: identityOf(`${userId}-person`), userId, owner }, { ...CTX, actor: 'cred-test' });
    t.equal(runs() - before, 1, `${userId}: one check`);
  }
});
