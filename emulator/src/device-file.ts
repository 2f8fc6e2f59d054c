/**
 * The device file: one token at rest, as JSON, so the `kodeviser` CLI can keep a token between
 * runs and a later press first lets the right amount of (drifting) time pass.
 *
 * What it holds is what survives on a real token between presses — the NVM image (key, counter,
 * battery counter), the crystal's physics, the true charge of the cell — plus the emulator's
 * bookkeeping (true time of the last simulated instant, the RTC's reading then, the bounce PRNG
 * state). The MCU's RAM is not in it: on load the firmware rebuilds it from the NVM, as after a
 * wake from deep sleep. The key lives only inside the NVM image, as in a real token; serial,
 * profile, digits and step are repeated at the top as the label on the back of the device, for
 * people and tools, and must agree with what the firmware reads from the NVM.
 *
 * Parsing checks every field and throws KodeviserError ERR_ARGUMENT naming the field.
 */
import { base64ToBytes, KodeviserError, isProfileName, isValidSerial, type ProfileName } from '@kodeviser/shared';
import type { FirmwareConfig } from '@kodeviser/firmware';
import type { BounceOptions } from './button.js';
import type { CrystalParams } from './crystal.js';
import type { NvmTiming } from './nvm.js';

export const DEVICE_FILE_FORMAT = 'kodeviser-device';
export const DEVICE_FILE_VERSION = 1;

export interface DeviceFile {
  format: typeof DEVICE_FILE_FORMAT;
  version: typeof DEVICE_FILE_VERSION;
  serial: string;
  profile: ProfileName;
  digits: number;
  step: number;
  /** true time of manufacture, ISO 8601 */
  manufacturedAt: string;
  /** the last simulated instant, true µs since the epoch */
  trueTimeUs: number;
  /** what the RTC read at trueTimeUs, µs since the epoch (fractional: the crystal's exact count) */
  deviceTimeUs: number;
  crystal: Required<CrystalParams>;
  temperatureC: number;
  /** how many times the device went outside its 0–45 °C operating range */
  outOfSpecEpisodes: number;
  /** the physical cell (the firmware's own estimate is in the NVM) */
  battery: { capacityNc: number; chargeNc: number };
  powered: boolean;
  /** base64 of the whole NVM image */
  nvm: string;
  nvmTiming: NvmTiming;
  bounce: BounceOptions;
  /** state of the bounce PRNG (mulberry32), so a reloaded device continues the same sequence */
  rngState: number;
  /** the firmware build the device runs */
  firmware: FirmwareConfig;
}

/** A device file's NVM image: non-empty base64, strictly (bytes.ts). */
export function decodeNvm(text: string): Uint8Array {
  let bytes: Uint8Array | null = null;
  try {
    bytes = base64ToBytes(text);
  } catch {
    // the field's own message below
  }
  if (bytes === null || bytes.length === 0) throw bad('nvm', 'must be non-empty base64');
  return bytes;
}

/** Parses and checks a device file (JSON text or an already parsed value). */
export function parseDeviceFile(input: string | unknown): DeviceFile {
  let value: unknown = input;
  if (typeof input === 'string') {
    try {
      value = JSON.parse(input);
    } catch (e) {
      throw new KodeviserError('ERR_ARGUMENT', `device file is not JSON: ${(e as Error).message}`);
    }
  }
  const f = object(value, 'device file');
  if (f['format'] !== DEVICE_FILE_FORMAT) throw bad('format', `must be "${DEVICE_FILE_FORMAT}", got ${JSON.stringify(f['format'])}`);
  if (f['version'] !== DEVICE_FILE_VERSION) throw bad('version', `must be ${DEVICE_FILE_VERSION}, got ${JSON.stringify(f['version'])}`);

  const serial = field(f, 'serial', 'string');
  if (!isValidSerial(serial)) throw bad('serial', 'must be ten digits with a valid Luhn check digit');
  const profile = field(f, 'profile', 'string');
  if (!isProfileName(profile)) throw bad('profile', `is not a known profile: ${profile}`);
  const digits = integer(f, 'digits', 6, 8);
  const step = field(f, 'step', 'number');
  if (step !== 30 && step !== 60) throw bad('step', 'must be 30 or 60');
  const manufacturedAt = field(f, 'manufacturedAt', 'string');
  if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/.test(manufacturedAt) || Number.isNaN(Date.parse(manufacturedAt))) {
    throw bad('manufacturedAt', 'must be an ISO 8601 UTC time like 2024-01-01T00:00:00.000Z');
  }
  const trueTimeUs = integer(f, 'trueTimeUs', 0, Number.MAX_SAFE_INTEGER);
  if (trueTimeUs < Date.parse(manufacturedAt) * 1000) throw bad('trueTimeUs', 'is before manufacturedAt');
  const deviceTimeUs = finite(f, 'deviceTimeUs');

  const c = object(f['crystal'], 'crystal');
  const crystal = {
    offsetPpm: finite(c, 'offsetPpm', 'crystal.'),
    agingPpm: finite(c, 'agingPpm', 'crystal.'),
    agingTauDays: finite(c, 'agingTauDays', 'crystal.'),
  };
  if (crystal.agingTauDays <= 0) throw bad('crystal.agingTauDays', 'must be positive');
  const temperatureC = finite(f, 'temperatureC');
  const outOfSpecEpisodes = integer(f, 'outOfSpecEpisodes', 0, Number.MAX_SAFE_INTEGER);

  const b = object(f['battery'], 'battery');
  const battery = { capacityNc: finite(b, 'capacityNc', 'battery.'), chargeNc: finite(b, 'chargeNc', 'battery.') };
  if (battery.capacityNc <= 0) throw bad('battery.capacityNc', 'must be positive');
  if (battery.chargeNc < 0 || battery.chargeNc > battery.capacityNc) throw bad('battery.chargeNc', 'must be within 0..capacityNc');
  const powered = field(f, 'powered', 'boolean');
  const nvm = field(f, 'nvm', 'string');
  decodeNvm(nvm);

  const t = object(f['nvmTiming'], 'nvmTiming');
  const nvmTiming = { writeUs: integer(t, 'writeUs', 0, 1e9, 'nvmTiming.'), byteUs: integer(t, 'byteUs', 0, 1e9, 'nvmTiming.') };
  const bo = object(f['bounce'], 'bounce');
  const bounce = { maxBounces: integer(bo, 'maxBounces', 0, 1000, 'bounce.'), maxBounceUs: integer(bo, 'maxBounceUs', 0, 1e6, 'bounce.') };
  const rngState = integer(f, 'rngState', 0, 0xffffffff);

  const fw = object(f['firmware'], 'firmware');
  const firmware = {} as Record<string, unknown>;
  for (const [k, v] of Object.entries(fw)) {
    if (k === 'firmwareVersion') {
      if (typeof v !== 'string') throw bad('firmware.firmwareVersion', 'must be a string');
    } else if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
      throw bad(`firmware.${k}`, 'must be a non-negative number');
    }
    firmware[k] = v;
  }
  for (const k of FIRMWARE_CONFIG_KEYS) if (!(k in firmware)) throw bad(`firmware.${k}`, 'is missing');

  return {
    format: DEVICE_FILE_FORMAT,
    version: DEVICE_FILE_VERSION,
    serial,
    profile,
    digits,
    step,
    manufacturedAt,
    trueTimeUs,
    deviceTimeUs,
    crystal,
    temperatureC,
    outOfSpecEpisodes,
    battery,
    powered,
    nvm,
    nvmTiming,
    bounce,
    rngState,
    firmware: firmware as unknown as FirmwareConfig,
  };
}

/** The keys every FirmwareConfig has (checked when a device file is loaded). */
export const FIRMWARE_CONFIG_KEYS: readonly (keyof FirmwareConfig)[] = [
  'debounceMs',
  'displayOnMs',
  'longPressMs',
  'menuTimeoutMs',
  'lowBatteryPercent',
  'rtcTickUs',
  'cpuHz',
  'firmwareVersion',
  'capacityNc',
  'sleepCurrentNa',
  'displayCurrentNa',
  'activeCurrentNa',
  'nvmWriteNcPerByte',
  'selfDischargePerYear',
];

function bad(name: string, why: string): KodeviserError {
  return new KodeviserError('ERR_ARGUMENT', `device file field ${name} ${why}`);
}

function object(v: unknown, name: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw name === 'device file'
      ? new KodeviserError('ERR_ARGUMENT', 'device file must be a JSON object')
      : bad(name, v === undefined ? 'is missing' : 'must be an object');
  }
  return v as Record<string, unknown>;
}

function field<T extends 'string' | 'number' | 'boolean'>(
  o: Record<string, unknown>,
  name: string,
  type: T,
  prefix = '',
): T extends 'string' ? string : T extends 'number' ? number : boolean {
  const v = o[name];
  if (v === undefined) throw bad(prefix + name, 'is missing');
  if (typeof v !== type) throw bad(prefix + name, `must be a ${type}`);
  return v as never;
}

function finite(o: Record<string, unknown>, name: string, prefix = ''): number {
  const v = field(o, name, 'number', prefix);
  if (!Number.isFinite(v)) throw bad(prefix + name, 'must be a finite number');
  return v;
}

function integer(o: Record<string, unknown>, name: string, min: number, max: number, prefix = ''): number {
  const v = field(o, name, 'number', prefix);
  if (!Number.isSafeInteger(v) || v < min || v > max) throw bad(prefix + name, `must be an integer in ${min}..${max}`);
  return v;
}

/**
 * The same device with its whole history `deltaMs` earlier (negative): manufacture, the last
 * simulated instant and the RTC's reading then all move together. True time is only a label on
 * the emulator's axis; the token sees time through its RTC alone, and its drift, battery and
 * counters depend on elapsed time, not on the label. This is what lets `press --at` reach a time
 * before the file's (say, RFC 6238's 2009 test time for a token made today).
 */
export function shiftHistory(file: DeviceFile, deltaMs: number): DeviceFile {
  return {
    ...file,
    manufacturedAt: new Date(Date.parse(file.manufacturedAt) + deltaMs).toISOString(),
    trueTimeUs: file.trueTimeUs + deltaMs * 1000,
    deviceTimeUs: file.deviceTimeUs + deltaMs * 1000,
  };
}
