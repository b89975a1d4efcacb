// Known-answer tests against RFC vectors: RFC 4231 (HMAC-SHA2), RFC 5903 §8 (ECP groups 19/20/21),
// RFC 7748 §6 (X25519/X448), RFC 8032 §7.1 (Ed25519), RFC 8439 §2.8.2 (ChaCha20-Poly1305),
// McGrew-Viega GCM test cases 4 and 16, RFC 3602 §4 (AES-CBC).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createCipheriv, createPrivateKey, createPublicKey, sign, verify } from 'node:crypto';
import { prf, type HashName } from '../../src/crypto/prf.ts';
import { importKeyExchange } from '../../src/crypto/ke.ts';
import { createSkCipher } from '../../src/crypto/sk.ts';
import { EncrId } from '../../src/codec/iana.ts';
import { hex, loadVectors, toHex } from './util.ts';

interface Kat {
  rfc4231_hmac: {
    case: number;
    key: string;
    data: string;
    sha256?: string;
    sha384?: string;
    sha512?: string;
  }[];
  rfc5903_ecp: { group: number; i: string; gi: string; r: string; gr: string; gir: string }[];
  rfc7748_dh: {
    group: number;
    alicePriv: string;
    alicePub: string;
    bobPriv: string;
    bobPub: string;
    shared: string;
  }[];
  rfc8032_ed25519: { test: number; secret: string; public: string; message: string; signature: string }[];
  rfc8439_chacha20poly1305: {
    key: string;
    nonce: string;
    aad: string;
    plaintext: string;
    ciphertext: string;
    tag: string;
  };
  gcm_mcgrew_viega: {
    case: number;
    key: string;
    iv: string;
    aad: string;
    plaintext: string;
    ciphertext: string;
    tag: string;
  }[];
  rfc3602_aes_cbc: { case: number; key: string; iv: string; plaintext: string; ciphertext: string }[];
}
const V = loadVectors<Kat>('kat.json');

test('RFC 4231: prf() reproduces the HMAC-SHA-256/384/512 test cases', () => {
  let checked = 0;
  for (const v of V.rfc4231_hmac) {
    for (const h of ['sha256', 'sha384', 'sha512'] as HashName[]) {
      const want = v[h];
      if (!want) continue;
      assert.equal(toHex(prf(h, hex(v.key), hex(v.data))), want, `case ${v.case} ${h}`);
      checked++;
    }
  }
  assert.equal(checked, 8);
});

test('RFC 5903 §8: ECP groups 19, 20, 21 give the published public values and g^ir (x only)', () => {
  for (const v of V.rfc5903_ecp) {
    const i = importKeyExchange(v.group, hex(v.i));
    const r = importKeyExchange(v.group, hex(v.r));
    assert.equal(toHex(i.publicKey), v.gi, `group ${v.group} gi`);
    assert.equal(toHex(r.publicKey), v.gr, `group ${v.group} gr`);
    assert.equal(toHex(i.computeSecret(hex(v.gr))), v.gir, `group ${v.group} initiator g^ir`);
    assert.equal(toHex(r.computeSecret(hex(v.gi))), v.gir, `group ${v.group} responder g^ir`);
  }
});

test('RFC 7748 §6: X25519 and X448 public keys and shared secrets', () => {
  for (const v of V.rfc7748_dh) {
    const a = importKeyExchange(v.group, hex(v.alicePriv));
    const b = importKeyExchange(v.group, hex(v.bobPriv));
    assert.equal(toHex(a.publicKey), v.alicePub);
    assert.equal(toHex(b.publicKey), v.bobPub);
    assert.equal(toHex(a.computeSecret(hex(v.bobPub))), v.shared);
    assert.equal(toHex(b.computeSecret(hex(v.alicePub))), v.shared);
  }
});

test('RFC 8032 §7.1: Ed25519 signatures are deterministic and match the vectors', () => {
  const pkcs8 = (seed: string) =>
    Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), hex(seed)]);
  for (const v of V.rfc8032_ed25519) {
    const priv = createPrivateKey({ key: pkcs8(v.secret), format: 'der', type: 'pkcs8' });
    const pub = createPublicKey(priv);
    assert.equal(toHex(pub.export({ format: 'der', type: 'spki' }).subarray(12)), v.public);
    assert.equal(toHex(sign(null, hex(v.message), priv)), v.signature, `test ${v.test}`);
    assert.ok(verify(null, hex(v.message), pub, hex(v.signature)));
  }
});

test('RFC 8439 §2.8.2: ChaCha20-Poly1305, directly and through the RFC 7634 SK framing', () => {
  const v = V.rfc8439_chacha20poly1305;
  const c = createCipheriv('chacha20-poly1305', hex(v.key), hex(v.nonce), { authTagLength: 16 });
  c.setAAD(hex(v.aad), { plaintextLength: v.plaintext.length / 2 });
  const ct = Buffer.concat([c.update(hex(v.plaintext)), c.final()]);
  assert.equal(toHex(ct), v.ciphertext);
  assert.equal(toHex(c.getAuthTag()), v.tag);
  // RFC 7634 §2: nonce = salt (last 4 bytes of the key material) | 8-byte IV carried in the payload.
  const sk = createSkCipher({ encr: EncrId.CHACHA20_POLY1305 }, { encKey: hex(v.key + v.nonce.slice(0, 8)) });
  const body = hex(v.nonce.slice(8) + v.ciphertext + v.tag);
  const plain = hex(v.plaintext);
  const padLen = plain[plain.length - 1]!; // the last plaintext byte is read as the pad length
  assert.equal(toHex(sk.open(hex(v.aad), body)), toHex(plain.subarray(0, plain.length - 1 - padLen)));
});

test('McGrew-Viega GCM test cases 4 and 16, directly and through the RFC 5282 SK framing', () => {
  for (const v of V.gcm_mcgrew_viega) {
    const bits = (v.key.length / 2) * 8;
    const c = createCipheriv(`aes-${bits}-gcm` as 'aes-128-gcm', hex(v.key), hex(v.iv), {
      authTagLength: 16,
    });
    c.setAAD(hex(v.aad));
    assert.equal(toHex(Buffer.concat([c.update(hex(v.plaintext)), c.final()])), v.ciphertext);
    assert.equal(toHex(c.getAuthTag()), v.tag, `case ${v.case}`);
    // RFC 5282 §3.1: nonce = salt(4) | IV(8); the salt is the last 4 bytes of the key material.
    const sk = createSkCipher(
      { encr: EncrId.AES_GCM_16, keyLen: bits },
      { encKey: hex(v.key + v.iv.slice(0, 8)) },
    );
    const plain = hex(v.plaintext);
    const padLen = plain[plain.length - 1]!;
    const out = sk.open(hex(v.aad), hex(v.iv.slice(8) + v.ciphertext + v.tag));
    assert.equal(toHex(out), toHex(plain.subarray(0, plain.length - 1 - padLen)));
  }
});

test('RFC 3602 §4: AES-128-CBC cases 1 and 2', () => {
  for (const v of V.rfc3602_aes_cbc) {
    const c = createCipheriv('aes-128-cbc', hex(v.key), hex(v.iv)).setAutoPadding(false);
    assert.equal(
      toHex(Buffer.concat([c.update(hex(v.plaintext)), c.final()])),
      v.ciphertext,
      `case ${v.case}`,
    );
  }
});
