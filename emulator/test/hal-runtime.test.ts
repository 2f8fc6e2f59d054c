/**
 * The virtual hardware wired by hand to the firmware's effect loop (createRuntime), as the
 * Machine wires it: personalises, seals and shows RFC 4226 codes, and the cell pays for it.
 */
import t from 'tap';
import { DEFAULT_CONFIG, NVM_SIZE, createRuntime, textFor, type EventPayload, type FirmwareRuntime, type Hal } from '@kodeviser/firmware';
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
  let rt: FirmwareRuntime | null = null;
  const send = (payload: EventPayload): void => rt?.send(payload);
  const hal: Hal = {
    lcd,
    rtc,
    timers: { arm: (timer, at) => rtc.arm(timer, at, () => send({ type: 'timer', timer })), cancel: (timer) => rtc.cancel(timer) },
    nvm: { read: () => nvm.read(), write: (address, data) => nvm.write(address, data, (ok) => send({ type: 'nvm-done', address, ok })) },
    cpu,
  };
  button.onEdge((pressed) => send({ type: 'button', pressed }));
  rtc.onTick(DEFAULT_CONFIG.rtcTickUs, () => send({ type: 'rtc-tick' }));
  const replies: boolean[] = [];
  rt = createRuntime(hal, DEFAULT_CONFIG, { onFactoryReply: (r) => replies.push(r.ok) });
  rt.send({
    type: 'factory-personalise',
    data: {
      profile: 'hotp-sha1',
      key: new TextEncoder().encode('12345678901234567890'),
      serial: '1234567897',
      digits: 6,
      step: 30,
      counter: 0,
    },
  });
  scheduler.runUntil(scheduler.now + 1e6);
  rt.send({ type: 'factory-seal' });
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
