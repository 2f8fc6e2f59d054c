// The pure verification policy: window edges, drift, the never-backwards rule, resync and the
// failure schedule, each checked at the exact edge where breaking the rule would change the answer.
import t from 'tap';
import { createOtp, MAX_MOVING_FACTOR } from '@kodeviser/shared';
import {
  DEFAULT_POLICY,
  driftNow,
  expectedStep,
  failureConsequence,
  findConsecutive,
  idleWidening,
  importedDrift,
  matchCode,
  measureDrift,
  NO_DRIFT,
  predictedOffsetMs,
  type PolicyToken,
} from '../src/domain/policy.js';
import type { TokenDrift } from '../src/store/types.js';

const key = new TextEncoder().encode('12345678901234567890');
const hotp = createOtp({ profile: 'hotp-sha1', key });
const totp = createOtp({ profile: 'totp-sha1', key });
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const NOW = Date.UTC(2026, 0, 1); // a multiple of 30 s
const STEP = totp.stepAt(NOW / 1000);

const token = (over: Partial<PolicyToken> = {}): PolicyToken => ({
  lastMovingFactor: -1,
  drift: NO_DRIFT,
  pendingResync: null,
  lastUsedAt: NOW,
  importedAt: NOW - DAY,
  ...over,
});

t.test('hotp: the look-ahead window is the 10 counters after the last accepted', async (t) => {
  const tok = token({ lastMovingFactor: 41 });
  t.same(matchCode(hotp, tok, hotp.generate(42), NOW), { kind: 'accept', movingFactor: 42, drift: NO_DRIFT, completesResync: false });
  t.same(
    matchCode(hotp, tok, hotp.generate(51), NOW),
    { kind: 'accept', movingFactor: 51, drift: NO_DRIFT, completesResync: false },
    'last + 10 is in',
  );
  t.same(matchCode(hotp, tok, hotp.generate(52), NOW), { kind: 'wide', movingFactor: 52 }, 'last + 11 only starts a resync');
  t.same(matchCode(hotp, tok, hotp.generate(141), NOW), { kind: 'wide', movingFactor: 141 }, 'last + 100 is the wide edge');
  t.equal(matchCode(hotp, tok, hotp.generate(142), NOW).kind, 'none', 'last + 101 is nothing');
  t.same(matchCode(hotp, token(), hotp.generate(0), NOW).kind, 'accept', 'a fresh token accepts counter 0');
});

t.test('only a disclosed match (a code-only check) lets the normal window stop at the match', async (t) => {
  // The search options each verify call was given, recorded around a real Otp.
  const searches: Array<{ stopAtMatch?: boolean } | undefined> = [];
  const recording = {
    ...hotp,
    verify: (code: string, w: { from: number; to: number; expected?: number }, search?: { stopAtMatch?: boolean }) => {
      searches.push(search);
      return hotp.verify(code, w, search);
    },
  };
  const tok = token({ lastMovingFactor: 41 });
  t.same(matchCode(recording, tok, hotp.generate(43), NOW, DEFAULT_POLICY, true), {
    kind: 'accept',
    movingFactor: 43,
    drift: NO_DRIFT,
    completesResync: false,
  });
  t.same(searches, [{ stopAtMatch: true }], 'validate: stops at the match');
  searches.length = 0;
  t.same(matchCode(recording, tok, hotp.generate(43), NOW), { kind: 'accept', movingFactor: 43, drift: NO_DRIFT, completesResync: false });
  t.same(searches, [undefined], 'with a second factor: the whole window, whatever matched');
  searches.length = 0;
  t.same(matchCode(recording, tok, hotp.generate(52), NOW, DEFAULT_POLICY, true), { kind: 'wide', movingFactor: 52 });
  t.same(searches, [{ stopAtMatch: true }, undefined], 'the wide window is searched whole even when disclosed');
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
    t.match(
      matchCode(totp, tok, totp.generate(STEP + d), NOW),
      { kind: 'accept', movingFactor: STEP + d, drift: { steps: d }, completesResync: false },
      `step ${d}`,
    );
  }
  t.same(matchCode(totp, tok, totp.generate(STEP + 2), NOW), { kind: 'wide', movingFactor: STEP + 2 }, '+2 is outside');
  t.same(matchCode(totp, tok, totp.generate(STEP - 2), NOW), { kind: 'wide', movingFactor: STEP - 2 }, '−2 is outside');

  const ahead = token({ drift: importedDrift(5, 30) });
  t.match(
    matchCode(totp, ahead, totp.generate(STEP + 6), NOW),
    { kind: 'accept', movingFactor: STEP + 6, drift: { steps: 6 }, completesResync: false },
    'drift + 1 is in',
  );
  t.match(
    matchCode(totp, ahead, totp.generate(STEP + 4), NOW),
    { kind: 'accept', movingFactor: STEP + 4, drift: { steps: 4 }, completesResync: false },
    'drift − 1 is in',
  );
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
  const tok = token({ lastMovingFactor: STEP + 3, drift: importedDrift(2, 30) });
  t.same(matchCode(totp, tok, totp.generate(STEP + 3), NOW), { kind: 'none', reason: 'replay' });
  t.same(matchCode(totp, tok, totp.generate(STEP + 2), NOW), { kind: 'none', reason: 'replay' }, 'nor in the wide window');
  const behind = token({ lastMovingFactor: STEP, drift: importedDrift(-1, 30) });
  t.same(matchCode(totp, behind, totp.generate(STEP - 1), NOW).kind, 'none', 'a window wholly below the last step matches nothing');
  t.same(matchCode(totp, behind, totp.generate(STEP + 1), NOW).kind, 'wide', 'the next step past the window is wide');
  const farAhead = token({ lastMovingFactor: STEP + 20 });
  t.same(matchCode(totp, farAhead, totp.generate(STEP + 20), NOW), { kind: 'none', reason: 'replay' }, 'both windows wholly spent');
});

t.test('a pending resync is completed only by the consecutive moving factor, in time', async (t) => {
  const pending = token({ lastMovingFactor: 10, pendingResync: { movingFactor: 60, at: NOW - 1000 } });
  t.same(matchCode(hotp, pending, hotp.generate(61), NOW), { kind: 'accept', movingFactor: 61, drift: NO_DRIFT, completesResync: true });
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
  t.match(
    matchCode(totp, totpPending, totp.generate(STEP + 31), NOW),
    { kind: 'accept', movingFactor: STEP + 31, drift: { steps: 31, offsetMs: 31.5 * 30_000 }, completesResync: true },
    'totp drift set by the resync',
  );
});

t.test('totp clock: an accept measures the offset at the middle of the matched step; the first learns no rate', async (t) => {
  // 7 s into the server's step STEP the token shows STEP + 1: its clock is 23 to 53 s ahead, 38 s in the middle.
  t.same(
    matchCode(totp, token(), totp.generate(STEP + 1), NOW + 7_000),
    {
      kind: 'accept',
      movingFactor: STEP + 1,
      drift: { steps: 1, offsetMs: 38_000, ratePpm: 0, rateVar: 225 },
      completesResync: false,
    },
    'the variance of a rate nothing is known of yet: (15 ppm)²',
  );
  const imported = token({ drift: { ...importedDrift(-2, 30), ratePpm: 7 } });
  t.match(
    matchCode(totp, imported, totp.generate(STEP - 2), NOW + 7_000),
    { drift: { steps: -2, offsetMs: -52_000, ratePpm: 7, rateVar: 225 } },
    'an imported offset is no measurement: no rate from it',
  );
  // T0 and a 60-s step: NOW is 29 453 759.5 steps after T0 = 30 s, so the middle of step 29 453 759 is NOW itself.
  const minute = createOtp({ profile: 'totp-sha1', key, step: 60, t0: 30 });
  t.match(matchCode(minute, token(), minute.generate(29_453_759), NOW), { drift: { steps: 0, offsetMs: 0 } });
  t.match(matchCode(minute, token(), minute.generate(29_453_760), NOW), { drift: { steps: 1, offsetMs: 60_000 } });
  t.same(
    importedDrift(3, 60),
    { steps: 3, offsetMs: 180_000, ratePpm: 0, rateVar: null },
    'whole steps import as that many steps of offset',
  );
});

t.test('totp clock: the window is centred on the offset plus the rate times the time since the last accept', async (t) => {
  // 10 s ahead two weeks ago, gaining 20 ppm: 24.192 s more since, 34.192 s now, one step ahead.
  const learnt = token({ drift: { steps: 0, offsetMs: 10_000, ratePpm: 20, rateVar: 4 }, lastUsedAt: NOW - 14 * DAY });
  t.ok(Math.abs(predictedOffsetMs(learnt, NOW) - 34_192) < 1e-6, 'offset + rate × 14 days');
  t.equal(expectedStep(totp, learnt, NOW), STEP + 1);
  t.same(driftNow(totp, learnt, NOW), { drift: 1, driftSeconds: 34.192, driftPpm: 20 }, 'what an operator reads');
  t.equal(matchCode(totp, learnt, totp.generate(STEP + 2), NOW).kind, 'accept');
  t.equal(matchCode(totp, learnt, totp.generate(STEP), NOW).kind, 'accept');
  t.equal(matchCode(totp, learnt, totp.generate(STEP - 1), NOW).kind, 'wide', 'the server step − 1 is outside: the rate moved the window');
  const noRate = token({ drift: { steps: 0, offsetMs: 10_000, ratePpm: 0, rateVar: 4 }, lastUsedAt: NOW - 14 * DAY });
  t.equal(matchCode(totp, noRate, totp.generate(STEP - 1), NOW).kind, 'accept', 'without the rate it is inside');
  t.equal(matchCode(totp, noRate, totp.generate(STEP + 2), NOW).kind, 'wide', 'and STEP + 2 outside');
  t.same(
    driftNow(totp, token({ drift: importedDrift(-4, 30) }), NOW),
    { drift: -4, driftSeconds: -120, driftPpm: 0 },
    'an imported drift reads as imported',
  );
  const hotpInfo = driftNow(hotp, token({ lastUsedAt: NOW - 400 * DAY }), NOW);
  t.same(hotpInfo, { drift: 0, driftSeconds: 0, driftPpm: 0 }, 'hotp: no clock');
});

/**
 * The drift an accept of STEP + 1, 3 s into the server's step STEP (offset 42 s), measures when
 * the last accept was `intervalMs` ago and measured an offset `impliedPpm` ppm of that interval
 * less: the offset's change implies exactly that rate.
 */
function learn(
  intervalMs: number,
  impliedPpm: number,
  known: Pick<TokenDrift, 'ratePpm' | 'rateVar'> = { ratePpm: 0, rateVar: 225 },
): TokenDrift {
  const at = NOW + 3_000;
  const tok = token({ drift: { steps: 1, offsetMs: 42_000 - impliedPpm * 1e-6 * intervalMs, ...known }, lastUsedAt: at - intervalMs });
  return measureDrift(totp, tok, STEP + 1, at);
}

t.test("totp clock: the rate is learnt from the offset's change, weighed by what the interval can tell", async (t) => {
  // 14 days: the implied rate's noise is 2·((30 s)²/12 + (2 s)²)/(14 days)² = 108.0 ppm²; the
  // rate's variance, 225 + 0.2·14 capped at 225; gain 225/333.0 = 0.6757.
  const fortnight = learn(14 * DAY, 30);
  t.equal(fortnight.offsetMs, 42_000, 'the offset is the new measurement');
  t.ok(Math.abs(fortnight.ratePpm - 20.271) < 0.001, `0.6757 of the way to 30 ppm: ${fortnight.ratePpm}`);
  t.ok(Math.abs((fortnight.rateVar as number) - 72.97) < 0.01, `variance (1 − 0.6757)·225: ${fortnight.rateVar}`);
  const day = learn(DAY, 30).ratePpm;
  const month = learn(28 * DAY, 30).ratePpm;
  t.ok(day > 0 && day < 1, `a day's interval (noise 145 ppm) teaches little: ${day}`);
  t.ok(month > 26 && month < 30, `four weeks' (noise 5 ppm) teach most: ${month}`);
  t.same(learn(23 * HOUR, 30), { steps: 1, offsetMs: 42_000, ratePpm: 0, rateVar: 225 }, 'under a day: the offset only');
  const sure = learn(14 * DAY, 25, { ratePpm: 20, rateVar: 4 });
  t.ok(sure.ratePpm > 20.2 && sure.ratePpm < 20.4, `a rate known well moves little: ${sure.ratePpm}`);
  t.ok((sure.rateVar as number) < 6.8, 'and is known better still');
  t.same(
    learn(-DAY, 30, { ratePpm: 5, rateVar: 9 }),
    { steps: 1, offsetMs: 42_000, ratePpm: 5, rateVar: 9 },
    'a last use in the future (clock skew between instances) teaches nothing',
  );
});

t.test('totp clock: a changed rate is learnt afresh; rates stay within ±100 ppm; a clock that jumped teaches none', async (t) => {
  // Known well at +20 ppm, now −20: 40 ppm off, over 3 σ (√(4 + 2.8 + 108.0) = 10.7 ppm), so the rate starts over from the prior.
  const changed = learn(14 * DAY, -20, { ratePpm: 20, rateVar: 4 });
  t.ok(Math.abs(changed.ratePpm - (20 - 0.6757 * 40)) < 0.01, `learnt as if nothing were known: ${changed.ratePpm}`);
  t.ok(learn(14 * DAY, 130 - 24, { ratePpm: 95, rateVar: 225 }).ratePpm <= 100, 'an implied rate past 100 ppm counts as 100');
  t.equal(learn(14 * DAY, 124, { ratePpm: 100, rateVar: 225 }).ratePpm, 100, 'never beyond it');
  t.equal(learn(14 * DAY, -124, { ratePpm: -100, rateVar: 225 }).ratePpm, -100);
  // Beyond 100 ppm plus what two half-step measurements can explain (30 s over 14 days: 24.8 ppm): no crystal.
  t.same(
    learn(14 * DAY, 126, { ratePpm: 10, rateVar: 50 }),
    { steps: 1, offsetMs: 42_000, ratePpm: 10, rateVar: 52.8 },
    'a jump: offset taken, rate left alone',
  );
  t.same(
    learn(2 * DAY, 1736, { ratePpm: 10, rateVar: 50 }),
    { steps: 1, offsetMs: 42_000, ratePpm: 10, rateVar: 50.4 },
    '5 minutes in 2 days',
  );
});

t.test('totp clock: a spent step is never accepted, wherever the prediction puts the window (LinOTP #110)', async (t) => {
  // The window centres on the last accepted step itself.
  const centred = token({ lastMovingFactor: STEP + 1, drift: { steps: 1, offsetMs: 45_000, ratePpm: 0, rateVar: 225 }, lastUsedAt: NOW });
  t.equal(expectedStep(totp, centred, NOW), STEP + 1);
  t.same(matchCode(totp, centred, totp.generate(STEP + 1), NOW), { kind: 'none', reason: 'replay' });
  t.same(matchCode(totp, centred, totp.generate(STEP), NOW), { kind: 'none', reason: 'replay' });
  t.equal(matchCode(totp, centred, totp.generate(STEP + 2), NOW).kind, 'accept');
  // A rate that runs the prediction back below the last accepted step: 100 ppm slow for 30 days is 259.2 s.
  const back = token({
    lastMovingFactor: STEP + 3,
    drift: { steps: 3, offsetMs: 105_000, ratePpm: -100, rateVar: 225 },
    lastUsedAt: NOW - 30 * DAY,
  });
  t.equal(expectedStep(totp, back, NOW), STEP - 6);
  for (let c = STEP - 7; c <= STEP + 3; c++)
    t.not(matchCode(totp, back, totp.generate(c), NOW).kind, 'accept', `step ${c - STEP} is not accepted`);
  t.same(
    matchCode(totp, back, totp.generate(STEP + 4), NOW),
    { kind: 'wide', movingFactor: STEP + 4 },
    'the first step above the last is only wide',
  );
  t.equal(findConsecutive(totp, back, totp.generate(STEP + 2), totp.generate(STEP + 3), NOW), null, 'nor does an admin resync reach back');
  t.match(findConsecutive(totp, back, totp.generate(STEP + 4), totp.generate(STEP + 5), NOW), {
    movingFactor: STEP + 5,
    drift: { steps: 5 },
  });
});

t.test('totp clock: a token whose learnt rate is wrong recovers within a few uses', async (t) => {
  // The token's clock loses 20 ppm; the server is sure (variance 4) it gains 60. Every two weeks
  // at a different time of day, the code typed 3 s after the press; a resync is completed by the
  // next code, as the user would.
  const deviceOffset = (at: number) => 12_000 - 20e-6 * (at - NOW);
  const shownAt = (at: number) => Math.floor((at + deviceOffset(at)) / 30_000);
  let tok = token({ lastMovingFactor: shownAt(NOW), drift: { steps: 0, offsetMs: 12_000, ratePpm: 60, rateVar: 4 }, lastUsedAt: NOW });
  const use = (at: number) => {
    const m = matchCode(totp, tok, totp.generate(shownAt(at)), at + 3_000);
    if (m.kind === 'accept')
      tok = { ...tok, lastMovingFactor: m.movingFactor, drift: m.drift, pendingResync: null, lastUsedAt: at + 3_000 };
    if (m.kind === 'wide') tok = { ...tok, pendingResync: { movingFactor: m.movingFactor, at: at + 3_000 } };
    return m.kind;
  };
  const secondCode: number[] = [];
  for (let i = 1; i <= 20; i++) {
    const at = NOW + i * 14 * DAY + ((i * 7_919_000) % (10 * HOUR));
    const first = use(at);
    if (first === 'accept') continue;
    t.equal(first, 'wide', `use ${i}: accepted or a resync started`);
    secondCode.push(i);
    t.equal(use(at + 31_000), 'accept', `use ${i}: the next code completes it`);
  }
  t.ok(
    secondCode.every((i) => i <= 3),
    `second codes only at the first uses: [${secondCode.join(', ')}]`,
  );
  t.ok(secondCode.length >= 1, 'the wrong rate did cost a second code at first');
  t.ok(Math.abs(tok.drift.ratePpm + 20) < 5, `the rate learnt: ${tok.drift.ratePpm.toFixed(2)} ppm`);
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
  t.same(findConsecutive(hotp, tok, hotp.generate(900), hotp.generate(901), NOW), { movingFactor: 901, drift: NO_DRIFT });
  t.equal(findConsecutive(hotp, tok, hotp.generate(900), hotp.generate(902), NOW), null, 'not consecutive');
  t.equal(findConsecutive(hotp, tok, hotp.generate(4), hotp.generate(5), NOW), null, 'spent counters');
  t.equal(findConsecutive(hotp, tok, hotp.generate(1006), hotp.generate(1007), NOW), null, 'beyond 1000 ahead');
  t.same(
    findConsecutive(hotp, tok, hotp.generate(1005), hotp.generate(1006), NOW),
    { movingFactor: 1006, drift: NO_DRIFT },
    '1000 ahead is in',
  );

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
  t.same(
    findConsecutive(hotp, tok, hotp.generate(later), hotp.generate(later + 1), NOW, wide),
    { movingFactor: later + 1, drift: NO_DRIFT },
    'every candidate is tried',
  );

  const tt = token();
  t.match(findConsecutive(totp, tt, totp.generate(STEP - 2000), totp.generate(STEP - 1999), NOW), {
    movingFactor: STEP - 1999,
    drift: { steps: -1999, offsetMs: -1998.5 * 30_000 },
  });
  t.match(findConsecutive(totp, tt, totp.generate(STEP + 2000), totp.generate(STEP + 2001), NOW), {
    movingFactor: STEP + 2001,
    drift: { steps: 2001, offsetMs: 2001.5 * 30_000 },
  });
  t.equal(
    findConsecutive(totp, token({ lastMovingFactor: STEP + 3000 }), totp.generate(STEP), totp.generate(STEP + 1), NOW),
    null,
    'window wholly spent',
  );
});

t.test('hotp above 2^53: the windows exactly, in bigints and across 2^53; none reaches beyond 2^63 − 1', async (t) => {
  const HUGE = 16887061004979670n;
  const MAX = MAX_MOVING_FACTOR;
  const accept = (movingFactor: number | bigint, completesResync = false) => ({
    kind: 'accept',
    movingFactor,
    drift: NO_DRIFT,
    completesResync,
  });
  const tok = token({ lastMovingFactor: HUGE - 1n });
  t.strictSame(matchCode(hotp, tok, hotp.generate(HUGE), NOW), accept(HUGE));
  t.strictSame(matchCode(hotp, tok, hotp.generate(HUGE + 9n), NOW), accept(HUGE + 9n), 'last + 10 is in');
  t.strictSame(
    matchCode(hotp, tok, hotp.generate(HUGE + 10n), NOW),
    { kind: 'wide', movingFactor: HUGE + 10n },
    'last + 11 only starts a resync',
  );
  t.strictSame(matchCode(hotp, token({ lastMovingFactor: HUGE }), hotp.generate(HUGE), NOW), { kind: 'none', reason: 'replay' });
  const live = { movingFactor: HUGE + 40n, at: NOW - 1000 };
  t.strictSame(
    matchCode(hotp, token({ lastMovingFactor: HUGE - 1n, pendingResync: live }), hotp.generate(HUGE + 41n), NOW),
    accept(HUGE + 41n, true),
  );

  // Across 2^53: the window's ends a number and a bigint, each match in its one representation.
  const safe = token({ lastMovingFactor: Number.MAX_SAFE_INTEGER - 2 });
  t.strictSame(matchCode(hotp, safe, hotp.generate(Number.MAX_SAFE_INTEGER), NOW), accept(Number.MAX_SAFE_INTEGER));
  t.strictSame(matchCode(hotp, safe, hotp.generate(2n ** 53n + 3n), NOW), accept(2n ** 53n + 3n));
  t.strictSame(matchCode(hotp, token({ lastMovingFactor: 2n ** 53n }), hotp.generate(Number.MAX_SAFE_INTEGER), NOW), {
    kind: 'none',
    reason: 'replay',
  });

  // The limit: 2^63 − 1 is the last moving factor a token accepts; after it, no code is next.
  t.strictSame(
    matchCode(hotp, token({ lastMovingFactor: MAX - 5n }), hotp.generate(MAX), NOW),
    accept(MAX),
    'the window is cut at the limit',
  );
  const spent = token({ lastMovingFactor: MAX });
  t.strictSame(matchCode(hotp, spent, hotp.generate(MAX - 1n), NOW), { kind: 'none', reason: 'replay' });
  const recent = new Set([MAX, MAX - 1n, MAX - 2n].map((c) => hotp.generate(c)));
  const other = ['000000', '000001', '000002', '000003'].find((code) => !recent.has(code)) as string;
  t.strictSame(matchCode(hotp, spent, other, NOW), { kind: 'none', reason: 'bad-otp' }, 'no window at all after the limit');
  const pendingAtMax = token({ lastMovingFactor: MAX - 60n, pendingResync: { movingFactor: MAX, at: NOW - 1000 } });
  t.strictSame(
    matchCode(hotp, pendingAtMax, hotp.generate(MAX - 59n), NOW),
    accept(MAX - 59n),
    'a resync pending at the limit has no consecutive code',
  );
  t.strictSame(matchCode(hotp, token({ lastMovingFactor: MAX - 60n }), hotp.generate(MAX), NOW), { kind: 'wide', movingFactor: MAX });

  t.strictSame(findConsecutive(hotp, token({ lastMovingFactor: HUGE }), hotp.generate(HUGE + 500n), hotp.generate(HUGE + 501n), NOW), {
    movingFactor: HUGE + 501n,
    drift: NO_DRIFT,
  });
  const nearMax = token({ lastMovingFactor: MAX - 10n });
  t.strictSame(findConsecutive(hotp, nearMax, hotp.generate(MAX - 1n), hotp.generate(MAX), NOW), { movingFactor: MAX, drift: NO_DRIFT });
  t.equal(findConsecutive(hotp, nearMax, hotp.generate(MAX), '123456', NOW), null, 'a first code at the limit has no second');
  t.equal(findConsecutive(hotp, spent, hotp.generate(MAX - 1n), hotp.generate(MAX), NOW), null, 'nothing after the limit');
});

t.test('totp: an admin resync sets the offset but is no rate measurement (its codes may be minutes old)', async (t) => {
  // The token's clock is exact and the server knows it (0 ppm, variance 1). The user reads two
  // codes out over the phone; the admin types them in two minutes later.
  const learnt = token({ lastMovingFactor: STEP - 2880, drift: { steps: 0, offsetMs: 0, ratePpm: 0, rateVar: 1 }, lastUsedAt: NOW - DAY });
  const read = STEP - 5; // the steps of the two codes as the device showed them, 2 minutes before NOW
  const found = findConsecutive(totp, learnt, totp.generate(read), totp.generate(read + 1), NOW);
  t.match(
    found,
    { movingFactor: read + 1, drift: { steps: -4, offsetMs: -105_000, ratePpm: 0, rateVar: null } },
    'the offset as the codes give it, the rate kept, no confidence in it',
  );
  // Two weeks later the user logs in, the device as exact as ever: the offset is 0 again.
  const later = NOW + 14 * DAY + 15_000;
  const next = (drift: TokenDrift) =>
    measureDrift(totp, token({ lastMovingFactor: read + 1, drift, lastUsedAt: NOW }), STEP + 14 * 2880, later);
  t.match(next(found!.drift), { offsetMs: 0, ratePpm: 0, rateVar: 15 ** 2 }, 'a first measurement: no rate learnt from the resync');
  // Had the resync been an accept's measurement, its two minutes would have read as +87 ppm.
  const asAccept = next(measureDrift(totp, learnt, read + 1, NOW));
  t.ok(asAccept.ratePpm > 30, `as a measurement it would have taught ${asAccept.ratePpm.toFixed(1)} ppm`);
});
