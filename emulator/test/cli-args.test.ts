import t from 'tap';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  helpText,
  parseCommand,
  parseDurationUs,
  parseIntArg,
  parseIsoTimeMs,
  parseKeyArg,
  parseNumberArg,
  parseProfileArg,
} from '../src/cli/args.js';
import { CliError, EXIT_RUNTIME, EXIT_USAGE } from '../src/cli/errors.js';
import { readJson, readText, writeFileAtomic } from '../src/cli/files.js';
import { hexDump, isoUs, signedSeconds, stateDiff, traceLine } from '../src/cli/format.js';

const usage = (fn: () => unknown, message: RegExp) => {
  try {
    fn();
  } catch (e) {
    return e instanceof CliError && e.exitCode === EXIT_USAGE && message.test(e.message);
  }
  return false;
};

t.test('durations in every unit the CLI documents', async (t) => {
  t.equal(parseDurationUs('250ms', 'd'), 250_000);
  t.equal(parseDurationUs('6s', 'd'), 6_000_000);
  t.equal(parseDurationUs('90s', 'd'), 90_000_000);
  t.equal(parseDurationUs('15m', 'd'), 900_000_000);
  t.equal(parseDurationUs('2h', 'd'), 7_200_000_000);
  t.equal(parseDurationUs('3d', 'd'), 259_200_000_000);
  t.equal(parseDurationUs('1y', 'd'), 31_557_600_000_000, 'a Julian year of 365.25 days');
  t.equal(parseDurationUs('1.5h', 'd'), 5_400_000_000);
  t.equal(parseDurationUs('7us', 'd'), 7);
  for (const bad of ['', '5', 'x', '-3s', '3 weeks', '1e3s', '5sec']) {
    t.ok(
      usage(() => parseDurationUs(bad, '--advance'), /^--advance must be a duration/),
      `refuses ${JSON.stringify(bad)}`,
    );
  }
  t.ok(usage(() => parseDurationUs('99999999999y', '--advance'), /too long/));
});

t.test('ISO times need a zone; impossible dates are refused', async (t) => {
  t.equal(parseIsoTimeMs('2009-02-13T23:31:30Z', '--at'), 1_234_567_890_000);
  t.equal(parseIsoTimeMs('2009-02-14T00:31:30+01:00', '--at'), 1_234_567_890_000);
  t.equal(parseIsoTimeMs('2009-02-13 23:31:30.5Z', '--at'), 1_234_567_890_500);
  for (const bad of ['2009-02-13T23:31:30', '2009-13-01T00:00:00Z', 'yesterday', '1234567890', '2009-02-13']) {
    t.ok(
      usage(() => parseIsoTimeMs(bad, '--at'), /^--at must be an ISO 8601 time/),
      `refuses ${bad}`,
    );
  }
});

t.test('numbers, keys and profiles', async (t) => {
  t.equal(parseIntArg('7', '--digits', 6, 8), 7);
  t.ok(usage(() => parseIntArg('9', '--digits', 6, 8), /^--digits must be an integer from 6 to 8, got "9"/));
  t.ok(usage(() => parseIntArg('6.5', '--digits', 6, 8), /--digits/));
  t.equal(parseNumberArg('-12.5', '--drift-ppm', -200, 200), -12.5);
  t.ok(usage(() => parseNumberArg('abc', '--temp', -60, 125), /^--temp must be a number/));
  t.ok(usage(() => parseNumberArg('500', '--temp', -60, 125), /^--temp/));
  t.same(parseKeyArg('0aff', '--key'), new Uint8Array([0x0a, 0xff]));
  t.ok(usage(() => parseKeyArg('xyz', '--key'), /--key/));
  t.ok(usage(() => parseKeyArg('', '--key'), /^--key must not be empty/));
  t.equal(parseProfileArg('totp-aes256', '--profile'), 'totp-aes256');
  t.ok(usage(() => parseProfileArg('totp-md5', '--profile'), /^--profile: unknown profile "totp-md5" \(one of hotp-sha1, /));
});

t.test('command lines: help wins, unknown flags and wrong argument counts are usage errors', async (t) => {
  const spec = {
    name: 'demo',
    usage: 'demo FILE [--n N]',
    help: 'Does a demo.\n  --n N   a number',
    options: { n: { type: 'string' }, v: { type: 'boolean' } },
    positionals: ['FILE'],
  } as const;
  t.same(parseCommand(spec, ['x', '--bogus', '--help']), { help: true });
  t.same(parseCommand(spec, ['-h']), { help: true });
  const ok = parseCommand(spec, ['f.json', '--n', '3', '--v']);
  t.same(ok, { help: false, values: { n: '3', v: true }, positionals: ['f.json'] });
  t.ok(usage(() => parseCommand(spec, ['f', '--bogus']), /^demo: Unknown option '--bogus'$/));
  t.ok(usage(() => parseCommand(spec, ['f', '--n']), /^demo: Option '--n <value>' argument missing$/));
  t.ok(usage(() => parseCommand(spec, []), /^demo: expected FILE, got none$/));
  t.ok(usage(() => parseCommand(spec, ['a', 'b']), /^demo: expected FILE, got "a" "b"$/));
  t.ok(usage(() => parseCommand({ ...spec, positionals: [] }, ['a']), /^demo: expected no arguments, got "a"$/));
  t.equal(helpText(spec), 'usage: kodeviser demo FILE [--n N]\n\nDoes a demo.\n  --n N   a number\n  -h, --help   show this help\n');
});

t.test('files: atomic replace, and failures that leave nothing behind', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kodeviser-files-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'd.json');
  writeFileAtomic(file, '{"a":1}\n');
  t.same(readJson(file), { a: 1 });
  writeFileAtomic(file, '{"a":2}\n');
  t.equal(readText(file), '{"a":2}\n');
  t.same(readdirSync(dir), ['d.json'], 'no temporary file is left');

  const fail = (fn: () => unknown, message: RegExp) => {
    try {
      fn();
    } catch (e) {
      return e instanceof CliError && e.exitCode === EXIT_RUNTIME && message.test(e.message);
    }
    return false;
  };
  t.ok(fail(() => readText(join(dir, 'missing.json')), /^cannot read .*missing\.json: no such file or directory$/));
  t.ok(fail(() => readText(dir), /: is a directory$/));
  writeFileSync(join(dir, 'bad.json'), '{nope');
  t.ok(fail(() => readJson(join(dir, 'bad.json')), /bad\.json is not JSON$/));
  t.ok(fail(() => writeFileAtomic(join(dir, 'no', 'such', 'dir.json'), 'x'), /cannot write .*: no such file or directory$/));
  // a target that cannot be replaced: a directory in the way of the rename
  t.ok(fail(() => writeFileAtomic(dir, 'x'), /cannot write .*: (is a directory|EBUSY|ENOTEMPTY|EEXIST)/));
  t.same(readdirSync(dir).sort(), ['bad.json', 'd.json'], 'the failed writes left no temporary file');
  if (process.getuid?.() !== 0) {
    chmodSync(dir, 0o500);
    t.ok(fail(() => writeFileAtomic(file, 'x'), /permission denied/));
    chmodSync(dir, 0o700);
  }
  t.equal(readFileSync(file, 'utf8'), '{"a":2}\n', 'the old file is untouched');
});

t.test('formatting helpers', async (t) => {
  t.equal(isoUs(1_234_567_890_123_456), '2009-02-13T23:31:30.123456Z');
  t.equal(signedSeconds(-1_500_000), '-1.500 s');
  t.equal(signedSeconds(20), '+0.000 s');
  t.same(stateDiff({ screen: 'off', lcd: [0], codesShown: 0, x: null }, { screen: 'code', lcd: [1], codesShown: 0, x: 3 }), [
    'screen: "off" -> "code"',
    'x: null -> 3',
  ]);
  const nvm = new Uint8Array(64).fill(0xff);
  nvm.set([0x41, 0x42, 0x00], 0);
  t.equal(
    hexDump(nvm),
    [
      '00000000  41 42 00 ff ff ff ff ff ff ff ff ff ff ff ff ff  |AB..............|',
      '00000010  ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff  |................|',
      '*',
      '00000030  ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff  |................|',
      '00000040',
    ].join('\n'),
  );
  const line = traceLine({
    trueUs: 1_234_567_890_000_000,
    deviceUs: 0,
    kind: 'event',
    what: 'factory-personalise',
    detail: { data: { key: new Uint8Array(20) }, bytes: new Uint8Array(3) },
  });
  t.equal(line, '2009-02-13T23:31:30.000000Z event  factory-personalise {"data":"<hidden>","bytes":"<3 bytes>"}', 'secrets are masked');
});
