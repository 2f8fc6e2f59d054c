// The codes a press shows (docs/token.md, docs/otp-algorithms.md): equal to the OTP core's for
// every profile, totp by the device's own time step, hotp never twice and only after its
// counter is stored, and the LCD layouts for 6, 7 and 8 digits.
import t from 'tap';
import { createOtp, profileInfo, PROFILES, type ProfileName } from '@kodeviser/shared';
import { DP, NVM_LAYOUT, segmentsFor, TEXT_NVM_ERROR, textFor } from '@kodeviser/firmware';
import { type CoreDriver, RFC_KEY, sealedToken } from './driver.js';

function keyFor(profile: ProfileName): Uint8Array {
  return Uint8Array.from({ length: profileInfo(profile).keyBytes }, (_, i) => (i * 37 + 11) & 0xff);
}

t.test('every profile: the codes equal createOtp(...).generate(...)', async (t) => {
  for (const profile of PROFILES) {
    const key = keyFor(profile);
    const d = sealedToken(profile, { key, counter: 7, digits: 6 });
    const otp = createOtp({ profile, key });
    d.press();
    const c = otp.mode === 'hotp' ? 7 : otp.stepAt(Math.floor(d.now / 1e6));
    t.equal(d.view().lastCode, otp.generate(c), profile);
  }
});

t.test('the MCU pays cyclesPerCode for the MAC and the display waits that long', async (t) => {
  const d = sealedToken('hotp-sha512', { key: keyFor('hotp-sha512') });
  d.down();
  d.advance(100_000);
  d.up();
  d.advance(20_000);
  const wake = d.log.at(-1)!;
  const mac = wake.effects.find((e) => e.type === 'cpu' && e.what === 'otp hotp-sha512');
  t.same(mac, { type: 'cpu', cycles: 70_600, what: 'otp hotp-sha512' });
  const arm = wake.effects.find((e) => e.type === 'timer-arm' && e.timer === 'compute-done');
  t.same(arm, { type: 'timer-arm', timer: 'compute-done', at: d.now + Math.ceil(70_600 / 8) }, '70,600 cycles at 8 MHz');
});

t.test('totp: the same code for every press within a step, a new one in the next', async (t) => {
  const key = RFC_KEY;
  const otp = createOtp({ profile: 'totp-sha1', key });
  const stepStart = Math.ceil(1_750_000_000 / 30) * 30 * 1e6; // device µs at a step boundary
  const d = sealedToken('totp-sha1', { at: stepStart - 2_000_000 });
  d.advance(stepStart + 1_000_000 - d.now);
  const shown: string[] = [];
  for (let i = 0; i < 3; i++) {
    // three presses 8 s apart, all within one 30 s step
    d.press();
    shown.push(d.view().lastCode!);
    d.press(); // off
    d.advance(8_000_000);
  }
  const step0 = stepStart / 30e6;
  t.same(shown, [otp.generate(step0), otp.generate(step0), otp.generate(step0)]);
  t.equal(d.view().movingFactor, step0);
  d.advance(stepStart + 30_000_000 - d.now); // the next step begins
  d.press();
  t.equal(d.view().lastCode, otp.generate(step0 + 1));
  t.not(d.view().lastCode, shown[0]);
  t.equal(d.view().movingFactor, step0 + 1);
});

t.test('totp with a 60 s step and 8 digits', async (t) => {
  const otp = createOtp({ profile: 'totp-sha256', key: keyFor('totp-sha256'), step: 60, digits: 8 });
  const d = sealedToken('totp-sha256', { key: keyFor('totp-sha256'), step: 60, digits: 8 });
  d.press();
  t.equal(d.view().lastCode, otp.generate(Math.floor(d.now / 60e6)));
  t.equal(d.lcd(), d.view().lastCode, '8 digits fill the display');
});

t.test('hotp: a new code for every press, never one twice', async (t) => {
  const otp = createOtp({ profile: 'hotp-sha1', key: RFC_KEY });
  const d = sealedToken();
  for (let i = 0; i < 10; i++) {
    d.press();
    d.advance(31_000_000);
  }
  // RFC 4226 Appendix D: the first ten codes of the test key
  t.same(d.codesShown, ['755224', '287082', '359152', '969429', '338314', '254676', '287922', '162583', '399871', '520489']);
  t.same(
    d.codesShown,
    Array.from({ length: 10 }, (_, i) => otp.generate(i)),
  );
  t.equal(d.view().movingFactor, 10);
  t.equal(d.view().codesShown, 10);
});

t.test('hotp: the counter is stored and verified before its code is displayed', async (t) => {
  const d = sealedToken();
  d.down();
  d.advance(100_000);
  d.up();
  d.advance(20_000); // release confirmed: the MAC (1.3 ms) and the counter write (2 ms) start
  const wake = d.log.at(-1)!;
  const write = wake.effects.find((e) => e.type === 'nvm-write');
  t.ok(write && write.type === 'nvm-write' && NVM_LAYOUT.counter.slots.includes(write.address), 'the counter write is issued at the press');
  d.advance(1_500); // the MAC is done, the write is not
  t.equal(d.view().screen, 'computing', 'no code while the counter is not yet stored');
  t.equal(d.lcd(), '        ');
  d.advance(1_000);
  t.equal(d.view().screen, 'code', 'the code follows nvm-done ok');
  const shownAt = d.log.findIndex((l) => l.effects.some((e) => e.type === 'lcd' && textFor(e.segments).trim() === '755224'));
  const doneAt = d.log.findIndex((l) => l.event.type === 'nvm-done');
  t.ok(doneAt >= 0 && doneAt <= shownAt, 'the lcd effect comes with or after nvm-done');
});

t.test('hotp: a failed counter write shows an error and no code; the next press retries', async (t) => {
  const otp = createOtp({ profile: 'hotp-sha1', key: RFC_KEY });
  const d = sealedToken();
  let failCounter = true;
  d.writeOutcome = (w) => (failCounter && NVM_LAYOUT.counter.slots.includes(w.address) ? 'fail' : 'ok');
  d.press();
  t.equal(d.view().screen, 'error');
  t.equal(d.lcd().trimEnd(), TEXT_NVM_ERROR);
  t.same(d.codesShown, [], 'no code shown');
  t.equal(d.view().movingFactor, 0, 'the counter did not move');
  d.advance(30_000_000);
  t.equal(d.view().screen, 'off', 'the error goes off like a code');
  failCounter = false;
  d.press();
  t.same(d.codesShown, [otp.generate(0)], 'code 0 was never shown, so it may be now');
  t.equal(d.view().movingFactor, 1);
  d.press(); // off
  d.press();
  t.same(d.codesShown, [otp.generate(0), otp.generate(1)]);
});

t.test('layouts: 6 and 7 digits from character 1, 8 from 0; low battery is b or the last dp', async (t) => {
  const low = (d: CoreDriver) => {
    d.state = { ...d.state, spentNc: d.config.capacityNc * 0.95 };
  };
  for (const digits of [6, 7, 8]) {
    const otp = createOtp({ profile: 'hotp-sha1', key: RFC_KEY, digits });
    const d = sealedToken('hotp-sha1', { digits });
    d.press();
    const code = otp.generate(0);
    t.equal(d.lcd(), digits === 8 ? code : ` ${code}`.padEnd(8, ' '), `${digits} digits`);
    d.press();
    low(d);
    d.press();
    t.ok(d.view().lowBattery);
    const code1 = otp.generate(1);
    if (digits === 8) {
      t.equal(d.lcd(), `${code1}.`, '8 digits: the decimal point of character 7');
      t.equal((d.state.lcd[7] as number) & DP, DP);
    } else {
      t.equal(d.lcd(), `b${code1}`.padEnd(8, ' '), `${digits} digits: b in character 0`);
      t.equal(d.state.lcd[0], segmentsFor('b')[0]);
    }
  }
});
