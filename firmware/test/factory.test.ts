// Factory mode (types.ts Personalisation, docs/token.md): an unsealed token takes
// factory-personalise (checked field by field) and factory-seal, answers every command with
// factory-reply after its records are stored, shows nothing useful on a press, and refuses every
// factory command once sealed.
import t from 'tap';
import { createOtp } from '@kodeviser/shared';
import { DEFAULT_CONFIG, init, inspect, NVM_LAYOUT, TEXT_FACTORY } from '@kodeviser/firmware';
import { CoreDriver, personalisation, RFC_KEY, SERIAL, sealedToken } from './driver.js';

t.test('a blank token: unsealed, no profile, FActory on a press', async (t) => {
  const d = new CoreDriver();
  t.same(
    { ...d.view(), lcd: undefined },
    {
      sealed: false,
      screen: 'off',
      menuItem: null,
      profile: null,
      serial: null,
      digits: 6,
      movingFactor: null,
      lastCode: null,
      codeMovingFactor: null,
      codesShown: 0,
      batteryPercent: 100,
      lowBattery: false,
      lcd: undefined,
      buttonDown: false,
      nvmBusy: false,
    },
  );
  d.press();
  t.equal(d.view().screen, 'factory');
  t.equal(d.lcd().trimEnd(), TEXT_FACTORY);
  d.advance(30_000_000);
  t.equal(d.view().screen, 'off');
  d.down();
  d.advance(6_100_000);
  t.equal(d.view().screen, 'factory', 'no menu before sealing either');
  d.up();
  d.advance(50_000);
  d.personalise();
  d.press();
  d.press();
  t.equal(d.lcd().trimEnd(), TEXT_FACTORY, 'personalised but not sealed: still no code');
  t.same(d.codesShown, []);
});

t.test('personalise is answered after its records are stored, and survives a reboot', async (t) => {
  const d = new CoreDriver();
  d.send({ type: 'factory-personalise', data: personalisation({ counter: 5 }) });
  t.same(d.replies, [], 'no answer before the NVM writes land');
  t.ok(d.view().nvmBusy);
  d.advance(4_100);
  t.same(d.replies, [{ ok: true }], 'answered after the personalisation and counter records');
  d.advance(10_000);
  t.notOk(d.view().nvmBusy);
  d.seal();
  t.same(d.replies, [{ ok: true }, { ok: true }]);
  const rebooted = inspect(init(DEFAULT_CONFIG, d.nvm));
  t.same([rebooted.sealed, rebooted.profile, rebooted.serial, rebooted.movingFactor], [true, 'hotp-sha1', SERIAL, 5]);
  d.reboot();
  d.press();
  t.equal(d.view().lastCode, createOtp({ profile: 'hotp-sha1', key: RFC_KEY }).generate(5));
});

t.test('personalise may be repeated before sealing', async (t) => {
  const d = new CoreDriver();
  d.personalise({ profile: 'totp-aes128', key: new Uint8Array(16) });
  d.personalise({ profile: 'hotp-tdes', key: Uint8Array.from({ length: 24 }, (_, i) => i), digits: 8 });
  d.seal();
  t.same(
    d.replies.map((r) => r.ok),
    [true, true, true],
  );
  t.same([d.view().profile, d.view().digits], ['hotp-tdes', 8]);
  t.equal(inspect(init(DEFAULT_CONFIG, d.nvm)).profile, 'hotp-tdes');
});

t.test('each field is checked and a refusal names it', async (t) => {
  const cases: [string, unknown, RegExp][] = [
    ['not an object', null, /^data:/],
    ['unknown profile', { profile: 'hotp-md5' }, /^profile: unknown profile hotp-md5/],
    ['key not bytes', { key: 'secret' }, /^key: must be bytes/],
    ['key too long', { key: new Uint8Array(65) }, /^key: at most 64 bytes/],
    ['empty hmac key', { key: new Uint8Array(0) }, /^key: must not be empty/],
    ['aes128 key of 20 bytes', { profile: 'totp-aes128', key: new Uint8Array(20) }, /^key: must be 16 bytes/],
    ['tdes key of 8 bytes', { profile: 'hotp-tdes', key: new Uint8Array(8) }, /^key: must be 16 or 24 bytes/],
    ['weak tdes key', { profile: 'hotp-tdes', key: new Uint8Array(16) }, /^key: TDEA requires/],
    ['serial of 9 digits', { serial: '123456789' }, /^serial:/],
    ['serial with a bad check digit', { serial: '1234567890' }, /^serial: .*Luhn/],
    ['serial in its printed form', { serial: '12-3456789-7' }, /^serial:/],
    ['5 digits', { digits: 5 }, /^digits: .*got 5/],
    ['9 digits', { digits: 9 }, /^digits:/],
    ['6.5 digits', { digits: 6.5 }, /^digits:/],
    ['step 45', { step: 45 }, /^step: must be 30 or 60 seconds, got 45/],
    ['negative counter', { counter: -1 }, /^counter:/],
    ['fractional counter', { counter: 1.5 }, /^counter:/],
    ['counter of 2^52', { counter: 2 ** 52 }, /^counter:/],
  ];
  for (const [name, patch, reason] of cases) {
    const d = new CoreDriver();
    const data = patch === null ? null : { ...personalisation(), ...(patch as object) };
    d.send({ type: 'factory-personalise', data: data as never });
    t.equal(d.replies.length, 1, `${name}: answered at once`);
    t.equal(d.replies[0]!.ok, false, name);
    t.match(d.replies[0]!.reason, reason, name);
    t.notOk(d.view().nvmBusy, `${name}: nothing written`);
    t.equal(d.view().profile, null);
  }
});

t.test('seal needs a personalisation, and a command waits for the one before', async (t) => {
  const d = new CoreDriver();
  d.seal();
  t.match(d.replies.pop(), { ok: false, reason: /^not personalised/ });
  d.send({ type: 'factory-personalise', data: personalisation() });
  d.send({ type: 'factory-seal' });
  t.match(d.replies.pop(), { ok: false, reason: /^busy/ });
  d.send({ type: 'factory-personalise', data: personalisation() });
  t.match(d.replies.pop(), { ok: false, reason: /^busy/ });
  d.advance(20_000);
  t.same(d.replies, [{ ok: true }]);
});

t.test('after sealing every factory command is refused', async (t) => {
  const d = sealedToken();
  const before = d.nvm.slice();
  d.send({ type: 'factory-personalise', data: personalisation({ key: new Uint8Array(20) }) });
  d.send({ type: 'factory-seal' });
  d.advance(20_000);
  t.same(d.replies.slice(2), [
    { ok: false, reason: 'sealed: factory commands are refused after sealing' },
    { ok: false, reason: 'sealed: factory commands are refused after sealing' },
  ]);
  t.same(d.nvm.subarray(0, 0xc0), before.subarray(0, 0xc0), 'the personalisation records are untouched');
  d.press();
  t.equal(d.view().lastCode, '755224', 'still the original key');
});

t.test('a failed write makes the factory command fail, and it can be sent again', async (t) => {
  const d = new CoreDriver();
  let fail = true;
  d.writeOutcome = (w) => (fail && NVM_LAYOUT.personalisation.slots.includes(w.address) ? 'fail' : 'ok');
  d.personalise();
  t.match(d.replies.pop(), { ok: false, reason: /^nvm:/ });
  t.equal(inspect(init(DEFAULT_CONFIG, d.nvm)).profile, null, 'nothing usable stored');
  fail = false;
  d.personalise();
  t.same(d.replies.pop(), { ok: true });
  fail = true;
  d.seal();
  t.match(d.replies.pop(), { ok: false, reason: /^nvm:/ });
  t.equal(inspect(init(DEFAULT_CONFIG, d.nvm)).sealed, false, 'the seal did not land');
  fail = false;
  d.seal();
  t.same(d.replies.pop(), { ok: true });
  t.equal(inspect(init(DEFAULT_CONFIG, d.nvm)).sealed, true);
});
