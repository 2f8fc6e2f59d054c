import fc from 'fast-check';
import { HOTP, Secret } from 'otpauth';
import t from 'tap';
import { createHash, createHmac } from 'node:crypto';
import {
  bytesToHex,
  createAes,
  createOtp,
  createTdea,
  generateOtp,
  hexToBytes,
  isProfileName,
  MAX_MOVING_FACTOR,
  normalizeMovingFactor,
  parseProfile,
  PRIMITIVE_FACTS,
  profileInfo,
  PROFILES,
  type Primitive,
  type ProfileName,
} from '@kodeviser/shared';
import { loadVectors } from './vectors.js';

const hotp = loadVectors<{ secret_hex: string; vectors: Array<{ counter: number; hotp: string }> }>('hotp.json');
const totp = loadVectors<{
  seeds: Record<'SHA1' | 'SHA256' | 'SHA512', { hex: string }>;
  vectors: Array<{ time: number; T_hex: string; mode: 'SHA1' | 'SHA256' | 'SHA512'; totp: string }>;
}>('totp.json');

const AES128 = hexToBytes('000102030405060708090a0b0c0d0e0f');
const AES256 = hexToBytes('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f');
const TDEA3 = hexToBytes('0123456789abcdef23456789abcdef01456789abcdef0123');
const TDEA2 = hexToBytes('0123456789abcdeffedcba9876543210');

t.test('fourteen profiles, parsed into mode and primitive', async (t) => {
  t.equal(PROFILES.length, 14);
  t.equal(PROFILES[0], 'hotp-sha1');
  t.equal(PROFILES[13], 'totp-tdes');
  t.ok(Object.isFrozen(PROFILES));
  t.same(parseProfile('totp-aes192'), { mode: 'totp', primitive: 'aes192' });
  t.ok(isProfileName('hotp-tdes'));
  t.notOk(isProfileName('hotp-md5'));
  t.throws(() => parseProfile('hotp-md5'), { code: 'ERR_UNKNOWN_PROFILE', message: /profile must be one of hotp-sha1/ });
  t.throws(() => parseProfile(42 as unknown as string), { code: 'ERR_UNKNOWN_PROFILE' });
});

t.test('the profile facts agree with the primitives themselves and with node:crypto', async (t) => {
  const hashes = { sha1: 'sha1', sha256: 'sha256', sha512: 'sha512' } as const;
  for (const profile of PROFILES) {
    const info = profileInfo(profile);
    t.same({ mode: info.mode, primitive: info.primitive }, parseProfile(profile), profile);
    t.equal(info.profile, profile);
    const keyOf = (n: number) => Uint8Array.from({ length: n }, (_, i) => i * 17 + 1);
    const key = keyOf(info.keyBytes);
    t.doesNotThrow(() => createOtp({ profile, key }), `${profile}: its natural key length is accepted`);
    if (info.mac === 'hmac') {
      const hash = hashes[info.primitive as keyof typeof hashes];
      t.equal(info.keyBytes, createHash(hash).digest().length, `${profile}: the key is as long as the hash's output`);
      t.equal(info.blockBytes, info.primitive === 'sha512' ? 128 : 64, `${profile}: the hash's block (FIPS 180-4)`);
      t.equal(info.keyLengths, null);
    } else {
      const cipher = info.primitive === 'tdes' ? createTdea(key) : createAes(key);
      t.equal(info.blockBytes, cipher.blockBytes, `${profile}: the cipher's block`);
      for (const n of [8, 15, 16, 20, 24, 32, 33]) {
        const accepted = info.keyLengths?.includes(n) ?? false;
        const made = () => createOtp({ profile, key: keyOf(n) });
        if (accepted) t.doesNotThrow(made, `${profile}: ${n}-byte key accepted`);
        else t.throws(made, { code: 'ERR_KEY_LENGTH' }, `${profile}: ${n}-byte key refused`);
      }
    }
  }
  t.ok(Object.isFrozen(PRIMITIVE_FACTS));
  t.throws(() => profileInfo('totp-md5'), { code: 'ERR_UNKNOWN_PROFILE' });
});

t.test('RFC 4226 Appendix D: hotp-sha1', async (t) => {
  const otp = createOtp({ profile: 'hotp-sha1', key: hexToBytes(hotp.secret_hex) });
  t.same(
    hotp.vectors.map((v) => otp.generate(v.counter)),
    hotp.vectors.map((v) => v.hotp),
  );
});

t.test('RFC 6238 Appendix B: totp-sha1/256/512, 8 digits, including steps beyond 2^32', async (t) => {
  t.equal(totp.vectors.length, 18);
  for (const v of totp.vectors) {
    const profile = `totp-${v.mode.toLowerCase()}` as ProfileName;
    const otp = createOtp({ profile, key: hexToBytes(totp.seeds[v.mode].hex), digits: 8 });
    const step = otp.stepAt(v.time);
    t.equal(step, parseInt(v.T_hex, 16), `T for ${v.time}`);
    t.equal(otp.generate(step), v.totp, `${v.mode} at ${v.time}`);
  }
});

t.test('block-cipher reference values of docs/otp-algorithms.md', async (t) => {
  const table: Array<[ProfileName, Uint8Array, string[], string]> = [
    ['hotp-aes128', AES128, ['518507', '775189', '013422', '747449'], '26518507'],
    ['hotp-aes256', AES256, ['094341', '180536', '623235', '243870'], '99094341'],
    ['hotp-tdes', TDEA3, ['373365', '919354', '467242', '308680'], '35373365'],
    ['hotp-tdes', TDEA2, ['253831', '018396', '806487', '027485'], '07253831'],
  ];
  for (const [profile, key, codes, eight] of table) {
    const otp = createOtp({ profile, key });
    t.same(
      [0, 1, 2, 1000].map((c) => otp.generate(c)),
      codes,
      `${profile} ${key.length}-byte key`,
    );
    t.equal(generateOtp({ profile, key, digits: 8 }, 0), eight, `${profile} 8 digits`);
  }
  const aes = createOtp({ profile: 'totp-aes128', key: AES128 });
  t.equal(aes.generate(aes.stepAt(1111111111)), '587494');
  const tdes = createOtp({ profile: 'totp-tdes', key: TDEA3 });
  t.equal(tdes.stepAt(1111111111), 37037037);
  t.equal(tdes.generate(37037037), '357066');
});

t.test('hotp-sha* agrees with otpauth for random keys, counters and digits', async (t) => {
  const algorithm = { sha1: 'SHA1', sha256: 'SHA256', sha512: 'SHA512' } as const;
  fc.assert(
    fc.property(
      fc.constantFrom('sha1', 'sha256', 'sha512' as const),
      fc.uint8Array({ minLength: 1, maxLength: 80 }),
      fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
      fc.integer({ min: 6, max: 8 }),
      (hash, key, counter, digits) => {
        const ref = new HOTP({ secret: Secret.fromHex(bytesToHex(key)), algorithm: algorithm[hash], digits });
        return generateOtp({ profile: `hotp-${hash}`, key, digits }, counter) === ref.generate({ counter });
      },
    ),
    { numRuns: 150 },
  );
  t.pass('150 random cases');
});

/** RFC 4226 §5.3 by node:crypto: HMAC of the 8-byte big-endian counter, dynamically truncated. */
function nodeHotp(hash: 'sha1' | 'sha256' | 'sha512', key: Uint8Array, counter: bigint, digits: number): string {
  const message = Buffer.alloc(8);
  message.writeBigUInt64BE(counter);
  const mac = createHmac(hash, key).update(message).digest();
  const value = mac.readUInt32BE((mac[mac.length - 1] as number) & 0x0f) & 0x7fffffff;
  return String(value % 10 ** digits).padStart(digits, '0');
}

t.test('hotp above 2^53 and up to 2^63 − 1 is the 8-byte counter exactly, as node:crypto computes it', async (t) => {
  const edges = [2n ** 53n - 1n, 2n ** 53n, 2n ** 53n + 1n, 16887061004979670n, 2n ** 62n + 2n ** 32n - 1n, 2n ** 62n + 2n ** 32n];
  const counters = [...edges, MAX_MOVING_FACTOR - 1n, MAX_MOVING_FACTOR];
  for (const hash of ['sha1', 'sha256', 'sha512'] as const) {
    for (const digits of [6, 7, 8]) {
      const key = Uint8Array.from({ length: 20 + digits }, (_, i) => i * 29 + digits);
      const otp = createOtp({ profile: `hotp-${hash}`, key, digits });
      for (const c of counters)
        t.equal(otp.generate(normalizeMovingFactor(c)), nodeHotp(hash, key, c, digits), `${hash}, ${digits} digits, c=${c}`);
    }
  }
  fc.assert(
    fc.property(
      fc.constantFrom('sha1', 'sha256', 'sha512' as const),
      fc.uint8Array({ minLength: 1, maxLength: 80 }),
      fc.bigInt({ min: 2n ** 53n, max: MAX_MOVING_FACTOR }),
      fc.integer({ min: 6, max: 8 }),
      (hash, key, c, digits) => createOtp({ profile: `hotp-${hash}`, key, digits }).generate(c) === nodeHotp(hash, key, c, digits),
    ),
    { numRuns: 300 },
  );
  t.pass('300 random counters above 2^53');
  t.throws(() => createOtp({ profile: 'hotp-sha1', key: new Uint8Array(20) }).generate(2n ** 63n), {
    code: 'ERR_MOVING_FACTOR',
    message: 'c 9223372036854775808 is above the limit 9223372036854775807 (2^63 − 1)',
  });
});

t.test('verify above 2^53: windows of bigints, and across 2^53, find the exact moving factor', async (t) => {
  const key = new Uint8Array(20).fill(7);
  const otp = createOtp({ profile: 'hotp-sha1', key });
  const windows: Array<[bigint, bigint]> = [
    [2n ** 53n - 4n, 2n ** 53n + 5n], // from a number to a bigint
    [16887061004979670n, 16887061004979680n],
    [2n ** 62n + 2n ** 32n - 5n, 2n ** 62n + 2n ** 32n + 5n], // the low word's carry into the high one
    [MAX_MOVING_FACTOR - 9n, MAX_MOVING_FACTOR],
  ];
  for (const [from, to] of windows) {
    const window = { from: normalizeMovingFactor(from), to: normalizeMovingFactor(to) };
    for (let c = from; c <= to; c++) {
      const code = nodeHotp('sha1', key, c, 6);
      // the nearest match to `from` is c unless an earlier counter of the window has the same code
      let first = from;
      while (nodeHotp('sha1', key, first, 6) !== code) first++;
      t.equal(otp.verify(code, window), normalizeMovingFactor(first), `c=${c} in [${from}, ${to}]`);
      t.equal(otp.verify(code, { from: normalizeMovingFactor(c), to: normalizeMovingFactor(c) }), normalizeMovingFactor(c));
      t.equal(otp.verify(code, { ...window, expected: normalizeMovingFactor(c) }, { stopAtMatch: true }), normalizeMovingFactor(c));
    }
  }
  t.equal(otp.verify(nodeHotp('sha1', key, 2n ** 53n + 2n, 6), { from: 2n ** 53n + 3n, to: 2n ** 53n + 9n }), null, 'below the window');
  t.equal(
    typeof otp.verify(nodeHotp('sha1', key, 2n ** 53n - 1n, 6), { from: Number.MAX_SAFE_INTEGER - 3, to: 2n ** 53n + 1n }),
    'number',
    'a match in the safe range is a number',
  );
  t.throws(() => otp.verify('123456', { from: MAX_MOVING_FACTOR, to: 2n ** 63n }), {
    code: 'ERR_MOVING_FACTOR',
    message: 'window.to 9223372036854775808 is above the limit 9223372036854775807 (2^63 − 1)',
  });
  t.throws(() => otp.verify('123456', { from: 5n, to: 9n }), { code: 'ERR_MOVING_FACTOR', message: /^window.from must be an integer/ });
});

t.test('every profile: codes have the configured digits and the properties the doc promises', async (t) => {
  const keys: Record<Primitive, Uint8Array> = {
    sha1: new Uint8Array(20).fill(7),
    sha256: new Uint8Array(32).fill(7),
    sha512: new Uint8Array(64).fill(7),
    aes128: AES128,
    aes192: new Uint8Array(24).fill(9),
    aes256: AES256,
    tdes: TDEA3,
  };
  for (const profile of PROFILES) {
    const { mode, primitive } = parseProfile(profile);
    const otp = createOtp({ profile, key: keys[primitive], digits: 7, step: 60, t0: 100 });
    t.match(otp, { profile, mode, primitive, digits: 7, step: 60, t0: 100 });
    const codes = [0, 1, 2 ** 32, Number.MAX_SAFE_INTEGER].map((c) => otp.generate(c));
    t.ok(
      codes.every((c) => /^[0-9]{7}$/.test(c)),
      `${profile} codes are 7 digits`,
    );
    t.equal(new Set(codes).size, 4, `${profile} codes differ across moving factors`);
    t.equal(otp.generate(1), codes[1], `${profile} is deterministic`);
  }
});

t.test('block-cipher truncation never reads the offset byte', async (t) => {
  // With o = M[n−1] mod (n−4), o+3 ≤ n−2: exercised over many counters without throwing and
  // each value drawn from bytes 0..n−2 (a code never depends on reading past the MAC).
  const otp = createOtp({ profile: 'hotp-tdes', key: TDEA3, digits: 8 });
  for (let c = 0; c < 300; c++) t.match(otp.generate(c), /^[0-9]{8}$/);
});

t.test('verify: searches the window nearest to expected first and returns the moving factor', async (t) => {
  const otp = createOtp({ profile: 'hotp-aes128', key: AES128 });
  t.equal(otp.verify('747449', { from: 990, to: 1010 }), 1000);
  t.equal(otp.verify('747449', { from: 1000, to: 1000 }), 1000);
  t.equal(otp.verify('747449', { from: 0, to: 999 }), null, 'outside the window');
  t.equal(otp.verify('747449', { from: 995, to: 1005, expected: 2000 }), 1000, 'expected beyond the window is clamped');
  t.equal(otp.verify('74744', { from: 990, to: 1010 }), null, 'too short');
  t.equal(otp.verify('74744a', { from: 990, to: 1010 }), null, 'not digits');
  t.equal(otp.verify('7474490', { from: 990, to: 1010 }), null, 'too long');

  // Order: a code valid at two moving factors reports the one nearest to expected, the earlier on a tie.
  const seen = new Map<string, number[]>();
  for (let c = 0; c < 3000; c++) {
    const code = otp.generate(c);
    seen.set(code, [...(seen.get(code) ?? []), c]);
  }
  const twice = [...seen.entries()].find(([, cs]) => cs.length >= 2);
  if (twice) {
    const [code, [a, b]] = twice as [string, [number, number]];
    t.equal(otp.verify(code, { from: 0, to: 3000, expected: a }), a);
    t.equal(otp.verify(code, { from: 0, to: 3000, expected: b }), b);
    const mid = Math.floor((a + b) / 2);
    t.equal(otp.verify(code, { from: 0, to: 3000, expected: mid }), b - mid < mid - a ? b : a);
  }
  t.ok(twice, 'a 6-digit collision exists among 3000 codes (birthday bound)');
});

t.test('verify agrees with a plain nearest-first search by generate, for every primitive', async (t) => {
  const keys: Record<Primitive, Uint8Array> = {
    sha1: new Uint8Array(20).fill(3),
    sha256: new Uint8Array(32).fill(3),
    sha512: new Uint8Array(64).fill(3),
    aes128: AES128,
    aes192: new Uint8Array(24).fill(5),
    aes256: AES256,
    tdes: TDEA2,
  };
  const reference = (otp: ReturnType<typeof createOtp>, code: string, from: number, to: number, expected: number): number | null => {
    const centre = Math.min(Math.max(expected, from), to);
    for (let d = 0; centre - d >= from || centre + d <= to; d++) {
      if (centre - d >= from && otp.generate(centre - d) === code) return centre - d;
      if (d > 0 && centre + d <= to && otp.generate(centre + d) === code) return centre + d;
    }
    return null;
  };
  fc.assert(
    fc.property(
      fc.constantFrom<Primitive>('sha1', 'sha256', 'sha512', 'aes128', 'aes192', 'aes256', 'tdes'),
      fc.integer({ min: 6, max: 8 }),
      // around 0, around the 2^32 carry into the counter's high word, and up to 2^53
      fc.oneof(fc.nat(20), fc.integer({ min: 2 ** 32 - 8, max: 2 ** 32 + 8 }), fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER - 40 })),
      fc.nat(12),
      fc.integer({ min: -3, max: 15 }),
      fc.integer({ min: -2, max: 14 }),
      (primitive, digits, from, span, expectedOffset, codeOffset) => {
        const otp = createOtp({ profile: `hotp-${primitive}`, key: keys[primitive], digits });
        const to = from + span;
        const code = otp.generate(Math.max(0, from + codeOffset));
        const want = reference(otp, code, from, to, from + expectedOffset);
        const window = { from, to, expected: from + expectedOffset };
        return otp.verify(code, window) === want && otp.verify(code, window, { stopAtMatch: true }) === want;
      },
    ),
    { numRuns: 300 },
  );
  t.pass('300 random windows');
  // A code that matches twice in one window: the nearest wins whatever the order of computation.
  const otp = createOtp({ profile: 'hotp-sha1', key: keys.sha1 });
  const seen = new Map<string, number>();
  let pair: [number, number] | undefined;
  for (let c = 0; !pair; c++) {
    const earlier = seen.get(otp.generate(c));
    if (earlier !== undefined && c - earlier < 3000) pair = [earlier, c];
    seen.set(otp.generate(c), c);
  }
  const [a, b] = pair;
  const code = otp.generate(a);
  t.equal(otp.verify(code, { from: a, to: b, expected: a }), a);
  t.equal(otp.verify(code, { from: a, to: b, expected: b }), b);
  t.equal(otp.verify(code, { from: a, to: b, expected: b + 100 }), b, 'expected clamped to the window');
  t.equal(otp.verify(code, { from: a + 1, to: b }), b, 'the only match in the window');
  // Stopping at the first match in the walk's order still finds the nearest of two.
  t.equal(otp.verify(code, { from: a, to: b, expected: a }, { stopAtMatch: true }), a);
  t.equal(otp.verify(code, { from: a, to: b, expected: b }, { stopAtMatch: true }), b);
  t.equal(
    otp.verify(code, { from: a, to: b, expected: Math.floor((a + b) / 2) }, { stopAtMatch: true }),
    otp.verify(code, { from: a, to: b, expected: Math.floor((a + b) / 2) }),
    'a tie or near-tie resolves as the whole-window search does',
  );
  t.equal(otp.verify('000000', { from: a, to: b }, { stopAtMatch: false }), otp.verify('000000', { from: a, to: b }));
  t.throws(() => otp.verify(code, { from: a, to: b }, null as unknown as object), {
    code: 'ERR_ARGUMENT',
    message: /search must be an object/,
  });
  t.throws(() => otp.verify(code, { from: a, to: b }, 'stop' as unknown as object), { code: 'ERR_ARGUMENT' });
});

t.test('verify takes exactly `digits` ASCII digits, nothing else', async (t) => {
  const otp = createOtp({ profile: 'hotp-sha1', key: hexToBytes(hotp.secret_hex) });
  t.equal(otp.verify('755224', { from: 0, to: 0 }), 0);
  for (const code of [' 55224', '+55224', '-55224', '75522/', '75522:', '７５５２２４', '755224 ', '', '7552240']) {
    t.equal(otp.verify(code, { from: 0, to: 9 }), null, JSON.stringify(code));
  }
  const eight = createOtp({ profile: 'hotp-sha1', key: hexToBytes(hotp.secret_hex), digits: 8 });
  t.equal(eight.verify(eight.generate(5), { from: 0, to: 9 }), 5);
});

t.test('verify and stepAt reject bad arguments', async (t) => {
  const otp = createOtp({ profile: 'totp-sha1', key: new Uint8Array(20), t0: 60 });
  t.throws(() => otp.verify(123456 as unknown as string, { from: 0, to: 1 }), { code: 'ERR_ARGUMENT', message: /code must be a string/ });
  t.throws(() => otp.verify('123456', null as unknown as { from: number; to: number }), { code: 'ERR_ARGUMENT', message: /window/ });
  t.throws(() => otp.verify('123456', { from: -1, to: 1 }), { code: 'ERR_MOVING_FACTOR', message: /window.from/ });
  t.throws(() => otp.verify('123456', { from: 0, to: 1.5 }), { code: 'ERR_MOVING_FACTOR', message: /window.to/ });
  t.throws(() => otp.verify('123456', { from: 5, to: 4 }), { code: 'ERR_MOVING_FACTOR', message: /must not be below/ });
  t.throws(() => otp.verify('123456', { from: 0, to: 4, expected: NaN }), { code: 'ERR_MOVING_FACTOR', message: /window.expected/ });
  t.throws(() => otp.generate(-1), { code: 'ERR_MOVING_FACTOR', message: /^c must be/ });
  t.throws(() => otp.generate(2 ** 53), { code: 'ERR_MOVING_FACTOR' });
  t.equal(otp.stepAt(60), 0);
  t.equal(otp.stepAt(149.9), 2);
  t.throws(() => otp.stepAt(59), { code: 'ERR_MOVING_FACTOR', message: /unixSeconds/ });
  t.throws(() => otp.stepAt(Infinity), { code: 'ERR_MOVING_FACTOR' });
  t.throws(() => createOtp({ profile: 'hotp-sha1', key: new Uint8Array(20) }).stepAt(0), {
    code: 'ERR_ARGUMENT',
    message: /stepAt is for totp/,
  });
});

t.test('createOtp rejects bad options with the code and argument named', async (t) => {
  const key = new Uint8Array(20);
  t.throws(() => createOtp(null as unknown as { profile: ProfileName; key: Uint8Array }), { code: 'ERR_ARGUMENT', message: /opts/ });
  t.throws(() => createOtp({ profile: 'hotp-sha3' as ProfileName, key }), { code: 'ERR_UNKNOWN_PROFILE' });
  t.throws(() => createOtp({ profile: 'hotp-sha1', key: 'secret' as unknown as Uint8Array }), { code: 'ERR_ARGUMENT', message: /key/ });
  t.throws(() => createOtp({ profile: 'hotp-sha1', key: new Uint8Array(0) }), { code: 'ERR_KEY_LENGTH', message: /key must not be empty/ });
  t.throws(() => createOtp({ profile: 'hotp-aes128', key }), {
    code: 'ERR_KEY_LENGTH',
    message: /key must be 16 bytes for aes128, got 20/,
  });
  t.throws(() => createOtp({ profile: 'totp-tdes', key: new Uint8Array(8) }), { code: 'ERR_KEY_LENGTH', message: /16 or 24 bytes/ });
  for (const digits of [5, 9, 6.5])
    t.throws(() => createOtp({ profile: 'hotp-sha1', key, digits }), { code: 'ERR_DIGITS', message: /digits/ });
  t.throws(() => createOtp({ profile: 'totp-sha1', key, step: 45 }), { code: 'ERR_ARGUMENT', message: /step must be 30 or 60/ });
  t.throws(() => createOtp({ profile: 'totp-sha1', key, t0: 0.5 }), { code: 'ERR_ARGUMENT', message: /t0/ });
});
