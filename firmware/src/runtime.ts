/**
 * The one piece of the firmware that touches hardware: it carries out the pure core's effects
 * through the HAL (hal.ts) and turns the HAL's callbacks into events, stamped with the RTC's
 * reading at the moment they arrive (`at = hal.rtc.now()`). Like an MCU's main loop, it handles
 * one event at a time: a callback that arrives while a step's effects are being carried out (a
 * HAL that completes synchronously) waits in a queue.
 *
 * Power: a brown-out stops the firmware; callbacks armed before it (timers, NVM completions) are
 * dropped, as the MCU that armed them is gone. `powerOn()` is the reset: RAM is rebuilt from the
 * NVM (init) and the core gets its power-on event.
 */
import { DEFAULT_CONFIG } from './config.js';
import { type FirmwareState, init, inspect, step } from './core.js';
import type { Hal } from './hal.js';
import type { FirmwareConfig, FirmwareEffect, FirmwareEvent, FirmwareStateView, Personalisation } from './types.js';

type EventAt = (at: number) => FirmwareEvent;

export interface RuntimeOptions {
  /** each event with the effects it produced, after they were carried out (traces, tests) */
  onStep?: (event: FirmwareEvent, effects: readonly FirmwareEffect[], state: FirmwareState) => void;
  /** the answer to personalise() and seal() */
  onFactoryReply?: (reply: { ok: boolean; reason?: string }) => void;
}

export interface FirmwareRuntime {
  readonly state: FirmwareState;
  readonly powered: boolean;
  view(): FirmwareStateView;
  /** the factory programmer's commands; answers come through options.onFactoryReply */
  personalise(data: Personalisation): void;
  seal(): void;
  /** power returns (after a brown-out) or the MCU resets: reboot from the NVM */
  powerOn(): void;
}

/**
 * Boots the firmware on `hal`: from `nvm` if given (an NVM image), else from what the HAL's NVM
 * holds, then delivers power-on. HAL callbacks are registered once, here.
 */
export function createRuntime(
  hal: Hal,
  config: FirmwareConfig = DEFAULT_CONFIG,
  nvm?: Uint8Array,
  options: RuntimeOptions = {},
): FirmwareRuntime {
  let state = init(config, nvm ?? hal.nvm.read());
  let powered = true;
  // bumped at every brown-out and reset: callbacks armed by an earlier life are dropped
  let generation = 0;
  const queue: FirmwareEvent[] = [];
  let running = false;

  const deliver = (make: EventAt): void => {
    if (!powered) return;
    queue.push(make(hal.rtc.now()));
    if (running) return;
    running = true;
    try {
      // a brown-out while effects are carried out stops the loop: the MCU is gone
      for (let event = queue.shift(); event !== undefined && powered; event = queue.shift()) {
        const result = step(state, event);
        state = result.state;
        for (const effect of result.effects) carryOut(effect);
        options.onStep?.(event, result.effects, state);
      }
    } finally {
      running = false;
      queue.length = 0;
    }
  };

  const carryOut = (effect: FirmwareEffect): void => {
    const armedIn = generation;
    const current = (): boolean => armedIn === generation;
    switch (effect.type) {
      case 'lcd':
        return hal.lcd.write(effect.segments);
      case 'nvm-write': {
        const { address } = effect;
        return hal.nvm.write(address, effect.data, (ok) => {
          if (current()) deliver((at) => ({ type: 'nvm-done', at, address, ok }));
        });
      }
      case 'timer-arm': {
        const { timer } = effect;
        return hal.timers.arm(timer, effect.at, () => {
          if (current()) deliver((at) => ({ type: 'timer', at, timer }));
        });
      }
      case 'timer-cancel':
        return hal.timers.cancel(effect.timer);
      case 'cpu':
        return hal.cpu.run(effect.cycles, effect.what);
      case 'sleep':
        return hal.cpu.sleep();
      case 'factory-reply':
        return options.onFactoryReply?.(effect.reason === undefined ? { ok: effect.ok } : { ok: effect.ok, reason: effect.reason });
    }
  };

  hal.button.onEdge((pressed) => deliver((at) => ({ type: 'button', at, pressed })));
  hal.rtc.onTick(config.rtcTickUs, () => deliver((at) => ({ type: 'rtc-tick', at })));
  hal.battery.onBrownOut(() => {
    powered = false;
    generation++;
  });

  const boot = (): void => {
    deliver((at) => ({ type: 'power-on', at }));
  };
  boot();

  return {
    get state() {
      return state;
    },
    get powered() {
      return powered;
    },
    view: () => inspect(state),
    personalise: (data) => deliver((at) => ({ type: 'factory-personalise', at, data })),
    seal: () => deliver((at) => ({ type: 'factory-seal', at })),
    powerOn() {
      generation++;
      state = init(config, hal.nvm.read());
      powered = true;
      boot();
    },
  };
}
