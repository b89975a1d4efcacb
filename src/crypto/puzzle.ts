// RFC 8019 client puzzles, as pure functions. The puzzle (§4.4, §7.1.3): given the string S (in
// IKE_SA_INIT the COOKIE notification data, without the Notify header), find four different,
// equal-sized keys Ki such that each PRF(Ki, S) ends in at least `difficulty` zero bits, counted from
// the least significant bit of the last octet. The Puzzle Solution payload (§8.2) carries the four
// keys concatenated; the responder splits it in four and checks every key (§7.1.4), and the level
// the initiator reached is the smallest of the four counts. A solution costs the initiator about
// 4 * 2^difficulty PRF calls and the responder four.
// The PRF is one both sides support (§7.1.1.2): ours are the HMAC-SHA2 PRFs (RFC 4868), which take
// keys of any length, so each key is 1 octet up to the PRF's preferred key length (§8.2).
import { createHmac } from 'node:crypto';
import { HASH_LEN, type HashName } from './prf.ts';

/** PRF transform IDs (IANA Transform Type 2) we can pose and solve puzzles with. */
export const PUZZLE_PRFS: ReadonlyMap<number, HashName> = new Map([
  [5, 'sha256'], // PRF_HMAC_SHA2_256
  [6, 'sha384'], // PRF_HMAC_SHA2_384
  [7, 'sha512'], // PRF_HMAC_SHA2_512
]);

/** RFC 8019 §7.1.3: "the puzzle solution contains 4 different keys (i.e., N=4)". */
export const PUZZLE_KEYS = 4;

/**
 * RFC 8019 §8.2: a variable-key PRF's keys are "between 1 octet and the preferred key length of the
 * PRF (inclusive)"; for HMAC-SHA2 the preferred key length is the output length (RFC 4868 §2.1.2).
 */
export function puzzleMaxKeyLen(prfId: number): number | undefined {
  const hash = PUZZLE_PRFS.get(prfId);
  return hash === undefined ? undefined : HASH_LEN[hash];
}

/** Trailing zero bits of `b` read as one big-endian number (RFC 8019 §4.4: "at the end"). */
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

/** Zero bits one key earns: trailing zero bits of PRF(key, s). */
function keyBits(hash: HashName, key: Uint8Array, s: Uint8Array): number {
  return trailingZeroBits(createHmac(hash, key).update(s).digest());
}

/**
 * The level a Puzzle Solution Data reaches (RFC 8019 §7.1.4: "the smallest number of trailing zero
 * bits among the checked results"), or -1 when it is not a solution: an unknown PRF, a length that is
 * not 4 keys of 1..preferred-length octets each (§8.2), or keys that are not all different (§7.1.3).
 */
export function puzzleLevel(prfId: number, solution: Uint8Array, s: Uint8Array): number {
  const hash = PUZZLE_PRFS.get(prfId);
  if (hash === undefined || solution.length === 0 || solution.length % PUZZLE_KEYS !== 0) return -1;
  const len = solution.length / PUZZLE_KEYS;
  if (len > HASH_LEN[hash]) return -1;
  const keys: Uint8Array[] = [];
  for (let i = 0; i < PUZZLE_KEYS; i++) keys.push(solution.subarray(i * len, (i + 1) * len));
  for (let i = 0; i < PUZZLE_KEYS; i++)
    for (let j = i + 1; j < PUZZLE_KEYS; j++) if (Buffer.compare(keys[i]!, keys[j]!) === 0) return -1;
  // §7.1.4 / §7.2.4: "The Responder MUST check all of the four returned keys."
  let level = Infinity;
  for (const k of keys) level = Math.min(level, keyBits(hash, k, s));
  return level;
}

/** Responder side (RFC 8019 §7.1.4): four PRF calls; true when every key earns `difficulty` bits. */
export function verifyPuzzle(
  prfId: number,
  difficulty: number,
  solution: Uint8Array,
  s: Uint8Array,
): boolean {
  return puzzleLevel(prfId, solution, s) >= difficulty;
}

export interface SolveOptions {
  /** Octets per key (default 4, as RFC 8019 §8.2 expects; more when maxTries needs them). */
  readonly keyLen?: number;
  /** Give up after this many PRF calls (default 2^(difficulty+8): failing is then very unlikely). */
  readonly maxTries?: number;
}

export interface PuzzleSolution {
  /** The Puzzle Solution Data: the four keys concatenated (RFC 8019 §8.2). */
  readonly data: Uint8Array;
  /** PRF calls it took. */
  readonly tries: number;
  /** The level reached: the smallest zero-bit count of the four keys (§7.1.4). */
  readonly level: number;
}

/**
 * Initiator side: tries the keys 0, 1, 2, ... as big-endian counters of `keyLen` octets (the way the
 * examples of RFC 8019 §4.4 were found) and keeps the first four that earn `difficulty` zero bits.
 * Returns undefined when the PRF is not one we support, the key length is out of §8.2's range, or
 * maxTries (or the keys of that length) ran out.
 */
export function solvePuzzle(
  prfId: number,
  difficulty: number,
  s: Uint8Array,
  o: SolveOptions = {},
): PuzzleSolution | undefined {
  const hash = PUZZLE_PRFS.get(prfId);
  if (hash === undefined || !Number.isInteger(difficulty) || difficulty < 0 || difficulty > 255)
    return undefined;
  const max = o.maxTries ?? 2 ** Math.min(difficulty + 8, 48);
  const len = o.keyLen ?? (max <= 2 ** 32 ? 4 : 6);
  if (!Number.isInteger(len) || len < 1 || len > HASH_LEN[hash]) return undefined;
  const end = Math.min(max, 2 ** Math.min(8 * len, 48)); // no more keys than `len` octets hold
  const data = new Uint8Array(PUZZLE_KEYS * len);
  const key = new Uint8Array(len);
  let found = 0;
  let level = Infinity;
  for (let c = 0; c < end; c++) {
    let v = c;
    for (let i = len - 1; i >= 0; i--) {
      key[i] = v & 0xff;
      v = Math.floor(v / 256);
    }
    const bits = keyBits(hash, key, s);
    if (bits < difficulty) continue;
    data.set(key, found * len);
    level = Math.min(level, bits);
    if (++found === PUZZLE_KEYS) return { data, tries: c + 1, level };
  }
  return undefined;
}
