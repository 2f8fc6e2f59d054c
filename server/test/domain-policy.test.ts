// The pure verification policy: window edges, drift, the never-backwards rule, resync and the
// failure schedule, each checked at the exact edge where breaking the rule would change the answer.
import t from 'tap';
import { createOtp } from '@kodeviser/shared';
import { Lru } from '../src/domain/lru.js';
import {
  DEFAULT_POLICY,
  failureConsequence,
  findConsecutive,
  idleWidening,
  matchCode,
  type PolicyToken,
} from '../src/domain/policy.js';

const key = new TextEncoder().encode('12345678901234567890');
const hotp = createOtp({ profile: 'hotp-sha1', key });
const totp = createOtp({ profile: 'totp-sha1', key });
const DAY = 86_400_000;
const NOW = Date.UTC(2026, 0, 1); // a multiple of 30 s
const STEP = totp.stepAt(NOW / 1000);

const token = (over: Partial<PolicyToken> = {}): PolicyToken => ({
  lastMovingFactor: -1,
  drift: 0,
  pendingResync: null,
  lastUsedAt: NOW,
  importedAt: NOW - DAY,
  ...over,
});

t.test('hotp: the look-ahead window is the 10 counters after the last accepted', async (t) => {
  const tok = token({ lastMovingFactor: 41 });
  t.same(matchCode(hotp, tok, hotp.generate(42), NOW), { kind: 'accept', movingFactor: 42, drift: 0, completesResync: false });
  t.same(matchCode(hotp, tok, hotp.generate(51), NOW), { kind: 'accept', movingFactor: 51, drift: 0, completesResync: false }, 'last + 10 is in');
  t.same(matchCode(hotp, tok, hotp.generate(52), NOW), { kind: 'wide', movingFactor: 52 }, 'last + 11 only starts a resync');
  t.same(matchCode(hotp, tok, hotp.generate(141), NOW), { kind: 'wide', movingFactor: 141 }, 'last + 100 is the wide edge');
  t.equal(matchCode(hotp, tok, hotp.generate(142), NOW).kind, 'none', 'last + 101 is nothing');
  t.same(matchCode(hotp, token(), hotp.generate(0), NOW).kind, 'accept', 'a fresh token accepts counter 0');
});

t.test('hotp: spent counters are never accepted, and show as replays in the audit', async (t) => {
  const tok = token({ lastMovingFactor: 41 });
  t.same(matchCode(hotp, tok, hotp.generate(41), NOW), { kind: 'none', reason: 'replay' });
  t.same(matchCode(hotp, tok, hotp.generate(39), NOW), { kind: 'none', reason: 'replay' });
  t.same(matchCode(hotp, tok, '000000', NOW).kind, 'none');
  t.same(matchCode(hotp, tok, 'abcdef', NOW), { kind: 'none', reason: 'bad-otp' });
});

t.test('totp: ±1 step around the current step plus the tracked drift', async (t) => {
  const tok = token();
  for (const d of [-1, 0, 1]) {
    t.same(matchCode(totp, tok, totp.generate(STEP + d), NOW), { kind: 'accept', movingFactor: STEP + d, drift: d, completesResync: false }, `step ${d}`);
  }
  t.same(matchCode(totp, tok, totp.generate(STEP + 2), NOW), { kind: 'wide', movingFactor: STEP + 2 }, '+2 is outside');
  t.same(matchCode(totp, tok, totp.generate(STEP - 2), NOW), { kind: 'wide', movingFactor: STEP - 2 }, '−2 is outside');

  const ahead = token({ drift: 5 });
  t.same(matchCode(totp, ahead, totp.generate(STEP + 6), NOW), { kind: 'accept', movingFactor: STEP + 6, drift: 6, completesResync: false }, 'drift + 1 is in');
  t.same(matchCode(totp, ahead, totp.generate(STEP + 4), NOW), { kind: 'accept', movingFactor: STEP + 4, drift: 4, completesResync: false }, 'drift − 1 is in');
  t.equal(matchCode(totp, ahead, totp.generate(STEP + 3), NOW).kind, 'wide', 'drift − 2 is outside');
  t.equal(matchCode(totp, ahead, totp.generate(STEP), NOW).kind, 'wide', 'the server step itself is outside when the token runs 5 ahead');
  t.equal(matchCode(totp, tok, totp.generate(STEP + 10), NOW).kind, 'wide', '±10 steps are the wide window');
  t.equal(matchCode(totp, tok, totp.generate(STEP + 11), NOW).kind, 'none');
});

t.test('totp: a step at or below the last accepted one never matches, even after a drift change (LinOTP #110)', async (t) => {
  // The token ran 3 steps ahead and step STEP+3 was accepted; then the drift was measured back
  // at 0 (a later accept at the server step would be impossible, but the drift may change by
  // admin resync or import): the window STEP−1..STEP+1 reaches below nothing spent, fine, but
  // with drift +2 it reaches STEP+1..STEP+3, and STEP+3 is spent.
  const tok = token({ lastMovingFactor: STEP + 3, drift: 2 });
  t.same(matchCode(totp, tok, totp.generate(STEP + 3), NOW), { kind: 'none', reason: 'replay' });
  t.same(matchCode(totp, tok, totp.generate(STEP + 2), NOW), { kind: 'none', reason: 'replay' }, 'nor in the wide window');
  const behind = token({ lastMovingFactor: STEP, drift: -1 });
  t.same(matchCode(totp, behind, totp.generate(STEP - 1), NOW).kind, 'none', 'a window wholly below the last step matches nothing');
  t.same(matchCode(totp, behind, totp.generate(STEP + 1), NOW).kind, 'wide', 'the next step past the window is wide');
  const farAhead = token({ lastMovingFactor: STEP + 20 });
  t.same(matchCode(totp, farAhead, totp.generate(STEP + 20), NOW), { kind: 'none', reason: 'replay' }, 'both windows wholly spent');
});

t.test('a pending resync is completed only by the consecutive moving factor, in time', async (t) => {
  const pending = token({ lastMovingFactor: 10, pendingResync: { movingFactor: 60, at: NOW - 1000 } });
  t.same(matchCode(hotp, pending, hotp.generate(61), NOW), { kind: 'accept', movingFactor: 61, drift: 0, completesResync: true });
  t.same(matchCode(hotp, pending, hotp.generate(62), NOW), { kind: 'wide', movingFactor: 62 }, 'one further is only wide again');
  t.same(matchCode(hotp, pending, hotp.generate(60), NOW), { kind: 'wide', movingFactor: 60 }, 'the same code again is not consecutive');
  t.same(matchCode(hotp, pending, '123456', NOW).kind, 'none');
  t.same(matchCode(hotp, pending, hotp.generate(11), NOW).kind, 'accept', 'a code in the normal window still works');
  t.same(
    matchCode(hotp, pending, 'zzzzzz', NOW),
    { kind: 'none', reason: 'resync-mismatch' },
    'a wrong code with a pending resync says so',
  );

  const stale = token({ lastMovingFactor: 10, pendingResync: { movingFactor: 60, at: NOW - DEFAULT_POLICY.resyncTtlMs - 1 } });
  t.same(matchCode(hotp, stale, hotp.generate(61), NOW), { kind: 'wide', movingFactor: 61 }, 'after the time limit it starts over');
  const overtaken = token({ lastMovingFactor: 70, pendingResync: { movingFactor: 60, at: NOW } });
  t.equal(matchCode(hotp, overtaken, hotp.generate(61), NOW).kind, 'none', 'a pending below the last accepted is dead');

  const totpPending = token({ pendingResync: { movingFactor: STEP + 30, at: NOW - 30_000 } });
  t.same(matchCode(totp, totpPending, totp.generate(STEP + 31), NOW), { kind: 'accept', movingFactor: STEP + 31, drift: 31, completesResync: true }, 'totp drift set by the resync');
});

t.test('totp: the wide window grows with idle time, up to its cap', async (t) => {
  const idle = (days: number) => token({ lastUsedAt: NOW - days * DAY });
  t.equal(idleWidening(idle(6.9), NOW, DEFAULT_POLICY), 0);
  t.equal(idleWidening(idle(7), NOW, DEFAULT_POLICY), 1);
  t.equal(idleWidening(token({ lastUsedAt: null, importedAt: NOW - 70 * DAY }), NOW, DEFAULT_POLICY), 10, 'never used: idle since import');
  t.equal(matchCode(totp, idle(0), totp.generate(STEP + 40), NOW).kind, 'none');
  t.equal(matchCode(totp, idle(30 * 7), totp.generate(STEP + 40), NOW).kind, 'wide', '30 weeks idle: ±40');
  t.equal(matchCode(totp, idle(30 * 7), totp.generate(STEP - 40), NOW).kind, 'wide');
  t.equal(matchCode(totp, idle(30 * 7), totp.generate(STEP + 41), NOW).kind, 'none');
  const tenYears = idle(3653 * 2);
  t.equal(matchCode(totp, tenYears, totp.generate(STEP + 540), NOW).kind, 'wide', 'capped at 540');
  t.equal(matchCode(totp, tenYears, totp.generate(STEP + 541), NOW).kind, 'none');
});

t.test('failures: block from the third, doubling, capped; lock at the hundredth', async (t) => {
  const blocks = [1, 2, 3, 4, 5, 6, 9, 10, 99].map((n) => failureConsequence(n).blockForMs);
  t.same(blocks, [0, 0, 30_000, 60_000, 120_000, 240_000, 1_920_000, 3_600_000, 3_600_000]);
  t.same(failureConsequence(99), { blockForMs: 3_600_000, lock: false });
  t.same(failureConsequence(100), { blockForMs: 0, lock: true });
  t.same(failureConsequence(5000), { blockForMs: 0, lock: true });
  t.same(failureConsequence(2000, { ...DEFAULT_POLICY, lockAfter: 1e9 }).blockForMs, 3_600_000, 'no overflow');
});

t.test('admin resync: two consecutive codes in a large window', async (t) => {
  const tok = token({ lastMovingFactor: 5 });
  t.same(findConsecutive(hotp, tok, hotp.generate(900), hotp.generate(901), NOW), { movingFactor: 901, drift: 0 });
  t.equal(findConsecutive(hotp, tok, hotp.generate(900), hotp.generate(902), NOW), null, 'not consecutive');
  t.equal(findConsecutive(hotp, tok, hotp.generate(4), hotp.generate(5), NOW), null, 'spent counters');
  t.equal(findConsecutive(hotp, tok, hotp.generate(1006), hotp.generate(1007), NOW), null, 'beyond 1000 ahead');
  t.same(findConsecutive(hotp, tok, hotp.generate(1005), hotp.generate(1006), NOW), { movingFactor: 1006, drift: 0 }, '1000 ahead is in');

  // A code recurs in a window this large: pick counters whose first code also appears earlier,
  // so only the second occurrence is followed by the second code.
  const first = new Map<string, number>();
  let dup: [number, number] | null = null;
  const wide = { ...DEFAULT_POLICY, adminHotpWindow: 20_000 };
  for (let c = 6; c <= 20_005 && !dup; c++) {
    const code = hotp.generate(c);
    const earlier = first.get(code);
    if (earlier !== undefined) dup = [earlier, c];
    else first.set(code, c);
  }
  t.ok(dup, 'a recurring code exists in the window');
  const [, later] = dup as [number, number];
  t.same(findConsecutive(hotp, tok, hotp.generate(later), hotp.generate(later + 1), NOW, wide), { movingFactor: later + 1, drift: 0 }, 'every candidate is tried');

  const tt = token();
  t.same(findConsecutive(totp, tt, totp.generate(STEP - 2000), totp.generate(STEP - 1999), NOW), { movingFactor: STEP - 1999, drift: -1999 });
  t.same(findConsecutive(totp, tt, totp.generate(STEP + 2000), totp.generate(STEP + 2001), NOW), { movingFactor: STEP + 2001, drift: 2001 });
  t.equal(findConsecutive(totp, token({ lastMovingFactor: STEP + 3000 }), totp.generate(STEP), totp.generate(STEP + 1), NOW), null, 'window wholly spent');
});

t.test('the Otp cache is a bounded LRU', async (t) => {
  const lru = new Lru<string, number>(2);
  lru.set('a', 1);
  lru.set('b', 2);
  t.equal(lru.get('a'), 1, 'a is now the most recent');
  lru.set('c', 3);
  t.equal(lru.get('b'), undefined, 'b, the least recently used, went');
  t.equal(lru.get('a'), 1);
  t.equal(lru.get('c'), 3);
  lru.set('c', 4);
  t.equal(lru.get('c'), 4, 'set replaces');
  t.throws(() => new Lru(0), { code: 'ERR_ARGUMENT', message: /capacity/ });
});
