/**
 * Shared by the PSKC tests: the RFC 6030 figures copied into shared/test/vectors/pskc, and
 * encrypted containers built with node:crypto alone (a second implementation of AES-CBC,
 * HMAC-SHA1 and PBKDF2), so that what parsePskc accepts is not only what writePskc writes.
 */
import { createCipheriv, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import { loadVectors, readVectorText } from './vectors.js';

export const figure = (name: string): string => readVectorText(`pskc/rfc6030-${name}.xml`);
export const note = <T>(name: string): T => loadVectors<T>(`pskc/rfc6030-${name}.json`);

export const PSKC_NS = 'urn:ietf:params:xml:ns:keyprov:pskc';
export const XENC = 'http://www.w3.org/2001/04/xmlenc#';

/** IV ‖ AES-CBC(plaintext), PKCS #7 padded unless `rawBlocks` (then plaintext is whole blocks, sent as is). */
export function nodeCbc(key: Buffer, plaintext: Buffer, rawBlocks = false): Buffer {
  const iv = randomBytes(16);
  const cipher = createCipheriv(`aes-${key.length * 8}-cbc`, key, iv).setAutoPadding(!rawBlocks);
  return Buffer.concat([iv, cipher.update(plaintext), cipher.final()]);
}

export const hmacSha1 = (key: Buffer, data: Buffer): Buffer => createHmac('sha1', key).update(data).digest();

/** IV ‖ TDEA-CBC(plaintext), PKCS #7 padded: XML-Enc tripledes-cbc, by node:crypto's des-ede3-cbc. */
export function nodeTdeaCbc(key: Buffer, plaintext: Buffer): Buffer {
  const iv = randomBytes(8);
  const cipher = createCipheriv('des-ede3-cbc', key, iv);
  return Buffer.concat([iv, cipher.update(plaintext), cipher.final()]);
}

/** AES key wrap by node:crypto: RFC 3394 for whole 8-byte blocks, else RFC 5649 (with padding). */
export function nodeKeyWrap(key: Buffer, plaintext: Buffer, padded = plaintext.length % 8 !== 0): Buffer {
  const cipher = padded
    ? createCipheriv(`id-aes${key.length * 8}-wrap-pad`, key, Buffer.from('A65959A6', 'hex'))
    : createCipheriv(`id-aes${key.length * 8}-wrap`, key, Buffer.from('A6A6A6A6A6A6A6A6', 'hex'));
  return Buffer.concat([cipher.update(plaintext), cipher.final()]);
}

/** How nodeContainer encrypts: AES-CBC (the default), tripledes-cbc, or kw-aes*. */
export type NodeCipher = 'aes-cbc' | 'tdea-cbc' | 'kw-aes';

const CIPHER_URI: Record<NodeCipher, (keyBytes: number) => string> = {
  'aes-cbc': (keyBytes) => `${XENC}aes${keyBytes * 8}-cbc`,
  'tdea-cbc': () => `${XENC}tripledes-cbc`,
  'kw-aes': (keyBytes) => `${XENC}kw-aes${keyBytes * 8}`,
};
const NODE_ENCRYPT: Record<NodeCipher, (key: Buffer, plaintext: Buffer) => Buffer> = {
  'aes-cbc': (key, plaintext) => nodeCbc(key, plaintext),
  'tdea-cbc': nodeTdeaCbc,
  'kw-aes': (key, plaintext) => nodeKeyWrap(key, plaintext),
};

const encryptedType = (cipherValue: Buffer, keyBytes: number, cipher: NodeCipher = 'aes-cbc'): string =>
  `<xenc:EncryptionMethod Algorithm="${CIPHER_URI[cipher](keyBytes)}"/>` +
  `<xenc:CipherData><xenc:CipherValue>${cipherValue.toString('base64')}</xenc:CipherValue></xenc:CipherData>`;

export interface NodeContainer {
  /** the encryption key: the pre-shared key, or what PBKDF2 gives for `pbkdf2` */
  key: Buffer;
  /** EncryptionKey content; default a ds:KeyName */
  encryptionKey?: string;
  macKey?: Buffer;
  /** MACKey's ciphertext (IV ‖ blocks); default nodeCbc(key, macKey) */
  macKeyCipherValue?: Buffer;
  /** the Secret's plaintext, or its ready ciphertext */
  secret: Buffer | { cipherValue: Buffer };
  /** Data children after Secret, each encrypted with its ValueMAC: name → plaintext bytes */
  encrypted?: Record<string, Buffer>;
  algorithm?: string;
  /** default 'aes-cbc' */
  cipher?: NodeCipher;
  /** write ValueMACs (and the MACMethod); default true */
  valueMacs?: boolean;
}

/** A figure-6-shaped container with every encrypted value made and MACed by node:crypto. */
export function nodeContainer(c: NodeContainer): string {
  const macKey = c.macKey ?? randomBytes(20);
  const cipher = c.cipher ?? 'aes-cbc';
  const macs = c.valueMacs ?? true;
  const encrypt = (plain: Buffer | { cipherValue: Buffer }): string => {
    const cipherValue = Buffer.isBuffer(plain) ? NODE_ENCRYPT[cipher](c.key, plain) : plain.cipherValue;
    return (
      `<EncryptedValue>${encryptedType(cipherValue, c.key.length, cipher)}</EncryptedValue>` +
      (macs ? `<ValueMAC>${hmacSha1(macKey, cipherValue).toString('base64')}</ValueMAC>` : '')
    );
  };
  const macMethod = `<MACMethod Algorithm="http://www.w3.org/2000/09/xmldsig#hmac-sha1">
    <MACKey>${encryptedType(c.macKeyCipherValue ?? NODE_ENCRYPT[cipher](c.key, macKey), c.key.length, cipher)}</MACKey>
  </MACMethod>`;
  const others = Object.entries(c.encrypted ?? {})
    .map(([name, plain]) => `<${name}>${encrypt(plain)}</${name}>`)
    .join('');
  return `<?xml version="1.0" encoding="UTF-8"?>
<KeyContainer Version="1.0" xmlns="${PSKC_NS}" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" xmlns:xenc="${XENC}"
    xmlns:xenc11="http://www.w3.org/2009/xmlenc11#" xmlns:pkcs5="http://www.rsasecurity.com/rsalabs/pkcs/schemas/pkcs-5v2-0#">
  <EncryptionKey>${c.encryptionKey ?? '<ds:KeyName>node</ds:KeyName>'}</EncryptionKey>
  ${macs ? macMethod : ''}
  <KeyPackage>
    <Key Id="n1" Algorithm="${c.algorithm ?? 'urn:ietf:params:xml:ns:keyprov:pskc:hotp'}">
      <Data><Secret>${encrypt(c.secret)}</Secret>${others}</Data>
    </Key>
  </KeyPackage>
</KeyContainer>`;
}

/** An EncryptionKey/DerivedKey for PBKDF2, and the key node:crypto derives from it. */
export function nodePbkdf2(
  password: string,
  opts: {
    iterations?: number;
    keyBytes?: number;
    prf?: 'sha1' | 'sha256' | 'sha512';
    prfElement?: string;
    /** the prefix of the parameters' children, e.g. 'pkcs5:'; default none */
    paramsPrefix?: string;
    /** the default namespace in PBKDF2-params; default '' (unqualified, as in RFC 6030 figure 7) */
    paramsDefaultNamespace?: string;
  } = {},
): { key: Buffer; encryptionKey: string } {
  const salt = randomBytes(8);
  const iterations = opts.iterations ?? 7;
  const keyBytes = opts.keyBytes ?? 16;
  const prf = opts.prf ?? 'sha1';
  const ns = opts.paramsPrefix ?? '';
  const xmlns = opts.paramsDefaultNamespace ?? '';
  const prfUri = prf === 'sha1' ? 'http://www.w3.org/2000/09/xmldsig#hmac-sha1' : `http://www.w3.org/2001/04/xmldsig-more#hmac-${prf}`;
  const prfElement = opts.prfElement ?? `<${ns}PRF Algorithm="${prfUri}"/>`;
  return {
    key: pbkdf2Sync(password, salt, iterations, keyBytes, prf),
    encryptionKey: `<xenc11:DerivedKey><xenc11:KeyDerivationMethod Algorithm="http://www.rsasecurity.com/rsalabs/pkcs/schemas/pkcs-5v2-0#pbkdf2">
      <pkcs5:PBKDF2-params xmlns="${xmlns}"><${ns}Salt><${ns}Specified>${salt.toString('base64')}</${ns}Specified></${ns}Salt>
      <${ns}IterationCount>${iterations}</${ns}IterationCount><${ns}KeyLength>${keyBytes}</${ns}KeyLength>${prfElement}</pkcs5:PBKDF2-params>
    </xenc11:KeyDerivationMethod></xenc11:DerivedKey>`,
  };
}

/** Flips one bit of byte `index` of the base64 text `b64` wherever it appears in `xml`. */
export function flipByte(xml: string, b64: string, index: number): string {
  const bytes = Buffer.from(b64, 'base64');
  bytes[index] = (bytes[index] as number) ^ 0x01;
  if (!xml.includes(b64)) throw new Error(`${b64} not in the document`);
  return xml.replace(b64, bytes.toString('base64'));
}
