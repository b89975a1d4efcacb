// An independent second implementation of the IKEv2 key schedule on @noble/hashes, written straight
// from RFC 7296 §2.13/§2.14/§2.17/§2.18, used to cross-check src/crypto (which uses node:crypto).
import { hmac } from '@noble/hashes/hmac.js';
import { sha256, sha384, sha512 } from '@noble/hashes/sha2.js';

const H = { sha256, sha384, sha512 } as const;
export type RefHash = keyof typeof H;

const cat = (...p: Uint8Array[]): Uint8Array => {
  const out = new Uint8Array(p.reduce((n, x) => n + x.length, 0));
  let o = 0;
  for (const x of p) {
    out.set(x, o);
    o += x.length;
  }
  return out;
};

export const refPrf = (h: RefHash, k: Uint8Array, s: Uint8Array): Uint8Array => hmac(H[h], k, s);

export function refPrfPlus(h: RefHash, k: Uint8Array, s: Uint8Array, len: number): Uint8Array {
  const blocks: Uint8Array[] = [];
  let t: Uint8Array = new Uint8Array(0);
  for (let i = 1, got = 0; got < len; i++) {
    t = refPrf(h, k, cat(t, s, Uint8Array.of(i)));
    blocks.push(t);
    got += t.length;
  }
  return cat(...blocks).slice(0, len);
}

export function refIkeKeys(
  h: RefHash,
  prfKeyLen: number,
  encrLen: number,
  integLen: number,
  ni: Uint8Array,
  nr: Uint8Array,
  gir: Uint8Array,
  spiI: Uint8Array,
  spiR: Uint8Array,
) {
  const skeyseed = refPrf(h, cat(ni, nr), gir);
  const lens = [prfKeyLen, integLen, integLen, encrLen, encrLen, prfKeyLen, prfKeyLen];
  const all = refPrfPlus(
    h,
    skeyseed,
    cat(ni, nr, spiI, spiR),
    lens.reduce((a, b) => a + b),
  );
  const parts: Uint8Array[] = [];
  let o = 0;
  for (const l of lens) {
    parts.push(all.slice(o, o + l));
    o += l;
  }
  const [d, ai, ar, ei, er, pi, pr] = parts as [
    Uint8Array,
    Uint8Array,
    Uint8Array,
    Uint8Array,
    Uint8Array,
    Uint8Array,
    Uint8Array,
  ];
  return { skeyseed, d, ai, ar, ei, er, pi, pr };
}

export { cat };
