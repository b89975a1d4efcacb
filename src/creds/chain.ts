// Certificate path validation (a focused subset of RFC 5280 §6) and ID binding (RFC 7296 §3.5,
// RFC 4945 §3.1). The path is built from the end-entity certificate through the intermediates the
// peer sent in CERT payloads to one of our trust anchors, by issuer/subject name and signature;
// then every certificate on it is checked against the injected clock and the constraints.
import { verify, type KeyObject } from 'node:crypto';
import { IdType } from '../codec/iana.ts';
import { bytesEqual } from '../crypto/der.ts';
import { decodeDn, derDnEquals, dnEquals, formatDn } from './dn.ts';
import { CredsError, fail } from './errors.ts';
import { formatId, type IkeId } from './identity.ts';
import { KeyUsage, type Certificate } from './x509.ts';

/** Longest path we build (end entity + intermediates + anchor); bounds the search. */
export const MAX_PATH = 8;

/**
 * Certificate signature algorithms checked directly over the TBSCertificate with node:crypto
 * (RFC 5758 §3.2 ECDSA, RFC 4055 §5 PKCS#1 v1.5, RFC 8410 §6 Ed25519): the digest, or null where the
 * algorithm hashes internally. Others (RSASSA-PSS with its parameters, ...) go through OpenSSL's
 * X509_verify, ~10x slower here.
 */
const SIG_DIGEST = new Map<string, string | null>([
  ['1.2.840.10045.4.3.2', 'sha256'],
  ['1.2.840.10045.4.3.3', 'sha384'],
  ['1.2.840.10045.4.3.4', 'sha512'],
  ['1.2.840.113549.1.1.11', 'sha256'],
  ['1.2.840.113549.1.1.12', 'sha384'],
  ['1.2.840.113549.1.1.13', 'sha512'],
  ['1.3.101.112', null],
]);
const KEY_TYPE_OF = (oid: string) =>
  oid.startsWith('1.2.840.10045') ? 'ec' : oid === '1.3.101.112' ? 'ed25519' : 'rsa';

/**
 * A signature over DER `tbs` (certificate, CRL or OCSP response) with one of the algorithms of
 * SIG_DIGEST; false for any other algorithm, a key of the wrong type, or a bad signature.
 */
export function verifyTbs(sigAlg: string, tbs: Uint8Array, signature: Uint8Array, key: KeyObject): boolean {
  const digest = SIG_DIGEST.get(sigAlg);
  if (digest === undefined || key.asymmetricKeyType !== KEY_TYPE_OF(sigAlg)) return false;
  try {
    return verify(digest, tbs, key, signature);
  } catch {
    return false;
  }
}

/** Issuers whose signature on a certificate verified (positive results only; dies with the objects). */
const verified = new WeakMap<Certificate, WeakSet<Certificate>>();

function signedBy(cert: Certificate, issuer: Certificate): boolean {
  if (!derDnEquals(cert.issuer, issuer.subject)) return false;
  if (verified.get(cert)?.has(issuer)) return true;
  let ok: boolean;
  try {
    ok = SIG_DIGEST.has(cert.sigAlg)
      ? verifyTbs(cert.sigAlg, cert.tbs, cert.signature, issuer.publicKey)
      : cert.x509.verify(issuer.publicKey);
  } catch {
    ok = false; // unsupported or mismatched key types are a failed signature, not a crash
  }
  if (ok) {
    const set = verified.get(cert) ?? new WeakSet<Certificate>();
    set.add(issuer);
    verified.set(cert, set);
  }
  return ok;
}

/** Depth-first search for a path to an anchor; a certificate is used at most once. */
function build(
  path: Certificate[],
  intermediates: readonly Certificate[],
  anchors: readonly Certificate[],
): Certificate[] | undefined {
  const cur = path[path.length - 1]!;
  for (const a of anchors) if (signedBy(cur, a)) return [...path, a];
  if (path.length >= MAX_PATH - 1) return undefined;
  for (const i of intermediates) {
    if (path.includes(i) || !signedBy(cur, i)) continue;
    const found = build([...path, i], intermediates, anchors);
    if (found) return found;
  }
  return undefined;
}

/**
 * Verify `ee` up to one of `anchors`. Returns the path (end entity first, anchor last).
 * Throws CERT_UNTRUSTED (no path / bad signature), CERT_EXPIRED (any certificate on the path outside
 * its validity at `now`), CERT_INVALID (issuer not CA:TRUE or without keyCertSign, path length
 * exceeded, end entity without digitalSignature/nonRepudiation, unknown critical extension).
 */
export function verifyChain(
  ee: Certificate,
  intermediates: readonly Certificate[],
  anchors: readonly Certificate[],
  now: Date,
): Certificate[] {
  const path = build([ee], intermediates, anchors);
  if (path === undefined) {
    fail('CERT_UNTRUSTED', `no trusted path for "${ee.subjectText}" (issuer "${formatDn(ee.issuerDn)}")`);
  }
  for (const c of path) {
    if (now < c.notBefore || now > c.notAfter) {
      const when =
        now < c.notBefore ? `before ${c.notBefore.toISOString()}` : `after ${c.notAfter.toISOString()}`;
      fail('CERT_EXPIRED', `"${c.subjectText}" is not valid ${when}`);
    }
    if (c.unknownCritical.length > 0) {
      fail(
        'CERT_INVALID',
        `"${c.subjectText}" has unknown critical extension ${c.unknownCritical.join(', ')}`,
      );
    }
  }
  // RFC 5280 §6.1.4 (k), (l), (n): issuers are CAs, may sign certificates, and bound the depth below them.
  path.forEach((c, k) => {
    if (k === 0) return;
    if (!c.ca) fail('CERT_INVALID', `issuer "${c.subjectText}" is not a CA (basicConstraints CA:FALSE)`);
    if (!c.hasKeyUsage(KeyUsage.keyCertSign))
      fail('CERT_INVALID', `issuer "${c.subjectText}" lacks keyCertSign`);
    const below = k - 1; // intermediate CA certificates between this issuer and the end entity
    if (c.pathLen !== undefined && below > c.pathLen) {
      fail('CERT_INVALID', `"${c.subjectText}" allows path length ${c.pathLen}, path has ${below}`);
    }
  });
  // RFC 4945 §5.1.3.2: if keyUsage is present, digitalSignature or nonRepudiation must be set.
  if (!ee.hasKeyUsage(KeyUsage.digitalSignature) && !ee.hasKeyUsage(KeyUsage.nonRepudiation)) {
    fail('CERT_INVALID', `"${ee.subjectText}" keyUsage allows no signatures`);
  }
  return path;
}

const lower = (b: Uint8Array) => Buffer.from(b).toString('latin1').toLowerCase();

/**
 * Is `id` bound to `cert`? RFC 4945 §3.1: a DN ID must equal the subject; FQDN, RFC822 and IP IDs
 * must appear in subjectAltName (dNSName, rfc822Name, iPAddress). A KEY_ID matches the
 * subjectKeyIdentifier or the SHA-1 of the public key (strongSwan's convention).
 */
export function certHasId(cert: Certificate, id: IkeId): boolean {
  switch (id.type) {
    case IdType.DER_ASN1_DN:
      try {
        return bytesEqual(id.data, cert.subject) || dnEquals(decodeDn(id.data), cert.subjectDn);
      } catch (e) {
        if (e instanceof CredsError) return false;
        throw e;
      }
    case IdType.FQDN:
      return cert.san.dns.some((d) => d.toLowerCase() === lower(id.data));
    case IdType.RFC822_ADDR:
      return cert.san.email.some((e) => e.toLowerCase() === lower(id.data));
    case IdType.IPV4_ADDR:
    case IdType.IPV6_ADDR:
      return cert.san.ip.some((ip) => bytesEqual(ip, id.data));
    case IdType.KEY_ID:
      return (
        bytesEqual(id.data, cert.keyHash) ||
        (cert.subjectKeyId !== undefined && bytesEqual(id.data, cert.subjectKeyId))
      );
    default:
      return false;
  }
}

/** Throws ID_MISMATCH unless certHasId. */
export function requireId(cert: Certificate, id: IkeId): void {
  if (!certHasId(cert, id)) fail('ID_MISMATCH', `ID ${formatId(id)} is not bound to "${cert.subjectText}"`);
}
