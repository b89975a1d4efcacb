// Mutation operators for byte-level fuzzing (the iked parser-test idea, widened): bit flips, byte
// writes, truncation, extension, splicing two seeds, chunk duplication/removal, and length-field
// edits (a big-endian or little-endian 16/32-bit field set to a boundary value), which is what reaches
// the "length checked before every read" branches of TLV parsers (RFC 7296 §3.2, RFC 3549 §2.3.2).
// Deterministic from a seed, so every finding is reproducible.

/** xorshift32: [0, 1) from a 32-bit seed. */
export function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 0x100000000;
  };
}

export type Rand = () => number;

const pick = (rand: Rand, n: number): number => Math.floor(rand() * n);

/** Lengths and counts that sit on parser boundaries. */
function boundaryValues(len: number, off: number): number[] {
  const rest = Math.max(0, len - off);
  return [
    0,
    1,
    2,
    3,
    4,
    7,
    8,
    0x7f,
    0x80,
    0xff,
    0x100,
    0x7fff,
    0xffff,
    rest,
    rest - 1,
    rest + 1,
    len,
    len + 4,
  ];
}

function lengthEdit(b: Uint8Array, rand: Rand): Uint8Array {
  if (b.length < 2) return b;
  const m = b.slice();
  const off = pick(rand, m.length - 1);
  const values = boundaryValues(m.length, off);
  const v = values[pick(rand, values.length)]! & 0xffff;
  const little = rand() < 0.5; // netlink is host order (little-endian here), IKE network order
  m[off] = little ? v & 0xff : v >> 8;
  m[off + 1] = little ? v >> 8 : v & 0xff;
  return m;
}

function length32Edit(b: Uint8Array, rand: Rand): Uint8Array {
  if (b.length < 4) return b;
  const m = b.slice();
  const off = pick(rand, m.length - 3);
  const values = [...boundaryValues(m.length, off), 0xffffffff, 0x80000000];
  const v = values[pick(rand, values.length)]! >>> 0;
  const dv = new DataView(m.buffer);
  dv.setUint32(off, v, rand() < 0.5);
  return m;
}

function bitFlips(b: Uint8Array, rand: Rand): Uint8Array {
  if (b.length === 0) return b;
  const m = b.slice();
  const n = 1 + pick(rand, 4);
  for (let i = 0; i < n; i++) m[pick(rand, m.length)]! ^= 1 << pick(rand, 8);
  return m;
}

function byteWrites(b: Uint8Array, rand: Rand): Uint8Array {
  if (b.length === 0) return b;
  const m = b.slice();
  const n = 1 + pick(rand, 6);
  const interesting = [0, 1, 0x7f, 0x80, 0xff];
  for (let i = 0; i < n; i++)
    m[pick(rand, m.length)] = rand() < 0.5 ? interesting[pick(rand, interesting.length)]! : pick(rand, 256);
  return m;
}

const truncate = (b: Uint8Array, rand: Rand): Uint8Array => b.slice(0, pick(rand, b.length + 1));

function extend(b: Uint8Array, rand: Rand): Uint8Array {
  const extra = new Uint8Array(1 + pick(rand, 64));
  if (rand() < 0.5) for (let i = 0; i < extra.length; i++) extra[i] = pick(rand, 256);
  const m = new Uint8Array(b.length + extra.length);
  m.set(b);
  m.set(extra, b.length);
  return m;
}

function removeChunk(b: Uint8Array, rand: Rand): Uint8Array {
  if (b.length < 2) return b;
  const at = pick(rand, b.length);
  const n = 1 + pick(rand, Math.min(32, b.length - at));
  const m = new Uint8Array(b.length - n);
  m.set(b.subarray(0, at));
  m.set(b.subarray(at + n), at);
  return m;
}

function duplicateChunk(b: Uint8Array, rand: Rand): Uint8Array {
  if (b.length === 0) return b;
  const at = pick(rand, b.length);
  const n = 1 + pick(rand, Math.min(64, b.length - at));
  const m = new Uint8Array(b.length + n);
  m.set(b.subarray(0, at + n));
  m.set(b.subarray(at, at + n), at + n);
  m.set(b.subarray(at + n), at + 2 * n);
  return m;
}

/** Head of one input, tail of another, cut at random points (payload chains mixed across messages). */
export function splice(a: Uint8Array, b: Uint8Array, rand: Rand): Uint8Array {
  const i = pick(rand, a.length + 1);
  const j = pick(rand, b.length + 1);
  const m = new Uint8Array(i + b.length - j);
  m.set(a.subarray(0, i));
  m.set(b.subarray(j), i);
  return m;
}

export const MUTATORS = {
  bitFlips,
  byteWrites,
  truncate,
  extend,
  removeChunk,
  duplicateChunk,
  lengthEdit,
  length32Edit,
} as const;

const OPS = Object.values(MUTATORS);

/**
 * One mutated input from the corpus: one to three stacked operators on a random seed, sometimes
 * spliced with another seed. `protect` bytes at the start are left as they are (e.g. a header the
 * target rewrites anyway).
 */
export function mutate(corpus: readonly Uint8Array[], rand: Rand, maxLen = 65_535): Uint8Array {
  let m = corpus[pick(rand, corpus.length)]!;
  if (corpus.length > 1 && rand() < 0.15) m = splice(m, corpus[pick(rand, corpus.length)]!, rand);
  const n = 1 + pick(rand, 3);
  for (let i = 0; i < n; i++) m = OPS[pick(rand, OPS.length)]!(m, rand);
  return m.length > maxLen ? m.subarray(0, maxLen) : m;
}

export const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
export const fromHex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s.trim(), 'hex'));
