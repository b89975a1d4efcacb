// RFC 9242 IntAuth and the RFC 9370 key updates (src/crypto/intauth.ts, derive.ts, auth.ts), and the
// role API with DH methods (ke-roles.ts). Expected values are computed here step by step from the RFC
// formulas with node:crypto HMAC, not with the functions under test.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { DhGroup, NotifyType, PayloadType } from '../../src/codec/iana.ts';
import { signedOctets } from '../../src/crypto/auth.ts';
import {
  additionalKeyUpdate,
  deriveChildSaKeys,
  deriveChildSaKeysMulti,
  deriveIkeSaKeys,
  keyLengths,
  rekeySkeyseed,
  rekeySkeyseedMulti,
  skeyseed,
} from '../../src/crypto/derive.ts';
import {
  intAuthInput,
  intAuthOctets,
  intAuthStep,
  type IntermediateMessage,
} from '../../src/crypto/intauth.ts';
import { initiatorKeyShare, responderRespond, type KeResult } from '../../src/crypto/ke-roles.ts';
import { lookupEncr, lookupPrf } from '../../src/crypto/registry.ts';
import { throwsCode, toHex } from './util.ts';

const hmac = (hash: string, key: Uint8Array, ...data: Uint8Array[]): Buffer => {
  const h = createHmac(hash, key);
  for (const d of data) h.update(d);
  return h.digest();
};
const B = (...parts: (Uint8Array | number[])[]) => Buffer.concat(parts.map((p) => Buffer.from(p)));

/** RFC 7296 §2.13 prf+, written out: T1 = prf(K, S | 0x01), Tn = prf(K, Tn-1 | S | n). */
function prfPlusByHand(hash: string, key: Uint8Array, s: Uint8Array, len: number): Buffer {
  let out: Buffer = Buffer.alloc(0);
  let t: Buffer = Buffer.alloc(0);
  for (let n = 1; out.length < len; n++) {
    t = hmac(hash, key, t, s, Uint8Array.of(n));
    out = Buffer.concat([out, t]);
  }
  return out.subarray(0, len);
}

const prf384 = lookupPrf(6)!; // PRF_HMAC_SHA2_384
const gcm256 = keyLengths(lookupEncr(20, 256)!); // AES_GCM_16-256: 36-byte keys (with salt), no integ

test('RFC 9370 §2.2.2: SKEYSEED(n) = prf(SK_d(n-1), SK(n) | Ni | Nr), keys = prf+(SKEYSEED(n), Ni|Nr|SPIi|SPIr)', () => {
  const [skdPrev, skN, ni, nr] = [randomBytes(48), randomBytes(32), randomBytes(32), randomBytes(32)];
  const [spiI, spiR] = [randomBytes(8), randomBytes(8)];
  const keys = additionalKeyUpdate(prf384, gcm256, skdPrev, skN, ni, nr, spiI, spiR);
  const seed = hmac('sha384', skdPrev, B(skN, ni, nr));
  const stream = prfPlusByHand('sha384', seed, B(ni, nr, spiI, spiR), 48 + 0 + 0 + 36 + 36 + 48 + 48);
  const want = [48, 0, 0, 36, 36, 48, 48];
  const got = [keys.skD, keys.skAi, keys.skAr, keys.skEi, keys.skEr, keys.skPi, keys.skPr];
  let o = 0;
  for (const [i, len] of want.entries()) {
    assert.equal(toHex(got[i]!), stream.subarray(o, o + len).toString('hex'), `key ${i}`);
    o += len;
  }
  // Chaining: the second update starts from SK_d(1), not from the IKE_SA_INIT SK_d.
  const sk2 = randomBytes(32);
  const keys2 = additionalKeyUpdate(prf384, gcm256, keys.skD, sk2, ni, nr, spiI, spiR);
  const seed2 = hmac('sha384', stream.subarray(0, 48), B(sk2, ni, nr));
  assert.equal(toHex(keys2.skD), prfPlusByHand('sha384', seed2, B(ni, nr, spiI, spiR), 48).toString('hex'));
});

test('RFC 9370 §2.2.4: IKE rekey and Child SA keys with SK(0) | Ni | Nr | SK(1) | ... | SK(n)', () => {
  const prf256 = lookupPrf(5)!;
  const [skd, sk0, sk1, sk2, ni, nr] = [32, 32, 32, 32, 32, 16].map((n) => randomBytes(n)) as [
    Buffer,
    Buffer,
    Buffer,
    Buffer,
    Buffer,
    Buffer,
  ];
  const seed = rekeySkeyseedMulti(prf256, skd, [sk0, sk1, sk2], ni, nr);
  assert.equal(toHex(seed), hmac('sha256', skd, B(sk0, ni, nr, sk1, sk2)).toString('hex'));
  // One secret: exactly RFC 7296 §2.18.
  assert.equal(
    toHex(rekeySkeyseedMulti(prf256, skd, [sk0], ni, nr)),
    toHex(rekeySkeyseed(prf256, skd, sk0, ni, nr)),
  );
  throwsCode(() => rekeySkeyseedMulti(prf256, skd, [], ni, nr), 'MALFORMED');

  const lens = { encrKeyLen: 36, integKeyLen: 0 };
  const child = deriveChildSaKeysMulti(prf256, lens, skd, ni, nr, [sk0, sk1]);
  const km = prfPlusByHand('sha256', skd, B(sk0, ni, nr, sk1), 72);
  assert.equal(toHex(child.encrI), km.subarray(0, 36).toString('hex'));
  assert.equal(toHex(child.encrR), km.subarray(36, 72).toString('hex'));
  const pfs = deriveChildSaKeys(prf256, lens, skd, ni, nr, sk0);
  assert.equal(toHex(deriveChildSaKeysMulti(prf256, lens, skd, ni, nr, [sk0]).encrR), toHex(pfs.encrR));
});

/** An IKE_INTERMEDIATE request as sent: header + SK{ KE } with IV, padding and ICV around the inner data. */
function sample(mid: number, flags = 0x08, first: number = PayloadType.SK) {
  const ke = B([0, 0, 0, 8 + 1184], [0, 36, 0, 0], randomBytes(1184)); // KE payload: ML_KEM_768, ek
  const wireLen = 28 + 4 + 8 + ke.length + 16 + 16; // IV 8, padding+pad length and ICV on the wire
  const header = B(
    randomBytes(16),
    [first, 0x20, 43, flags],
    [0, 0, 0, mid],
    [0, 0, wireLen >> 8, wireLen & 0xff],
  );
  const msg: IntermediateMessage = { header, firstInnerPayload: PayloadType.KE, inner: ke };
  return { msg, header, ke };
}

test('RFC 9242 §3.3.2: IntAuth_A | IntAuth_P with adjusted lengths; SKF fragments MAC as SK', () => {
  const { msg, header, ke } = sample(1);
  const total = 28 + 4 + ke.length;
  const want = B(
    header.subarray(0, 16),
    [PayloadType.SK], // Next Payload
    header.subarray(17, 24), // version, exchange type, flags, message ID as sent
    [(total >>> 24) & 0xff, (total >>> 16) & 0xff, (total >>> 8) & 0xff, total & 0xff], // Adjusted Length
    [PayloadType.KE, 0, ((4 + ke.length) >> 8) & 0xff, (4 + ke.length) & 0xff], // SK header, Adjusted Payload Length
    ke,
  );
  assert.equal(toHex(intAuthInput(msg)), want.toString('hex'));
  // The same message received as fragments (header Next Payload SKF) gives the same octets.
  const frag = { ...msg, header: B(header.subarray(0, 16), [PayloadType.SKF], header.subarray(17)) };
  assert.equal(toHex(intAuthInput(frag)), want.toString('hex'));
  // Unencrypted payloads (rare) keep the header's Next Payload and are counted.
  const vid = B([PayloadType.SK, 0, 0, 8], [1, 2, 3, 4]);
  const withVid = {
    ...msg,
    header: B(header.subarray(0, 16), [PayloadType.VENDOR_ID], header.subarray(17)),
    unencrypted: vid,
  };
  const a = intAuthInput(withVid);
  assert.equal(a[16], PayloadType.VENDOR_ID);
  assert.equal(Buffer.from(a).readUInt32BE(24), total + 8);
  assert.equal(toHex(a.subarray(28, 36)), vid.toString('hex'));
  throwsCode(() => intAuthInput({ ...msg, header: header.subarray(0, 27) }), 'MALFORMED');
});

test('RFC 9242 §3.3.2: IntAuth chains per direction and enters both signed octets', () => {
  const skPi1 = randomBytes(48);
  const skPr1 = randomBytes(48);
  const skPi2 = randomBytes(48);
  const skPr2 = randomBytes(48);
  const req1 = sample(1).msg;
  const resp1 = sample(1, 0x20).msg;
  const req2 = sample(2).msg;
  const resp2 = sample(2, 0x20).msg;
  const i1 = intAuthStep('sha384', skPi1, undefined, req1);
  const r1 = intAuthStep('sha384', skPr1, undefined, resp1);
  const i2 = intAuthStep('sha384', skPi2, i1, req2);
  const r2 = intAuthStep('sha384', skPr2, r1, resp2);
  // By hand: IntAuth_i1 = prf(SK_pi1, A|P), IntAuth_i2 = prf(SK_pi2, IntAuth_i1 | A|P).
  const ap = (m: IntermediateMessage) => {
    const plen = 4 + m.inner.length;
    const h = Buffer.from(m.header);
    h[16] = PayloadType.SK;
    h.writeUInt32BE(28 + plen, 24);
    const sk = Buffer.alloc(4);
    sk[0] = m.firstInnerPayload;
    sk.writeUInt16BE(plen, 2);
    return B(h, sk, m.inner);
  };
  const wantI1 = hmac('sha384', skPi1, ap(req1));
  assert.equal(toHex(i1), wantI1.toString('hex'));
  assert.equal(toHex(r1), hmac('sha384', skPr1, ap(resp1)).toString('hex'));
  assert.equal(toHex(i2), hmac('sha384', skPi2, wantI1, ap(req2)).toString('hex'));
  assert.equal(toHex(r2), hmac('sha384', skPr2, hmac('sha384', skPr1, ap(resp1)), ap(resp2)).toString('hex'));

  // IntAuth = IntAuth_iN | IntAuth_rN | IKE_AUTH_MID (32 bits, network order), the same on both sides.
  const intAuth = intAuthOctets(i2, r2, 3);
  assert.equal(toHex(intAuth), B(i2, r2, [0, 0, 0, 3]).toString('hex'));
  throwsCode(() => intAuthOctets(i2, new Uint8Array(0), 3), 'MALFORMED');
  throwsCode(() => intAuthOctets(i2, r2, 2 ** 32), 'MALFORMED');

  // InitiatorSignedOctets = RealMsg1 | NonceRData | MACedIDForI | IntAuth.
  const [real, nonce, skP, id] = [randomBytes(300), randomBytes(32), randomBytes(48), randomBytes(12)];
  const plain = signedOctets('sha384', { realMessage: real, peerNonce: nonce, skP, idPayloadBody: id });
  const withInt = signedOctets('sha384', {
    realMessage: real,
    peerNonce: nonce,
    skP,
    idPayloadBody: id,
    intAuth,
  });
  const maced = hmac('sha384', skP, id);
  assert.equal(
    toHex(plain),
    B(real, nonce, maced).toString('hex'),
    'RFC 7296 octets unchanged without IntAuth',
  );
  assert.equal(toHex(withInt), B(real, nonce, maced, intAuth).toString('hex'));
});

function ok<T>(r: KeResult<T>): T {
  if (!r.ok) assert.fail(`expected success, got ${r.code}: ${r.message}`);
  return r;
}

test('role API with DH methods: both roles agree, bad shares are values with the right notify', () => {
  for (const g of [DhGroup.CURVE25519, DhGroup.ECP_256, DhGroup.MODP_2048]) {
    const i = ok(initiatorKeyShare(g)).initiator;
    const r = ok(responderRespond(g, i.share));
    assert.equal(r.share.length, i.share.length);
    assert.equal(toHex(ok(i.finish(r.share)).secret.bytes()), toHex(r.secret.bytes()), `group ${g}`);
    const short = responderRespond(g, i.share.subarray(1));
    assert.deepEqual(short.ok ? undefined : [short.code, short.notify], [
      'INVALID_LENGTH',
      NotifyType.INVALID_SYNTAX,
    ]);
  }
  // A point not on the curve / a degenerate X25519 value: INVALID_PUBLIC_KEY -> INVALID_SYNTAX.
  const offCurve = responderRespond(DhGroup.ECP_256, new Uint8Array(64).fill(1));
  assert.deepEqual(offCurve.ok ? undefined : [offCurve.code, offCurve.notify], [
    'INVALID_PUBLIC_KEY',
    NotifyType.INVALID_SYNTAX,
  ]);
  const i = ok(initiatorKeyShare(DhGroup.CURVE25519)).initiator;
  const zero = i.finish(new Uint8Array(32));
  assert.deepEqual(zero.ok ? undefined : [zero.code, zero.notify], [
    'INVALID_PUBLIC_KEY',
    NotifyType.INVALID_SYNTAX,
  ]);
  // Not implemented (MODP_768): NO_PROPOSAL_CHOSEN, in both roles.
  const a = initiatorKeyShare(DhGroup.MODP_768);
  const b = responderRespond(DhGroup.MODP_768, new Uint8Array(96));
  assert.deepEqual(a.ok ? undefined : [a.code, a.notify], ['UNSUPPORTED', NotifyType.NO_PROPOSAL_CHOSEN]);
  assert.deepEqual(b.ok ? undefined : [b.code, b.notify], ['UNSUPPORTED', NotifyType.NO_PROPOSAL_CHOSEN]);
});

test('a hybrid X25519 + ML-KEM-768 IKE SA: both sides derive the same keys and IntAuth', () => {
  const prf = prf384;
  const [ni, nr, spiI, spiR] = [randomBytes(32), randomBytes(32), randomBytes(8), randomBytes(8)];
  // IKE_SA_INIT with X25519.
  const i0 = ok(initiatorKeyShare(DhGroup.CURVE25519)).initiator;
  const r0 = ok(responderRespond(DhGroup.CURVE25519, i0.share));
  const gI = ok(i0.finish(r0.share)).secret;
  const keys0 = [gI.bytes(), r0.secret.bytes()].map((g) =>
    deriveIkeSaKeys(prf, gcm256, skeyseed(prf, ni, nr, g), ni, nr, spiI, spiR),
  );
  // IKE_INTERMEDIATE #1 with ML-KEM-768 (ADDKE1), MACed with SK_p(0), then the key update.
  const i1 = ok(initiatorKeyShare(DhGroup.ML_KEM_768)).initiator;
  const r1 = ok(responderRespond(DhGroup.ML_KEM_768, i1.share));
  const sk1 = ok(i1.finish(r1.share)).secret;
  const req = sample(1).msg;
  const resp = sample(1, 0x20).msg;
  const sides = [
    { k0: keys0[0]!, sk: sk1.bytes() },
    { k0: keys0[1]!, sk: r1.secret.bytes() },
  ].map(({ k0, sk }) => {
    const intI = intAuthStep(prf.hash, k0.skPi, undefined, req);
    const intR = intAuthStep(prf.hash, k0.skPr, undefined, resp);
    const k1 = additionalKeyUpdate(prf, gcm256, k0.skD, sk, ni, nr, spiI, spiR);
    return { k1, intAuth: intAuthOctets(intI, intR, 2) };
  });
  assert.equal(toHex(sides[0]!.k1.skEi), toHex(sides[1]!.k1.skEi));
  assert.equal(toHex(sides[0]!.k1.skPr), toHex(sides[1]!.k1.skPr));
  assert.equal(toHex(sides[0]!.intAuth), toHex(sides[1]!.intAuth));
  // The update really changed every key.
  assert.notEqual(toHex(sides[0]!.k1.skD), toHex(keys0[0]!.skD));
  assert.notEqual(toHex(sides[0]!.k1.skEi), toHex(keys0[0]!.skEi));
});
