// Round-trip properties (fast-check): arbitrary well-formed messages survive encode -> decode
// unchanged, and encode(decode(bytes)) reproduces the bytes exactly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodeMessage, decodePayloads, encodeMessage, encodePayloads } from '../../src/codec/index.ts';
import { message, payloadChain } from './arbitraries.ts';

// fast-check records have a null prototype; compare as plain data.
const plain = <T>(x: T): T => structuredClone(x);

test('decode(encode(m)) equals m for arbitrary well-formed messages, and re-encodes identically', () => {
  fc.assert(
    fc.property(message, (m) => {
      const bytes = encodeMessage(m);
      const d = decodeMessage(bytes);
      assert.deepEqual(plain(d.payloads), plain(m.payloads));
      assert.deepEqual(
        { ...d.header, length: 0, nextPayload: 0 },
        plain({ ...m.header, length: 0, nextPayload: 0 }),
      );
      assert.equal(d.header.length, bytes.length);
      assert.deepEqual(encodeMessage(d), bytes);
    }),
    { numRuns: 400 },
  );
});

test('inner chains: decodePayloads(encodePayloads(ps)) equals ps', () => {
  fc.assert(
    fc.property(payloadChain, fc.nat(1000), (ps, base) => {
      const { firstType, bytes } = encodePayloads(ps);
      assert.deepEqual(plain(decodePayloads(bytes, firstType, base)), plain(ps));
    }),
    { numRuns: 300 },
  );
});
