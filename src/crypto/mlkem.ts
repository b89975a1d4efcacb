// ML-KEM (FIPS 203) primitives for the IKEv2 key exchange methods 35..37 (draft-ietf-ipsecme-ikev2-mlkem).
// Two backends with one contract: node:crypto when the running Node has ML-KEM (v24.7+ on OpenSSL 3.5+;
// detected once by trying it), else @noble/post-quantum (pure JS, audited, the noble family the project
// already uses). Node 20 has no ML-KEM, so there the noble backend runs; bench/mlkem.ts measures it.
//
// Every input from the wire is checked here before either backend sees it (FIPS 203 §7.2 and §7.3 input
// checks), so both backends fail the same way, with a typed CryptoError:
//   - ek of the wrong length, or with a coefficient >= q (the "modulus check"): INVALID_PUBLIC_KEY
//   - a ciphertext of the wrong length: INVALID_PUBLIC_KEY
// A ciphertext of the right length is never refused: ML-KEM decapsulation has implicit rejection
// (FIPS 203 §6.3), a corrupt ciphertext yields a pseudo-random secret unrelated to the peer's, so the
// key exchange "succeeds" with mismatched keys and the IKE SA fails later, at the first integrity check
// (IKE_INTERMEDIATE / IKE_AUTH decryption) or at AUTH.
import * as nodeCrypto from 'node:crypto';
import { ml_kem512, ml_kem768, ml_kem1024 } from '@noble/post-quantum/ml-kem.js';
import { CryptoError, fail } from './errors.ts';
import { KEM_METHODS, type KemMethod } from './registry.ts';
import { wipe } from './secret.ts';

/** FIPS 203 §2.3: the ML-KEM modulus q. */
const Q = 3329;

/** A decapsulation key: raw bytes (noble, wiped on destroy) or an OpenSSL-held KeyObject (node). */
export type MlKemPrivate = { readonly raw: Uint8Array } | { readonly key: nodeCrypto.KeyObject };

export interface MlKemKeyPair {
  readonly ek: Uint8Array;
  readonly dk: MlKemPrivate;
}

/** What a backend does; inputs are already length- and modulus-checked by the callers below. */
export interface MlKemBackend {
  readonly name: 'node' | 'noble';
  /** FIPS 203 ML-KEM.KeyGen; `seed` = d | z (64 octets) for known-answer tests only. */
  keygen(m: KemMethod, seed?: Uint8Array): MlKemKeyPair;
  /** FIPS 203 ML-KEM.Encaps; `msg` = m (32 octets) for known-answer tests only. */
  encapsulate(m: KemMethod, ek: Uint8Array, msg?: Uint8Array): { c: Uint8Array; k: Uint8Array };
  /** FIPS 203 ML-KEM.Decaps (implicit rejection: never fails on a ciphertext of the right length). */
  decapsulate(m: KemMethod, dk: MlKemPrivate, c: Uint8Array): Uint8Array;
}

const NOBLE = { 'ML-KEM-512': ml_kem512, 'ML-KEM-768': ml_kem768, 'ML-KEM-1024': ml_kem1024 } as const;

export const nobleBackend: MlKemBackend = {
  name: 'noble',
  keygen(m, seed) {
    const kp = NOBLE[m.paramSet].keygen(seed);
    return { ek: kp.publicKey, dk: { raw: kp.secretKey } };
  },
  encapsulate(m, ek, msg) {
    const r = NOBLE[m.paramSet].encapsulate(ek, msg);
    return { c: r.cipherText, k: r.sharedSecret };
  },
  decapsulate(m, dk, c) {
    if (!('raw' in dk)) fail('INVALID_KEY', 'noble ML-KEM needs a raw decapsulation key');
    return NOBLE[m.paramSet].decapsulate(c, dk.raw);
  },
};

// node:crypto ML-KEM (Node >= 24.7). Raw ek <-> SubjectPublicKeyInfo: the DER prefix is fixed per
// parameter set (algorithm identifier id-alg-ml-kem-* 2.16.840.1.101.3.4.4.{1,2,3}, no parameters).
type NodeKem = typeof nodeCrypto & {
  encapsulate?: (key: nodeCrypto.KeyObject) => { sharedKey: Buffer; ciphertext: Buffer };
  decapsulate?: (key: nodeCrypto.KeyObject, ciphertext: Uint8Array) => Buffer;
};
const nc = nodeCrypto as NodeKem;
const OID_LAST: Readonly<Record<KemMethod['paramSet'], number>> = {
  'ML-KEM-512': 1,
  'ML-KEM-768': 2,
  'ML-KEM-1024': 3,
};

function derLen(n: number): number[] {
  return n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : [0x82, n >> 8, n & 0xff];
}

/** SEQUENCE { SEQUENCE { OID }, BIT STRING (0 unused bits) ek } minus the ek octets. */
export function spkiPrefix(m: KemMethod): Uint8Array {
  const algId = [
    0x30,
    0x0b,
    0x06,
    0x09,
    0x60,
    0x86,
    0x48,
    0x01,
    0x65,
    0x03,
    0x04,
    0x04,
    OID_LAST[m.paramSet],
  ];
  const bitString = [0x03, ...derLen(m.ekLen + 1), 0x00];
  return Uint8Array.from([
    0x30,
    ...derLen(algId.length + bitString.length + m.ekLen),
    ...algId,
    ...bitString,
  ]);
}

const nodeName = (m: KemMethod) => m.paramSet.toLowerCase() as 'ml-kem-512';

export const nodeBackend: MlKemBackend = {
  name: 'node',
  keygen(m, seed) {
    if (seed) fail('UNSUPPORTED', 'node:crypto ML-KEM takes no key generation seed');
    const kp = (nodeCrypto.generateKeyPairSync as (t: string) => nodeCrypto.KeyPairKeyObjectResult)(
      nodeName(m),
    );
    const der = kp.publicKey.export({ type: 'spki', format: 'der' });
    const prefix = spkiPrefix(m);
    if (der.length !== prefix.length + m.ekLen || !der.subarray(0, prefix.length).equals(prefix)) {
      fail('INVALID_KEY', `${m.name} public key export has an unexpected encoding`);
    }
    return { ek: Uint8Array.from(der.subarray(prefix.length)), dk: { key: kp.privateKey } };
  },
  encapsulate(m, ek, msg) {
    if (msg) fail('UNSUPPORTED', 'node:crypto ML-KEM takes no encapsulation randomness');
    const der = Buffer.concat([spkiPrefix(m), ek]);
    const pub = nodeCrypto.createPublicKey({ key: der, format: 'der', type: 'spki' });
    const r = nc.encapsulate!(pub);
    return { c: r.ciphertext, k: r.sharedKey };
  },
  decapsulate(m, dk, c) {
    if (!('key' in dk)) fail('INVALID_KEY', 'node:crypto ML-KEM needs a KeyObject decapsulation key');
    return nc.decapsulate!(dk.key, c);
  },
};

let detected: MlKemBackend | undefined;

/**
 * The backend this process uses: node:crypto if a full ML-KEM-768 round trip works on it (tried once,
 * at first use), else noble. The answer is cached.
 */
export function mlKemBackend(): MlKemBackend {
  detected ??= nodeHasMlKem() ? nodeBackend : nobleBackend;
  return detected;
}

function nodeHasMlKem(): boolean {
  if (typeof nc.encapsulate !== 'function' || typeof nc.decapsulate !== 'function') return false;
  try {
    const m = KEM_METHODS.find((x) => x.paramSet === 'ML-KEM-768')!;
    const kp = nodeBackend.keygen(m);
    const { c, k } = nodeBackend.encapsulate(m, kp.ek);
    return Buffer.from(nodeBackend.decapsulate(m, kp.dk, c)).equals(k);
  } catch {
    return false;
  }
}

/**
 * FIPS 203 §7.2 encapsulation key checks: the type check (length 384k + 32) and the modulus check
 * (every 12-bit coefficient of ByteEncode12(t^) is below q, i.e. ek re-encodes to itself).
 */
export function checkEncapsulationKey(m: KemMethod, ek: Uint8Array): void {
  if (ek.length !== m.ekLen) {
    fail('INVALID_PUBLIC_KEY', `${m.name} encapsulation key must be ${m.ekLen} bytes, got ${ek.length}`);
  }
  const end = m.ekLen - 32; // the last 32 octets are the seed rho
  for (let i = 0; i < end; i += 3) {
    const b0 = ek[i]!;
    const b1 = ek[i + 1]!;
    const b2 = ek[i + 2]!;
    if ((b0 | ((b1 & 0x0f) << 8)) >= Q || ((b1 >> 4) | (b2 << 4)) >= Q) {
      fail('INVALID_PUBLIC_KEY', `${m.name} encapsulation key fails the modulus check (FIPS 203 §7.2)`);
    }
  }
}

/** FIPS 203 §7.3 ciphertext type check. */
export function checkCiphertext(m: KemMethod, c: Uint8Array): void {
  if (c.length !== m.ctLen) {
    fail('INVALID_PUBLIC_KEY', `${m.name} ciphertext must be ${m.ctLen} bytes, got ${c.length}`);
  }
}

/** Run a backend call; anything it throws becomes a CryptoError of `code` (never a raw exception). */
export function guarded<T>(code: 'INVALID_PUBLIC_KEY' | 'INVALID_KEY', what: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof CryptoError) throw e;
    throw new CryptoError(code, `${what} failed`);
  }
}

/** Wipe the raw part of a decapsulation key (a KeyObject cannot be wiped from JS; see secret.ts). */
export function wipePrivate(dk: MlKemPrivate | undefined): void {
  if (dk && 'raw' in dk) wipe(dk.raw);
}
