/**
 * End to end, totp tokens left in a drawer for months: the real server process under
 * libfaketime (its wall clock moved months ahead) and the real `kodeviser` CLI pressing each
 * device `--at` the same true time. After half a year a +20 ppm crystal is about six steps
 * ahead, far outside the ±1-step window, but inside the wide window, which widens with idle
 * time: the first code only starts a resync and the user's next code, in the next step, completes
 * it — seen by the user as one reject then a login (/v1/authenticate), and by a back end as
 * "resync-started" then "accept" (/v1/validate). A code of the resync is never accepted again.
 * Time: faketime (real process); the file skips when libfaketime is not installed.
 */
import t from 'tap';
import { activate, auditOf, importDevice, login, newUser, validate } from './helpers/flows.js';
import { DAY, MINUTE, manufacture, press } from './helpers/kodeviser.js';
import { checkOutputForSecrets, findLibfaketime, scratchDir, startServer } from './helpers/server.js';

const T0 = Date.parse('2027-02-01T10:00:00Z');

if (!findLibfaketime()) {
  t.plan(0, "skipped: libfaketime not found (install Debian's faketime), so months cannot pass for the server");
} else {
  const server = await startServer(t, { fakeStartMs: T0 });
  const dir = scratchDir(t);

  t.test('unused for six months (+20 ppm): one reject, then the next code logs in (/v1/authenticate)', async (t) => {
    const device = await manufacture(server, dir, { profile: 'totp-sha512', at: T0 - DAY, driftPpm: 20, name: 'idle-login' });
    t.equal((await importDevice(server, device)).status, 201);
    const user = newUser(server, 'idle-login');
    server.setTime(T0);
    t.equal((await activate(server, user, device, (await press(server, device, T0)).code as string)).status, 200, 'activated');
    server.setTime(T0 + DAY);
    t.equal((await login(server, user, (await press(server, device, T0 + DAY)).code as string)).status, 200, 'used the next day');

    const later = T0 + 182 * DAY;
    server.setTime(later);
    const first = await press(server, device, later);
    const ahead = (Date.parse(first.deviceTime) - later) / 30_000;
    t.ok(ahead > 2, `after six months the device is ${ahead.toFixed(1)} steps ahead`);
    const refused = await login(server, user, first.code as string);
    t.equal(refused.status, 401, 'the first code after six months is not a login by itself');
    t.same(refused.body, { result: 'reject' }, 'and the user is told nothing more');
    server.setTime(later + 30_000);
    const next = await press(server, device, later + 30_000);
    t.not(next.code, first.code, 'the next step shows the next code');
    t.equal((await login(server, user, next.code as string)).status, 200, 'the next code logs in');
    t.equal((await login(server, user, next.code as string)).status, 401, 'once');
    const events = await auditOf(server, device);
    t.match(
      events.find((e) => e.type === 'accept'),
      { reason: 'resync', movingFactor: next.movingFactor },
      'audited as a resync',
    );
    const info = (await server.get(`/v1/tokens/${device.serial}`, { admin: true })).body;
    t.ok(Math.abs(info.drift - ahead) <= 1.5, `the server now expects the token ${info.drift} steps ahead`);

    server.setTime(later + 7 * DAY);
    t.equal(
      (await login(server, user, (await press(server, device, later + 7 * DAY)).code as string)).status,
      200,
      'a week later the first code logs in again',
    );
  });

  t.test('unused for a year (−20 ppm): "resync-started", then "accept" (/v1/validate)', async (t) => {
    const start = server.now() + MINUTE;
    const device = await manufacture(server, dir, { profile: 'totp-tdes', at: start - DAY, driftPpm: -20, name: 'idle-validate' });
    t.equal((await importDevice(server, device)).status, 201);
    server.setTime(start);
    t.equal((await validate(server, device, (await press(server, device, start)).code as string)).body.result, 'accept', 'used once');

    const later = start + 365 * DAY;
    server.setTime(later);
    const first = await press(server, device, later);
    t.ok((Date.parse(first.deviceTime) - later) / 30_000 < -10, 'a year later the device is more than ten steps behind');
    t.same((await validate(server, device, first.code as string)).body, {
      result: 'resync-started',
      serial: device.serial,
      movingFactor: null,
    });
    server.setTime(later + 30_000);
    const next = await press(server, device, later + 30_000);
    t.same(
      (await validate(server, device, next.code as string)).body,
      { result: 'accept', serial: device.serial, movingFactor: next.movingFactor },
      'the next code completes the resync',
    );
    t.equal((await validate(server, device, first.code as string)).body.result, 'reject', 'the first code of the pair is spent');
  });

  checkOutputForSecrets(t, server);
}
