// RFC 8019 client puzzles: the PUZZLE notify data (§8.1), the Puzzle Solution payload (§8.2), and
// the search / check of §7.1.2, §7.1.3 and §7.1.4 at low difficulties, against values this file
// computes on its own with node:crypto from the RFC's formula.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { test } from 'node:test';
import {
  CodecError,
  ExchangeType,
  HeaderFlag,
  PayloadType,
  checkExchangeRules,
  decodeMessage,
  decodePuzzleData,
  encodeMessage,
  encodePuzzleData,
} from '../../src/codec/index.ts';
import {
  PUZZLE_KEYS,
  puzzleLevel,
  solvePuzzle,
  trailingZeroBits,
  verifyPuzzle,
} from '../../src/crypto/index.ts';
import { floodTemplate } from '../../lab/robust/flood.ts';

test('PUZZLE data: PRF (2 octets) | Difficulty (1 octet); anything but 3 octets is refused', () => {
  assert.deepEqual(encodePuzzleData({ prf: 5, difficulty: 12 }), Uint8Array.of(0, 5, 12));
  assert.deepEqual(decodePuzzleData(Uint8Array.of(0, 7, 20)), { prf: 7, difficulty: 20 });
  assert.throws(() => decodePuzzleData(Uint8Array.of(0, 5)), CodecError);
  assert.throws(() => decodePuzzleData(Uint8Array.of(0, 5, 1, 0)), CodecError);
  assert.throws(() => encodePuzzleData({ prf: 5, difficulty: 256 }), CodecError);
});

test('PS payload (type 54) round-trips in an IKE_SA_INIT request and the rules allow one', () => {
  const base = decodeMessage(floodTemplate().bytes);
  const key = Uint8Array.from({ length: 16 }, (_, i) => i); // four 4-octet keys (§8.2)
  const bytes = encodeMessage({
    header: base.header,
    payloads: [...base.payloads, { kind: 'PS', data: key }],
  });
  const m = decodeMessage(bytes);
  const ps = m.payloads.find((p) => p.kind === 'PS');
  assert.deepEqual(ps && 'data' in ps ? ps.data : undefined, key);
  assert.equal(PayloadType.PS, 54);
  checkExchangeRules(m);
  const two = decodeMessage(
    encodeMessage({
      header: base.header,
      payloads: [...base.payloads, { kind: 'PS', data: key }, { kind: 'PS', data: key }],
    }),
  );
  assert.throws(() => checkExchangeRules(two), CodecError);
  // Not in a response.
  const resp = decodeMessage(
    encodeMessage({
      header: { ...base.header, flags: HeaderFlag.RESPONSE, exchangeType: ExchangeType.IKE_SA_INIT },
      payloads: [...base.payloads, { kind: 'PS', data: key }],
    }),
  );
  assert.throws(() => checkExchangeRules(resp), CodecError);
});

// ---- Byte-level encodings against the figures of RFC 8019 §8 ----

/** An IKE_SA_INIT message of one payload; returns the payload's bytes (after the 28-octet header). */
function lonePayload(p: Parameters<typeof encodeMessage>[0]['payloads'][number], response: boolean) {
  const base = decodeMessage(floodTemplate().bytes);
  const bytes = encodeMessage({
    header: { ...base.header, flags: response ? HeaderFlag.RESPONSE : base.header.flags },
    payloads: [p],
  });
  return { nextPayload: bytes[16], body: bytes.subarray(28) };
}

test('RFC 8019 §8.1: the PUZZLE Notify payload, byte by byte', () => {
  const data = encodePuzzleData({ prf: 5, difficulty: 18 });
  const { nextPayload, body } = lonePayload(
    { kind: 'NOTIFY', protocolId: 0, notifyType: 16434, spi: new Uint8Array(0), data },
    true,
  );
  assert.equal(nextPayload, 41); // a Notify payload (RFC 7296 §3.10)
  assert.deepEqual(
    [...body],
    [
      0,
      0,
      0,
      11, // Next Payload 0, C 0, RESERVED, Payload Length 4 + 4 + 3
      0,
      0,
      0x40,
      0x32, // Protocol ID (=0), SPI Size (=0), Notify Message Type 16434 (PUZZLE, §11)
      0,
      5,
      18, // PRF (2 octets): PRF_HMAC_SHA2_256; Difficulty (1 octet): 18 zero bits
    ],
  );
});

test('RFC 8019 §8.2: the Puzzle Solution payload (type 54), byte by byte', () => {
  const keys = Uint8Array.from({ length: 12 }, (_, i) => 0xa0 + i); // four 3-octet keys
  const { nextPayload, body } = lonePayload({ kind: 'PS', data: keys }, false);
  assert.equal(nextPayload, 54); // §11: "Puzzle Solution PS" in IKEv2 Payload Types
  // Next Payload 0, C 0, RESERVED, Payload Length 4 + 12; then the Puzzle Solution Data.
  assert.deepEqual([...body], [0, 0, 0, 16, ...keys]);
  // "the size of Puzzle Solution Data is the size of Payload ... minus 4": four keys of 3 octets.
  assert.equal((((body[2]! << 8) | body[3]!) - 4) / 4, 3);
});

// ---- The puzzle itself (§4.4, §7.1.3), computed independently here ----

const HASHES = { 5: 'sha256', 6: 'sha384', 7: 'sha512' } as const;

/** Trailing zero bits of PRF(K, S) = HMAC(K, S) read as one big number (the test's own count). */
function zeroBits(hash: string, key: Uint8Array, s: Uint8Array): number {
  const v = BigInt('0x' + createHmac(hash, key).update(s).digest('hex'));
  let n = 0;
  for (let x = v; x !== 0n && (x & 1n) === 0n; x >>= 1n) n++;
  return v === 0n ? 8 * 64 : n;
}

/** The first four `len`-octet big-endian counter keys with >= d zero bits (the RFC's §4.4 search). */
function firstFour(hash: string, d: number, s: Uint8Array, len: number): Buffer[] {
  const out: Buffer[] = [];
  for (let c = 0; out.length < 4 && c < 2 ** (8 * len); c++) {
    const k = Buffer.alloc(len);
    k.writeUIntBE(c, 0, len);
    if (zeroBits(hash, k, s) >= d) out.push(k);
  }
  return out;
}

test('trailing zero bits count from the last octet up', () => {
  assert.equal(trailingZeroBits(Uint8Array.of(0xff, 0x01)), 0);
  assert.equal(trailingZeroBits(Uint8Array.of(0xff, 0x80)), 7);
  assert.equal(trailingZeroBits(Uint8Array.of(0x04, 0x00)), 10);
  assert.equal(trailingZeroBits(Uint8Array.of(0, 0)), 16);
  // The §4.4 example row "...816c0000 | 18": 16 zero bits, then 0xc = 1100.
  assert.equal(trailingZeroBits(Buffer.from('e4f957b859d7fb1343b7b94a816c0000', 'hex')), 18);
});

test('§7.1.3: a solution is the first four keys with enough zero bits, as the test finds them itself', () => {
  // S is the COOKIE notification data alone (no Notify header): an ikeway cookie is 37 octets.
  const cookie = Uint8Array.from({ length: 37 }, (_, i) => (i * 29 + 7) & 0xff);
  for (const [prf, d] of [
    [5, 10],
    [6, 8],
    [7, 8],
  ] as const) {
    const hash = HASHES[prf];
    const expect = firstFour(hash, d, cookie, 4);
    const s = solvePuzzle(prf, d, cookie);
    assert.ok(s, `PRF ${prf} difficulty ${d} not solved`);
    assert.equal(PUZZLE_KEYS, 4);
    assert.deepEqual(Buffer.from(s.data), Buffer.concat(expect), `PRF ${prf}: four 4-octet keys`);
    const levels = expect.map((k) => zeroBits(hash, k, cookie));
    assert.equal(s.level, Math.min(...levels));
    assert.equal(s.tries, expect[3]!.readUInt32BE(0) + 1);
    // §7.1.4: the responder's level is the smallest of the four.
    assert.equal(puzzleLevel(prf, s.data, cookie), Math.min(...levels));
    assert.ok(verifyPuzzle(prf, d, s.data, cookie));
    assert.ok(!verifyPuzzle(prf, Math.min(...levels) + 1, s.data, cookie));
  }
  // Shorter keys (§8.2: "It is expected that in most cases the keys will be 4 (or even less) octets").
  const three = solvePuzzle(5, 9, cookie, { keyLen: 3 });
  assert.deepEqual(Buffer.from(three!.data), Buffer.concat(firstFour('sha256', 9, cookie, 3)));
});

test('§7.1.4 / §8.2: what the responder refuses', () => {
  const cookie = new Uint8Array(37).fill(9);
  // 1-octet keys are allowed: the first four one-octet keys with >= 1 zero bit.
  const ones = Buffer.concat(firstFour('sha256', 1, cookie, 1));
  assert.equal(ones.length, 4);
  assert.ok(verifyPuzzle(5, 1, ones, cookie));
  // One key that earns fewer bits than asked fails the whole solution.
  let bad = -1;
  for (let k = 0; k < 256 && bad < 0; k++) if (zeroBits('sha256', Uint8Array.of(k), cookie) === 0) bad = k;
  const withBad = Uint8Array.of(ones[0]!, ones[1]!, ones[2]!, bad);
  assert.equal(puzzleLevel(5, withBad, cookie), 0);
  assert.ok(!verifyPuzzle(5, 1, withBad, cookie));
  // Not four equal-sized keys; four copies of one key ("four different keys", §7.1.3).
  assert.equal(puzzleLevel(5, ones.subarray(0, 3), cookie), -1);
  assert.equal(puzzleLevel(5, new Uint8Array(0), cookie), -1);
  assert.equal(puzzleLevel(5, Uint8Array.of(ones[0]!, ones[0]!, ones[0]!, ones[0]!), cookie), -1);
  // Keys longer than the PRF's preferred key length (32 octets for PRF_HMAC_SHA2_256).
  assert.equal(
    puzzleLevel(
      5,
      new Uint8Array(4 * 33).map((_, i) => i),
      cookie,
    ),
    -1,
  );
  assert.ok(
    puzzleLevel(
      5,
      new Uint8Array(4 * 32).map((_, i) => i),
      cookie,
    ) >= 0,
  );
  // A PRF we do not support (AES128-XCBC) is neither checked nor solved; maxTries bounds the search.
  assert.equal(puzzleLevel(4, ones, cookie), -1);
  assert.equal(solvePuzzle(2, 4, cookie), undefined);
  assert.equal(solvePuzzle(5, 30, cookie, { maxTries: 10 }), undefined);
  assert.equal(solvePuzzle(5, 4, cookie, { keyLen: 33 }), undefined);
});
