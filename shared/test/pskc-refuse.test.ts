/**
 * Malformed, hostile and unsupported containers: each is refused whole with a coded error whose
 * message names the key (or the document part) and the problem.
 */
import { randomBytes } from 'node:crypto';
import t from 'tap';
import { bytesToHex } from '@kodeviser/shared';
import { parsePskc } from '@kodeviser/shared/pskc';
import { figure, nodeCbc, nodeContainer, nodePbkdf2, PSKC_NS } from './pskc-fixtures.js';

const basic = figure('figure2-basic');
const supplementary = figure('figure3-supplementary');
/** figure 3 with its AlgorithmParameters and Data replaced */
const withKeyBody = (body: string): string => supplementary.replace(/<Issuer>[\s\S]*<\/Data>/, body);

t.test('deeply nested documents are refused (ERR_PSKC), never a stack overflow', async (t) => {
  for (const depth of [1_000, 10_000, 200_000]) {
    const deep = basic.replace('<KeyPackage>', `${'<x>'.repeat(depth)}${'</x>'.repeat(depth)}<KeyPackage>`);
    t.throws(() => parsePskc(deep), { code: 'ERR_PSKC', message: /Maximum nested tags exceeded/ }, `${depth} levels`);
  }
});

t.test('no DTD, no entities: billion laughs and external entities never reach the parser', async (t) => {
  const laughs = `<?xml version="1.0"?>
<!DOCTYPE KeyContainer [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>
${basic.replace(/^<\?xml[^>]*>/, '').replace('Issuer-A', '&lol2;')}`;
  const xxe = `<?xml version="1.0"?><!DOCTYPE KeyContainer [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>${basic.replace(/^<\?xml[^>]*>/, '').replace('Issuer-A', '&xxe;')}`;
  const message = 'PSKC document: a DOCTYPE or ENTITY declaration is not allowed (entities are never expanded)';
  t.throws(() => parsePskc(laughs), { code: 'ERR_PSKC', message }, 'billion laughs');
  t.throws(() => parsePskc(xxe), { code: 'ERR_PSKC', message }, 'external entity');
  t.throws(
    () => parsePskc(basic.replace('<KeyPackage>', '<!-- <!ENTITY x "y"> --><KeyPackage>')),
    { code: 'ERR_PSKC', message },
    'even in a comment',
  );
  t.throws(
    () => parsePskc(basic.replace('<?xml version="1.0" encoding="UTF-8"?>', '<!doctype KeyContainer>')),
    { code: 'ERR_PSKC', message },
    'any case',
  );
  t.throws(
    () => parsePskc(basic.replace('Issuer-A', '&xxe;')),
    { code: 'ERR_PSKC', message: 'PSKC document: the entity reference &xxe; is not declared (entities are never expanded)' },
    'an undeclared reference',
  );
  t.throws(() => parsePskc(basic.replace('Id="12345678"', 'Id="a&b"')), { code: 'ERR_PSKC', message: /bare "&"|not well-formed/ });
  t.throws(() => parsePskc(basic.replace('Issuer-A', '&#0;')), { code: 'ERR_PSKC', message: /&#0; is not an XML character/ });
  t.throws(() => parsePskc(basic.replace('Issuer-A', '&#xD800;')), { code: 'ERR_PSKC', message: /&#xD800; is not an XML character/ });
  // the predefined entities and character references are XML, not DTD: they are expanded
  t.throws(() => parsePskc(basic.replace('Issuer-A', '&#xFFFE;')), { code: 'ERR_PSKC', message: /&#xFFFE; is not an XML character/ });
  t.throws(() => parsePskc(basic.replace('Issuer-A', '&#x110000;')), { code: 'ERR_PSKC', message: /&#x110000; is not an XML character/ });
  const [key] = parsePskc(
    basic
      .replace('Issuer-A', 'A&amp;B &lt;&#x43;&#68;&gt; &quot;&apos;&#x9;&#xA;&#13;&#xE000;&#x1D11E;.')
      .replace('Id="12345678"', 'Id="x&amp;y&#x20;z"'),
  );
  t.equal(key!.issuer, 'A&B <CD> "\'\t\n\r\uE000𝄞.');
  t.equal(key!.id, 'x&y z');
  t.equal(parsePskc(basic.replace('<PlainValue>MTIzNA==', '<PlainValue><![CDATA[MTIz]]>NA=='))[0]!.issuer, 'Issuer-A', 'CDATA is text');
  t.equal(parsePskc(basic.replace('Issuer-A', '<![CDATA[a&lt;b]]>'))[0]!.issuer, 'a&lt;b', 'CDATA is not unescaped');
});

t.test('namespaces: any prefix for the right URI, the wrong URI refused', async (t) => {
  const prefixed = basic
    .replace('xmlns="urn:ietf:params:xml:ns:keyprov:pskc"', `xmlns:k="${PSKC_NS}"`)
    .replace(/<(\/?)(?=[A-Z])/g, '<$1k:');
  t.match(prefixed, '<k:KeyPackage>');
  t.equal(bytesToHex(parsePskc(prefixed)[0]!.secret), '31323334', "a prefix of the writer's choosing");
  t.equal(
    parsePskc(basic.replace('<Issuer>', '<Issuer xmlns="urn:ietf:params:xml:ns:keyprov:pskc" xml:lang="en" other="1">'))[0]!.issuer,
    'Issuer-A',
    'a redundant declaration',
  );

  t.throws(() => parsePskc(basic.replace(`xmlns="${PSKC_NS}"`, `xmlns="${PSKC_NS}:v2"`)), {
    code: 'ERR_PSKC',
    message: `the root element must be KeyContainer in namespace "${PSKC_NS}", got <KeyContainer> in "${PSKC_NS}:v2"`,
  });
  t.throws(
    () => parsePskc(basic.replace(` xmlns="${PSKC_NS}"`, '')),
    { code: 'ERR_PSKC', message: /got <KeyContainer> in ""/ },
    'no namespace',
  );
  t.throws(() => parsePskc(basic.replace('<PlainValue>', '<PlainValue xmlns="urn:evil">')), {
    code: 'ERR_PSKC',
    message: `key "12345678": <PlainValue> is in namespace "urn:evil", expected "${PSKC_NS}"`,
  });
  t.throws(() => parsePskc(basic.replace('<Secret>', '<x:Secret xmlns:x="urn:evil">').replace('</Secret>', '</x:Secret>')), {
    code: 'ERR_PSKC',
    message: `key "12345678": <Secret> is in namespace "urn:evil", expected "${PSKC_NS}"`,
  });
  t.throws(() => parsePskc(basic.replace('<Issuer>Issuer-A</Issuer>', '<p:Issuer>x</p:Issuer>')), {
    code: 'ERR_PSKC',
    message: 'PSKC document: the prefix "p" of <p:Issuer> is not bound to a namespace',
  });
  t.throws(() => parsePskc(basic.replace('<Issuer>', '<Issuer xmlns:p="">')), {
    code: 'ERR_PSKC',
    message: /the prefix "p" cannot be undeclared/,
  });
  t.throws(() => parsePskc(basic.replace('<Issuer>Issuer-A</Issuer>', '<a:b:c xmlns:a="urn:a"/>')), {
    code: 'ERR_PSKC',
    message: /<a:b:c> is not a valid qualified name/,
  });
});

t.test('not a well-formed single-rooted XML document', async (t) => {
  const cases: Array<[string, string, RegExp]> = [
    ['not XML', 'hello, world', /not well-formed XML/],
    ['unbalanced', basic.replace('</Data>', ''), /not well-formed XML: .*\(line \d+, column \d+\)/],
    ['truncated', basic.slice(0, 200), /not well-formed XML/],
    ['two roots', `${basic}<KeyContainer/>`, /expected one root element, found 2/],
    ['text after the root', `${basic}trailing`, /not well-formed XML: Extra text at the end/],
    ['text before the root', `trailing${basic.replace(/^<\?xml[^>]*>/, '')}`, /not well-formed XML/],
    ['a dangerous name', basic.replace('<Issuer>', '<Issuer __proto__="x">'), /not accepted by the XML parser/],
  ];
  for (const [name, xml, message] of cases) t.throws(() => parsePskc(xml), { code: 'ERR_PSKC', message }, name);
  t.throws(() => parsePskc(42 as unknown as string), { code: 'ERR_ARGUMENT', message: 'xml must be a string' });
  t.throws(() => parsePskc(basic, { preSharedKey: 'k' as unknown as Uint8Array }), {
    code: 'ERR_ARGUMENT',
    message: /preSharedKey must be a Uint8Array/,
  });
  t.throws(() => parsePskc(basic, { password: 1 as unknown as string }), { code: 'ERR_ARGUMENT', message: 'password must be a string' });
});

t.test('the container and its packages', async (t) => {
  const cases: Array<[string, string, string | RegExp]> = [
    ['unknown Version', basic.replace('Version="1.0"', 'Version="2.0"'), 'KeyContainer Version must be "1.0", got "2.0"'],
    ['no Version', basic.replace('Version="1.0"', ''), 'KeyContainer Version must be "1.0", got none'],
    ['no KeyPackage', `<KeyContainer Version="1.0" xmlns="${PSKC_NS}"/>`, 'the KeyContainer has no KeyPackage'],
    ['a KeyPackage without Key', basic.replace(/<Key [\s\S]*<\/Key>/, ''), 'KeyPackage #1 has no Key'],
    ['two Keys in a package', basic.replace(/(<Key [\s\S]*<\/Key>)/, '$1$1'), 'KeyPackage #1: more than one <Key> in <KeyPackage>'],
    ['duplicate Key Id', basic.replace(/(<KeyPackage>[\s\S]*<\/KeyPackage>)/, '$1$1'), 'key "12345678": duplicate Key Id (also key #1)'],
    ['no Id', basic.replace('Id="12345678"', ''), 'key #1: the Key has no Id'],
    ['empty Id', basic.replace('Id="12345678"', 'Id=""'), 'key "": the Key has no Id'],
    ['no Algorithm', basic.replace(/Algorithm="[^"]*"/, ''), 'key "12345678": the Key has no Algorithm'],
  ];
  for (const [name, xml, message] of cases) t.throws(() => parsePskc(xml), { code: 'ERR_PSKC', message }, name);
  const second = basic
    .replace(/(<KeyPackage>[\s\S]*<\/KeyPackage>)/, '$1$1')
    .replace(/Id="12345678"([\s\S]*)Id="12345678"/, 'Id="12345678"$1');
  t.throws(() => parsePskc(second), { code: 'ERR_PSKC', message: 'key #2: the Key has no Id' }, 'the index counts packages');
});

t.test('secrets: present, single, strictly base64', async (t) => {
  const secretCases: Array<[string, string, string]> = [
    ['no Secret', basic.replace(/<Secret>[\s\S]*<\/Secret>/, ''), 'key "12345678": the Key has no Secret'],
    ['no Data', basic.replace(/<Data>[\s\S]*<\/Data>/, ''), 'key "12345678": the Key has no Secret'],
    [
      'an empty Secret',
      basic.replace(/<Secret>[\s\S]*<\/Secret>/, '<Secret/>'),
      'key "12345678": Secret has neither PlainValue nor EncryptedValue',
    ],
    [
      'both values',
      basic.replace('</PlainValue>', '</PlainValue><EncryptedValue/>'),
      'key "12345678": Secret has both PlainValue and EncryptedValue',
    ],
    [
      'two PlainValues',
      basic.replace(/(<PlainValue>[\s\S]*<\/PlainValue>)/, '$1$1'),
      'key "12345678": more than one <PlainValue> in <Secret>',
    ],
    ['two Secrets', basic.replace(/(<Secret>[\s\S]*<\/Secret>)/, '$1$1'), 'key "12345678": more than one <Secret> in <Data>'],
    ['zero bytes', basic.replace(/MTIzNA==\s*/, ''), 'key "12345678": the Secret is empty'],
    [
      'truncated base64',
      basic.replace('MTIzNA==', 'MTIzNA='),
      'key "12345678": Secret PlainValue is not valid base64: 7 characters is not a whole number of 4-character groups (truncated?)',
    ],
    [
      'a stray character',
      basic.replace('MTIzNA==', 'MTI*NA=='),
      'key "12345678": Secret PlainValue is not valid base64: it contains a character outside the base64 alphabet or misplaced "="',
    ],
    [
      'padding inside',
      basic.replace('MTIzNA==', 'MT==NA=='),
      'key "12345678": Secret PlainValue is not valid base64: it contains a character outside the base64 alphabet or misplaced "="',
    ],
    [
      'url-safe alphabet',
      basic.replace('MTIzNA==', 'MTI_NA=='),
      'key "12345678": Secret PlainValue is not valid base64: it contains a character outside the base64 alphabet or misplaced "="',
    ],
    [
      'non-zero pad bits',
      basic.replace('MTIzNA==', 'MTIzNB=='),
      'key "12345678": Secret PlainValue is not valid base64: the last group has non-zero padding bits',
    ],
  ];
  for (const [name, xml, message] of secretCases) t.throws(() => parsePskc(xml), { code: 'ERR_PSKC', message }, name);
  t.equal(
    bytesToHex(parsePskc(basic.replace('MTIzNA==', ' MTIz\r\n\tNA== '))[0]!.secret),
    '31323334',
    'whitespace inside base64 is skipped',
  );
  t.throws(
    () =>
      parsePskc(
        figure('figure4-key-derivation-values')
          .replace(/<KeyReference>[\s\S]*<\/KeyReference>/, '')
          .replace(/<KeyProfileId>.*<\/KeyProfileId>/, ''),
        { allowKeyReferences: true },
      ),
    { code: 'ERR_PSKC', message: 'key "12345678": the Key has no Secret' },
    'allowKeyReferences needs a reference',
  );
  t.throws(() => parsePskc(figure('figure4-key-derivation-values').replace(/<KeyReference>[\s\S]*<\/KeyReference>/, '')), {
    code: 'ERR_PSKC',
    message: 'key "12345678": the Key has no Secret, only KeyReference/KeyProfileId "keyProfile1" (pass allowKeyReferences to accept it)',
  });
  const [profileOnly] = parsePskc(figure('figure4-key-derivation-values').replace(/<KeyReference>[\s\S]*<\/KeyReference>/, ''), {
    allowKeyReferences: true,
  });
  t.same([profileOnly!.keyProfileId, 'keyReference' in profileOnly!], ['keyProfile1', false]);
});

t.test('ResponseFormat and the integer data', async (t) => {
  const format = (attributes: string): string =>
    supplementary.replace('<ResponseFormat Length="8" Encoding="DECIMAL"/>', `<ResponseFormat ${attributes}/>`);
  const counter = (value: string): string => supplementary.replace('<PlainValue>0</PlainValue>', `<PlainValue>${value}</PlainValue>`);
  const cases: Array<[string, string, string]> = [
    [
      'hex digits for HOTP',
      format('Length="8" Encoding="HEXADECIMAL"'),
      'key "12345678": ResponseFormat Encoding must be DECIMAL for hotp-sha1, got "HEXADECIMAL"',
    ],
    [
      'check digits',
      format('Length="8" Encoding="DECIMAL" CheckDigits="true"'),
      'key "12345678": ResponseFormat CheckDigits is not supported for hotp-sha1',
    ],
    ['9 digits', format('Length="9" Encoding="DECIMAL"'), 'key "12345678": ResponseFormat Length must be 6 to 8 for hotp-sha1, got 9'],
    ['5 digits', format('Length="5" Encoding="DECIMAL"'), 'key "12345678": ResponseFormat Length must be 6 to 8 for hotp-sha1, got 5'],
    ['no Length', format('Encoding="DECIMAL"'), 'key "12345678": ResponseFormat Length must be an integer ≥ 1, got ""'],
    ['a word', format('Length="eight" Encoding="DECIMAL"'), 'key "12345678": ResponseFormat Length must be an integer ≥ 1, got "eight"'],
    ['a negative counter', counter('-1'), 'key "12345678": Counter must be an integer ≥ 0, got "-1"'],
    ['a fractional counter', counter('1.5'), 'key "12345678": Counter must be an integer ≥ 0, got "1.5"'],
    [
      'a counter of 2^63',
      counter('9223372036854775808'),
      'key "12345678": Counter 9223372036854775808 is above the limit 9223372036854775807 (2^63 − 1)',
    ],
    [
      'a counter of 2^64 (beyond xsd:unsignedLong)',
      counter('18446744073709551616'),
      'key "12345678": Counter 18446744073709551616 is above the limit 9223372036854775807 (2^63 − 1)',
    ],
    [
      'a counter of 21 digits',
      counter('0'.repeat(30) + '1'.repeat(21)),
      `key "12345678": Counter ${'1'.repeat(21)} is above the limit 9223372036854775807 (2^63 − 1)`,
    ],
    [
      'no counter value',
      supplementary.replace('<PlainValue>0</PlainValue>', ''),
      'key "12345678": Counter has neither PlainValue nor EncryptedValue',
    ],
    [
      'a zero step',
      supplementary.replace('</Counter>', '</Counter><TimeInterval><PlainValue>0</PlainValue></TimeInterval>'),
      'key "12345678": TimeInterval must be an integer ≥ 1, got "0"',
    ],
    [
      'a word for Time',
      supplementary.replace('</Counter>', '</Counter><Time><PlainValue>now</PlainValue></Time>'),
      'key "12345678": Time must be an integer, got "now"',
    ],
  ];
  for (const [name, xml, message] of cases) t.throws(() => parsePskc(xml), { code: 'ERR_PSKC', message }, name);

  const pin = figure('figure5-pin-policy').replace(
    '<ResponseFormat Length="4" Encoding="DECIMAL"/>',
    '<ResponseFormat Length="12" Encoding="ALPHANUMERIC"/>',
  );
  t.equal(parsePskc(format('Length="8"'))[0]!.digits, 8, 'no Encoding (as python-pskc writes by default): decimal, what an OTP is');
  t.equal(parsePskc(pin)[1]!.digits, 12, 'a key of no OTP profile keeps any Length and Encoding');
  const totp = withKeyBody(`<AlgorithmParameters><ResponseFormat Length="7" Encoding="DECIMAL"/></AlgorithmParameters>
    <Data><Secret><PlainValue>MTIzNDU2Nzg5MDEyMzQ1Njc4OTA=</PlainValue></Secret>
    <Counter><PlainValue> +12 </PlainValue></Counter><Time><PlainValue>-60</PlainValue></Time>
    <TimeInterval><PlainValue>60</PlainValue></TimeInterval><TimeDrift><PlainValue>-4</PlainValue></TimeDrift></Data>`).replace(
    ':pskc:hotp"',
    ':pskc:totp"',
  );
  t.match(parsePskc(totp)[0], { profile: 'totp-sha1', digits: 7, counter: 12, time: -60, timeInterval: 60, timeDrift: -4 });
  t.equal(
    parsePskc(supplementary.replace(/<AlgorithmParameters>[\s\S]*<\/AlgorithmParameters>/, ''))[0]!.digits,
    6,
    'Length defaults to 6',
  );
});

t.test('encrypted containers built by node:crypto', async (t) => {
  const key = randomBytes(16);
  const secret = randomBytes(20);
  const counter = Buffer.from([0, 0, 0, 0, 0, 0, 0x01, 0x02]);
  const [k] = parsePskc(nodeContainer({ key, secret, encrypted: { Counter: counter, Time: Buffer.from([0x5f]) } }), { preSharedKey: key });
  t.same([bytesToHex(k!.secret), k!.counter, k!.time], [secret.toString('hex'), 0x0102, 0x5f], 'Secret, Counter and Time decrypt');

  for (const keyBytes of [24, 32]) {
    const wide = randomBytes(keyBytes);
    t.equal(
      bytesToHex(parsePskc(nodeContainer({ key: wide, secret }), { preSharedKey: wide })[0]!.secret),
      secret.toString('hex'),
      `aes${keyBytes * 8}-cbc`,
    );
  }
  for (const prf of ['sha1', 'sha256', 'sha512'] as const) {
    const derived = nodePbkdf2('pässwörd', { prf });
    t.equal(
      bytesToHex(
        parsePskc(nodeContainer({ key: derived.key, encryptionKey: derived.encryptionKey, secret }), { password: 'pässwörd' })[0]!.secret,
      ),
      secret.toString('hex'),
      `PBKDF2-HMAC-${prf}`,
    );
  }
  const noPrf = nodePbkdf2('pw', { prfElement: '' });
  t.ok(
    parsePskc(nodeContainer({ key: noPrf.key, encryptionKey: noPrf.encryptionKey, secret }), { password: 'pw' }),
    'PRF absent means HMAC-SHA1',
  );
  for (const [name, opts] of [
    ['pkcs5:', { paramsPrefix: 'pkcs5:' }],
    ['PSKC', { paramsDefaultNamespace: PSKC_NS }],
  ] as const) {
    const qualified = nodePbkdf2('pw', opts);
    t.ok(
      parsePskc(nodeContainer({ key: qualified.key, encryptionKey: qualified.encryptionKey, secret }), { password: 'pw' }),
      `${name}-qualified PBKDF2 parameters`,
    );
  }
  const wideDerived = nodePbkdf2('pw', { keyBytes: 32 });
  t.ok(
    parsePskc(nodeContainer({ key: wideDerived.key, encryptionKey: wideDerived.encryptionKey, secret }), { password: 'pw' }),
    'a 32-byte derived key for aes256-cbc',
  );

  // refusals that need the MAC to match, so that the check behind it is reached
  const fail = (c: Parameters<typeof nodeContainer>[0], code: string, message: string | RegExp, name: string): void => {
    t.throws(() => parsePskc(nodeContainer(c), { preSharedKey: c.key }), { code, message }, name);
  };
  fail(
    { key, secret: { cipherValue: randomBytes(16) } },
    'ERR_PSKC_DECRYPT',
    'key "n1": Secret: CipherValue must be a 16-byte IV and whole 16-byte blocks, got 16 bytes',
    'an IV alone',
  );
  fail({ key, secret: { cipherValue: randomBytes(40) } }, 'ERR_PSKC_DECRYPT', /got 40 bytes/, 'part of a block');
  fail(
    { key, secret: { cipherValue: nodeCbc(key, Buffer.alloc(16, 0), true) } },
    'ERR_PSKC_DECRYPT',
    'key "n1": Secret: decryption failed, bad padding (wrong key, or the value was altered)',
    'pad byte 0',
  );
  fail({ key, secret: { cipherValue: nodeCbc(key, Buffer.alloc(16, 17), true) } }, 'ERR_PSKC_DECRYPT', /bad padding/, 'pad byte 17');
  t.equal(
    parsePskc(nodeContainer({ key, secret: { cipherValue: nodeCbc(key, Buffer.from('0123456789abcd\xff\x02', 'latin1'), true) } }), {
      preSharedKey: key,
    })[0]!.secret.length,
    14,
    'XML-Enc padding: only the last byte counts',
  );
  fail(
    { key, secret, macKeyCipherValue: nodeCbc(key, Buffer.alloc(0)) },
    'ERR_PSKC_MAC',
    'key "n1": the MACKey is empty',
    'an empty MAC key',
  );
  fail(
    { key, secret, encrypted: { Counter: Buffer.alloc(0) } },
    'ERR_PSKC',
    'key "n1": encrypted Counter must be 1 to 8 bytes, got 0',
    'an empty counter',
  );
  fail(
    { key, secret, encrypted: { Counter: Buffer.alloc(9, 0) } },
    'ERR_PSKC',
    'key "n1": encrypted Counter must be 1 to 8 bytes, got 9',
    'a 9-byte counter',
  );
  fail(
    { key, secret, encrypted: { Counter: Buffer.alloc(8, 0xff) } },
    'ERR_PSKC',
    'key "n1": Counter 18446744073709551615 is above the limit 9223372036854775807 (2^63 − 1)',
    '2^64 − 1, beyond 2^63 − 1',
  );
  fail(
    { key, secret, encrypted: { TimeInterval: Buffer.from([0]) } },
    'ERR_PSKC',
    'key "n1": TimeInterval must be an integer ≥ 1, got "0"',
    'a zero step',
  );
});

t.test('unsupported or incomplete protection', async (t) => {
  const key = randomBytes(16);
  const secret = randomBytes(20);
  const doc = nodeContainer({ key, secret });
  const cases: Array<[string, string, string, string | RegExp]> = [
    [
      'no EncryptionKey',
      doc.replace(/<EncryptionKey>.*<\/EncryptionKey>/, ''),
      'ERR_PSKC_DECRYPT',
      'key "n1": the value is encrypted but the KeyContainer has no EncryptionKey',
    ],
    [
      'an X.509 EncryptionKey',
      doc.replace('<ds:KeyName>node</ds:KeyName>', '<ds:X509Data/>'),
      'ERR_PSKC_DECRYPT',
      'key "n1": EncryptionKey holds neither ds:KeyName nor xenc11:DerivedKey (only pre-shared and PBKDF2 keys are supported)',
    ],
    [
      'aes128-gcm (XML-Enc 1.1)',
      doc.replace('http://www.w3.org/2001/04/xmlenc#aes128-cbc', 'http://www.w3.org/2009/xmlenc11#aes128-gcm'),
      'ERR_PSKC_DECRYPT',
      /^key "n1": MACKey EncryptionMethod "http:\/\/www.w3.org\/2009\/xmlenc11#aes128-gcm" is not supported/,
    ],
    ['no EncryptionMethod', doc.replace(/<xenc:EncryptionMethod[^>]*>/, ''), 'ERR_PSKC', 'key "n1": <MACKey> has no <EncryptionMethod>'],
    [
      'no CipherValue',
      doc.replace(/<xenc:CipherValue>[^<]*<\/xenc:CipherValue>/, ''),
      'ERR_PSKC',
      'key "n1": <CipherData> has no <CipherValue>',
    ],
    [
      'an EncryptionMethod without Algorithm',
      doc.replace(/<xenc:EncryptionMethod[^>]*>/, '<xenc:EncryptionMethod/>'),
      'ERR_PSKC_DECRYPT',
      'key "n1": MACKey EncryptionMethod "" is not supported (aes128-cbc, aes192-cbc, aes256-cbc, tripledes-cbc, kw-aes128, kw-aes192, kw-aes256)',
    ],
    [
      'a MACMethod without Algorithm',
      doc.replace(/<MACMethod[^>]*>/, '<MACMethod>'),
      'ERR_PSKC_MAC',
      'key "n1": MACMethod "" is not supported (only http://www.w3.org/2000/09/xmldsig#hmac-sha1)',
    ],
    [
      'a MACKeyReference',
      doc.replace(/<MACKey>[\s\S]*<\/MACKey>/, '<MACKeyReference>k</MACKeyReference>'),
      'ERR_PSKC_MAC',
      'key "n1": MACMethod has no MACKey (a MACKeyReference is not supported)',
    ],
  ];
  for (const [name, xml, code, message] of cases) t.throws(() => parsePskc(xml, { preSharedKey: key }), { code, message }, name);

  const { key: derivedKey, encryptionKey } = nodePbkdf2('pw');
  const derived = nodeContainer({ key: derivedKey, encryptionKey, secret });
  const kdf: Array<[string, string, string]> = [
    [
      'another KDF',
      derived.replace('pkcs-5v2-0#pbkdf2', 'pkcs-5v2-0#scrypt'),
      'key "n1": EncryptionKey DerivedKey: KeyDerivationMethod "http://www.rsasecurity.com/rsalabs/pkcs/schemas/pkcs-5v2-0#scrypt" is not supported (only PBKDF2)',
    ],
    [
      'no KDF named',
      derived.replace(/<xenc11:KeyDerivationMethod[^>]*>/, '<xenc11:KeyDerivationMethod>'),
      'key "n1": EncryptionKey DerivedKey: KeyDerivationMethod "" is not supported (only PBKDF2)',
    ],
    [
      'no parameters',
      derived.replace(/<pkcs5:PBKDF2-params[\s\S]*<\/pkcs5:PBKDF2-params>/, ''),
      'key "n1": EncryptionKey DerivedKey: <KeyDerivationMethod> has no <PBKDF2-params>',
    ],
    [
      'another salt source',
      derived.replace(/<Specified>.*<\/Specified>/, '<OtherSource/>'),
      'key "n1": EncryptionKey DerivedKey: only a Specified salt is supported',
    ],
    [
      'zero iterations',
      derived.replace(/<IterationCount>\d+</, '<IterationCount>0<'),
      'key "n1": EncryptionKey DerivedKey IterationCount must be an integer ≥ 1, got "0"',
    ],
    [
      'too many iterations',
      derived.replace(/<IterationCount>\d+</, '<IterationCount>10000001<'),
      'key "n1": EncryptionKey DerivedKey: IterationCount 10000001 is above the limit of 10000000',
    ],
    [
      'a KeyLength unlike the cipher',
      derived.replace('<KeyLength>16<', '<KeyLength>24<'),
      'key "n1": EncryptionKey DerivedKey: KeyLength 24 does not match the 16-byte key of the cipher',
    ],
    [
      'an unknown PRF',
      derived.replace('xmldsig#hmac-sha1"/></pkcs5', 'xmldsig-more#hmac-md5"/></pkcs5'),
      'key "n1": EncryptionKey DerivedKey: PRF "http://www.w3.org/2000/09/xmldsig-more#hmac-md5" is not supported',
    ],
    [
      'parameters in another namespace',
      derived.replace('<Salt>', '<Salt xmlns="urn:evil">'),
      `key "n1": EncryptionKey DerivedKey: <Salt> is in namespace "urn:evil", expected "" or "http://www.rsasecurity.com/rsalabs/pkcs/schemas/pkcs-5v2-0#" or "${PSKC_NS}"`,
    ],
  ];
  for (const [name, xml, message] of kdf)
    t.throws(() => parsePskc(xml, { password: 'pw' }), { code: /^ERR_PSKC(_DECRYPT)?$/, message }, name);
  t.throws(() => parsePskc(derived), { code: 'ERR_PSKC_DECRYPT', message: 'password required for key "n1" (EncryptionKey DerivedKey)' });
  t.ok(parsePskc(derived.replace(/<KeyLength>\d+<\/KeyLength>/, ''), { password: 'pw' }), "KeyLength absent: the cipher's");
  t.ok(parsePskc(doc, { preSharedKey: key, password: 'unused' }), 'a password the document does not need is ignored');
});
