/**
 * Hostile input for the fuzz suites, as fast-check arbitraries: requests whose
 * bodies are built as JSON *text* (so that what JSON.stringify can never produce — duplicate keys,
 * `__proto__` and `constructor` keys, numbers beyond double range, NaN, trailing garbage, cut-off
 * documents — is sent too), mixed with valid fields so that a good share of the cases gets past
 * the schema and into the service and the store. Strings come from a list of known troublemakers
 * (NUL, lone surrogates, right-to-left marks, look-alike digits, SQL and template injection) and
 * from fast-check's full-Unicode and raw-byte generators.
 */
import fc from 'fast-check';

export interface FuzzRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  payload?: string | Buffer;
}

const TROUBLE = [
  '',
  ' ',
  '\u0000',
  'a\u0000b',
  '123456\u0000',
  '\ud800',
  '\udfff',
  '\ud83d\ude00',
  '\u202e7981234567',
  '\u200f123456',
  "' OR '1'='1",
  "'; DROP TABLE tokens; --",
  '1; SELECT * FROM users --',
  '" OR 1=1 --',
  "admin'--",
  '%00',
  '%s%s%n',
  '../../etc/passwd',
  '${7*7}',
  '{{7*7}}',
  '<script>alert(1)</script>',
  '__proto__',
  'constructor',
  'prototype',
  'NaN',
  'Infinity',
  '-Infinity',
  '1e309',
  '0x1F',
  '١٢٣٤٥٦',
  '１２３４５６',
  '𝟏𝟐𝟑𝟒𝟓𝟔',
  '12-3456789-7',
  '1234567897',
  '123456',
  '12345678',
  '000000',
  '-123456',
  '+123456',
  ' 123456',
  '123456 ',
  '123 456',
  '9'.repeat(400),
  '\n',
  '\r\n',
  '\t',
  'A'.repeat(300),
  'ä',
  'İ',
  '\ufeff',
  '\u2028',
  'null',
  'true',
] as const;

export const hostileString: fc.Arbitrary<string> = fc.oneof(
  { arbitrary: fc.constantFrom(...TROUBLE), weight: 4 },
  { arbitrary: fc.string({ unit: 'binary', maxLength: 40 }), weight: 2 },
  { arbitrary: fc.string({ unit: 'grapheme', maxLength: 20 }), weight: 1 },
  {
    arbitrary: fc.string({ unit: fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c)), minLength: 1, maxLength: 3 }),
    weight: 1,
  },
  { arbitrary: fc.stringMatching(/^[0-9]{6,8}$/), weight: 2 },
);

/** JSON text fragments for a value: JSON.stringify of odd values, and raw tokens it never writes. */
export const hostileJsonValue: fc.Arbitrary<string> = fc.oneof(
  hostileString.map((s) => JSON.stringify(s)),
  fc.constantFrom(
    '1e400',
    '-1e400',
    '123456789012345678901234567890',
    '-0',
    '1.0',
    '06',
    '0.000000001',
    '9007199254740993',
    '-1',
    'NaN',
    'Infinity',
    'undefined',
    'null',
    'true',
    'false',
    '[]',
    '{}',
    '""',
    '"\\u0000"',
    '"\\ud800"',
    '"\\x41"',
    "'123456'",
    '{"__proto__":{"admin":true}}',
    '{"constructor":{"prototype":{"polluted":1}}}',
  ),
  fc.integer().map(String),
  fc.double().map((d) => JSON.stringify(d)),
  fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v)),
);

/** A field: present with a valid value, present with a hostile one, or absent. */
function field(name: string, valid: fc.Arbitrary<string>): fc.Arbitrary<Array<[string, string]>> {
  return fc.oneof(
    { arbitrary: valid.map((v) => [[name, v]] as Array<[string, string]>), weight: 6 },
    { arbitrary: hostileJsonValue.map((v) => [[name, v]] as Array<[string, string]>), weight: 2 },
    { arbitrary: fc.constant([] as Array<[string, string]>), weight: 1 },
    // the same key twice: which one wins must not matter for safety
    {
      arbitrary: fc.tuple(valid, hostileJsonValue).map(
        ([a, b]) =>
          [
            [name, a],
            [name, b],
          ] as Array<[string, string]>,
      ),
      weight: 1,
    },
  );
}

const extraEntries: fc.Arbitrary<Array<[string, string]>> = fc.oneof(
  { arbitrary: fc.constant([] as Array<[string, string]>), weight: 6 },
  {
    arbitrary: fc.constantFrom<Array<[string, string]>>(
      [['__proto__', '{"admin":true,"status":"enabled"}']],
      [['constructor', '{"prototype":{"isAdmin":true}}']],
      [['__proto__', 'null']],
      [['prototype', '{}']],
    ),
    weight: 2,
  },
  { arbitrary: fc.tuple(hostileString, hostileJsonValue).map(([k, v]) => [[k, v]] as Array<[string, string]>), weight: 2 },
);

function objectText(entries: Array<[string, string]>): string {
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`;
}

/** 10,000 nested arrays (and objects): deep enough to hurt a recursive parser or validator. */
export const DEEP_ARRAYS = `${'['.repeat(10_000)}${']'.repeat(10_000)}`;
export const DEEP_OBJECTS = `${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}`;

/** Whole-document mutations of a JSON text: cut, garbage after it, wrapped, replaced. */
function mutateJson(text: fc.Arbitrary<string>, bodyLimit: number): fc.Arbitrary<string> {
  const huge = `{"x":"${'A'.repeat(bodyLimit + 10)}"}`;
  return fc.oneof(
    { arbitrary: text, weight: 12 },
    { arbitrary: fc.tuple(text, fc.nat()).map(([s, n]) => s.slice(0, n % Math.max(1, s.length))), weight: 2 },
    {
      arbitrary: fc
        .tuple(text, fc.constantFrom('}', ',', ']', ' garbage', '\u0000', '{}', ' {"a":1}', '\n\n', '//', '/* */'))
        .map(([s, g]) => s + g),
      weight: 2,
    },
    { arbitrary: text.map((s) => `\ufeff${s}`), weight: 1 },
    { arbitrary: text.map((s) => `[${s}]`), weight: 1 },
    {
      arbitrary: fc.constantFrom(
        '',
        ' ',
        'null',
        'true',
        '1',
        '"text"',
        '[]',
        '{}',
        '{',
        '}',
        '{"',
        '{"a"',
        '{"a":',
        "{'a':1}",
        '{a:1}',
        'NaN',
        DEEP_ARRAYS,
        DEEP_OBJECTS,
        huge,
      ),
      weight: 2,
    },
  );
}

const CONTENT_TYPES = [
  'application/json; charset=utf-8',
  'application/JSON',
  'application/json; charset=latin1',
  'application/json;;;',
  'application/json; boundary=x',
  'text/plain',
  'text/json',
  'application/xml',
  'text/xml',
  'application/pskc+xml',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=----x',
  'application/octet-stream',
  '*/*',
  'application/',
  'garbage',
  'application/json\u0000',
] as const;

/** Mostly JSON, sometimes another or a broken content type. */
export const jsonContentType: fc.Arbitrary<string | null> = fc.oneof(
  { arbitrary: fc.constant('application/json'), weight: 10 },
  { arbitrary: fc.constantFrom<string | null>(...CONTENT_TYPES, null), weight: 3 },
);

export interface JsonBodyOptions {
  /** the route's fields with valid JSON text for each */
  fields: Record<string, fc.Arbitrary<string>>;
  bodyLimit: number;
}

/** JSON text of an object with the given fields, each valid, hostile, absent or twice, in any order, plus odd keys. */
export function jsonObject(fields: Record<string, fc.Arbitrary<string>>): fc.Arbitrary<string> {
  return fc
    .tuple(...Object.entries(fields).map(([name, valid]) => field(name, valid)), extraEntries)
    .chain((groups) => fc.shuffledSubarray(groups.flat(), { minLength: groups.flat().length }))
    .map(objectText);
}

/** A JSON body for a route, and its content type (null: none sent). */
export function jsonBody(opts: JsonBodyOptions): fc.Arbitrary<{ payload: string | Buffer; contentType: string | null }> {
  const text = mutateJson(jsonObject(opts.fields), opts.bodyLimit);
  return fc.oneof(
    { arbitrary: fc.record({ payload: text, contentType: jsonContentType }), weight: 20 },
    // bytes that are not UTF-8 at all
    {
      arbitrary: fc.record({ payload: fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)), contentType: jsonContentType }),
      weight: 1,
    },
  );
}

/** Percent-encodes every UTF-8 byte but unreserved ones (a lone surrogate becomes U+FFFD first). */
export function pct(s: string): string {
  return [...Buffer.from(s, 'utf8')]
    .map((b) =>
      /[A-Za-z0-9\-._~]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`,
    )
    .join('');
}

/** A path segment: valid ones given, hostile ones encoded, and raw percent tricks. */
export function pathSegment(valid: fc.Arbitrary<string>): fc.Arbitrary<string> {
  return fc.oneof(
    { arbitrary: valid, weight: 6 },
    { arbitrary: hostileString.map(pct), weight: 3 },
    {
      arbitrary: fc.constantFrom(
        '%',
        '%zz',
        '%00',
        '..',
        '%2e%2e',
        '%2F',
        '%ff',
        '%c0%af',
        '%ud800',
        '%E2%80%AE',
        '1234567897%00',
        '12-3456789-7',
        '.',
        '',
        ';',
        '1234567897;x',
        '1234567897?',
        '%3F',
        '%23',
        '*',
      ),
      weight: 2,
    },
    { arbitrary: fc.constantFrom('9'.repeat(101), 'a'.repeat(5000)), weight: 1 },
  );
}

export const ALL_METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS'] as const;

/** Mostly the route's own method, sometimes any other. */
export function method(own: string): fc.Arbitrary<string> {
  return fc.oneof({ arbitrary: fc.constant(own), weight: 8 }, { arbitrary: fc.constantFrom(...ALL_METHODS), weight: 1 });
}

/** Authorization headers: mostly the right one, else missing, wrong or malformed. */
export function authorization(right: string, others: readonly string[] = []): fc.Arbitrary<string | null> {
  return fc.oneof(
    { arbitrary: fc.constant(right), weight: 8 },
    {
      arbitrary: fc.constantFrom<string | null>(
        null,
        '',
        'Bearer',
        'Bearer ',
        'Basic YWRtaW46YWRtaW4=',
        `bearer ${right.slice(7)}`,
        `${right}x`,
        `${right} ${right}`,
        'Bearer \u00e9\u00e9',
        `Bearer ${'x'.repeat(5000)}`,
        ...others,
      ),
      weight: 2,
    },
  );
}

/** Assembles a request, leaving out the headers that are null. */
export function request(m: string, url: string, headers: Record<string, string | null>, payload?: string | Buffer): FuzzRequest {
  const h: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) if (v !== null) h[k] = v;
  return payload === undefined ? { method: m, url, headers: h } : { method: m, url, headers: h, payload };
}
