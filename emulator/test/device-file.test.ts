import t from 'tap';
import { base64ToBytes, bytesToBase64 } from '@kodeviser/shared';
import { parseDeviceFile, type DeviceFile } from '../src/device-file.js';

const valid: DeviceFile = {
  format: 'kodeviser-device',
  version: 1,
  serial: '1234567897',
  profile: 'totp-sha1',
  digits: 6,
  step: 30,
  manufacturedAt: '2024-01-01T00:00:00.000Z',
  trueTimeUs: Date.UTC(2024, 0, 2) * 1000,
  deviceTimeUs: Date.UTC(2024, 0, 2) * 1000 + 1.5,
  crystal: { offsetPpm: 3.2, agingPpm: 3, agingTauDays: 30 },
  temperatureC: 25,
  outOfSpecEpisodes: 0,
  battery: { capacityNc: 8.1e11, chargeNc: 8e11 },
  powered: true,
  nvm: bytesToBase64(Uint8Array.of(1, 2, 3, 4, 5)),
  nvmTiming: { writeUs: 2000, byteUs: 23 },
  bounce: { maxBounces: 4, maxBounceUs: 5000 },
  rngState: 12345,
  firmware: {
    debounceMs: 20,
    displayOnMs: 30_000,
    longPressMs: 6_000,
    menuTimeoutMs: 30_000,
    lowBatteryPercent: 10,
    rtcTickUs: 86_400e6,
    cpuHz: 8e6,
    firmwareVersion: '1.0.0',
    capacityNc: 8.1e11,
    sleepCurrentNa: 1000,
    displayCurrentNa: 20_000,
    activeCurrentNa: 2e6,
    nvmWriteNcPerByte: 50,
    selfDischargePerYear: 0.01,
  },
};

t.test('a valid file parses, from text or value, to an equal value', (t) => {
  t.same(parseDeviceFile(JSON.stringify(valid)), valid);
  t.same(parseDeviceFile(structuredClone(valid)), valid);
  t.same(Array.from(base64ToBytes(valid.nvm, 'nvm')), [1, 2, 3, 4, 5]);
  t.end();
});

/** Sets a dotted path in a copy of the valid file (undefined deletes it). */
function variant(path: string, value: unknown): unknown {
  const copy = structuredClone(valid) as unknown as Record<string, unknown>;
  const keys = path.split('.');
  let o = copy;
  for (const k of keys.slice(0, -1)) o = o[k] as Record<string, unknown>;
  const last = keys.at(-1)!;
  if (value === undefined) delete o[last];
  else o[last] = value;
  return copy;
}

t.test('bad files are rejected with ERR_ARGUMENT naming the field', (t) => {
  const cases: Array<[string, unknown, RegExp]> = [
    ['format', 'other-device', /field format must be "kodeviser-device"/],
    ['version', 2, /field version must be 1/],
    ['serial', undefined, /field serial is missing/],
    ['serial', '1234567890', /field serial .*Luhn/],
    ['serial', 1234567897, /field serial must be a string/],
    ['profile', 'hotp-md5', /field profile is not a known profile/],
    ['digits', 9, /field digits must be an integer in 6..8/],
    ['step', 45, /field step must be 30 or 60/],
    ['manufacturedAt', 'yesterday', /field manufacturedAt must be an ISO 8601/],
    ['trueTimeUs', 1.5, /field trueTimeUs must be an integer/],
    ['trueTimeUs', 5, /field trueTimeUs is before manufacturedAt/],
    ['deviceTimeUs', '1', /field deviceTimeUs must be a number/],
    ['temperatureC', Infinity, /field temperatureC must be a finite number/],
    ['crystal', undefined, /field crystal is missing/],
    ['crystal', [1], /field crystal must be an object/],
    ['crystal.offsetPpm', undefined, /field crystal.offsetPpm is missing/],
    ['crystal.agingTauDays', 0, /field crystal.agingTauDays must be positive/],
    ['outOfSpecEpisodes', -1, /field outOfSpecEpisodes/],
    ['battery.capacityNc', 0, /field battery.capacityNc must be positive/],
    ['battery.chargeNc', 9e11, /field battery.chargeNc must be within/],
    ['powered', 'yes', /field powered must be a boolean/],
    ['nvm', 'not base64!', /field nvm must be non-empty base64/],
    ['nvm', '', /field nvm must be non-empty base64/],
    ['nvmTiming.byteUs', -1, /field nvmTiming.byteUs/],
    ['bounce.maxBounces', 0.5, /field bounce.maxBounces/],
    ['rngState', 2 ** 32, /field rngState/],
    ['firmware.cpuHz', undefined, /field firmware.cpuHz is missing/],
    ['firmware.cpuHz', -8, /field firmware.cpuHz must be a non-negative number/],
    ['firmware.firmwareVersion', 1, /field firmware.firmwareVersion must be a string/],
  ];
  for (const [path, value, message] of cases) {
    t.throws(() => parseDeviceFile(variant(path, value)), { code: 'ERR_ARGUMENT', message }, `${path} = ${JSON.stringify(value)}`);
  }
  t.throws(() => parseDeviceFile('{"format":'), { code: 'ERR_ARGUMENT', message: /device file is not JSON/ });
  t.throws(() => parseDeviceFile('[]'), { code: 'ERR_ARGUMENT', message: /device file must be a JSON object/ });
  t.throws(() => parseDeviceFile(null), { code: 'ERR_ARGUMENT', message: /device file must be a JSON object/ });
  t.end();
});
