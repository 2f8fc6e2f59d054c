/**
 * The commands run in-process (main() with captured output and a fixed host clock): manufacture,
 * press, hold, info, and every error path — non-zero exit, one line on stderr, no stack trace,
 * no temporary file left behind.
 */
import t, { type Test } from 'tap';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createOtp, hexToBytes, isValidSerial, makeSerial } from '@kodeviser/shared';
import { parsePskc } from '@kodeviser/shared/pskc';
import { cli, HOST_NOW_MS, tempDir } from './cli-helpers.js';

const RFC_KEY = '3132333435363738393031323334353637383930';

/** Exactly one line on stderr, `kodeviser: …`, and no stack trace. */
function oneLine(t: Test, stderr: string, pattern: RegExp): void {
  t.equal(stderr.split('\n').length, 2, `one line: ${JSON.stringify(stderr)}`);
  t.match(stderr, /^kodeviser: /);
  t.notMatch(stderr, /\n\s+at /, 'no stack trace');
  t.match(stderr, pattern);
}

async function manufacture(dir: string, args: string[], name = 'd.json'): Promise<string> {
  const out = join(dir, name);
  const r = await cli(['manufacture', ...args, '--out', out]);
  if (r.code !== 0) throw new Error(`manufacture failed: ${r.stderr}`);
  return out;
}

const device = (path: string) =>
  JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown> & {
    serial: string;
    trueTimeUs: number;
    crystal: { offsetPpm: number };
  };

t.test("help: the command list and every command's options", async (t) => {
  const top = await cli(['--help']);
  t.equal(top.code, 0);
  for (const c of ['manufacture', 'press', 'hold', 'info', 'step', 'run', 'lifetime']) t.match(top.stdout, new RegExp(`\\n  ${c} `));
  t.same(await cli([]), top, 'no command: the same help');
  for (const c of ['manufacture', 'press', 'hold', 'info', 'step', 'run', 'lifetime']) {
    const r = await cli([c, '--help']);
    t.equal(r.code, 0, `${c} --help`);
    t.match(r.stdout, new RegExp(`^usage: kodeviser ${c}`));
    t.match(r.stdout, /-h, --help/);
  }
  t.match((await cli(['step', '--help'])).stdout, /left unchanged unless --save/);
});

t.test('manufacture: a sealed device image, to stdout or a file', async (t) => {
  const dir = tempDir(t);
  const r = await cli(['manufacture', '--profile', 'totp-sha1']);
  t.equal(r.code, 0);
  const d = JSON.parse(r.stdout) as {
    format: string;
    version: number;
    serial: string;
    profile: string;
    digits: number;
    step: number;
    manufacturedAt: string;
    crystal: { offsetPpm: number };
  };
  t.equal(d.format, 'kodeviser-device');
  t.equal(d.version, 1);
  t.equal(d.profile, 'totp-sha1');
  t.equal(d.digits, 6);
  t.equal(d.step, 30);
  t.ok(isValidSerial(d.serial), 'a random serial with a valid Luhn digit');
  t.equal(d.manufacturedAt, new Date(HOST_NOW_MS).toISOString(), 'made at the host clock');
  t.ok(Math.abs(d.crystal.offsetPpm) <= 20, 'a random crystal offset within ±20 ppm');
  t.notMatch(r.stdout, /"key"/, 'the key lives only in the NVM image');

  const offsets = new Set<number>();
  for (let i = 0; i < 4; i++) offsets.add(JSON.parse((await cli(['manufacture', '--profile', 'hotp-aes128'])).stdout).crystal.offsetPpm);
  t.ok(offsets.size > 1, 'each device gets its own crystal');

  const out = join(dir, 'x.json');
  const made = await cli([
    'manufacture',
    '--profile',
    'hotp-tdes',
    '--digits',
    '8',
    '--serial',
    '12-3456789-7',
    '--drift-ppm',
    '0',
    '--counter',
    '41',
    '--at',
    '2024-05-01T12:00:00Z',
    '--out',
    out,
  ]);
  t.equal(made.code, 0);
  t.equal(made.stdout, `manufactured 12-3456789-7 (hotp-tdes) -> ${out}\n`);
  const x = device(out);
  t.equal(x.serial, '1234567897');
  t.equal(x.digits, 8);
  t.equal(x.crystal.offsetPpm, 0);
  t.equal(x.manufacturedAt, '2024-05-01T12:00:00.000Z');
  const info = JSON.parse((await cli(['info', out, '--json'])).stdout) as { movingFactor: number };
  t.equal(info.movingFactor, 41, 'the first press will use --counter');
  const step60 = await cli(['manufacture', '--profile', 'totp-sha256', '--step', '60']);
  t.equal(JSON.parse(step60.stdout).step, 60);
});

t.test('manufacture --key: the device shows the codes of that key', async (t) => {
  const dir = tempDir(t);
  const key = '000102030405060708090a0b0c0d0e0f';
  const out = await manufacture(dir, ['--profile', 'hotp-aes128', '--key', key, '--drift-ppm', '0']);
  const r = await cli(['press', out, '--advance', '1s', '--json']);
  t.equal(r.code, 0);
  const j = JSON.parse(r.stdout) as { code: string; lcd: string; movingFactor: number };
  t.equal(j.code, '518507', 'docs/otp-algorithms.md: hotp-aes128, C = 0');
  t.equal(j.code, createOtp({ profile: 'hotp-aes128', key: hexToBytes(key) }).generate(0));
  t.equal(j.movingFactor, 0, 'the counter of the code shown, not of the next press');
  t.match(j.lcd, /518507/);
});

t.test('manufacture a batch with a PSKC seed file the server can import', async (t) => {
  const dir = tempDir(t);
  const batch = join(dir, 'batch');
  const pskc = join(dir, 'seeds.pskc');
  const r = await cli([
    'manufacture',
    '--profile',
    'totp-sha256',
    '--count',
    '3',
    '--dir',
    batch,
    '--serial',
    makeSerial('100000000'),
    '--pskc',
    pskc,
  ]);
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stdout, `manufactured 3 totp-sha256 devices in ${batch}\n`);
  const files = readdirSync(batch).sort();
  t.equal(files.length, 3);
  const serials = files.map((f) => f.replace('.json', ''));
  t.same(
    serials.map((s) => s.slice(0, 9)),
    ['100000000', '100000001', '100000002'],
    'consecutive serials from --serial',
  );
  t.ok(serials.every(isValidSerial));
  const keys = parsePskc(readFileSync(pskc, 'utf8'));
  t.same(
    keys.map((k) => k.id),
    serials,
    'Key Id = serial',
  );
  t.same(
    keys.map((k) => k.serial),
    serials,
    'DeviceInfo/SerialNo = serial',
  );
  t.ok(keys.every((k) => k.profile === 'totp-sha256' && k.secret.length === 32 && k.digits === 6 && k.timeInterval === 30));
  t.not(Buffer.from(keys[0]!.secret).toString('hex'), Buffer.from(keys[1]!.secret).toString('hex'), 'each device has its own key');
  // the seed file's key is the device's key: the device shows the code the seed predicts
  const file = join(batch, files[0]!);
  const press = JSON.parse((await cli(['press', file, '--advance', '10s', '--json'])).stdout) as { code: string; movingFactor: number };
  t.equal(press.code, createOtp({ profile: 'totp-sha256', key: keys[0]!.secret }).generate(press.movingFactor));

  const hotpPskc = join(dir, 'hotp.pskc');
  const psk = '00112233445566778899aabbccddeeff';
  const h = await cli([
    'manufacture',
    '--profile',
    'hotp-sha1',
    '--counter',
    '5',
    '--pskc',
    hotpPskc,
    '--pskc-key',
    psk,
    '--out',
    join(dir, 'h.json'),
  ]);
  t.equal(h.code, 0);
  const xml = readFileSync(hotpPskc, 'utf8');
  t.match(xml, /EncryptedValue/, 'secrets encrypted under the pre-shared key');
  t.throws(() => parsePskc(xml), 'unreadable without the key');
  const [hk] = parsePskc(xml, { preSharedKey: hexToBytes(psk) });
  t.equal(hk?.counter, 5);
  t.equal(hk?.profile, 'hotp-sha1');
  const hp = JSON.parse((await cli(['press', join(dir, 'h.json'), '--advance', '1s', '--json'])).stdout) as { code: string };
  t.equal(hp.code, createOtp({ profile: 'hotp-sha1', key: hk!.secret }).generate(5));
});

t.test('press: totp at a true time, hotp counting up, the device file updated', async (t) => {
  const dir = tempDir(t);
  const totp = await manufacture(
    dir,
    ['--profile', 'totp-sha1', '--key', RFC_KEY, '--drift-ppm', '0', '--at', '2009-02-13T23:00:00Z'],
    't.json',
  );
  const r = await cli(['press', totp, '--at', '2009-02-13T23:31:30Z', '--json']);
  t.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout) as Record<string, unknown>;
  t.same(Object.keys(j), ['serial', 'lcd', 'code', 'movingFactor', 'batteryPercent', 'deviceTime']);
  t.equal(j.code, '005924', 'RFC 6238 Appendix B, 1234567890 s, 6 digits');
  t.equal(j.movingFactor, 41152263);
  t.equal(j.deviceTime, '2009-02-13T23:31:30.000Z', 'an ideal crystal reads true time');
  t.equal(device(totp).trueTimeUs >= Date.UTC(2009, 1, 13, 23, 31, 30) * 1000, true, 'the file carries the new true time');
  const plain = await cli(['press', totp, '--advance', '1m']);
  t.match(plain.stdout, /^.{8}\n$/, 'the 8-character LCD');
  const art = await cli(['press', totp, '--advance', '1m', '--lcd']);
  t.equal(art.stdout.split('\n').length, 5, 'the LCD line and three lines of segments');
  const both = JSON.parse((await cli(['press', totp, '--advance', '1m', '--json', '--lcd'])).stdout) as { art: string };
  t.equal(both.art.split('\n').length, 3);
  const host = await cli(['press', totp, '--json'], { nowMs: HOST_NOW_MS });
  t.equal((JSON.parse(host.stdout) as { deviceTime: string }).deviceTime.slice(0, 4), '2026', 'no --at/--advance: the host clock');

  const hotp = await manufacture(dir, ['--profile', 'hotp-sha1', '--key', RFC_KEY, '--drift-ppm', '0'], 'h.json');
  const seen: Array<{ code: string; movingFactor: number }> = [];
  for (let i = 0; i < 3; i++) seen.push(JSON.parse((await cli(['press', hotp, '--advance', '40s', '--json'])).stdout));
  t.same(
    seen.map((s) => s.code),
    ['755224', '287082', '359152'],
    'RFC 4226 Appendix D, counters 0..2',
  );
  t.ok(seen[0]!.movingFactor < seen[1]!.movingFactor && seen[1]!.movingFactor < seen[2]!.movingFactor, 'the counter increases');

  const back = await cli(['press', hotp, '--at', '2020-06-01T12:00:00Z', '--json']);
  t.equal(back.code, 0);
  t.match(
    back.stderr,
    /^kodeviser: note: 2020-06-01T12:00:00\.000Z is before the device's last known time 2026-01-01T00:02:\d\d\.\d+Z; its history moves back 2039\.\d days\n$/,
  );
  t.equal((JSON.parse(back.stdout) as { code: string }).code, '969429', 'moving history back keeps the counter: RFC 4226 counter 3');
  const moved = JSON.parse((await cli(['info', hotp, '--json'])).stdout) as {
    manufacturedAt: string;
    driftPpm: number;
    codesShown: number;
  };
  t.equal(moved.manufacturedAt.slice(0, 10), '2020-06-01', 'manufacture moved back with the rest of the history');
  t.equal(moved.codesShown, 4);
  t.equal(moved.driftPpm, 0);

  const warm = await cli(['press', totp, '--advance', '1m', '--temp', '50', '--json']);
  t.equal(warm.code, 0);
  t.equal((JSON.parse((await cli(['info', totp, '--json'])).stdout) as { outOfSpec: boolean }).outOfSpec, true, '50 °C is out of spec');
});

t.test('hold --for 6s opens the information menu', async (t) => {
  const dir = tempDir(t);
  const d = await manufacture(dir, ['--profile', 'hotp-sha1']);
  const r = await cli(['hold', d, '--for', '6s', '--advance', '1m']);
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stdout, '       0\n', 'the first menu item: the event counter');
  const j = JSON.parse((await cli(['hold', d, '--for', '7s', '--advance', '1m', '--json'])).stdout) as { code: string | null; lcd: string };
  t.same(j, { ...j, code: null, lcd: '       0' }, 'no code is shown, the counter did not move');
  const short = await cli(['hold', d, '--for', '200ms', '--advance', '5m', '--json']);
  t.equal((JSON.parse(short.stdout) as { code: string | null }).code?.length, 6, 'a short hold is a press');
});

t.test('info: the label, both battery figures and the drift', async (t) => {
  const dir = tempDir(t);
  const d = await manufacture(dir, ['--profile', 'totp-aes128', '--drift-ppm', '10', '--serial', '1234567897']);
  await cli(['press', d, '--advance', '1d']);
  const r = await cli(['info', d]);
  t.equal(r.code, 0);
  t.match(r.stdout, /^serial {9}12-3456789-7\n/);
  t.match(r.stdout, /\nprofile {8}totp-aes128, 6 digits, 30 s step\n/);
  t.match(r.stdout, /\nbattery {8}\d+ % by the firmware's counter, \d+\.\d\d % true charge\n/);
  t.match(r.stdout, /\ndevice time {4}\S+ \(\+0\.86\d s, \+10\.0\d+ ppm since manufacture\)\n/, '10 ppm of a day is 0.864 s');
  t.match(r.stdout, /\ncodes shown {4}1\n/);
  const step = Math.floor((Date.UTC(2026, 0, 2) / 1000 + 0.864) / 30);
  t.match(r.stdout, new RegExp(`\\nmoving factor  ${step} \\(the time step by the device's clock\\)\\n`));
  const j = JSON.parse((await cli(['info', d, '--json'])).stdout) as {
    driftPpm: number;
    batteryPercent: number;
    batteryTruePercent: number;
  };
  t.ok(j.driftPpm > 9.9 && j.driftPpm < 10.2, `drift ${j.driftPpm} ppm`);
  t.ok(j.batteryPercent > 90 && j.batteryTruePercent > 90);
  const h = await manufacture(dir, ['--profile', 'hotp-sha1'], 'h.json');
  t.match((await cli(['info', h])).stdout, /\nmoving factor  0 \(the counter of the next press\)\n/);
});

t.test('negative values as the help writes them: --drift-ppm -20, --temp -5', async (t) => {
  // node:util parseArgs alone calls "-20" an ambiguous option; args.ts joins it to its flag.
  const dir = tempDir(t);
  const d = await manufacture(dir, ['--profile', 'totp-sha1', '--drift-ppm', '-20']);
  t.equal(device(d).crystal.offsetPpm, -20, 'the crystal runs 20 ppm slow');
  const r = await cli(['press', d, '--temp', '-5', '--advance', '1d', '--json']);
  t.equal(r.code, 0, r.stderr);
  t.equal((device(d) as { temperatureC?: number }).temperatureC, -5, 'the device now sits at -5 °C');
  const bad = await cli(['manufacture', '--profile', 'totp-sha1', '--drift-ppm', '-x']);
  t.equal(bad.code, 2, 'a dash that is no number is still refused');
});

t.test('every bad input: a non-zero exit and one line', async (t) => {
  const dir = tempDir(t);
  const d = await manufacture(dir, ['--profile', 'totp-sha1', '--at', '2026-01-01T00:00:00Z']);
  const cases: Array<[string, string[], number, RegExp]> = [
    ['unknown command', ['frobnicate'], 2, /unknown command "frobnicate"/],
    ['missing file', ['press', join(dir, 'nope.json')], 1, /cannot read .*nope\.json: no such file or directory/],
    ['bad duration', ['press', d, '--advance', '5x'], 2, /--advance must be a duration/],
    ['bad key', ['manufacture', '--profile', 'hotp-sha1', '--key', 'xyz'], 2, /--key/],
    ['bad key length', ['manufacture', '--profile', 'hotp-aes128', '--key', '0011'], 2, /key/],
    ['unknown profile', ['manufacture', '--profile', 'totp-md5'], 2, /unknown profile "totp-md5"/],
    ['no profile', ['manufacture'], 2, /--profile is required/],
    ['bad ISO time', ['press', d, '--at', 'tomorrow'], 2, /--at must be an ISO 8601 time/],
    ['unknown flag', ['press', d, '--turbo'], 2, /Unknown option '--turbo'/],
    ['--at and --advance', ['press', d, '--at', '2026-01-02T00:00:00Z', '--advance', '1s'], 2, /not both/],
    ['bad digits', ['manufacture', '--profile', 'hotp-sha1', '--digits', '9'], 2, /--digits/],
    ['bad step', ['manufacture', '--profile', 'totp-sha1', '--step', '45'], 2, /--step must be 30 or 60/],
    ['bad serial', ['manufacture', '--profile', 'totp-sha1', '--serial', '1234567890'], 2, /--serial/],
    ['bad temperature', ['press', d, '--temp', 'hot'], 2, /--temp/],
    ['hold without --for', ['hold', d], 2, /--for DURATION is required/],
    ['--count without --dir', ['manufacture', '--profile', 'totp-sha1', '--count', '2'], 2, /--count needs --dir/],
    ['--out with --dir', ['manufacture', '--profile', 'totp-sha1', '--out', 'a', '--dir', 'b'], 2, /cannot be used together/],
    [
      'a shared key',
      ['manufacture', '--profile', 'totp-sha1', '--key', RFC_KEY, '--count', '2', '--dir', dir],
      2,
      /each device gets its own key/,
    ],
    ['--pskc-key alone', ['manufacture', '--profile', 'totp-sha1', '--pskc-key', '00'.repeat(16)], 2, /needs --pskc/],
    ['--pskc-key length', ['manufacture', '--profile', 'totp-sha1', '--pskc', 'x', '--pskc-key', '0011'], 2, /16, 24 or 32 bytes/],
    [
      'serial run overflow',
      ['manufacture', '--profile', 'totp-sha1', '--serial', makeSerial('999999999'), '--count', '2', '--dir', join(dir, 'o')],
      2,
      /passes 999999999/,
    ],
    ['extra argument', ['info', d, 'more'], 2, /expected FILE, got/],
    ['lifetime without N', ['lifetime', '--profile', 'totp-sha1'], 2, /--presses-per-day is required/],
    ['lifetime without profile', ['lifetime', '--presses-per-day', '3'], 2, /--profile is required/],
  ];
  for (const [what, argv, code, message] of cases) {
    const r = await cli(argv);
    t.equal(r.code, code, `${what}: exit ${code}`);
    oneLine(t, r.stderr, message);
  }

  const file = (name: string, content: unknown): string => {
    const p = join(dir, name);
    writeFileSync(p, typeof content === 'string' ? content : JSON.stringify(content));
    return p;
  };
  const good = device(d);
  for (const [what, path, message] of [
    ['unknown format version', file('v2.json', { ...good, version: 2 }), /field version must be 1, got 2/],
    ['not a device file', file('other.json', { hello: 'world' }), /field format must be "kodeviser-device"/],
    ['not JSON', file('junk.json', 'PK\u0003\u0004'), /is not JSON/],
  ] as const) {
    const r = await cli(['press', path]);
    t.equal(r.code, 1, `${what}: exit 1`);
    oneLine(t, r.stderr, message);
  }
});

t.test('a failing write leaves the old file and no temporary file behind', async (t) => {
  const dir = tempDir(t);
  mkdirSync(join(dir, 'taken'));
  const r = await cli(['manufacture', '--profile', 'totp-sha1', '--out', join(dir, 'taken')]);
  t.equal(r.code, 1);
  oneLine(t, r.stderr, /cannot write .*taken: /);
  t.same(readdirSync(dir), ['taken'], 'no temporary file');
  t.same(readdirSync(join(dir, 'taken')), [], 'nothing written into the directory in the way');

  const missing = await cli(['manufacture', '--profile', 'totp-sha1', '--out', join(dir, 'no', 'such', 'd.json')]);
  t.equal(missing.code, 1);
  oneLine(t, missing.stderr, /no such file or directory/);
});
