/**
 * The firmware's one effect loop, as an MCU's main loop runs it: events in, one at a time, each
 * stamped with the RTC's reading as it arrives (`at = hal.rtc.now()`), through the pure core
 * (`step`), and the effects out through the HAL (hal.ts). An event that arrives while a step's
 * effects are being carried out (a HAL that completes inside the call) waits in a queue.
 *
 * Like avr8js's CPU it is passive: the board around it calls `send` when a line changes, the RTC
 * ticks, a timer expires or an NVM write completes. The HAL takes no callbacks, so everything
 * the firmware waits for is data (`pending()`): the timers armed and the write in flight, which a
 * board can write down in a snapshot and hand back to `restore`.
 *
 * Power: `powerLost()` stops the MCU (effects not yet carried out are dropped) and forgets what it
 * waited for, so a timer or write completion from before it is ignored; `powerOn()` is the reset:
 * RAM rebuilt from the NVM (init) and a power-on event.
 */
import { DEFAULT_CONFIG } from './config.js';
import { type FirmwareState, init, inspect, step } from './core.js';
import type { Hal } from './hal.js';
import type { DeviceMicros, FirmwareConfig, FirmwareEffect, FirmwareEvent, FirmwareStateView, TimerName } from './types.js';

type Payload<E> = E extends FirmwareEvent ? Omit<E, 'at'> : never;
/** An event as the hardware reports it; the runtime stamps `at`. */
export type EventPayload = Payload<FirmwareEvent>;

/** What the firmware waits for: the timers it armed (device time) and the NVM write in flight. */
export interface RuntimePending {
  readonly timers: readonly { readonly timer: TimerName; readonly at: DeviceMicros }[];
  readonly nvmWrite: { readonly address: number } | null;
}

export interface RuntimeOptions {
  /** how the MCU starts: a reset from the HAL's NVM (default), without power, or waking with this RAM */
  start?: 'reset' | 'off' | { state: FirmwareState; pending?: RuntimePending };
  /** before each event is stepped (traces) */
  onEvent?: (event: FirmwareEvent) => void;
  /** before each effect is carried out (traces) */
  onEffect?: (effect: FirmwareEffect) => void;
  /** each event with the effects it produced, after they were carried out */
  onStep?: (event: FirmwareEvent, effects: readonly FirmwareEffect[], state: FirmwareState) => void;
  /** the answer to a factory command */
  onFactoryReply?: (reply: { ok: boolean; reason?: string }) => void;
}

export interface FirmwareRuntime {
  /** the RAM; null without power */
  readonly state: FirmwareState | null;
  readonly powered: boolean;
  /** the firmware's view of itself (what a boot would find in the NVM while there is no power) */
  view(): FirmwareStateView;
  pending(): RuntimePending;
  /** an event from the hardware; dropped without power, and for a timer or write not pending */
  send(payload: EventPayload): void;
  /** power returns, or the MCU resets: RAM from the NVM, then power-on */
  powerOn(): void;
  /** the supply fell below brown-out: the MCU stops and forgets everything in RAM */
  powerLost(): void;
  /** powered, with this RAM and these waits (a snapshot restored, or a wake from deep sleep) */
  restore(state: FirmwareState, pending?: RuntimePending): void;
}

/**
 * The event a payload becomes at `at`, built field by field: a spread copy cost a tenth of a
 * lifetime simulation. Anything else is copied as it is, for step to refuse.
 */
function stamped(p: EventPayload, at: DeviceMicros): FirmwareEvent {
  switch (p.type) {
    case 'button':
      return { type: 'button', at, pressed: p.pressed };
    case 'timer':
      return { type: 'timer', at, timer: p.timer };
    case 'nvm-done':
      return { type: 'nvm-done', at, address: p.address, ok: p.ok };
    case 'rtc-tick':
    case 'power-on':
    case 'factory-seal':
      return { type: p.type, at };
    default:
      return { ...p, at } as FirmwareEvent;
  }
}

export function createRuntime(hal: Hal, config: FirmwareConfig = DEFAULT_CONFIG, options: RuntimeOptions = {}): FirmwareRuntime {
  let state: FirmwareState | null = null;
  const timers = new Map<TimerName, DeviceMicros>();
  let nvmWrite: number | null = null;
  const queue: FirmwareEvent[] = [];
  let running = false;

  /** Whether an event is one the MCU is waiting for; a timer or write it is not waiting for is stale. */
  const expected = (event: FirmwareEvent): boolean => {
    if (event.type === 'timer') return timers.delete(event.timer);
    if (event.type === 'nvm-done') {
      if (nvmWrite !== event.address) return false;
      nvmWrite = null;
    }
    return true;
  };

  const carryOut = (effect: FirmwareEffect): void => {
    switch (effect.type) {
      case 'lcd':
        return hal.lcd.write(effect.segments);
      case 'nvm-write':
        nvmWrite = effect.address;
        return hal.nvm.write(effect.address, effect.data);
      case 'timer-arm':
        timers.set(effect.timer, effect.at);
        return hal.timers.arm(effect.timer, effect.at);
      case 'timer-cancel':
        timers.delete(effect.timer);
        return hal.timers.cancel(effect.timer);
      case 'cpu':
        return hal.cpu.run(effect.cycles, effect.what);
      case 'sleep':
        return hal.cpu.sleep();
      case 'factory-reply':
        return options.onFactoryReply?.(effect.reason === undefined ? { ok: effect.ok } : { ok: effect.ok, reason: effect.reason });
    }
  };

  const deliver = (event: FirmwareEvent): void => {
    if (running) {
      queue.push(event);
      return;
    }
    running = true;
    try {
      for (let next: FirmwareEvent | undefined = event; next !== undefined && state !== null; next = queue.shift()) {
        if (!expected(next)) continue;
        options.onEvent?.(next);
        const result = step(state, next);
        state = result.state;
        for (const effect of result.effects) {
          if (state === null) break; // a brown-out while carrying out: the MCU is gone
          options.onEffect?.(effect);
          carryOut(effect);
        }
        if (state !== null) options.onStep?.(next, result.effects, state);
      }
    } finally {
      running = false;
      queue.length = 0;
    }
  };

  const forget = (): void => {
    timers.clear();
    nvmWrite = null;
    queue.length = 0;
  };

  const runtime: FirmwareRuntime = {
    get state() {
      return state;
    },
    get powered() {
      return state !== null;
    },
    view: () => inspect(state ?? init(config, hal.nvm.read())),
    pending: () => ({
      timers: [...timers].map(([timer, at]) => ({ timer, at })),
      nvmWrite: nvmWrite === null ? null : { address: nvmWrite },
    }),
    send(payload) {
      if (state === null) return;
      deliver(stamped(payload, hal.rtc.now()));
    },
    powerOn() {
      forget();
      state = init(config, hal.nvm.read());
      deliver({ type: 'power-on', at: hal.rtc.now() });
    },
    powerLost() {
      state = null;
      forget();
    },
    restore(ram, pending = { timers: [], nvmWrite: null }) {
      forget();
      state = ram;
      for (const { timer, at } of pending.timers) timers.set(timer, at);
      nvmWrite = pending.nvmWrite?.address ?? null;
    },
  };

  const start = options.start ?? 'reset';
  if (start === 'reset') runtime.powerOn();
  else if (start !== 'off') runtime.restore(start.state, start.pending);
  return runtime;
}
