/**
 * `npm run bench crypto`: codes per second for every profile of @kodeviser/shared, with the key
 * state precomputed (createOtp, as the firmware and the server use it) and without
 * (generateOtp), against baselines measured in the same run: an RFC 4226 HOTP written over
 * node:crypto's HMAC (OpenSSL, native) and otpauth's HOTP. Also one server-side check: a verify
 * over a 21-step window that does not match (the worst case: every candidate is computed).
 * Ratios matter more than absolute figures on these shared machines.
 */
import { createHmac } from 'node:crypto';
import { HOTP, Secret } from 'otpauth';
import { createOtp, generateOtp, PROFILES, type Primitive } from '@kodeviser/shared';

const KEY_BYTES: Record<Primitive, number> = { sha1: 20, sha256: 32, sha512: 64, aes128: 16, aes192: 24, aes256: 32, tdes: 24 };

function key(n: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (i * 37 + 11) & 0xff);
}

/** Runs `fn` for about `ms` milliseconds and returns calls per second. */
function rate(fn: (i: number) => unknown, ms: number): number {
  for (let i = 0; i < 200; i++) fn(i); // warm-up
  let calls = 0;
  const start = process.hrtime.bigint();
  const budget = BigInt(ms) * 1_000_000n;
  let elapsed = 0n;
  while (elapsed < budget) {
    for (let i = 0; i < 100; i++) fn(calls + i);
    calls += 100;
    elapsed = process.hrtime.bigint() - start;
  }
  return (calls * 1e9) / Number(elapsed);
}

function nodeHotp(secret: Uint8Array, counter: number): string {
  const c = Buffer.alloc(8);
  c.writeBigUInt64BE(BigInt(counter));
  const mac = createHmac('sha1', secret).update(c).digest();
  const o = (mac[19] as number) & 0x0f;
  return String((mac.readUInt32BE(o) & 0x7fffffff) % 1_000_000).padStart(6, '0');
}

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US').padStart(10);

export function main(args: string[]): void {
  const ms = args.includes('--quick') ? 100 : 400;
  const sha1Key = key(20);
  const nodeBaseline = rate((i) => nodeHotp(sha1Key, i), ms);
  const otpauth = new HOTP({ secret: Secret.fromHex(Buffer.from(sha1Key).toString('hex')) });
  const otpauthBaseline = rate((i) => otpauth.generate({ counter: i }), ms);
  console.log(`baseline HOTP-SHA1: node:crypto ${fmt(nodeBaseline)} codes/s, otpauth ${fmt(otpauthBaseline)} codes/s\n`);
  console.log('profile        precomputed/s   one-shot/s   vs node:crypto   verify(21, miss)/s');
  for (const profile of PROFILES.filter((p) => p.startsWith('hotp-'))) {
    const primitive = profile.slice(5) as Primitive;
    const opts = { profile, key: key(KEY_BYTES[primitive]) };
    const otp = createOtp(opts);
    const pre = rate((i) => otp.generate(i), ms);
    const oneShot = rate((i) => generateOtp(opts, i), ms);
    const verify = rate((i) => otp.verify('000000', { from: i, to: i + 20 }), ms);
    console.log(`${profile.padEnd(14)} ${fmt(pre)}   ${fmt(oneShot)}   ${(pre / nodeBaseline).toFixed(2).padStart(8)}x   ${fmt(verify)}`);
  }
  console.log('\n(totp-* profiles share the MAC of their hotp-* counterpart; verify counts one 21-step miss per call)');
}
