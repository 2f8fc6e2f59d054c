// The NVM invariant of docs/token.md on the pure core: cut any write of a run of presses after
// any number of bytes k, boot init() from the half-written image, and keep pressing. After every
// cut the stored hotp counter is above the counter of every code ever shown, and no code is ever
// shown twice. (The emulator's property test does the same through the virtual hardware.)
import t from 'tap';
import { createOtp } from '@kodeviser/shared';
import { decodeCounter, readRecord } from '@kodeviser/firmware';
import { CoreDriver, RFC_KEY, sealedToken } from './driver.js';

const otp = createOtp({ profile: 'hotp-sha1', key: RFC_KEY });
const counterOf = new Map(Array.from({ length: 40 }, (_, c) => [otp.generate(c), c]));

t.test('the first 40 codes of the test key are distinct, so a code names its counter', async (t) => {
  t.equal(counterOf.size, 40);
});

const PRESSES_BEFORE = 4;
const PRESSES_AFTER = 3;

/** One run: presses, with write number `cutWrite` cut after `k` bytes; returns what was seen. */
function run(cutWrite: number, k: number) {
  const d = sealedToken();
  let writes = 0;
  let cut = false;
  d.writeOutcome = (w) => {
    if (writes++ === cutWrite) {
      cut = true;
      return { cutAfter: Math.min(k, w.data.length) };
    }
    return 'ok';
  };
  const violations: string[] = [];
  const check = (when: string) => {
    const stored = readRecord(d.nvm, 'counter');
    const storedNext = stored === null ? -1 : decodeCounter(stored.payload);
    const shown = d.codesShown.map((c) => counterOf.get(c) ?? NaN);
    if (shown.some((c) => !(c < storedNext))) violations.push(`${when}: stored ${storedNext}, shown ${shown.join(',')}`);
    if (new Set(d.codesShown).size !== d.codesShown.length) violations.push(`${when}: a code shown twice: ${d.codesShown.join(',')}`);
  };
  for (let i = 0; i < PRESSES_BEFORE + PRESSES_AFTER; i++) {
    d.press();
    check(`press ${i}`);
    if (!d.powered) {
      d.reboot();
      check(`boot after press ${i}`);
      continue;
    }
    d.advance(31_000_000);
    check(`after press ${i}`);
  }
  return { cut, violations, codes: d.codesShown.length, view: d.view() };
}

t.test('a cut at every byte of every write of a run of presses', async (t) => {
  // how many writes a run makes, and their lengths
  const probe = sealedToken();
  const lengths: number[] = [];
  probe.writeOutcome = (w) => {
    lengths.push(w.data.length);
    return 'ok';
  };
  for (let i = 0; i < PRESSES_BEFORE; i++) {
    probe.press();
    probe.advance(31_000_000);
  }
  t.equal(lengths.length, 2 * PRESSES_BEFORE, 'a counter and a usage record per press');

  let runs = 0;
  let violations: string[] = [];
  for (let w = 0; w < lengths.length; w++) {
    for (let k = 0; k <= (lengths[w] as number); k++) {
      const r = run(w, k);
      runs++;
      if (!r.cut) violations.push(`write ${w} was never made`);
      violations = violations.concat(r.violations.map((v) => `write ${w} cut at ${k}: ${v}`));
      // a cut loses at most the press it interrupted
      if (r.codes < PRESSES_BEFORE + PRESSES_AFTER - 1) violations.push(`write ${w} cut at ${k}: only ${r.codes} codes`);
      if (r.view.sealed !== true || r.view.profile !== 'hotp-sha1') violations.push(`write ${w} cut at ${k}: the personalisation was lost`);
    }
  }
  t.same(violations, [], `${runs} cuts, no violation`);
});

t.test('a cut during personalisation or sealing leaves a consistent token', async (t) => {
  for (let w = 0; w < 4; w++) {
    for (const k of [0, 1, 5, 40, 82, 83]) {
      const f = new CoreDriver();
      let writes = 0;
      f.writeOutcome = () => (writes++ === w ? { cutAfter: k } : 'ok');
      f.personalise();
      if (f.powered) f.seal();
      if (!f.powered) f.reboot();
      const v = f.view();
      t.ok(v.profile === null || v.profile === 'hotp-sha1', `write ${w} cut at ${k}: profile ${v.profile}`);
      f.press();
      const shown = f.codesShown;
      t.ok(
        v.sealed ? shown.length === 1 && shown[0] === otp.generate(0) : shown.length === 0,
        `write ${w} cut at ${k}: sealed=${v.sealed}, codes ${shown.join(',')}`,
      );
    }
  }
});
