// Distinguished names (RFC 5280 §4.1.2.4): the X.501 Name as a SEQUENCE OF RelativeDistinguishedName
// (SET OF AttributeTypeAndValue). Text form is strongSwan's: RDNs in DER order, separated by ",",
// "C=CH, O=Example, CN=gw1"; "+" joins the AVAs of a multi-valued RDN; "\" escapes the next
// character. A "," or "+" that is not followed by "name=" is taken literally ("O=Example, Inc.").
// Comparison follows RFC 5280 §7.1 in simplified form: same attribute types in the same order, values
// compared after trimming, collapsing white space and case folding (RFC 4518 caseIgnoreMatch).
import { TAG, bytesEqual, derReader, encodeOid, tlv, type Tlv } from '../crypto/der.ts';
import { CredsError, fail } from './errors.ts';

const { children, decodeOid, readExactly } = derReader({
  maxLengthOctets: 3, // 16 MiB: far above any certificate an IKE peer may send
  malformed: (m) => fail('MALFORMED', m),
});

export interface Ava {
  /** Attribute type, dotted OID. */
  readonly oid: string;
  readonly value: string;
  /** DER string tag the value had (kept so decode -> encode reproduces the bytes). */
  readonly tag?: number;
}
export type Rdn = readonly Ava[];
export type Dn = readonly Rdn[];

const OID_EMAIL = '1.2.840.113549.1.9.1';
const OID_DC = '0.9.2342.19200300.100.1.25';
const OID_C = '2.5.4.6';
const OID_SERIAL = '2.5.4.5';

/** Display names (first is the canonical output name) -> OID. */
const ATTRS: readonly (readonly [readonly string[], string])[] = [
  [['C'], OID_C],
  [['ST', 'S'], '2.5.4.8'],
  [['L'], '2.5.4.7'],
  [['O'], '2.5.4.10'],
  [['OU'], '2.5.4.11'],
  [['CN'], '2.5.4.3'],
  [['E', 'emailAddress'], OID_EMAIL],
  [['serialNumber'], OID_SERIAL],
  [['DC'], OID_DC],
  [['street'], '2.5.4.9'],
  [['title', 'T'], '2.5.4.12'],
  [['SN', 'surname'], '2.5.4.4'],
  [['GN', 'givenName'], '2.5.4.42'],
  [['UID'], '0.9.2342.19200300.100.1.1'],
];
const BY_NAME = new Map(ATTRS.flatMap(([names, oid]) => names.map((n) => [n.toLowerCase(), oid] as const)));
const BY_OID = new Map(ATTRS.map(([names, oid]) => [oid, names[0]!] as const));

const PRINTABLE = /^[A-Za-z0-9 '()+,\-./:=?]*$/;
// eslint-disable-next-line no-control-regex
const ASCII = /^[\x00-\x7f]*$/;

/** The default DER string type for a value (RFC 5280 Appendix A, §4.1.2.4). */
function defaultTag(oid: string, value: string): number {
  if (oid === OID_C || oid === OID_SERIAL) {
    if (!PRINTABLE.test(value)) fail('BAD_ID', `${BY_OID.get(oid)} must be a PrintableString`);
    return TAG.PRINTABLE_STRING;
  }
  if (oid === OID_EMAIL || oid === OID_DC) {
    if (!ASCII.test(value)) fail('BAD_ID', `${BY_OID.get(oid)} must be ASCII (IA5String)`);
    return TAG.IA5_STRING;
  }
  return TAG.UTF8_STRING;
}

// --- DER ------------------------------------------------------------------------------------------

function encodeValue(tag: number, value: string): Uint8Array {
  switch (tag) {
    case TAG.UTF8_STRING:
      return new TextEncoder().encode(value);
    case TAG.PRINTABLE_STRING:
    case TAG.IA5_STRING:
      if (!ASCII.test(value)) fail('BAD_ID', `value is not ASCII for DER tag 0x${tag.toString(16)}`);
      return Buffer.from(value, 'latin1');
    case TAG.TELETEX_STRING:
      return Buffer.from(value, 'latin1');
    case TAG.BMP_STRING:
      return Buffer.from(value, 'utf16le').swap16();
    default:
      return fail('UNSUPPORTED', `DN string tag 0x${tag.toString(16)}`);
  }
}

function decodeValue(t: Tlv, what: string): string {
  const v = t.value;
  switch (t.tag) {
    case TAG.UTF8_STRING:
      try {
        return new TextDecoder('utf-8', { fatal: true }).decode(v);
      } catch {
        return fail('MALFORMED', `${what}: invalid UTF-8`);
      }
    case TAG.PRINTABLE_STRING:
    case TAG.IA5_STRING:
    case 0x12: // NumericString
    case 0x1a: // VisibleString
      if (v.some((b) => b > 0x7f)) fail('MALFORMED', `${what}: non-ASCII byte in an ASCII string type`);
      return Buffer.from(v).toString('latin1');
    case TAG.TELETEX_STRING:
      return Buffer.from(v).toString('latin1');
    case TAG.BMP_STRING:
      if (v.length % 2) fail('MALFORMED', `${what}: odd BMPString length`);
      return Buffer.from(v).swap16().toString('utf16le');
    default:
      return fail('UNSUPPORTED', `${what}: string type 0x${t.tag.toString(16)}`);
  }
}

/** DER Name from a parsed DN. AVAs of a multi-valued RDN are sorted as DER SET OF requires (X.690 §11.6). */
export function encodeDn(dn: Dn): Uint8Array {
  const rdns = dn.map((rdn) => {
    const avas = rdn.map((a) => {
      const tag = a.tag ?? defaultTag(a.oid, a.value);
      return tlv(TAG.SEQUENCE, tlv(TAG.OID, encodeOid(a.oid)), tlv(tag, encodeValue(tag, a.value)));
    });
    avas.sort((x, y) => Buffer.compare(x, y));
    return tlv(TAG.SET, ...avas);
  });
  return tlv(TAG.SEQUENCE, ...rdns);
}

/** Parse a DER Name (the whole buffer). Throws MALFORMED / UNSUPPORTED. */
export function decodeDn(der: Uint8Array): Dn {
  const name = readExactly(der, TAG.SEQUENCE, 'Name');
  return decodeName(name);
}

/** Parse a Name element already read from a larger structure. */
export function decodeName(name: Tlv): Dn {
  return children(name, TAG.SEQUENCE, 'Name').map((set, i) => {
    const avas = children(set, TAG.SET, `RDN ${i}`);
    if (avas.length === 0) fail('MALFORMED', `RDN ${i} is empty`);
    return avas.map((seq) => {
      const [type, value, extra] = children(seq, TAG.SEQUENCE, `RDN ${i} AVA`);
      if (type?.tag !== TAG.OID || value === undefined || extra !== undefined) {
        fail('MALFORMED', `RDN ${i}: AttributeTypeAndValue is not { OID, value }`);
      }
      const oid = decodeOid(type.value, `RDN ${i} type`);
      return { oid, value: decodeValue(value, `RDN ${i} ${BY_OID.get(oid) ?? oid}`), tag: value.tag };
    });
  });
}

// --- text -----------------------------------------------------------------------------------------

const ATTR_AHEAD = /^\s*([A-Za-z][A-Za-z0-9-]*|\d+(\.\d+)+)\s*=/;

/** Split on unescaped `sep` when followed by "name="; returns pieces with escapes still in place. */
function splitTop(text: string, sep: string): string[] {
  const out: string[] = [];
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '\\') i++;
    else if (text[i] === sep && ATTR_AHEAD.test(text.slice(i + 1))) {
      out.push(text.slice(start, i));
      start = i + 1;
    }
  }
  out.push(text.slice(start));
  return out;
}

/** Remove escapes and unescaped leading/trailing white space. */
function unescapeValue(raw: string, what: string): string {
  const chars: { c: string; esc: boolean }[] = [];
  for (let i = 0; i < raw.length; i++) {
    if (raw[i] === '\\') {
      if (i + 1 >= raw.length) fail('BAD_ID', `${what}: trailing "\\"`);
      chars.push({ c: raw[++i]!, esc: true });
    } else chars.push({ c: raw[i]!, esc: false });
  }
  const isPad = (x: { c: string; esc: boolean } | undefined) => x !== undefined && !x.esc && /\s/.test(x.c);
  while (isPad(chars[0])) chars.shift();
  while (isPad(chars[chars.length - 1])) chars.pop();
  return chars.map((x) => x.c).join('');
}

function attrOid(name: string, what: string): string {
  if (/^\d+(\.\d+)+$/.test(name)) return name;
  const oid = BY_NAME.get(name.toLowerCase());
  if (oid === undefined)
    fail('BAD_ID', `${what}: unknown attribute "${name}" (use C, ST, L, O, OU, CN, E ...)`);
  return oid;
}

/** Parse "C=CH, O=Example, CN=gw1" (strongSwan order = DER order). Throws BAD_ID. */
export function parseDn(text: string): Dn {
  if (text.trim() === '') fail('BAD_ID', 'empty distinguished name');
  return splitTop(text, ',').map((rdnText, i) =>
    splitTop(rdnText, '+').map((avaText) => {
      const eq = avaText.indexOf('=');
      const name = avaText.slice(0, eq).trim();
      if (eq < 0 || !/^([A-Za-z][A-Za-z0-9-]*|\d+(\.\d+)+)$/.test(name)) {
        fail('BAD_ID', `RDN ${i + 1} of the DN is not "name=value"`);
      }
      const oid = attrOid(name, `RDN ${i + 1}`);
      const value = unescapeValue(avaText.slice(eq + 1), `RDN ${i + 1}`);
      defaultTag(oid, value); // validates the character set now, not at encoding time
      return { oid, value };
    }),
  );
}

function escapeValue(v: string): string {
  const chars = [...v];
  const last = chars.length - 1;
  return chars
    .map((c, i) => (/[\\,+="]/.test(c) || ((i === 0 || i === last) && /\s/.test(c)) ? `\\${c}` : c))
    .join('');
}

/** Text form; parseDn(formatDn(dn)) gives the same DN (tags aside). */
export function formatDn(dn: Dn): string {
  return dn
    .map((rdn) => rdn.map((a) => `${BY_OID.get(a.oid) ?? a.oid}=${escapeValue(a.value)}`).join('+'))
    .join(', ');
}

/** RFC 4518-style normalization for comparison: trim, collapse white space, case fold. */
const norm = (v: string) => v.trim().replace(/\s+/g, ' ').toLowerCase();

function rdnKeys(rdn: Rdn): string[] {
  return rdn.map((a) => `${a.oid}=${norm(a.value)}`).sort();
}

/** RFC 5280 §7.1 name comparison (simplified: caseIgnoreMatch on every attribute). */
export function dnEquals(a: Dn, b: Dn): boolean {
  return dnMatches(a, b, false);
}

/**
 * `pattern` matches `dn` when both have the same RDNs in the same order; with wildcards, a pattern
 * value "*" matches any value of that attribute type (strongSwan's rightid="C=CH, O=x, CN=*").
 */
export function dnMatches(pattern: Dn, dn: Dn, wildcards = true): boolean {
  if (pattern.length !== dn.length) return false;
  return pattern.every((prdn, i) => {
    const rdn = dn[i]!;
    if (prdn.length !== rdn.length) return false;
    const want = rdnKeys(prdn);
    const have = rdnKeys(rdn);
    return want.every(
      (k, j) => k === have[j] || (wildcards && k.endsWith('=*') && have[j]?.startsWith(k.slice(0, -1))),
    );
  });
}

/** Compare two DER Names; false (not an exception) when either does not parse. */
export function derDnEquals(a: Uint8Array, b: Uint8Array): boolean {
  if (bytesEqual(a, b)) return true;
  try {
    return dnEquals(decodeDn(a), decodeDn(b));
  } catch (e) {
    if (e instanceof CredsError) return false;
    throw e;
  }
}
