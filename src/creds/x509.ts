// X.509 certificates (RFC 5280) as the credentials layer needs them, read once with our DER reader:
// issuer/subject Names, validity, basicConstraints, keyUsage, subjectAltName, subjectKeyIdentifier,
// the SubjectPublicKeyInfo, critical extensions, and the signed TBSCertificate with its signature.
// node:crypto's X509Certificate and the public KeyObject are built only when first asked for:
// OpenSSL 3.0 decodes certificates and SPKI keys slowly (~0.2-0.3 ms each, measured here), which
// dominated the responder's CPU per certificate-authenticated IKE SA (issue 7).
import { createHash, createPrivateKey, createPublicKey, X509Certificate, type KeyObject } from 'node:crypto';
import { inspect } from 'node:util';
import { TAG, ctx, derReader, type Tlv } from '../crypto/der.ts';
import { decodeName, formatDn, type Dn } from './dn.ts';
import { CredsError, fail } from './errors.ts';

const { children, decodeOid, readExactly } = derReader({
  maxLengthOctets: 3, // 16 MiB: far above any certificate an IKE peer may send
  malformed: (m) => fail('MALFORMED', m),
});

/** RFC 5280 §4.2.1.3 KeyUsage bit numbers. */
export const KeyUsage = { digitalSignature: 0, nonRepudiation: 1, keyCertSign: 5 } as const;

const EXT = {
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  subjectKeyIdentifier: '2.5.29.14',
  crlDistributionPoints: '2.5.29.31',
  authorityInfoAccess: '1.3.6.1.5.5.7.1.1',
  extKeyUsage: '2.5.29.37',
} as const;
/** RFC 5280 §4.2.2.1 id-ad-ocsp; RFC 6960 §4.2.2.2 id-kp-OCSPSigning. */
const OID_AD_OCSP = '1.3.6.1.5.5.7.48.1';
export const OID_KP_OCSP_SIGNING = '1.3.6.1.5.5.7.3.9';
/** GeneralName uniformResourceIdentifier [6] IA5String (RFC 5280 §4.2.1.6). */
const GN_URI = 0x86;
/** Critical extensions we may accept without processing beyond what is done here (RFC 5280 §4.2). */
const UNDERSTOOD = new Set<string>(Object.values(EXT));

export interface SubjectAltNames {
  readonly dns: readonly string[];
  readonly email: readonly string[];
  readonly ip: readonly Uint8Array[];
}

/** A parsed certificate; all fields computed once at construction. */
export class Certificate {
  readonly der: Uint8Array;
  /** DER TBSCertificate: the bytes the issuer signed (RFC 5280 §4.1.1.3). */
  readonly tbs: Uint8Array;
  /** signatureAlgorithm OID and the signatureValue BIT STRING's bits (RFC 5280 §4.1.1.2-3). */
  readonly sigAlg: string;
  readonly signature: Uint8Array;
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
  /** serialNumber content octets (RFC 5280 §4.1.2.2), and as lower-case hex for logs. */
  readonly serial: Uint8Array;
  readonly serialHex: string;
  /** HTTP(S) URIs of the cRLDistributionPoints fullNames (RFC 5280 §4.2.1.13). */
  readonly crlUrls: readonly string[];
  /** OCSP responder URIs from authorityInfoAccess (RFC 5280 §4.2.2.1). */
  readonly ocspUrls: readonly string[];
  /** extKeyUsage purposes (OIDs); undefined when the extension is absent. */
  readonly extKeyUsage: readonly string[] | undefined;
  /** DER SubjectPublicKeyInfo. */
  readonly spki: Uint8Array;
  /** SHA-1 of the subjectPublicKey BIT STRING (RFC 5280 §4.2.1.2 method 1), for KEY_ID matching. */
  readonly keyHash: Uint8Array;
  /** SHA-1 of the DER SubjectPublicKeyInfo: a CERTREQ entry for this CA (RFC 7296 §3.7). */
  readonly spkiSha1: Uint8Array;
  /** OIDs of critical extensions we do not process (RFC 5280 §4.2: such a certificate is rejected). */
  readonly unknownCritical: readonly string[];
  #x509: X509Certificate | undefined;
  #publicKey: KeyObject | undefined;

  constructor(der: Uint8Array) {
    this.der = Uint8Array.from(der);
    const top = children(readExactly(this.der, TAG.SEQUENCE, 'Certificate'), TAG.SEQUENCE, 'Certificate');
    const [tbs, alg, sig] = top;
    if (top.length !== 3) fail('MALFORMED', 'a Certificate is TBSCertificate, signatureAlgorithm, signature');
    this.tbs = need(tbs, TAG.SEQUENCE, 'TBSCertificate').der;
    const [algOid] = children(alg, TAG.SEQUENCE, 'signatureAlgorithm');
    this.sigAlg = decodeOid(need(algOid, TAG.OID, 'signatureAlgorithm').value, 'signatureAlgorithm');
    const sigBits = need(sig, TAG.BIT_STRING, 'signatureValue').value;
    if (sigBits[0] !== 0) fail('MALFORMED', 'certificate signatureValue has unused bits');
    this.signature = sigBits.subarray(1);
    const f = children(tbs, TAG.SEQUENCE, 'TBSCertificate');
    const hasVersion = f[0]?.tag === ctx(0, true);
    const [, serial, , issuer, validity, subject, spki, ...rest] = hasVersion ? f : [undefined, ...f];
    this.serial = need(serial, TAG.INTEGER, 'serialNumber').value;
    this.serialHex = Buffer.from(this.serial).toString('hex');
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
    const ext = parseExtensions(rest.find((t) => t?.tag === ctx(3, true)));
    this.ca = ext.ca;
    this.pathLen = ext.pathLen;
    this.keyUsage = ext.keyUsage;
    this.san = ext.san;
    this.subjectKeyId = ext.ski;
    this.crlUrls = ext.crlUrls;
    this.ocspUrls = ext.ocspUrls;
    this.extKeyUsage = ext.eku;
    this.unknownCritical = ext.unknownCritical;
  }

  /** node:crypto's view of the certificate (built on first use). Throws MALFORMED if OpenSSL refuses it. */
  get x509(): X509Certificate {
    if (this.#x509 === undefined) {
      try {
        this.#x509 = new X509Certificate(this.der);
      } catch {
        fail('MALFORMED', 'not a DER X.509 certificate');
      }
    }
    return this.#x509;
  }

  /** The subject public key (built on first use). Throws MALFORMED for a key OpenSSL cannot read. */
  get publicKey(): KeyObject {
    this.#publicKey ??= publicKeyFromSpki(this.spki);
    return this.#publicKey;
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
const b64url = (b: Uint8Array) => Buffer.from(b).toString('base64url');

const OID_RSA = '1.2.840.113549.1.1.1';
const OID_ED25519 = '1.3.101.112';

/**
 * A public KeyObject from a DER SubjectPublicKeyInfo. RSA (RFC 8017 A.1.1) and Ed25519 (RFC 8410)
 * keys go in as JWK, which OpenSSL 3.0 imports ~10x faster than through its DER decoders (measured
 * here: RSA 16 vs 237 us, Ed25519 28 vs 200 us); EC keys gain nothing that way and take the DER path.
 */
export function publicKeyFromSpki(spki: Uint8Array): KeyObject {
  try {
    const [alg, bits] = children(readExactly(spki, TAG.SEQUENCE, 'spki'), TAG.SEQUENCE, 'spki');
    const [oid] = children(alg, TAG.SEQUENCE, 'spki algorithm');
    const algOid = decodeOid(need(oid, TAG.OID, 'spki algorithm').value, 'spki algorithm');
    const key = need(bits, TAG.BIT_STRING, 'subjectPublicKey').value.subarray(1);
    if (algOid === OID_ED25519 && key.length === 32)
      return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: b64url(key) }, format: 'jwk' });
    if (algOid === OID_RSA) {
      const [n, e] = children(readExactly(key, TAG.SEQUENCE, 'RSAPublicKey'), TAG.SEQUENCE, 'RSAPublicKey');
      const mag = (t: Tlv | undefined) => {
        const v = need(t, TAG.INTEGER, 'RSAPublicKey').value;
        return v[0] === 0 ? v.subarray(1) : v;
      };
      return createPublicKey({ key: { kty: 'RSA', n: b64url(mag(n)), e: b64url(mag(e)) }, format: 'jwk' });
    }
    return createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' });
  } catch (e) {
    if (e instanceof CredsError) throw e;
    fail('MALFORMED', 'the certificate\u2019s public key cannot be read');
  }
}

function need(t: Tlv | undefined, tag: number, what: string): Tlv {
  if (t?.tag !== tag) fail('MALFORMED', `certificate ${what} missing or of the wrong type`);
  return t;
}

/** RFC 5280 §4.1.2.5: UTCTime YYMMDDHHMMSSZ (YY < 50 -> 20YY) or GeneralizedTime YYYYMMDDHHMMSSZ. */
export function derTime(t: Tlv | undefined, what: string): Date {
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
  crlUrls: string[];
  ocspUrls: string[];
  eku: string[] | undefined;
  unknownCritical: string[];
}

function parseExtensions(wrapper: Tlv | undefined): Extensions {
  const out: Extensions = {
    ca: false,
    pathLen: undefined,
    keyUsage: undefined,
    san: { dns: [], email: [], ip: [] },
    ski: undefined,
    crlUrls: [],
    ocspUrls: [],
    eku: undefined,
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
    } else if (oid === EXT.crlDistributionPoints) {
      out.crlUrls = parseCrlDp(value);
    } else if (oid === EXT.authorityInfoAccess) {
      out.ocspUrls = parseAia(value);
    } else if (oid === EXT.extKeyUsage) {
      const list = children(readExactly(value, TAG.SEQUENCE, 'extKeyUsage'), TAG.SEQUENCE, 'extKeyUsage');
      out.eku = list.map((t) => decodeOid(need(t, TAG.OID, 'extKeyUsage').value, 'extKeyUsage'));
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

const latin1 = (b: Uint8Array) => Buffer.from(b).toString('latin1');

/**
 * RFC 5280 §4.2.1.13: DistributionPoint ::= SEQUENCE { distributionPoint [0] DistributionPointName
 * OPTIONAL, ... }; DistributionPointName ::= CHOICE { fullName [0] GeneralNames, ... }. The URIs of
 * each fullName, in order.
 */
function parseCrlDp(value: Uint8Array): string[] {
  const urls: string[] = [];
  for (const dp of children(readExactly(value, TAG.SEQUENCE, 'cRLDistributionPoints'), TAG.SEQUENCE, 'CDP')) {
    const name = children(dp, TAG.SEQUENCE, 'DistributionPoint').find((t) => t.tag === ctx(0, true));
    if (name === undefined) continue;
    const full = children(name, name.tag, 'distributionPoint').find((t) => t.tag === ctx(0, true));
    if (full === undefined) continue;
    for (const gn of children(full, full.tag, 'fullName')) if (gn.tag === GN_URI) urls.push(latin1(gn.value));
  }
  return urls;
}

/** RFC 5280 §4.2.2.1: AccessDescription ::= SEQUENCE { accessMethod OID, accessLocation GeneralName }. */
function parseAia(value: Uint8Array): string[] {
  const urls: string[] = [];
  for (const ad of children(readExactly(value, TAG.SEQUENCE, 'authorityInfoAccess'), TAG.SEQUENCE, 'AIA')) {
    const [method, loc] = children(ad, TAG.SEQUENCE, 'AccessDescription');
    const m = decodeOid(need(method, TAG.OID, 'accessMethod').value, 'accessMethod');
    if (m === OID_AD_OCSP && loc?.tag === GN_URI) urls.push(latin1(loc.value));
  }
  return urls;
}

/** Most recently seen peer certificates kept parsed (their keys and verified signatures with them). */
const CACHE_MAX = 512;
const cache = new Map<string, Certificate>();

/**
 * The Certificate for DER bytes a peer sent, from a small LRU cache: a peer that comes back, and the
 * intermediates many peers share, are parsed and verified once. Throws MALFORMED like the constructor.
 */
export function certificateFromDer(der: Uint8Array): Certificate {
  const key = Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString('latin1');
  let c = cache.get(key);
  if (c !== undefined) cache.delete(key);
  else c = new Certificate(der);
  cache.set(key, c);
  if (cache.size > CACHE_MAX) cache.delete(cache.keys().next().value!);
  return c;
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
