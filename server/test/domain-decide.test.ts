// The pure decision (domain/decide.ts) alone, table by table: a snapshot and an attempt in, the
// outcome and the writes out, with no store and no clock. Every rule is here: the gate, the
// windows' three answers, what each consecutive failure costs, who may activate a token (and the
// owner's proof), the admin's resync and status changes.
import t from 'tap';
import { createOtp, makeSerial, type Otp } from '@kodeviser/shared';
import {
  EMPTY_SNAPSHOT,
  decideActivate,
  decideAuthenticate,
  decideResync,
  decideStatus,
  decideValidate,
  failure,
  type ActivationAttempt,
  type Decision,
  type Snapshot,
  type VerifyDecision,
  type Write,
} from '../src/domain/decide.js';
import { DEFAULT_POLICY, NO_DRIFT } from '../src/domain/policy.js';
import type { Origin, TokenRecord, UserRecord } from '../src/store/types.js';
import { activateWrites } from './helpers/writes.js';

const AT = Date.UTC(2026, 5, 1, 12);
const SERIAL = makeSerial('400000001');
const KEY = new TextEncoder().encode('12345678901234567890');
const otp = createOtp({ profile: 'hotp-sha1', key: KEY });
const o: Origin = { at: AT, ip: '192.0.2.9', userId: null };
const base = { at: AT, ip: '192.0.2.9', userId: null, actor: null, reason: null, movingFactor: null };

function token(over: Partial<TokenRecord> = {}): TokenRecord {
  return {
    serial: SERIAL,
    profile: 'hotp-sha1',
    digits: 6,
    step: 30,
    t0: 0,
    seed: { ciphertext: new Uint8Array(0), nonce: new Uint8Array(0), keyVersion: 1 },
    status: 'enabled',
    lastMovingFactor: 9,
    drift: NO_DRIFT,
    failures: 0,
    blockedUntil: null,
    pendingResync: null,
    userId: null,
    importedAt: AT - 86_400_000,
    lastUsedAt: AT - 3_600_000,
    ...over,
  };
}

/** Object.freeze all the way down: a decision that changed its snapshot would throw. */
function frozen<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !ArrayBuffer.isView(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) frozen(v);
  }
  return value;
}

/** A snapshot with nothing read but what `over` names. */
const snap = (over: Partial<Snapshot> = {}): Snapshot => frozen({ ...EMPTY_SNAPSHOT, ...over });

const decide = (tk: TokenRecord | null, code: string): VerifyDecision =>
  decideValidate(snap({ token: tk }), SERIAL, code, o, DEFAULT_POLICY, (): Otp => otp);

/**
 * What a decision's failure cost, as its writes say: 'locked' (a 'status' write to locked),
 * 'blocked' (a 'block' write with an end), or null; of `serial`'s writes only.
 */
function consequence(d: Decision<unknown> | null, serial = SERIAL): 'locked' | 'blocked' | null {
  const mine = (d?.writes ?? []).filter((w) => 'serial' in w && w.serial === serial);
  if (mine.some((w) => w.kind === 'status' && w.status === 'locked')) return 'locked';
  if (mine.some((w) => w.kind === 'block' && w.until !== null)) return 'blocked';
  return null;
}

t.test('the gate: unknown, not enabled, blocked (not even checked), a block that has ended', async (t) => {
  t.same(decide(null, otp.generate(10)), {
    result: { result: 'reject', reason: 'unknown-token', serial: SERIAL },
    writes: [{ kind: 'audit', entry: { ...base, type: 'reject', serial: SERIAL, reason: 'unknown-token' } }],
  });
  for (const status of ['locked', 'revoked'] as const) {
    t.same(decide(token({ status }), otp.generate(10)).result, { result: 'reject', reason: status, serial: SERIAL }, status);
  }
  const blocked = decide(token({ failures: 3, blockedUntil: AT + 29_001 }), otp.generate(10));
  t.same(blocked.result, { result: 'blocked', retryAfterSeconds: 30, serial: SERIAL }, 'the right code is not checked');
  t.same(blocked.writes, [{ kind: 'audit', entry: { ...base, type: 'reject', serial: SERIAL, reason: 'blocked' } }], 'nor counted');
  t.equal(decide(token({ failures: 3, blockedUntil: AT }), otp.generate(10)).result.result, 'accept', 'a block ending now has ended');
});

t.test('the windows: accept, a resync started and completed, a replay, a wrong code', async (t) => {
  t.same(decide(token(), otp.generate(12)), {
    result: { result: 'accept', serial: SERIAL, movingFactor: 12 },
    writes: [
      { kind: 'consume', serial: SERIAL, movingFactor: 12, drift: NO_DRIFT, at: AT, success: true },
      { kind: 'audit', entry: { ...base, type: 'accept', serial: SERIAL, movingFactor: 12, reason: null } },
    ],
  });
  t.same(decide(token(), otp.generate(60)), {
    result: { result: 'resync-started', serial: SERIAL },
    writes: [
      { kind: 'start-resync', serial: SERIAL, pending: { movingFactor: 60, at: AT } },
      { kind: 'audit', entry: { ...base, type: 'resync-started', serial: SERIAL, movingFactor: 60 } },
    ],
  });
  const pending = token({ pendingResync: { movingFactor: 60, at: AT - 1000 } });
  const completed = decide(pending, otp.generate(61));
  t.same(completed.result, { result: 'accept', serial: SERIAL, movingFactor: 61 });
  t.match(completed.writes[1], { entry: { type: 'accept', reason: 'resync' } }, 'the accept says it completed a resync');
  t.match(decide(pending, '000000' === otp.generate(61) ? '111111' : '000000').result, { reason: 'resync-mismatch' });
  t.match(decide(token(), otp.generate(9)).result, { result: 'reject', reason: 'replay' }, 'the last accepted moving factor');
  t.same(decide(token(), 'abcdef').writes, [
    { kind: 'failures', serial: SERIAL, failures: 1 },
    { kind: 'audit', entry: { ...base, type: 'reject', serial: SERIAL, reason: 'bad-otp', movingFactor: null } },
  ]);
});

t.test('what the n-th consecutive failure costs: nothing, a block doubling to an hour, the lock', async (t) => {
  const table: Array<[before: number, block: number | null, locked: boolean]> = [
    [0, null, false],
    [1, null, false],
    [2, 30, false],
    [3, 60, false],
    [4, 120, false],
    [9, 3600, false],
    [50, 3600, false],
    [98, 3600, false],
    [99, null, true],
  ];
  for (const [before, blockS, locked] of table) {
    const d = decide(token({ failures: before }), 'abcdef');
    const n = before + 1;
    const expected = [
      { kind: 'failures', serial: SERIAL, failures: n },
      { kind: 'audit', entry: { ...base, type: 'reject', serial: SERIAL, reason: 'bad-otp', movingFactor: null } },
      ...(blockS !== null
        ? [
            { kind: 'block', serial: SERIAL, until: AT + blockS * 1000 },
            { kind: 'audit', entry: { ...base, type: 'block', serial: SERIAL, reason: `${n} consecutive failures: ${blockS} s` } },
          ]
        : []),
      ...(locked
        ? [
            { kind: 'status', serial: SERIAL, status: 'locked' },
            { kind: 'audit', entry: { ...base, type: 'lock', serial: SERIAL, reason: `${n} consecutive failures` } },
          ]
        : []),
    ];
    t.same(d.writes, expected, `failure ${n}`);
    t.equal(consequence(d), locked ? 'locked' : blockS !== null ? 'blocked' : null);
    t.same(d.result, { result: 'reject', reason: 'bad-otp', serial: SERIAL });
  }
});

t.test('a block is never shortened: a longer one standing from before is kept', async (t) => {
  const longer = AT + 7_200_000;
  const d = failure(token({ failures: 3, blockedUntil: longer }), o, 'bad-otp', DEFAULT_POLICY);
  t.same(d.writes[2], { kind: 'block', serial: SERIAL, until: longer }, 'the 60 s block ends when the standing one does');
  t.match(failure(token({ failures: 3, blockedUntil: AT - 1 }), o, 'bad-otp', DEFAULT_POLICY).writes[2], { until: AT + 60_000 });
  t.same(
    failure(token({ failures: 1 }), o, 'replay', DEFAULT_POLICY, { movingFactor: 12, drift: NO_DRIFT }).writes,
    [
      { kind: 'consume', serial: SERIAL, movingFactor: 12, drift: NO_DRIFT, at: AT, success: false },
      { kind: 'failures', serial: SERIAL, failures: 2 },
      { kind: 'audit', entry: { ...base, type: 'reject', serial: SERIAL, reason: 'replay', movingFactor: 12 } },
    ],
    'a right code that fails all the same is spent first',
  );
});

t.test('pure: the same inputs, the same decision; the snapshot is never changed', async (t) => {
  const tk = frozen(token({ failures: 2 }));
  t.same(decide(tk, 'abcdef'), decide(tk, 'abcdef'));
  t.equal(tk.failures, 2);
});

t.test('authenticate: both factors always evaluated, never said which failed; a spent code stays spent', async (t) => {
  const user: UserRecord = { userId: 'dora', passwordHash: 'scrypt$hash-1', identityHash: null };
  const HASH = 'scrypt$hash-1';
  const uo: Origin = { ...o, userId: 'dora' };
  const ub = { ...base, userId: 'dora' };
  const right = { ok: true, against: HASH };
  const wrong = { ok: false, against: HASH };
  const auth = (tk: TokenRecord | null, u: typeof user | null, code: string, pw: Parameters<typeof decideAuthenticate>[2]) =>
    decideAuthenticate(snap({ user: u, userToken: tk }), code, pw, uo, DEFAULT_POLICY, (): Otp => otp);

  t.same(auth(null, user, otp.generate(10), right), {
    result: { result: 'reject', reason: 'not-activated' },
    writes: [{ kind: 'audit', entry: { ...ub, type: 'reject', serial: null, reason: 'not-activated' } }],
  });
  t.same(auth(token(), null, otp.generate(10), right)?.result, { result: 'reject', reason: 'not-activated' }, 'no user');
  t.same(
    decideAuthenticate(snap({ token: token(), user }), otp.generate(10), right, uo, DEFAULT_POLICY, (): Otp => otp)?.result,
    { result: 'reject', reason: 'not-activated' },
    "the user's active token is the snapshot's userToken, not its token",
  );
  t.match(
    auth(token({ blockedUntil: AT + 1000 }), user, otp.generate(10), null)?.result,
    { result: 'blocked' },
    'blocked: no password needed',
  );
  t.equal(auth(token(), user, otp.generate(10), null), null, 'not blocked any more: check the password first');
  t.equal(auth(token(), user, otp.generate(10), { ok: true, against: 'scrypt$hash-0' }), null, 'checked against a hash since replaced');

  t.same(auth(token(), user, otp.generate(10), right)?.writes[1], {
    kind: 'audit',
    entry: { ...ub, type: 'accept', serial: SERIAL, movingFactor: 10, reason: null },
  });
  t.same(auth(token(), user, otp.generate(10), wrong), {
    result: { result: 'reject', reason: 'bad-password', serial: SERIAL },
    writes: [
      { kind: 'consume', serial: SERIAL, movingFactor: 10, drift: NO_DRIFT, at: AT, success: false },
      { kind: 'failures', serial: SERIAL, failures: 1 },
      { kind: 'audit', entry: { ...ub, type: 'reject', serial: SERIAL, reason: 'bad-password', movingFactor: 10 } },
    ],
  });
  t.same(
    auth(token(), user, 'abcdef', wrong)?.writes.map((w) => w.kind),
    ['failures', 'audit'],
    'a wrong code: nothing spent',
  );
  t.match(auth(token(), user, 'abcdef', wrong)?.result, { reason: 'bad-otp-and-password' });
  t.same(
    auth(token(), user, otp.generate(60), wrong)?.result,
    { result: 'reject', reason: 'bad-password', serial: SERIAL },
    'a wide code with a wrong password starts nothing',
  );
  t.same(auth(token(), user, otp.generate(60), right)?.result, { result: 'resync-started', serial: SERIAL });
  t.equal(consequence(auth(token({ failures: 2 }), user, otp.generate(10), wrong)), 'blocked', 'wrong passwords count toward the block');
  t.equal(consequence(auth(token({ failures: 99 }), user, 'abcdef', wrong)), 'locked', 'and toward the lock');
});

// Activation: SERIAL is the token to activate; OLD the active device of the existing user dora.
const OLD = makeSerial('400000002');
const oldOtp = createOtp({ profile: 'hotp-sha1', key: new TextEncoder().encode('98765432109876543210') });
const otpOf = (tk: TokenRecord): Otp => (tk.serial === OLD ? oldOtp : otp);
const dora: UserRecord = { userId: 'dora', passwordHash: 'scrypt$hash-1', identityHash: null };
const oldToken = (over: Partial<TokenRecord> = {}): TokenRecord => token({ serial: OLD, userId: 'dora', lastMovingFactor: 20, ...over });
const right = { ok: true, against: 'scrypt$hash-1' };
const wrong = { ok: false, against: 'scrypt$hash-1' };

/** Activates SERIAL for `userId` (dora unless said) with SERIAL's code of `over.otp`. */
function activate(s: Partial<Snapshot>, over: Partial<ActivationAttempt> = {}): VerifyDecision | null {
  const a: ActivationAttempt = { userId: 'dora', serial: SERIAL, otp: otp.generate(12), passwordHash: 'scrypt$hash-2', ...over };
  return decideActivate(snap(s), a, { ...o, userId: a.userId }, DEFAULT_POLICY, otpOf);
}
const as = (userId: string) => ({ ...base, userId });
const consume = (serial: string, movingFactor: number, success = true): Write => ({
  kind: 'consume',
  serial,
  movingFactor,
  drift: NO_DRIFT,
  at: AT,
  success,
});
const row = (userId: string, entry: Record<string, unknown>): Write => ({ kind: 'audit', entry: { ...as(userId), ...entry } }) as Write;
/** The writes of a proven activation of SERIAL at `movingFactor` for `userId`, after its user's writes. */
const bound = (userId: string, movingFactor: number): Write[] => [
  { kind: 'assign', serial: SERIAL, userId, at: AT },
  row(userId, { type: 'activate', serial: SERIAL }),
  row(userId, { type: 'accept', serial: SERIAL, movingFactor }),
];

t.test('activate a new user: the code spent, the user created, the token assigned, audited in that order', async (t) => {
  const fresh = { token: token() };
  t.same(activate(fresh, { userId: 'erin' }), {
    result: { result: 'accept', serial: SERIAL, movingFactor: 12 },
    writes: [
      consume(SERIAL, 12),
      { kind: 'create-user', userId: 'erin', passwordHash: 'scrypt$hash-2', identityHash: null, at: AT },
      ...bound('erin', 12),
    ],
  });
  t.same(
    activate(fresh, { userId: 'erin' })?.writes,
    activateWrites(SERIAL, 12, { ...o, userId: 'erin' }, { userId: 'erin', passwordHash: 'scrypt$hash-2' }),
    "the store tests' activation (helpers/writes.ts) is this one",
  );
  t.same(
    activate(fresh, { userId: 'erin', proof: { otp: oldOtp.generate(21), password: null } })?.writes.map((w) => w.kind),
    ['consume', 'create-user', 'assign', 'audit', 'audit'],
    'a proof for a user that does not exist is not needed, nor looked at',
  );
  t.same(
    activate({ token: token({ pendingResync: { movingFactor: 60, at: AT - 1000 } }) }, { userId: 'erin', otp: otp.generate(61) })
      ?.writes[4],
    row('erin', { type: 'accept', serial: SERIAL, movingFactor: 61, reason: 'resync' }),
    'an activation may complete a resync',
  );
  t.same(activate(fresh, { userId: 'erin', otp: 'abcdef' }), {
    result: { result: 'reject', reason: 'bad-otp', serial: SERIAL },
    writes: [{ kind: 'failures', serial: SERIAL, failures: 1 }, row('erin', { type: 'reject', serial: SERIAL, reason: 'bad-otp' })],
  });
  t.same(activate(fresh, { userId: 'erin', otp: otp.generate(60) })?.result, { result: 'resync-started', serial: SERIAL });
  t.equal(consequence(activate({ token: token({ failures: 2 }) }, { userId: 'erin', otp: 'abcdef' })), 'blocked');
});

t.test('activate: an unknown token, one owned by another user, the gate, and a password to hash first', async (t) => {
  t.same(activate({}, { userId: 'erin' }), {
    result: { result: 'reject', reason: 'unknown-token', serial: SERIAL },
    writes: [row('erin', { type: 'reject', serial: SERIAL, reason: 'unknown-token' })],
  });
  for (const tk of [token({ userId: 'mallory' }), token({ status: 'locked' }), token({ blockedUntil: AT + 1000 })]) {
    t.same(
      activate({ token: tk, tokenOwner: 'mallory' }, { userId: 'erin', passwordHash: null }),
      {
        result: { result: 'reject', reason: 'assigned-elsewhere', serial: SERIAL },
        writes: [row('erin', { type: 'reject', serial: SERIAL, reason: 'assigned-elsewhere' })],
      },
      `another user's token (${tk.status}, blocked ${tk.blockedUntil !== null}): refused before anything`,
    );
  }
  t.same(
    activate({ token: token() }, { userId: 'erin', passwordHash: null }),
    null,
    'a token nobody owned, not blocked: the password is hashed first',
  );
  for (const status of ['locked', 'revoked'] as const) {
    t.same(activate({ token: token({ status }) }, { userId: 'erin', passwordHash: null })?.result, {
      result: 'reject',
      reason: status,
      serial: SERIAL,
    });
  }
  t.same(activate({ token: token({ blockedUntil: AT + 1000 }) }, { userId: 'erin', passwordHash: null }), {
    result: { result: 'blocked', retryAfterSeconds: 1, serial: SERIAL },
    writes: [row('erin', { type: 'reject', serial: SERIAL, reason: 'blocked' })],
  });
});

t.test('activate for an existing user without the proof of its owner: a failure of the new token', async (t) => {
  const existing = { token: token(), user: dora, userToken: oldToken() };
  t.same(activate(existing), {
    result: { result: 'reject', reason: 'owner-not-proven', serial: SERIAL },
    writes: [
      consume(SERIAL, 12, false),
      { kind: 'failures', serial: SERIAL, failures: 1 },
      row('dora', { type: 'reject', serial: SERIAL, reason: 'owner-not-proven', movingFactor: 12 }),
    ],
  });
  t.same(
    activate(existing, { otp: 'abcdef' })?.writes,
    [{ kind: 'failures', serial: SERIAL, failures: 1 }, row('dora', { type: 'reject', serial: SERIAL, reason: 'owner-not-proven' })],
    'a wrong code is not spent',
  );
  t.equal(consequence(activate({ ...existing, token: token({ failures: 2 }) })), 'blocked', 'counted toward the block');
  t.match(
    activate({ token: token(), user: dora }, { proof: { otp: oldOtp.generate(21), password: right } }),
    { result: { reason: 'owner-not-proven' }, writes: [{ kind: 'consume', serial: SERIAL, success: false }] },
    'a user without an active device has nothing to prove it with',
  );
  t.match(
    activate({ token: token(), tokenOwner: 'dora', user: dora, userToken: oldToken() }),
    { result: { reason: 'owner-not-proven' } },
    'nor may the user take back a device of its own without the proof',
  );
});

t.test('activate for an existing user with the proof: the active device spent, replaced, the password set', async (t) => {
  const existing = { token: token(), user: dora, userToken: oldToken() };
  const proof = { otp: oldOtp.generate(21), password: right };
  const replaced: Write[] = [
    consume(OLD, 21),
    row('dora', { type: 'accept', serial: OLD, movingFactor: 21 }),
    consume(SERIAL, 12),
    { kind: 'set-password', userId: 'dora', passwordHash: 'scrypt$hash-2', at: AT },
    { kind: 'deactivate', serial: OLD, at: AT },
    row('dora', { type: 'deactivate', serial: OLD, reason: `replaced by ${SERIAL}` }),
    ...bound('dora', 12),
  ];
  t.same(activate(existing, { proof }), { result: { result: 'accept', serial: SERIAL, movingFactor: 12 }, writes: replaced });
  t.same(
    replaced.slice(2),
    activateWrites(SERIAL, 12, { ...o, userId: 'dora' }, { userId: 'dora', passwordHash: 'scrypt$hash-2', replaces: OLD }),
    "the store tests' replacing activation (helpers/writes.ts) is this one",
  );
  t.same(
    activate({ ...existing, tokenOwner: 'dora' }, { proof })?.writes,
    replaced,
    'a device the user had before is taken back the same way',
  );
  const proven = (before: Write[]) => before.slice(0, 2);
  t.same(
    activate(existing, { proof, otp: 'abcdef' }),
    {
      result: { result: 'reject', reason: 'bad-otp', serial: SERIAL },
      writes: [
        ...proven(replaced),
        { kind: 'failures', serial: SERIAL, failures: 1 },
        row('dora', { type: 'reject', serial: SERIAL, reason: 'bad-otp' }),
      ],
    },
    "proven, but the new token's code is wrong: the proof is spent, the new token counts a failure",
  );
  t.same(
    activate(existing, { proof, otp: otp.generate(60) })
      ?.writes.slice(2)
      .map((w) => w.kind),
    ['start-resync', 'audit'],
    'or starts a resync',
  );
});

t.test("activate: a proof that fails counts on the owner's device, and the new token fails as not proven", async (t) => {
  const existing = { token: token(), user: dora, userToken: oldToken() };
  const notProven: Write[] = [
    consume(SERIAL, 12, false),
    { kind: 'failures', serial: SERIAL, failures: 1 },
    row('dora', { type: 'reject', serial: SERIAL, reason: 'owner-not-proven', movingFactor: 12 }),
  ];
  t.same(activate(existing, { proof: { otp: oldOtp.generate(21), password: wrong } }), {
    result: { result: 'reject', reason: 'owner-not-proven', serial: SERIAL },
    writes: [
      consume(OLD, 21, false),
      { kind: 'failures', serial: OLD, failures: 1 },
      row('dora', { type: 'reject', serial: OLD, reason: 'bad-password', movingFactor: 21 }),
      ...notProven,
    ],
  });
  t.same(
    activate(existing, { proof: { otp: 'abcdef', password: right } })?.writes,
    [{ kind: 'failures', serial: OLD, failures: 1 }, row('dora', { type: 'reject', serial: OLD, reason: 'bad-otp' }), ...notProven],
    'a wrong code of the active device',
  );
  const wide = activate(existing, { proof: { otp: oldOtp.generate(100), password: right } });
  t.same(
    wide?.writes.slice(0, 2),
    [
      { kind: 'start-resync', serial: OLD, pending: { movingFactor: 100, at: AT } },
      row('dora', { type: 'resync-started', serial: OLD, movingFactor: 100 }),
    ],
    "a wide code of the active device starts that device's resync, and proves nothing",
  );
  t.match(wide?.result, { reason: 'owner-not-proven' });
  t.equal(
    consequence(
      activate({ ...existing, userToken: oldToken({ failures: 2 }) }, { proof: { otp: oldOtp.generate(21), password: wrong } }),
      OLD,
    ),
    'blocked',
    "the owner's device is blocked as a login would block it",
  );

  // The active device blocked or locked: its code is not checked, the refusal audited, and nothing proven.
  const blocked = activate(
    { ...existing, userToken: oldToken({ blockedUntil: AT + 5000 }) },
    { proof: { otp: oldOtp.generate(21), password: null } },
  );
  t.same(blocked, {
    result: { result: 'reject', reason: 'owner-not-proven', serial: SERIAL },
    writes: [row('dora', { type: 'reject', serial: OLD, reason: 'blocked' }), ...notProven],
  });
  t.same(
    activate({ ...existing, userToken: oldToken({ status: 'locked' }) }, { proof: { otp: oldOtp.generate(21), password: right } })?.writes,
    [row('dora', { type: 'reject', serial: OLD, reason: 'locked' }), ...notProven],
    'a locked device proves nothing',
  );

  // The password must have been checked, against the hash the user has now.
  t.equal(activate(existing, { proof: { otp: oldOtp.generate(21), password: null } }), null, 'not checked (the device was blocked then)');
  t.equal(
    activate(existing, { proof: { otp: oldOtp.generate(21), password: { ok: true, against: 'scrypt$hash-0' } } }),
    null,
    'checked against a hash since replaced',
  );
  t.equal(
    activate(existing, { proof: { otp: oldOtp.generate(21), password: right }, passwordHash: null }),
    null,
    'the new password not hashed',
  );
});

t.test("activate the user's own active device again: the proof and the activation on one token", async (t) => {
  const own = token({ userId: 'dora' });
  const s = { token: own, tokenOwner: 'dora', user: dora, userToken: own };
  t.same(
    activate(s, { otp: otp.generate(11), proof: { otp: otp.generate(10), password: right } }),
    {
      result: { result: 'accept', serial: SERIAL, movingFactor: 11 },
      writes: [
        consume(SERIAL, 10),
        row('dora', { type: 'accept', serial: SERIAL, movingFactor: 10 }),
        consume(SERIAL, 11),
        { kind: 'set-password', userId: 'dora', passwordHash: 'scrypt$hash-2', at: AT },
        ...bound('dora', 11),
      ],
    },
    'the proof spends its code, the activation a later one; nothing deactivated',
  );
  t.same(
    activate(s, { otp: otp.generate(10), proof: { otp: otp.generate(10), password: right } }),
    {
      result: { result: 'reject', reason: 'replay', serial: SERIAL },
      writes: [
        consume(SERIAL, 10),
        row('dora', { type: 'accept', serial: SERIAL, movingFactor: 10 }),
        { kind: 'failures', serial: SERIAL, failures: 1 },
        row('dora', { type: 'reject', serial: SERIAL, reason: 'replay' }),
      ],
    },
    'the same code twice: the activation decides on the token as the proof left it',
  );
  t.same(
    activate(
      { ...s, token: token({ userId: 'dora', failures: 2 }), userToken: token({ userId: 'dora', failures: 2 }) },
      {
        otp: otp.generate(11),
        proof: { otp: otp.generate(10), password: right },
      },
    )?.result,
    { result: 'accept', serial: SERIAL, movingFactor: 11 },
    "the proof's accept cleared the failures the activation would count on",
  );
  const notProven: Array<[string, Parameters<typeof activate>[1], number, string]> = [
    [
      "the proof failed on this very token: that failure is the attempt's, counted once",
      { otp: otp.generate(11), proof: { otp: otp.generate(10), password: wrong } },
      10,
      'bad-password',
    ],
    ['without a proof: a failure like any other token’s, the right code spent', { otp: otp.generate(11) }, 11, 'owner-not-proven'],
  ];
  for (const [what, attempt, spent, reason] of notProven) {
    t.same(
      activate(s, attempt),
      {
        result: { result: 'reject', reason: 'owner-not-proven', serial: SERIAL },
        writes: [
          consume(SERIAL, spent, false),
          { kind: 'failures', serial: SERIAL, failures: 1 },
          row('dora', { type: 'reject', serial: SERIAL, reason, movingFactor: spent }),
        ],
      },
      what,
    );
  }
});

const admin: Origin = { at: AT, ip: '192.0.2.9', userId: null, actor: 'admin' };
const ab = { ...base, actor: 'admin' };

t.test('admin resync: refusals, two consecutive codes found or not, a locked token stays locked', async (t) => {
  const resync = (tk: TokenRecord | null, otp1: string, otp2: string, o = admin) =>
    decideResync(snap({ token: tk }), otp1, otp2, o, DEFAULT_POLICY, otpOf);
  t.same(resync(null, otp.generate(500), otp.generate(501)), { result: { refused: 'unknown-token' }, writes: [] });
  t.same(resync(token({ status: 'revoked' }), otp.generate(500), otp.generate(501)), {
    result: { refused: 'token-state', status: 'revoked' },
    writes: [],
  });
  for (const status of ['enabled', 'locked'] as const) {
    t.same(
      resync(
        token({ status, failures: 7, blockedUntil: AT + 1000, pendingResync: { movingFactor: 60, at: AT } }),
        otp.generate(500),
        otp.generate(501),
      ),
      {
        result: { result: 'resynced', serial: SERIAL, movingFactor: 501, drift: 0 },
        writes: [
          consume(SERIAL, 501),
          { kind: 'audit', entry: { ...ab, type: 'resync', serial: SERIAL, reason: 'drift 0', movingFactor: 501 } },
        ],
      },
      `${status}: the consume clears failures, block and pending resync, and sets no status`,
    );
  }
  t.same(resync(token({ userId: 'dora' }), otp.generate(500), otp.generate(501), { ...admin, userId: 'dora' }).writes[1], {
    kind: 'audit',
    entry: { ...ab, userId: 'dora', type: 'resync', serial: SERIAL, reason: 'drift 0', movingFactor: 501 },
  });
  t.same(resync(token(), otp.generate(500), otp.generate(502)), {
    result: { result: 'not-found', serial: SERIAL },
    writes: [{ kind: 'audit', entry: { ...ab, type: 'reject', serial: SERIAL, reason: 'admin-resync-not-found' } }],
  });
  t.same(resync(token(), otp.generate(8), otp.generate(9)).result, { result: 'not-found', serial: SERIAL }, 'spent codes are not found');

  // totp: the drift is the token's step minus the server's.
  const totp = createOtp({ profile: 'totp-sha1', key: KEY });
  const now = totp.stepAt(AT / 1000);
  const tt = token({ profile: 'totp-sha1', lastMovingFactor: now - 100 });
  const d = decideResync(snap({ token: tt }), totp.generate(now + 4), totp.generate(now + 5), admin, DEFAULT_POLICY, () => totp);
  t.match(d.result, { result: 'resynced', movingFactor: now + 5, drift: 5 });
  t.match(d.writes, [
    { kind: 'consume', movingFactor: now + 5, drift: { steps: 5, rateVar: null } },
    { entry: { type: 'resync', reason: 'drift 5' } },
  ]);
});

t.test('admin status: lock, unlock (failures and block cleared), revoke (unassigned, audited under its user), refusals', async (t) => {
  const status = (tk: TokenRecord | null, to: TokenRecord['status']) => decideStatus(snap({ token: tk }), to, admin);
  const audit = (type: string, userId: string | null = null): Write =>
    ({ kind: 'audit', entry: { ...ab, userId, type, serial: SERIAL } }) as Write;

  t.same(status(token({ userId: 'dora' }), 'locked'), {
    result: token({ userId: 'dora', status: 'locked' }),
    writes: [{ kind: 'status', serial: SERIAL, status: 'locked' }, audit('lock')],
  });
  t.same(
    status(token({ status: 'locked', failures: 100, blockedUntil: AT + 1000, pendingResync: { movingFactor: 60, at: AT } }), 'enabled'),
    {
      result: token({ status: 'enabled', failures: 0, blockedUntil: null, pendingResync: null }),
      writes: [
        { kind: 'status', serial: SERIAL, status: 'enabled' },
        { kind: 'failures', serial: SERIAL, failures: 0 },
        { kind: 'block', serial: SERIAL, until: null },
        audit('unlock'),
      ],
    },
  );
  t.equal(
    consequence(status(token({ failures: 5, blockedUntil: AT + 1000 }), 'enabled')),
    null,
    'an unlock of an enabled token lifts its block',
  );
  t.same(status(token({ userId: 'dora', failures: 2 }), 'revoked'), {
    result: token({ status: 'revoked', userId: null, failures: 2 }),
    writes: [
      { kind: 'status', serial: SERIAL, status: 'revoked' },
      { kind: 'deactivate', serial: SERIAL, at: AT },
      audit('revoke', 'dora'),
    ],
  });
  t.same(
    status(token(), 'revoked').writes,
    [{ kind: 'status', serial: SERIAL, status: 'revoked' }, audit('revoke')],
    'a token never bound: nothing to deactivate',
  );
  t.same(
    status(token({ status: 'locked', userId: 'dora' }), 'revoked').writes[1],
    { kind: 'deactivate', serial: SERIAL, at: AT },
    'a locked one too',
  );
  for (const to of ['enabled', 'locked', 'revoked'] as const) {
    t.same(status(null, to), { result: { refused: 'unknown-token' }, writes: [] }, `${to}: unknown`);
    t.same(
      status(token({ status: 'revoked' }), to),
      { result: { refused: 'token-state', status: 'revoked' }, writes: [] },
      `${to}: revoked for good`,
    );
  }
});
