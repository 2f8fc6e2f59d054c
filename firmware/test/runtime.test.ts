// The effect loop (runtime.ts) against a tiny fake board: effects reach the hardware, what the
// hardware reports comes back as events stamped with the RTC, synchronous completions wait their
// turn, what the firmware waits for is data, and a brown-out drops everything armed before it.
import t from 'tap';
import { createOtp } from '@kodeviser/shared';
import {
  createRuntime,
  DEFAULT_CONFIG,
  type FirmwareEvent,
  type FirmwareRuntime,
  type Hal,
  init,
  NVM_SIZE,
  type TimerName,
  textFor,
} from '@kodeviser/firmware';
import { personalisation, RFC_KEY } from './driver.js';

/** The HAL and the board around it: it reports line changes, ticks, expiries and write ends to `rt`. */
class FakeBoard implements Hal {
  now = 1_750_000_000_000_000;
  rt: FirmwareRuntime | null = null;
  lcdWrites: string[] = [];
  cycles = 0;
  sleeps = 0;
  memory = new Uint8Array(NVM_SIZE).fill(0xff);
  /** complete NVM writes inside write() (a HAL with no latency) */
  syncNvm = false;
  pendingWrites: { address: number; data: Uint8Array }[] = [];
  armed = new Map<TimerName, number>();

  lcd = {
    write: (segments: readonly number[]) => {
      this.lcdWrites.push(textFor(segments));
    },
  };
  rtc = { now: () => this.now };
  timers = {
    arm: (name: TimerName, at: number) => {
      this.armed.set(name, at);
    },
    cancel: (name: TimerName) => {
      this.armed.delete(name);
    },
  };
  nvm = {
    read: () => this.memory.slice(),
    write: (address: number, data: Uint8Array) => {
      if (this.syncNvm) {
        this.memory.set(data, address);
        this.rt?.send({ type: 'nvm-done', address, ok: true });
      } else {
        this.pendingWrites.push({ address, data });
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

  edge(pressed: boolean): void {
    this.rt?.send({ type: 'button', pressed });
  }
  tick(): void {
    this.rt?.send({ type: 'rtc-tick' });
  }
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
              this.rt?.send({ type: 'nvm-done', address: w.address, ok: true });
            },
          }
        : null;
      for (const [timer, at] of this.armed) {
        if (next === null || at < next.at)
          next = {
            at,
            run: () => {
              this.armed.delete(timer);
              this.rt?.send({ type: 'timer', timer });
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
    this.edge(true);
    this.advance(100_000);
    this.edge(false);
    this.advance(50_000);
  }
}

function boot(board: FakeBoard, options: Parameters<typeof createRuntime>[2] = {}): FirmwareRuntime {
  board.rt = createRuntime(board, DEFAULT_CONFIG, options);
  return board.rt;
}

function manufactured(profile: 'hotp-sha1' | 'totp-sha1' = 'hotp-sha1') {
  const board = new FakeBoard();
  const replies: { ok: boolean; reason?: string }[] = [];
  const events: FirmwareEvent[] = [];
  const rt = boot(board, { onFactoryReply: (r) => replies.push(r), onStep: (e) => events.push(e) });
  rt.send({ type: 'factory-personalise', data: personalisation({ profile }) });
  board.advance(20_000);
  rt.send({ type: 'factory-seal' });
  board.advance(20_000);
  return { board, rt, replies, events };
}

t.test('boot: power-on at the RTC time, the glass blanked, the MCU asleep', async (t) => {
  const board = new FakeBoard();
  const events: FirmwareEvent[] = [];
  const rt = boot(board, { onStep: (e) => events.push(e) });
  t.same(events, [{ type: 'power-on', at: board.now }]);
  t.same(board.lcdWrites, ['        ']);
  t.equal(board.sleeps, 1);
  t.ok(board.cycles > 0);
  t.equal(rt.powered, true);
  t.equal(rt.view().sealed, false);
  t.equal(rt.state?.screen, 'off');
});

t.test('factory commands and their replies; a press shows the code on the LCD', async (t) => {
  const { board, rt, replies } = manufactured();
  t.same(replies, [{ ok: true }, { ok: true }]);
  t.equal(rt.view().sealed, true);
  rt.send({ type: 'factory-seal' });
  t.same(replies.at(-1), { ok: false, reason: 'sealed: factory commands are refused after sealing' });
  board.press();
  t.equal(board.lcdWrites.at(-1), ' 755224 ');
  t.equal(rt.view().lastCode, createOtp({ profile: 'hotp-sha1', key: RFC_KEY }).generate(0));
  board.advance(30_000_000);
  t.equal(board.lcdWrites.at(-1), '        ', 'off by the display-off timer');
});

t.test('totp uses the RTC reading of the moment', async (t) => {
  const { board, rt } = manufactured('totp-sha1');
  board.now += 3_600e6; // an hour later
  board.press();
  t.equal(rt.view().lastCode, createOtp({ profile: 'totp-sha1', key: RFC_KEY }).generate(Math.floor(board.now / 30e6)));
});

t.test('rtc ticks are delivered and persist the usage record', async (t) => {
  const { board, rt, events } = manufactured();
  board.now += 86_400e6;
  board.tick();
  t.same(events.at(-1), { type: 'rtc-tick', at: board.now });
  t.equal(rt.view().nvmBusy, true, 'the usage write is under way');
  board.advance(10_000);
  t.equal(rt.view().nvmBusy, false);
});

t.test('what the firmware waits for is data: the timers it armed and the write in flight', async (t) => {
  const { board, rt } = manufactured();
  t.same(rt.pending(), { timers: [], nvmWrite: null }, 'asleep: nothing');
  board.edge(true);
  board.advance(100_000);
  board.edge(false);
  board.advance(20_000); // the release is confirmed: MAC and counter write under way
  const pending = rt.pending();
  t.same(new Map(pending.timers.map((p) => [p.timer, p.at])), board.armed, 'the timers are the ones the board holds');
  t.same(pending.nvmWrite, { address: board.pendingWrites[0]!.address });
  t.same(JSON.parse(JSON.stringify(pending)), pending, 'plain data');

  // A second runtime given the same RAM and waits goes on exactly as the first.
  const twin = new FakeBoard();
  Object.assign(twin, {
    now: board.now,
    memory: board.memory.slice(),
    pendingWrites: [...board.pendingWrites],
    armed: new Map(board.armed),
  });
  const copy = boot(twin, { start: { state: JSON.parse(JSON.stringify(rt.state)), pending } });
  board.advance(40_000_000);
  twin.advance(40_000_000);
  t.same(twin.lcdWrites, board.lcdWrites.slice(-twin.lcdWrites.length), 'the same glass');
  t.equal(copy.view().codesShown, rt.view().codesShown);
  t.same(twin.memory, board.memory, 'the same NVM');
});

t.test('a HAL that completes inside the call: events wait for the step before to finish', async (t) => {
  const board = new FakeBoard();
  board.syncNvm = true;
  const replies: { ok: boolean }[] = [];
  const events: string[] = [];
  const rt = boot(board, { onFactoryReply: (r) => replies.push(r), onStep: (e) => events.push(e.type) });
  rt.send({ type: 'factory-personalise', data: personalisation() });
  t.same(replies, [{ ok: true }], 'answered without any time passing');
  t.same(events, ['power-on', 'factory-personalise', 'nvm-done', 'nvm-done', 'nvm-done'], 'one event at a time, in order');
  rt.send({ type: 'factory-seal' });
  board.press();
  t.equal(rt.view().lastCode, '755224');
});

t.test('a brown-out drops everything armed before it; power-on reboots from the NVM', async (t) => {
  const { board, rt, events } = manufactured();
  board.edge(true);
  board.advance(100_000);
  board.edge(false);
  board.advance(20_000); // the release is confirmed: MAC and counter write under way
  t.equal(rt.view().screen, 'computing');
  const stale = [...board.armed.keys()];
  const staleWrite = board.pendingWrites[0]!;
  rt.powerLost();
  t.equal(rt.powered, false);
  t.same(rt.pending(), { timers: [], nvmWrite: null }, 'a dead MCU waits for nothing');
  const before = events.length;
  for (const timer of stale) rt.send({ type: 'timer', timer });
  rt.send({ type: 'nvm-done', address: staleWrite.address, ok: true });
  board.edge(true);
  board.tick();
  rt.send({ type: 'factory-seal' });
  t.equal(events.length, before, 'no event reaches a dead MCU');

  board.pendingWrites.length = 0;
  board.armed.clear();
  rt.powerOn();
  t.equal(rt.powered, true);
  t.same(events.at(-1), { type: 'power-on', at: board.now });
  t.equal(rt.view().movingFactor, 0, 'the counter write never landed: counter 0 again');
  rt.send({ type: 'nvm-done', address: staleWrite.address, ok: true });
  for (const timer of stale) rt.send({ type: 'timer', timer });
  t.equal(events.at(-1)!.type, 'power-on', 'completions and expiries from the last life are dropped');
  board.edge(false);
  board.advance(50_000);
  board.press();
  t.equal(rt.view().lastCode, '755224', 'code 0, never shown before the cut');
});

t.test('starts from the NVM it finds, without power, or with the RAM it is given', async (t) => {
  const { board } = manufactured();
  const fresh = new FakeBoard();
  fresh.memory = board.memory.slice();
  const rt = boot(fresh);
  t.equal(rt.view().sealed, true);
  t.equal(rt.view().serial, personalisation().serial);

  const off = boot(new FakeBoard(), { start: 'off' });
  t.equal(off.powered, false);
  t.equal(off.state, null);
  t.equal(off.view().sealed, false, 'the view without power: what a boot would find');

  const awake = boot(new FakeBoard(), { start: { state: init(DEFAULT_CONFIG, board.memory) } });
  t.equal(awake.powered, true);
  t.equal(awake.view().sealed, true, 'woken with RAM built from that NVM, no power-on event');
});

t.test('a refused command is a reply; a step that throws leaves the runtime usable', async (t) => {
  const board = new FakeBoard();
  const replies: { ok: boolean; reason?: string }[] = [];
  const rt = boot(board, { onFactoryReply: (r) => replies.push(r) });
  rt.send({ type: 'factory-personalise', data: undefined as never });
  t.match(replies, [{ ok: false, reason: /^data:/ }]);
  const now = board.now;
  board.now = Number.NaN; // an RTC gone mad: a malformed event
  t.throws(() => board.edge(true), { code: 'ERR_ARGUMENT', message: /event\.at/ });
  board.now = now;
  board.press();
  t.equal(rt.view().screen, 'factory', 'the next event is handled');
});
