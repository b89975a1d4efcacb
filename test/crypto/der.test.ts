// The one strict DER reader (X.690 §10): every rule its two users relied on before they shared it
// (src/crypto/signature.ts with two length octets, src/creds with three), each error raised through
// the caller's own MALFORMED thrower.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TAG, derReader, encodeOid, oid, tlv } from '../../src/crypto/der.ts';
import { hex, toHex } from './util.ts';

class LayerError extends Error {}
const reader = (maxLengthOctets: 2 | 3) =>
  derReader({
    maxLengthOctets,
    malformed: (m) => {
      throw new LayerError(m);
    },
  });
const rejects = (fn: () => unknown, message: RegExp) =>
  assert.throws(fn, (e: unknown) => e instanceof LayerError && message.test(e.message));

test('well-formed TLVs are read with their content and whole encoding', () => {
  const [a, b] = reader(2).readAll(hex('020105300306012a'), 'x');
  assert.deepEqual([a!.tag, toHex(a!.value), toHex(a!.der)], [TAG.INTEGER, '05', '020105']);
  assert.equal(b!.tag, TAG.SEQUENCE);
  assert.deepEqual(
    reader(3)
      .children(b, TAG.SEQUENCE, 'x')
      .map((t) => toHex(t.der)),
    ['06012a'],
  );
});

test('non-minimal lengths, high tag numbers, truncation, overruns and trailing bytes are refused', () => {
  for (const r of [reader(2), reader(3)]) {
    rejects(() => r.readAll(hex('30810100'), 'x'), /non-minimal/);
    rejects(() => r.readAll(hex('3082000100'), 'x'), /non-minimal/);
    rejects(() => r.readAll(hex('3f0100'), 'x'), /high-number/);
    rejects(() => r.readAll(hex('30'), 'x'), /truncated/);
    rejects(() => r.readAll(hex('3081'), 'x'), /truncated DER length/);
    rejects(() => r.readAll(hex('300300'), 'x'), /overruns/);
    rejects(() => r.readAll(hex('3080'), 'x'), /unsupported/);
    rejects(() => r.readExactly(hex('30000500'), TAG.SEQUENCE, 'x'), /expected one DER element/);
    rejects(() => r.readExactly(hex('3100'), TAG.SEQUENCE, 'x'), /expected one DER element/);
  }
});

test('the length-octet cap: two for AUTH data, three for certificates', () => {
  const big = tlv(TAG.OCTET_STRING, new Uint8Array(0x10000));
  assert.equal(toHex(big.subarray(0, 5)), '0483010000');
  rejects(() => reader(2).readAll(big, 'x'), /unsupported DER length/);
  assert.equal(reader(3).readExactly(big, TAG.OCTET_STRING, 'x').value.length, 0x10000);
});

test('OIDs and small integers: round trip and minimality', () => {
  const r = reader(2);
  for (const d of ['1.2.840.113549.1.1.10', '2.16.840.1.101.3.4.2.1', '1.3.101.112', '2.999.3']) {
    assert.equal(r.decodeOid(encodeOid(d), 'x'), d);
    assert.equal(toHex(oid(d)), toHex(tlv(TAG.OID, encodeOid(d))));
  }
  rejects(() => r.decodeOid(hex('2a8001'), 'x'), /non-minimal OID arc/);
  rejects(() => r.decodeOid(hex('2a86'), 'x'), /truncated OID/);
  rejects(() => r.decodeOid(new Uint8Array(0), 'x'), /empty OID/);
  assert.equal(r.readSmallInt(hex('20'), 'x'), 32);
  assert.equal(r.readSmallInt(hex('0080'), 'x'), 128);
  rejects(() => r.readSmallInt(hex('0020'), 'x'), /minimal/);
  rejects(() => r.readSmallInt(hex('80'), 'x'), /minimal/);
});
