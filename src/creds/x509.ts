// X.509 certificates (RFC 5280) as the credentials layer needs them: node:crypto's X509Certificate
// for signature checks and the public KeyObject, plus the fields OpenSSL does not hand to JS read
// once with our DER reader: issuer/subject Names, validity, basicConstraints, keyUsage,
// subjectAltName, subjectKeyIdentifier, the SubjectPublicKeyInfo, critical extensions.
import { createHash, createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { inspect } from 'node:util';
import { TAG, children, ctx, decodeOid, readExactly, type Tlv } from './der.ts';
import { decodeName, formatDn, type Dn } from './dn.ts';
import { CredsError, fail } from './errors.ts';

/** RFC 5280 §4.2.1.3 KeyUsage bit numbers. */
export const KeyUsage = { digitalSignature: 0, nonRepudiation: 1, keyCertSign: 5 } as const;

const EXT = {
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  subjectKeyIdentifier: '2.5.29.14',
} as const;
/** Critical extensions we may accept without processing beyond what is done here (RFC 5280 §4.2). */
const UNDERSTOOD = new Set<string>([...Object.values(EXT), '2.5.29.37' /* extKeyUsage */]);

export interface SubjectAltNames {
  readonly dns: readonly string[];
  readonly email: readonly string[];
  readonly ip: readonly Uint8Array[];
}

/** A parsed certificate; all fields computed once at construction. */
export class Certificate {
  readonly x509: X509Certificate;
  readonly der: Uint8Array;
  /** DER Names exactly as in the certificate. */
  readonly subject: Uint8Array;
  readonly issuer: Uint8Array;
  readonly subjectDn: Dn;
  readonly issuerDn: Dn;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** basicConstraints cA (false when the extension is absent). */
  readonly ca: boolean;
  readonly pathLen: number | undefined;
  /** keyUsage bits (bit n = 1 << n), undefined when the extension is absent. */
  readonly keyUsage: number | undefined;
  readonly san: SubjectAltNames;
  readonly subjectKeyId: Uint8Array | undefined;
  /** DER SubjectPublicKeyInfo. */
  readonly spki: Uint8Array;
  /** SHA-1 of the subjectPublicKey BIT STRING (RFC 5280 §4.2.1.2 method 1), for KEY_ID matching. */
  readonly keyHash: Uint8Array;
  /** SHA-1 of the DER SubjectPublicKeyInfo: a CERTREQ entry for this CA (RFC 7296 §3.7). */
  readonly spkiSha1: Uint8Array;
  readonly publicKey: KeyObject;
  /** OIDs of critical extensions we do not process (RFC 5280 §4.2: such a certificate is rejected). */
  readonly unknownCritical: readonly string[];

  constructor(der: Uint8Array) {
    this.der = Uint8Array.from(der);
    try {
      this.x509 = new X509Certificate(this.der);
    } catch {
      fail('MALFORMED', 'not a DER X.509 certificate');
    }
    const [tbs] = children(readExactly(this.der, TAG.SEQUENCE, 'Certificate'), TAG.SEQUENCE, 'Certificate');
    const f = children(tbs, TAG.SEQUENCE, 'TBSCertificate');
    const hasVersion = f[0]?.tag === ctx(0, true);
    const [, , , issuer, validity, subject, spki, ...rest] = hasVersion ? f : [undefined, ...f];
    this.issuer = need(issuer, TAG.SEQUENCE, 'issuer').der;
    this.subject = need(subject, TAG.SEQUENCE, 'subject').der;
    this.issuerDn = decodeName(issuer!);
    this.subjectDn = decodeName(subject!);
    const [nb, na] = children(validity, TAG.SEQUENCE, 'validity');
    this.notBefore = derTime(nb, 'notBefore');
    this.notAfter = derTime(na, 'notAfter');
    this.spki = need(spki, TAG.SEQUENCE, 'subjectPublicKeyInfo').der;
    const [, bits] = children(spki, TAG.SEQUENCE, 'subjectPublicKeyInfo');
    this.keyHash = sha1(need(bits, TAG.BIT_STRING, 'subjectPublicKey').value.subarray(1));
    this.spkiSha1 = sha1(this.spki);
    this.publicKey = this.x509.publicKey;
    const ext = parseExtensions(rest.find((t) => t?.tag === ctx(3, true)));
    this.ca = ext.ca;
    this.pathLen = ext.pathLen;
    this.keyUsage = ext.keyUsage;
    this.san = ext.san;
    this.subjectKeyId = ext.ski;
    this.unknownCritical = ext.unknownCritical;
  }

  get subjectText(): string {
    return formatDn(this.subjectDn);
  }

  hasKeyUsage(bit: number): boolean {
    return this.keyUsage === undefined || (this.keyUsage & (1 << bit)) !== 0;
  }

  [inspect.custom](): string {
    return `Certificate(${this.subjectText})`;
  }
}

const sha1 = (b: Uint8Array) => new Uint8Array(createHash('sha1').update(b).digest());

function need(t: Tlv | undefined, tag: number, what: string): Tlv {
  if (t?.tag !== tag) fail('MALFORMED', `certificate ${what} missing or of the wrong type`);
  return t;
}

/** RFC 5280 §4.1.2.5: UTCTime YYMMDDHHMMSSZ (YY < 50 -> 20YY) or GeneralizedTime YYYYMMDDHHMMSSZ. */
function derTime(t: Tlv | undefined, what: string): Date {
  const s = Buffer.from(t?.value ?? []).toString('latin1');
  const m =
    t?.tag === TAG.UTC_TIME
      ? /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(s)
      : t?.tag === TAG.GENERALIZED_TIME
        ? /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(s)
        : null;
  if (m === null) fail('MALFORMED', `certificate ${what} is not a UTCTime/GeneralizedTime in UTC`);
  const [y, mo, d, h, mi, se] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  const year = t?.tag === TAG.UTC_TIME ? (y < 50 ? 2000 + y : 1900 + y) : y;
  return new Date(Date.UTC(year, mo - 1, d, h, mi, se));
}

interface Extensions {
  ca: boolean;
  pathLen: number | undefined;
  keyUsage: number | undefined;
  san: SubjectAltNames;
  ski: Uint8Array | undefined;
  unknownCritical: string[];
}

function parseExtensions(wrapper: Tlv | undefined): Extensions {
  const out: Extensions = {
    ca: false,
    pathLen: undefined,
    keyUsage: undefined,
    san: { dns: [], email: [], ip: [] },
    ski: undefined,
    unknownCritical: [],
  };
  if (wrapper === undefined) return out;
  const [list] = children(wrapper, wrapper.tag, 'extensions');
  for (const e of children(list, TAG.SEQUENCE, 'extensions')) {
    const parts = children(e, TAG.SEQUENCE, 'extension');
    const oid = decodeOid(need(parts[0], TAG.OID, 'extension id').value, 'extension id');
    const critical = parts.length === 3 && parts[1]?.tag === TAG.BOOLEAN && parts[1].value[0] !== 0;
    const value = need(parts[parts.length - 1], TAG.OCTET_STRING, `extension ${oid}`).value;
    if (oid === EXT.basicConstraints) {
      const bc = children(readExactly(value, TAG.SEQUENCE, 'basicConstraints'), TAG.SEQUENCE, 'bc');
      out.ca = bc[0]?.tag === TAG.BOOLEAN && bc[0].value[0] !== 0;
      const len = bc.find((t) => t.tag === TAG.INTEGER);
      if (len !== undefined) out.pathLen = smallInt(len.value);
    } else if (oid === EXT.keyUsage) {
      const b = readExactly(value, TAG.BIT_STRING, 'keyUsage').value;
      out.keyUsage = bitReverse(b[1] ?? 0) | (bitReverse(b[2] ?? 0) << 8);
    } else if (oid === EXT.subjectAltName) {
      out.san = parseSan(value);
    } else if (oid === EXT.subjectKeyIdentifier) {
      out.ski = readExactly(value, TAG.OCTET_STRING, 'subjectKeyIdentifier').value;
    }
    if (critical && !UNDERSTOOD.has(oid)) out.unknownCritical.push(oid);
  }
  return out;
}

/** BIT STRING bit 0 is the most significant bit of the first octet (X.690 §8.6.2). */
function bitReverse(b: number): number {
  let r = 0;
  for (let i = 0; i < 8; i++) if (b & (0x80 >> i)) r |= 1 << i;
  return r;
}

function smallInt(v: Uint8Array): number {
  if (v.length === 0 || v.length > 4 || (v[0]! & 0x80) !== 0) fail('MALFORMED', 'pathLenConstraint');
  return v.reduce((n, b) => n * 256 + b, 0);
}

/** RFC 5280 §4.2.1.6 GeneralNames: rfc822Name [1], dNSName [2], iPAddress [7] (IMPLICIT). */
function parseSan(value: Uint8Array): SubjectAltNames {
  const dns: string[] = [];
  const email: string[] = [];
  const ip: Uint8Array[] = [];
  for (const gn of children(readExactly(value, TAG.SEQUENCE, 'subjectAltName'), TAG.SEQUENCE, 'SAN')) {
    const text = () => Buffer.from(gn.value).toString('latin1');
    if (gn.tag === ctx(1, false)) email.push(text());
    else if (gn.tag === ctx(2, false)) dns.push(text());
    else if (gn.tag === ctx(7, false) && (gn.value.length === 4 || gn.value.length === 16)) ip.push(gn.value);
  }
  return { dns, email, ip };
}

// --- loading --------------------------------------------------------------------------------------

const PEM_CERT = /-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]+)-----END CERTIFICATE-----/g;

/** Certificates from PEM text (one or more blocks), DER bytes, or X509Certificate objects. */
export function loadCertificates(input: string | Uint8Array | X509Certificate): Certificate[] {
  if (input instanceof X509Certificate) return [new Certificate(input.raw)];
  const text = typeof input === 'string' ? input : Buffer.from(input).toString('latin1');
  if (text.includes('-----BEGIN')) {
    const blocks = [...text.matchAll(PEM_CERT)].map((m) => Buffer.from(m[1]!, 'base64'));
    if (blocks.length === 0) fail('MALFORMED', 'no PEM CERTIFICATE block');
    return blocks.map((b) => new Certificate(b));
  }
  if (typeof input === 'string') fail('MALFORMED', 'certificate text is not PEM');
  return [new Certificate(input)];
}

/** One certificate; throws MALFORMED unless the input holds exactly one. */
export function loadCertificate(input: string | Uint8Array | X509Certificate): Certificate {
  const all = loadCertificates(input);
  if (all.length !== 1) fail('MALFORMED', `expected one certificate, found ${all.length}`);
  return all[0]!;
}

/** A private key from PEM, DER (PKCS#8, SEC1, PKCS#1) or a KeyObject. Messages never show the key. */
export function loadPrivateKey(input: string | Uint8Array | KeyObject): KeyObject {
  if (typeof input === 'object' && !(input instanceof Uint8Array)) {
    if (input.type !== 'private') fail('NO_KEY', 'the KeyObject is not a private key');
    return input;
  }
  const attempts =
    typeof input === 'string' || Buffer.from(input.subarray(0, 11)).toString('latin1') === '-----BEGIN '
      ? [{ key: Buffer.from(input) }]
      : (['pkcs8', 'sec1', 'pkcs1'] as const).map((type) => ({
          key: Buffer.from(input),
          format: 'der' as const,
          type,
        }));
  for (const a of attempts) {
    try {
      return createPrivateKey(a);
    } catch {
      // try the next encoding
    }
  }
  throw new CredsError('MALFORMED', 'not an unencrypted PEM or DER private key');
}
