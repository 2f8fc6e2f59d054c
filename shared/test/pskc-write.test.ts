/**
 * writePskc: round trips through parsePskc for all fourteen profiles, plain and protected; what
 * it encrypts and MACs checked with node:crypto; its arguments checked.
 */
import { deepStrictEqual } from 'node:assert/strict';
import { createDecipheriv, createHmac, pbkdf2Sync } from 'node:crypto';
import fc from 'fast-check';
import t from 'tap';
import { bytesToHex, profileInfo, PROFILES } from '@kodeviser/shared';
import { parsePskc, profileToPskcAlgorithm, writePskc, type PskcKey, type PskcKeyInput } from '@kodeviser/shared/pskc';

type Protection = { kind: 'plain' } | { kind: 'psk'; key: Uint8Array } | { kind: 'password'; password: string; iterations: number };

function write(keys: readonly PskcKeyInput[], p: Protection): string {
  if (p.kind === 'psk') return writePskc(keys, { preSharedKey: p.key });
  if (p.kind === 'password') return writePskc(keys, { password: p.password, pbkdf2Iterations: p.iterations });
  return writePskc(keys);
}
function parse(xml: string, p: Protection): PskcKey[] {
  if (p.kind === 'psk') return parsePskc(xml, { preSharedKey: p.key });
  if (p.kind === 'password') return parsePskc(xml, { password: p.password });
  return parsePskc(xml);
}

/** What parsePskc should give back for an input key. */
function expected(k: PskcKeyInput): Record<string, unknown> {
  const { secret, ...rest } = k;
  return { ...rest, secret: bytesToHex(secret), digits: k.digits ?? 6, algorithm: profileToPskcAlgorithm(k.profile) };
}
const asPlain = (k: PskcKey): Record<string, unknown> => ({ ...k, secret: bytesToHex(k.secret) });

t.test('every profile round-trips, plain, under a pre-shared key and under a password', async (t) => {
  const keys: PskcKeyInput[] = PROFILES.map((profile, i) => ({
    id: `dev-${i}`,
    profile,
    secret: new Uint8Array(profileInfo(profile).keyBytes).map((_, j) => i * 31 + j),
    digits: 6 + (i % 3),
    serial: `12-3456789-${i % 10}`,
    manufacturer: 'kodeviser & Co',
    issuer: 'MitID <"test">',
    ...(profile.startsWith('hotp') ? { counter: i * 1000 } : { time: 0, timeInterval: 30 + 30 * (i % 2), timeDrift: -i }),
  }));
  const protections: Protection[] = [
    { kind: 'plain' },
    { kind: 'psk', key: new Uint8Array(16).fill(1) },
    { kind: 'psk', key: new Uint8Array(24).fill(2) },
    { kind: 'psk', key: new Uint8Array(32).fill(3) },
    { kind: 'password', password: 'correct horse', iterations: 3 },
  ];
  for (const p of protections) {
    const xml = write(keys, p);
    t.same(parse(xml, p).map(asPlain), keys.map(expected), `${p.kind}${p.kind === 'psk' ? ` ${p.key.length * 8}-bit` : ''}`);
    if (p.kind !== 'plain') {
      t.notMatch(xml, '<pskc:PlainValue>AAEC', 'no secret in the clear');
      t.match(xml, `xmlenc#aes${p.kind === 'psk' ? p.key.length * 8 : 128}-cbc`);
    }
  }
});

t.test('random keys round-trip (fast-check, 200 runs)', async (t) => {
  const text = fc
    .string({ unit: fc.constantFrom('a', 'Z', '0', ' ', '&', '<', '>', '"', "'", 'é', '€', '𝄞', '-'), minLength: 1, maxLength: 12 })
    .filter((s) => s === s.trim());
  const profileKey = fc.constantFrom(...PROFILES).chain((profile) =>
    fc.constantFrom(...(profileInfo(profile).keyLengths ?? [profileInfo(profile).keyBytes])).chain((n) =>
      fc.record({
        profile: fc.constant(profile),
        secret: fc.uint8Array({ minLength: n, maxLength: n }),
      }),
    ),
  );
  const key = fc.record(
    {
      id: text,
      digits: fc.option(fc.integer({ min: 6, max: 8 }), { nil: undefined }),
      serial: fc.option(text, { nil: undefined }),
      manufacturer: fc.option(text, { nil: undefined }),
      issuer: fc.option(text, { nil: undefined }),
      // up to 2^63 − 1: a number below 2^53, a bigint above (moving-factor.ts)
      counter: fc.option(fc.oneof(fc.maxSafeNat(), fc.bigInt({ min: 2n ** 53n, max: 2n ** 63n - 1n })), { nil: undefined }),
      time: fc.option(fc.integer({ min: -1e12, max: 1e12 }), { nil: undefined }),
      timeInterval: fc.option(fc.integer({ min: 1, max: 3600 }), { nil: undefined }),
      timeDrift: fc.option(fc.integer({ min: -1000, max: 1000 }), { nil: undefined }),
    },
    { requiredKeys: ['id'] },
  );
  const keys = fc.uniqueArray(
    fc.tuple(key, profileKey).map(([k, pk]): PskcKeyInput => {
      const out: Record<string, unknown> = { ...pk };
      for (const [name, value] of Object.entries(k)) if (value !== undefined) out[name] = value;
      return out as unknown as PskcKeyInput;
    }),
    { minLength: 1, maxLength: 3, selector: (k) => k.id },
  );
  const protection: fc.Arbitrary<Protection> = fc.oneof(
    fc.constant({ kind: 'plain' as const }),
    fc
      .constantFrom(16, 24, 32)
      .chain((n) => fc.uint8Array({ minLength: n, maxLength: n }))
      .map((k) => ({ kind: 'psk' as const, key: k })),
    fc.record({
      kind: fc.constant('password' as const),
      password: fc.string({ minLength: 1, maxLength: 20 }),
      iterations: fc.integer({ min: 1, max: 5 }),
    }),
  );
  let runs = 0;
  fc.assert(
    fc.property(keys, protection, (ks, p) => {
      deepStrictEqual(parse(write(ks, p), p).map(asPlain), ks.map(expected));
      runs++;
    }),
    { numRuns: 200 },
  );
  t.equal(runs, 200, '200 random containers read back as written');
});

/** The text of the first element called `name` after `from` in `xml`. */
function textOf(xml: string, name: string, from = 0): string {
  const m = new RegExp(`<${name}[^>]*>([^<]*)</${name}>`).exec(xml.slice(from));
  if (m === null) throw new Error(`no ${name}`);
  return (m[1] as string).trim();
}

function nodeDecrypt(key: Buffer, b64: string): Buffer {
  const data = Buffer.from(b64, 'base64');
  const decipher = createDecipheriv(`aes-${key.length * 8}-cbc`, key, data.subarray(0, 16));
  return Buffer.concat([decipher.update(data.subarray(16)), decipher.final()]);
}

t.test('what is written decrypts and authenticates with node:crypto', async (t) => {
  const secret = Uint8Array.from({ length: 20 }, (_, i) => 0xa0 + i);
  const key: PskcKeyInput = { id: '1234567897', profile: 'hotp-sha1', secret, digits: 6 };

  const checkWithNode = (xml: string, encryptionKey: Buffer, what: string): void => {
    const macKey = nodeDecrypt(encryptionKey, textOf(xml, 'xenc:CipherValue'));
    t.equal(macKey.length, 20, `${what}: a 20-byte MAC key`);
    const secretAt = xml.indexOf('<pskc:Secret>');
    const cipherValue = textOf(xml, 'xenc:CipherValue', secretAt);
    t.equal(
      nodeDecrypt(encryptionKey, cipherValue).toString('hex'),
      bytesToHex(secret),
      `${what}: node:crypto aes-cbc decrypts the secret (PKCS #7 padding)`,
    );
    const mac = createHmac('sha1', macKey).update(Buffer.from(cipherValue, 'base64')).digest('base64');
    t.equal(textOf(xml, 'pskc:ValueMAC', secretAt), mac, `${what}: ValueMAC = node:crypto HMAC-SHA1 over IV ‖ ciphertext`);
  };

  for (const n of [16, 24, 32]) {
    const psk = Buffer.alloc(n, 0x5a);
    const xml = writePskc([key], { preSharedKey: psk });
    t.match(xml, '<ds:KeyName>Pre-shared-key</ds:KeyName>');
    checkWithNode(xml, psk, `${n}-byte pre-shared key`);
  }

  const xml = writePskc([key], { password: 'hunter2', pbkdf2Iterations: 1000 });
  const salt = Buffer.from(textOf(xml, 'Specified'), 'base64');
  t.equal(salt.length, 16, 'a 16-byte salt');
  t.equal(textOf(xml, 'IterationCount'), '1000');
  checkWithNode(xml, pbkdf2Sync('hunter2', salt, 1000, 16, 'sha1'), 'PBKDF2');
  t.match(
    writePskc([key], { password: 'x', randomBytes: (n) => new Uint8Array(n) }),
    '<IterationCount>100000</IterationCount>',
    '100,000 iterations by default',
  );
});

t.test('randomness is injected, and fresh by default', async (t) => {
  const counting = (): ((n: number) => Uint8Array) => {
    let next = 0;
    return (n) => Uint8Array.from({ length: n }, () => next++ & 0xff);
  };
  const key: PskcKeyInput = { id: 'a', profile: 'totp-aes128', secret: new Uint8Array(16) };
  const psk = new Uint8Array(16).fill(9);
  t.equal(
    writePskc([key], { preSharedKey: psk, randomBytes: counting() }),
    writePskc([key], { preSharedKey: psk, randomBytes: counting() }),
    'the same randomness, the same document',
  );
  t.not(writePskc([key], { preSharedKey: psk }), writePskc([key], { preSharedKey: psk }), 'fresh IVs and MAC key by default');
  t.equal(writePskc([key]), writePskc([key]), 'a plain document needs no randomness');
  t.throws(() => writePskc([key], { preSharedKey: psk, randomBytes: (n) => new Uint8Array(n - 1) }), {
    code: 'ERR_ARGUMENT',
    message: 'randomBytes(20) must return 20 bytes',
  });
  t.throws(() => writePskc([key], { password: 'p', randomBytes: () => [1, 2] as unknown as Uint8Array }), {
    code: 'ERR_ARGUMENT',
    message: 'randomBytes(16) must return 16 bytes',
  });
});

t.test('writePskc refuses bad input, naming the argument', async (t) => {
  const good: PskcKeyInput = { id: 'a', profile: 'hotp-sha1', secret: new Uint8Array(20), digits: 6 };
  const bad = (patch: Record<string, unknown>): PskcKeyInput[] => [{ ...good, ...patch } as PskcKeyInput];
  const textRule = 'must be a non-empty string of printable XML characters without surrounding spaces';
  const counterRule = 'must be an integer from 0 to 2^63 − 1 (a number up to 2^53 − 1, a bigint above)';
  const cases: Array<[string, () => string, string, string]> = [
    ['not an array', () => writePskc('x' as unknown as PskcKeyInput[]), 'ERR_ARGUMENT', 'keys must be a non-empty array'],
    ['no keys', () => writePskc([]), 'ERR_ARGUMENT', 'keys must be a non-empty array'],
    ['a null key', () => writePskc([null as unknown as PskcKeyInput]), 'ERR_ARGUMENT', 'keys[0] must be an object'],
    ['an empty id', () => writePskc(bad({ id: '' })), 'ERR_ARGUMENT', `keys[0].id ${textRule}`],
    ['a padded id', () => writePskc(bad({ id: ' a' })), 'ERR_ARGUMENT', `keys[0].id ${textRule}`],
    ['a control character', () => writePskc(bad({ issuer: 'a\u0000b' })), 'ERR_ARGUMENT', `keys[0].issuer ${textRule}`],
    ['a newline', () => writePskc(bad({ serial: '1\n2' })), 'ERR_ARGUMENT', `keys[0].serial ${textRule}`],
    ['a lone surrogate', () => writePskc(bad({ manufacturer: 'a\uD800' })), 'ERR_ARGUMENT', `keys[0].manufacturer ${textRule}`],
    ['a number for a serial', () => writePskc(bad({ serial: 1234567897 })), 'ERR_ARGUMENT', `keys[0].serial ${textRule}`],
    ['a duplicate id', () => writePskc([good, { ...good, secret: new Uint8Array(20) }]), 'ERR_ARGUMENT', 'keys[1].id "a" is used twice'],
    [
      'an unknown profile',
      () => writePskc(bad({ profile: 'hotp-md5' })),
      'ERR_UNKNOWN_PROFILE',
      'profile must be one of hotp-sha1, hotp-sha256, hotp-sha512, hotp-aes128, hotp-aes192, hotp-aes256, hotp-tdes, totp-sha1, totp-sha256, totp-sha512, totp-aes128, totp-aes192, totp-aes256, totp-tdes; got hotp-md5',
    ],
    ['a string secret', () => writePskc(bad({ secret: 'abc' })), 'ERR_ARGUMENT', 'keys[0].secret must be a Uint8Array'],
    ['an empty secret', () => writePskc(bad({ secret: new Uint8Array(0) })), 'ERR_KEY_LENGTH', 'keys[0].secret must not be empty'],
    ['9 digits', () => writePskc(bad({ digits: 9 })), 'ERR_DIGITS', 'keys[0].digits must be 6, 7 or 8'],
    ['6.5 digits', () => writePskc(bad({ digits: 6.5 })), 'ERR_DIGITS', 'keys[0].digits must be 6, 7 or 8'],
    ['a negative counter', () => writePskc(bad({ counter: -1 })), 'ERR_ARGUMENT', `keys[0].counter ${counterRule}, got -1`],
    [
      'an unsafe number for a counter',
      () => writePskc(bad({ counter: 2 ** 53 })),
      'ERR_ARGUMENT',
      `keys[0].counter ${counterRule}, got 9007199254740992`,
    ],
    ['a small bigint for a counter', () => writePskc(bad({ counter: 5n })), 'ERR_ARGUMENT', `keys[0].counter ${counterRule}, got 5n`],
    [
      'a counter of 2^63',
      () => writePskc(bad({ counter: 2n ** 63n })),
      'ERR_ARGUMENT',
      'keys[0].counter 9223372036854775808 is above the limit 9223372036854775807 (2^63 − 1)',
    ],
    ['a zero step', () => writePskc(bad({ timeInterval: 0 })), 'ERR_ARGUMENT', 'keys[0].timeInterval must be a safe integer ≥ 1'],
    ['a fractional drift', () => writePskc(bad({ timeDrift: 0.5 })), 'ERR_ARGUMENT', 'keys[0].timeDrift must be a safe integer'],
    ['a string time', () => writePskc(bad({ time: '0' })), 'ERR_ARGUMENT', 'keys[0].time must be a safe integer'],
    [
      'both protections',
      () => writePskc([good], { preSharedKey: new Uint8Array(16), password: 'x' }),
      'ERR_ARGUMENT',
      'preSharedKey and password are exclusive: give one or neither',
    ],
    [
      'an 8-byte key',
      () => writePskc([good], { preSharedKey: new Uint8Array(8) }),
      'ERR_KEY_LENGTH',
      'preSharedKey must be 16, 24 or 32 bytes, got 8',
    ],
    [
      'a hex key',
      () => writePskc([good], { preSharedKey: '00'.repeat(16) as unknown as Uint8Array }),
      'ERR_ARGUMENT',
      'preSharedKey must be a Uint8Array',
    ],
    ['an empty password', () => writePskc([good], { password: '' }), 'ERR_ARGUMENT', 'password must be a non-empty string'],
    [
      'zero iterations',
      () => writePskc([good], { password: 'x', pbkdf2Iterations: 0 }),
      'ERR_ARGUMENT',
      'pbkdf2Iterations must be a safe integer ≥ 1',
    ],
    [
      'too many iterations',
      () => writePskc([good], { password: 'x', pbkdf2Iterations: 10_000_001 }),
      'ERR_ARGUMENT',
      'pbkdf2Iterations must be at most 10000000',
    ],
  ];
  for (const [name, run, code, message] of cases) t.throws(run, { code, message }, name);
  t.match(parsePskc(writePskc([{ id: 'x', profile: 'hotp-sha1', secret: new Uint8Array(20) }]))[0], { digits: 6 }, 'digits default to 6');
});
