// Certificate revocation lists (RFC 5280 §5), read with our strict DER reader: the issuer, thisUpdate
// and nextUpdate, the revoked serial numbers with their reason codes, and the signed TBSCertList for
// the issuer's signature. Delta CRLs and indirect CRLs are refused (an unknown critical extension,
// RFC 5280 §5.2), so a CRL is only ever applied to certificates of the CA that signed it.
import { TAG, ctx, derReader, type Tlv } from '../../crypto/der.ts';
import { derDnEquals, decodeName, formatDn } from '../dn.ts';
import { verifyTbs } from '../chain.ts';
import { fail } from '../errors.ts';
import { derTime, type Certificate } from '../x509.ts';
import { reasonName } from './reasons.ts';

const { children, decodeOid, readExactly } = derReader({
  maxLengthOctets: 3, // 16 MiB; fetch.ts caps what we read long before that
  malformed: (m) => fail('MALFORMED', `CRL: ${m}`),
});

/** RFC 5280 §5.3.1 reasonCode entry extension. */
const OID_REASON = '2.5.29.21';
/** CRL extensions we may meet as critical without changing what the CRL means for us. */
const UNDERSTOOD_CRL_EXT = new Set(['2.5.29.20' /* cRLNumber */, '2.5.29.35' /* authorityKeyIdentifier */]);

export interface RevokedEntry {
  readonly date: Date;
  /** RFC 5280 §5.3.1 CRLReason, 0 (unspecified) when absent. */
  readonly reason: number;
}

export interface Crl {
  readonly der: Uint8Array;
  readonly tbs: Uint8Array;
  readonly sigAlg: string;
  readonly signature: Uint8Array;
  /** DER Name of the issuer, as in the CRL. */
  readonly issuer: Uint8Array;
  readonly issuerText: string;
  readonly thisUpdate: Date;
  readonly nextUpdate: Date | undefined;
  /** Revoked serial numbers (lower-case hex of the INTEGER content octets). */
  readonly revoked: ReadonlyMap<string, RevokedEntry>;
}

const PEM_CRL = /-----BEGIN X509 CRL-----([A-Za-z0-9+/=\s]+)-----END X509 CRL-----/;

/** A CRL from DER or PEM bytes. Throws CredsError MALFORMED naming the field. */
export function parseCrl(input: Uint8Array): Crl {
  const head = Buffer.from(input.subarray(0, 64)).toString('latin1');
  let der = input;
  if (head.includes('-----BEGIN')) {
    const m = PEM_CRL.exec(Buffer.from(input).toString('latin1'));
    if (m === null) fail('MALFORMED', 'CRL: no PEM X509 CRL block');
    der = Buffer.from(m[1]!, 'base64');
  }
  const top = children(readExactly(der, TAG.SEQUENCE, 'CertificateList'), TAG.SEQUENCE, 'CertificateList');
  if (top.length !== 3) fail('MALFORMED', 'CRL: CertificateList is tbsCertList, algorithm, signature');
  const [tbs, alg, sig] = top as [Tlv, Tlv, Tlv];
  const [algOid] = children(alg, TAG.SEQUENCE, 'signatureAlgorithm');
  const sigBits = need(sig, TAG.BIT_STRING, 'signatureValue').value;
  if (sigBits[0] !== 0) fail('MALFORMED', 'CRL: signatureValue has unused bits');
  const f = children(tbs, TAG.SEQUENCE, 'TBSCertList');
  let i = f[0]?.tag === TAG.INTEGER ? 1 : 0; // version v2 (RFC 5280 §5.1.2.1) is optional
  i++; // signature AlgorithmIdentifier (must equal the outer one; the signature check covers it)
  const issuer = need(f[i++], TAG.SEQUENCE, 'issuer');
  const thisUpdate = derTime(f[i++], 'CRL thisUpdate');
  let nextUpdate: Date | undefined;
  if (f[i]?.tag === TAG.UTC_TIME || f[i]?.tag === TAG.GENERALIZED_TIME)
    nextUpdate = derTime(f[i++], 'nextUpdate');
  const revoked = new Map<string, RevokedEntry>();
  if (f[i]?.tag === TAG.SEQUENCE) {
    for (const e of children(f[i++], TAG.SEQUENCE, 'revokedCertificates')) {
      const [serial, date, exts] = children(e, TAG.SEQUENCE, 'revokedCertificate');
      const hex = Buffer.from(need(serial, TAG.INTEGER, 'userCertificate').value).toString('hex');
      revoked.set(hex, { date: derTime(date, 'revocationDate'), reason: entryReason(exts) });
    }
  }
  if (f[i]?.tag === ctx(0, true)) checkCrlExtensions(f[i++]!);
  if (i !== f.length) fail('MALFORMED', 'CRL: unexpected field in TBSCertList');
  return {
    der,
    tbs: tbs.der,
    sigAlg: decodeOid(need(algOid, TAG.OID, 'signatureAlgorithm').value, 'signatureAlgorithm'),
    signature: sigBits.subarray(1),
    issuer: issuer.der,
    issuerText: formatDn(decodeName(issuer)),
    thisUpdate,
    nextUpdate,
    revoked,
  };
}

/** Is `crl` signed by `issuer` (same name, a key allowed to sign CRLs, a good signature)? */
export function crlSignedBy(crl: Crl, issuer: Certificate): boolean {
  if (!derDnEquals(crl.issuer, issuer.subject)) return false;
  // RFC 5280 §4.2.1.3: a key that signs CRLs has cRLSign (bit 6) when keyUsage is present.
  if (!issuer.hasKeyUsage(6)) return false;
  // A CRL file or cached CRL is checked on every IKE_AUTH: hash a large CRL once per issuer.
  if (verified.get(crl)?.has(issuer)) return true;
  const ok = verifyTbs(crl.sigAlg, crl.tbs, crl.signature, issuer.publicKey);
  if (ok) verified.set(crl, (verified.get(crl) ?? new WeakSet()).add(issuer));
  return ok;
}

/** Issuers whose signature on a CRL verified (positive results only; dies with the objects). */
const verified = new WeakMap<Crl, WeakSet<Certificate>>();

/** The entry for `cert` in `crl`, or undefined when it is not listed. */
export function crlLookup(crl: Crl, cert: Certificate): RevokedEntry | undefined {
  return crl.revoked.get(cert.serialHex);
}

export const describeEntry = (e: RevokedEntry) => `${reasonName(e.reason)} since ${e.date.toISOString()}`;

function entryReason(exts: Tlv | undefined): number {
  if (exts === undefined) return 0;
  for (const ext of children(exts, TAG.SEQUENCE, 'crlEntryExtensions')) {
    const parts = children(ext, TAG.SEQUENCE, 'crlEntryExtension');
    const id = decodeOid(need(parts[0], TAG.OID, 'extnID').value, 'extnID');
    const value = need(parts[parts.length - 1], TAG.OCTET_STRING, 'extnValue').value;
    const critical = parts.length === 3 && parts[1]?.tag === TAG.BOOLEAN && parts[1].value[0] !== 0;
    if (id === OID_REASON) {
      const r = readExactly(value, 0x0a /* ENUMERATED */, 'reasonCode').value;
      if (r.length !== 1) fail('MALFORMED', 'CRL: reasonCode is not one octet');
      return r[0]!;
    }
    // RFC 5280 §5.3: an unknown critical entry extension (certificateIssuer: an indirect CRL) is refused.
    if (critical) fail('UNSUPPORTED', `CRL: critical entry extension ${id}`);
  }
  return 0;
}

function checkCrlExtensions(wrapper: Tlv): void {
  const [list] = children(wrapper, wrapper.tag, 'crlExtensions');
  for (const ext of children(list, TAG.SEQUENCE, 'crlExtensions')) {
    const parts = children(ext, TAG.SEQUENCE, 'crlExtension');
    const id = decodeOid(need(parts[0], TAG.OID, 'extnID').value, 'extnID');
    const critical = parts.length === 3 && parts[1]?.tag === TAG.BOOLEAN && parts[1].value[0] !== 0;
    // RFC 5280 §5.2: deltaCRLIndicator and issuingDistributionPoint (critical) change the CRL's scope.
    if (critical && !UNDERSTOOD_CRL_EXT.has(id)) fail('UNSUPPORTED', `CRL: critical extension ${id}`);
  }
}

function need(t: Tlv | undefined, tag: number, what: string): Tlv {
  if (t?.tag !== tag) fail('MALFORMED', `CRL: ${what} missing or of the wrong type`);
  return t;
}
