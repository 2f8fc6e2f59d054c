// A firmware state is plain data: it survives a JSON round trip (the browser lab keeps devices in
// storage), and a device whose state went through JSON before every event behaves exactly as one
// whose state never left memory: the same effects, the same states, the same codes.
import t from 'tap';
import { profileInfo, PROFILES } from '@kodeviser/shared';
import type { FirmwareState } from '@kodeviser/firmware';
import { type CoreDriver, sealedToken } from './driver.js';

const viaJson = (state: FirmwareState): FirmwareState => JSON.parse(JSON.stringify(state)) as FirmwareState;

/** Presses, a long press into the menu and through it, a failed write, a cut write and a reboot. */
function scenario(d: CoreDriver): void {
  d.press();
  d.advance(31_000_000);
  d.press();
  d.down();
  d.advance(7_000_000); // held past longPressMs: the information menu
  d.up();
  d.press();
  d.advance(40_000_000);
  d.writeOutcome = () => 'fail';
  d.press();
  d.advance(31_000_000);
  d.writeOutcome = () => ({ cutAfter: 3 });
  d.press();
  d.writeOutcome = () => 'ok';
  d.reboot();
  d.press();
  d.advance(3_600_000_000);
  d.press();
}

for (const profile of PROFILES) {
  t.test(`${profile}: stepping a state read back from JSON goes on identically`, async (t) => {
    const key = Uint8Array.from({ length: profileInfo(profile).keyBytes }, (_, i) => i * 29 + 3);
    const inMemory = sealedToken(profile, { ticks: true, key });
    const throughJson = sealedToken(profile, { ticks: true, key });
    t.same(viaJson(throughJson.state), throughJson.state, 'the round trip loses nothing');
    const send = throughJson.send.bind(throughJson);
    let trips = 0;
    throughJson.send = (payload) => {
      throughJson.state = viaJson(throughJson.state);
      trips++;
      return send(payload);
    };
    scenario(inMemory);
    scenario(throughJson);
    t.ok(trips > 40, `${trips} events, each from a state read back from JSON`);
    t.same(throughJson.log, inMemory.log, 'the same events and effects, one by one');
    t.equal(JSON.stringify(throughJson.state), JSON.stringify(inMemory.state), 'the same state at the end');
    t.same(throughJson.codesShown, inMemory.codesShown);
    t.ok(inMemory.codesShown.length >= 4, `codes shown: ${inMemory.codesShown.join(' ')}`);
  });
}
