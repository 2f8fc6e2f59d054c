// The life cycle's pure decisions (domain/lifecycle.ts), table by table: activation with a proof
// of identity, the password changed with the current login, a forgotten one reset with a proof.
import t from 'tap';
import { createOtp, makeSerial, type Otp } from '@kodeviser/shared';
import type { Write } from '../src/domain/decide.js';
import type { ProofRecord } from '../src/domain/identity.js';
import { decideActivate, decidePasswordChange, decidePasswordReset, proofRefusal } from '../src/domain/lifecycle.js';
import { DEFAULT_POLICY } from '../src/domain/policy.js';
import type { Snapshot } from '../src/domain/decide.js';
import type { TokenRecord, UserRecord } from '../src/store/types.js';
import { AT, base, consequence, consume, o, otp, SERIAL, snap, token } from './helpers/decisions.js';

// SERIAL is the device to activate; OLD the active device of dora, whose proof PROOF is.
const OLD = makeSerial('400000002');
const oldOtp = createOtp({ profile: 'hotp-sha1', key: new TextEncoder().encode('98765432109876543210') });
const otpOf = (tk: TokenRecord): Otp => (tk.serial === OLD ? oldOtp : otp);
const dora: UserRecord = { userId: 'dora', passwordHash: 'scrypt$hash-1', identityHash: 'identity-1', guesses: null };
const newcomer: UserRecord = { userId: 'dora', passwordHash: null, identityHash: 'identity-1', guesses: null };
const oldToken = (over: Partial<TokenRecord> = {}): TokenRecord => token({ serial: OLD, userId: 'dora', lastMovingFactor: 20, ...over });
const PROOF: ProofRecord = {
  idHash: 'proof-hash-1',
  userId: 'dora',
  documentHash: 'document-1',
  actor: 'cred-operator-1',
  createdAt: AT - 60_000,
  expiresAt: AT + 14 * 60_000,
  usedAt: null,
};
const proven = (over: Partial<Snapshot> = {}): Partial<Snapshot> => ({ proof: PROOF, user: newcomer, token: token(), ...over });

const row = (entry: Record<string, unknown>, userId: string | null = 'dora'): Write =>
  ({ kind: 'audit', entry: { ...base, userId, ...entry } }) as Write;

function activate(s: Partial<Snapshot>, over: { otp?: string; passwordHash?: string | null } = {}) {
  return decideActivate(
    snap(s),
    { serial: SERIAL, otp: otp.generate(12), passwordHash: 'scrypt$hash-2', ...over },
    o,
    DEFAULT_POLICY,
    otpOf,
  );
}

t.test('a proof can be spent once, by its user, within its 15 minutes', async (t) => {
  const at = (s: Partial<Snapshot>, when = AT) => proofRefusal(snap(s), when);
  t.equal(at({ proof: PROOF, user: dora }), null);
  t.equal(at({ proof: null, user: dora }), 'proof-unknown');
  t.equal(at({ proof: PROOF, user: null }), 'proof-unknown', 'its user erased');
  t.equal(at({ proof: PROOF, user: { ...dora, userId: 'erin' } }), 'proof-unknown', 'another user: never, whatever the key read');
  t.equal(at({ proof: { ...PROOF, usedAt: AT - 1 }, user: dora }), 'proof-used');
  t.equal(at({ proof: PROOF, user: dora }, PROOF.expiresAt - 1), null, 'a millisecond before it expires');
  t.equal(at({ proof: PROOF, user: dora }, PROOF.expiresAt), 'proof-expired');
});

t.test('activate: the code spent, the proof spent, the password set, the device assigned, audited under the user', async (t) => {
  const accepted = {
    result: { result: 'accept', serial: SERIAL, movingFactor: 12, userId: 'dora' },
    writes: [
      consume(SERIAL, 12),
      { kind: 'use-proof', idHash: PROOF.idHash, at: AT },
      { kind: 'set-password', userId: 'dora', passwordHash: 'scrypt$hash-2', at: AT },
      { kind: 'assign', serial: SERIAL, userId: 'dora', at: AT },
      row({ type: 'activate', serial: SERIAL, reason: 'proof by cred-operator-1' }),
      row({ type: 'accept', serial: SERIAL, movingFactor: 12 }),
    ],
  };
  t.same(activate(proven()), accepted, "a new user's first device");
  t.same(activate(proven({ user: dora, tokenOwner: 'dora' })), accepted, 'a device the user had before, taken back');
  t.same(
    activate(proven({ user: dora, token: token({ userId: 'dora' }), tokenOwner: 'dora', userToken: token({ userId: 'dora' }) }))?.writes,
    accepted.writes,
    'the active device itself: nothing to replace',
  );
  t.same(
    activate(proven({ user: dora, userToken: oldToken() })),
    {
      result: accepted.result,
      writes: [
        ...accepted.writes.slice(0, 3),
        { kind: 'deactivate', serial: OLD, at: AT, replacedBy: SERIAL },
        row({ type: 'deactivate', serial: OLD, reason: `replaced by ${SERIAL}` }),
        ...accepted.writes.slice(3),
      ],
    },
    'the active device replaced: deactivated, and which device replaced it written down',
  );
  t.same(
    activate(proven({ token: token({ pendingResync: { movingFactor: 60, at: AT - 1000 } }) }), { otp: otp.generate(61) })?.writes.at(-1),
    row({ type: 'accept', serial: SERIAL, movingFactor: 61, reason: 'resync' }),
    'an activation may complete a resync',
  );
});

t.test('activate: every refusal of the proof comes before the device is looked at', async (t) => {
  const blocked = token({ blockedUntil: AT + 5000, failures: 3 });
  for (const [name, s, reason, userId] of [
    ['no proof', { token: blocked, user: null }, 'proof-unknown', null],
    ['used', proven({ token: blocked, proof: { ...PROOF, usedAt: AT - 1 } }), 'proof-used', 'dora'],
    ['expired', proven({ token: blocked, proof: { ...PROOF, expiresAt: AT } }), 'proof-expired', 'dora'],
    ['its user erased', proven({ token: blocked, user: null }), 'proof-unknown', 'dora'],
  ] as const) {
    t.same(
      activate(s, { passwordHash: null }),
      {
        result: { result: 'reject', reason, serial: SERIAL },
        writes: [row({ type: 'reject', serial: SERIAL, reason }, userId)],
      },
      `${name}: a reject, not the device's block; nothing counted, nothing to hash`,
    );
  }
});

t.test("activate: the device's refusals, and its failures counted as any", async (t) => {
  t.same(activate(proven({ token: null })), {
    result: { result: 'reject', reason: 'unknown-token', serial: SERIAL },
    writes: [row({ type: 'reject', serial: SERIAL, reason: 'unknown-token' })],
  });
  for (const tk of [token({ userId: 'mallory' }), token(), token({ blockedUntil: AT + 1000 })]) {
    t.same(
      activate(proven({ token: tk, tokenOwner: 'mallory' }), { passwordHash: null })?.result,
      { result: 'reject', reason: 'assigned-elsewhere', serial: SERIAL },
      `another user's device, ever (active ${tk.userId !== null}): refused before anything`,
    );
  }
  for (const status of ['locked', 'revoked'] as const) {
    t.same(activate(proven({ token: token({ status }) }))?.result, { result: 'reject', reason: status, serial: SERIAL });
  }
  t.same(activate(proven({ token: token({ blockedUntil: AT + 1000 }) }), { passwordHash: null }), {
    result: { result: 'blocked', retryAfterSeconds: 1, serial: SERIAL },
    writes: [row({ type: 'reject', serial: SERIAL, reason: 'blocked' })],
  });
  t.equal(activate(proven(), { passwordHash: null }), null, 'not blocked: the password is hashed first');
  t.same(activate(proven(), { otp: 'abcdef' }), {
    result: { result: 'reject', reason: 'bad-otp', serial: SERIAL },
    writes: [{ kind: 'failures', serial: SERIAL, failures: 1 }, row({ type: 'reject', serial: SERIAL, reason: 'bad-otp' })],
  });
  t.same(activate(proven(), { otp: otp.generate(60) })?.result, { result: 'resync-started', serial: SERIAL });
  t.equal(consequence(activate(proven({ token: token({ failures: 2 }) }), { otp: 'abcdef' })), 'blocked', 'toward the block');
  t.notOk(
    activate(proven(), { otp: 'abcdef' })?.writes.some((w) => w.kind === 'use-proof'),
    'a failed activation leaves the proof for another try',
  );
});

t.test('change the password: a login with the old one that, accepted, sets the new one', async (t) => {
  const right = { ok: true, against: dora.passwordHash as string };
  const wrong = { ok: false, against: dora.passwordHash as string };
  const change = (s: Partial<Snapshot>, code: string, old: typeof right | null, newHash: string | null = 'scrypt$hash-3') =>
    decidePasswordChange(snap(s), code, old, newHash, { ...o, userId: 'dora' }, DEFAULT_POLICY, otpOf);
  const mine = { user: dora, userToken: oldToken() };
  t.same(change(mine, oldOtp.generate(21), right), {
    result: { result: 'accept', serial: OLD, movingFactor: 21 },
    writes: [
      consume(OLD, 21),
      row({ type: 'accept', serial: OLD, movingFactor: 21 }),
      { kind: 'set-password', userId: 'dora', passwordHash: 'scrypt$hash-3', at: AT },
      row({ type: 'password', serial: OLD, reason: 'changed' }),
    ],
  });
  t.same(
    change(mine, oldOtp.generate(21), wrong)?.writes.map((w) => w.kind),
    ['consume', 'failures', 'audit'],
    'a wrong old password: a failed login, the code spent, nothing set',
  );
  t.equal(consequence(change({ ...mine, userToken: oldToken({ failures: 2 }) }, 'abcdef', right), OLD), 'blocked');
  t.match(change({ ...mine, userToken: oldToken({ blockedUntil: AT + 1000 }) }, oldOtp.generate(21), null)?.result, { result: 'blocked' });
  t.equal(change(mine, oldOtp.generate(21), null), null, 'the old password not checked yet');
  t.equal(change(mine, oldOtp.generate(21), right, null), null, 'the new one not hashed yet');
  t.match(change({ user: dora }, oldOtp.generate(21), right)?.result, { reason: 'not-activated' });
});

t.test('reset a forgotten password: a proof and a code of the active device', async (t) => {
  const reset = (s: Partial<Snapshot>, code: string, newHash: string | null = 'scrypt$hash-3') =>
    decidePasswordReset(snap(s), code, newHash, o, DEFAULT_POLICY, otpOf);
  const mine = { proof: PROOF, user: dora, userToken: oldToken() };
  t.same(reset(mine, oldOtp.generate(21)), {
    result: { result: 'accept', serial: OLD, movingFactor: 21 },
    writes: [
      consume(OLD, 21),
      row({ type: 'accept', serial: OLD, movingFactor: 21 }),
      { kind: 'use-proof', idHash: PROOF.idHash, at: AT },
      { kind: 'set-password', userId: 'dora', passwordHash: 'scrypt$hash-3', at: AT },
      row({ type: 'password', serial: OLD, reason: 'reset with proof by cred-operator-1' }),
    ],
  });
  t.same(
    reset(mine, 'abcdef'),
    {
      result: { result: 'reject', reason: 'bad-otp', serial: OLD },
      writes: [{ kind: 'failures', serial: OLD, failures: 1 }, row({ type: 'reject', serial: OLD, reason: 'bad-otp' })],
    },
    'a wrong code: a failure of the device, the proof kept',
  );
  t.same(reset({ ...mine, proof: { ...PROOF, usedAt: AT - 5 } }, oldOtp.generate(21))?.result, { result: 'reject', reason: 'proof-used' });
  t.same(reset({ ...mine, proof: null, user: null }, oldOtp.generate(21))?.result, { result: 'reject', reason: 'proof-unknown' });
  t.same(reset({ ...mine, userToken: null }, oldOtp.generate(21))?.result, { result: 'reject', reason: 'not-activated' });
  t.match(reset({ ...mine, userToken: oldToken({ blockedUntil: AT + 1000 }) }, oldOtp.generate(21), null)?.result, { result: 'blocked' });
  t.equal(reset(mine, oldOtp.generate(21), null), null, 'the new password not hashed yet');
});
