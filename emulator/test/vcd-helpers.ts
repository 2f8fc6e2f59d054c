/**
 * Reads a VCD with an independent parser (the vcd-parser package, not our writer's logic), so
 * the tests check the dump the way a viewer would read it.
 */
import { createRequire } from 'node:module';

export interface ParsedSignal {
  type: string;
  size: number;
  signalName: string;
  module: string;
  /** [time, value] pairs: value is a binary string for wires and vectors, decimal for reals */
  wave: Array<[string, string]>;
}
export interface ParsedVcd {
  timescale?: string;
  comment?: string;
  endtime: string;
  signal: ParsedSignal[];
}

const require = createRequire(import.meta.url);
const VCDParser = require('vcd-parser') as { parse(text: string): Promise<ParsedVcd> };

export async function readVcd(text: string): Promise<ParsedVcd> {
  return VCDParser.parse(text);
}

/** The value of a signal at time t: the last change at or before t. */
export function valueAt(vcd: ParsedVcd, name: string, t: number): string | undefined {
  const s = vcd.signal.find((x) => x.signalName === name);
  if (s === undefined) throw new Error(`no signal ${name}`);
  let v: string | undefined;
  for (const [time, value] of s.wave) if (Number(time) <= t) v = value;
  return v;
}
