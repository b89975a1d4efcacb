// Signature AUTH methods: RFC 7427 Digital Signature (method 14) and the legacy RFC 7296 §3.8 RSA_SIG (1,
// verify only) and RFC 4754 ECDSA methods (9, 10, 11). Private keys stay in KeyObjects.
import { constants, sign, verify, type KeyObject } from 'node:crypto';
import { AuthMethod, HashAlgorithm } from '../codec/iana.ts';
import { CryptoError, fail } from './errors.ts';
import { DER_NULL, TAG, bytesEqual, derInt, derReader, oid, tlv } from './der.ts';
import { HASH_LEN, type HashName } from './prf.ts';

// AUTH data is at most one IKE payload (< 64 KiB): two length octets are the most a DER length needs.
const { readAll, readExactly, readSmallInt } = derReader({
  maxLengthOctets: 2,
  malformed: (m) => fail('MALFORMED', m),
});

export type SignatureScheme =
  | 'ecdsa-sha256'
  | 'ecdsa-sha384'
  | 'ecdsa-sha512'
  | 'ed25519'
  | 'rsa-pss-sha256'
  | 'rsa-pss-sha384'
  | 'rsa-pss-sha512'
  | 'rsa-pkcs1-sha256'
  | 'rsa-pkcs1-sha384'
  | 'rsa-pkcs1-sha512';

type KeyKind = 'ec' | 'ed25519' | 'rsa';

interface SchemeInfo {
  readonly kind: KeyKind;
  /** null: the scheme hashes internally (Ed25519, RFC 8420 "identity"). */
  readonly hash: HashName | null;
  readonly hashAlg: HashAlgorithm;
  readonly padding?: 'pss' | 'pkcs1';
}

const HASH_OID: Readonly<Record<HashName, string>> = {
  sha256: '2.16.840.1.101.3.4.2.1',
  sha384: '2.16.840.1.101.3.4.2.2',
  sha512: '2.16.840.1.101.3.4.2.3',
};
const HASH_ALG: Readonly<Record<HashName, HashAlgorithm>> = {
  sha256: HashAlgorithm.SHA2_256,
  sha384: HashAlgorithm.SHA2_384,
  sha512: HashAlgorithm.SHA2_512,
};
const OID_RSA_PSS = '1.2.840.113549.1.1.10';
const OID_MGF1 = '1.2.840.113549.1.1.8';
// RFC 7427 Appendix A: signature algorithm OIDs.
const SIG_OID: Readonly<Record<string, string>> = {
  'ecdsa-sha256': '1.2.840.10045.4.3.2',
  'ecdsa-sha384': '1.2.840.10045.4.3.3',
  'ecdsa-sha512': '1.2.840.10045.4.3.4',
  ed25519: '1.3.101.112',
  'rsa-pkcs1-sha256': '1.2.840.113549.1.1.11',
  'rsa-pkcs1-sha384': '1.2.840.113549.1.1.12',
  'rsa-pkcs1-sha512': '1.2.840.113549.1.1.13',
};

function info(s: SignatureScheme): SchemeInfo {
  if (s === 'ed25519') return { kind: 'ed25519', hash: null, hashAlg: HashAlgorithm.IDENTITY };
  const [family, hash] = s.startsWith('rsa-')
    ? [s.slice(0, s.lastIndexOf('-')), s.slice(s.lastIndexOf('-') + 1) as HashName]
    : ['ecdsa', s.slice(6) as HashName];
  const padding = family === 'rsa-pss' ? 'pss' : family === 'rsa-pkcs1' ? 'pkcs1' : undefined;
  return { kind: padding ? 'rsa' : 'ec', hash, hashAlg: HASH_ALG[hash], ...(padding && { padding }) };
}

const hashAlgId = (h: HashName) => tlv(TAG.SEQUENCE, oid(HASH_OID[h]), DER_NULL);

/** DER AlgorithmIdentifier for a scheme (RFC 7427 Appendix A; PSS params per RFC 4055 §3.1). */
export function algorithmIdentifier(s: SignatureScheme): Uint8Array {
  const i = info(s);
  if (i.padding === 'pss' && i.hash) {
    const params = tlv(
      TAG.SEQUENCE,
      tlv(TAG.CTX0, hashAlgId(i.hash)),
      tlv(TAG.CTX1, tlv(TAG.SEQUENCE, oid(OID_MGF1), hashAlgId(i.hash))),
      tlv(TAG.CTX2, derInt(HASH_LEN[i.hash])),
    );
    return tlv(TAG.SEQUENCE, oid(OID_RSA_PSS), params);
  }
  const o = oid(SIG_OID[s]!);
  return i.padding === 'pkcs1' ? tlv(TAG.SEQUENCE, o, DER_NULL) : tlv(TAG.SEQUENCE, o);
}

function keyKind(key: KeyObject): KeyKind | undefined {
  const t = key.asymmetricKeyType;
  return t === 'rsa' || t === 'rsa-pss' ? 'rsa' : t === 'ec' ? 'ec' : t === 'ed25519' ? 'ed25519' : undefined;
}

function nodeOptions(i: SchemeInfo, key: KeyObject) {
  if (i.padding === 'pss') {
    return { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: HASH_LEN[i.hash!] };
  }
  if (i.padding === 'pkcs1') return { key, padding: constants.RSA_PKCS1_PADDING };
  return { key, dsaEncoding: 'der' as const };
}

/** RFC 7427 §3: AUTH data = length of AlgorithmIdentifier (1 octet) | AlgorithmIdentifier | signature. */
export function signAuth(s: SignatureScheme, privateKey: KeyObject, octets: Uint8Array): Uint8Array {
  const i = info(s);
  if (keyKind(privateKey) !== i.kind) fail('INVALID_KEY', `scheme ${s} needs a ${i.kind} key`);
  const sig = sign(i.hash, octets, nodeOptions(i, privateKey));
  const alg = algorithmIdentifier(s);
  const out = new Uint8Array(1 + alg.length + sig.length);
  out[0] = alg.length;
  out.set(alg, 1);
  out.set(sig, 1 + alg.length);
  return out;
}

/** Parse a DER AlgorithmIdentifier strictly into a scheme; throws MALFORMED / UNSUPPORTED. */
export function parseAlgorithmIdentifier(der: Uint8Array): SignatureScheme {
  const parts = readAll(readExactly(der, TAG.SEQUENCE, 'AlgorithmIdentifier').value, 'AlgorithmIdentifier');
  const [o, params, extra] = parts;
  if (!o || o.tag !== TAG.OID || extra)
    fail('MALFORMED', 'AlgorithmIdentifier is not SEQUENCE { OID, params }');
  const oidDer = tlv(TAG.OID, o.value);
  if (bytesEqual(oidDer, oid(OID_RSA_PSS))) {
    if (!params) fail('MALFORMED', 'RSASSA-PSS without parameters');
    return parsePssParams(tlv(params.tag, params.value));
  }
  for (const [scheme, dotted] of Object.entries(SIG_OID)) {
    if (!bytesEqual(oidDer, oid(dotted))) continue;
    const pkcs1 = scheme.startsWith('rsa-pkcs1');
    // RFC 4055 §5: PKCS#1 v1.5 parameters are NULL (absent accepted); RFC 5758 §3.2 / RFC 8410 §3:
    // ECDSA and Ed25519 identifiers have absent parameters.
    if (params && !(pkcs1 && params.tag === TAG.NULL && params.value.length === 0)) {
      fail('MALFORMED', `unexpected parameters for ${scheme}`);
    }
    return scheme as SignatureScheme;
  }
  fail('UNSUPPORTED', 'signature algorithm OID not supported');
}

/** The hash named by a hash AlgorithmIdentifier (NULL or absent parameters, RFC 4055 §2.1). */
function parseHashAlgId(der: Uint8Array, what: string): HashName {
  const [o, p, extra] = readAll(readExactly(der, TAG.SEQUENCE, what).value, what);
  if (!o || o.tag !== TAG.OID || extra || (p && (p.tag !== TAG.NULL || p.value.length !== 0))) {
    fail('MALFORMED', `${what} is not a hash AlgorithmIdentifier`);
  }
  for (const [h, dotted] of Object.entries(HASH_OID)) {
    if (bytesEqual(tlv(TAG.OID, o.value), oid(dotted))) return h as HashName;
  }
  fail('UNSUPPORTED', `${what}: hash not supported`);
}

/** RFC 4055 §3.1 RSASSA-PSS-params; we require hash = MGF1 hash and salt length = hash length. */
function parsePssParams(der: Uint8Array): SignatureScheme {
  const fields = readAll(readExactly(der, TAG.SEQUENCE, 'RSASSA-PSS-params').value, 'RSASSA-PSS-params');
  const get = (tag: number) => fields.find((f) => f.tag === tag)?.value;
  const tags = fields.map((f) => f.tag);
  if (tags.some((t, k) => t < TAG.CTX0 || t > TAG.CTX3 || (k > 0 && t <= tags[k - 1]!))) {
    fail('MALFORMED', 'RSASSA-PSS-params fields out of order');
  }
  const hashF = get(TAG.CTX0);
  const mgfF = get(TAG.CTX1);
  const saltF = get(TAG.CTX2);
  const trailerF = get(TAG.CTX3);
  if (!hashF || !mgfF || !saltF) fail('UNSUPPORTED', 'RSASSA-PSS with SHA-1 defaults');
  const hash = parseHashAlgId(hashF, 'PSS hashAlgorithm');
  const [mo, mp, extra] = readAll(readExactly(mgfF, TAG.SEQUENCE, 'PSS maskGenAlgorithm').value, 'PSS mgf');
  if (!mo || !mp || extra || !bytesEqual(tlv(TAG.OID, mo.value), oid(OID_MGF1))) {
    fail('UNSUPPORTED', 'PSS mask generation is not MGF1');
  }
  if (parseHashAlgId(tlv(mp.tag, mp.value), 'MGF1 hash') !== hash) fail('UNSUPPORTED', 'MGF1 hash differs');
  const salt = readSmallInt(readExactly(saltF, TAG.INTEGER, 'PSS saltLength').value, 'PSS saltLength');
  if (salt !== HASH_LEN[hash]) fail('UNSUPPORTED', `PSS salt length ${salt} is not the hash length`);
  if (
    trailerF &&
    readSmallInt(readExactly(trailerF, TAG.INTEGER, 'PSS trailer').value, 'PSS trailer') !== 1
  ) {
    fail('UNSUPPORTED', 'PSS trailerField is not trailerFieldBC');
  }
  return `rsa-pss-${hash}`;
}

export interface VerifyOptions {
  /** RFC 7427 §4 SIGNATURE_HASH_ALGORITHMS we accept (default: SHA2-256/384/512 and IDENTITY). */
  readonly allowedHashes?: readonly number[];
}

const DEFAULT_HASHES = [
  HashAlgorithm.SHA2_256,
  HashAlgorithm.SHA2_384,
  HashAlgorithm.SHA2_512,
  HashAlgorithm.IDENTITY,
];

/**
 * Verify RFC 7427 AUTH data over `octets` with the peer's public key. Returns the scheme used.
 * Throws MALFORMED/UNSUPPORTED for a bad AlgorithmIdentifier and AUTH_FAILED when the algorithm does not
 * fit the key, uses a hash not allowed, or the signature does not verify.
 */
export function verifyAuth(
  publicKey: KeyObject,
  authData: Uint8Array,
  octets: Uint8Array,
  opts: VerifyOptions = {},
): SignatureScheme {
  const algLen = authData[0];
  if (algLen === undefined || authData.length <= 1 + algLen) {
    fail('MALFORMED', 'AUTH data shorter than its AlgorithmIdentifier length');
  }
  const scheme = parseAlgorithmIdentifier(authData.subarray(1, 1 + algLen));
  const i = info(scheme);
  if (keyKind(publicKey) !== i.kind)
    throw new CryptoError('AUTH_FAILED', `${scheme} does not match the key type`);
  if (!(opts.allowedHashes ?? DEFAULT_HASHES).includes(i.hashAlg)) {
    throw new CryptoError('AUTH_FAILED', `${scheme} uses a hash that was not negotiated`);
  }
  const sig = authData.subarray(1 + algLen);
  if (!safeVerify(i.hash, octets, nodeOptions(i, publicKey), sig)) {
    throw new CryptoError('AUTH_FAILED', `${scheme} signature does not verify`);
  }
  return scheme;
}

function safeVerify(
  hash: HashName | null,
  data: Uint8Array,
  key: Parameters<typeof verify>[2],
  sig: Uint8Array,
) {
  try {
    return verify(hash, data, key, sig);
  } catch {
    return false; // malformed signature encodings are verification failures, not crashes
  }
}

/** Legacy methods: RFC 4754 §3 ECDSA with fixed hash and curve, and RFC 7296 §3.8 RSA_SIG. */
const LEGACY: Readonly<Record<number, { hash: HashName | 'sha1'; curve?: string }>> = {
  [AuthMethod.RSA_SIG]: { hash: 'sha1' },
  [AuthMethod.ECDSA_SHA256_P256]: { hash: 'sha256', curve: 'prime256v1' },
  [AuthMethod.ECDSA_SHA384_P384]: { hash: 'sha384', curve: 'secp384r1' },
  [AuthMethod.ECDSA_SHA512_P521]: { hash: 'sha512', curve: 'secp521r1' },
};

function legacyCheck(method: number, key: KeyObject) {
  const l = LEGACY[method];
  if (!l) fail('UNSUPPORTED', `AUTH method ${method}`);
  const ok = l.curve
    ? key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === l.curve
    : keyKind(key) === 'rsa';
  return { ...l, ok };
}

/** RFC 4754 §7: ECDSA signature as r | s, each the size of the group order. RSA_SIG is not produced. */
export function signLegacy(method: number, privateKey: KeyObject, octets: Uint8Array): Uint8Array {
  const l = legacyCheck(method, privateKey);
  if (!l.curve) fail('UNSUPPORTED', 'RSA_SIG (PKCS#1 v1.5 with SHA-1) is accepted for verification only');
  if (!l.ok) fail('INVALID_KEY', `AUTH method ${method} needs a ${l.curve} key`);
  return sign(l.hash, octets, { key: privateKey, dsaEncoding: 'ieee-p1363' });
}

export function verifyLegacy(method: number, publicKey: KeyObject, authData: Uint8Array, octets: Uint8Array) {
  const l = legacyCheck(method, publicKey);
  if (!l.ok) throw new CryptoError('AUTH_FAILED', `AUTH method ${method} does not match the key type`);
  const opts = l.curve
    ? { key: publicKey, dsaEncoding: 'ieee-p1363' as const }
    : { key: publicKey, padding: constants.RSA_PKCS1_PADDING };
  if (!safeVerify(l.hash as HashName, octets, opts, authData)) {
    throw new CryptoError('AUTH_FAILED', `AUTH method ${method} signature does not verify`);
  }
}
