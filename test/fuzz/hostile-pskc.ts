/**
 * Hostile PSKC (RFC 6030) documents for the import route: valid containers written by the shared
 * writePskc (plain, and encrypted under a pre-shared key) for fresh serials, then damaged —
 * cut anywhere, base64 truncated, namespaces swapped, attributes made giant or hostile — and the
 * classic XML attacks: entity expansion ("billion laughs", CVE-2003-1564 style), external
 * entities (XXE: file and network), parameter entities, 10,000 nested elements. The parser
 * (shared/src/pskc.ts over fast-xml-parser) refuses DTDs outright, so none of these may cost
 * more than a 400.
 */
import fc from 'fast-check';
import { makeSerial, profileInfo, PROFILES } from '@kodeviser/shared';
import { writePskc } from '@kodeviser/shared/pskc';
import { hostileString } from './hostile.js';

export const PSKC_PSK_HEX = '00112233445566778899aabbccddeeff';
const PSK = Buffer.from(PSKC_PSK_HEX, 'hex');

const freshSerial = fc.integer({ min: 100_000_000, max: 999_999_999 }).map((n) => makeSerial(String(n)));

/** A valid container of one to three keys (the right key length for each profile). */
const validDocument: fc.Arbitrary<{ xml: string; encrypted: boolean }> = fc
  .record({
    keys: fc.uniqueArray(
      fc.record({ serial: freshSerial, profile: fc.constantFrom(...PROFILES), counter: fc.nat({ max: 1000 }), withSerialNo: fc.boolean() }),
      { minLength: 1, maxLength: 3, selector: (k) => k.serial },
    ),
    encrypted: fc.boolean(),
    fill: fc.nat({ max: 255 }),
  })
  .map(({ keys, encrypted, fill }) => {
    const inputs = keys.map((k) => ({
      id: k.serial,
      profile: k.profile,
      secret: new Uint8Array(profileInfo(k.profile).keyBytes).fill(fill),
      ...(k.withSerialNo ? { serial: k.serial } : {}),
      ...(k.profile.startsWith('hotp') ? { counter: k.counter } : { timeInterval: 30, time: 0 }),
    }));
    return { xml: writePskc(inputs, encrypted ? { preSharedKey: PSK, randomBytes: (n) => new Uint8Array(n).fill(7) } : {}), encrypted };
  });

const xmlEscape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/"/g, '&quot;');

const BILLION_LAUGHS = `<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>`;

/** Things put before the root element, or used instead of the whole document. */
const PROLOGUES = [
  BILLION_LAUGHS,
  '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>',
  '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "http://127.0.0.1:1/evil">]>',
  '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY % pe SYSTEM "file:///etc/passwd"> %pe;]>',
  '<?xml version="1.0"?><!DOCTYPE x SYSTEM "http://127.0.0.1:1/evil.dtd">',
  '<?xml version="1.0" encoding="UTF-16"?>',
  '<?xml version="1.1"?>',
  '<?xml-stylesheet href="http://127.0.0.1:1/x.xsl"?>',
  '\ufeff',
  '<!-- comment -->',
] as const;

/** Where an entity is used inside the document, to expand if anything would. */
const ENTITY_USES = ['&lol9;', '&xxe;', '&lol9;&lol9;&lol9;', '&#0;', '&#xD800;', '&#1114112;', '&undefined;', '&amp', '&'] as const;

type Mutation = (xml: string) => fc.Arbitrary<string>;

/** Cheap damage, drawn often. */
const mutations: Mutation[] = [
  (xml) => fc.constant(xml),
  (xml) => fc.constant(xml),
  (xml) => fc.constant(xml),
  (xml) => fc.nat({ max: xml.length }).map((n) => xml.slice(0, n)),
  (xml) => fc.constantFrom(...PROLOGUES).map((p) => xml.replace(/^<\?xml[^>]*\?>/, p)),
  (xml) =>
    fc.tuple(fc.constantFrom(...PROLOGUES.slice(0, 5)), fc.constantFrom(...ENTITY_USES)).map(([p, use]) =>
      xml
        .replace(/^<\?xml[^>]*\?>/, p)
        .replace(/<pskc:SerialNo>[^<]*/, `<pskc:SerialNo>${use}`)
        .replace(/(<pskc:PlainValue>)/, `$1${use}`),
    ),
  // wrong or missing namespaces
  (xml) =>
    fc
      .constantFrom(
        'urn:ietf:params:xml:ns:keyprov:pskc:wrong',
        '',
        'http://www.w3.org/2000/09/xmldsig#',
        'urn:ietf:params:xml:ns:keyprov:pskc ',
      )
      .map((ns) => xml.replace('xmlns:pskc="urn:ietf:params:xml:ns:keyprov:pskc"', `xmlns:pskc="${ns}"`)),
  (xml) => fc.constant(xml.replace(/pskc:/g, '')),
  (xml) => fc.constant(xml.replace(/pskc:/g, 'other:')),
  // base64 truncated, padded wrong, not base64
  (xml) =>
    fc
      .tuple(fc.nat(), fc.constantFrom('', '=', '==', '!!!!', '====', ' ', 'A', '\u0000'))
      .map(([n, tail]) =>
        xml.replace(
          /(<pskc:PlainValue>|<xenc:CipherValue>|<pskc:ValueMAC>)([^<]*)/g,
          (_m, tag: string, b64: string) => `${tag}${b64.slice(0, n % (b64.length + 1))}${tail}`,
        ),
      ),
  // giant and hostile attributes and text
  (xml) => hostileString.map((s) => xml.replace(/Id="[^"]*"/, `Id="${xmlEscape(s)}"`)),
  (xml) => hostileString.map((s) => xml.replace(/<pskc:SerialNo>[^<]*/, `<pskc:SerialNo>${xmlEscape(s)}`)),
  (xml) =>
    fc
      .oneof(
        hostileString.map(xmlEscape),
        fc.constantFrom('urn:ietf:params:xml:ns:keyprov:pskc:totp', 'http://www.ietf.org/keyprov/pskc#hotp', ''),
      )
      .map((a) => xml.replace(/Algorithm="urn:[^"]*"/, `Algorithm="${a}"`)),
  (xml) =>
    fc
      .oneof(hostileString.map(xmlEscape), fc.constantFrom('0', '5', '9', '-6', '1e3', '999999999999999999999'))
      .map((n) => xml.replace(/Length="6"/, `Length="${n}"`)),
  (xml) =>
    fc.constantFrom('-1', '1e3', '99999999999999999999', 'x', '').map((n) => xml.replace(/<pskc:Counter>[^<]*/, `<pskc:Counter>${n}`)),
  (xml) => fc.constant(xml.replace(/<pskc:KeyPackage>[\s\S]*<\/pskc:KeyPackage>/, (kp) => kp + kp)),
  (xml) => fc.constant(xml.replace('aes128-cbc', 'aes256-gcm').replace('hmac-sha1', 'hmac-md5')),
  (xml) => fc.constant(xml.replace(/<pskc:Secret>/, '<pskc:Secret><![CDATA[<pskc:PlainValue>AAAA</pskc:PlainValue>]]>')),
];

/**
 * Big documents: each costs tens of milliseconds to refuse, so they are drawn rarely (about one
 * case in 200; still ~50 per 10,000).
 */
const expensive: fc.Arbitrary<string> = fc.oneof(
  validDocument.chain(({ xml }) => fc.constantFrom(10_000, 200_000).map((n) => xml.replace(/Id="[^"]*"/, `Id="${'A'.repeat(n)}"`))),
  fc.constantFrom(
    `<pskc:KeyContainer xmlns:pskc="urn:ietf:params:xml:ns:keyprov:pskc" Version="1.0">${'<pskc:KeyPackage>'.repeat(10_000)}${'</pskc:KeyPackage>'.repeat(10_000)}</pskc:KeyContainer>`,
    `${'<a>'.repeat(10_000)}${'</a>'.repeat(10_000)}`,
  ),
);

export const hostilePskcBody: fc.Arbitrary<{ xml: string | Buffer; encrypted: boolean }> = fc.oneof(
  {
    arbitrary: validDocument.chain(({ xml, encrypted }) => fc.oneof(...mutations.map((m) => m(xml))).map((x) => ({ xml: x, encrypted }))),
    weight: 200,
  },
  { arbitrary: expensive.map((xml) => ({ xml, encrypted: false })), weight: 1 },
  {
    arbitrary: fc
      .constantFrom(
        `${BILLION_LAUGHS}<lolz>&lol9;</lolz>`,
        '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><pskc:KeyContainer xmlns:pskc="urn:ietf:params:xml:ns:keyprov:pskc" Version="1.0">&xxe;</pskc:KeyContainer>',
        '<pskc:KeyContainer xmlns:pskc="urn:ietf:params:xml:ns:keyprov:pskc" Version="2.0"/>',
        '<pskc:KeyContainer xmlns:pskc="urn:ietf:params:xml:ns:keyprov:pskc" Version="1.0"></pskc:KeyContainer>',
        '<KeyContainer/>',
        '<',
        '<<<>>>',
        '',
        ' ',
        'null',
        '{"tokens":[]}',
        '<x:y xmlns:x=""/>',
        '\u0000\u0000',
      )
      .map((xml) => ({ xml, encrypted: false })),
    weight: 20,
  },
  { arbitrary: fc.uint8Array({ maxLength: 200 }).map((b) => ({ xml: Buffer.from(b), encrypted: false })), weight: 8 },
  { arbitrary: fc.string({ unit: 'binary', maxLength: 200 }).map((xml) => ({ xml, encrypted: false })), weight: 8 },
);

/** The X-PSKC-Key header: mostly the right key for an encrypted document, else missing or wrong. */
export const pskcKeyHeader = (encrypted: boolean): fc.Arbitrary<string | null> =>
  fc.oneof(
    { arbitrary: fc.constant(encrypted ? PSKC_PSK_HEX : null), weight: 6 },
    {
      arbitrary: fc.constantFrom<string | null>(
        null,
        PSKC_PSK_HEX,
        'ffeeddccbbaa99887766554433221100',
        '0011',
        'not hex at all, not at all!!',
        `${PSKC_PSK_HEX}00`,
        PSKC_PSK_HEX.toUpperCase(),
      ),
      weight: 2,
    },
  );
