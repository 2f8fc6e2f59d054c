/**
 * End to end, a token at the end of its coin cell: the real server process (server/dist/main.js
 * on SQLite) and the real `kodeviser` CLI. A hotp device is made, activated, and then left on
 * the shelf for years: `kodeviser hold … --advance` lets the time pass (and the firmware's
 * battery counter run down) without showing a code. Once the counter is below the low-battery
 * threshold (10 %), a press shows the code with `b` in the first character, and that code still
 * logs in; once it reaches 0 %, a press shows `bAtt` and no code, and `press --json` says so.
 * The years are found by stepping, not assumed, so a recalibrated battery model moves the dates,
 * not the outcome.
 * Time: the server runs on the real clock (hotp needs none to pass; no faketime here).
 */
import t from 'tap';
import { join } from 'node:path';
import { activate, importDevice, login, newUser } from './helpers/flows.js';
import { DAY, holdAfter, kodeviser, manufacture, press, type Press } from './helpers/kodeviser.js';
import { checkOutputForSecrets, scratchDir, startServer } from './helpers/server.js';

const server = await startServer(t);
const dir = scratchDir(t);

t.test('a low battery still logs in (b and the code); an empty one shows bAtt and no code', async (t) => {
  const made = Date.now() - Math.round(12 * 365.25 * DAY);
  const device = await manufacture(server, dir, { profile: 'hotp-sha1', at: made, name: 'battery' });
  t.equal((await importDevice(server, device)).status, 201);
  const user = newUser(server, 'battery');
  const first = await press(server, device, made + 60_000);
  t.equal(first.batteryPercent, 100, 'a new cell');
  t.equal((await activate(server, user, device, first.code as string)).status, 200, 'activated when new');

  // Nine years on the shelf, then two months at a time until the counter says low.
  let state: Press = await holdAfter(device, '9y');
  for (let i = 0; state.batteryPercent >= 10 && i < 30; i++) state = await holdAfter(device, '60d');
  t.ok(state.batteryPercent < 10 && state.batteryPercent > 0, `low: ${state.batteryPercent} % after ${state.deviceTime.slice(0, 10)}`);
  t.equal(state.code, null, 'the menu showed no code');

  const low = await press(server, device, Date.parse(state.deviceTime) + 60_000);
  t.match(low.lcd, /^b[0-9]{6} $/, `the LCD shows b and the code: "${low.lcd}"`);
  t.equal(low.lcd.slice(1, 7), low.code);
  const ok = await login(server, user, low.code as string);
  t.equal(ok.status, 200, "a low battery's code logs in");
  t.match(ok.body, { result: 'accept', receipt: /^eyJ/ });

  for (let i = 0; state.batteryPercent > 0 && i < 30; i++) state = await holdAfter(device, '60d');
  t.equal(state.batteryPercent, 0, `empty after ${state.deviceTime.slice(0, 10)}`);
  const empty = await press(server, device, Date.parse(state.deviceTime) + 60_000);
  t.equal(empty.lcd, 'bAtt    ', 'the LCD says bAtt');
  t.equal(empty.code, null, 'press --json says there is no code');
  t.equal(empty.batteryPercent, 0);
});

t.test('device conditions typed as the help writes them: --drift-ppm -20, --temp -5', async (t) => {
  const file = join(dir, 'negative.json');
  const made = await kodeviser(['manufacture', '--profile', 'totp-sha1', '--drift-ppm', '-20', '--out', file]).catch(
    (e: { stderr: string }) => e,
  );
  t.notMatch(made.stderr ?? '', /ambiguous/, 'manufacture --drift-ppm -20');
  const pressed = await kodeviser(['press', file, '--temp', '-5', '--json']).catch((e: { stderr: string }) => e);
  t.notMatch(pressed.stderr ?? '', /ambiguous|no such file/, 'press --temp -5');
});

checkOutputForSecrets(t, server);
