// Device files written by an older kodeviser go on exactly as that version would have run them:
// the fixtures were made, and their next presses printed, by main before the firmware state
// became plain data (fixtures/device-v1-expected.json). A changed code, counter, battery figure
// or clock means a user's device would show something it never would have, or show a code twice.
import t from 'tap';
import { copyFileSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cli, tempDir } from './cli-helpers.js';

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), 'fixtures');
const expected = JSON.parse(readFileSync(join(FIXTURES, 'device-v1-expected.json'), 'utf8')) as {
  presses: Record<string, Array<{ args: string[]; printed: Record<string, unknown> }>>;
};

for (const [name, presses] of Object.entries(expected.presses)) {
  t.test(`${name}: loads and its next presses print what main printed`, async (t) => {
    const file = join(tempDir(t), name);
    copyFileSync(join(FIXTURES, name), file);
    for (const { args, printed } of presses) {
      const r = await cli(['press', file, '--json', ...args]);
      t.equal(r.code, 0, r.stderr);
      t.same(JSON.parse(r.stdout), printed, `press ${args.join(' ')}`);
    }
    const after = JSON.parse(readFileSync(file, 'utf8'));
    const mainAfter = JSON.parse(readFileSync(join(FIXTURES, name.replace('.json', '.after-presses.json')), 'utf8'));
    const { format: _f, version: _v, battery, ...rest } = after;
    const { format: _mf, version: _mv, battery: mainBattery, ...mainRest } = mainAfter;
    t.same(rest, mainRest, 'the device file after them is what main wrote (its format version aside)');
    // The true charge alone may differ: self-discharge has since come to follow the temperature,
    // which the last totp press sets to 40 °C for the seconds it lasts (the firmware's own counter,
    // batteryPercent above, is unchanged).
    t.equal(battery.capacityNc, mainBattery.capacityNc);
    t.ok(
      Math.abs(battery.chargeNc - mainBattery.chargeNc) / mainBattery.capacityNc < 1e-9,
      'the true charge, within 1 ppb of the capacity',
    );
  });
}
