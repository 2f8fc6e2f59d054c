/**
 * `kodeviser run FILE SCENARIO.yaml`: scripted scenarios. A scenario is YAML (the `yaml`
 * package, YAML 1.2): a list of steps, or a mapping with `steps` and an optional `description`.
 * Each step is one of
 *   press | press: {ms: 200}      hold: 6s        advance: 30s        set-temp: 40
 *   power-cut | power-cut: {atByte: 3}            power-on
 *   expect-lcd: "  123456"  or  expect-lcd: /^b/  (a regular expression between slashes)
 *   expect-state: {screen: code, movingFactor: 3, lowBattery: false}
 * The whole file is checked before the first step runs (a bad scenario is a usage error, exit 2,
 * naming the step); a failed expectation stops the run with exit 1 naming the step, what was
 * expected and what the device shows.
 */
import { parse as parseYaml } from 'yaml';
import type { Machine } from '../machine.js';
import { helpText, parseCommand, parseDurationUs, type CommandSpec } from './args.js';
import { loadDevice, saveDevice } from './device.js';
import { runtimeError, usageError } from './errors.js';
import { readText } from './files.js';
import { quoted } from './format.js';
import type { CliIo } from './io.js';
import { startVcd } from './vcd-file.js';

const options = { save: { type: 'boolean' }, vcd: { type: 'string' } } as const;

const spec = {
  name: 'run',
  usage: 'run FILE SCENARIO.yaml [--save] [--vcd OUT.vcd]',
  help: `Runs a scripted scenario against the device. The device file is left unchanged unless --save.
  --save             write the device back to FILE when the scenario passes
  --vcd OUT.vcd      record a value change dump of the run (written even when a step fails)

A scenario is a YAML list of steps (or a mapping with "steps:" and an optional "description:"):
  - press                       # or  press: {ms: 200}
  - hold: 6s
  - advance: 30s
  - set-temp: 40
  - power-cut: {atByte: 3}      # or  power-cut  (now)
  - power-on
  - expect-lcd: "  123456"      # or a regular expression: expect-lcd: /^b/
  - expect-state: {screen: code, movingFactor: 3, lowBattery: false}`,
  options,
  positionals: ['FILE', 'SCENARIO'],
} satisfies CommandSpec<typeof options>;

export type ScenarioStep =
  | { kind: 'press'; ms: number }
  | { kind: 'hold'; ms: number }
  | { kind: 'advance'; us: number }
  | { kind: 'set-temp'; celsius: number }
  | { kind: 'power-cut'; atByte?: number }
  | { kind: 'power-on' }
  | { kind: 'expect-lcd'; text: string }
  | { kind: 'expect-lcd'; pattern: RegExp; source: string }
  | { kind: 'expect-state'; fields: Record<string, unknown> };

const KINDS = ['press', 'hold', 'advance', 'set-temp', 'power-cut', 'power-on', 'expect-lcd', 'expect-state'];

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Checks a parsed scenario document and returns its steps; errors name the step. */
export function parseScenario(doc: unknown, name: string): ScenarioStep[] {
  let list: unknown = doc;
  if (isRecord(doc)) {
    const extra = Object.keys(doc).filter((k) => k !== 'steps' && k !== 'description');
    if (extra.length > 0) throw usageError(`${name}: unknown top-level key ${JSON.stringify(extra[0])} (expected steps, description)`);
    list = doc.steps;
  }
  if (!Array.isArray(list) || list.length === 0) throw usageError(`${name}: expected a non-empty list of steps`);
  return list.map((item, i) => parseStep(item, `${name}: step ${i + 1}`));
}

function parseStep(item: unknown, where: string): ScenarioStep {
  let kind: string;
  let arg: unknown;
  if (typeof item === 'string') {
    kind = item;
    arg = null;
  } else if (isRecord(item) && Object.keys(item).length === 1) {
    kind = Object.keys(item)[0] as string;
    arg = item[kind];
  } else {
    throw usageError(`${where}: expected a step name or a mapping with one step, e.g. "advance: 30s"`);
  }
  const at = `${where} (${kind})`;
  const duration = (v: unknown): number => {
    if (typeof v !== 'string') throw usageError(`${at}: expected a duration like 6s or 250ms`);
    return parseDurationUs(v, at);
  };
  switch (kind) {
    case 'press': {
      if (arg === null) return { kind, ms: 120 };
      if (!isRecord(arg) || Object.keys(arg).some((k) => k !== 'ms')) throw usageError(`${at}: expected {ms: N} or nothing`);
      const ms = arg.ms;
      if (typeof ms !== 'number' || !Number.isInteger(ms) || ms < 1) throw usageError(`${at}: ms must be a positive integer`);
      return { kind, ms };
    }
    case 'hold':
      return { kind, ms: Math.round(duration(arg) / 1000) };
    case 'advance':
      return { kind, us: duration(arg) };
    case 'set-temp':
      if (typeof arg !== 'number' || !Number.isFinite(arg) || arg < -60 || arg > 125)
        throw usageError(`${at}: expected a temperature in °C from -60 to 125`);
      return { kind, celsius: arg };
    case 'power-cut': {
      if (arg === null) return { kind };
      if (!isRecord(arg) || Object.keys(arg).some((k) => k !== 'atByte')) throw usageError(`${at}: expected {atByte: N} or nothing`);
      const atByte = arg.atByte;
      if (typeof atByte !== 'number' || !Number.isInteger(atByte) || atByte < 0)
        throw usageError(`${at}: atByte must be a non-negative integer`);
      return { kind, atByte };
    }
    case 'power-on':
      if (arg !== null) throw usageError(`${at}: takes no argument`);
      return { kind };
    case 'expect-lcd': {
      if (typeof arg !== 'string') throw usageError(`${at}: expected the LCD text in quotes, or /regex/`);
      const m = /^\/(.*)\/([a-z]*)$/s.exec(arg);
      if (m === null) {
        if (arg.length !== 8) throw usageError(`${at}: the LCD shows 8 characters (blanks included), got ${quoted(arg)}`);
        return { kind, text: arg };
      }
      try {
        return { kind, pattern: new RegExp(m[1] as string, m[2]), source: arg };
      } catch (e) {
        throw usageError(`${at}: bad regular expression: ${(e as Error).message}`);
      }
    }
    case 'expect-state':
      if (!isRecord(arg) || Object.keys(arg).length === 0)
        throw usageError(`${at}: expected a mapping of state fields, e.g. {screen: code}`);
      return { kind, fields: arg };
    default:
      throw usageError(`${where}: unknown step ${JSON.stringify(kind)} (one of ${KINDS.join(', ')})`);
  }
}

function readScenario(path: string, name: string): ScenarioStep[] {
  const text = readText(path);
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (e) {
    throw usageError(`${name} is not valid YAML: ${(e as Error).message.split('\n')[0]}`);
  }
  return parseScenario(doc, name);
}

export async function run(argv: readonly string[], io: CliIo): Promise<number> {
  const parsed = parseCommand(spec, argv);
  if (parsed.help) {
    io.stdout(helpText(spec));
    return 0;
  }
  const [file, scenarioFile] = parsed.positionals as [string, string];
  const steps = readScenario(io.path(scenarioFile), scenarioFile);
  const path = io.path(file);
  const machine = loadDevice(path);
  const known = Object.keys(machine.state());
  steps.forEach((s, i) => {
    if (s.kind !== 'expect-state') return;
    const unknown = Object.keys(s.fields).find((k) => !known.includes(k));
    if (unknown !== undefined) {
      throw usageError(
        `${scenarioFile}: step ${i + 1} (expect-state): unknown field ${JSON.stringify(unknown)} (one of ${known.join(', ')})`,
      );
    }
  });

  const vcd = parsed.values.vcd === undefined ? null : startVcd(machine, io.path(parsed.values.vcd));
  try {
    steps.forEach((s, i) => io.stdout(`step ${i + 1} (${s.kind}): ${perform(machine, s, i + 1)}\n`));
  } finally {
    vcd?.finish();
  }
  if (parsed.values.save === true) saveDevice(path, machine);
  io.stdout(`scenario passed: ${steps.length} step${steps.length === 1 ? '' : 's'}\n`);
  return 0;
}

/** Runs one step; returns what to print, or throws the failure line. */
function perform(m: Machine, s: ScenarioStep, n: number): string {
  switch (s.kind) {
    case 'press':
      m.press(s.ms);
      return `LCD ${quoted(m.lcd())}`;
    case 'hold':
      m.hold(s.ms);
      return `LCD ${quoted(m.lcd())}`;
    case 'advance':
      m.advance(s.us);
      return `LCD ${quoted(m.lcd())}`;
    case 'set-temp':
      m.setTemperature(s.celsius);
      return `${s.celsius} °C`;
    case 'power-cut':
      m.cutPower(s.atByte === undefined ? {} : { atWriteByte: s.atByte });
      return s.atByte === undefined ? 'power cut' : `power cut armed at byte ${s.atByte} of the next NVM write`;
    case 'power-on':
      m.powerOn();
      return `LCD ${quoted(m.lcd())}`;
    case 'expect-lcd': {
      const lcd = m.lcd();
      const ok = 'text' in s ? lcd === s.text : s.pattern.test(lcd);
      if (!ok) throw runtimeError(`step ${n} (expect-lcd): expected ${'text' in s ? quoted(s.text) : s.source}, LCD shows ${quoted(lcd)}`);
      return 'ok';
    }
    case 'expect-state': {
      const state = m.state() as unknown as Record<string, unknown>;
      const wrong = Object.entries(s.fields).filter(([k, v]) => JSON.stringify(state[k]) !== JSON.stringify(v));
      if (wrong.length > 0) {
        const what = wrong.map(([k, v]) => `${k} ${JSON.stringify(v)}, state has ${JSON.stringify(state[k])}`).join('; ');
        throw runtimeError(`step ${n} (expect-state): expected ${what}`);
      }
      return 'ok';
    }
  }
}
