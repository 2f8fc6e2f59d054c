/**
 * End to end, the user's life with one token: the real server process
 * (server/dist/main.js on SQLite, under libfaketime so a block can expire without waiting), a
 * device made and pressed by the real `kodeviser` CLI, its seed imported as PSKC over the admin
 * API. Activation with an operator's proof of identity, login, the same code again refused, three
 * wrong codes, 429 with Retry-After, then the block ending by time or by an admin's unlock; and
 * one active device per user: a second one is activated only with a proof (the owner's own, from
 * a login with the first), and the first then fails.
 * Time: faketime (real process). The expiry scenario skips when libfaketime is not installed.
 */
import t, { type Test } from 'tap';
import { activate, auditOf, importDevice, login, newUser, operatorOf, proofFor, selfProof, wrongCode } from './helpers/flows.js';
import { DAY, MINUTE, manufacture, press } from './helpers/kodeviser.js';
import { checkOutputForSecrets, scratchDir, startServer } from './helpers/server.js';

const T0 = Date.parse('2027-01-04T08:00:00Z');
const server = await startServer(t, { fakeStartMs: T0 });
const dir = scratchDir(t);
/** Device true time: the server's fake clock, or (without faketime) the host clock at start, moving on as presses need. */
let now = server.faketime ? T0 : Math.floor(Date.now() / 1000) * 1000;
const later = (ms: number): number => {
  now += ms;
  if (server.faketime) server.setTime(now);
  return now;
};

async function activatedHotpDevice(name: string) {
  const device = await manufacture(server, dir, { profile: 'hotp-sha1', at: now - DAY, name });
  const imported = await importDevice(server, device);
  if (imported.status !== 201) throw new Error(`import: ${imported.status} ${JSON.stringify(imported.body)}`);
  const user = newUser(server, name);
  const proofId = await proofFor(server, user);
  const first = await press(server, device, later(MINUTE));
  const res = await activate(server, user, device, first.code as string, proofId);
  if (res.status !== 200) throw new Error(`activate: ${res.status} ${JSON.stringify(res.body)}`);
  return { device, user, proofId };
}

/**
 * Wrong codes in a row: `before` plain 401 rejects (the third failure sets the block), then
 * one more, answered 429 with Retry-After.
 */
async function wrongUntilBlocked(tt: Test, user: ReturnType<typeof newUser>, wrong: string, before: number): Promise<number> {
  for (let i = 1; i <= before; i++) {
    const res = await login(server, user, wrong);
    tt.equal(res.status, 401, `wrong code ${i}: 401`);
    tt.same(res.body, { result: 'reject' }, `wrong code ${i}: a plain reject, no reason given`);
  }
  const blocked = await login(server, user, wrong);
  tt.equal(blocked.status, 429, `wrong code ${before + 1}: 429, the token is blocked`);
  tt.equal(blocked.body.result, 'blocked');
  const retryAfter = Number(blocked.headers.get('retry-after'));
  tt.ok(retryAfter > 0 && retryAfter <= 30, `Retry-After: ${retryAfter} s (the first block is 30 s)`);
  tt.equal(blocked.body.retryAfterSeconds, retryAfter, 'the body says what the header says');
  return retryAfter;
}

t.test(
  'activation → login → same code refused → three wrong codes → 429 → the block expires → login',
  { skip: server.faketime ? false : "libfaketime not found (install Debian's faketime): the server's clock cannot move" },
  async (t) => {
    const { device, user } = await activatedHotpDevice('expiry');
    const second = await press(server, device, later(MINUTE));
    t.equal(second.movingFactor, 1, 'the second press shows counter 1');
    const ok = await login(server, user, second.code as string);
    t.equal(ok.status, 200);
    t.match(ok.body, { result: 'accept', receipt: /^eyJ/ }, 'login with the next code');
    const replay = await login(server, user, second.code as string);
    t.equal(replay.status, 401, 'the same code again');
    t.same(replay.body, { result: 'reject' });

    // The replay was the first wrong code; two more reach the third failure, which blocks.
    await wrongUntilBlocked(t, user, wrongCode(device, 0, 200), 2);
    const third = await press(server, device, later(5_000));
    const blocked = await login(server, user, third.code as string);
    t.equal(blocked.status, 429, 'while blocked even the right code is not checked');

    later(31_000);
    const after = await login(server, user, third.code as string);
    t.equal(after.status, 200, 'after the block, the code refused during it (never consumed) logs in');
    // An accept's row names the receipt it was given (a random jti): <jti> here.
    const story = (await auditOf(server, device))
      .reverse()
      .map((e) => (e.reason === null ? e.type : `${e.type}:${e.reason.replace(/receipt [\w-]{22}$/, 'receipt <jti>')}`));
    // The second refusal while blocked (the right code) changed nothing, and came from the same
    // address for the same reason within a minute of the first: it is counted, not written; the
    // row standing for it is written when the minute ends (server/src/security/audit-repeats.ts).
    t.same(
      story.slice(-9),
      [
        `activate:proof by ${(await operatorOf(server)).id}`,
        'accept',
        'accept:LOG_ON receipt <jti>',
        'reject:replay',
        'reject:bad-otp',
        'reject:bad-otp',
        'block:3 consecutive failures: 30 s',
        'reject:blocked',
        'accept:LOG_ON receipt <jti>',
      ],
      'the audit log tells the story',
    );
  },
);

t.test('… or an admin unlocks the blocked token, and login works at once', async (t) => {
  const { device, user } = await activatedHotpDevice('unlock');
  await wrongUntilBlocked(t, user, wrongCode(device, 0, 200), 3);
  const code = (await press(server, device, later(1_000))).code as string;
  t.equal((await login(server, user, code)).status, 429, 'the right code is not checked while blocked');
  const notAdmin = await server.post(`/v1/tokens/${device.serial}/unlock`, {});
  t.equal(notAdmin.status, 401, 'unlocking takes the admin token');
  const unlocked = await server.post(`/v1/tokens/${device.serial}/unlock`, {}, { admin: true });
  t.equal(unlocked.status, 200);
  t.match(unlocked.body, { serial: device.serial, status: 'enabled', failures: 0, blockedUntil: null });
  const ok = await login(server, user, code);
  t.equal(ok.status, 200, 'login right after the unlock');
  t.match(ok.body, { result: 'accept', receipt: /^eyJ/ });
});

t.test('one active device per user: its owner activating a second token makes the first one fail', async (t) => {
  const { device: first, user, proofId: spent } = await activatedHotpDevice('two-devices');
  t.equal((await login(server, user, (await press(server, first, later(MINUTE))).code as string)).status, 200, 'the first token logs in');

  const second = await manufacture(server, dir, { profile: 'hotp-sha256', at: now - DAY, name: 'two-devices-b' });
  t.equal((await importDevice(server, second)).status, 201);
  const secondCode = (await press(server, second, later(MINUTE))).code as string;
  const unproven = await activate(server, user, second, secondCode, spent);
  t.equal(unproven.status, 401, 'without a proof (the first activation spent its own), the second token is refused');
  t.same(unproven.body, { result: 'reject' });
  t.equal(
    (await login(server, user, (await press(server, first, later(MINUTE))).code as string)).status,
    200,
    'and the first token still logs in',
  );
  const proof = await selfProof(server, user, (await press(server, first, later(MINUTE))).code as string);
  t.equal(proof.status, 201, "the owner's own proof, with a code of the active device and the password");
  t.equal(proof.body.userId, user.userId, 'for the same user');
  const activated = await activate(server, user, second, (await press(server, second, later(MINUTE))).code as string, proof.body.proofId);
  t.equal(activated.status, 200, 'with it, the second token is activated for the same user');
  t.same(activated.body, { result: 'accept', userId: user.userId });

  const oldCode = (await press(server, first, later(MINUTE))).code as string;
  const refused = await login(server, user, oldCode);
  t.equal(refused.status, 401, 'a fresh code of the first token no longer logs in');
  t.same(refused.body, { result: 'reject' });
  t.equal((await login(server, user, (await press(server, second, later(MINUTE))).code as string)).status, 200, 'the second token does');
  const info = await server.get(`/v1/tokens/${first.serial}`, { admin: true });
  t.equal(info.body.status, 'enabled', "the first token itself is not revoked, only no longer the user's");
  const events = await auditOf(server, first);
  t.ok(
    events.some((e) => e.type === 'deactivate'),
    'its deactivation is in the audit log',
  );
});

checkOutputForSecrets(t, server);
