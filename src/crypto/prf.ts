// The IKEv2 pseudorandom function and prf+ (RFC 7296 §2.13), for the HMAC-SHA2 PRFs of RFC 4868.
import { createHmac, createSecretKey, type KeyObject } from 'node:crypto';
import { fail } from './errors.ts';
import { wipe } from './secret.ts';

export type HashName = 'sha256' | 'sha384' | 'sha512';

/** Output length in bytes of each hash (and of the HMAC PRF built on it). */
export const HASH_LEN: Readonly<Record<HashName, number>> = { sha256: 32, sha384: 48, sha512: 64 };

/** prf(K, S) = HMAC-hash(K, S) (RFC 4868 §2.1). `data` parts are fed in order, as if concatenated. */
export function prf(hash: HashName, key: Uint8Array | KeyObject, ...data: Uint8Array[]): Uint8Array {
  const h = createHmac(hash, key);
  for (const d of data) h.update(d);
  return h.digest();
}

/** Upper bound from RFC 7296 §2.13: the single-octet counter limits prf+ to 255 iterations. */
export function prfPlusMax(hash: HashName): number {
  return 255 * HASH_LEN[hash];
}

/**
 * prf+ (K, S) = T1 | T2 | T3 | ...   where
 *   T1 = prf (K, S | 0x01), T2 = prf (K, T1 | S | 0x02), ... (RFC 7296 §2.13).
 * Returns exactly `length` bytes. The key is turned into a KeyObject once for all iterations.
 */
export function prfPlus(hash: HashName, key: Uint8Array, seed: Uint8Array, length: number): Uint8Array {
  if (!Number.isInteger(length) || length < 0) fail('MALFORMED', `prf+ length ${length} is not a size`);
  if (length > prfPlusMax(hash)) {
    fail('MALFORMED', `prf+ length ${length} exceeds 255 iterations of ${hash} (RFC 7296 §2.13)`);
  }
  const out = new Uint8Array(length);
  if (length === 0) return out;
  const k = key.length > 0 ? createSecretKey(key) : key;
  const counter = new Uint8Array(1);
  let prev: Buffer | undefined;
  for (let i = 1, off = 0; off < length; i++) {
    const h = createHmac(hash, k);
    if (prev) h.update(prev);
    counter[0] = i;
    h.update(seed).update(counter);
    const t = h.digest();
    out.set(t.subarray(0, Math.min(t.length, length - off)), off);
    off += t.length;
    wipe(prev);
    prev = t;
  }
  wipe(prev);
  return out;
}
