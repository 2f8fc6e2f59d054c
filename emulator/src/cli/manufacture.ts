/**
 * `kodeviser manufacture`: the factory line. Personalises a token through the firmware's factory
 * commands (Machine.manufacture), seals it, and writes its image; optionally also the issuer's
 * seed file in RFC 6030 PSKC (the format OATH tokens ship with), Key Id and DeviceInfo/SerialNo
 * both the serial, so the validation server can import exactly the keys the devices hold.
 * Keys come from node:crypto's CSPRNG unless --key is given; serials are 9 random digits plus
 * a Luhn check digit unless --serial is.
 */
import { randomBytes, randomInt } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { formatSerial, makeSerial, parseSerial, profileInfo, type ProfileName } from '@kodeviser/shared';
import { writePskc, type PskcKeyInput } from '@kodeviser/shared/pskc';
import { Machine } from '../machine.js';
import {
  helpText,
  parseCommand,
  parseIntArg,
  parseIsoTimeMs,
  parseKeyArg,
  parseNumberArg,
  parseProfileArg,
  type CommandSpec,
} from './args.js';
import { deviceJson } from './device.js';
import { usageError } from './errors.js';
import { writeFileAtomic } from './files.js';
import type { CliIo } from './io.js';

const spec = {
  name: 'manufacture',
  usage:
    'manufacture --profile P [--digits 6] [--step 30] [--serial S] [--key HEX] [--counter N]\n       [--drift-ppm X] [--at ISO-TIME] [--out FILE | --count N --dir DIR] [--pskc FILE [--pskc-key HEX]]',
  help: `
Personalises and seals device images. Without --out or --dir the device JSON goes to stdout.
  --profile P       one of hotp|totp - sha1|sha256|sha512|aes128|aes192|aes256|tdes
  --digits N        code length, 6..8 (default 6)
  --step S          totp time step in seconds, 30 or 60 (default 30)
  --serial S        ten digits with a Luhn check digit (NN-NNNNNNN-N or plain); default random;
                    with --count, the first of a run of consecutive serials
  --key HEX         the secret key (default: random from the CSPRNG, the profile's natural length)
  --counter N       hotp: the counter of the first press (default 0)
  --drift-ppm X     the crystal's offset at 25 °C in ppm (default: random within ±20; 0: ideal)
  --at ISO-TIME     the true time of manufacture (default: the host clock)
  --out FILE        write the device image to FILE
  --count N         make N devices (needs --dir)
  --dir DIR         write each device to DIR/<serial>.json
  --pskc FILE       also write the server's seed file (RFC 6030 PSKC) for the devices made
  --pskc-key HEX    encrypt the secrets in the PSKC file under this pre-shared AES key (16/24/32 bytes)`,
  options: {
    profile: { type: 'string' },
    digits: { type: 'string' },
    step: { type: 'string' },
    serial: { type: 'string' },
    key: { type: 'string' },
    counter: { type: 'string' },
    'drift-ppm': { type: 'string' },
    at: { type: 'string' },
    out: { type: 'string' },
    count: { type: 'string' },
    dir: { type: 'string' },
    pskc: { type: 'string' },
    'pskc-key': { type: 'string' },
  },
  positionals: [],
} satisfies CommandSpec<Record<string, { type: 'string' | 'boolean' }>>;

export async function manufacture(argv: readonly string[], io: CliIo): Promise<number> {
  const parsed = parseCommand(spec, argv);
  if (parsed.help) {
    io.stdout(helpText(spec));
    return 0;
  }
  const v = parsed.values;
  if (v.profile === undefined) throw usageError('manufacture: --profile is required');
  const profile: ProfileName = parseProfileArg(v.profile, '--profile');
  const digits = v.digits === undefined ? 6 : parseIntArg(v.digits, '--digits', 6, 8);
  const step = v.step === undefined ? 30 : parseIntArg(v.step, '--step', 30, 60);
  if (step !== 30 && step !== 60) throw usageError(`--step must be 30 or 60, got ${step}`);
  const key = v.key === undefined ? undefined : parseKeyArg(v.key, '--key');
  const counter = v.counter === undefined ? 0 : parseIntArg(v.counter, '--counter', 0, Number.MAX_SAFE_INTEGER);
  const driftPpm = v['drift-ppm'] === undefined ? undefined : parseNumberArg(v['drift-ppm'], '--drift-ppm', -200, 200);
  const manufacturedAt = v.at === undefined ? io.nowMs() : parseIsoTimeMs(v.at, '--at');
  const pskcKey = v['pskc-key'] === undefined ? undefined : parseKeyArg(v['pskc-key'], '--pskc-key');
  if (pskcKey !== undefined && v.pskc === undefined) throw usageError('--pskc-key needs --pskc FILE');
  if (pskcKey !== undefined && ![16, 24, 32].includes(pskcKey.length)) {
    throw usageError(`--pskc-key must be an AES key of 16, 24 or 32 bytes, got ${pskcKey.length}`);
  }
  const count = v.count === undefined ? 1 : parseIntArg(v.count, '--count', 1, 100_000);
  if (v.count !== undefined && v.dir === undefined) throw usageError('--count needs --dir DIR');
  if (v.out !== undefined && v.dir !== undefined) throw usageError('--out and --dir cannot be used together');
  if (key !== undefined && count > 1) throw usageError('--key cannot be shared by --count devices: each device gets its own key');

  let firstSerial: string | undefined;
  if (v.serial !== undefined) {
    try {
      firstSerial = parseSerial(v.serial);
    } catch {
      throw usageError(`--serial must be ten digits with a valid Luhn check digit, got ${JSON.stringify(v.serial)}`);
    }
  }
  const info = profileInfo(profile);
  const made: Array<{ serial: string; key: Uint8Array; machine: Machine }> = [];
  for (let i = 0; i < count; i++) {
    const serial = firstSerial === undefined ? randomSerial() : consecutiveSerial(firstSerial, i);
    const deviceKey = key ?? new Uint8Array(randomBytes(info.keyBytes));
    const machine = Machine.manufacture({
      profile,
      digits,
      step,
      serial,
      counter,
      manufacturedAt,
      key: deviceKey,
      driftPpm: driftPpm ?? randomInt(-20_000, 20_001) / 1000,
    });
    made.push({ serial, key: deviceKey, machine });
  }

  if (v.pskc !== undefined) {
    const keys = made.map(({ serial, key: secret }) => seedRecord({ serial, secret, profile, digits, step, counter }));
    writeFileAtomic(io.path(v.pskc), writePskc(keys, pskcKey === undefined ? {} : { preSharedKey: pskcKey }));
  }
  const first = made[0] as (typeof made)[number];
  if (v.dir !== undefined) {
    const dir = io.path(v.dir);
    mkdirSync(dir, { recursive: true });
    for (const m of made) writeFileAtomic(join(dir, `${m.serial}.json`), deviceJson(m.machine));
    io.stdout(`manufactured ${count} ${profile} device${count === 1 ? '' : 's'} in ${v.dir}\n`);
  } else if (v.out !== undefined) {
    writeFileAtomic(io.path(v.out), deviceJson(first.machine));
    io.stdout(`manufactured ${formatSerial(first.serial)} (${profile}) -> ${v.out}\n`);
  } else {
    io.stdout(deviceJson(first.machine));
  }
  return 0;
}

/** A device's seed as its PSKC record: Key Id and DeviceInfo/SerialNo both the serial. */
export function seedRecord(d: {
  serial: string;
  secret: Uint8Array;
  profile: ProfileName;
  digits: number;
  step: number;
  counter: number;
}): PskcKeyInput {
  return {
    id: d.serial,
    serial: d.serial,
    profile: d.profile,
    secret: d.secret,
    digits: d.digits,
    manufacturer: 'kodeviser',
    ...(profileInfo(d.profile).mode === 'hotp' ? { counter: d.counter } : { timeInterval: d.step, time: 0 }),
  };
}

/** Nine random digits and their Luhn check digit. */
export function randomSerial(): string {
  return makeSerial(String(randomInt(0, 1_000_000_000)).padStart(9, '0'));
}

function consecutiveSerial(first: string, i: number): string {
  const body = Number(first.slice(0, 9)) + i;
  if (body >= 1_000_000_000) throw usageError('--serial: the run of serials passes 999999999');
  return makeSerial(String(body).padStart(9, '0'));
}
