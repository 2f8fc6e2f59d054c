/**
 * What the token shows, against the OTP core (createOtp), against Debian's oathtool for the HMAC
 * profiles, and against RFC 6238 — and that a drifted crystal shows the code of its own step.
 */
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { PROFILES, bytesToHex, createOtp, type ProfileName } from '@kodeviser/shared';
import { YEAR_US } from '../src/crystal.js';
import { Machine } from '../src/machine.js';

const OATHTOOL = '/usr/bin/oathtool';
const hasOathtool = existsSync(OATHTOOL);
const ascii = (s: string): Uint8Array => new TextEncoder().encode(s);
/** RFC 6238 Appendix B seeds: the ASCII digits repeated to 20, 32 and 64 bytes */
const RFC_KEYS = {
  sha1: ascii('12345678901234567890'),
  sha256: ascii('12345678901234567890123456789012'),
  sha512: ascii('1234567890123456789012345678901234567890123456789012345678901234'),
} as const;
const KEYS: Record<string, Uint8Array> = {
  ...RFC_KEYS,
  aes128: Uint8Array.from({ length: 16 }, (_, i) => i),
  aes192: Uint8Array.from({ length: 24 }, (_, i) => i),
  aes256: Uint8Array.from({ length: 32 }, (_, i) => i),
  tdes: Uint8Array.from(Buffer.from('0123456789abcdef23456789abcdef01456789abcdef0123', 'hex')),
};
const RFC_TIME_MS = Date.parse('2009-02-13T23:31:30Z'); // unix 1234567890, the start of step 41152263

function make(
  profile: ProfileName,
  at = RFC_TIME_MS,
  more: { digits?: number; step?: number; driftPpm?: number; counter?: number } = {},
): Machine {
  return Machine.manufacture({
    profile,
    key: KEYS[profile.slice(5)]!,
    manufacturedAt: at,
    driftPpm: 0,
    agingPpm: 0,
    seed: 1,
    ...more,
  });
}

function oathtool(args: string[]): string {
  return execFileSync(OATHTOOL, args, { encoding: 'utf8' }).trim();
}

t.test('every profile shows createOtp(...).generate(c) for its moving factor', (t) => {
  for (const profile of PROFILES) {
    for (const digits of [6, 8]) {
      const m = make(profile, RFC_TIME_MS, { digits, counter: 5 });
      const otp = createOtp({ profile, key: KEYS[profile.slice(5)]!, digits });
      const shown: string[] = [];
      const expected: string[] = [];
      for (let i = 0; i < 3; i++) {
        m.press();
        shown.push(m.lcd().trim());
        const s = m.state();
        t.equal(s.screen, 'code');
        expected.push(otp.generate(profile.startsWith('hotp') ? 5 + i : otp.stepAt(Math.floor(m.deviceTime() / 1e6))));
        t.equal(s.lastCode, shown.at(-1), 'state and LCD agree');
        m.advance(31e6); // display off; totp: the next step
      }
      t.same(shown, expected, `${profile}, ${digits} digits`);
    }
  }
  t.end();
});

t.test('HOTP-SHA-1 shows the RFC 4226 Appendix D codes', (t) => {
  const m = make('hotp-sha1');
  const codes: string[] = [];
  for (let i = 0; i < 10; i++) {
    m.press();
    codes.push(m.lcd().trim());
    m.press(); // a press while a code is up turns the display off
    t.equal(m.lcd(), '        ');
  }
  t.same(codes, ['755224', '287082', '359152', '969429', '338314', '254676', '287922', '162583', '399871', '520489']);
  t.end();
});

t.test('TOTP at 2009-02-13T23:31:30Z with 0 ppm: RFC 6238 Appendix B', (t) => {
  const expected = { 'totp-sha1': '89005924', 'totp-sha256': '91819424', 'totp-sha512': '93441116' } as const;
  for (const [profile, code] of Object.entries(expected)) {
    const m = make(profile as ProfileName, RFC_TIME_MS, { digits: 8 });
    m.press();
    t.equal(m.lcd(), code, profile);
    t.equal(m.state().movingFactor, 41152263);
  }
  t.end();
});

t.test(
  'the HMAC profiles agree with oathtool',
  { skip: hasOathtool ? false : `${OATHTOOL} is not installed (apt-get install oathtool)` },
  (t) => {
    const hotp = make('hotp-sha1', RFC_TIME_MS, { counter: 1000 });
    for (let c = 1000; c < 1005; c++) {
      hotp.press();
      t.equal(hotp.lcd().trim(), oathtool(['--hotp', '-d', '6', '-c', String(c), bytesToHex(RFC_KEYS.sha1)]), `hotp-sha1 c=${c}`);
      hotp.advance(31e6);
    }
    for (const hash of ['sha1', 'sha256', 'sha512'] as const) {
      for (const step of [30, 60]) {
        // a minute and a bit after the RFC time, manufactured a day earlier
        const m = make(`totp-${hash}`, RFC_TIME_MS - 86_400_000, { digits: 8, step });
        m.advanceTo((RFC_TIME_MS + 75_000) * 1000);
        m.press();
        const at = Math.floor(m.deviceTime() / 1e6);
        t.equal(
          m.lcd(),
          oathtool([`--totp=${hash}`, '-s', String(step), '-d', '8', '-N', `@${at}`, bytesToHex(RFC_KEYS[hash])]),
          `totp-${hash} step ${step}`,
        );
      }
    }
    t.end();
  },
);

t.test('a drifted device shows the code of its own (drifted) time step', (t) => {
  const made = Date.UTC(2024, 0, 1);
  const m = make('totp-sha1', made, { driftPpm: 20 });
  const otp = createOtp({ profile: 'totp-sha1', key: RFC_KEYS.sha1 });
  // after a year the crystal is 631 s ahead: about 21 steps
  const trueUs = made * 1000 + YEAR_US + 10e6;
  m.advanceTo(trueUs);
  const aheadS = (m.deviceTime() - m.now()) / 1e6;
  t.ok(aheadS > 631 && aheadS < 632, `ahead by ${aheadS.toFixed(1)} s`);
  m.press();
  const deviceStep = otp.stepAt(Math.floor(m.deviceTime() / 1e6));
  const trueStep = otp.stepAt(Math.floor(m.now() / 1e6));
  t.equal(deviceStep - trueStep, 21);
  t.equal(m.lcd().trim(), otp.generate(deviceStep));
  t.not(m.lcd().trim(), otp.generate(trueStep));
  t.equal(m.state().movingFactor, deviceStep);
  t.end();
});
