import t, { type Test } from 'tap';
import { bytesToHex, createOtp, hexToBytes, PROFILES } from '@kodeviser/shared';
import { parsePskc, pskcAlgorithmToProfile, profileToPskcAlgorithm, type PskcKey } from '@kodeviser/shared/pskc';
import { figure, flipByte, note } from './pskc-fixtures.js';

interface Note {
  key_id: string;
  algorithm?: string;
  expected_secret_hex: string | null;
  response_format?: { length: number; encoding: string };
  counter?: number;
  issuer?: string;
  device?: { manufacturer: string; serial: string };
}

/** What the JSON note of a figure promises about one key. */
function matchesNote(t: Test, key: PskcKey | undefined, n: Note): void {
  t.ok(key, `key ${n.key_id} is there`);
  t.equal(key!.id, n.key_id);
  t.equal(key!.algorithm, n.algorithm ?? 'urn:ietf:params:xml:ns:keyprov:pskc:hotp');
  t.equal(bytesToHex(key!.secret), n.expected_secret_hex ?? '');
  t.equal(key!.digits, n.response_format?.length ?? 6);
  t.equal(key!.counter, n.counter);
  if (n.issuer !== undefined) t.equal(key!.issuer, n.issuer);
  if (n.device !== undefined) t.match(key, { serial: n.device.serial, manufacturer: n.device.manufacturer });
}

const f6 = note<
  Note & { pre_shared_key_hex: string; mac_key_cipher_value_b64: string; secret_cipher_value_b64: string; value_mac_b64: string }
>('figure6-preshared-aes128cbc');
const f7 = note<Note & { kdf: { password: string } }>('figure7-pbkdf2');
const PSK = hexToBytes(f6.pre_shared_key_hex);

t.test('RFC 6030 figures 2 and 3: plain secrets with their metadata', async (t) => {
  const [basic, ...more2] = parsePskc(figure('figure2-basic'));
  t.same(more2, []);
  matchesNote(t, basic, note<Note>('figure2-basic'));
  t.equal(basic!.profile, 'hotp-sha1');
  t.same(
    Object.keys(basic!).sort(),
    ['algorithm', 'digits', 'id', 'issuer', 'profile', 'secret'],
    'absent fields are absent, not undefined',
  );

  const f3 = note<Note & { derived_not_published: { hotp_counter0_8digits: string } }>('figure3-supplementary');
  const [supplementary] = parsePskc(figure('figure3-supplementary'));
  matchesNote(t, supplementary, f3);
  const otp = createOtp({ profile: supplementary!.profile!, key: supplementary!.secret, digits: supplementary!.digits });
  t.equal(otp.generate(supplementary!.counter!), f3.derived_not_published.hotp_counter0_8digits, 'the imported key makes RFC 4226 codes');
});

t.test('RFC 6030 figure 4: a key held out of band, accepted only when asked for', async (t) => {
  const f4 = note<Note & { key_profile_id: string; key_reference: string }>('figure4-key-derivation-values');
  t.throws(() => parsePskc(figure('figure4-key-derivation-values')), {
    code: 'ERR_PSKC',
    message:
      'key "12345678": the Key has no Secret, only KeyReference/KeyProfileId "MasterKeyLabel" (pass allowKeyReferences to accept it)',
  });
  const [key] = parsePskc(figure('figure4-key-derivation-values'), { allowKeyReferences: true });
  matchesNote(t, key, f4);
  t.equal(key!.secret.length, 0);
  t.match(key, { keyReference: f4.key_reference, keyProfileId: f4.key_profile_id });
});

t.test('RFC 6030 figure 5: two KeyPackages, the PIN key mapping to no profile', async (t) => {
  const f5 = note<{ keys: Note[] }>('figure5-pin-policy');
  const keys = parsePskc(figure('figure5-pin-policy'));
  t.equal(keys.length, 2);
  f5.keys.forEach((n, i) => matchesNote(t, keys[i], n));
  t.same(
    keys.map((k) => k.profile),
    ['hotp-sha1', null],
  );
});

t.test('RFC 6030 figure 6: AES-128-CBC under a pre-shared key, ValueMAC checked', async (t) => {
  const [key] = parsePskc(figure('figure6-preshared-aes128cbc'), { preSharedKey: PSK });
  matchesNote(t, key, f6);
  t.throws(() => parsePskc(figure('figure6-preshared-aes128cbc')), {
    code: 'ERR_PSKC_DECRYPT',
    message: 'pre-shared key required for key "12345678" (EncryptionKey "Pre-shared-key")',
  });
  t.throws(() => parsePskc(figure('figure6-preshared-aes128cbc'), { preSharedKey: new Uint8Array(32) }), {
    code: 'ERR_PSKC_DECRYPT',
    message: 'key "12345678": the pre-shared key must be 16 bytes for the document\'s cipher, got 32',
  });
  const wrongKey = PSK.slice();
  wrongKey[15] = (wrongKey[15] as number) ^ 1;
  t.throws(() => parsePskc(figure('figure6-preshared-aes128cbc'), { preSharedKey: wrongKey }), {
    code: /^ERR_PSKC_(MAC|DECRYPT)$/,
    message: /^key "12345678": /,
  });
});

t.test('RFC 6030 figure 7: a PBKDF2 passphrase key', async (t) => {
  const [key] = parsePskc(figure('figure7-pbkdf2'), { password: f7.kdf.password });
  matchesNote(t, key, f7);
  t.throws(() => parsePskc(figure('figure7-pbkdf2')), {
    code: 'ERR_PSKC_DECRYPT',
    message: 'password required for key "123456" (EncryptionKey "My Password 1")',
  });
  for (const password of ['qwertz', 'Qwerty', '']) {
    let refusal: { code?: string; message?: string } = {};
    try {
      parsePskc(figure('figure7-pbkdf2'), { password });
    } catch (e) {
      refusal = e as typeof refusal;
    }
    t.match(refusal, { code: /^ERR_PSKC_(MAC|DECRYPT)$/, message: /^key "123456": / }, `password ${JSON.stringify(password)} refused`);
    if (password !== '') t.notMatch(refusal.message, password, 'the password is not echoed');
  }
});

t.test('one flipped bit anywhere in a ciphertext, the ValueMAC or the MAC key refuses the whole document', async (t) => {
  const xml = figure('figure6-preshared-aes128cbc');
  const targets = [
    ['Secret CipherValue', f6.secret_cipher_value_b64],
    ['ValueMAC', f6.value_mac_b64],
    ['MACKey CipherValue', f6.mac_key_cipher_value_b64],
  ] as const;
  for (const [what, b64] of targets) {
    const codes = new Set<string>();
    for (let i = 0; i < Buffer.from(b64, 'base64').length; i++) {
      try {
        parsePskc(flipByte(xml, b64, i), { preSharedKey: PSK });
        t.fail(`${what} byte ${i} flipped was accepted`);
      } catch (e) {
        codes.add((e as { code: string }).code);
        t.match((e as Error).message, /^key "12345678": /);
      }
    }
    t.ok(
      [...codes].every((c) => c === 'ERR_PSKC_MAC' || c === 'ERR_PSKC_DECRYPT'),
      `${what}: every flip refused (${[...codes].join(', ')})`,
    );
  }
  // the ValueMAC is checked before decryption, so a changed ciphertext is a MAC failure, never a padding one
  t.throws(() => parsePskc(flipByte(xml, f6.secret_cipher_value_b64, 47), { preSharedKey: PSK }), {
    code: 'ERR_PSKC_MAC',
    message: 'key "12345678": Secret ValueMAC does not match (wrong key, or the value was altered)',
  });
  t.throws(() => parsePskc(flipByte(xml, f6.value_mac_b64, 0), { preSharedKey: PSK }), {
    code: 'ERR_PSKC_MAC',
    message: /ValueMAC does not match/,
  });

  const f7xml = figure('figure7-pbkdf2');
  const secret7 = 'oTvo+S22nsmS2Z/RtcoF8Hfh+jzMe0RkiafpoDpnoZTjPYZu6V+A4aEn032yCr4f';
  t.throws(() => parsePskc(flipByte(f7xml, secret7, 20), { password: f7.kdf.password }), {
    code: 'ERR_PSKC_MAC',
    message: /^key "123456": Secret ValueMAC does not match/,
  });
  t.throws(
    () => parsePskc(f7xml.replace('<IterationCount>1000<', '<IterationCount>1001<'), { password: f7.kdf.password }),
    { code: /^ERR_PSKC_(MAC|DECRYPT)$/ },
    'a changed KDF parameter is a wrong key',
  );
});

t.test('an encrypted value without its MAC is refused', async (t) => {
  const xml = figure('figure6-preshared-aes128cbc');
  t.throws(() => parsePskc(xml.replace(/<ValueMAC>[^<]*<\/ValueMAC>/, ''), { preSharedKey: PSK }), {
    code: 'ERR_PSKC_MAC',
    message: 'key "12345678": Secret is encrypted but has no ValueMAC',
  });
  t.throws(() => parsePskc(xml.replace(/<MACMethod[\s\S]*<\/MACMethod>/, ''), { preSharedKey: PSK }), {
    code: 'ERR_PSKC_MAC',
    message: 'key "12345678": the value is encrypted but the KeyContainer has no MACMethod to authenticate it',
  });
  t.throws(() => parsePskc(xml.replace(/<MACKey>[\s\S]*<\/MACKey>/, ''), { preSharedKey: PSK }), {
    code: 'ERR_PSKC_MAC',
    message: /MACMethod has no MACKey/,
  });
  t.throws(() => parsePskc(xml.replace('xmldsig#hmac-sha1', 'xmldsig-more#hmac-md5'), { preSharedKey: PSK }), {
    code: 'ERR_PSKC_MAC',
    message: /MACMethod "http:\/\/www.w3.org\/2000\/09\/xmldsig-more#hmac-md5" is not supported/,
  });
  t.throws(() => parsePskc(xml.replace(/<ValueMAC>[^<]*</, '<ValueMAC>Su+NvtQfmvfJzF6bmQiJqoLRExc<'), { preSharedKey: PSK }), {
    code: 'ERR_PSKC',
    message: /ValueMAC is not valid base64/,
  });
});

t.test('algorithm URIs ↔ profiles', async (t) => {
  t.equal(profileToPskcAlgorithm('hotp-sha1'), 'urn:ietf:params:xml:ns:keyprov:pskc:hotp');
  t.equal(profileToPskcAlgorithm('totp-sha1'), 'urn:ietf:params:xml:ns:keyprov:pskc:totp');
  t.equal(profileToPskcAlgorithm('hotp-aes128'), 'urn:kodeviser:params:pskc:hotp-aes128');
  t.equal(profileToPskcAlgorithm('totp-sha512'), 'urn:kodeviser:params:pskc:totp-sha512');
  for (const profile of PROFILES) {
    t.equal(pskcAlgorithmToProfile(profileToPskcAlgorithm(profile)), profile, `${profile} survives its URI`);
    t.equal(pskcAlgorithmToProfile(`urn:kodeviser:params:pskc:${profile}`), profile);
  }
  t.equal(new Set(PROFILES.map(profileToPskcAlgorithm)).size, 14, 'fourteen distinct URIs');
  t.equal(pskcAlgorithmToProfile('urn:ietf:params:xml:ns:keyprov:pskc:pin'), null);
  t.equal(pskcAlgorithmToProfile('urn:kodeviser:params:pskc:hotp-md5'), null);
  t.equal(pskcAlgorithmToProfile('urn:ietf:params:xml:ns:keyprov:pskc:ocra'), null);
  // other writers name SHA-2 HOTP/TOTP with the IETF URI and a Suite
  t.equal(pskcAlgorithmToProfile('urn:ietf:params:xml:ns:keyprov:pskc:hotp', 'HMAC-SHA256'), 'hotp-sha256');
  t.equal(pskcAlgorithmToProfile('urn:ietf:params:xml:ns:keyprov:pskc:totp', ' hmac-sha-512 '), 'totp-sha512');
  t.equal(pskcAlgorithmToProfile('urn:ietf:params:xml:ns:keyprov:pskc:totp', 'SHA1'), 'totp-sha1');
  t.equal(
    pskcAlgorithmToProfile('urn:ietf:params:xml:ns:keyprov:pskc:hotp', 'HMAC-MD5'),
    null,
    'an unknown Suite is no profile, not SHA-1',
  );
  const suite = figure('figure3-supplementary').replace('<ResponseFormat', '<Suite>HMAC-SHA256</Suite><ResponseFormat');
  t.equal(parsePskc(suite)[0]!.profile, 'hotp-sha256');
  t.throws(() => profileToPskcAlgorithm('hotp-md5' as 'hotp-sha1'), { code: 'ERR_UNKNOWN_PROFILE', message: /profile must be one of/ });
});
