/**
 * Trace records: plain data, one per firmware event, firmware effect and hardware change, with
 * both clocks, so a VCD writer (emulator/src/cli) can draw every signal from the details alone:
 * the button level, the LCD segments, the battery's true charge and the NVM busy line.
 */
export type TraceKind = 'event' | 'effect' | 'hw';

export interface TraceRecord {
  /** true time, µs since the epoch */
  trueUs: number;
  /** the RTC's reading at that moment, µs since the epoch */
  deviceUs: number;
  kind: TraceKind;
  /** the event or effect type, or the hardware signal ('button', 'lcd', 'nvm', 'battery', 'power', ...) */
  what: string;
  detail: Record<string, unknown>;
}

/** How a peripheral reports a change of its signals. */
export type HwTrace = (what: string, detail: Record<string, unknown>) => void;
