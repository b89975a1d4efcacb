// Known-answer tests for the transforms real peers still send: RFC 3566 §4.6 (AES-XCBC-MAC-96),
// RFC 4434 §2 / RFC 4434 test cases (AES-XCBC-PRF-128 with 10/16/18-octet keys), RFC 3686 §6
// (AES-CTR test vectors 1 and 2, through the IKE SK cipher's counter-block layout of RFC 5930 §2),
// RFC 3610 §8 packet vector #1 (CCM, on node:crypto with the call pattern sk.ts uses) and the RFC 4309
// §4 / RFC 5282 §4 CCM nonce layout (salt | IV) checked against an independent decryption.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createCipheriv, createDecipheriv, createHmac } from 'node:crypto';
import { EncrId, IntegId } from '../../src/codec/iana.ts';
import { prf, prfPlus } from '../../src/crypto/prf.ts';
import { createSkCipher } from '../../src/crypto/sk.ts';
import { XcbcKey, xcbcPrf } from '../../src/crypto/xcbc.ts';
import { hex, throwsCode, toHex } from './util.ts';

const seq = (n: number) => Uint8Array.from({ length: n }, (_, i) => i);
const K = seq(16); // RFC 3566 §4.6: key 000102030405060708090a0b0c0d0e0f

test('AES-XCBC-MAC: RFC 3566 §4.6 test cases 1-7 (full 128-bit MAC and the -96 truncation)', () => {
  const cases: [Uint8Array, string][] = [
    [new Uint8Array(0), '75f0251d528ac01c4573dfd584d79f29'],
    [seq(3), '5b376580ae2f19afe7219ceef172756f'],
    [seq(16), 'd2a246fa349b68a79998a4394ff7a263'],
    [seq(20), '47f51b4564966215b8985c63055ed308'],
    [seq(32), 'f54f0ec8d2b9f3d36807734bd5283fd4'],
    [seq(34), 'becbb3bccdb518a30677d5481fb6b4d8'],
    [new Uint8Array(1000), 'f0dafee895db30253761103b5d84528f'],
  ];
  const x = new XcbcKey(K);
  for (const [msg, mac] of cases) {
    assert.equal(toHex(x.mac(msg)), mac, `${msg.length} octets`);
    // The same message split in parts (how sk.ts feeds aad | IV | ciphertext).
    assert.equal(toHex(x.mac(msg.subarray(0, 5), msg.subarray(5))), mac);
  }
  assert.equal(toHex(x.mac(seq(3)).subarray(0, 12)), '5b376580ae2f19afe7219cee'); // AES-XCBC-MAC-96
  throwsCode(() => new XcbcKey(seq(15)), 'INVALID_KEY');
});

test('AES-XCBC-PRF-128: RFC 4434 test cases (16-, 10- and 18-octet keys over 000102..13)', () => {
  const msg = seq(20);
  const long = hex('000102030405060708090a0b0c0d0e0fedcb');
  assert.equal(toHex(xcbcPrf(seq(16), msg)), '47f51b4564966215b8985c63055ed308');
  assert.equal(toHex(xcbcPrf(seq(10), msg)), '0fa087af7d866e7653434e602fdde835');
  assert.equal(toHex(xcbcPrf(long, msg)), '8cd3c93ae598a9803006ffb67c40e9e4');
  // prf() and prf+ dispatch to it (RFC 7296 §2.13 with a 16-octet PRF output).
  assert.equal(toHex(prf('aesxcbc', seq(10), msg)), '0fa087af7d866e7653434e602fdde835');
  const stream = prfPlus('aesxcbc', seq(16), msg, 40);
  const t1 = xcbcPrf(seq(16), msg, Uint8Array.of(1));
  const t2 = xcbcPrf(seq(16), t1, msg, Uint8Array.of(2));
  assert.equal(
    toHex(stream),
    toHex(Buffer.concat([t1, t2, xcbcPrf(seq(16), t2, msg, Uint8Array.of(3))]).subarray(0, 40)),
  );
});

test('AES-CTR: RFC 3686 §6 vector 1 through the IKE SK cipher (counter block nonce | IV | 1)', () => {
  // Key AE6852F8..., nonce 00000030, IV 0 (the SK cipher's first IV counter value), "Single block msg".
  const key = hex('ae6852f8121067cc4bf7a5765577f39e');
  const nonce = hex('00000030');
  const pt = Buffer.from('Single block msg');
  const ct = hex('e4095d4fb7a7b3792d6175a3261311b8');
  const keystream = ct.map((c, i) => c ^ pt[i]!);
  const integKey = seq(20);
  const sk = createSkCipher(
    { encr: EncrId.AES_CTR, keyLen: 128, integ: IntegId.HMAC_SHA1_96 },
    { encKey: Buffer.concat([key, nonce]), integKey },
  );
  const aad = seq(32);
  // 15 octets of payload + the pad-length octet 0: one block, no padding (RFC 5930 §2).
  const body = sk.seal(aad, pt.subarray(0, 15));
  assert.equal(body.length, 8 + 16 + 12);
  assert.equal(toHex(body.subarray(0, 8)), '0000000000000000');
  const expected = Buffer.concat([pt.subarray(0, 15), Buffer.of(0)]).map((b, i) => b ^ keystream[i]!);
  assert.equal(toHex(body.subarray(8, 24)), toHex(expected));
  const icv = createHmac('sha1', integKey).update(aad).update(body.subarray(0, 24)).digest();
  assert.equal(toHex(body.subarray(24)), toHex(icv.subarray(0, 12)), 'HMAC-SHA1-96 over aad | IV | ct');
  assert.equal(Buffer.from(sk.open(aad, body)).toString(), 'Single block ms');
});

test('AES-CTR: RFC 3686 §6 vector 2 (32 octets, IV C0543B59DA48D90B) through SK open', () => {
  const key = hex('7e24067817fae0d743d6ce1f32539163');
  const nonce = hex('006cb6db');
  const iv = hex('c0543b59da48d90b');
  const ct = hex('5104a106168a72d9790d41ee8edad388eb2e1efc46da57c8fce630df9141be28');
  const integKey = seq(16);
  const sk = createSkCipher(
    { encr: EncrId.AES_CTR, keyLen: 128, integ: IntegId.AES_XCBC_96 },
    { encKey: Buffer.concat([key, nonce]), integKey },
  );
  const aad = seq(28);
  const icv = new XcbcKey(integKey).mac(aad, iv, ct).subarray(0, 12);
  // Plaintext 00..1F: the last octet (0x1f) reads as a pad length of 31, leaving no payload.
  assert.equal(sk.open(aad, Buffer.concat([iv, ct, icv])).length, 0);
  const flipped = Buffer.concat([iv, ct, icv]);
  flipped[10]! ^= 1;
  throwsCode(() => sk.open(aad, flipped), 'AUTH_FAILED');
});

test('AES-CCM: RFC 3610 §8 packet vector #1 (M=8, L=2) on node:crypto', () => {
  const key = hex('c0c1c2c3c4c5c6c7c8c9cacbcccdcecf');
  const nonce = hex('00000003020100a0a1a2a3a4a5');
  const packet = seq(31);
  const aad = packet.subarray(0, 8);
  const plain = packet.subarray(8);
  const c = createCipheriv('aes-128-ccm', key, nonce, { authTagLength: 8 });
  c.setAAD(aad, { plaintextLength: plain.length });
  const ct = Buffer.concat([c.update(plain), c.final()]);
  assert.equal(toHex(ct), '588c979a61c663d2f066d0c2c0f989806d5f6b61dac384');
  assert.equal(toHex(c.getAuthTag()), '17e8d12cfdf926e0');
});

test('AES-CCM in IKE: nonce = 3-octet salt | 8-octet IV (RFC 5282 §4, RFC 4309 §4), ICV 8/12/16', () => {
  for (const [id, icv] of [
    [EncrId.AES_CCM_8, 8],
    [EncrId.AES_CCM_12, 12],
    [EncrId.AES_CCM_16, 16],
  ] as const) {
    const key = seq(16);
    const salt = hex('a1b2c3');
    const sk = createSkCipher({ encr: id, keyLen: 128 }, { encKey: Buffer.concat([key, salt]) });
    const aad = seq(32);
    const plain = Buffer.from('payloads of an IKE message');
    const body = sk.seal(aad, plain);
    const iv = body.subarray(0, 8);
    const d = createDecipheriv('aes-128-ccm', key, Buffer.concat([salt, iv]), { authTagLength: icv });
    d.setAuthTag(body.subarray(body.length - icv));
    d.setAAD(aad, { plaintextLength: body.length - 8 - icv });
    const inner = d.update(body.subarray(8, body.length - icv));
    d.final();
    assert.equal(toHex(inner), toHex(Buffer.concat([plain, Buffer.of(0)])), `ICV ${icv}`);
    const bad = Buffer.from(body);
    bad[bad.length - 1]! ^= 1;
    throwsCode(() => sk.open(aad, bad), 'AUTH_FAILED');
  }
});
