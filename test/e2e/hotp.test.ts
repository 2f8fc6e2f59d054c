/**
 * End to end, an event-based (hotp) token whose button was pressed while nobody was looking:
 * the real server process (server/dist/main.js on SQLite) and the real `kodeviser` CLI.
 * - presses ahead within the look-ahead window (10) are simply accepted;
 * - further ahead (within the wide window, 100) one code only starts a resync, and the very next
 *   code completes it — the two-code path, through /v1/validate and through /v1/authenticate;
 * - beyond the wide window a code is refused, and an admin resyncs the token from two
 *   consecutive codes (POST /v1/tokens/:serial/resync);
 * and no spent code is ever accepted again.
 * Time: the server runs on the real clock (hotp needs no time to pass; no faketime here).
 */
import t from 'tap';
import { activate, auditOf, importDevice, login, newUser, validate } from './helpers/flows.js';
import { DAY, MINUTE, manufacture, press, pressMany, type Device } from './helpers/kodeviser.js';
import { checkOutputForSecrets, scratchDir, startServer } from './helpers/server.js';

const server = await startServer(t);
const dir = scratchDir(t);
/** The devices' true time: starts at the host clock, moves on with every press. */
let now = Math.floor(Date.now() / 1000) * 1000;

async function activated(name: string): Promise<{ device: Device; user: ReturnType<typeof newUser> }> {
  const device = await manufacture(server, dir, { profile: 'hotp-sha1', at: now - DAY, name });
  const imported = await importDevice(server, device);
  if (imported.status !== 201) throw new Error(`import: ${imported.status} ${JSON.stringify(imported.body)}`);
  const user = newUser(server, name);
  const res = await activate(server, user, device, (await press(server, device, (now += MINUTE))).code as string);
  if (res.status !== 200) throw new Error(`activate: ${res.status} ${JSON.stringify(res.body)}`);
  return { device, user };
}

/** `n` presses whose codes nobody sends (one `kodeviser run` process); the clock moves past them. */
async function unseenPresses(device: Device, n: number): Promise<void> {
  await pressMany(server, device, n, dir);
  now += n * 31_000 + MINUTE;
}

t.test('presses ahead within the look-ahead window are accepted', async (t) => {
  const { device } = await activated('look-ahead');
  await unseenPresses(device, 9);
  const tenth = await press(server, device, (now += MINUTE));
  t.equal(tenth.movingFactor, 10, 'counter 0 was spent at activation, 1..9 were pressed and never sent, this is 10');
  const res = await validate(server, device, tenth.code as string);
  t.same(res.body, { result: 'accept', serial: device.serial, movingFactor: 10 }, 'the 10th code ahead is accepted at once');
  const again = await validate(server, device, tenth.code as string);
  t.same(again.body, { result: 'reject', serial: device.serial, movingFactor: null }, 'and only once');
});

t.test('beyond the look-ahead window: one code starts a resync, the next completes it (/v1/validate)', async (t) => {
  const { device } = await activated('wide-validate');
  await unseenPresses(device, 10);
  const first = await press(server, device, (now += MINUTE));
  t.equal(first.movingFactor, 11, '11 ahead of the last accepted counter 0');
  t.same(
    (await validate(server, device, first.code as string)).body,
    { result: 'resync-started', serial: device.serial, movingFactor: null },
    'one code alone is not enough',
  );
  const second = await press(server, device, (now += MINUTE));
  t.same(
    (await validate(server, device, second.code as string)).body,
    { result: 'accept', serial: device.serial, movingFactor: 12 },
    'the very next code completes the resync',
  );
  const third = await press(server, device, (now += MINUTE));
  t.equal((await validate(server, device, third.code as string)).body.result, 'accept', 'and the token is in step again');
  const info = (await server.get(`/v1/tokens/${device.serial}`, { admin: true })).body;
  t.match(info, { lastMovingFactor: 13, resyncPending: false, failures: 0 });
  t.equal((await validate(server, device, first.code as string)).body.result, 'reject', 'the first code of the pair is spent too');
});

t.test('the same two-code path as the user sees it (/v1/authenticate): a reject, then the next code logs in', async (t) => {
  const { device, user } = await activated('wide-login');
  await unseenPresses(device, 50);
  const first = await press(server, device, (now += MINUTE));
  const refused = await login(server, user, first.code as string);
  t.equal(refused.status, 401, 'a code 51 ahead (counter 51; 0 was spent) is not a login');
  t.same(refused.body, { result: 'reject' }, 'and the user is told nothing more');
  const next = await press(server, device, (now += MINUTE));
  const ok = await login(server, user, next.code as string);
  t.equal(ok.status, 200, 'the next code logs in: the server followed the token');
  const events = await auditOf(server, device);
  t.match(events[0], { type: 'accept', reason: 'resync', movingFactor: 52 }, 'audited as a resync');
});

t.test('beyond the wide window: a code is refused, and an admin resyncs from two consecutive codes', async (t) => {
  const { device, user } = await activated('admin-resync');
  await unseenPresses(device, 150);
  const c1 = await press(server, device, (now += MINUTE));
  const c2 = await press(server, device, (now += MINUTE));
  t.same([c1.movingFactor, c2.movingFactor], [151, 152]);
  t.same(
    (await validate(server, device, c1.code as string)).body,
    { result: 'reject', serial: device.serial, movingFactor: null },
    '151 ahead: not even a resync',
  );
  const notAdmin = await server.post(`/v1/tokens/${device.serial}/resync`, { otp1: c1.code, otp2: c2.code });
  t.equal(notAdmin.status, 401, 'resync takes the admin token');
  const swapped = await server.post(`/v1/tokens/${device.serial}/resync`, { otp1: c2.code, otp2: c1.code }, { admin: true });
  t.equal(swapped.status, 409, 'two codes in the wrong order are not consecutive');
  const res = await server.post(`/v1/tokens/${device.serial}/resync`, { otp1: c1.code, otp2: c2.code }, { admin: true });
  t.equal(res.status, 200);
  t.match(res.body, { result: 'resynced', serial: device.serial, movingFactor: 152, drift: 0 });
  t.equal((await login(server, user, c2.code as string)).status, 401, 'the codes of the resync are spent');
  const next = await press(server, device, (now += MINUTE));
  t.equal((await login(server, user, next.code as string)).status, 200, 'the next press logs in');
});

checkOutputForSecrets(t, server);
