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

/**
 * How a peripheral reports a change of its signals. `enabled`, when given, says whether anything
 * keeps the records: a peripheral does not even build one when it says no (a ten-year lifetime
 * changes signals millions of times).
 */
export type HwTrace = ((what: string, detail: Record<string, unknown>) => void) & { readonly enabled?: () => boolean };

/** Whether `trace` wants records now. */
export const tracing = (trace: HwTrace): boolean => trace.enabled === undefined || trace.enabled();

/**
 * Appends `r`, keeping at most about `limit` records: when the array reaches twice the limit the
 * oldest are dropped in one splice, so a ten-year run costs amortised O(1) per record rather
 * than a shift per record. A limit of 0 keeps nothing.
 */
export function appendBounded(trace: TraceRecord[], r: TraceRecord, limit: number): void {
  if (limit === 0) return;
  trace.push(r);
  if (trace.length >= 2 * limit) trace.splice(0, trace.length - limit);
}
