// IKE identities (RFC 7296 §3.5): the ID payload's type and data, parsed from the strings
// strongSwan users write, formatted back for logs, compared and matched against patterns.
//
//   "192.0.2.1", "2001:db8::1"           IPV4_ADDR / IPV6_ADDR (4 / 16 octets)
//   "vpn.example.com", "@vpn.example.com" FQDN ("@" forces FQDN; ASCII octets, no NUL)
//   "user@example.com", "@@user"          RFC822_ADDR
//   "C=CH, O=Example, CN=gw1"             DER_ASN1_DN (DER Name, see dn.ts)
//   "@#0a0b", "keyid:0a:0b"               KEY_ID (opaque octets)
//   "%any", "any"                         wildcard (matches every ID; never sent)
// Explicit prefixes also work: "fqdn:", "email:", "rfc822:", "dn:", "asn1dn:", "ipv4:", "ipv6:".
// Patterns: "*.example.com" (FQDN suffix), "*@example.com" (RFC822 domain), DN values "*".
import { isIPv4, isIPv6 } from 'node:net';
import { Address4, Address6 } from 'ip-address';
import { IdType } from '../codec/iana.ts';
import { decodeDn, dnMatches, encodeDn, formatDn, parseDn } from './dn.ts';
import { bytesEqual } from '../crypto/der.ts';
import { CredsError, fail } from './errors.ts';

/** Type 0 is reserved in the IANA registry; we use it for the "%any" wildcard (like strongSwan's ID_ANY). */
export const ID_ANY = 0;

export interface IkeId {
  /** IdType value, or ID_ANY for the wildcard. */
  readonly type: number;
  /** Identification Data exactly as in the ID payload (RFC 7296 §3.5). */
  readonly data: Uint8Array;
}

/** The identity shape of src/config (values.ts `Identity`), accepted without importing config. */
export interface ConfigIdentity {
  readonly kind: 'ipv4' | 'ipv6' | 'fqdn' | 'rfc822' | 'dn' | 'keyid' | 'any';
  readonly value: string;
}

export const ANY_ID: IkeId = Object.freeze({ type: ID_ANY, data: new Uint8Array(0) });

const ascii = (s: string) => Buffer.from(s, 'latin1');
const PREFIXES: Readonly<Record<string, number>> = {
  'fqdn:': IdType.FQDN,
  'email:': IdType.RFC822_ADDR,
  'rfc822:': IdType.RFC822_ADDR,
  'dn:': IdType.DER_ASN1_DN,
  'asn1dn:': IdType.DER_ASN1_DN,
  'keyid:': IdType.KEY_ID,
  'ipv4:': IdType.IPV4_ADDR,
  'ipv6:': IdType.IPV6_ADDR,
};

function ipBytes(text: string, family: 4 | 6): Uint8Array {
  if (family === 4 ? !isIPv4(text) : !isIPv6(text))
    fail('BAD_ID', `"${text}" is not an IPv${family} address`);
  if (family === 4) return Uint8Array.from(new Address4(text).toArray());
  const n = new Address6(text).bigInt();
  const out = new Uint8Array(16);
  for (let i = 0; i < 16; i++) out[i] = Number((n >> BigInt(8 * (15 - i))) & 0xffn);
  return out;
}

function keyId(hex: string): Uint8Array {
  const h = hex.replaceAll(':', '');
  if (!/^([0-9a-fA-F]{2})+$/.test(h)) fail('BAD_ID', 'a key id must be hex octets');
  return Buffer.from(h, 'hex');
}

/** ASCII text without NUL, control characters or white space (RFC 7296 §3.5: no terminators). */
function asciiName(text: string, what: string): Uint8Array {
  if (text === '' || !/^[\x21-\x7e]+$/.test(text))
    fail('BAD_ID', `${what} "${text}" must be printable ASCII`);
  return ascii(text);
}

function typed(type: number, text: string): IkeId {
  switch (type) {
    case IdType.IPV4_ADDR:
      return { type, data: ipBytes(text, 4) };
    case IdType.IPV6_ADDR:
      return { type, data: ipBytes(text, 6) };
    case IdType.FQDN:
      return { type, data: asciiName(text, 'FQDN') };
    case IdType.RFC822_ADDR:
      return { type, data: asciiName(text, 'RFC822 address') };
    case IdType.DER_ASN1_DN:
      return { type, data: encodeDn(parseDn(text)) };
    default:
      return { type: IdType.KEY_ID, data: keyId(text) };
  }
}

/** Parse an identity as written in configs. Throws CredsError BAD_ID. */
export function parseId(text: string): IkeId {
  const t = text.trim();
  if (t === '') fail('BAD_ID', 'empty identity');
  if (t === '%any' || t === 'any' || t === '*') return ANY_ID;
  const prefix = Object.keys(PREFIXES).find((p) => t.toLowerCase().startsWith(p));
  if (prefix !== undefined) return typed(PREFIXES[prefix]!, t.slice(prefix.length).trim());
  if (isIPv4(t)) return typed(IdType.IPV4_ADDR, t);
  if (isIPv6(t)) return typed(IdType.IPV6_ADDR, t);
  if (t.startsWith('@#')) return typed(IdType.KEY_ID, t.slice(2));
  if (t.startsWith('@@')) return typed(IdType.RFC822_ADDR, t.slice(2));
  if (t.startsWith('@')) return typed(IdType.FQDN, t.slice(1));
  if (/^([A-Za-z][A-Za-z0-9-]*|\d+(\.\d+)+)\s*=/.test(t)) return typed(IdType.DER_ASN1_DN, t);
  if (t.includes('@')) return typed(IdType.RFC822_ADDR, t);
  return typed(IdType.FQDN, t);
}

/** An identity from the validated config (src/config `Identity`). */
export function idFromConfig(id: ConfigIdentity): IkeId {
  const type: Record<ConfigIdentity['kind'], number> = {
    ipv4: IdType.IPV4_ADDR,
    ipv6: IdType.IPV6_ADDR,
    fqdn: IdType.FQDN,
    rfc822: IdType.RFC822_ADDR,
    dn: IdType.DER_ASN1_DN,
    keyid: IdType.KEY_ID,
    any: ID_ANY,
  };
  const t = type[id.kind];
  return t === ID_ANY ? ANY_ID : typed(t, id.value);
}

/**
 * An identity received in an IDi/IDr payload, checked for the length or syntax its type needs.
 * Types we do not interpret (DER_ASN1_GN, FC_NAME, NULL ...) are kept as opaque octets.
 */
export function idFromPayload(type: number, data: Uint8Array): IkeId {
  const need = type === IdType.IPV4_ADDR ? 4 : type === IdType.IPV6_ADDR ? 16 : undefined;
  if (need !== undefined && data.length !== need) {
    fail('BAD_ID', `ID type ${type} needs ${need} octets, got ${data.length}`);
  }
  if ((type === IdType.FQDN || type === IdType.RFC822_ADDR) && (data.length === 0 || data.includes(0))) {
    fail('BAD_ID', `ID type ${type} must be non-empty and contain no NUL octet`);
  }
  if (type === IdType.DER_ASN1_DN) {
    try {
      decodeDn(data);
    } catch (e) {
      if (e instanceof CredsError) fail('BAD_ID', `DER_ASN1_DN does not parse (${e.message})`);
      throw e;
    }
  }
  if (type === ID_ANY) fail('BAD_ID', 'ID type 0 is reserved');
  return { type, data: Uint8Array.from(data) };
}

/** Display form; parseId(formatId(id)) gives an equal id for every type parseId produces. */
export function formatId(id: IkeId): string {
  const d = id.data;
  switch (id.type) {
    case ID_ANY:
      return '%any';
    case IdType.IPV4_ADDR:
      return Address4.fromByteArray([...d]).correctForm();
    case IdType.IPV6_ADDR:
      return Address6.fromByteArray([...d]).correctForm();
    case IdType.FQDN:
      return `@${Buffer.from(d).toString('latin1')}`;
    case IdType.RFC822_ADDR: {
      const s = Buffer.from(d).toString('latin1');
      return s.includes('@') ? s : `@@${s}`;
    }
    case IdType.DER_ASN1_DN:
      try {
        return formatDn(decodeDn(d));
      } catch {
        return `dn:#${Buffer.from(d).toString('hex')}`;
      }
    case IdType.KEY_ID:
      return `@#${Buffer.from(d).toString('hex')}`;
    default:
      return `id-type-${id.type}:#${Buffer.from(d).toString('hex')}`;
  }
}

const text = (id: IkeId) => Buffer.from(id.data).toString('latin1').toLowerCase();

function sameDn(a: IkeId, b: IkeId, wildcards: boolean): boolean {
  try {
    return dnMatches(decodeDn(a.data), decodeDn(b.data), wildcards);
  } catch (e) {
    if (e instanceof CredsError) return false;
    throw e;
  }
}

/** Equality: DNs on normalized RDNs, FQDN and RFC822 case-insensitively, others octet for octet. */
export function idEquals(a: IkeId, b: IkeId): boolean {
  if (a.type !== b.type) return false;
  if (a.type === IdType.DER_ASN1_DN) return bytesEqual(a.data, b.data) || sameDn(a, b, false);
  if (a.type === IdType.FQDN || a.type === IdType.RFC822_ADDR) return text(a) === text(b);
  return bytesEqual(a.data, b.data);
}

/** Does the configured `pattern` accept the received `id`? */
export function idMatches(pattern: IkeId, id: IkeId): boolean {
  if (pattern.type === ID_ANY) return true;
  if (pattern.type !== id.type) return false;
  const p = text(pattern);
  if (pattern.type === IdType.FQDN && p.startsWith('*.')) return text(id).endsWith(p.slice(1));
  if (pattern.type === IdType.RFC822_ADDR && p.startsWith('*@')) return text(id).endsWith(p.slice(1));
  if (pattern.type === IdType.DER_ASN1_DN) return sameDn(pattern, id, true);
  return idEquals(pattern, id);
}
