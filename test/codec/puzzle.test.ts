// RFC 8019 client puzzles: the PUZZLE notify data (§8.1), the Puzzle Solution payload (§8.2), and
// the search / check of §7.1.2 and §7.1.4 at low difficulties.
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
import { puzzleBits, solvePuzzle, trailingZeroBits, verifyPuzzle } from '../../src/crypto/index.ts';
import { floodTemplate } from '../../lab/robust/flood.ts';

let n = 0;
const rnd = (len: number) => Uint8Array.from({ length: len }, () => ++n & 0xff);

test('PUZZLE data: PRF (2 octets) | Difficulty (1 octet); anything but 3 octets is refused', () => {
  assert.deepEqual(encodePuzzleData({ prf: 5, difficulty: 12 }), Uint8Array.of(0, 5, 12));
  assert.deepEqual(decodePuzzleData(Uint8Array.of(0, 7, 20)), { prf: 7, difficulty: 20 });
  assert.throws(() => decodePuzzleData(Uint8Array.of(0, 5)), CodecError);
  assert.throws(() => decodePuzzleData(Uint8Array.of(0, 5, 1, 0)), CodecError);
  assert.throws(() => encodePuzzleData({ prf: 5, difficulty: 256 }), CodecError);
});

test('PS payload (type 54) round-trips in an IKE_SA_INIT request and the rules allow one', () => {
  const base = decodeMessage(floodTemplate().bytes);
  const key = Uint8Array.from({ length: 32 }, (_, i) => i);
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

test('trailing zero bits count from the last octet up', () => {
  assert.equal(trailingZeroBits(Uint8Array.of(0xff, 0x01)), 0);
  assert.equal(trailingZeroBits(Uint8Array.of(0xff, 0x80)), 7);
  assert.equal(trailingZeroBits(Uint8Array.of(0x04, 0x00)), 10);
  assert.equal(trailingZeroBits(Uint8Array.of(0, 0)), 16);
});

for (const [prf, hash] of [
  [5, 'sha256'],
  [6, 'sha384'],
  [7, 'sha512'],
] as const)
  test(`solve and verify at difficulty 1..10 with PRF ${prf}`, () => {
    const cookie = Uint8Array.from({ length: 36 }, (_, i) => i * 3);
    for (let d = 1; d <= 10; d++) {
      const s = solvePuzzle(prf, d, cookie, { randomBytes: rnd });
      assert.ok(s, `difficulty ${d} not solved`);
      // The solution checked independently: HMAC(key, cookie) ends in >= d zero bits.
      const out = createHmac(hash, s.key).update(cookie).digest();
      assert.ok(trailingZeroBits(out) >= d);
      assert.ok(verifyPuzzle(prf, d, s.key, cookie));
    }
  });

test('a key that earns fewer bits fails; unknown PRFs and empty keys are refused', () => {
  const cookie = new Uint8Array(36).fill(9);
  let key = new Uint8Array(32);
  for (let i = 0; puzzleBits(5, key, cookie) !== 0 && i < 256; i++)
    key = key.map((_, j) => (j === 0 ? i : 0));
  assert.equal(puzzleBits(5, key, cookie), 0);
  assert.ok(!verifyPuzzle(5, 1, key, cookie));
  assert.ok(verifyPuzzle(5, 0, key, cookie));
  assert.equal(puzzleBits(4, key, cookie), -1); // AES128-XCBC: no puzzles with it here
  assert.equal(puzzleBits(5, new Uint8Array(0), cookie), -1);
  assert.equal(solvePuzzle(2, 4, cookie, { randomBytes: rnd }), undefined);
  assert.equal(solvePuzzle(5, 30, cookie, { randomBytes: rnd, maxTries: 10 }), undefined);
});
