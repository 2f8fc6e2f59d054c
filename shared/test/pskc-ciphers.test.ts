// PSKC's other EncryptionMethods (RFC 6030 §6.1: kw-aes128 is RECOMMENDED; aes192/256-cbc,
// tripledes-cbc and kw-aes192/256 are allowed): the key-unwrap figures of RFC 3394 §4 and
// RFC 5649 §6, then containers encrypted by node:crypto (des-ede3-cbc, id-aes*-wrap and
// id-aes*-wrap-pad: a second implementation of each) that parsePskc must read, and refuse when
// altered or under the wrong key.
import { randomBytes } from 'node:crypto';
import t from 'tap';
import { bytesToHex, hexToBytes } from '@kodeviser/shared';
import { parsePskc } from '@kodeviser/shared/pskc';
import { decryptTdeaCbc, unwrapKey } from '../src/pskc-crypto.js';
import { flipByte, nodeContainer, nodeKeyWrap, nodeTdeaCbc } from './pskc-fixtures.js';

t.test('AES key unwrap: the RFC 3394 and RFC 5649 figures', async (t) => {
  // RFC 3394 §4.1: 128 bits of key data with a 128-bit KEK; §4.6: 256 bits with a 256-bit KEK.
  t.equal(
    bytesToHex(
      unwrapKey(hexToBytes('000102030405060708090A0B0C0D0E0F'), hexToBytes('1FA68B0A8112B447AEF34BD8FB5A7B829D3E862371D2CFE5'), 'figure'),
    ),
    '00112233445566778899aabbccddeeff',
  );
  t.equal(
    bytesToHex(
      unwrapKey(
        hexToBytes('000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F'),
        hexToBytes('28C9F404C4B810F4CBCCB35CFB87F8263F5786E2D80ED326CBC7F0E71A99F43BFB988B9B7A02DD21'),
        'figure',
      ),
    ),
    '00112233445566778899aabbccddeeff000102030405060708090a0b0c0d0e0f',
  );
  // RFC 5649 §6: a 20-byte key (an HMAC-SHA1 secret's length) with a 192-bit KEK, padded.
  t.equal(
    bytesToHex(
      unwrapKey(
        hexToBytes('5840df6e29b02af1ab493b705bf16ea1ae8338f4dcc176a8'),
        hexToBytes('138bdeaa9b8fa7fc61f97742e72248ee5ae6ae5360d1ae6a5f54f373fa543b6a'),
        'figure',
      ),
    ),
    'c37b7e6492584340bed12207808941155068f738',
  );

  const kek = hexToBytes('000102030405060708090A0B0C0D0E0F');
  const wrapped = hexToBytes('1FA68B0A8112B447AEF34BD8FB5A7B829D3E862371D2CFE5');
  for (let i = 0; i < wrapped.length; i++) {
    const altered = wrapped.slice();
    altered[i] = (altered[i] as number) ^ 0x80;
    t.throws(() => unwrapKey(kek, altered, 'Secret'), {
      code: 'ERR_PSKC_DECRYPT',
      message: 'Secret: key unwrap failed, integrity check (wrong key, or the value was altered)',
    });
  }
  t.throws(() => unwrapKey(kek, wrapped.subarray(0, 20), 'Secret'), {
    code: 'ERR_PSKC_DECRYPT',
    message: /whole 8-byte blocks, at least 16 bytes, got 20/,
  });
  t.throws(() => unwrapKey(kek, wrapped.subarray(0, 8), 'Secret'), { code: 'ERR_PSKC_DECRYPT', message: /got 8$/ });
});

t.test('kw-aes128/192/256 containers wrapped by node:crypto', async (t) => {
  for (const keyBytes of [16, 24, 32]) {
    const key = randomBytes(keyBytes);
    for (const secret of [randomBytes(20), randomBytes(32), randomBytes(16), randomBytes(64)]) {
      const what = `kw-aes${keyBytes * 8}, a ${secret.length}-byte secret (RFC ${secret.length % 8 === 0 ? '3394' : '5649'})`;
      const counter = Buffer.from([0x01, 0x02]);
      // No ValueMAC, as a key wrap needs none, and no MACMethod at all.
      const bare = nodeContainer({ key, secret, cipher: 'kw-aes', valueMacs: false, encrypted: { Counter: counter } });
      t.notMatch(bare, /ValueMAC|MACMethod/);
      const [k] = parsePskc(bare, { preSharedKey: key });
      t.same([bytesToHex(k!.secret), k!.counter], [secret.toString('hex'), 0x0102], `${what}: read without a ValueMAC`);
      // With ValueMACs (over the wrapped bytes, MAC key wrapped too): checked all the same.
      t.equal(
        bytesToHex(parsePskc(nodeContainer({ key, secret, cipher: 'kw-aes' }), { preSharedKey: key })[0]!.secret),
        secret.toString('hex'),
        `${what}: with a ValueMAC`,
      );
    }
  }
  // A 16-byte secret wrapped with RFC 5649's padding (its AIV, not RFC 3394's IV) reads too.
  const key = randomBytes(16);
  const secret = randomBytes(16);
  const padded = nodeKeyWrap(key, secret, true);
  t.equal(
    bytesToHex(
      parsePskc(nodeContainer({ key, secret: { cipherValue: padded }, cipher: 'kw-aes', valueMacs: false }), { preSharedKey: key })[0]!
        .secret,
    ),
    secret.toString('hex'),
    'RFC 5649 over whole blocks',
  );
});

t.test('kw-aes: altered, wrong key or a wrong ValueMAC, and nothing is returned', async (t) => {
  const key = randomBytes(16);
  const secret = randomBytes(20);
  const wrapped = nodeKeyWrap(key, secret);
  const doc = nodeContainer({ key, secret: { cipherValue: wrapped }, cipher: 'kw-aes', valueMacs: false });
  for (const index of [0, 7, 8, wrapped.length - 1]) {
    t.throws(
      () => parsePskc(flipByte(doc, wrapped.toString('base64'), index), { preSharedKey: key }),
      { code: 'ERR_PSKC_DECRYPT', message: 'key "n1": Secret: key unwrap failed, integrity check (wrong key, or the value was altered)' },
      `bit flipped in byte ${index}`,
    );
  }
  t.throws(
    () => parsePskc(doc, { preSharedKey: randomBytes(16) }),
    { code: 'ERR_PSKC_DECRYPT', message: /key unwrap failed/ },
    'the wrong key',
  );
  t.throws(
    () => parsePskc(doc, { preSharedKey: randomBytes(32) }),
    { code: 'ERR_PSKC_DECRYPT', message: /the pre-shared key must be 16 bytes/ },
    'a key of the wrong length',
  );
  const withMac = nodeContainer({ key, secret: { cipherValue: wrapped }, cipher: 'kw-aes' });
  const mac = /<ValueMAC>([^<]*)<\/ValueMAC>/.exec(withMac)![1]!;
  t.throws(
    () => parsePskc(flipByte(withMac, mac, 3), { preSharedKey: key }),
    { code: 'ERR_PSKC_MAC', message: /ValueMAC does not match/ },
    'a ValueMAC present is checked',
  );
});

t.test('tripledes-cbc containers encrypted by node:crypto', async (t) => {
  // Three distinct DES keys (keying option 1): node's des-ede3-cbc takes 24 bytes.
  const key = randomBytes(24);
  for (const secret of [randomBytes(20), randomBytes(16), randomBytes(1), randomBytes(64)]) {
    const [k] = parsePskc(nodeContainer({ key, secret, cipher: 'tdea-cbc', encrypted: { Counter: Buffer.from([7]) } }), {
      preSharedKey: key,
    });
    t.same([bytesToHex(k!.secret), k!.counter], [secret.toString('hex'), 7], `a ${secret.length}-byte secret`);
  }
  const secret = randomBytes(20);
  const cipherValue = nodeTdeaCbc(key, secret);
  t.equal(bytesToHex(decryptTdeaCbc(key, cipherValue, 'Secret')), secret.toString('hex'), 'decryptTdeaCbc alone');
  const doc = nodeContainer({ key, secret: { cipherValue }, cipher: 'tdea-cbc' });
  t.notOk(doc.includes('aes128-cbc'), 'every value, the MAC key too, is TDEA-encrypted');
  t.throws(
    () => parsePskc(doc.replace(/<ValueMAC>[^<]*<\/ValueMAC>/, ''), { preSharedKey: key }),
    { code: 'ERR_PSKC_MAC', message: 'key "n1": Secret is encrypted but has no ValueMAC' },
    'CBC needs its ValueMAC',
  );
  t.throws(
    () => parsePskc(flipByte(doc, cipherValue.toString('base64'), 9), { preSharedKey: key }),
    { code: 'ERR_PSKC_MAC', message: /ValueMAC does not match/ },
    'altered: the MAC catches it before decryption',
  );
  t.throws(() => parsePskc(doc, { preSharedKey: randomBytes(16) }), {
    code: 'ERR_PSKC_DECRYPT',
    message: /the pre-shared key must be 24 bytes/,
  });
  // Under the wrong key the MAC key decrypts to garbage (or fails its padding): never the secret.
  t.throws(() => parsePskc(doc, { preSharedKey: randomBytes(24) }), { code: /^ERR_PSKC_(MAC|DECRYPT)$/ }, 'the wrong key');
  t.throws(() => decryptTdeaCbc(key, cipherValue.subarray(0, 12), 'Secret'), {
    code: 'ERR_PSKC_DECRYPT',
    message: /an 8-byte IV and whole 8-byte blocks, got 12 bytes/,
  });
  t.throws(() => decryptTdeaCbc(key, cipherValue.subarray(0, 8), 'Secret'), { code: 'ERR_PSKC_DECRYPT', message: /got 8 bytes/ });
  // A last byte that is no XML-Enc pad length (0 or above the block) is refused.
  const raw = Buffer.concat([randomBytes(8), Buffer.alloc(8)]);
  const tdeaNoPad = (await import('node:crypto')).createCipheriv('des-ede3-cbc', key, raw.subarray(0, 8)).setAutoPadding(false);
  const zeroPad = Buffer.concat([raw.subarray(0, 8), tdeaNoPad.update(Buffer.alloc(8)), tdeaNoPad.final()]);
  t.throws(() => decryptTdeaCbc(key, zeroPad, 'Secret'), {
    code: 'ERR_PSKC_DECRYPT',
    message: 'Secret: decryption failed, bad padding (wrong key, or the value was altered)',
  });
});

t.test("decryptTdeaCbc leaves the caller's bytes alone, Buffer or not", async (t) => {
  const key = randomBytes(24);
  const secret = randomBytes(30);
  const cipherValue = nodeTdeaCbc(key, secret);
  const copy = Buffer.from(cipherValue);
  t.equal(bytesToHex(decryptTdeaCbc(key, cipherValue, 'Secret')), secret.toString('hex'));
  t.equal(bytesToHex(decryptTdeaCbc(key, new Uint8Array(cipherValue), 'Secret')), secret.toString('hex'));
  t.same(cipherValue, copy, 'the CipherValue is unchanged');
});
