// SK/SKF protection (RFC 7296 §3.14, RFC 7383) with a test-only AES-256-GCM SkCipher.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import {
  CodecError,
  type SkCipher,
  decodeMessage,
  decodePayloads,
  encodeFragments,
  encodeProtected,
  maxFragmentPlaintext,
  openFragment,
  openProtected,
  reassembleFragments,
  splitForFragments,
} from '../../src/codec/index.ts';
import { AUTH_INNER, AUTH_INNER_FIRST } from '../vectors/codec/golden.ts';

/** body = IV(8) | ciphertext(plain | pad length 0) | tag(16); test-only. */
function gcmCipher(key = randomBytes(32), salt = randomBytes(4)): SkCipher & { aads: Uint8Array[] } {
  const aads: Uint8Array[] = [];
  return {
    aads,
    sealedLength: (n) => 8 + n + 1 + 16,
    seal(aad, plain) {
      aads.push(aad.slice());
      const iv = randomBytes(8);
      const c = createCipheriv('aes-256-gcm', key, Buffer.concat([salt, iv]));
      c.setAAD(aad);
      const ct = Buffer.concat([c.update(plain), c.update(Buffer.of(0)), c.final()]);
      return Buffer.concat([iv, ct, c.getAuthTag()]);
    },
    open(aad, body) {
      const d = createDecipheriv('aes-256-gcm', key, Buffer.concat([salt, body.subarray(0, 8)]));
      d.setAAD(aad);
      d.setAuthTag(body.subarray(body.length - 16));
      const pt = Buffer.concat([d.update(body.subarray(8, body.length - 16)), d.final()]);
      return new Uint8Array(pt.buffer, pt.byteOffset, pt.length - 1 - pt[pt.length - 1]!);
    },
  };
}

const header = { spiI: randomBytes(8), spiR: randomBytes(8), exchangeType: 35, flags: 0x08, messageId: 1 };
const inner = decodePayloads(AUTH_INNER, AUTH_INNER_FIRST);

test('RFC 7296 §3.14: encodeProtected seals with final lengths in the AAD; openProtected recovers the payloads', () => {
  const cipher = gcmCipher();
  const bytes = encodeProtected(header, inner, cipher);
  const msg = decodeMessage(bytes);
  const sk = msg.payloads[0];
  assert.ok(sk?.kind === 'SK');
  assert.equal(sk.innerFirst, AUTH_INNER_FIRST);
  assert.equal(msg.header.length, bytes.length);
  assert.deepEqual(cipher.aads[0], bytes.subarray(0, 32)); // IKE header + SK generic header
  assert.deepEqual(openProtected(bytes, msg, cipher), inner);
  const tampered = bytes.slice();
  tampered[bytes.length - 20]! ^= 1;
  assert.throws(() => openProtected(tampered, decodeMessage(tampered), cipher), /auth/i);
});

test('RFC 7383 §2.5: fragments fit the size, fragment 1 names the inner type, reassembly restores the chain', () => {
  const cipher = gcmCipher();
  const max = 120;
  const frags = encodeFragments(header, inner, cipher, max);
  assert.ok(frags.length > 1);
  const opened = frags.map((f) => {
    assert.ok(f.length <= max, `fragment of ${f.length} bytes`);
    return openFragment(f, decodeMessage(f), cipher);
  });
  assert.deepEqual(
    opened.map((o) => [o.fragmentNumber, o.totalFragments, o.innerFirst]),
    opened.map((_, i) => [i + 1, frags.length, i === 0 ? AUTH_INNER_FIRST : 0]),
  );
  assert.deepEqual(cipher.aads[0]?.length, 36); // header + SKF header incl. fragment numbers
  const { firstType, bytes } = reassembleFragments([...opened].reverse());
  assert.deepEqual(bytes, AUTH_INNER);
  assert.deepEqual(decodePayloads(bytes, firstType), inner);
  assert.throws(() => reassembleFragments(opened.slice(1)), CodecError);
  assert.throws(() => reassembleFragments([opened[0]!, opened[0]!, ...opened.slice(2)]), /duplicated/);
  assert.throws(() => openProtected(frags[0]!, decodeMessage(frags[0]!), cipher), /openFragment/);
});

test('fragment sizing: largest plaintext that fits, and pieces cover the input exactly', () => {
  const cipher = gcmCipher();
  assert.equal(maxFragmentPlaintext(cipher, 100), 100 - 36 - 25);
  assert.throws(() => maxFragmentPlaintext(cipher, 60), CodecError);
  const pieces = splitForFragments(AUTH_INNER, 50);
  assert.deepEqual(
    pieces.map((p) => p.length),
    [50, 50, 50, 50, AUTH_INNER.length - 200],
  );
  assert.deepEqual(splitForFragments(new Uint8Array(0), 50).length, 1);
});
