/**
 * The stepper (piped commands) and scripted scenarios, in-process; their VCD dumps read back by
 * an independent parser and checked against the trace the stepper prints.
 */
import t from 'tap';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, tempDir } from './cli-helpers.js';
import { readVcd, valueAt } from './vcd-helpers.js';

async function device(dir: string, profile = 'hotp-sha1'): Promise<string> {
  const out = join(dir, 'd.json');
  const r = await cli(['manufacture', '--profile', profile, '--drift-ppm', '0', '--out', out]);
  if (r.code !== 0) throw new Error(r.stderr);
  return out;
}

t.test('step: commands from a pipe, what changed after each, the file left alone', async (t) => {
  const dir = tempDir(t);
  const d = await device(dir);
  const before = readFileSync(d, 'utf8');
  const script = [
    'press',
    'lcd',
    'state',
    'nvm',
    'trace 3',
    '# a comment',
    '',
    'advance 31s',
    'tick',
    'down',
    'advance 6s',
    'release',
    'run-until off 2m',
    'run-until code 1s',
    'temp 50',
    'temp 25',
    'power-cut',
    'power-on',
    'press 300',
    'help',
    'quit',
    'press',
  ].join('\n');
  const r = await cli(['step', d], { stdin: script });
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stderr, '');
  const out = r.stdout;
  t.match(out, /^true {2}\S+Z {2}device \S+Z \(\+0\.000 s\)\nlcd {3}" {8}"\n/, 'starts with the clocks and the LCD');
  t.match(out, /lcd {3}" {8}" -> "[ b]\d{6} ?"/, 'press: the LCD diff');
  t.match(out, /\n {6}codesShown: 0 -> 1\n/, 'press: the state fields that changed');
  t.match(out, /\nscreen {13}"code"\n/, 'state: every field');
  t.match(out, /\n00000000 {2}[0-9a-f]{2} /, 'nvm: a hex dump');
  t.match(out, /Z (event|effect|hw) +\S+ \{/, 'trace lines');
  t.match(out, /fired \S+|nothing is scheduled/, 'tick');
  t.match(out, /reached off|limit reached, no off/);
  t.match(out, /limit reached, no code/, 'no code shows without a press');
  t.match(out, /outOfSpec: false -> true/, 'temp 50 leaves the operating range');
  t.match(out, /powered: true -> false/, 'power-cut');
  t.match(out, /powered: false -> true/, 'power-on');
  t.match(out, /run-until lcd\|off\|code LIMIT/, 'help');
  t.equal(out.match(/codesShown: 1 -> 2/g)?.length, 1, 'nothing after quit runs');
  t.equal(readFileSync(d, 'utf8'), before, 'without --save the device file is untouched');

  const saved = await cli(['step', d, '--save'], { stdin: 'press\n' });
  t.equal(saved.code, 0);
  t.match(saved.stdout, /saved .*d\.json\n$/, 'end of input is quit; --save writes the device back');
  t.not(readFileSync(d, 'utf8'), before);
  t.equal((JSON.parse((await cli(['info', d, '--json'])).stdout) as { codesShown: number }).codesShown, 1);
});

t.test('step: a bad command is reported and the script fails, a terminal session does not', async (t) => {
  const dir = tempDir(t);
  const d = await device(dir);
  const r = await cli(['step', d], {
    stdin: 'bogus\nadvance\nadvance 5x\nrun-until never 1s\npress 0\npress 1 2\nlcd now\ntrace 0\ntemp\npower-cut -1\nlcd\n',
  });
  t.equal(r.code, 1);
  const lines = r.stderr.trim().split('\n');
  t.same(lines, [
    'kodeviser: step: line 1: unknown command "bogus" (help lists them)',
    'kodeviser: step: line 2: advance needs a DURATION, e.g. advance 30s',
    'kodeviser: step: line 3: advance must be a duration like 250ms, 90s, 15m, 2h, 3d or 1y, got "5x"',
    'kodeviser: step: line 4: run-until: expected lcd, off or code, got "never"',
    'kodeviser: step: line 5: press ms must be an integer from 1 to 3600000, got "0"',
    'kodeviser: step: line 6: press takes at most 1 argument',
    'kodeviser: step: line 7: lcd takes no arguments',
    'kodeviser: step: line 8: trace n must be an integer from 1 to 1000000, got "0"',
    'kodeviser: step: line 9: temp needs a temperature in °C, e.g. temp 40',
    'kodeviser: step: line 10: power-cut byte must be an integer from 0 to 1000000, got "-1"',
  ]);
  const tty = await cli(['step', d], { stdin: 'bogus\nquit\n', interactive: true });
  t.equal(tty.code, 0, 'at a terminal the user saw the error');
  t.match(tty.stdout, /kodeviser> /, 'a prompt only at a terminal');
  t.notMatch(r.stdout, /kodeviser> /);
});

t.test('step --vcd: the dump agrees with the trace, signal by signal', async (t) => {
  const dir = tempDir(t);
  const d = await device(dir, 'totp-sha1');
  const vcdPath = join(dir, 'session.vcd');
  const r = await cli(['step', d, '--vcd', vcdPath], { stdin: 'press\nadvance 40s\ntrace 100000\nquit\n' });
  t.equal(r.code, 0, r.stderr);
  const text = readFileSync(vcdPath, 'utf8');
  const vcd = await readVcd(text);
  t.equal(vcd.timescale?.trim(), '1us');
  const start = Number(/\((\d+) us since the epoch\)/.exec(text)?.[1]);
  t.ok(start > 0, 'the comment gives time 0 in true µs');
  t.ok(Number(vcd.endtime) >= 40_000_000, 'the dump lasts the whole session (press, then 40 s)');

  // the stepper's trace lines: "<true ISO µs> hw     lcd {...}"
  const hw = r.stdout
    .split('\n')
    .map((l) => /^(\S+) hw +(\S+) (\{.*\})$/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({
      t: Math.round(Date.parse(m[1]!) * 1000) + Number(m[1]!.slice(23, 26)) - start,
      what: m[2]!,
      detail: JSON.parse(m[3]!) as Record<string, unknown>,
    }));
  const lcd = hw.filter((h) => h.what === 'lcd');
  const buttons = hw.filter((h) => h.what === 'button');
  const nvm = hw.filter((h) => h.what === 'nvm');
  t.ok(lcd.length >= 2, 'the code was latched, then the display went off');
  t.ok(buttons.length >= 2, 'down and up');
  t.ok(nvm.length >= 2, 'an NVM write');
  // compare at the end of each instant: several records may share a microsecond
  const lastAt = <T extends { t: number }>(xs: T[]) => xs.filter((x, i) => xs[i + 1]?.t !== x.t);
  for (const rec of lastAt(lcd)) {
    const segments = rec.detail.segments as number[];
    segments.forEach((s, i) => t.equal(parseInt(valueAt(vcd, `seg${i}`, rec.t) ?? '', 2), s, `seg${i} at ${rec.t}`));
    t.equal(valueAt(vcd, 'lcd_on', rec.t), segments.some((s) => s !== 0) ? '1' : '0');
  }
  for (const rec of lastAt(buttons)) t.equal(valueAt(vcd, 'button', rec.t), rec.detail.level ? '1' : '0', `button at ${rec.t}`);
  for (const rec of lastAt(nvm)) t.equal(valueAt(vcd, 'nvm_busy', rec.t), rec.detail.busy ? '1' : '0', `nvm_busy at ${rec.t}`);
  const battery = lastAt(hw.filter((h) => h.what === 'battery'));
  t.ok(battery.length > 0);
  for (const rec of battery)
    t.equal(Number(valueAt(vcd, 'battery_charge', rec.t)), Math.round(rec.detail.chargeNc as number) / 1000, `battery at ${rec.t}`);
});

t.test('run: a passing scenario, a failing one, and scenario files that are wrong', async (t) => {
  const dir = tempDir(t);
  const d = await device(dir, 'hotp-sha1');
  const write = (name: string, text: string): string => {
    const p = join(dir, name);
    writeFileSync(p, text);
    return p;
  };
  // --key gives known codes: RFC 4226 Appendix D
  const keyed = join(dir, 'k.json');
  await cli([
    'manufacture',
    '--profile',
    'hotp-sha1',
    '--key',
    '3132333435363738393031323334353637383930',
    '--drift-ppm',
    '0',
    '--out',
    keyed,
  ]);
  const pass = write(
    'pass.yaml',
    `description: two codes, then the menu
steps:
  - press
  - expect-lcd: /755224/
  - expect-state: {screen: code, movingFactor: 1, lowBattery: false}
  - advance: 31s
  - expect-state: {screen: off}
  - press: {ms: 200}
  - expect-lcd: /287082/
  - advance: 40s
  - set-temp: 30
  - hold: 6s
  - expect-state: {screen: menu}
  - advance: 2m
  - power-cut
  - power-on
  - power-cut: {atByte: 3}
  - press
  - power-on
  - expect-state: {powered: true}
`,
  );
  const vcdPath = join(dir, 'run.vcd');
  const ok = await cli(['run', keyed, pass, '--vcd', vcdPath]);
  t.equal(ok.code, 0, ok.stderr);
  t.match(ok.stdout, /^step 1 \(press\): LCD "[ b]755224 ?"\nstep 2 \(expect-lcd\): ok\n/);
  t.match(ok.stdout, /\nscenario passed: 18 steps\n$/);
  t.match(ok.stdout, /step 15 \(power-cut\): power cut armed at byte 3 of the next NVM write/);
  t.ok((await readVcd(readFileSync(vcdPath, 'utf8'))).signal.length === 12, 'run --vcd writes a dump of the twelve signals');
  const before = readFileSync(keyed, 'utf8');
  t.equal(readFileSync(keyed, 'utf8'), before, 'the device file is left alone');

  const fail = write('fail.yaml', '- press\n- advance: 1s\n- press\n- expect-lcd: "  123456"\n- press\n');
  const r = await cli(['run', d, fail]);
  t.equal(r.code, 1);
  t.match(r.stderr, /^kodeviser: step 4 \(expect-lcd\): expected " {2}123456", LCD shows "[^"]{8}"\n$/);
  t.match(r.stdout, /^step 1 \(press\)/);
  t.notMatch(r.stdout, /step 5/, 'the run stops at the failed step');
  const failState = write('fail-state.yaml', '- press\n- expect-state: {screen: menu, codesShown: 7}\n');
  const rs = await cli(['run', d, failState]);
  t.equal(rs.code, 1);
  t.match(rs.stderr, /^kodeviser: step 2 \(expect-state\): expected screen "menu", state has "code"; codesShown 7, state has \d+\n$/);
  const regexFail = await cli(['run', d, write('re.yaml', '- expect-lcd: /^x/\n')]);
  t.match(regexFail.stderr, /step 1 \(expect-lcd\): expected \/\^x\/, LCD shows/);

  const saved = await cli(['run', d, write('save.yaml', '- press\n'), '--save']);
  t.equal(saved.code, 0);
  t.equal(
    (JSON.parse((await cli(['info', d, '--json'])).stdout) as { codesShown: number }).codesShown,
    1,
    "--save keeps the scenario's presses",
  );

  const bad: Array<[string, RegExp]> = [
    ['steps: [', /is not valid YAML/],
    ['', /expected a non-empty list of steps/],
    ['steps: []', /expected a non-empty list of steps/],
    ['name: x\nsteps: [press]', /unknown top-level key "name"/],
    ['- jump', /step 1: unknown step "jump"/],
    ['- press\n- {press: 1, hold: 6s}', /step 2: expected a step name or a mapping with one step/],
    ['- hold: 6 seconds', /step 1 \(hold\): must be a duration|step 1 \(hold\) must be a duration/],
    ['- hold: 6', /step 1 \(hold\): expected a duration/],
    ['- advance: soon', /step 1 \(advance\)/],
    ['- press: {ms: 0}', /step 1 \(press\): ms must be a positive integer/],
    ['- press: {seconds: 1}', /step 1 \(press\): expected \{ms: N\} or nothing/],
    ['- set-temp: hot', /step 1 \(set-temp\): expected a temperature/],
    ['- power-cut: {atByte: -1}', /step 1 \(power-cut\): atByte must be a non-negative integer/],
    ['- power-cut: 3', /step 1 \(power-cut\): expected \{atByte: N\}/],
    ['- power-on: now', /step 1 \(power-on\): takes no argument/],
    ['- expect-lcd: 123456', /step 1 \(expect-lcd\): expected the LCD text in quotes/],
    ['- expect-lcd: "123456"', /step 1 \(expect-lcd\): the LCD shows 8 characters/],
    ['- expect-lcd: /(/', /step 1 \(expect-lcd\): bad regular expression/],
    ['- expect-state: code', /step 1 \(expect-state\): expected a mapping of state fields/],
    ['- expect-state: {colour: blue}', /step 1 \(expect-state\): unknown field "colour" \(one of /],
  ];
  for (const [i, [yaml, message]] of bad.entries()) {
    const b = await cli(['run', d, write(`bad${i}.yaml`, yaml)]);
    t.equal(b.code, 2, `${JSON.stringify(yaml)}: exit 2`);
    t.match(b.stderr, /^kodeviser: bad\d+\.yaml|^kodeviser: .*bad\d+\.yaml/);
    t.match(b.stderr, message);
    t.equal(b.stderr.split('\n').length, 2, 'one line');
  }
  const missing = await cli(['run', d, join(dir, 'none.yaml')]);
  t.equal(missing.code, 1);
  t.match(missing.stderr, /cannot read .*none\.yaml: no such file/);
});
