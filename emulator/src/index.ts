/**
 * @kodeviser/emulator: a kodeviser token on a virtual bench — the firmware core on virtual
 * hardware (button, LCD, crystal/RTC, coin cell, NVM, CPU) in virtual true time, with device
 * files for keeping a token between runs. The `kodeviser` CLI is in cli/.
 */
export { Machine } from './machine.js';
export type { MachineSnapshot, MachineState, ManufactureOptions } from './machine.js';
export { parseDeviceFile, DEVICE_FILE_FORMAT, DEVICE_FILE_VERSION } from './device-file.js';
export type { DeviceFile } from './device-file.js';
export { Scheduler } from './scheduler.js';
export type { ScheduledEvent } from './scheduler.js';
export type { TraceKind, TraceRecord } from './trace.js';
export { Crystal, YEAR_US } from './crystal.js';
export type { CrystalParams } from './crystal.js';
export { Rtc, OPERATING_MIN_C, OPERATING_MAX_C } from './rtc.js';
export { Battery, CR2032_CAPACITY_NC } from './battery.js';
export { Button, NO_BOUNCE, TYPICAL_BOUNCE } from './button.js';
export type { BounceOptions } from './button.js';
export { Lcd, renderSegments } from './lcd.js';
export { Nvm, EEPROM_TIMING } from './nvm.js';
export type { NvmTiming } from './nvm.js';
export { Cpu } from './cpu.js';
export { Prng } from './prng.js';
