// Mutation tests (the iked parser-test idea): every single-bit flip and every truncation of each
// golden and captured message, plus seeded random multi-byte mutations. Each input must either
// decode (and then re-encode to the same bytes) or throw CodecError: never another exception.
// Bounded by count and by a time budget: stop early (not fail) when the budget runs out.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CodecError,
  decodeMessage,
  decodePayloads,
  encodeMessage,
  encodePayloads,
} from '../../src/codec/index.ts';
import { GOLDEN_CHAINS, GOLDEN_MESSAGES } from '../vectors/codec/golden.ts';
import { strongswanMessages } from './strongswan-vectors.ts';

const MAX_INPUTS = 400_000;
const MIN_INPUTS = 100_000;
const BUDGET_MS = 25_000;

type Decoder = (b: Uint8Array) => Uint8Array; // decode then re-encode

const asMessage: Decoder = (b) => encodeMessage(decodeMessage(b, { rejectUnknownCritical: false }));
const asChain =
  (first: number): Decoder =>
  (b) =>
    encodePayloads(decodePayloads(b, first, 0, { rejectUnknownCritical: false })).bytes;

/** xorshift32: deterministic random mutations, reproducible from the seed. */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 0x100000000;
  };
}

function* mutations(orig: Uint8Array, rand: () => number, randomCount: number): Generator<Uint8Array> {
  for (let bit = 0; bit < orig.length * 8; bit++) {
    const m = orig.slice();
    m[bit >> 3]! ^= 1 << (bit & 7);
    yield m;
  }
  for (let len = 0; len < orig.length; len++) yield orig.subarray(0, len);
  for (let i = 0; i < randomCount; i++) {
    const m = orig.slice();
    const n = 2 + Math.floor(rand() * 6);
    for (let k = 0; k < n; k++) m[Math.floor(rand() * m.length)] = Math.floor(rand() * 256);
    yield m;
  }
}

test('>= 100k mutated messages each decode-and-round-trip or throw CodecError', () => {
  const targets: { name: string; bytes: Uint8Array; dec: Decoder }[] = [
    ...Object.entries(GOLDEN_MESSAGES).map(([name, bytes]) => ({ name, bytes, dec: asMessage })),
    ...GOLDEN_CHAINS.map((c) => ({ name: c.name, bytes: c.bytes, dec: asChain(c.first) })),
    ...strongswanMessages().map((m, i) => ({ name: `${m.file}#${i}`, bytes: m.bytes, dec: asMessage })),
  ];
  const rand = rng(0x1ce2);
  const start = performance.now();
  let ran = 0;
  let decoded = 0;
  let outOfTime = false;
  outer: for (let round = 0; round < 4; round++) {
    for (const t of targets) {
      for (const m of mutations(t.bytes, rand, round === 0 ? 500 : 3000)) {
        if (ran >= MAX_INPUTS) break outer;
        if ((ran & 1023) === 0 && performance.now() - start > BUDGET_MS) {
          outOfTime = true;
          break outer;
        }
        ran++;
        let again: Uint8Array;
        try {
          again = t.dec(m);
        } catch (e) {
          if (!(e instanceof CodecError))
            assert.fail(`${t.name}: ${String(e)} for input ${Buffer.from(m).toString('hex')}`);
          continue;
        }
        decoded++;
        if (Buffer.compare(again, m) !== 0)
          assert.fail(`${t.name}: decoded but re-encoded differently: ${Buffer.from(m).toString('hex')}`);
      }
    }
    if (ran >= MIN_INPUTS) break;
  }
  console.log(
    `mutation inputs: ${ran} (${decoded} decoded, rest CodecError)${outOfTime ? ', stopped at the time budget' : ''}`,
  );
  assert.ok(ran >= MIN_INPUTS || outOfTime, `only ${ran} inputs`);
  assert.ok(decoded > 0 && decoded < ran, 'mutations should both pass and fail');
});
