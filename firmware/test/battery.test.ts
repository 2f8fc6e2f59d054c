// The battery-life counter (core.ts accountUntil, config.ts): what each activity costs, that it
// is persisted on every press and RTC tick, and the screens it drives: `b` when low, `bAtt` and
// no code when spent.
import t from 'tap';
import { DEFAULT_CONFIG, decodeUsage, HANDLER_CYCLES, readRecord, TEXT_BATTERY_EMPTY, YEAR_US } from '@kodeviser/firmware';
import { sealedToken } from './driver.js';

const DAY_US = 86_400e6;
const c = DEFAULT_CONFIG;
const selfPerUs = (c.capacityNc * c.selfDischargePerYear) / YEAR_US;
const handlerNc = (HANDLER_CYCLES / c.cpuHz) * c.activeCurrentNa;

t.test('a day asleep costs standby current plus self-discharge, and one handler run', async (t) => {
  const d = sealedToken('totp-sha1', { ticks: true });
  const spent0 = d.state.spentNc;
  const from = d.state.accountedAt!;
  const nextTick = d.nextTick!;
  d.advance(nextTick - d.now); // exactly the tick
  const dt = nextTick - from;
  const writeNc = 33 * c.nvmWriteNcPerByte + ((33 * 20) / c.cpuHz) * c.activeCurrentNa; // the usage record
  t.equal(Math.round(d.state.spentNc - spent0), Math.round(dt * (c.sleepCurrentNa / 1e6 + selfPerUs) + handlerNc + writeNc));
});

t.test('the LCD costs its current for exactly as long as it is lit', async (t) => {
  // the counter is brought up to date at each event, so each run ends with one at the same time
  const run = (offAfterUs: number | null) => {
    const d = sealedToken('totp-sha1');
    d.press();
    const lit0 = d.state.spentNc;
    const shownAt = d.now;
    if (offAfterUs !== null) {
      d.advance(offAfterUs);
      d.press(); // off at once
    }
    d.advance(shownAt + 40e6 - d.now);
    d.send({ type: 'rtc-tick' });
    return d.state.spentNc - lit0;
  };
  const full = run(null); // 30 s lit
  const short = run(5e6 - 70_000); // lit until the release is confirmed, 5 s after the code
  const litDifference = full - short;
  // 25 s more of display current, give or take the press's own handler runs
  t.ok(Math.abs(litDifference - 25 * c.displayCurrentNa) < 0.01 * 25 * c.displayCurrentNa, `${litDifference.toFixed(0)} nC`);
});

t.test('a press persists the counter, on a tick too', async (t) => {
  const d = sealedToken('hotp-sha1', { ticks: true });
  d.press();
  const stored = decodeUsage(readRecord(d.nvm, 'usage')!.payload);
  t.equal(stored.codesShown, 1);
  t.ok(stored.spentNc > 0 && Math.abs(stored.spentNc - d.state.spentNc) < 1000, 'the stored charge is the RAM charge at the press');
  d.advance(DAY_US);
  const after = decodeUsage(readRecord(d.nvm, 'usage')!.payload);
  t.ok(after.spentNc > stored.spentNc + 0.99 * c.sleepCurrentNa * 86_400, 'a day later the tick stored a day more');
  t.ok(after.accountedAt > stored.accountedAt);
});

t.test('a reboot charges the time since the stored account', async (t) => {
  const d = sealedToken('hotp-sha1');
  d.press();
  const stored = decodeUsage(readRecord(d.nvm, 'usage')!.payload);
  d.now += 10 * DAY_US; // ten days without power-on events, e.g. a long reset
  d.reboot();
  const expected = stored.spentNc + (d.now - stored.accountedAt) * (c.sleepCurrentNa / 1e6 + selfPerUs);
  t.ok(Math.abs(d.state.spentNc - expected) < 2 * handlerNc, 'the gap is charged as standby');
});

t.test('low battery: b in character 0; empty: bAtt and no code', async (t) => {
  const d = sealedToken('hotp-sha1');
  // jump the counter to just above the low threshold (percent rounds up: 10 % shows while more
  // than 9 % is left), then let standby carry it below
  const perDay = c.sleepCurrentNa * 86_400 + selfPerUs * DAY_US;
  d.state = { ...d.state, spentNc: c.capacityNc * (1 - (c.lowBatteryPercent - 1) / 100) - 2 * perDay };
  d.press();
  t.equal(d.view().batteryPercent, 10);
  t.equal(d.view().lowBattery, false);
  t.equal(d.lcd()[0], ' ');
  d.press();
  d.advance(3 * DAY_US);
  d.press();
  t.equal(d.view().batteryPercent, 9);
  t.ok(d.view().lowBattery);
  t.equal(d.lcd()[0], 'b', 'b before the code');
  t.equal(d.lcd().slice(1, 7), d.view().lastCode);
  d.press();
  d.state = { ...d.state, spentNc: c.capacityNc - perDay };
  d.press();
  t.equal(d.view().batteryPercent, 1, 'the last percent still shows codes');
  t.equal(d.view().screen, 'code');
  d.press();
  d.advance(2 * DAY_US);
  const shown = d.codesShown.length;
  d.press();
  t.equal(d.view().batteryPercent, 0);
  t.equal(d.view().screen, 'battery-empty');
  t.equal(d.lcd().trimEnd(), TEXT_BATTERY_EMPTY);
  t.equal(d.codesShown.length, shown, 'no code');
  t.equal(d.view().movingFactor, shown, 'and the counter did not move');
  d.advance(30e6);
  t.equal(d.view().screen, 'off', 'bAtt goes off like a code');
  d.down();
  d.advance(6.1e6);
  d.up();
  d.advance(50_000);
  d.press();
  t.equal(d.lcd(), 'bAt    0', 'the menu still tells why');
});
