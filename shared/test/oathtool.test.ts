/**
 * The HMAC profiles against an independent implementation, Debian's oathtool (OATH Toolkit),
 * as docs/otp-algorithms.md promises. CI installs it; where it is missing the tests say so.
 */
import { execFileSync } from 'node:child_process';
import t from 'tap';
import { bytesToHex, createOtp, MAX_MOVING_FACTOR, normalizeMovingFactor, type ProfileName } from '@kodeviser/shared';

const oathtool = ((): boolean => {
  try {
    execFileSync('oathtool', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
const skip = oathtool ? false : 'oathtool is not installed';

/** Keys of several lengths, including one longer than the SHA-1/SHA-256 block (hashed first). */
const KEYS = [10, 20, 32, 64, 100].map((n) => Uint8Array.from({ length: n }, (_, i) => (i * 73 + n) & 0xff));
const run = (args: string[]): string[] => execFileSync('oathtool', args, { encoding: 'utf8' }).trim().split('\n');

// oathtool's --hotp is SHA-1 only; for SHA-256/512 its TOTP at time c·30 s (T0 = 0) is HOTP at c.
const hotpArgs = (hash: string, start: number): string[] =>
  hash === 'sha1' ? ['--hotp', '-c', String(start)] : [`--totp=${hash}`, '-s', '30s', '-N', `@${start * 30}`];

t.test('hotp-sha1/256/512 equal oathtool over 40 counters each, across 2^32', { skip }, async (t) => {
  for (const hash of ['sha1', 'sha256', 'sha512'] as const) {
    for (const [k, key] of KEYS.entries()) {
      const digits = 6 + (k % 3);
      const start = k % 2 === 0 ? 0 : 2 ** 32 - 20;
      const otp = createOtp({ profile: `hotp-${hash}` as ProfileName, key, digits });
      const expected = run([...hotpArgs(hash, start), '-d', String(digits), '-w', '39', bytesToHex(key)]);
      t.same(
        Array.from({ length: 40 }, (_, i) => otp.generate(start + i)),
        expected,
        `${hash}, ${key.length}-byte key, from ${start}`,
      );
    }
  }
});

t.test('hotp-sha1 equals oathtool above 2^53, up to 2^63 − 1 (the counter as a bigint)', { skip }, async (t) => {
  const starts = [2n ** 53n - 5n, 16887061004979670n, 2n ** 62n + 2n ** 32n - 5n, MAX_MOVING_FACTOR - 9n];
  for (const [k, key] of KEYS.entries()) {
    const digits = 6 + (k % 3);
    const otp = createOtp({ profile: 'hotp-sha1', key, digits });
    for (const start of starts) {
      const expected = run(['--hotp', '-c', String(start), '-d', String(digits), '-w', '9', bytesToHex(key)]);
      t.same(
        Array.from({ length: 10 }, (_, i) => otp.generate(normalizeMovingFactor(start + BigInt(i)))),
        expected,
        `${key.length}-byte key, ${digits} digits, from ${start}`,
      );
    }
  }
});

t.test('totp-sha1/256/512 equal oathtool --totp at 30 s and 60 s steps', { skip }, async (t) => {
  for (const hash of ['sha1', 'sha256', 'sha512'] as const) {
    for (const step of [30, 60]) {
      const key = KEYS[1] as Uint8Array;
      const otp = createOtp({ profile: `totp-${hash}` as ProfileName, key, step, digits: 8 });
      const now = 2_000_000_000;
      const expected = run([`--totp=${hash}`, '-s', `${step}s`, '-N', `@${now}`, '-d', '8', '-w', '9', bytesToHex(key)]);
      const first = otp.stepAt(now);
      t.same(
        Array.from({ length: 10 }, (_, i) => otp.generate(first + i)),
        expected,
        `${hash}, step ${step}`,
      );
    }
  }
});
