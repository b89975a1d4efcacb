// OCSP (RFC 6960): the request for one certificate with a nonce (RFC 8954), and the checks on the
// response: successful status, a BasicOCSPResponse signed by the issuing CA or by a responder the CA
// delegated (id-kp-OCSPSigning, §4.2.2.2), our nonce echoed, the SingleResponse for our CertID,
// and thisUpdate/nextUpdate around the injected clock (§3.2, §4.2.2.1).
import { createHash } from 'node:crypto';
import { DER_NULL, TAG, bytesEqual, ctx, derReader, oid, tlv, type Tlv } from '../../crypto/der.ts';
import { derDnEquals } from '../dn.ts';
import { verifyTbs } from '../chain.ts';
import { fail } from '../errors.ts';
import { OID_KP_OCSP_SIGNING, Certificate, derTime } from '../x509.ts';

const { children, decodeOid, readExactly } = derReader({
  maxLengthOctets: 3,
  malformed: (m) => fail('MALFORMED', `OCSP: ${m}`),
});

const OID_SHA1 = '1.3.14.3.2.26';
const OID_BASIC = '1.3.6.1.5.5.7.48.1.1';
const OID_NONCE = '1.3.6.1.5.5.7.48.1.2';
const ENUMERATED = 0x0a;
/** RFC 6960 §4.2.1 OCSPResponseStatus names, for errors. */
const STATUS = [
  'successful',
  'malformedRequest',
  'internalError',
  'tryLater',
  '4',
  'sigRequired',
  'unauthorized',
];
/** RFC 8954 §2.1: nonces of 1..32 octets; we send 16. */
export const NONCE_LEN = 16;
/** Clock skew allowed on thisUpdate / nextUpdate (RFC 6960 §4.2.2.1 leaves it to local policy). */
export const OCSP_SKEW_MS = 5 * 60_000;

export type OcspStatus =
  | { readonly status: 'good' }
  | { readonly status: 'revoked'; readonly date: Date; readonly reason: number }
  | { readonly status: 'unknown' };

export type OcspAnswer = OcspStatus & {
  readonly thisUpdate: Date;
  readonly nextUpdate: Date | undefined;
  /** Whether the responder echoed our nonce (false: it sent none; a wrong one is an error). */
  readonly nonceEchoed: boolean;
};

const sha1 = (b: Uint8Array) => new Uint8Array(createHash('sha1').update(b).digest());

/** RFC 6960 §4.1.1 CertID with SHA-1 (what every responder supports). */
export function certId(cert: Certificate, issuer: Certificate): Uint8Array {
  return tlv(
    TAG.SEQUENCE,
    tlv(TAG.SEQUENCE, oid(OID_SHA1), DER_NULL),
    tlv(TAG.OCTET_STRING, sha1(cert.issuer)),
    tlv(TAG.OCTET_STRING, issuer.keyHash),
    tlv(TAG.INTEGER, cert.serial),
  );
}

/** OCSPRequest { TBSRequest { requestList { Request { CertID } }, requestExtensions [2] { nonce } } }. */
export function buildOcspRequest(cert: Certificate, issuer: Certificate, nonce: Uint8Array): Uint8Array {
  const nonceExt = tlv(
    TAG.SEQUENCE,
    oid(OID_NONCE),
    tlv(TAG.OCTET_STRING, tlv(TAG.OCTET_STRING, nonce)), // RFC 8954 §2.1: Nonce ::= OCTET STRING
  );
  const tbs = tlv(
    TAG.SEQUENCE,
    tlv(TAG.SEQUENCE, tlv(TAG.SEQUENCE, certId(cert, issuer))),
    tlv(ctx(2, true), tlv(TAG.SEQUENCE, nonceExt)),
  );
  return tlv(TAG.SEQUENCE, tbs);
}

/**
 * Checks a DER OCSPResponse for `cert` (issued by `issuer`) against the request's `nonce` at `now`.
 * Throws CredsError MALFORMED (structure), CERT_UNTRUSTED (signature, signer, nonce) or
 * CERT_EXPIRED (stale or not yet valid): each is "no answer" to the revocation policy.
 */
export function checkOcspResponse(
  der: Uint8Array,
  cert: Certificate,
  issuer: Certificate,
  nonce: Uint8Array,
  now: Date,
): OcspAnswer {
  const top = children(readExactly(der, TAG.SEQUENCE, 'OCSPResponse'), TAG.SEQUENCE, 'OCSPResponse');
  const status = need(top[0], ENUMERATED, 'responseStatus').value;
  if (status.length !== 1) fail('MALFORMED', 'OCSP: responseStatus is not one octet');
  if (status[0] !== 0) fail('CERT_UNTRUSTED', `OCSP: responder answered ${STATUS[status[0]!] ?? status[0]}`);
  const [rb] = children(need(top[1], ctx(0, true), 'responseBytes'), ctx(0, true), 'responseBytes');
  const [type, octets] = children(rb, TAG.SEQUENCE, 'ResponseBytes');
  if (decodeOid(need(type, TAG.OID, 'responseType').value, 'responseType') !== OID_BASIC)
    fail('UNSUPPORTED', 'OCSP: response type is not id-pkix-ocsp-basic');
  const basic = children(
    readExactly(need(octets, TAG.OCTET_STRING, 'response').value, TAG.SEQUENCE, 'BasicOCSPResponse'),
    TAG.SEQUENCE,
    'BasicOCSPResponse',
  );
  const [tbs, alg, sig, certsWrap] = basic;
  const [algOid] = children(alg, TAG.SEQUENCE, 'signatureAlgorithm');
  const sigAlg = decodeOid(need(algOid, TAG.OID, 'signatureAlgorithm').value, 'signatureAlgorithm');
  const sigBits = need(sig, TAG.BIT_STRING, 'signature').value;
  if (sigBits[0] !== 0) fail('MALFORMED', 'OCSP: signature has unused bits');
  const data = children(need(tbs, TAG.SEQUENCE, 'ResponseData'), TAG.SEQUENCE, 'ResponseData');
  let i = data[0]?.tag === ctx(0, true) ? 1 : 0; // version v1 by default
  const responderId = data[i++];
  derTime(data[i++], 'producedAt');
  const responses = children(data[i++], TAG.SEQUENCE, 'responses');
  const exts = data[i]?.tag === ctx(1, true) ? data[i++] : undefined;
  if (i !== data.length) fail('MALFORMED', 'OCSP: unexpected field in ResponseData');

  // RFC 6960 §4.2.2.2: signed by the CA itself, or by a certificate the CA issued for OCSP signing.
  const sent = certsWrap === undefined ? [] : responderCerts(certsWrap);
  const signer = [issuer, ...sent].find((c) => matchesResponderId(c, responderId));
  if (signer === undefined) fail('CERT_UNTRUSTED', 'OCSP: no certificate matches the responder ID');
  if (signer !== issuer) {
    if (
      !derDnEquals(signer.issuer, issuer.subject) ||
      !verifyTbs(signer.sigAlg, signer.tbs, signer.signature, issuer.publicKey)
    )
      fail('CERT_UNTRUSTED', `OCSP: responder "${signer.subjectText}" is not certified by the issuing CA`);
    if (!signer.extKeyUsage?.includes(OID_KP_OCSP_SIGNING))
      fail('CERT_UNTRUSTED', `OCSP: responder "${signer.subjectText}" lacks id-kp-OCSPSigning`);
    if (now < signer.notBefore || now > signer.notAfter)
      fail('CERT_EXPIRED', `OCSP: responder certificate "${signer.subjectText}" is not valid now`);
  }
  if (!verifyTbs(sigAlg, tbs!.der, sigBits.subarray(1), signer.publicKey))
    fail('CERT_UNTRUSTED', 'OCSP: the response signature does not verify');

  const echoed = exts === undefined ? undefined : findNonce(exts);
  if (echoed !== undefined && !bytesEqual(echoed, tlv(TAG.OCTET_STRING, nonce)))
    fail('CERT_UNTRUSTED', 'OCSP: the response nonce is not ours (a replayed response?)');

  const want = certId(cert, issuer);
  const single = responses.find((r) =>
    bytesEqual(children(r, TAG.SEQUENCE, 'SingleResponse')[0]?.der ?? new Uint8Array(), want),
  );
  if (single === undefined) fail('CERT_UNTRUSTED', 'OCSP: no response for the certificate asked about');
  const [, st, tu, ...more] = children(single, TAG.SEQUENCE, 'SingleResponse');
  const thisUpdate = derTime(tu, 'thisUpdate');
  const nu = more.find((t) => t.tag === ctx(0, true));
  const nextUpdate =
    nu === undefined ? undefined : derTime(children(nu, nu.tag, 'nextUpdate')[0], 'nextUpdate');
  if (thisUpdate.getTime() > now.getTime() + OCSP_SKEW_MS)
    fail('CERT_EXPIRED', `OCSP: thisUpdate ${thisUpdate.toISOString()} is in the future`);
  if (nextUpdate !== undefined && nextUpdate.getTime() < now.getTime() - OCSP_SKEW_MS)
    fail('CERT_EXPIRED', `OCSP: stale response (nextUpdate ${nextUpdate.toISOString()})`);
  // Without a nonce and without nextUpdate, only a recent response says anything about now.
  if (echoed === undefined && nextUpdate === undefined && now.getTime() - thisUpdate.getTime() > OCSP_SKEW_MS)
    fail('CERT_EXPIRED', `OCSP: response of ${thisUpdate.toISOString()} without nonce or nextUpdate`);
  const base = { thisUpdate, nextUpdate, nonceEchoed: echoed !== undefined };
  return { ...base, ...certStatus(st) };
}

function certStatus(st: Tlv | undefined): OcspStatus {
  if (st?.tag === ctx(0, false)) return { status: 'good' };
  if (st?.tag === ctx(2, false)) return { status: 'unknown' };
  if (st?.tag !== ctx(1, true)) fail('MALFORMED', 'OCSP: certStatus is not good, revoked or unknown');
  const [time, reason] = children(st, st.tag, 'RevokedInfo');
  let r = 0;
  if (reason !== undefined) {
    const [e] = children(reason, ctx(0, true), 'revocationReason');
    const v = need(e, ENUMERATED, 'revocationReason').value;
    if (v.length !== 1) fail('MALFORMED', 'OCSP: revocationReason is not one octet');
    r = v[0]!;
  }
  return { status: 'revoked', date: derTime(time, 'revocationTime'), reason: r };
}

/** certs [0] EXPLICIT SEQUENCE OF Certificate: at most a few; more is refused. */
function responderCerts(wrap: Tlv): Certificate[] {
  const [seq] = children(wrap, ctx(0, true), 'certs');
  const list = children(seq, TAG.SEQUENCE, 'certs');
  if (list.length > 4) fail('MALFORMED', `OCSP: ${list.length} responder certificates`);
  return list.map((c) => new Certificate(c.der));
}

/** ResponderID ::= CHOICE { byName [1] Name, byKey [2] KeyHash (SHA-1 of the subjectPublicKey) }. */
function matchesResponderId(c: Certificate, id: Tlv | undefined): boolean {
  if (id?.tag === ctx(1, true))
    return derDnEquals(children(id, id.tag, 'byName')[0]?.der ?? new Uint8Array(), c.subject);
  if (id?.tag === ctx(2, true)) {
    const [h] = children(id, id.tag, 'byKey');
    return bytesEqual(need(h, TAG.OCTET_STRING, 'byKey').value, c.keyHash);
  }
  fail('MALFORMED', 'OCSP: responderID is neither byName nor byKey');
}

/** The nonce extension's extnValue content (the DER OCTET STRING we sent), if present. */
function findNonce(wrap: Tlv): Uint8Array | undefined {
  const [list] = children(wrap, ctx(1, true), 'responseExtensions');
  for (const ext of children(list, TAG.SEQUENCE, 'responseExtensions')) {
    const parts = children(ext, TAG.SEQUENCE, 'extension');
    if (decodeOid(need(parts[0], TAG.OID, 'extnID').value, 'extnID') === OID_NONCE)
      return need(parts[parts.length - 1], TAG.OCTET_STRING, 'nonce').value;
  }
  return undefined;
}

function need(t: Tlv | undefined, tag: number, what: string): Tlv {
  if (t?.tag !== tag) fail('MALFORMED', `OCSP: ${what} missing or of the wrong type`);
  return t;
}
