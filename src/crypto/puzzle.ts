// RFC 8019 §7.1.2 / §7.1.4 client puzzles in IKE_SA_INIT, as pure functions. The puzzle: find a
// key K such that PRF(K, cookie) ends in at least `difficulty` zero bits (counted from the least
// significant bit of the last octet). The initiator searches; the responder checks with one PRF
// call, so a solution costs the initiator about 2^difficulty PRF calls and the responder one.
// Only the HMAC-SHA2 PRFs (RFC 4868) are offered: they take keys of any length.
import { createHmac } from 'node:crypto';
import { HASH_LEN, type HashName } from './prf.ts';

/** PRF transform IDs (IANA Transform Type 2) we can pose and solve puzzles with. */
export const PUZZLE_PRFS: ReadonlyMap<number, HashName> = new Map([
  [5, 'sha256'], // PRF_HMAC_SHA2_256
  [6, 'sha384'], // PRF_HMAC_SHA2_384
  [7, 'sha512'], // PRF_HMAC_SHA2_512
]);

/** Longest solution key we look at (an HMAC key longer than a block is hashed anyway). */
export const MAX_SOLUTION_LEN = 128;

/** Trailing zero bits of `b` read as one big-endian number (RFC 8019 §7.1.2). */
export function trailingZeroBits(b: Uint8Array): number {
  let n = 0;
  for (let i = b.length - 1; i >= 0; i--) {
    const v = b[i]!;
    if (v === 0) {
      n += 8;
      continue;
    }
    return n + (31 - Math.clz32(v & -v));
  }
  return n;
}

/** The zero bits a candidate key earns, or -1 when the PRF or key cannot be used. */
export function puzzleBits(prfId: number, key: Uint8Array, cookie: Uint8Array): number {
  const hash = PUZZLE_PRFS.get(prfId);
  if (hash === undefined || key.length === 0 || key.length > MAX_SOLUTION_LEN) return -1;
  return trailingZeroBits(createHmac(hash, key).update(cookie).digest());
}

/** Responder side (RFC 8019 §7.1.4): one PRF call. */
export function verifyPuzzle(
  prfId: number,
  difficulty: number,
  key: Uint8Array,
  cookie: Uint8Array,
): boolean {
  return puzzleBits(prfId, key, cookie) >= difficulty;
}

export interface SolveOptions {
  /** Random bytes for the key prefix (different initiators do not search the same keys). */
  readonly randomBytes: (n: number) => Uint8Array;
  /** Give up after this many PRF calls (default 2^(difficulty+6): failing is then ~e^-64 unlikely). */
  readonly maxTries?: number;
}

export interface PuzzleSolution {
  readonly key: Uint8Array;
  /** PRF calls it took. */
  readonly tries: number;
}

/**
 * Initiator side: the key is the PRF's preferred length (its output length, RFC 7296 §2.13), a
 * random prefix followed by a 48-bit counter that the search increments. Returns undefined when
 * the PRF is not one we support or maxTries ran out.
 */
export function solvePuzzle(
  prfId: number,
  difficulty: number,
  cookie: Uint8Array,
  o: SolveOptions,
): PuzzleSolution | undefined {
  const hash = PUZZLE_PRFS.get(prfId);
  if (hash === undefined || !Number.isInteger(difficulty) || difficulty < 0 || difficulty > 255)
    return undefined;
  const len = HASH_LEN[hash];
  const key = new Uint8Array(len);
  key.set(o.randomBytes(len - 6));
  const max = o.maxTries ?? 2 ** Math.min(difficulty + 6, 40);
  for (let tries = 1; tries <= max; tries++) {
    // 48-bit counter in the last six octets, big-endian.
    let c = tries;
    for (let i = len - 1; i >= len - 6; i--) {
      key[i] = c & 0xff;
      c = Math.floor(c / 256);
    }
    if (trailingZeroBits(createHmac(hash, key).update(cookie).digest()) >= difficulty) return { key, tries };
  }
  return undefined;
}
