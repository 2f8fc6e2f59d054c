/**
 * The XML layer under PSKC (RFC 6030): a namespace-resolved element tree read with
 * fast-xml-parser, plus the xs:base64Binary codec and text escaping that reading and writing need.
 *
 * Elements are matched by namespace URI and local name (Namespaces in XML 1.0 §5), never by
 * prefix: RFC 6030 figure 6 puts PSKC in the default namespace and figure 7 binds it to `pskc:`,
 * and both are the same document to a reader. fast-xml-parser keeps the prefixes as written, so
 * the scopes of the xmlns declarations are resolved here.
 *
 * A key container comes from outside, so no DTD is ever read: a document containing
 * `<!DOCTYPE` or `<!ENTITY` is refused before parsing (billion laughs, external entities),
 * entity processing is off in the parser, and only the five predefined entities and character
 * references (XML 1.0 §4.6, §4.1) are expanded here — any other reference is refused.
 */
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { base64ToBytes } from './bytes.js';
import { KodeviserError } from './errors.js';

export interface XmlElement {
  /** The namespace URI, '' for none. */
  readonly namespace: string;
  readonly localName: string;
  /** Unprefixed attributes only; PSKC's own attributes are all unqualified. */
  readonly attributes: ReadonlyMap<string, string>;
  readonly children: readonly XmlElement[];
  /** Character data directly inside the element (text and CDATA), references expanded. */
  readonly text: string;
}

const XML_NAMESPACE = 'http://www.w3.org/XML/1998/namespace';

const parser = new XMLParser({
  preserveOrder: true,
  ignoreAttributes: false,
  attributeNamePrefix: '',
  processEntities: false,
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: false,
  ignoreDeclaration: true,
  ignorePiTags: true,
  cdataPropName: '#cdata',
  // A PSKC document is under ten levels deep; buildNode recurses per level. Set here rather than
  // left to the library's default (100 in 5.x), which a release could change.
  maxNestedTags: 32,
});

function refuse(problem: string): never {
  throw new KodeviserError('ERR_PSKC', `PSKC document: ${problem}`);
}

/** Reads a whole document into its root element; throws ERR_PSKC for anything not well-formed. */
export function readXmlTree(xml: string): XmlElement {
  if (/<!DOCTYPE|<!ENTITY/i.test(xml)) refuse('a DOCTYPE or ENTITY declaration is not allowed (entities are never expanded)');
  const verdict = XMLValidator.validate(xml);
  if (verdict !== true) {
    refuse(`not well-formed XML: ${verdict.err.msg} (line ${verdict.err.line}, column ${verdict.err.col})`);
  }
  let nodes: unknown[];
  try {
    nodes = parser.parse(xml) as unknown[];
  } catch (e) {
    // fast-xml-parser refuses names such as __proto__ with a plain Error.
    refuse(`not accepted by the XML parser: ${(e as Error).message}`);
  }
  // the validator has refused any text outside the root but whitespace
  const roots = nodes
    .map((node) =>
      buildNode(
        node as Record<string, unknown>,
        new Map([
          ['', ''],
          ['xml', XML_NAMESPACE],
        ]),
      ),
    )
    .filter((built): built is XmlElement => typeof built !== 'string');
  if (roots.length !== 1) refuse(`expected one root element, found ${roots.length}`);
  return roots[0] as XmlElement;
}

/** An element becomes an XmlElement, a text or CDATA node its string. */
function buildNode(node: Record<string, unknown>, scope: ReadonlyMap<string, string>): XmlElement | string {
  const tag = Object.keys(node).find((k) => k !== ':@') as string;
  const content = node[tag] as Array<Record<string, unknown>>;
  if (tag === '#text') return expandReferences(String(node[tag]));
  if (tag === '#cdata') return content.map((part) => String(part['#text'])).join('');

  const rawAttributes = (node[':@'] ?? {}) as Record<string, string>;
  const inner = new Map(scope);
  const attributes = new Map<string, string>();
  for (const [name, raw] of Object.entries(rawAttributes)) {
    const value = expandReferences(raw);
    if (name === 'xmlns') inner.set('', value);
    else if (name.startsWith('xmlns:')) {
      if (value === '') refuse(`the prefix "${name.slice(6)}" cannot be undeclared`);
      inner.set(name.slice(6), value);
    } else if (!name.includes(':')) attributes.set(name, value);
  }
  const { prefix, localName } = splitName(tag);
  const namespace = inner.get(prefix);
  if (namespace === undefined) refuse(`the prefix "${prefix}" of <${tag}> is not bound to a namespace`);

  const children: XmlElement[] = [];
  let text = '';
  for (const child of content) {
    const built = buildNode(child, inner);
    if (typeof built === 'string') text += built;
    else children.push(built);
  }
  return { namespace, localName, attributes, children, text };
}

function splitName(tag: string): { prefix: string; localName: string } {
  const parts = tag.split(':');
  if (parts.length === 1) return { prefix: '', localName: tag };
  if (parts.length !== 2 || parts[0] === '' || parts[1] === '') refuse(`<${tag}> is not a valid qualified name`);
  return { prefix: parts[0] as string, localName: parts[1] as string };
}

const PREDEFINED: Readonly<Record<string, string>> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

function expandReferences(text: string): string {
  return text.replace(/&([^;&]*);?/g, (whole, name: string) => {
    if (!whole.endsWith(';')) refuse('a bare "&" that starts no reference');
    const predefined = Object.hasOwn(PREDEFINED, name) ? PREDEFINED[name] : undefined;
    if (predefined !== undefined) return predefined;
    const numeric = /^#(?:x([0-9a-fA-F]{1,6})|([0-9]{1,7}))$/.exec(name);
    if (numeric === null) refuse(`the entity reference &${name.slice(0, 32)}; is not declared (entities are never expanded)`);
    const codePoint = numeric[1] !== undefined ? parseInt(numeric[1], 16) : Number(numeric[2]);
    if (!isXmlChar(codePoint)) refuse(`the character reference &${name}; is not an XML character`);
    return String.fromCodePoint(codePoint);
  });
}

/** XML 1.0 §2.2 Char. */
function isXmlChar(c: number): boolean {
  return (
    c === 0x9 || c === 0xa || c === 0xd || (c >= 0x20 && c <= 0xd7ff) || (c >= 0xe000 && c <= 0xfffd) || (c >= 0x10000 && c <= 0x10ffff)
  );
}

/** Escapes text for an element or a double- or single-quoted attribute. */
export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&${{ '&': 'amp', '<': 'lt', '>': 'gt', '"': 'quot', "'": 'apos' }[c] as string};`);
}

/** xs:base64Binary: strict base64 (bytes.ts), but XML may line-wrap it, so whitespace is skipped. */
export function readBase64Binary(text: string, what: string): Uint8Array {
  return base64ToBytes(text.replace(/[ \t\r\n]+/g, ''), what, 'ERR_PSKC');
}
