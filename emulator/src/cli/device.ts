/**
 * Loading and saving device files for the commands. The file's shape and its checks belong to
 * device-file.ts; here a failure becomes one runtime line naming the file (exit 1), and every
 * write goes through writeFileAtomic so a device is never left half-written.
 */
import { Machine } from '../machine.js';
import { parseDeviceFile, shiftHistory, type DeviceFile } from '../device-file.js';
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

export { shiftHistory };

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
