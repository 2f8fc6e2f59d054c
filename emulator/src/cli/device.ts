/**
 * Loading and saving device files for the commands. The file's shape and its checks belong to
 * device-file.ts; here a failure becomes one runtime line naming the file (exit 1), and every
 * write goes through writeFileAtomic so a device is never left half-written.
 */
import { Machine } from '../machine.js';
import { parseDeviceFile } from '../device-file.js';
import { runtimeError } from './errors.js';
import { readJson, writeFileAtomic } from './files.js';

export function deviceJson(machine: Machine): string {
  return `${JSON.stringify(machine.toDeviceFile(), null, 2)}\n`;
}

export function loadDevice(path: string): Machine {
  const json = readJson(path);
  try {
    return Machine.fromDeviceFile(parseDeviceFile(json));
  } catch (e) {
    throw runtimeError(`${path}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

export function saveDevice(path: string, machine: Machine): void {
  writeFileAtomic(path, deviceJson(machine));
}

export function isoMicros(us: number): string {
  return new Date(Math.floor(us / 1000)).toISOString();
}

/** Runs the machine forward to true time `targetUs`; true time never runs backwards. */
export function moveTo(machine: Machine, targetUs: number, source: string): void {
  if (targetUs < machine.now()) {
    throw runtimeError(`${source} (${isoMicros(targetUs)}) is before the device's last known true time (${isoMicros(machine.now())}); time only moves forward`);
  }
  machine.advanceTo(targetUs);
}
