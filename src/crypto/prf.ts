// The IKEv2 pseudorandom function and prf+ (RFC 7296 §2.13): the HMAC PRFs (RFC 4868 for SHA-2,
// RFC 2104 for SHA-1 and MD5) and AES-XCBC-PRF-128 (RFC 4434), also the MACs of the integrity
// algorithms built on them (HMAC-*-96/128/..., AES-XCBC-MAC-96, RFC 3566).
import { createHmac, createSecretKey, type KeyObject } from 'node:crypto';
import { fail } from './errors.ts';
import { wipe } from './secret.ts';
import { XcbcKey, xcbcPrf } from './xcbc.ts';

/** The SHA-2 hashes (also used by signatures, RFC 7427). */
export type HashName = 'sha256' | 'sha384' | 'sha512';

/** What a PRF or integrity algorithm is built on: an HMAC hash or AES-XCBC. */
export type PrfName = HashName | 'sha1' | 'md5' | 'aesxcbc';

/** Output length in bytes of each PRF (HMAC: the hash length; AES-XCBC-PRF-128: 16). */
export const HASH_LEN: Readonly<Record<PrfName, number>> = {
  sha256: 32,
  sha384: 48,
  sha512: 64,
  sha1: 20,
  md5: 16,
  aesxcbc: 16,
};

/** prf(K, S): HMAC-hash(K, S) (RFC 4868 §2.1) or AES-XCBC-PRF-128 (RFC 4434). Parts are concatenated. */
export function prf(name: PrfName, key: Uint8Array | KeyObject, ...data: Uint8Array[]): Uint8Array {
  if (name === 'aesxcbc') {
    if (!(key instanceof Uint8Array)) fail('INVALID_KEY', 'AES-XCBC-PRF takes raw key bytes');
    return xcbcPrf(key, ...data);
  }
  const h = createHmac(name, key);
  for (const d of data) h.update(d);
  return h.digest();
}

/** A keyed MAC for one integrity key, made once per SA direction (the ICV before truncation). */
export type Mac = (...data: Uint8Array[]) => Uint8Array;

export function createMac(name: PrfName, key: Uint8Array): Mac {
  if (name === 'aesxcbc') {
    const x = new XcbcKey(key);
    return (...data) => x.mac(...data);
  }
  const k = createSecretKey(key);
  return (...data) => {
    const h = createHmac(name, k);
    for (const d of data) h.update(d);
    return h.digest();
  };
}

/** Upper bound from RFC 7296 §2.13: the single-octet counter limits prf+ to 255 iterations. */
export function prfPlusMax(name: PrfName): number {
  return 255 * HASH_LEN[name];
}

/**
 * prf+ (K, S) = T1 | T2 | T3 | ...   where
 *   T1 = prf (K, S | 0x01), T2 = prf (K, T1 | S | 0x02), ... (RFC 7296 §2.13).
 * Returns exactly `length` bytes. The key is prepared once for all iterations.
 */
export function prfPlus(name: PrfName, key: Uint8Array, seed: Uint8Array, length: number): Uint8Array {
  if (!Number.isInteger(length) || length < 0) fail('MALFORMED', `prf+ length ${length} is not a size`);
  if (length > prfPlusMax(name)) {
    fail('MALFORMED', `prf+ length ${length} exceeds 255 iterations of ${name} (RFC 7296 §2.13)`);
  }
  const out = new Uint8Array(length);
  if (length === 0) return out;
  const k = name === 'aesxcbc' || key.length === 0 ? key : createSecretKey(key);
  const counter = new Uint8Array(1);
  let prev: Uint8Array | undefined;
  for (let i = 1, off = 0; off < length; i++) {
    counter[0] = i;
    const t = prev ? prf(name, k, prev, seed, counter) : prf(name, k, seed, counter);
    out.set(t.subarray(0, Math.min(t.length, length - off)), off);
    off += t.length;
    wipe(prev);
    prev = t;
  }
  wipe(prev);
  return out;
}
