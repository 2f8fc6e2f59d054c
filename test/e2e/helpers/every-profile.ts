/**
 * Every OTP profile end to end (profiles-hotp.test.ts and profiles-totp.test.ts, one mode per
 * file so tap runs them in parallel): for each of the mode's seven primitives, the real
 * `kodeviser manufacture` makes a device and its PSKC seed file, the seed file is imported over
 * the admin API, the device is pressed and activated for a user, pressed again and the user logs
 * in; the same code is then refused. totp needs the server's clock to move one step between the
 * two codes (else the second press shows the same code, rightly refused as a replay), so the
 * totp file runs the server under libfaketime and skips without it.
 */
import type { Test } from 'tap';
import { PROFILES, type Mode } from '@kodeviser/shared';
import { activate, importDevice, login, newUser } from './flows.js';
import { DAY, MINUTE, manufacture, press } from './kodeviser.js';
import { checkOutputForSecrets, findLibfaketime, scratchDir, startServer } from './server.js';

const T0 = Date.parse('2027-03-01T12:00:00Z');

export async function everyProfile(t: Test, mode: Mode): Promise<void> {
  const needsTime = mode === 'totp';
  if (needsTime && !findLibfaketime()) {
    t.plan(0, "skipped: libfaketime not found (install Debian's faketime), so the server's clock cannot move a step");
    return;
  }
  const server = await startServer(t, needsTime ? { fakeStartMs: T0 } : {});
  const dir = scratchDir(t);
  let now = needsTime ? T0 : Math.floor(Date.now() / 1000) * 1000;
  const moveTo = (ms: number) => {
    now = ms;
    if (needsTime) server.setTime(ms);
    return ms;
  };

  const profiles = PROFILES.filter((p) => p.startsWith(`${mode}-`));
  t.equal(profiles.length, 7, 'seven primitives: sha1, sha256, sha512, aes128, aes192, aes256, tdes');
  for (const profile of profiles) {
    t.test(profile, async (t) => {
      const device = await manufacture(server, dir, { profile, at: now - DAY, name: profile });
      t.match(device.pskc, /<pskc:KeyContainer/, 'manufacture wrote a PSKC seed file');
      t.notMatch(device.pskc, device.keyHex, 'whose secret is not in the clear');
      const imported = await importDevice(server, device);
      t.equal(imported.status, 201, 'imported over the admin API');
      t.same(imported.body, { imported: [device.serial] });
      const user = newUser(server, profile);

      const first = await press(server, device, moveTo(now + MINUTE));
      t.match(first.code, /^[0-9]{6}$/, `pressed: ${first.lcd.trim().replace(/[0-9]/g, '#')}`);
      const activated = await activate(server, user, device, first.code as string);
      t.equal(activated.status, 200, 'activated');

      const second = await press(server, device, moveTo(now + MINUTE));
      t.not(second.code, first.code, 'a new code');
      const ok = await login(server, user, second.code as string);
      t.equal(ok.status, 200, 'logged in');
      t.match(ok.body, { result: 'accept', receipt: /^eyJ/ });
      t.equal((await login(server, user, second.code as string)).status, 401, 'the same code again: refused');
      const info = (await server.get(`/v1/tokens/${device.serial}`, { admin: true })).body;
      t.match(info, { profile, userId: user.userId, lastMovingFactor: second.movingFactor });
    });
  }
  checkOutputForSecrets(t, server);
}
