/**
 * Loading and saving device files for the commands. The file's shape and its checks belong to
 * device-file.ts; here a failure becomes one runtime line naming the file (exit 1), and every
 * write goes through writeFileAtomic so a device is never left half-written.
 */
import { Machine } from '../machine.js';
import { parseDeviceFile, type DeviceFile } from '../device-file.js';
import { runtimeError } from './errors.js';
import { readJson, writeFileAtomic } from './files.js';

export function deviceJson(machine: Machine): string {
  return `${JSON.stringify(machine.toDeviceFile(), null, 2)}\n`;
}

export function loadDeviceFile(path: string): DeviceFile {
  const json = readJson(path);
  try {
    return parseDeviceFile(json);
  } catch (e) {
    throw runtimeError(`${path}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

export function loadDevice(path: string): Machine {
  return Machine.fromDeviceFile(loadDeviceFile(path));
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

export function saveDevice(path: string, machine: Machine): void {
  writeFileAtomic(path, deviceJson(machine));
}

export function isoMicros(us: number): string {
  return new Date(Math.floor(us / 1000)).toISOString();
}

/**
 * The device from `path`, run to true time `targetUs`. A target before the file's time moves
 * the device's history back first (shiftHistory), with a note on stderr saying so.
 */
export function loadDeviceAt(path: string, targetUs: number, note: (text: string) => void): Machine {
  let file = loadDeviceFile(path);
  if (targetUs < file.trueTimeUs) {
    const deltaMs = Math.floor((targetUs - file.trueTimeUs) / 1000);
    note(
      `kodeviser: note: ${isoMicros(targetUs)} is before the device's last known time ${isoMicros(file.trueTimeUs)}; its history moves back ${formatDays(-deltaMs)}\n`,
    );
    file = shiftHistory(file, deltaMs);
  }
  const machine = Machine.fromDeviceFile(file);
  machine.advanceTo(targetUs);
  return machine;
}

function formatDays(ms: number): string {
  const days = ms / 86_400_000;
  return days >= 1 ? `${days.toFixed(1)} days` : `${(ms / 1000).toFixed(3)} s`;
}
