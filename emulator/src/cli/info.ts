/**
 * `kodeviser info FILE`: what the token holds, without pressing it — the label on its back, its
 * counters, both battery figures (the firmware's own estimate, which is all a real token knows,
 * and the cell's true charge, which only an emulator can show), and how far its crystal has
 * drifted. It reports the device as its file last saw it: no time passes.
 */
import { formatSerial } from '@kodeviser/shared';
import { helpText, parseCommand, type CommandSpec } from './args.js';
import { loadDevice } from './device.js';
import { isoUs, quoted, signedSeconds } from './format.js';
import type { CliIo } from './io.js';

const options = { json: { type: 'boolean' } } as const;

const spec = {
  name: 'info',
  usage: 'info FILE [--json]',
  help: `Shows the device's state as its file last saw it (no time passes, nothing is pressed).
  --json             print the same as one JSON object`,
  options,
  positionals: ['FILE'],
} satisfies CommandSpec<typeof options>;

export async function info(argv: readonly string[], io: CliIo): Promise<number> {
  const parsed = parseCommand(spec, argv);
  if (parsed.help) {
    io.stdout(helpText(spec));
    return 0;
  }
  const [file] = parsed.positionals as [string];
  const machine = loadDevice(io.path(file));
  const s = machine.state();
  const f = machine.toDeviceFile();
  const manufacturedUs = Date.parse(f.manufacturedAt) * 1000;
  const trueUs = machine.now();
  const deviceUs = machine.deviceTime();
  const elapsedUs = trueUs - manufacturedUs;
  const driftPpm = elapsedUs > 0 ? ((deviceUs - trueUs) / elapsedUs) * 1e6 : 0;
  const truePercent = (100 * s.batteryTrueCharge) / f.battery.capacityNc;
  const hotp = f.profile.startsWith('hotp');
  // A totp token keeps no step in NVM: its moving factor is whatever its clock says now.
  const movingFactor = hotp ? s.movingFactor : Math.floor(deviceUs / 1e6 / f.step);

  const facts = {
    serial: formatSerial(f.serial),
    profile: f.profile,
    digits: f.digits,
    step: f.step,
    movingFactor,
    batteryPercent: s.batteryPercent,
    batteryTruePercent: Math.round(truePercent * 100) / 100,
    lowBattery: s.lowBattery,
    manufacturedAt: f.manufacturedAt,
    trueTime: isoUs(trueUs),
    deviceTime: isoUs(deviceUs),
    driftSeconds: Math.round(deviceUs - trueUs) / 1e6,
    driftPpm: Math.round(driftPpm * 1000) / 1000,
    temperatureC: f.temperatureC,
    outOfSpec: s.outOfSpec,
    codesShown: s.codesShown,
    screen: s.screen,
    lcd: machine.lcd(),
    powered: s.powered,
  };
  if (parsed.values.json === true) {
    io.stdout(`${JSON.stringify(facts)}\n`);
    return 0;
  }
  const rows: Array<[string, string]> = [
    ['serial', facts.serial],
    ['profile', `${f.profile}, ${f.digits} digits${hotp ? '' : `, ${f.step} s step`}`],
    ['moving factor', `${movingFactor} (${hotp ? 'the counter of the next press' : "the time step by the device's clock"})`],
    ['battery', `${s.batteryPercent} % by the firmware's counter, ${truePercent.toFixed(2)} % true charge${s.lowBattery ? ' (low)' : ''}`],
    ['manufactured', f.manufacturedAt],
    ['true time', facts.trueTime],
    [
      'device time',
      `${facts.deviceTime} (${signedSeconds(deviceUs - trueUs)}, ${facts.driftPpm >= 0 ? '+' : ''}${facts.driftPpm} ppm since manufacture)`,
    ],
    ['temperature', `${f.temperatureC} °C${s.outOfSpec ? ' (outside the 0..45 °C operating range)' : ''}`],
    ['codes shown', String(s.codesShown)],
    ['screen', `${s.screen} ${quoted(machine.lcd())}${s.powered ? '' : ' (no power)'}`],
  ];
  for (const [k, v] of rows) io.stdout(`${k.padEnd(14)} ${v}\n`);
  return 0;
}
