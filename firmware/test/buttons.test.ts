// Button handling and screens on the pure core (docs/token.md, "Button and screens"):
// debounce with bounces, short press, press-to-turn-off, auto-off, long press into the menu,
// menu items and timeout, and purity of step().
import t from 'tap';
import { createOtp, formatSerial } from '@kodeviser/shared';
import { DEFAULT_CONFIG, init, MENU_ITEMS, NVM_SIZE, step, textFor } from '@kodeviser/firmware';
import { CoreDriver, deepFreeze, RFC_KEY, SERIAL, sealedToken } from './driver.js';

const hotp = createOtp({ profile: 'hotp-sha1', key: RFC_KEY });

t.test('a clean short press wakes the token and shows the code in characters 1-6', async (t) => {
  const d = sealedToken();
  t.equal(d.lcd(), '        ');
  d.press();
  t.equal(d.view().screen, 'code');
  t.equal(d.lcd(), ` ${hotp.generate(0)} `);
  t.equal(d.view().lastCode, '755224', 'RFC 4226 Appendix D, count 0');
  t.equal(d.view().codesShown, 1);
});

t.test('the code waits for the MAC: it appears at compute-done, not at the release', async (t) => {
  const d = sealedToken();
  d.down();
  d.advance(100_000);
  d.up();
  d.advance(d.config.debounceMs * 1000); // the release is confirmed, the MAC starts
  t.equal(d.view().screen, 'computing');
  t.ok(d.timers.has('compute-done'));
  t.equal(d.lcd(), '        ');
  d.advance(10_000);
  t.equal(d.view().screen, 'code');
});

t.test('bounces shorter than the debounce time never count', async (t) => {
  const d = sealedToken();
  // a glitch: 19 ms down, then up for good
  d.down();
  d.advance(19_000);
  d.up();
  d.advance(1_000_000);
  t.equal(d.view().screen, 'off', 'a 19 ms glitch is no press');
  t.equal(d.view().codesShown, 0);
  t.notOk(d.view().buttonDown);

  // a real press with contact bounce on both edges: 5 edges 1-3 ms apart, then stable
  const bounce = (final: boolean) => {
    for (let i = 0; i < 5; i++) {
      d.send({ type: 'button', pressed: i % 2 === 0 ? final : !final });
      d.advance(1_000 + i * 500);
    }
    if (!final === d.state.button.raw) d.send({ type: 'button', pressed: final });
  };
  bounce(true);
  d.advance(100_000);
  t.ok(d.view().buttonDown, 'the debounced level is down');
  bounce(false);
  d.advance(50_000);
  t.equal(d.view().codesShown, 1, 'one press, one code, despite ten edges');
  t.equal(d.view().lastCode, hotp.generate(0));
  // a repeated level is no edge
  const before = d.state;
  d.up();
  t.equal(d.state.button, before.button);
});

t.test('a press while a code is shown turns the display off at once', async (t) => {
  const d = sealedToken();
  d.press();
  t.equal(d.view().screen, 'code');
  d.press();
  t.equal(d.view().screen, 'off');
  t.equal(d.lcd(), '        ');
  t.notOk(d.timers.has('display-off'), 'the auto-off timer is cancelled');
  t.equal(d.view().codesShown, 1, 'turning off showed no code');
  d.press();
  t.equal(d.view().lastCode, hotp.generate(1), 'the next press is the next counter');
});

t.test('the code goes off by itself after displayOnMs', async (t) => {
  const d = sealedToken();
  d.press();
  d.advance(29_000_000);
  t.equal(d.view().screen, 'code', 'still up after 29 s');
  d.advance(1_000_000);
  t.equal(d.view().screen, 'off', 'off at 30 s');
  t.equal(d.view().lastCode, null);
  const last = d.log.at(-1)!;
  t.same(last.effects.at(-1), { type: 'sleep' }, 'and the MCU sleeps');
});

t.test('a press during the computation is ignored', async (t) => {
  const slow = new CoreDriver({ nvmWriteUs: 200_000 });
  slow.personalise();
  slow.seal();
  slow.down();
  slow.advance(60_000);
  slow.up();
  slow.advance(21_000);
  t.equal(slow.view().screen, 'computing', 'waiting for a slow counter write');
  slow.down();
  slow.advance(60_000);
  slow.up();
  slow.advance(21_000);
  t.equal(slow.view().screen, 'computing', 'the second press changed nothing');
  slow.advance(200_000);
  t.equal(slow.view().screen, 'code');
  t.same(slow.codesShown, [hotp.generate(0)]);
});

t.test('long press: the information menu, item by item, and out by timeout', async (t) => {
  const d = sealedToken('hotp-sha1', { counter: 41 });
  d.down();
  d.advance(5_900_000);
  t.equal(d.view().screen, 'off', 'not yet at 5.9 s');
  d.advance(200_000);
  t.equal(d.view().screen, 'menu', 'the menu at 6 s, while still held');
  t.equal(d.view().menuItem, 0);
  t.equal(d.lcd(), '      41', 'item 0: the hotp event counter');
  d.up();
  d.advance(50_000);
  t.equal(d.view().menuItem, 0, 'releasing the long press is no short press');
  t.equal(d.view().codesShown, 0, 'and no code was shown');

  const seen: string[] = [d.lcd()];
  for (let i = 1; i < MENU_ITEMS.length + 1; i++) {
    d.press();
    t.equal(d.view().menuItem, i % MENU_ITEMS.length);
    seen.push(d.lcd());
  }
  const printed = formatSerial(SERIAL); // 12-3456789-7
  t.same(
    seen,
    ['      41', 'bAt  100', printed.slice(0, 8), `    ${printed.slice(8)}`, 'F    1.0.0', '      41'],
    'counter, battery, serial in two screens, version, then round again',
  );

  d.advance(29_000_000);
  t.equal(d.view().screen, 'menu', 'each press restarts the timeout');
  d.advance(1_100_000);
  t.equal(d.view().screen, 'off', 'left by timeout');
  t.equal(d.lcd(), '        ');
});

t.test('the totp menu shows the current time step', async (t) => {
  const d = sealedToken('totp-sha1', { step: 60 });
  d.down();
  d.advance(6_100_000);
  t.equal(d.view().screen, 'menu');
  t.equal(d.lcd().trim(), String(Math.floor(Math.floor(d.now / 1e6) / 60) % 1e8));
});

t.test('a long press abandons a code on its way; its counter write still lands', async (t) => {
  const d = new CoreDriver({ nvmWriteUs: 8_000_000 });
  d.personalise();
  d.seal();
  d.press(); // release at ~120 ms: computing, the counter write takes 8 s
  t.equal(d.view().screen, 'computing');
  d.down();
  d.advance(6_100_000);
  t.equal(d.view().screen, 'menu');
  d.advance(3_000_000);
  t.equal(d.view().movingFactor, 1, 'the write of counter 1 completed');
  t.equal(d.view().screen, 'menu', 'and showed nothing');
  t.same(d.codesShown, []);
  d.up();
  d.advance(31_000_000);
  d.press();
  d.advance(8_100_000); // the slow counter write
  t.same(d.codesShown, [hotp.generate(1)], 'code 0 is skipped, never shown');
});

t.test('step() is pure: the input state is never modified', async (t) => {
  const d = sealedToken();
  const frozen = deepFreeze(d.state);
  const before = JSON.stringify(frozen);
  const events = [
    { type: 'button', at: d.now + 1, pressed: true },
    { type: 'timer', at: d.now + 30_000, timer: 'debounce' },
    { type: 'rtc-tick', at: d.now + 40_000 },
    { type: 'power-on', at: d.now + 50_000 },
  ] as const;
  for (const e of events) {
    const r = step(frozen, e);
    t.not(r.state, frozen);
  }
  t.equal(JSON.stringify(frozen), before);
  const again = step(frozen, events[0]);
  t.same(step(frozen, events[0]), again, 'deterministic: same input, same output');
});

t.test('malformed calls throw coded errors; device conditions do not', async (t) => {
  const s = init(DEFAULT_CONFIG, new Uint8Array(NVM_SIZE));
  t.throws(() => step(s, { type: 'rtc-tick', at: Number.NaN }), { code: 'ERR_ARGUMENT', message: /event\.at/ });
  t.throws(() => step(s, null as never), { code: 'ERR_ARGUMENT', message: /event/ });
  t.throws(() => step(s, { type: 'reboot', at: 1 } as never), { code: 'ERR_ARGUMENT', message: /event\.type/ });
  t.throws(() => init({ ...DEFAULT_CONFIG, cpuHz: 0 }, new Uint8Array(NVM_SIZE)), { code: 'ERR_ARGUMENT', message: /config\.cpuHz/ });
  t.throws(() => init({ ...DEFAULT_CONFIG, sleepCurrentNa: -1 }, new Uint8Array(NVM_SIZE)), {
    message: /config\.sleepCurrentNa must be a non-negative/,
  });
  t.throws(() => init({ ...DEFAULT_CONFIG, firmwareVersion: 'v1.0.0-beta' }, new Uint8Array(NVM_SIZE)), {
    message: /config\.firmwareVersion/,
  });
  t.throws(() => init(null as never, new Uint8Array(NVM_SIZE)), { message: /config must be an object/ });
  t.throws(() => init(DEFAULT_CONFIG, [] as never), { message: /nvmImage/ });
  // an event arriving before power-on starts the account at its own time
  const r = step(s, { type: 'rtc-tick', at: 5 });
  t.equal(r.state.accountedAt, 5);
  t.equal(textFor(r.state.lcd), '        ');
});
