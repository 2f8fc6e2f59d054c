/**
 * PSKC, the Portable Symmetric Key Container of RFC 6030: how token secrets travel from the
 * factory to the validation server. Reads and writes plain secrets, secrets encrypted under a
 * pre-shared key (§6.1, aes128/192/256-cbc or tripledes-cbc) and under a PBKDF2 passphrase key
 * (§6.2), each encrypted value authenticated by <ValueMAC> (§6.1.1: "a keyed MAC value ... MUST
 * be placed" when the cipher has no integrity of its own) and checked before anything is
 * decrypted. XML is parsed by fast-xml-parser; a DOCTYPE is refused outright (PSKC never needs
 * one, and refusing it rules out entity-expansion attacks on the server's import).
 *
 * Algorithm URIs: the HMAC profiles use the IETF URIs (…:pskc:hotp, …:pskc:totp, with
 * <Suite>HMAC-SHA256</Suite> or HMAC-SHA512 naming the hash, as python-pskc and privacyIDEA
 * read it); every profile also has its own URN `urn:kodeviser:pskc:<profile>`, which is what the
 * block-cipher profiles are written as.
 */
import { pbkdf2 } from '@noble/hashes/pbkdf2.js';
import { sha1 } from '@noble/hashes/legacy.js';
import { sha256, sha512 } from '@noble/hashes/sha2.js';
import { randomBytes as cryptoRandomBytes } from '@noble/hashes/utils.js';
import { XMLBuilder, XMLParser, XMLValidator } from 'fast-xml-parser';
import { createAes } from './aes.js';
import type { BlockCipher } from './block-cipher.js';
import { constantTimeEqual, requireBytes } from './bytes.js';
import { createTdea } from './des.js';
import { KodeviserError } from './errors.js';
import { createHmac, type HashName } from './hmac.js';
import { isProfileName, parseProfile, type ProfileName } from './otp.js';
import { cbcDecrypt, cbcEncrypt } from './xmlenc.js';

export interface PskcKey {
  id: string;                      // Key/@Id
  algorithm: string;               // the URI
  profile: ProfileName | null;     // mapped from the URI (+ kodeviser URNs), null when unknown
  secret: Uint8Array;
  digits: number;                  // ResponseFormat/@Length (default 6)
  serial?: string;                 // DeviceInfo/SerialNo (as written; not Luhn-checked here)
  manufacturer?: string;
  issuer?: string;
  counter?: number;                // Data/Counter
  time?: number;                   // Data/Time (T0)
  timeInterval?: number;           // Data/TimeInterval (step)
  timeDrift?: number;              // Data/TimeDrift (steps)
}

/** What writePskc needs per key: the profile names the algorithm URI. */
export interface PskcKeyInput {
  id: string;
  profile: ProfileName;
  secret: Uint8Array;
  digits?: number;                 // 6..8, default 6
  serial?: string;
  manufacturer?: string;
  issuer?: string;
  counter?: number;
  time?: number;
  timeInterval?: number;
  timeDrift?: number;
}

export interface PskcProtection {
  /** Encrypts under this key (16/24/32 bytes: aes128/192/256-cbc) — RFC 6030 §6.1. */
  preSharedKey?: Uint8Array;
  /** Encrypts under PBKDF2(password) — RFC 6030 §6.2. */
  password?: string;
}

const NS_PSKC = 'urn:ietf:params:xml:ns:keyprov:pskc';
const IETF_HOTP = 'urn:ietf:params:xml:ns:keyprov:pskc:hotp';
const IETF_TOTP = 'urn:ietf:params:xml:ns:keyprov:pskc:totp';
/** TOTP URIs seen in the wild besides IETF_TOTP (drafts, vendors). */
const OTHER_TOTP = ['urn:ietf:params:xml:ns:keyprov:pskc#totp', 'http://www.ietf.org/keyprov/pskc#totp'];
const KODEVISER_URN = 'urn:kodeviser:pskc:';
const PBKDF2_URI = 'http://www.rsasecurity.com/rsalabs/pkcs/schemas/pkcs-5v2-0#pbkdf2';
const XMLENC = 'http://www.w3.org/2001/04/xmlenc#';

const CIPHERS: Readonly<Record<string, { keyBytes: readonly number[]; create: (key: Uint8Array) => BlockCipher }>> = {
  [`${XMLENC}aes128-cbc`]: { keyBytes: [16], create: createAes },
  [`${XMLENC}aes192-cbc`]: { keyBytes: [24], create: createAes },
  [`${XMLENC}aes256-cbc`]: { keyBytes: [32], create: createAes },
  [`${XMLENC}tripledes-cbc`]: { keyBytes: [24, 16], create: createTdea },
};
const MACS: Readonly<Record<string, HashName>> = {
  'http://www.w3.org/2000/09/xmldsig#hmac-sha1': 'sha1',
  'http://www.w3.org/2001/04/xmldsig-more#hmac-sha256': 'sha256',
  'http://www.w3.org/2001/04/xmldsig-more#hmac-sha512': 'sha512',
};
const PRFS: Readonly<Record<string, typeof sha1 | typeof sha256 | typeof sha512>> = {
  'http://www.w3.org/2000/09/xmldsig#hmac-sha1': sha1,
  'http://www.w3.org/2001/04/xmldsig-more#hmac-sha256': sha256,
  'http://www.w3.org/2001/04/xmldsig-more#hmac-sha512': sha512,
};
/** A file may not make the server spin: far above any sane transport setting. */
const MAX_PBKDF2_ITERATIONS = 10_000_000;
const WRITE_PBKDF2_ITERATIONS = 100_000;

/** The profile a PSKC algorithm URI (and optional <Suite>) stands for, or null. */
export function profileFromAlgorithm(uri: string, suite?: string): ProfileName | null {
  if (uri.startsWith(KODEVISER_URN)) {
    const name = uri.slice(KODEVISER_URN.length);
    return isProfileName(name) ? name : null;
  }
  const mode = uri === IETF_HOTP ? 'hotp' : uri === IETF_TOTP || OTHER_TOTP.includes(uri) ? 'totp' : null;
  if (mode === null) return null;
  const hash = (suite ?? 'HMAC-SHA1').trim().toUpperCase().replace(/^HMAC-/, '').replace('-', '');
  const primitive = ({ SHA1: 'sha1', SHA256: 'sha256', SHA512: 'sha512' } as const)[hash as 'SHA1'];
  return primitive ? `${mode}-${primitive}` : null;
}

/** The URI (and <Suite>, when needed) writePskc uses for a profile. */
export function algorithmForProfile(profile: ProfileName): { algorithm: string; suite?: string } {
  const { mode, primitive } = parseProfile(profile);
  if (primitive === 'sha1') return { algorithm: mode === 'hotp' ? IETF_HOTP : IETF_TOTP };
  if (primitive === 'sha256' || primitive === 'sha512') {
    return { algorithm: mode === 'hotp' ? IETF_HOTP : IETF_TOTP, suite: `HMAC-${primitive.toUpperCase()}` };
  }
  return { algorithm: KODEVISER_URN + profile };
}

// ---------------------------------------------------------------------------------------------
// Reading

type Node = Record<string, unknown>;

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  removeNSPrefix: true,
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
  isArray: (_name, jpath) => jpath === 'KeyContainer.KeyPackage',
});

function fail(message: string): never {
  throw new KodeviserError('ERR_PSKC', message);
}

function child(node: unknown, name: string): Node | undefined {
  if (typeof node !== 'object' || node === null) return undefined;
  const value = (node as Node)[name];
  if (value === undefined) return undefined;
  if (Array.isArray(value)) fail(`<${name}> appears more than once where PSKC allows one`);
  // An element with only text (or nothing) comes back as a string; give it one shape.
  return typeof value === 'object' && value !== null ? (value as Node) : { '#text': value };
}

function text(node: Node | undefined): string | undefined {
  const value = node?.['#text'];
  return value === undefined ? undefined : String(value).trim();
}

function attr(node: Node | undefined, name: string): string | undefined {
  const value = node?.[`@_${name}`];
  return value === undefined ? undefined : String(value);
}

function base64(value: string | undefined, what: string): Uint8Array {
  const compact = (value ?? '').replace(/\s+/g, '');
  if (compact === '' || compact.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(compact)) {
    fail(`${what} must be base64`);
  }
  return new Uint8Array(Buffer.from(compact, 'base64'));
}

function integer(value: string | undefined, what: string): number {
  if (value === undefined || !/^-?[0-9]+$/.test(value) || !Number.isSafeInteger(Number(value))) {
    fail(`${what} must be an integer`);
  }
  return Number(value);
}

/** The document's encryption key, once derived; null when the document declares none. */
interface Keys { encryption: Uint8Array | null; mac: { hash: HashName; key: Uint8Array } | null }

function decryptValue(encrypted: Node, key: Uint8Array | null, what: string): Uint8Array {
  const algorithm = attr(child(encrypted, 'EncryptionMethod'), 'Algorithm') ?? fail(`${what}: EncryptionMethod/@Algorithm is missing`);
  const spec = CIPHERS[algorithm];
  if (!spec) throw new KodeviserError('ERR_PSKC_DECRYPT', `${what}: unsupported encryption algorithm ${algorithm}`);
  if (key === null) throw new KodeviserError('ERR_PSKC_DECRYPT', `${what} is encrypted but the container declares no EncryptionKey`);
  if (!spec.keyBytes.includes(key.length)) {
    throw new KodeviserError('ERR_PSKC_DECRYPT', `${what}: ${algorithm} needs a ${spec.keyBytes.join(' or ')}-byte key, the one supplied has ${key.length}`);
  }
  const data = base64(text(child(child(encrypted, 'CipherData'), 'CipherValue')), `${what} CipherValue`);
  return cbcDecrypt(spec.create(key), data);
}

function encryptionKey(container: Node, opts: PskcProtection): Uint8Array | null {
  const declared = child(container, 'EncryptionKey');
  if (!declared) return null;
  const derived = child(declared, 'DerivedKey');
  if (!derived) {
    if (!opts.preSharedKey) throw new KodeviserError('ERR_PSKC_DECRYPT', 'opts.preSharedKey is required: the container is encrypted under a pre-shared key');
    return requireBytes(opts.preSharedKey, 'opts.preSharedKey');
  }
  if (typeof opts.password !== 'string') throw new KodeviserError('ERR_PSKC_DECRYPT', 'opts.password is required: the container key is derived from a password');
  const method = child(derived, 'KeyDerivationMethod');
  if (attr(method, 'Algorithm') !== PBKDF2_URI) fail(`unsupported KeyDerivationMethod ${String(attr(method, 'Algorithm'))}`);
  const params = child(method, 'PBKDF2-params') ?? fail('PBKDF2-params are missing');
  const salt = base64(text(child(child(params, 'Salt'), 'Specified')), 'PBKDF2 Salt/Specified');
  const c = integer(text(child(params, 'IterationCount')), 'PBKDF2 IterationCount');
  const dkLen = integer(text(child(params, 'KeyLength')), 'PBKDF2 KeyLength');
  if (c < 1 || c > MAX_PBKDF2_ITERATIONS) fail(`PBKDF2 IterationCount must be 1..${MAX_PBKDF2_ITERATIONS}`);
  if (![16, 24, 32].includes(dkLen)) fail('PBKDF2 KeyLength must be 16, 24 or 32');
  const prfUri = attr(child(params, 'PRF'), 'Algorithm') ?? 'http://www.w3.org/2000/09/xmldsig#hmac-sha1';
  const prf = PRFS[prfUri] ?? fail(`unsupported PBKDF2 PRF ${prfUri}`);
  return pbkdf2(prf, new TextEncoder().encode(opts.password), salt, { c, dkLen });
}

function macKey(container: Node, encryption: Uint8Array | null): Keys['mac'] {
  const method = child(container, 'MACMethod');
  if (!method) return null;
  const uri = attr(method, 'Algorithm') ?? fail('MACMethod/@Algorithm is missing');
  const hash = MACS[uri] ?? fail(`unsupported MAC algorithm ${uri}`);
  const wrapped = child(method, 'MACKey');
  // Without <MACKey>, RFC 6030's drafts (and python-pskc) MAC with the encryption key itself.
  const key = wrapped ? decryptValue(wrapped, encryption, 'MACKey') : encryption;
  if (key === null) fail('MACMethod has no MACKey and there is no encryption key to use instead');
  return { hash, key };
}

/** A <Secret> or other data element: its PlainValue, or its EncryptedValue MAC-checked then decrypted. */
function secretOf(data: Node | undefined, keys: Keys, id: string): Uint8Array {
  const secret = child(data, 'Secret');
  const plain = child(secret, 'PlainValue');
  if (plain) return base64(text(plain), `key ${id} Secret/PlainValue`);
  const encrypted = child(secret, 'EncryptedValue');
  if (!encrypted) fail(`key ${id} carries no Secret (key derivation by reference is not supported)`);
  if (!keys.mac) throw new KodeviserError('ERR_PSKC_MAC', `key ${id}: encrypted Secret without a MACMethod to check it`);
  const valueMac = text(child(secret, 'ValueMAC'));
  if (valueMac === undefined) throw new KodeviserError('ERR_PSKC_MAC', `key ${id}: encrypted Secret without a ValueMAC`);
  const cipherValue = base64(text(child(child(encrypted, 'CipherData'), 'CipherValue')), `key ${id} CipherValue`);
  const expected = createHmac(keys.mac.hash, keys.mac.key).mac(cipherValue);
  if (!constantTimeEqual(expected, base64(valueMac, `key ${id} ValueMAC`))) {
    throw new KodeviserError('ERR_PSKC_MAC', `key ${id}: ValueMAC does not match (wrong key, or the file was altered)`);
  }
  return decryptValue(encrypted, keys.encryption, `key ${id} Secret`);
}

function integerData(data: Node | undefined, name: string, id: string): number | undefined {
  const element = child(data, name);
  if (!element) return undefined;
  if (child(element, 'EncryptedValue')) fail(`key ${id}: an encrypted ${name} is not supported`);
  return integer(text(child(element, 'PlainValue')), `key ${id} ${name}/PlainValue`);
}

export function parsePskc(xml: string, opts: PskcProtection = {}): PskcKey[] {
  if (typeof xml !== 'string') throw new KodeviserError('ERR_ARGUMENT', 'xml must be a string');
  if (/<!DOCTYPE/i.test(xml)) fail('xml must not contain a DOCTYPE');
  const valid = XMLValidator.validate(xml);
  if (valid !== true) fail(`xml is not well-formed: ${valid.err.msg} (line ${valid.err.line})`);
  const container = child(parser.parse(xml) as Node, 'KeyContainer') ?? fail('xml has no KeyContainer');
  if (attr(container, 'Version') !== '1.0') fail(`KeyContainer/@Version must be 1.0, got ${String(attr(container, 'Version'))}`);

  const encryption = encryptionKey(container, opts);
  const keys: Keys = { encryption, mac: macKey(container, encryption) };
  const packages = (container['KeyPackage'] as unknown[] | undefined) ?? [];
  return packages.map((pkg, index) => {
    const key = child(pkg, 'Key') ?? fail(`KeyPackage ${index + 1} has no Key`);
    const id = attr(key, 'Id') ?? fail(`KeyPackage ${index + 1}: Key/@Id is missing`);
    const algorithm = attr(key, 'Algorithm') ?? fail(`key ${id}: Key/@Algorithm is missing`);
    const params = child(key, 'AlgorithmParameters');
    const length = attr(child(params, 'ResponseFormat'), 'Length');
    const data = child(key, 'Data');
    const device = child(pkg, 'DeviceInfo');
    const out: PskcKey = {
      id,
      algorithm,
      profile: profileFromAlgorithm(algorithm, text(child(params, 'Suite'))),
      secret: secretOf(data, keys, id),
      digits: length === undefined ? 6 : integer(length, `key ${id} ResponseFormat/@Length`),
    };
    const optional = {
      serial: text(child(device, 'SerialNo')),
      manufacturer: text(child(device, 'Manufacturer')),
      issuer: text(child(key, 'Issuer')),
      counter: integerData(data, 'Counter', id),
      time: integerData(data, 'Time', id),
      timeInterval: integerData(data, 'TimeInterval', id),
      timeDrift: integerData(data, 'TimeDrift', id),
    };
    for (const [name, value] of Object.entries(optional)) if (value !== undefined) Object.assign(out, { [name]: value });
    return out;
  });
}

// ---------------------------------------------------------------------------------------------
// Writing

const builder = new XMLBuilder({
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  format: true,
  indentBy: '  ',
  suppressEmptyNode: true,
});

const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64');

function checkInput(k: PskcKeyInput, i: number): void {
  const at = `keys[${i}]`;
  if (typeof k !== 'object' || k === null) throw new KodeviserError('ERR_ARGUMENT', `${at} must be an object`);
  if (typeof k.id !== 'string' || k.id === '') throw new KodeviserError('ERR_ARGUMENT', `${at}.id must be a non-empty string`);
  parseProfile(k.profile);
  requireBytes(k.secret, `${at}.secret`);
  if (k.secret.length === 0) throw new KodeviserError('ERR_KEY_LENGTH', `${at}.secret must not be empty`);
  if (k.digits !== undefined && (!Number.isInteger(k.digits) || k.digits < 6 || k.digits > 8)) {
    throw new KodeviserError('ERR_DIGITS', `${at}.digits must be an integer from 6 to 8`);
  }
  for (const name of ['counter', 'time', 'timeInterval', 'timeDrift'] as const) {
    const v = k[name];
    if (v !== undefined && (!Number.isSafeInteger(v) || (name !== 'timeDrift' && v < 0))) {
      throw new KodeviserError('ERR_ARGUMENT', `${at}.${name} must be a safe ${name === 'timeDrift' ? '' : 'non-negative '}integer`);
    }
  }
  for (const name of ['serial', 'manufacturer', 'issuer'] as const) {
    if (k[name] !== undefined && typeof k[name] !== 'string') throw new KodeviserError('ERR_ARGUMENT', `${at}.${name} must be a string`);
  }
}

export function writePskc(
  keys: readonly PskcKeyInput[],
  opts: PskcProtection & { randomBytes?: (n: number) => Uint8Array } = {},
): string {
  if (!Array.isArray(keys)) throw new KodeviserError('ERR_ARGUMENT', 'keys must be an array');
  keys.forEach(checkInput);
  const random = opts.randomBytes ?? cryptoRandomBytes;
  if (opts.preSharedKey !== undefined && opts.password !== undefined) {
    throw new KodeviserError('ERR_ARGUMENT', 'opts: give preSharedKey or password, not both');
  }

  const container: Node = {
    '@_Version': '1.0',
    '@_xmlns:pskc': NS_PSKC,
  };
  // The document's encryption key, then one function that turns a secret into its
  // <EncryptedValue> and <ValueMAC> (one encryption, its CipherValue MACed).
  let protect: ((secret: Uint8Array) => Node) | null = null;
  let key: Uint8Array | null = null;
  if (opts.preSharedKey !== undefined) {
    key = requireBytes(opts.preSharedKey, 'opts.preSharedKey');
    if (![16, 24, 32].includes(key.length)) {
      throw new KodeviserError('ERR_KEY_LENGTH', `opts.preSharedKey must be 16, 24 or 32 bytes (AES), got ${key.length}`);
    }
    container['@_xmlns:ds'] = 'http://www.w3.org/2000/09/xmldsig#';
    container['pskc:EncryptionKey'] = { 'ds:KeyName': 'Pre-shared-key' };
  } else if (opts.password !== undefined) {
    if (typeof opts.password !== 'string' || opts.password === '') throw new KodeviserError('ERR_ARGUMENT', 'opts.password must be a non-empty string');
    const salt = random(16);
    key = pbkdf2(sha256, new TextEncoder().encode(opts.password), salt, { c: WRITE_PBKDF2_ITERATIONS, dkLen: 16 });
    container['@_xmlns:xenc11'] = 'http://www.w3.org/2009/xmlenc11#';
    container['@_xmlns:pkcs5'] = 'http://www.rsasecurity.com/rsalabs/pkcs/schemas/pkcs-5v2-0#';
    container['pskc:EncryptionKey'] = {
      'xenc11:DerivedKey': {
        'xenc11:KeyDerivationMethod': {
          '@_Algorithm': PBKDF2_URI,
          'pkcs5:PBKDF2-params': {
            Salt: { Specified: b64(salt) },
            IterationCount: WRITE_PBKDF2_ITERATIONS,
            KeyLength: 16,
            PRF: { '@_Algorithm': 'http://www.w3.org/2001/04/xmldsig-more#hmac-sha256' },
          },
        },
      },
    };
  }
  if (key !== null) {
    const cipher = createAes(key);
    const method = `${XMLENC}aes${key.length * 8}-cbc`;
    const encrypted = (plain: Uint8Array): { node: Node; cipherValue: Uint8Array } => {
      const cipherValue = cbcEncrypt(cipher, random(16), plain);
      return {
        node: { 'xenc:EncryptionMethod': { '@_Algorithm': method }, 'xenc:CipherData': { 'xenc:CipherValue': b64(cipherValue) } },
        cipherValue,
      };
    };
    const macKeyBytes = random(32);
    const valueMac = createHmac('sha256', macKeyBytes);
    container['@_xmlns:xenc'] = XMLENC;
    container['pskc:MACMethod'] = {
      '@_Algorithm': 'http://www.w3.org/2001/04/xmldsig-more#hmac-sha256',
      'pskc:MACKey': encrypted(macKeyBytes).node,
    };
    protect = (secret) => {
      const { node, cipherValue } = encrypted(secret);
      return { 'pskc:EncryptedValue': node, 'pskc:ValueMAC': b64(valueMac.mac(cipherValue)) };
    };
  }

  container['pskc:KeyPackage'] = keys.map((k) => {
    const { algorithm, suite } = algorithmForProfile(k.profile);
    const pkg: Node = {};
    if (k.manufacturer !== undefined || k.serial !== undefined) {
      pkg['pskc:DeviceInfo'] = { 'pskc:Manufacturer': k.manufacturer, 'pskc:SerialNo': k.serial };
    }
    const data: Node = {
      'pskc:Secret': protect ? protect(k.secret) : { 'pskc:PlainValue': b64(k.secret) },
    };
    const plainInt = (v: number | undefined): Node | undefined => (v === undefined ? undefined : { 'pskc:PlainValue': v });
    data['pskc:Counter'] = plainInt(k.counter);
    data['pskc:Time'] = plainInt(k.time);
    data['pskc:TimeInterval'] = plainInt(k.timeInterval);
    data['pskc:TimeDrift'] = plainInt(k.timeDrift);
    pkg['pskc:Key'] = {
      '@_Id': k.id,
      '@_Algorithm': algorithm,
      'pskc:Issuer': k.issuer,
      'pskc:AlgorithmParameters': {
        'pskc:Suite': suite,
        'pskc:ResponseFormat': { '@_Length': k.digits ?? 6, '@_Encoding': 'DECIMAL' },
      },
      'pskc:Data': data,
    };
    return pkg;
  });

  return `<?xml version="1.0" encoding="UTF-8"?>\n${builder.build({ 'pskc:KeyContainer': container }) as string}`;
}
