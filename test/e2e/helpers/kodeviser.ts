/**
 * The real `kodeviser` CLI (emulator/bin/kodeviser.js, the compiled bin), one process per
 * command, exactly as a user types it: `manufacture … --pskc FILE --pskc-key HEX` makes a device
 * file and the issuer's seed file, `press FILE --at ISO --json` presses it at a true time.
 * Many presses in a row (to move a hotp counter far ahead) go through `run FILE SCENARIO --save`
 * in one process, since a process per press would cost the suite seconds for nothing it checks.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { profileInfo, type ProfileName } from '@kodeviser/shared';
import { KODEVISER_BIN, ROOT } from './build.js';
import type { E2eServer } from './server.js';

const run = promisify(execFile);

/** Natural key lengths (bytes) by primitive, as docs/otp-algorithms.md recommends. */

export interface Device {
  file: string;
  serial: string;
  profile: ProfileName;
  /** the seed, hex (the suite made it, so it can tell a wrong code from a right one) */
  keyHex: string;
  /** the PSKC seed file manufacture wrote (secrets encrypted under the server's PSKC key) */
  pskc: string;
}

export interface Press {
  serial: string;
  lcd: string;
  code: string | null;
  /** the hotp counter or totp step of the code shown (null when none is) */
  movingFactor: number;
  batteryPercent: number;
  deviceTime: string;
}

export async function kodeviser(args: readonly string[]): Promise<{ stdout: string; stderr: string }> {
  return run(process.execPath, [KODEVISER_BIN, ...args], { cwd: ROOT, encoding: 'utf8' });
}

export const iso = (ms: number): string => new Date(ms).toISOString();

export interface ManufactureOptions {
  profile: ProfileName;
  /** true time of manufacture, unix ms */
  at: number;
  driftPpm?: number;
  /** a name for the device file, unique in `dir` */
  name: string;
}

/**
 * `kodeviser manufacture` with a known key (registered as a secret of `server`, with the PSKC
 * key it is encrypted under), writing DIR/NAME.json and DIR/NAME.pskc.xml.
 */
export async function manufacture(server: E2eServer, dir: string, o: ManufactureOptions): Promise<Device> {
  const keyHex = server.secret(randomBytes(profileInfo(o.profile).keyBytes).toString('hex'));
  const file = join(dir, `${o.name}.json`);
  const pskcFile = join(dir, `${o.name}.pskc.xml`);
  await kodeviser([
    'manufacture',
    '--profile',
    o.profile,
    '--key',
    keyHex,
    '--at',
    iso(o.at),
    '--drift-ppm',
    String(o.driftPpm ?? 0),
    '--out',
    file,
    '--pskc',
    pskcFile,
    '--pskc-key',
    server.pskcKeyHex,
  ]);
  const device = JSON.parse(readFileSync(file, 'utf8')) as { serial: string };
  return { file, serial: device.serial, profile: o.profile, keyHex, pskc: readFileSync(pskcFile, 'utf8') };
}

/** `kodeviser press FILE --at ISO --json [--temp C]`; the code shown is registered as a secret. */
export async function press(server: E2eServer, device: Device, atMs: number, opts: { temp?: number } = {}): Promise<Press> {
  const args = ['press', device.file, '--at', iso(atMs), '--json'];
  if (opts.temp !== undefined) args.push('--temp', String(opts.temp));
  const { stdout } = await kodeviser(args);
  const shown = JSON.parse(stdout) as Press;
  if (shown.code !== null) server.secret(shown.code);
  return shown;
}

/**
 * `n` presses in one `kodeviser run … --save` process, each followed by 31 s (the display goes
 * off after 30 s, so every press shows a new code). Starts at the device's last known time.
 */
export async function pressMany(server: E2eServer, device: Device, n: number, scratchDir: string): Promise<void> {
  const scenario = join(scratchDir, `${device.serial}-presses.yaml`);
  writeFileSync(scenario, `${Array.from({ length: n }, () => '- press\n- advance: 31s\n').join('')}`);
  const { stdout } = await kodeviser(['run', device.file, scenario, '--save']);
  // run prints the LCD after every step: the codes nobody sends are secrets all the same.
  for (const m of stdout.matchAll(/LCD " ([0-9]{6,8}) "/g)) server.secret(m[1] as string);
}

/** A day and a minute in ms. */
export const DAY = 86_400_000;
export const MINUTE = 60_000;

/**
 * `kodeviser hold FILE --for 6s --advance DURATION --json`: time passes and the button is held
 * into the information menu, so the device runs on (its battery counter with it) without
 * showing a code or spending a hotp counter.
 */
export async function holdAfter(device: Device, advance: string): Promise<Press> {
  const { stdout } = await kodeviser(['hold', device.file, '--for', '6s', '--advance', advance, '--json']);
  return JSON.parse(stdout) as Press;
}
