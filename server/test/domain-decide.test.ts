// The pure decision (domain/decide.ts) alone, table by table: a snapshot and an attempt in, the
// outcome and the writes out, with no store and no clock. Every rule is here: the gate, the
// windows' three answers, what each consecutive failure costs, a login, the admin's resync and
// status changes (the life cycle's decisions: domain-lifecycle.test.ts).
import t from 'tap';
import { createOtp, makeSerial, type Otp } from '@kodeviser/shared';
import {
  decideAuthenticate,
  decideResync,
  decideStatus,
  decideValidate,
  failure,
  type VerifyDecision,
  type Write,
} from '../src/domain/decide.js';
import { DEFAULT_POLICY, NO_DRIFT } from '../src/domain/policy.js';
import type { Origin, TokenRecord, UserRecord } from '../src/store/types.js';
import { AT, base, consequence, consume, frozen, KEY, o, otp, SERIAL, snap, token } from './helpers/decisions.js';

const decide = (tk: TokenRecord | null, code: string): VerifyDecision =>
  decideValidate(snap({ token: tk }), SERIAL, code, o, DEFAULT_POLICY, (): Otp => otp);

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
  const user: UserRecord = { userId: 'dora', passwordHash: 'scrypt$hash-1', identityHash: null, guesses: null };
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
  t.match(
    auth(token(), { ...user, passwordHash: null }, otp.generate(10), { ok: false, against: '' })?.result,
    { result: 'reject', reason: 'bad-password' },
    'a password cleared (a reinstated device): checked against nothing, a failure, never asked for again',
  );
  t.equal(auth(token(), { ...user, passwordHash: null }, otp.generate(10), wrong), null, 'checked against a hash cleared since');

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
    ['failures', 'audit', 'guesses'],
    'a wrong code: nothing spent, one guess of the budget',
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

const OLD = makeSerial('400000002');
const oldOtp = createOtp({ profile: 'hotp-sha1', key: new TextEncoder().encode('98765432109876543210') });
const otpOf = (tk: TokenRecord): Otp => (tk.serial === OLD ? oldOtp : otp);

const admin: Origin = { at: AT, ip: '192.0.2.9', userId: null, actor: 'admin' };
const ab = { ...base, actor: 'admin' };

t.test("the user ID's guessing budget: every wrong code counts, whatever the password; nothing resets it", async (t) => {
  const DAY = 86_400_000;
  const u = (guesses: UserRecord['guesses']): UserRecord => ({
    userId: 'dora',
    passwordHash: 'scrypt$hash-1',
    identityHash: null,
    guesses,
  });
  const right = { ok: true, against: 'scrypt$hash-1' };
  const wrong = { ok: false, against: 'scrypt$hash-1' };
  const uo: Origin = { ...o, userId: 'dora' };
  const auth = (user: UserRecord, code: string, pw: typeof right | null) =>
    decideAuthenticate(snap({ user, userToken: token() }), code, pw, uo, DEFAULT_POLICY, (): Otp => otp);
  const spent = (d: ReturnType<typeof auth>) => d?.writes.find((w) => w.kind === 'guesses');

  t.same(spent(auth(u(null), 'abcdef', right)), { kind: 'guesses', userId: 'dora', budget: { windowStart: AT, count: 1 } }, 'the first');
  t.same(
    spent(auth(u({ windowStart: AT - 1000, count: 18 }), 'abcdef', wrong)),
    { kind: 'guesses', userId: 'dora', budget: { windowStart: AT - 1000, count: 19 } },
    'a wrong password too',
  );
  t.equal(spent(auth(u(null), otp.generate(10), wrong)), undefined, 'a right code with a wrong password is no wrong code');
  t.equal(spent(auth(u({ windowStart: AT - 1000, count: 19 }), otp.generate(10), right)), undefined, 'an accept leaves it as it is');
  const full = u({ windowStart: AT - 1000, count: 20 });
  t.same(
    auth(full, otp.generate(10), null),
    {
      result: { result: 'blocked', retryAfterSeconds: (DAY - 1000) / 1000, serial: SERIAL },
      writes: [{ kind: 'audit', entry: { ...base, userId: 'dora', type: 'reject', serial: SERIAL, reason: 'guess-budget' } }],
    },
    'spent: answered as a block until the window ends, even a right code, the password not even checked',
  );
  t.same(
    spent(auth(u({ windowStart: AT - DAY, count: 20 }), 'abcdef', right)),
    { kind: 'guesses', userId: 'dora', budget: { windowStart: AT, count: 1 } },
    'a window that has ended starts anew',
  );
});

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
      { kind: 'deactivate', serial: SERIAL, at: AT, replacedBy: null },
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
    { kind: 'deactivate', serial: SERIAL, at: AT, replacedBy: null },
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
