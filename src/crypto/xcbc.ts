// AES-XCBC-MAC (RFC 3566) and AES-XCBC-PRF-128 (RFC 4434) on node:crypto's AES. XCBC is a CBC-MAC
// with three keys derived from K (RFC 3566 §4): K1 = E(K, 0x01^16) keys the CBC chain, and the last
// block is XORed with K2 (complete block) or K3 (padded with 0x80 00..) before the final encryption.
// A CBC encryption with a zero IV over  M1 .. M(n-1) | (Mn ^ K2 or padded Mn ^ K3)  under K1 ends in
// exactly that MAC, so one createCipheriv call does the whole chain.
import { createCipheriv } from 'node:crypto';
import { inspect } from 'node:util';
import { fail } from './errors.ts';
import { wipe } from './secret.ts';

const BLOCK = 16;
const ZERO_IV = Buffer.alloc(BLOCK);

function ecb(key: Uint8Array, block: Uint8Array): Buffer {
  const c = createCipheriv('aes-128-ecb', key, null).setAutoPadding(false);
  return Buffer.concat([c.update(block), c.final()]);
}

/** An AES-XCBC-MAC key: K1, K2, K3 derived once (RFC 3566 §4 steps 1). */
export class XcbcKey {
  readonly #k1: Buffer;
  readonly #k2: Buffer;
  readonly #k3: Buffer;

  constructor(key: Uint8Array) {
    if (key.length !== BLOCK) fail('INVALID_KEY', `AES-XCBC needs a 16-byte key, got ${key.length}`);
    this.#k1 = ecb(key, Buffer.alloc(BLOCK, 0x01));
    this.#k2 = ecb(key, Buffer.alloc(BLOCK, 0x02));
    this.#k3 = ecb(key, Buffer.alloc(BLOCK, 0x03));
  }

  /** The full 128-bit AES-XCBC-MAC of the concatenated parts (RFC 3566 §4; truncate for -96). */
  mac(...parts: Uint8Array[]): Buffer {
    const m = parts.length === 1 ? Buffer.from(parts[0]!) : Buffer.concat(parts);
    // The last block: the final full one, or the partial (possibly empty) rest, padded (§4 step 3).
    const full = m.length > 0 && m.length % BLOCK === 0;
    const lastStart = full ? m.length - BLOCK : m.length - (m.length % BLOCK);
    const last = Buffer.alloc(BLOCK);
    m.copy(last, 0, lastStart);
    if (!full) last[m.length - lastStart] = 0x80;
    const k = full ? this.#k2 : this.#k3;
    for (let i = 0; i < BLOCK; i++) last[i]! ^= k[i]!;
    const c = createCipheriv('aes-128-cbc', this.#k1, ZERO_IV).setAutoPadding(false);
    c.update(m.subarray(0, lastStart));
    const out = c.update(last);
    c.final();
    wipe(m);
    return out.subarray(out.length - BLOCK);
  }

  destroy(): void {
    for (const k of [this.#k1, this.#k2, this.#k3]) k.fill(0);
  }

  [inspect.custom](): string {
    return 'XcbcKey(<redacted>)';
  }
}

/**
 * AES-XCBC-PRF-128 (RFC 4434 §2): a key shorter than 16 octets is padded with zeros, a longer one is
 * first reduced to AES-XCBC-MAC(0^128, key); the output is the full 128-bit MAC.
 */
export function xcbcPrf(key: Uint8Array, ...data: Uint8Array[]): Buffer {
  let k: Uint8Array;
  if (key.length === BLOCK) k = key;
  else if (key.length < BLOCK) {
    k = new Uint8Array(BLOCK);
    k.set(key);
  } else {
    const zero = new XcbcKey(new Uint8Array(BLOCK));
    k = zero.mac(key);
  }
  const x = new XcbcKey(k);
  if (k !== key) wipe(k);
  try {
    return x.mac(...data);
  } finally {
    x.destroy();
  }
}
