// AUTH signatures: choosing the RFC 7427 scheme for our key and the peer's SIGNATURE_HASH_ALGORITHMS
// (RFC 7427 §4), producing and checking AUTH data through src/crypto. Errors of the crypto layer are
// translated into CredsError codes.
import type { KeyObject } from 'node:crypto';
import { AuthMethod, HashAlgorithm } from '../codec/iana.ts';
import {
  CryptoError,
  signAuth,
  signLegacy,
  verifyAuth,
  verifyLegacy,
  type SignatureScheme,
} from '../crypto/index.ts';
import { CredsError, fail } from './errors.ts';

export interface SignOptions {
  /** RSA padding for RFC 7427 signatures (default 'pss', RFC 8247 §3.2 prefers RSASSA-PSS). */
  readonly rsaPadding?: 'pss' | 'pkcs1';
}

export interface AuthData {
  /** AUTH payload Auth Method (RFC 7296 §3.8). */
  readonly method: number;
  /** AUTH payload Authentication Data. */
  readonly data: Uint8Array;
}

type Sha2 = 'sha256' | 'sha384' | 'sha512';
const SHA2: readonly (readonly [Sha2, number])[] = [
  ['sha256', HashAlgorithm.SHA2_256],
  ['sha384', HashAlgorithm.SHA2_384],
  ['sha512', HashAlgorithm.SHA2_512],
];
/** The hash matching the curve's strength (RFC 5656 §6.2.1 style pairing), tried first. */
const CURVE_HASH: Readonly<Record<string, Sha2>> = {
  prime256v1: 'sha256',
  secp384r1: 'sha384',
  secp521r1: 'sha512',
};
/** RFC 4754 §3: legacy ECDSA methods bind curve and hash. */
const CURVE_LEGACY: Readonly<Record<string, number>> = {
  prime256v1: AuthMethod.ECDSA_SHA256_P256,
  secp384r1: AuthMethod.ECDSA_SHA384_P384,
  secp521r1: AuthMethod.ECDSA_SHA512_P521,
};

function keyDescription(key: KeyObject): { kind: 'ec' | 'ed25519' | 'rsa' | 'rsa-pss'; curve?: string } {
  const t = key.asymmetricKeyType;
  if (t === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve ?? '';
    if (!(curve in CURVE_HASH)) fail('UNSUPPORTED', `EC curve ${curve || '?'} for IKE signatures`);
    return { kind: 'ec', curve };
  }
  if (t === 'ed25519' || t === 'rsa' || t === 'rsa-pss') return { kind: t };
  return fail('UNSUPPORTED', `key type ${t ?? '?'} for IKE signatures`);
}

/**
 * RFC 7427 §4: the scheme for `key` using a hash the peer announced in SIGNATURE_HASH_ALGORITHMS.
 * ECDSA prefers the curve's hash (P-256 -> SHA2-256, P-384 -> SHA2-384, P-521 -> SHA2-512), RSA
 * prefers SHA2-256; both fall back to another SHA-2 the peer supports. Ed25519 needs IDENTITY
 * (RFC 8420 §2). Throws UNSUPPORTED when there is no common hash.
 */
export function chooseScheme(
  key: KeyObject,
  peerHashes: readonly number[],
  opts: SignOptions = {},
): SignatureScheme {
  const k = keyDescription(key);
  if (k.kind === 'ed25519') {
    if (peerHashes.includes(HashAlgorithm.IDENTITY)) return 'ed25519';
    return fail('UNSUPPORTED', 'peer does not accept the IDENTITY hash needed for Ed25519 (RFC 8420)');
  }
  const first = k.kind === 'ec' ? CURVE_HASH[k.curve!]! : 'sha256';
  const order = [first, ...SHA2.map(([h]) => h).filter((h) => h !== first)];
  const hash = order.find((h) => peerHashes.includes(SHA2.find(([n]) => n === h)![1]));
  if (hash === undefined) fail('UNSUPPORTED', 'no SHA-2 hash in common with the peer (RFC 7427 §4)');
  if (k.kind === 'ec') return `ecdsa-${hash}`;
  const pss = k.kind === 'rsa-pss' || (opts.rsaPadding ?? 'pss') === 'pss';
  return pss ? `rsa-pss-${hash}` : `rsa-pkcs1-${hash}`;
}

function translate(e: unknown): never {
  if (!(e instanceof CryptoError)) throw e;
  const code =
    e.code === 'AUTH_FAILED'
      ? 'BAD_SIGNATURE'
      : e.code === 'MALFORMED'
        ? 'MALFORMED'
        : e.code === 'INVALID_KEY'
          ? 'NO_KEY'
          : 'UNSUPPORTED';
  throw new CredsError(code, e.message.replace(/^[A-Z_]+: /, ''));
}

/**
 * Sign `octets` (RFC 7296 §2.15 signed octets). With the peer's SIGNATURE_HASH_ALGORITHMS: method 14
 * (RFC 7427). Without them (`peerHashes` undefined), the legacy RFC 4754 ECDSA methods 9/10/11;
 * RSA and Ed25519 keys then throw UNSUPPORTED (we do not produce SHA-1 RSA_SIG signatures).
 */
export function signOctets(
  key: KeyObject,
  octets: Uint8Array,
  peerHashes: readonly number[] | undefined,
  opts: SignOptions = {},
): AuthData & { readonly scheme: string } {
  try {
    if (peerHashes === undefined) {
      const k = keyDescription(key);
      const method = k.curve === undefined ? undefined : CURVE_LEGACY[k.curve];
      if (method === undefined) {
        fail(
          'UNSUPPORTED',
          `peer sent no SIGNATURE_HASH_ALGORITHMS and a ${k.kind} key has no legacy method`,
        );
      }
      return { method, data: signLegacy(method, key, octets), scheme: `legacy-${method}` };
    }
    const scheme = chooseScheme(key, peerHashes, opts);
    return { method: AuthMethod.DIGITAL_SIGNATURE, data: signAuth(scheme, key, octets), scheme };
  } catch (e) {
    return translate(e);
  }
}

/**
 * Verify AUTH data with the peer's public key. Method 14 (RFC 7427) with `allowedHashes` (what we
 * announced; default SHA2-256/384/512 and IDENTITY), or legacy 1 (RSA_SIG) / 9 / 10 / 11.
 * Returns the scheme name; throws BAD_SIGNATURE, MALFORMED or UNSUPPORTED.
 */
export function verifySignature(
  publicKey: KeyObject,
  method: number,
  authData: Uint8Array,
  octets: Uint8Array,
  allowedHashes?: readonly number[],
): string {
  try {
    if (method === AuthMethod.DIGITAL_SIGNATURE) {
      return verifyAuth(publicKey, authData, octets, allowedHashes ? { allowedHashes } : {});
    }
    if (
      method === AuthMethod.RSA_SIG ||
      method === AuthMethod.ECDSA_SHA256_P256 ||
      method === AuthMethod.ECDSA_SHA384_P384 ||
      method === AuthMethod.ECDSA_SHA512_P521
    ) {
      verifyLegacy(method, publicKey, authData, octets);
      return `legacy-${method}`;
    }
    return fail('UNSUPPORTED', `AUTH method ${method} is not a signature method`);
  } catch (e) {
    if (e instanceof CredsError) throw e;
    return translate(e);
  }
}
