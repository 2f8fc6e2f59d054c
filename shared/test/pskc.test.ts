import { createCipheriv, createHmac as nodeHmac, randomBytes } from 'node:crypto';
import t from 'tap';
import {
  algorithmForProfile, bytesToHex, createOtp, hexToBytes, parsePskc, profileFromAlgorithm, PROFILES, writePskc,
  type PskcKeyInput,
} from '@kodeviser/shared';
import { loadVectors, readVectorText } from './vectors.js';

const fig = (name: string): string => readVectorText(`pskc/rfc6030-${name}.xml`);
const meta = <T>(name: string): T => loadVectors<T>(`pskc/rfc6030-${name}.json`);
const PSK = hexToBytes('12345678901234567890123456789012');

t.test('RFC 6030 figures 2, 3, 5: plain secrets and their metadata', async (t) => {
  const [basic] = parsePskc(fig('figure2-basic'));
  const f2 = meta<{ key_id: string; algorithm: string; issuer: string; expected_secret_hex: string }>('figure2-basic');
  t.match(basic, { id: f2.key_id, algorithm: f2.algorithm, profile: 'hotp-sha1', digits: 6, issuer: f2.issuer });
  t.equal(bytesToHex(basic!.secret), f2.expected_secret_hex);
  t.notOk('counter' in basic!, 'absent fields are absent, not undefined');

  const f3 = meta<{ device: { manufacturer: string; serial: string }; expected_secret_hex: string; derived_not_published: { hotp_counter0_8digits: string } }>('figure3-supplementary');
  const [supp] = parsePskc(fig('figure3-supplementary'));
  t.match(supp, { digits: 8, counter: 0, serial: f3.device.serial, manufacturer: f3.device.manufacturer, issuer: 'Issuer' });
  t.equal(bytesToHex(supp!.secret), f3.expected_secret_hex);
  const otp = createOtp({ profile: supp!.profile!, key: supp!.secret, digits: supp!.digits });
  t.equal(otp.generate(supp!.counter!), f3.derived_not_published.hotp_counter0_8digits, 'an imported key generates RFC 4226 codes');

  const f5 = meta<{ keys: Array<{ key_id: string; algorithm: string; expected_secret_hex: string; response_format: { length: number } }> }>('figure5-pin-policy');
  const both = parsePskc(fig('figure5-pin-policy'));
  t.same(both.map((k) => [k.id, k.algorithm, bytesToHex(k.secret), k.digits]), f5.keys.map((k) => [k.key_id, k.algorithm, k.expected_secret_hex, k.response_format.length]));
  t.equal(both[1]!.profile, null, 'the PIN key maps to no OTP profile');
});

t.test('RFC 6030 figure 4: a key without a secret is refused', async (t) => {
  t.throws(() => parsePskc(fig('figure4-key-derivation-values')), { code: 'ERR_PSKC', message: /key 12345678 carries no Secret/ });
});

t.test('RFC 6030 figure 6: AES-128-CBC under a pre-shared key, HMAC-SHA1 ValueMAC', async (t) => {
  const f6 = meta<{ expected_secret_hex: string; pre_shared_key_hex: string }>('figure6-preshared-aes128cbc');
  const [key] = parsePskc(fig('figure6-preshared-aes128cbc'), { preSharedKey: hexToBytes(f6.pre_shared_key_hex) });
  t.equal(bytesToHex(key!.secret), f6.expected_secret_hex);
  t.match(key, { id: '12345678', digits: 8, counter: 0, serial: '987654321' });
  t.throws(() => parsePskc(fig('figure6-preshared-aes128cbc')), { code: 'ERR_PSKC_DECRYPT', message: /opts.preSharedKey is required/ });
  t.throws(() => parsePskc(fig('figure6-preshared-aes128cbc'), { preSharedKey: new Uint8Array(24) }), { code: 'ERR_PSKC_DECRYPT', message: /needs a 16-byte key/ });
});

t.test('RFC 6030 figure 7: PBKDF2 passphrase key', async (t) => {
  const f7 = meta<{ expected_secret_hex: string; kdf: { password: string } }>('figure7-pbkdf2');
  const [key] = parsePskc(fig('figure7-pbkdf2'), { password: f7.kdf.password });
  t.equal(bytesToHex(key!.secret), f7.expected_secret_hex);
  t.throws(() => parsePskc(fig('figure7-pbkdf2')), { code: 'ERR_PSKC_DECRYPT', message: /opts.password is required/ });
  let wrong: { code?: string; message?: string } = {};
  try {
    parsePskc(fig('figure7-pbkdf2'), { password: 'wrong password' });
  } catch (e) {
    wrong = e as typeof wrong;
  }
  t.match(wrong.code, /^ERR_PSKC_(DECRYPT|MAC)$/, 'a wrong password fails as decryption or MAC failure');
  t.notMatch(wrong.message, /wrong password/, 'the password is not echoed');
});

t.test('tampering and missing MACs are caught before decryption', async (t) => {
  const xml = fig('figure6-preshared-aes128cbc');
  const tampered = xml.replace('AAECAwQFBgcICQoLDA0OD+cI', 'AAECAwQFBgcICQoLDA0OD+cJ');
  t.throws(() => parsePskc(tampered, { preSharedKey: PSK }), { code: 'ERR_PSKC_MAC', message: /ValueMAC does not match/ });
  t.throws(() => parsePskc(xml.replace(/<ValueMAC>[^<]*<\/ValueMAC>/, ''), { preSharedKey: PSK }), { code: 'ERR_PSKC_MAC', message: /without a ValueMAC/ });
  t.throws(() => parsePskc(xml.replace(/<MACMethod[\s\S]*<\/MACMethod>/, ''), { preSharedKey: PSK }), { code: 'ERR_PSKC_MAC', message: /without a MACMethod/ });

  // Without <MACKey> the encryption key itself is the MAC key (RFC 6030 drafts, python-pskc).
  const cipherValue = /<Secret>[\s\S]*?<xenc:CipherValue>\s*([^<\s]+)/.exec(xml)![1]!;
  const macWithPsk = nodeHmac('sha1', PSK).update(Buffer.from(cipherValue, 'base64')).digest('base64');
  const noMacKey = xml.replace(/<MACKey>[\s\S]*<\/MACKey>/, '').replace(/<ValueMAC>[^<]*<\/ValueMAC>/, `<ValueMAC>${macWithPsk}</ValueMAC>`);
  t.equal(bytesToHex(parsePskc(noMacKey, { preSharedKey: PSK })[0]!.secret), '3132333435363738393031323334353637383930');
});

/** A container built with node:crypto only: tripledes-cbc secret, hmac-sha1 over it. */
function tripleDesContainer(key: Buffer, macKey: Buffer, secret: Buffer): string {
  const cbc = (k: Buffer, plain: Buffer): string => {
    const iv = randomBytes(8);
    const c = createCipheriv('des-ede3-cbc', k, iv);
    return Buffer.concat([iv, c.update(plain), c.final()]).toString('base64');
  };
  const secretValue = cbc(key, secret);
  const valueMac = nodeHmac('sha1', macKey).update(Buffer.from(secretValue, 'base64')).digest('base64');
  const enc = (v: string): string =>
    `<xenc:EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#tripledes-cbc"/><xenc:CipherData><xenc:CipherValue>${v}</xenc:CipherValue></xenc:CipherData>`;
  return `<?xml version="1.0"?>
<KeyContainer Version="1.0" xmlns="urn:ietf:params:xml:ns:keyprov:pskc" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" xmlns:xenc="http://www.w3.org/2001/04/xmlenc#">
  <EncryptionKey><ds:KeyName>transport</ds:KeyName></EncryptionKey>
  <MACMethod Algorithm="http://www.w3.org/2000/09/xmldsig#hmac-sha1"><MACKey>${enc(cbc(key, macKey))}</MACKey></MACMethod>
  <KeyPackage><Key Id="t1" Algorithm="urn:kodeviser:pskc:totp-tdes">
    <Data><Secret><EncryptedValue>${enc(secretValue)}</EncryptedValue><ValueMAC>${valueMac}</ValueMAC></Secret>
      <Time><PlainValue>0</PlainValue></Time><TimeInterval><PlainValue>60</PlainValue></TimeInterval><TimeDrift><PlainValue>-3</PlainValue></TimeDrift></Data>
  </Key></KeyPackage>
</KeyContainer>`;
}

t.test('tripledes-cbc containers made by node:crypto decrypt', async (t) => {
  const key = hexToBytes('0123456789abcdef23456789abcdef01456789abcdef0123');
  const secret = randomBytes(24);
  const [k] = parsePskc(tripleDesContainer(Buffer.from(key), randomBytes(20), secret), { preSharedKey: key });
  t.match(k, { id: 't1', profile: 'totp-tdes', time: 0, timeInterval: 60, timeDrift: -3, digits: 6 });
  t.equal(bytesToHex(k!.secret), secret.toString('hex'));
});

t.test('writePskc → parsePskc round-trips every profile, plain and protected', async (t) => {
  const inputs: PskcKeyInput[] = PROFILES.map((profile, i) => ({
    id: `k${i}&<"'>`, profile, secret: new Uint8Array(profile.includes('tdes') ? 24 : 32).map((_, j) => i * 7 + j + 1),
    digits: 6 + (i % 3), serial: '12-3456789-7', manufacturer: 'kodeviser & co', issuer: 'MitID <test>',
    ...(profile.startsWith('hotp') ? { counter: i } : { time: 0, timeInterval: 30, timeDrift: -i }),
  }));
  const expectParsed = (xml: string, opts: Parameters<typeof parsePskc>[1]): void => {
    const parsed = parsePskc(xml, opts);
    t.equal(parsed.length, inputs.length);
    parsed.forEach((k, i) => {
      const { secret, ...rest } = inputs[i]!;
      t.match(k, rest);
      t.equal(k.algorithm, algorithmForProfile(rest.profile).algorithm);
      t.equal(bytesToHex(k.secret), bytesToHex(secret));
    });
  };
  const plain = writePskc(inputs);
  t.match(plain, /<pskc:PlainValue>/);
  expectParsed(plain, {});
  for (const preSharedKey of [new Uint8Array(16).fill(1), new Uint8Array(24).fill(2), new Uint8Array(32).fill(3)]) {
    const xml = writePskc(inputs, { preSharedKey });
    t.notMatch(xml, /<pskc:PlainValue>[A-Za-z0-9+/=]{20,}/, 'no secret in the clear');
    t.match(xml, `aes${preSharedKey.length * 8}-cbc`);
    expectParsed(xml, { preSharedKey });
  }
  const withPassword = writePskc(inputs.slice(0, 2), { password: 'correct horse' });
  t.same(parsePskc(withPassword, { password: 'correct horse' }).map((k) => k.id), [inputs[0]!.id, inputs[1]!.id]);
  t.match(withPassword, /<IterationCount>100000<\/IterationCount>/);
  t.same(writePskc([]).includes('KeyPackage'), false, 'an empty container');
  t.same(parsePskc(writePskc([])), []);
});

t.test('writePskc with a given randomBytes is reproducible; defaults are minimal', async (t) => {
  const seeded = (): ((n: number) => Uint8Array) => { let x = 0; return (n) => new Uint8Array(n).map(() => (x = (x * 31 + 7) & 0xff)); };
  const input: PskcKeyInput = { id: 'a', profile: 'hotp-aes128', secret: new Uint8Array(16) };
  t.equal(writePskc([input], { preSharedKey: PSK, randomBytes: seeded() }), writePskc([input], { preSharedKey: PSK, randomBytes: seeded() }));
  t.not(writePskc([input], { preSharedKey: PSK }), writePskc([input], { preSharedKey: PSK }), 'fresh IVs by default');
  const [k] = parsePskc(writePskc([input]));
  t.same(Object.keys(k!).sort(), ['algorithm', 'digits', 'id', 'profile', 'secret']);
  t.throws(() => writePskc([input], { preSharedKey: PSK, randomBytes: (n) => new Uint8Array(n - 1) }), { code: 'ERR_ARGUMENT', message: /iv must be 16 bytes/ });
});

t.test('writePskc rejects bad input, naming the argument', async (t) => {
  const good: PskcKeyInput = { id: 'a', profile: 'hotp-sha1', secret: new Uint8Array(20) };
  const bad = (patch: Record<string, unknown>): PskcKeyInput[] => [{ ...good, ...patch } as PskcKeyInput];
  t.throws(() => writePskc('x' as unknown as PskcKeyInput[]), { code: 'ERR_ARGUMENT', message: /keys must be an array/ });
  t.throws(() => writePskc([null as unknown as PskcKeyInput]), { code: 'ERR_ARGUMENT', message: /keys\[0\] must be an object/ });
  t.throws(() => writePskc(bad({ id: '' })), { code: 'ERR_ARGUMENT', message: /keys\[0\].id/ });
  t.throws(() => writePskc(bad({ profile: 'hotp-md5' })), { code: 'ERR_UNKNOWN_PROFILE' });
  t.throws(() => writePskc(bad({ secret: 'abc' })), { code: 'ERR_ARGUMENT', message: /keys\[0\].secret/ });
  t.throws(() => writePskc(bad({ secret: new Uint8Array(0) })), { code: 'ERR_KEY_LENGTH', message: /keys\[0\].secret/ });
  t.throws(() => writePskc(bad({ digits: 9 })), { code: 'ERR_DIGITS', message: /keys\[0\].digits/ });
  t.throws(() => writePskc(bad({ counter: -1 })), { code: 'ERR_ARGUMENT', message: /keys\[0\].counter must be a safe non-negative integer/ });
  t.throws(() => writePskc(bad({ timeDrift: 0.5 })), { code: 'ERR_ARGUMENT', message: /keys\[0\].timeDrift must be a safe integer/ });
  t.throws(() => writePskc(bad({ serial: 1234567897 })), { code: 'ERR_ARGUMENT', message: /keys\[0\].serial must be a string/ });
  t.throws(() => writePskc([good], { preSharedKey: PSK, password: 'x' }), { code: 'ERR_ARGUMENT', message: /not both/ });
  t.throws(() => writePskc([good], { preSharedKey: new Uint8Array(8) }), { code: 'ERR_KEY_LENGTH', message: /opts.preSharedKey must be 16, 24 or 32/ });
  t.throws(() => writePskc([good], { password: '' }), { code: 'ERR_ARGUMENT', message: /opts.password/ });
});

t.test('parsePskc refuses what it cannot trust or understand', async (t) => {
  const basic = fig('figure2-basic');
  const cases: Array<[string, string, RegExp, string?]> = [
    ['DOCTYPE', '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><KeyContainer Version="1.0"/>', /DOCTYPE/],
    ['malformed', '<KeyContainer Version="1.0"><KeyPackage></KeyContainer>', /not well-formed/],
    ['no container', '<Other/>', /no KeyContainer/],
    ['version', basic.replace('Version="1.0"', 'Version="2.0"'), /Version must be 1.0/],
    ['no Key', '<KeyContainer Version="1.0"><KeyPackage/></KeyContainer>', /KeyPackage 1 has no Key/],
    ['two Keys', basic.replace(/(<Key [\s\S]*<\/Key>)/, '$1$1'), /appears more than once/],
    ['no Id', basic.replace('Id="12345678"', ''), /Key\/@Id is missing/],
    ['no Algorithm', basic.replace(/Algorithm="[^"]*"/, ''), /Key\/@Algorithm is missing/],
    ['bad base64', basic.replace('MTIzNA==', 'MTI*NA=='), /PlainValue must be base64/],
    ['bad Length', basic.replace('<Data>', '<AlgorithmParameters><ResponseFormat Length="six"/></AlgorithmParameters><Data>'), /ResponseFormat\/@Length must be an integer/],
    ['encrypted Counter', fig('figure3-supplementary').replace('<PlainValue>0</PlainValue>', '<EncryptedValue/>'), /encrypted Counter is not supported/],
    ['plain MACMethod, no key', basic.replace('<KeyPackage>', '<MACMethod Algorithm="http://www.w3.org/2000/09/xmldsig#hmac-sha1"/><KeyPackage>'), /no MACKey and there is no encryption key/],
    ['MAC algorithm', basic.replace('<KeyPackage>', '<MACMethod Algorithm="urn:x:md5"/><KeyPackage>'), /unsupported MAC algorithm urn:x:md5/],
    ['MAC no algorithm', basic.replace('<KeyPackage>', '<MACMethod/><KeyPackage>'), /MACMethod\/@Algorithm is missing/],
  ];
  for (const [what, xml, message] of cases) t.throws(() => parsePskc(xml), { code: 'ERR_PSKC', message }, what);
  t.throws(() => parsePskc(42 as unknown as string), { code: 'ERR_ARGUMENT', message: /xml must be a string/ });

  const f6 = fig('figure6-preshared-aes128cbc');
  t.throws(() => parsePskc(f6.replace(/<EncryptionKey>[\s\S]*<\/EncryptionKey>/, '')), { code: 'ERR_PSKC_DECRYPT', message: /MACKey is encrypted but the container declares no EncryptionKey/ });
  t.throws(() => parsePskc(f6.replaceAll('xmlenc#aes128-cbc', 'xmlenc#kw-aes128'), { preSharedKey: PSK }), { code: 'ERR_PSKC_DECRYPT', message: /unsupported encryption algorithm/ });
  t.throws(() => parsePskc(f6.replace(/<xenc:EncryptionMethod\s+Algorithm="[^"]*"\/>/, ''), { preSharedKey: PSK }), { code: 'ERR_PSKC', message: /EncryptionMethod\/@Algorithm is missing/ });
  const noCipherData = f6.replace(/(<Secret>[\s\S]*?)<xenc:CipherData>[\s\S]*?<\/xenc:CipherData>/, '$1');
  t.throws(() => parsePskc(noCipherData, { preSharedKey: PSK }), { code: 'ERR_PSKC', message: /key 12345678 CipherValue must be base64/ });
  const short = f6.replace(/ESIzRFVmd4iZABEiM0RVZgKn[^<]*/, 'ESIzRFVmd4iZABEiM0RVZg==');
  t.throws(() => parsePskc(short, { preSharedKey: PSK }), { code: 'ERR_PSKC_DECRYPT', message: /an IV and whole 16-byte blocks/ });

  const f7 = fig('figure7-pbkdf2');
  const pbkdf2Cases: Array<[string, string, RegExp]> = [
    ['KDF', f7.replace('pkcs-5v2-0#pbkdf2"', 'pkcs-5v2-0#scrypt"'), /unsupported KeyDerivationMethod/],
    ['params', f7.replace(/<pkcs5:PBKDF2-params>[\s\S]*<\/pkcs5:PBKDF2-params>/, ''), /PBKDF2-params are missing/],
    ['iterations', f7.replace('<IterationCount>1000<', '<IterationCount>0<'), /IterationCount must be 1\.\.10000000/],
    ['key length', f7.replace('<KeyLength>16<', '<KeyLength>17<'), /KeyLength must be 16, 24 or 32/],
    ['PRF', f7.replace('<PRF/>', '<PRF Algorithm="urn:x:md5"/>'), /unsupported PBKDF2 PRF urn:x:md5/],
  ];
  for (const [what, xml, message] of pbkdf2Cases) t.throws(() => parsePskc(xml, { password: 'qwerty' }), { code: 'ERR_PSKC', message }, what);
});

t.test('algorithm URIs and profiles', async (t) => {
  t.equal(profileFromAlgorithm('urn:ietf:params:xml:ns:keyprov:pskc:hotp'), 'hotp-sha1');
  t.equal(profileFromAlgorithm('urn:ietf:params:xml:ns:keyprov:pskc#totp', 'HMAC-SHA-256'), 'totp-sha256');
  t.equal(profileFromAlgorithm('http://www.ietf.org/keyprov/pskc#totp', 'hmac-sha512'), 'totp-sha512');
  t.equal(profileFromAlgorithm('urn:ietf:params:xml:ns:keyprov:pskc:hotp', 'HMAC-MD5'), null);
  t.equal(profileFromAlgorithm('urn:kodeviser:pskc:hotp-aes192'), 'hotp-aes192');
  t.equal(profileFromAlgorithm('urn:kodeviser:pskc:hotp-rc4'), null);
  t.equal(profileFromAlgorithm('urn:ietf:params:xml:ns:keyprov:pskc:pin'), null);
  for (const profile of PROFILES) {
    const { algorithm, suite } = algorithmForProfile(profile);
    t.equal(profileFromAlgorithm(algorithm, suite), profile, `${profile} survives its URI`);
    t.equal(profileFromAlgorithm(`urn:kodeviser:pskc:${profile}`), profile);
  }
});
