/**
 * docs/token.md's NVM invariant under power cuts at any byte of any write: the stored hotp
 * counter never goes back, and no code is ever shown twice (a code's counter is persisted before
 * the code is displayed). fast-check drives presses, cuts and power-ons.
 */
import t from 'tap';
import fc from 'fast-check';
import { createOtp } from '@kodeviser/shared';
import { decodeCounter, readRecord, textFor } from '@kodeviser/firmware';
import { TYPICAL_BOUNCE } from '../src/button.js';
import { Machine } from '../src/machine.js';

const KEY = new TextEncoder().encode('12345678901234567890');
const otp = createOtp({ profile: 'hotp-sha1', key: KEY, digits: 8 });
const base = Machine.manufacture({
  profile: 'hotp-sha1',
  key: KEY,
  digits: 8,
  manufacturedAt: Date.UTC(2024, 0, 1),
  driftPpm: 0,
  agingPpm: 0,
  seed: 5,
  bounce: TYPICAL_BOUNCE,
  traceLimit: 0,
}).snapshot();

const CODE_OF = new Map(Array.from({ length: 400 }, (_, c) => [otp.generate(c), c] as const));

function storedCounter(m: Machine): number {
  const r = readRecord(m.nvm(), 'counter');
  if (r === null) throw new Error('the counter record is gone');
  return decodeCounter(r.payload);
}

type Action =
  { kind: 'press'; gapMs: number } | { kind: 'cut'; atWrite: number; atWriteByte: number } | { kind: 'cut-now'; afterUs: number };

const action: fc.Arbitrary<Action> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('press' as const), gapMs: fc.integer({ min: 0, max: 40_000 }) }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('cut' as const),
      atWrite: fc.integer({ min: 0, max: 3 }),
      atWriteByte: fc.integer({ min: 0, max: 40 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('cut-now' as const), afterUs: fc.integer({ min: 0, max: 200_000 }) }) },
);

t.test('the table of codes has no repeats, so a repeat on the LCD would be a real one', (t) => {
  t.equal(CODE_OF.size, 400);
  t.end();
});

t.test('property: after any cuts, the counter never goes back and no code shows twice', (t) => {
  let cutsLanded = 0;
  let codesSeen = 0;
  fc.assert(
    fc.property(fc.array(action, { minLength: 5, maxLength: 25 }), (actions) => {
      const m = Machine.restore(base);
      const shown: number[] = [];
      m.onTrace((r) => {
        if (r.what !== 'lcd' || r.kind !== 'hw') return;
        const c = CODE_OF.get(textFor(r.detail['segments'] as number[]).trim());
        if (c !== undefined) shown.push(c);
      });
      let counter = storedCounter(m);
      for (const a of actions) {
        if (a.kind === 'press') {
          m.advance(a.gapMs * 1000);
          m.press();
        } else if (a.kind === 'cut') {
          m.cutPower({ atWrite: a.atWrite, atWriteByte: a.atWriteByte });
          m.press();
        } else {
          m.buttonDown();
          m.advance(120_000);
          m.buttonUp();
          m.advance(a.afterUs);
          m.cutPower();
        }
        if (!m.state().powered) {
          cutsLanded++;
          m.advance(1_000_000);
          m.powerOn();
        }
        const now = storedCounter(m);
        if (now < counter) return false; // the counter went back
        counter = now;
        if (shown.some((c) => c >= counter)) return false; // a code shown whose counter is not stored past it
      }
      codesSeen += shown.length;
      return new Set(shown).size === shown.length; // no code twice
    }),
    { numRuns: 120 },
  );
  t.ok(cutsLanded > 100, `${cutsLanded} power cuts landed`);
  t.ok(codesSeen > 300, `${codesSeen} codes shown`);
  t.end();
});

t.test('a cut at every byte of the counter write of one press', (t) => {
  const counterBytes = 17;
  for (let k = 0; k <= counterBytes; k++) {
    const m = Machine.restore(base);
    m.press();
    m.advance(31e6);
    m.cutPower({ atWrite: 0, atWriteByte: k }); // the next write is the counter's
    m.press();
    t.notOk(m.state().powered, `cut at byte ${k}`);
    t.equal(m.lcd(), '        ', 'the code never showed');
    m.powerOn();
    m.press();
    // the counter moved to 2 only if all 17 bytes (and so the CRC) landed; otherwise 1 is reused
    t.equal(m.lcd(), otp.generate(k === counterBytes ? 2 : 1), `then shows the code for ${k === counterBytes ? 2 : 1}`);
  }
  t.end();
});
