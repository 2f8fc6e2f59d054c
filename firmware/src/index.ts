/**
 * @kodeviser/firmware: the token's firmware as a pure, deterministic state machine (core.ts)
 * behind a small HAL (hal.ts), and the runtime that connects the two (runtime.ts).
 * Behaviour: docs/token.md. Contract: docs/contracts.md.
 */
export type * from './types.js';
export { TIMER_NAMES } from './types.js';
export type * from './hal.js';
export { DEFAULT_CONFIG, NC_PER_MAH, YEAR_US } from './config.js';
export { batteryPercent, HANDLER_CYCLES, init, inspect, RECORD_CYCLES_PER_BYTE, step } from './core.js';
export type { FirmwareState, StepResult } from './core.js';
export { cyclesPerCode } from './cost.js';
export { crc32 } from './crc32.js';
export { codeSegments, MENU_ITEMS, TEXT_BATTERY_EMPTY, TEXT_FACTORY, TEXT_NVM_ERROR } from './display.js';
export type { MenuItem } from './display.js';
export { checkPersonalisation } from './factory.js';
export { DP, LCD_CHARS, SEGMENT, segmentsFor, textFor } from './font.js';
export {
  decodeCounter,
  decodePersonalisation,
  decodeUsage,
  encodeCounter,
  encodePersonalisation,
  encodeUsage,
  MAX_KEY_BYTES,
  NVM_LAYOUT,
  NVM_SIZE,
  readRecord,
  RECORD_KINDS,
  recordWrite,
  slotBytes,
} from './nvm.js';
export type { PersonalisationRecord, RecordKind, SlotCursor, UsageRecord } from './nvm.js';
export { createRuntime } from './runtime.js';
export type { EventPayload, FirmwareRuntime, RuntimeOptions, RuntimePending } from './runtime.js';
