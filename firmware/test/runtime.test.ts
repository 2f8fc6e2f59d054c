// The runtime (runtime.ts) against a tiny fake HAL: effects reach the hardware, hardware
// callbacks come back as events stamped with the RTC, synchronous completions wait their turn,
// and a brown-out drops everything the dead MCU had armed.
import t from 'tap';
import { createOtp } from '@kodeviser/shared';
import { createRuntime, DEFAULT_CONFIG, type FirmwareEvent, type Hal, NVM_SIZE, type TimerName, textFor } from '@kodeviser/firmware';
import { personalisation, RFC_KEY } from './driver.js';

class FakeHal implements Hal {
  now = 1_750_000_000_000_000;
  lcdWrites: string[] = [];
  cycles = 0;
  sleeps = 0;
  memory = new Uint8Array(NVM_SIZE).fill(0xff);
  /** complete NVM writes inside write() (a HAL with no latency) */
  syncNvm = false;
  pendingWrites: { address: number; data: Uint8Array; done: (ok: boolean) => void }[] = [];
  armed = new Map<TimerName, { at: number; expired: () => void }>();
  edge: ((pressed: boolean) => void) | null = null;
  tick: (() => void) | null = null;
  tickPeriod = 0;
  brownOut: (() => void) | null = null;

  battery = {
    onBrownOut: (lost: () => void) => {
      this.brownOut = lost;
    },
  };
  button = {
    onEdge: (edge: (pressed: boolean) => void) => {
      this.edge = edge;
    },
  };
  lcd = {
    write: (segments: readonly number[]) => {
      this.lcdWrites.push(textFor(segments));
    },
  };
  rtc = {
    now: () => this.now,
    onTick: (periodUs: number, tick: () => void) => {
      this.tickPeriod = periodUs;
      this.tick = tick;
    },
  };
  timers = {
    arm: (name: TimerName, at: number, expired: () => void) => {
      this.armed.set(name, { at, expired });
    },
    cancel: (name: TimerName) => {
      this.armed.delete(name);
    },
  };
  nvm = {
    size: NVM_SIZE,
    read: () => this.memory.slice(),
    write: (address: number, data: Uint8Array, done: (ok: boolean) => void) => {
      if (this.syncNvm) {
        this.memory.set(data, address);
        done(true);
      } else {
        this.pendingWrites.push({ address, data, done });
      }
    },
  };
  cpu = {
    run: (cycles: number) => {
      this.cycles += cycles;
    },
    sleep: () => {
      this.sleeps++;
    },
  };

  /** Runs timers and write completions in time order up to now + us (writes take 2 ms). */
  advance(us: number): void {
    const until = this.now + us;
    for (;;) {
      const w = this.pendingWrites[0];
      let next: { at: number; run: () => void } | null = w
        ? {
            at: this.now + 2_000,
            run: () => {
              this.pendingWrites.shift();
              this.memory.set(w.data, w.address);
              w.done(true);
            },
          }
        : null;
      for (const [name, tm] of this.armed) {
        if (next === null || tm.at < next.at)
          next = {
            at: tm.at,
            run: () => {
              this.armed.delete(name);
              tm.expired();
            },
          };
      }
      if (next === null || next.at > until) break;
      this.now = Math.max(this.now, next.at);
      next.run();
    }
    this.now = until;
  }
  press(): void {
    this.edge!(true);
    this.advance(100_000);
    this.edge!(false);
    this.advance(50_000);
  }
}

const makeHal = (): FakeHal => new FakeHal();

function manufactured(profile: 'hotp-sha1' | 'totp-sha1' = 'hotp-sha1') {
  const hal = makeHal();
  const replies: { ok: boolean; reason?: string }[] = [];
  const events: FirmwareEvent[] = [];
  const rt = createRuntime(hal, DEFAULT_CONFIG, undefined, {
    onFactoryReply: (r) => replies.push(r),
    onStep: (e) => events.push(e),
  });
  rt.personalise(personalisation({ profile }));
  hal.advance(20_000);
  rt.seal();
  hal.advance(20_000);
  return { hal, rt, replies, events };
}

t.test('boot: power-on at the RTC time, the glass blanked, the MCU asleep, the tick registered', async (t) => {
  const hal = makeHal();
  const events: FirmwareEvent[] = [];
  const rt = createRuntime(hal, undefined, undefined, { onStep: (e) => events.push(e) });
  t.same(events, [{ type: 'power-on', at: hal.now }]);
  t.same(hal.lcdWrites, ['        ']);
  t.equal(hal.sleeps, 1);
  t.ok(hal.cycles > 0);
  t.equal(hal.tickPeriod, DEFAULT_CONFIG.rtcTickUs);
  t.equal(rt.powered, true);
  t.equal(rt.view().sealed, false);
  t.equal(rt.state.screen, 'off');
});

t.test('factory commands and their replies; a press shows the code on the LCD', async (t) => {
  const { hal, rt, replies } = manufactured();
  t.same(replies, [{ ok: true }, { ok: true }]);
  t.equal(rt.view().sealed, true);
  rt.seal();
  t.same(replies.at(-1), { ok: false, reason: 'sealed: factory commands are refused after sealing' });
  hal.press();
  t.equal(hal.lcdWrites.at(-1), ' 755224 ');
  t.equal(rt.view().lastCode, createOtp({ profile: 'hotp-sha1', key: RFC_KEY }).generate(0));
  hal.advance(30_000_000);
  t.equal(hal.lcdWrites.at(-1), '        ', 'off by the display-off timer');
});

t.test('totp uses the RTC reading of the moment', async (t) => {
  const { hal, rt } = manufactured('totp-sha1');
  hal.now += 3_600e6; // an hour later
  hal.press();
  t.equal(rt.view().lastCode, createOtp({ profile: 'totp-sha1', key: RFC_KEY }).generate(Math.floor(hal.now / 30e6)));
});

t.test('rtc ticks are delivered and persist the usage record', async (t) => {
  const { hal, rt, events } = manufactured();
  hal.now += 86_400e6;
  hal.tick!();
  t.same(events.at(-1), { type: 'rtc-tick', at: hal.now });
  t.equal(rt.view().nvmBusy, true, 'the usage write is under way');
  hal.advance(10_000);
  t.equal(rt.view().nvmBusy, false);
});

t.test('a HAL that completes inside the call: events wait for the step before to finish', async (t) => {
  const hal = makeHal();
  hal.syncNvm = true;
  const replies: { ok: boolean }[] = [];
  const events: string[] = [];
  const rt = createRuntime(hal, DEFAULT_CONFIG, undefined, {
    onFactoryReply: (r) => replies.push(r),
    onStep: (e) => events.push(e.type),
  });
  rt.personalise(personalisation());
  t.same(replies, [{ ok: true }], 'answered without any time passing');
  t.same(events, ['power-on', 'factory-personalise', 'nvm-done', 'nvm-done', 'nvm-done'], 'one event at a time, in order');
  rt.seal();
  hal.press();
  t.equal(rt.view().lastCode, '755224');
});

t.test('a brown-out drops everything armed before it; power-on reboots from the NVM', async (t) => {
  const { hal, rt, events } = manufactured();
  hal.edge!(true);
  hal.advance(100_000);
  hal.edge!(false);
  hal.advance(20_000); // the release is confirmed: MAC and counter write under way
  t.equal(rt.view().screen, 'computing');
  const stale = [...hal.armed.values()];
  const staleWrite = hal.pendingWrites[0]!;
  hal.brownOut!();
  t.equal(rt.powered, false);
  const before = events.length;
  for (const tm of stale) tm.expired();
  staleWrite.done(true);
  hal.edge!(true);
  hal.tick!();
  rt.seal();
  t.equal(events.length, before, 'no event reaches a dead MCU');

  hal.pendingWrites.length = 0;
  hal.armed.clear();
  rt.powerOn();
  t.equal(rt.powered, true);
  t.same(events.at(-1), { type: 'power-on', at: hal.now });
  t.equal(rt.view().movingFactor, 0, 'the counter write never landed: counter 0 again');
  staleWrite.done(true);
  t.equal(events.at(-1)!.type, 'power-on', 'a completion from the last life is dropped');
  hal.edge!(false);
  hal.advance(50_000);
  hal.press();
  t.equal(rt.view().lastCode, '755224', 'code 0, never shown before the cut');
});

t.test('boots from the image it is given', async (t) => {
  const { hal } = manufactured();
  const image = hal.memory.slice();
  const blank = makeHal();
  const rt = createRuntime(blank, DEFAULT_CONFIG, image);
  t.equal(rt.view().sealed, true);
  t.equal(rt.view().serial, personalisation().serial);
});

t.test('a refused command is a reply; a step that throws leaves the runtime usable', async (t) => {
  const hal = makeHal();
  const replies: { ok: boolean; reason?: string }[] = [];
  const rt = createRuntime(hal, DEFAULT_CONFIG, undefined, { onFactoryReply: (r) => replies.push(r) });
  rt.personalise(undefined as never);
  t.match(replies, [{ ok: false, reason: /^data:/ }]);
  const now = hal.now;
  hal.now = Number.NaN; // an RTC gone mad: a malformed event
  t.throws(() => hal.edge!(true), { code: 'ERR_ARGUMENT', message: /event\.at/ });
  hal.now = now;
  hal.press();
  t.equal(rt.view().screen, 'factory', 'the next event is handled');
});
