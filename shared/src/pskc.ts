/**
 * Portable Symmetric Key Container, RFC 6030: how token secrets travel from the factory to the
 * validation server. parsePskc reads plain, pre-shared-key (§6.1) and PBKDF2 (§6.2) protected
 * containers; writePskc writes them, with the encrypt-then-MAC layout of figure 6/7.
 *
 * A container is accepted whole or refused whole: a key that cannot be read, decrypted or
 * authenticated throws, and nothing of the document is returned, so an import never half
 * succeeds. A CBC-encrypted value must carry a ValueMAC (CBC alone has no integrity), checked
 * in constant time before the value is decrypted; a key-wrapped one (kw-aes*) brings its own
 * integrity check, and its ValueMAC, when present, is checked all the same. Errors name the key (its Id, or #n when it has
 * none) and the problem, never a secret.
 *
 * Algorithm URIs: RFC 6030 §10.4 registers HOTP; TOTP is draft-hoyer-keyprov-pskc-algorithm-
 * profiles'; the other twelve profiles have no registered URI and get kodeviser's own
 * `urn:kodeviser:params:pskc:<profile>`.
 */
import { randomBytes as cryptoRandomBytes } from '@noble/hashes/utils.js';
import { bytesToBase64, bytesToHex, constantTimeEqual, requireBytes } from './bytes.js';
import { KodeviserError, type KodeviserErrorCode } from './errors.js';
import { movingFactorFromBigInt, parseMovingFactor, requireMovingFactor, type MovingFactor } from './moving-factor.js';
import { isProfileName, PROFILES, type ProfileName } from './otp.js';
import {
  AES128_CBC,
  CBC_KEY_BYTES,
  decryptValue,
  deriveKey,
  encryptCbc,
  HMAC_SHA1,
  PBKDF2_PRFS,
  PBKDF2_PRF_HASHES,
  VALUE_CIPHER_NAMES,
  VALUE_CIPHERS,
  valueMac,
} from './pskc-crypto.js';
import { escapeXml, readBase64Binary, readXmlTree, type XmlElement } from './pskc-xml.js';

export const PSKC_NAMESPACE = 'urn:ietf:params:xml:ns:keyprov:pskc';
const DS = 'http://www.w3.org/2000/09/xmldsig#';
const XENC = 'http://www.w3.org/2001/04/xmlenc#';
const XENC11 = 'http://www.w3.org/2009/xmlenc11#';
const PKCS5 = 'http://www.rsasecurity.com/rsalabs/pkcs/schemas/pkcs-5v2-0#';
const PBKDF2 = `${PKCS5}pbkdf2`;

const HOTP_URI = 'urn:ietf:params:xml:ns:keyprov:pskc:hotp';
const TOTP_URI = 'urn:ietf:params:xml:ns:keyprov:pskc:totp';
const KODEVISER_URN = 'urn:kodeviser:params:pskc:';

/** A derivation slower than this is a denial of service, not a protection. */
export const MAX_PBKDF2_ITERATIONS = 10_000_000;
export const DEFAULT_PBKDF2_ITERATIONS = 100_000;
/** The KeyName writePskc gives a pre-shared key, as in RFC 6030 figure 6. */
export const PRE_SHARED_KEY_NAME = 'Pre-shared-key';

export interface PskcKey {
  /** Key/@Id */
  id: string;
  /** Key/@Algorithm, the URI as written */
  algorithm: string;
  /** mapped from the URI; null when the algorithm is not one of the fourteen profiles */
  profile: ProfileName | null;
  /** empty only for a key held out of band (see ParsePskcOptions.allowKeyReferences) */
  secret: Uint8Array;
  /** ResponseFormat/@Length, default 6 */
  digits: number;
  /** DeviceInfo/SerialNo as written; not Luhn-checked here */
  serial?: string;
  manufacturer?: string;
  issuer?: string;
  /**
   * Data/Counter: RFC 6030 allows up to 2^64 − 1; kodeviser carries up to 2^63 − 1 exactly
   * (moving-factor.ts: a bigint above 2^53 − 1) and refuses a larger one.
   */
  counter?: MovingFactor;
  /** Data/Time (T0, unix seconds) */
  time?: number;
  /** Data/TimeInterval (the step, seconds) */
  timeInterval?: number;
  /** Data/TimeDrift (steps) */
  timeDrift?: number;
  /** KeyReference / KeyProfileId of a key whose secret is agreed out of band (RFC 6030 §4.1) */
  keyReference?: string;
  keyProfileId?: string;
}

export interface PskcKeyInput {
  id: string;
  profile: ProfileName;
  secret: Uint8Array;
  /** 6..8, default 6 */
  digits?: number;
  serial?: string;
  manufacturer?: string;
  issuer?: string;
  /** up to 2^63 − 1 (moving-factor.ts) */
  counter?: MovingFactor;
  time?: number;
  timeInterval?: number;
  timeDrift?: number;
}

export interface ParsePskcOptions {
  /** the key an EncryptionKey/ds:KeyName names */
  preSharedKey?: Uint8Array;
  /** the passphrase of an EncryptionKey/xenc11:DerivedKey */
  password?: string;
  /**
   * Accept a Key with no Secret that names a KeyReference or KeyProfileId (RFC 6030 figure 4);
   * it comes back with an empty secret. Off by default, so that no caller ever imports an empty
   * secret by accident.
   */
  allowKeyReferences?: boolean;
  /** Keys of DerivedKeys derived already (by a caller that runs PBKDF2 elsewhere), by derivationId. */
  derivedKeys?: ReadonlyMap<string, Uint8Array>;
  /**
   * Instead of running PBKDF2 here (up to MAX_PBKDF2_ITERATIONS, seconds of CPU), throw
   * PskcDerivationNeeded naming the derivation; the caller runs it where it likes and parses again
   * with the key in `derivedKeys` (the parse itself is cheap).
   */
  deferDerivation?: boolean;
}

/** A PBKDF2 derivation (RFC 8018 §5.2) a DerivedKey needs: password, then these. */
export interface PskcDerivation {
  salt: Uint8Array;
  iterations: number;
  keyBytes: number;
  /** the PRF's hash (HMAC-SHA1 unless the document names another) */
  hash: 'sha1' | 'sha256' | 'sha512';
}

/** What names a derivation in ParsePskcOptions.derivedKeys. */
export const derivationId = (d: PskcDerivation): string => `${bytesToHex(d.salt)}:${d.iterations}:${d.keyBytes}:${d.hash}`;

/** Thrown by parsePskc with `deferDerivation`: run `derivation` with the password, then parse again. */
export class PskcDerivationNeeded extends KodeviserError {
  readonly derivation: PskcDerivation;
  readonly id: string;
  constructor(derivation: PskcDerivation, where: string) {
    super('ERR_PSKC_DECRYPT', `${where}: the key must be derived first (PBKDF2, ${derivation.iterations} iterations)`);
    this.name = 'PskcDerivationNeeded';
    this.derivation = derivation;
    this.id = derivationId(derivation);
  }
}

export interface WritePskcOptions {
  /** encrypt with AES-CBC under this 16-, 24- or 32-byte key, named "Pre-shared-key" */
  preSharedKey?: Uint8Array;
  /** encrypt with AES-128-CBC under a PBKDF2-HMAC-SHA1 key derived from this passphrase */
  password?: string;
  /** default 100,000 */
  pbkdf2Iterations?: number;
  /** IVs, the MAC key and the salt; default crypto.getRandomValues through @noble/hashes */
  randomBytes?: (n: number) => Uint8Array;
}

export function profileToPskcAlgorithm(profile: ProfileName): string {
  if (!isProfileName(profile)) {
    throw new KodeviserError('ERR_UNKNOWN_PROFILE', `profile must be one of ${PROFILES.join(', ')}; got ${String(profile)}`);
  }
  if (profile === 'hotp-sha1') return HOTP_URI;
  if (profile === 'totp-sha1') return TOTP_URI;
  return KODEVISER_URN + profile;
}

/**
 * The profile an Algorithm URI stands for, or null when it is none of the fourteen. Other
 * writers (python-pskc, privacyIDEA) keep the IETF HOTP/TOTP URI for SHA-256/512 keys and name
 * the hash in AlgorithmParameters/Suite, so `suite` is honoured for those two URIs.
 */
export function pskcAlgorithmToProfile(uri: string, suite?: string): ProfileName | null {
  if (uri === HOTP_URI || uri === TOTP_URI) {
    const hash = (suite ?? 'HMAC-SHA1')
      .trim()
      .toUpperCase()
      .replace(/^HMAC-/, '')
      .replace('-', '');
    const primitive = hash === 'SHA1' ? 'sha1' : hash === 'SHA256' ? 'sha256' : hash === 'SHA512' ? 'sha512' : null;
    return primitive === null ? null : `${uri === HOTP_URI ? 'hotp' : 'totp'}-${primitive}`;
  }
  if (uri.startsWith(KODEVISER_URN)) {
    const name = uri.slice(KODEVISER_URN.length);
    if (isProfileName(name)) return name;
  }
  return null;
}

// ---------------------------------------------------------------------------------------------
// Reading

function fail(code: KodeviserErrorCode, message: string): never {
  throw new KodeviserError(code, message);
}

/** The children of `parent` called `localName`; one of that name in another namespace is refused. */
function childrenNamed(parent: XmlElement, namespaces: readonly string[], localName: string, where: string): XmlElement[] {
  const found = parent.children.filter((c) => c.localName === localName);
  for (const c of found) {
    if (!namespaces.includes(c.namespace)) {
      fail('ERR_PSKC', `${where}: <${localName}> is in namespace "${c.namespace}", expected "${namespaces.join('" or "')}"`);
    }
  }
  return found;
}

function optionalChild(
  parent: XmlElement,
  namespace: string | readonly string[],
  localName: string,
  where: string,
): XmlElement | undefined {
  const found = childrenNamed(parent, typeof namespace === 'string' ? [namespace] : namespace, localName, where);
  if (found.length > 1) fail('ERR_PSKC', `${where}: more than one <${localName}> in <${parent.localName}>`);
  return found[0];
}

function requiredChild(parent: XmlElement, namespace: string | readonly string[], localName: string, where: string): XmlElement {
  return optionalChild(parent, namespace, localName, where) ?? fail('ERR_PSKC', `${where}: <${parent.localName}> has no <${localName}>`);
}

function optionalText(parent: XmlElement, localName: string, where: string): string | undefined {
  return optionalChild(parent, PSKC_NAMESPACE, localName, where)?.text.trim();
}

function parseInteger(text: string, what: string, min: number): number {
  const value = /^[+-]?[0-9]+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(value) || value < min) {
    fail('ERR_PSKC', `${what} must be an integer${min === 0 ? ' ≥ 0' : min === 1 ? ' ≥ 1' : ''}, got "${text.slice(0, 40)}"`);
  }
  return value;
}

/**
 * The keys that protect a container's values, worked out on first use (so the error names the
 * first key that needs them) and once per document: the encryption key per algorithm key length,
 * and the MAC key.
 */
class Keyring {
  readonly #container: XmlElement;
  readonly #opts: ParsePskcOptions;
  readonly #encryptionKeys = new Map<number, Uint8Array>();
  #macKey: Uint8Array | undefined;

  constructor(container: XmlElement, opts: ParsePskcOptions) {
    this.#container = container;
    this.#opts = opts;
  }

  /**
   * Decrypts an xenc EncryptedDataType element (EncryptedValue, MACKey) without checking a MAC;
   * `integrity` says whether the cipher checks its own (a key wrap).
   */
  decrypt(encrypted: XmlElement, what: string, where: string): { cipherValue: Uint8Array; integrity: boolean; decrypt: () => Uint8Array } {
    const method = requiredChild(encrypted, XENC, 'EncryptionMethod', where);
    const algorithm = method.attributes.get('Algorithm') ?? '';
    const cipher =
      VALUE_CIPHERS.get(algorithm) ??
      fail('ERR_PSKC_DECRYPT', `${where}: ${what} EncryptionMethod "${algorithm}" is not supported (${VALUE_CIPHER_NAMES})`);
    const cipherData = requiredChild(encrypted, XENC, 'CipherData', where);
    const cipherValue = readBase64Binary(requiredChild(cipherData, XENC, 'CipherValue', where).text, `${where}: ${what} CipherValue`);
    return {
      cipherValue,
      integrity: cipher.kind === 'key-wrap',
      decrypt: () => decryptValue(cipher, this.#encryptionKey(cipher.keyBytes, where), cipherValue, `${where}: ${what}`),
    };
  }

  macKey(where: string): Uint8Array {
    if (this.#macKey !== undefined) return this.#macKey;
    const method =
      optionalChild(this.#container, PSKC_NAMESPACE, 'MACMethod', 'KeyContainer') ??
      fail('ERR_PSKC_MAC', `${where}: the value is encrypted but the KeyContainer has no MACMethod to authenticate it`);
    const algorithm = method.attributes.get('Algorithm') ?? '';
    if (algorithm !== HMAC_SHA1) fail('ERR_PSKC_MAC', `${where}: MACMethod "${algorithm}" is not supported (only ${HMAC_SHA1})`);
    const encrypted =
      optionalChild(method, PSKC_NAMESPACE, 'MACKey', 'MACMethod') ??
      fail('ERR_PSKC_MAC', `${where}: MACMethod has no MACKey (a MACKeyReference is not supported)`);
    const macKey = this.decrypt(encrypted, 'MACKey', where).decrypt();
    if (macKey.length === 0) fail('ERR_PSKC_MAC', `${where}: the MACKey is empty`);
    this.#macKey = macKey;
    return macKey;
  }

  #encryptionKey(keyBytes: number, where: string): Uint8Array {
    const known = this.#encryptionKeys.get(keyBytes);
    if (known !== undefined) return known;
    const element =
      optionalChild(this.#container, PSKC_NAMESPACE, 'EncryptionKey', 'KeyContainer') ??
      fail('ERR_PSKC_DECRYPT', `${where}: the value is encrypted but the KeyContainer has no EncryptionKey`);
    const keyName = optionalChild(element, DS, 'KeyName', 'EncryptionKey');
    const derived = optionalChild(element, XENC11, 'DerivedKey', 'EncryptionKey');
    let key: Uint8Array;
    if (keyName !== undefined) {
      const preSharedKey =
        this.#opts.preSharedKey ??
        fail('ERR_PSKC_DECRYPT', `pre-shared key required for ${where} (EncryptionKey "${keyName.text.trim()}")`);
      if (preSharedKey.length !== keyBytes) {
        fail(
          'ERR_PSKC_DECRYPT',
          `${where}: the pre-shared key must be ${keyBytes} bytes for the document's cipher, got ${preSharedKey.length}`,
        );
      }
      key = preSharedKey;
    } else if (derived !== undefined) {
      key = this.#derive(derived, keyBytes, where);
    } else {
      fail(
        'ERR_PSKC_DECRYPT',
        `${where}: EncryptionKey holds neither ds:KeyName nor xenc11:DerivedKey (only pre-shared and PBKDF2 keys are supported)`,
      );
    }
    this.#encryptionKeys.set(keyBytes, key);
    return key;
  }

  #derive(derived: XmlElement, keyBytes: number, where: string): Uint8Array {
    const at = `${where}: EncryptionKey DerivedKey`;
    const name = optionalChild(derived, XENC11, 'MasterKeyName', at)?.text.trim();
    const method = requiredChild(derived, XENC11, 'KeyDerivationMethod', at);
    const kdf = method.attributes.get('Algorithm') ?? '';
    if (kdf !== PBKDF2) fail('ERR_PSKC_DECRYPT', `${at}: KeyDerivationMethod "${kdf}" is not supported (only PBKDF2)`);
    // PKCS #5's schema leaves the parameters' children unqualified (figure 7); a writer with PSKC as
    // its default namespace puts them in PSKC's, and some qualify them with pkcs5: all three are read.
    // XML Encryption 1.1 (§5.4.2) defines the same PBKDF2-params in its own namespace, which is
    // what python-pskc writes (with the PRF's URI as the element's text, not its Algorithm).
    const local = ['', PKCS5, PSKC_NAMESPACE, XENC11] as const;
    const params = requiredChild(method, [PKCS5, XENC11], 'PBKDF2-params', at);
    const salt = requiredChild(params, local, 'Salt', at);
    const specified = optionalChild(salt, local, 'Specified', at) ?? fail('ERR_PSKC_DECRYPT', `${at}: only a Specified salt is supported`);
    const saltBytes = readBase64Binary(specified.text, `${at} Salt`);
    const iterations = parseInteger(requiredChild(params, local, 'IterationCount', at).text.trim(), `${at} IterationCount`, 1);
    if (iterations > MAX_PBKDF2_ITERATIONS) {
      fail('ERR_PSKC_DECRYPT', `${at}: IterationCount ${iterations} is above the limit of ${MAX_PBKDF2_ITERATIONS}`);
    }
    const keyLength = optionalChild(params, local, 'KeyLength', at);
    if (keyLength !== undefined && parseInteger(keyLength.text.trim(), `${at} KeyLength`, 1) !== keyBytes) {
      fail('ERR_PSKC_DECRYPT', `${at}: KeyLength ${keyLength.text.trim()} does not match the ${keyBytes}-byte key of the cipher`);
    }
    const prfElement = optionalChild(params, local, 'PRF', at);
    const prfUri = prfElement?.attributes.get('Algorithm') ?? (prfElement?.text.trim() || HMAC_SHA1);
    const prf = PBKDF2_PRFS.get(prfUri) ?? fail('ERR_PSKC_DECRYPT', `${at}: PRF "${prfUri}" is not supported`);
    const derivation: PskcDerivation = { salt: saltBytes, iterations, keyBytes, hash: PBKDF2_PRF_HASHES.get(prfUri)! };
    const derivedAlready = this.#opts.derivedKeys?.get(derivationId(derivation));
    if (derivedAlready !== undefined) {
      if (derivedAlready.length !== keyBytes) fail('ERR_ARGUMENT', `derivedKeys: the key for ${at} must be ${keyBytes} bytes`);
      return derivedAlready;
    }
    if (this.#opts.deferDerivation === true) throw new PskcDerivationNeeded(derivation, at);
    const password =
      this.#opts.password ??
      fail('ERR_PSKC_DECRYPT', `password required for ${where} (EncryptionKey ${name === undefined ? 'DerivedKey' : `"${name}"`})`);
    return deriveKey(password, saltBytes, iterations, keyBytes, prf);
  }
}

/** A Data child (Secret, Counter, …) as bytes: PlainValue via `plain`, EncryptedValue authenticated then decrypted. */
function readValue<T>(value: XmlElement, what: string, where: string, keyring: Keyring, plain: (text: string) => T): T | Uint8Array {
  const plainValue = optionalChild(value, PSKC_NAMESPACE, 'PlainValue', where);
  const encrypted = optionalChild(value, PSKC_NAMESPACE, 'EncryptedValue', where);
  if (plainValue !== undefined && encrypted !== undefined) fail('ERR_PSKC', `${where}: ${what} has both PlainValue and EncryptedValue`);
  if (plainValue !== undefined) return plain(plainValue.text);
  if (encrypted === undefined) fail('ERR_PSKC', `${where}: ${what} has neither PlainValue nor EncryptedValue`);

  const { cipherValue, integrity, decrypt } = keyring.decrypt(encrypted, what, where);
  const mac = optionalChild(value, PSKC_NAMESPACE, 'ValueMAC', where);
  // A key wrap authenticates the value itself (RFC 3394 §2.2.3): a ValueMAC is then optional.
  if (mac === undefined && integrity) return decrypt();
  if (mac === undefined) fail('ERR_PSKC_MAC', `${where}: ${what} is encrypted but has no ValueMAC`);
  const given = readBase64Binary(mac.text, `${where}: ${what} ValueMAC`);
  // encrypt-then-MAC: nothing is decrypted before it is authenticated (no padding oracle)
  if (!constantTimeEqual(valueMac(keyring.macKey(where), cipherValue), given)) {
    fail('ERR_PSKC_MAC', `${where}: ${what} ValueMAC does not match (wrong key, or the value was altered)`);
  }
  return decrypt();
}

/**
 * An encrypted integer is its unsigned big-endian bytes, as python-pskc and others write it: up
 * to 8, RFC 6030's 64-bit Counter.
 */
function decryptedInteger(read: Uint8Array, what: string, where: string): bigint {
  if (read.length === 0 || read.length > 8) fail('ERR_PSKC', `${where}: encrypted ${what} must be 1 to 8 bytes, got ${read.length}`);
  return read.reduce((n, b) => (n << 8n) | BigInt(b), 0n);
}

function readIntegerValue(value: XmlElement, what: string, where: string, keyring: Keyring, min: number): number {
  const read = readValue(value, what, where, keyring, (text) => parseInteger(text.trim(), `${where}: ${what}`, min));
  if (typeof read === 'number') return read;
  return parseInteger(String(decryptedInteger(read, what, where)), `${where}: ${what}`, min);
}

/** Data/Counter, read whole (up to 2^64 − 1) and refused above 2^63 − 1 naming that limit. */
function readCounterValue(value: XmlElement, where: string, keyring: Keyring): MovingFactor {
  const what = `${where}: Counter`;
  const read = readValue(value, 'Counter', where, keyring, (text) => {
    // xsd:unsignedLong's lexical form: digits, an optional + (and a − only before a zero)
    const digits = /^(?:\+|-(?=0+$))?([0-9]+)$/.exec(text.trim())?.[1];
    return digits === undefined
      ? fail('ERR_PSKC', `${what} must be an integer ≥ 0, got "${text.trim().slice(0, 40)}"`)
      : parseMovingFactor(digits, what, 'ERR_PSKC');
  });
  return read instanceof Uint8Array ? movingFactorFromBigInt(decryptedInteger(read, 'Counter', where), what, 'ERR_PSKC') : read;
}

function readKey(pkg: XmlElement, index: number, keyring: Keyring, opts: ParsePskcOptions): PskcKey {
  const key = optionalChild(pkg, PSKC_NAMESPACE, 'Key', `KeyPackage #${index}`) ?? fail('ERR_PSKC', `KeyPackage #${index} has no Key`);
  const id = key.attributes.get('Id');
  const where = id === undefined ? `key #${index}` : `key ${JSON.stringify(id)}`;
  if (id === undefined || id === '') fail('ERR_PSKC', `${where}: the Key has no Id`);
  const algorithm = key.attributes.get('Algorithm') ?? fail('ERR_PSKC', `${where}: the Key has no Algorithm`);
  const parameters = optionalChild(key, PSKC_NAMESPACE, 'AlgorithmParameters', where);
  const suite = parameters && optionalText(parameters, 'Suite', where);
  const profile = pskcAlgorithmToProfile(algorithm, suite);
  const out: PskcKey = { id, algorithm, profile, secret: new Uint8Array(0), digits: 6 };

  const device = optionalChild(pkg, PSKC_NAMESPACE, 'DeviceInfo', where);
  const manufacturer = device && optionalText(device, 'Manufacturer', where);
  if (manufacturer !== undefined) out.manufacturer = manufacturer;
  const serial = device && optionalText(device, 'SerialNo', where);
  if (serial !== undefined) out.serial = serial;
  const issuer = optionalText(key, 'Issuer', where);
  if (issuer !== undefined) out.issuer = issuer;

  const format = parameters && optionalChild(parameters, PSKC_NAMESPACE, 'ResponseFormat', where);
  if (format !== undefined) {
    out.digits = parseInteger(format.attributes.get('Length') ?? '', `${where}: ResponseFormat Length`, 1);
    if (profile !== null) {
      // The schema requires Encoding, but python-pskc leaves it out unless told: an OTP profile's
      // codes are decimal digits, so a missing one can only mean DECIMAL; any other is refused.
      const encoding = format.attributes.get('Encoding') ?? 'DECIMAL';
      if (encoding !== 'DECIMAL')
        fail('ERR_PSKC', `${where}: ResponseFormat Encoding must be DECIMAL for ${profile}, got "${encoding ?? ''}"`);
      if (format.attributes.get('CheckDigits') === 'true')
        fail('ERR_PSKC', `${where}: ResponseFormat CheckDigits is not supported for ${profile}`);
    }
  }
  if (profile !== null && (out.digits < 6 || out.digits > 8)) {
    fail('ERR_PSKC', `${where}: ResponseFormat Length must be 6 to 8 for ${profile}, got ${out.digits}`);
  }

  const data = optionalChild(key, PSKC_NAMESPACE, 'Data', where);
  const secret = data && optionalChild(data, PSKC_NAMESPACE, 'Secret', where);
  if (secret !== undefined) {
    out.secret = readValue(secret, 'Secret', where, keyring, (text) => readBase64Binary(text, `${where}: Secret PlainValue`)) as Uint8Array;
    if (out.secret.length === 0) fail('ERR_PSKC', `${where}: the Secret is empty`);
  } else {
    const keyReference = optionalText(key, 'KeyReference', where);
    const keyProfileId = optionalText(key, 'KeyProfileId', where);
    if (keyReference === undefined && keyProfileId === undefined) fail('ERR_PSKC', `${where}: the Key has no Secret`);
    if (opts.allowKeyReferences !== true) {
      fail(
        'ERR_PSKC',
        `${where}: the Key has no Secret, only KeyReference/KeyProfileId "${keyReference ?? keyProfileId}" (pass allowKeyReferences to accept it)`,
      );
    }
    if (keyReference !== undefined) out.keyReference = keyReference;
    if (keyProfileId !== undefined) out.keyProfileId = keyProfileId;
  }
  if (data !== undefined) {
    const counter = optionalChild(data, PSKC_NAMESPACE, 'Counter', where);
    if (counter !== undefined) out.counter = readCounterValue(counter, where, keyring);
    const integers = [
      ['Time', 'time', -Infinity],
      ['TimeInterval', 'timeInterval', 1],
      ['TimeDrift', 'timeDrift', -Infinity],
    ] as const;
    for (const [element, field, min] of integers) {
      const value = optionalChild(data, PSKC_NAMESPACE, element, where);
      if (value !== undefined) out[field] = readIntegerValue(value, element, where, keyring, min);
    }
  }
  return out;
}

/**
 * Reads every key of an RFC 6030 container, or throws a KodeviserError (ERR_PSKC,
 * ERR_PSKC_MAC, ERR_PSKC_DECRYPT) naming the key and the problem; never returns a partial list.
 */
export function parsePskc(xml: string, opts: ParsePskcOptions = {}): PskcKey[] {
  if (typeof xml !== 'string') fail('ERR_ARGUMENT', 'xml must be a string');
  if (opts.preSharedKey !== undefined) requireBytes(opts.preSharedKey, 'preSharedKey');
  if (opts.password !== undefined && typeof opts.password !== 'string') fail('ERR_ARGUMENT', 'password must be a string');
  const root = readXmlTree(xml);
  if (root.namespace !== PSKC_NAMESPACE || root.localName !== 'KeyContainer') {
    fail(
      'ERR_PSKC',
      `the root element must be KeyContainer in namespace "${PSKC_NAMESPACE}", got <${root.localName}> in "${root.namespace}"`,
    );
  }
  const version = root.attributes.get('Version');
  if (version !== '1.0') fail('ERR_PSKC', `KeyContainer Version must be "1.0", got ${version === undefined ? 'none' : `"${version}"`}`);
  const packages = childrenNamed(root, [PSKC_NAMESPACE], 'KeyPackage', 'KeyContainer');
  if (packages.length === 0) fail('ERR_PSKC', 'the KeyContainer has no KeyPackage');

  const keyring = new Keyring(root, opts);
  const indexById = new Map<string, number>();
  return packages.map((pkg, i) => {
    const key = readKey(pkg, i + 1, keyring, opts);
    const earlier = indexById.get(key.id);
    if (earlier !== undefined) fail('ERR_PSKC', `key ${JSON.stringify(key.id)}: duplicate Key Id (also key #${earlier})`);
    indexById.set(key.id, i + 1);
    return key;
  });
}

// ---------------------------------------------------------------------------------------------
// Writing

/** Text that survives a round trip through any XML reader: no controls, no surrounding spaces. */
function checkText(value: unknown, argName: string): string {
  if (
    typeof value !== 'string' ||
    value === '' ||
    value !== value.trim() ||
    /[^\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u.test(value)
  ) {
    fail('ERR_ARGUMENT', `${argName} must be a non-empty string of printable XML characters without surrounding spaces`);
  }
  return value;
}

function checkInteger(value: unknown, argName: string, min: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    fail('ERR_ARGUMENT', `${argName} must be a safe integer${Number.isFinite(min) ? ` ≥ ${min}` : ''}`);
  }
  return value;
}

interface Protection {
  /** EncryptionKey and MACMethod, the header of the container */
  header: string;
  /** a Data child's content for a secret */
  secret: (bytes: Uint8Array, indent: string) => string;
}

function protection(opts: WritePskcOptions): Protection {
  const random = (n: number): Uint8Array => {
    const bytes = (opts.randomBytes ?? cryptoRandomBytes)(n);
    if (!(bytes instanceof Uint8Array) || bytes.length !== n) fail('ERR_ARGUMENT', `randomBytes(${n}) must return ${n} bytes`);
    return bytes;
  };
  if (opts.preSharedKey !== undefined && opts.password !== undefined) {
    fail('ERR_ARGUMENT', 'preSharedKey and password are exclusive: give one or neither');
  }
  let encryptionKey: Uint8Array;
  let keyElement: string;
  let algorithm = AES128_CBC;
  if (opts.preSharedKey !== undefined) {
    encryptionKey = requireBytes(opts.preSharedKey, 'preSharedKey');
    const uri =
      [...CBC_KEY_BYTES].find(([, bytes]) => bytes === encryptionKey.length)?.[0] ??
      fail('ERR_KEY_LENGTH', `preSharedKey must be 16, 24 or 32 bytes, got ${encryptionKey.length}`);
    algorithm = uri;
    keyElement = `<ds:KeyName>${PRE_SHARED_KEY_NAME}</ds:KeyName>`;
  } else if (opts.password !== undefined) {
    if (typeof opts.password !== 'string' || opts.password === '') fail('ERR_ARGUMENT', 'password must be a non-empty string');
    const iterations = opts.pbkdf2Iterations ?? DEFAULT_PBKDF2_ITERATIONS;
    checkInteger(iterations, 'pbkdf2Iterations', 1);
    if (iterations > MAX_PBKDF2_ITERATIONS) fail('ERR_ARGUMENT', `pbkdf2Iterations must be at most ${MAX_PBKDF2_ITERATIONS}`);
    const salt = random(16);
    encryptionKey = deriveKey(
      opts.password,
      salt,
      iterations,
      16,
      PBKDF2_PRFS.get(HMAC_SHA1) as NonNullable<ReturnType<typeof PBKDF2_PRFS.get>>,
    );
    keyElement = `<xenc11:DerivedKey>
      <xenc11:KeyDerivationMethod Algorithm="${PBKDF2}">
        <pkcs5:PBKDF2-params>
          <Salt><Specified>${bytesToBase64(salt)}</Specified></Salt>
          <IterationCount>${iterations}</IterationCount>
          <KeyLength>16</KeyLength>
          <PRF Algorithm="${HMAC_SHA1}"/>
        </pkcs5:PBKDF2-params>
      </xenc11:KeyDerivationMethod>
    </xenc11:DerivedKey>`;
  } else {
    return { header: '', secret: (bytes, indent) => `${indent}<pskc:PlainValue>${bytesToBase64(bytes)}</pskc:PlainValue>\n` };
  }

  const encrypted = (plaintext: Uint8Array, indent: string): { xml: string; cipherValue: Uint8Array } => {
    const cipherValue = encryptCbc(encryptionKey, random(16), plaintext);
    return {
      cipherValue,
      xml: `${indent}<xenc:EncryptionMethod Algorithm="${algorithm}"/>
${indent}<xenc:CipherData><xenc:CipherValue>${bytesToBase64(cipherValue)}</xenc:CipherValue></xenc:CipherData>\n`,
    };
  };
  const macKey = random(20);
  const header = `  <pskc:EncryptionKey>
    ${keyElement}
  </pskc:EncryptionKey>
  <pskc:MACMethod Algorithm="${HMAC_SHA1}">
    <pskc:MACKey>
${encrypted(macKey, '      ').xml}    </pskc:MACKey>
  </pskc:MACMethod>
`;
  return {
    header,
    secret: (bytes, indent) => {
      const { xml, cipherValue } = encrypted(bytes, `${indent}  `);
      return `${indent}<pskc:EncryptedValue>\n${xml}${indent}</pskc:EncryptedValue>
${indent}<pskc:ValueMAC>${bytesToBase64(valueMac(macKey, cipherValue))}</pskc:ValueMAC>\n`;
    },
  };
}

function writeKeyPackage(key: PskcKeyInput, i: number, protect: Protection): string {
  const arg = `keys[${i}]`;
  if (typeof key !== 'object' || key === null) fail('ERR_ARGUMENT', `${arg} must be an object`);
  const id = checkText(key.id, `${arg}.id`);
  const algorithm = profileToPskcAlgorithm(key.profile);
  const secret = requireBytes(key.secret, `${arg}.secret`);
  if (secret.length === 0) fail('ERR_KEY_LENGTH', `${arg}.secret must not be empty`);
  const digits = key.digits ?? 6;
  if (!Number.isInteger(digits) || digits < 6 || digits > 8) fail('ERR_DIGITS', `${arg}.digits must be 6, 7 or 8`);
  const text = (field: 'serial' | 'manufacturer' | 'issuer'): string | undefined =>
    key[field] === undefined ? undefined : escapeXml(checkText(key[field], `${arg}.${field}`));
  const [serial, manufacturer, issuer] = [text('serial'), text('manufacturer'), text('issuer')];

  let xml = '  <pskc:KeyPackage>\n';
  if (serial !== undefined || manufacturer !== undefined) {
    xml += '    <pskc:DeviceInfo>\n';
    if (manufacturer !== undefined) xml += `      <pskc:Manufacturer>${manufacturer}</pskc:Manufacturer>\n`;
    if (serial !== undefined) xml += `      <pskc:SerialNo>${serial}</pskc:SerialNo>\n`;
    xml += '    </pskc:DeviceInfo>\n';
  }
  xml += `    <pskc:Key Id="${escapeXml(id)}" Algorithm="${algorithm}">\n`;
  if (issuer !== undefined) xml += `      <pskc:Issuer>${issuer}</pskc:Issuer>\n`;
  xml += `      <pskc:AlgorithmParameters>
        <pskc:ResponseFormat Length="${digits}" Encoding="DECIMAL"/>
      </pskc:AlgorithmParameters>
      <pskc:Data>
        <pskc:Secret>
${protect.secret(secret, '          ')}        </pskc:Secret>\n`;
  // the moving factors are not secret (RFC 6030 §4.1 lets them travel in plain)
  if (key.counter !== undefined) {
    const counter = requireMovingFactor(key.counter, `${arg}.counter`, 'ERR_ARGUMENT');
    xml += `        <pskc:Counter><pskc:PlainValue>${counter}</pskc:PlainValue></pskc:Counter>\n`;
  }
  const integers = [
    ['time', 'Time', -Infinity],
    ['timeInterval', 'TimeInterval', 1],
    ['timeDrift', 'TimeDrift', -Infinity],
  ] as const;
  for (const [field, element, min] of integers) {
    const value = key[field];
    if (value !== undefined) {
      xml += `        <pskc:${element}><pskc:PlainValue>${checkInteger(value, `${arg}.${field}`, min)}</pskc:PlainValue></pskc:${element}>\n`;
    }
  }
  return `${xml}      </pskc:Data>\n    </pskc:Key>\n  </pskc:KeyPackage>\n`;
}

/**
 * Writes an RFC 6030 container: plain secrets, or with `preSharedKey` / `password` every secret
 * AES-CBC encrypted with a ValueMAC under a fresh random MAC key (itself encrypted), as in
 * RFC 6030 figures 6 and 7. The output round-trips through parsePskc.
 */
export function writePskc(keys: readonly PskcKeyInput[], opts: WritePskcOptions = {}): string {
  if (!Array.isArray(keys) || keys.length === 0) fail('ERR_ARGUMENT', 'keys must be a non-empty array');
  const ids = new Set<string>();
  for (const [i, key] of keys.entries()) {
    if (ids.has(key?.id)) fail('ERR_ARGUMENT', `keys[${i}].id ${JSON.stringify(key.id)} is used twice`);
    ids.add(key?.id);
  }
  const protect = protection(opts);
  const packages = keys.map((key, i) => writeKeyPackage(key, i, protect)).join('');
  return `<?xml version="1.0" encoding="UTF-8"?>
<pskc:KeyContainer Version="1.0"
    xmlns:pskc="${PSKC_NAMESPACE}"
    xmlns:ds="${DS}"
    xmlns:xenc="${XENC}"
    xmlns:xenc11="${XENC11}"
    xmlns:pkcs5="${PKCS5}">
${protect.header}${packages}</pskc:KeyContainer>
`;
}
