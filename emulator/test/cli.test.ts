/**
 * The real `kodeviser` bin (compiled CLI in emulator/dist, built first when stale): the issue's
 * acceptance line against oathtool, the stepper on a pipe, one error path end to end, and the
 * `npx kodeviser` link.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, bin, ensureBuilt, ROOT, tempDir } from './cli-helpers.js';

const OATHTOOL = '/usr/bin/oathtool';
const KEY = '3132333435363738393031323334353637383930';

t.before(() => ensureBuilt());

t.test('acceptance: manufacture, then press --at prints the code oathtool computes', async (t) => {
  // the issue's line exactly: a token made now, pressed at RFC 6238's 2009 test time
  const dir = tempDir(t);
  const made = bin(['manufacture', '--profile', 'totp-sha1', '--key', KEY, '--drift-ppm', '0', '--out', 'd.json'], { cwd: dir });
  t.equal(made.code, 0, made.stderr);
  const pressed = bin(['press', 'd.json', '--at', '2009-02-13T23:31:30Z', '--json'], { cwd: dir });
  t.equal(pressed.code, 0, pressed.stderr);
  t.match(
    pressed.stderr,
    /^kodeviser: note: 2009-02-13T23:31:30\.000Z is before the device's last known time .*; its history moves back \d+\.\d days\n$/,
    "stderr says the device's history moved back",
  );
  const { code } = JSON.parse(pressed.stdout) as { code: string };
  t.equal(code, '005924', 'RFC 6238 Appendix B: 89005924 at 1234567890 s, last six digits');
  t.test(
    'equal to oathtool --totp',
    { skip: existsSync(OATHTOOL) ? false : `${OATHTOOL} is not installed: compared with the RFC 6238 value only` },
    async (t) => {
      const o = spawnSync(OATHTOOL, ['--totp', '-N', '2009-02-13 23:31:30 UTC', KEY], { encoding: 'utf8' });
      t.equal(code, o.stdout.trim());
    },
  );
});

t.test('the stepper reads a pipe', async (t) => {
  const dir = tempDir(t);
  const d = join(dir, 'd.json');
  t.equal(bin(['manufacture', '--profile', 'hotp-sha1', '--key', KEY, '--drift-ppm', '0', '--out', d]).code, 0);
  const r = bin(['step', d], { input: 'press\nlcd\nquit\n' });
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /-> "[ b]755224 ?"/, 'RFC 4226 counter 0 on the LCD');
  t.match(r.stdout, / _ {3}_ {3}_ /, 'lcd draws the segments');
});

t.test('an error: exit 1, one line, no stack trace, no temporary file', async (t) => {
  const dir = tempDir(t);
  const r = bin(['press', join(dir, 'missing.json')]);
  t.equal(r.code, 1);
  t.match(r.stderr, /^kodeviser: cannot read .*missing\.json: no such file or directory\n$/);
  const u = bin(['press', join(dir, 'missing.json'), '--bogus']);
  t.equal(u.code, 2);
  t.match(u.stderr, /^kodeviser: press: Unknown option '--bogus'\n$/);
  t.same(readdirSync(dir), []);
});

t.test('the sources run as a program too (node --import tsx emulator/src/cli/main.ts)', async (t) => {
  const r = spawnSync(
    process.execPath,
    ['--conditions=kodeviser-src', '--import', 'tsx', join(ROOT, 'emulator', 'src', 'cli', 'main.ts'), 'info', 'missing.json'],
    { cwd: ROOT, encoding: 'utf8' },
  );
  t.equal(r.status, 1);
  t.match(r.stderr, /^kodeviser: cannot read .*missing\.json: no such file or directory\n$/);
});

const LINK = join(ROOT, 'node_modules', '.bin', 'kodeviser');
t.test(
  'npx kodeviser: the workspace bin is linked at the root',
  {
    skip: existsSync(LINK)
      ? false
      : 'node_modules/.bin/kodeviser is missing: npm ci links it (this tree was installed before the bin existed)',
  },
  async (t) => {
    const link = LINK;
    t.equal(realpathSync(link), realpathSync(BIN));
    const r = spawnSync(link, ['--help'], { encoding: 'utf8' });
    t.equal(r.status, 0);
    t.match(r.stdout, /^usage: kodeviser <command>/);
  },
);
