// The pure decision (domain/decide.ts) alone, table by table: a snapshot and an attempt in, the
// outcome and the writes out, with no store and no clock. Every rule of the validate path is
// here: the gate, the windows' three answers, and what each consecutive failure costs.
import t from 'tap';
import { createOtp, makeSerial, type Otp } from '@kodeviser/shared';
import { decideAuthenticate, decideValidate, type VerifyDecision } from '../src/domain/decide.js';
import { DEFAULT_POLICY, NO_DRIFT } from '../src/domain/policy.js';
import type { Origin, TokenRecord } from '../src/store/types.js';

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

const decide = (tk: TokenRecord | null, code: string): VerifyDecision =>
  decideValidate(frozen({ token: tk, user: null }), SERIAL, code, o, DEFAULT_POLICY, (): Otp => otp);

t.test('the gate: unknown, not enabled, blocked (not even checked), a block that has ended', async (t) => {
  t.same(decide(null, otp.generate(10)), {
    result: { result: 'reject', reason: 'unknown-token', serial: SERIAL },
    writes: [{ kind: 'audit', entry: { ...base, type: 'reject', serial: SERIAL, reason: 'unknown-token' } }],
    consequence: null,
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
    consequence: null,
  });
  t.same(decide(token(), otp.generate(60)), {
    result: { result: 'resync-started', serial: SERIAL },
    writes: [
      { kind: 'start-resync', serial: SERIAL, pending: { movingFactor: 60, at: AT } },
      { kind: 'audit', entry: { ...base, type: 'resync-started', serial: SERIAL, movingFactor: 60 } },
    ],
    consequence: null,
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
            { kind: 'lock', serial: SERIAL },
            { kind: 'audit', entry: { ...base, type: 'lock', serial: SERIAL, reason: `${n} consecutive failures` } },
          ]
        : []),
    ];
    t.same(d.writes, expected, `failure ${n}`);
    t.equal(d.consequence, locked ? 'locked' : blockS !== null ? 'blocked' : null);
    t.same(d.result, { result: 'reject', reason: 'bad-otp', serial: SERIAL });
  }
});

t.test('pure: the same inputs, the same decision; the snapshot is never changed', async (t) => {
  const tk = frozen(token({ failures: 2 }));
  t.same(decide(tk, 'abcdef'), decide(tk, 'abcdef'));
  t.equal(tk.failures, 2);
});

t.test('authenticate: both factors always evaluated, never said which failed; a spent code stays spent', async (t) => {
  const user = { userId: 'dora', passwordHash: 'scrypt$hash-1' };
  const uo: Origin = { ...o, userId: 'dora' };
  const ub = { ...base, userId: 'dora' };
  const right = { ok: true, against: user.passwordHash };
  const wrong = { ok: false, against: user.passwordHash };
  const auth = (tk: TokenRecord | null, u: typeof user | null, code: string, pw: Parameters<typeof decideAuthenticate>[2]) =>
    decideAuthenticate(frozen({ token: tk, user: u }), code, pw, uo, DEFAULT_POLICY, (): Otp => otp);

  t.same(auth(null, user, otp.generate(10), right), {
    result: { result: 'reject', reason: 'not-activated' },
    writes: [{ kind: 'audit', entry: { ...ub, type: 'reject', serial: null, reason: 'not-activated' } }],
    consequence: null,
  });
  t.same(auth(token(), null, otp.generate(10), right)?.result, { result: 'reject', reason: 'not-activated' }, 'no user');
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
    consequence: null,
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
  t.match(
    auth(token({ failures: 2 }), user, otp.generate(10), wrong),
    { consequence: 'blocked' },
    'wrong passwords count toward the block',
  );
});
