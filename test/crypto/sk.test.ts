// SK payload protection (RFC 7296 §3.14, RFC 5282, RFC 7634): round trips, tamper detection, padding
// and malformed-input handling for every cipher ikeway implements.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import fc from 'fast-check';
import { createSkCipher, type SkTransforms } from '../../src/crypto/sk.ts';
import type { SkCipher as CodecSkCipher } from '../../src/codec/protect.ts';
import { EncrId, IntegId } from '../../src/codec/iana.ts';
import { throwsCode, toHex } from './util.ts';

interface Suite {
  name: string;
  t: SkTransforms;
  encLen: number;
  integLen?: number;
  iv: number;
  icv: number;
}
const SUITES: Suite[] = [
  { name: 'AES-GCM-16-128', t: { encr: EncrId.AES_GCM_16, keyLen: 128 }, encLen: 20, iv: 8, icv: 16 },
  { name: 'AES-GCM-16-256', t: { encr: EncrId.AES_GCM_16, keyLen: 256 }, encLen: 36, iv: 8, icv: 16 },
  { name: 'ChaCha20-Poly1305', t: { encr: EncrId.CHACHA20_POLY1305 }, encLen: 36, iv: 8, icv: 16 },
  {
    name: 'AES-CBC-128 + HMAC-SHA2-256-128',
    t: { encr: EncrId.AES_CBC, keyLen: 128, integ: IntegId.HMAC_SHA2_256_128 },
    ...{ encLen: 16, integLen: 32, iv: 16, icv: 16 },
  },
  {
    name: 'AES-CBC-256 + HMAC-SHA2-384-192',
    t: { encr: EncrId.AES_CBC, keyLen: 256, integ: IntegId.HMAC_SHA2_384_192 },
    ...{ encLen: 32, integLen: 48, iv: 16, icv: 24 },
  },
  {
    name: 'AES-CBC-256 + HMAC-SHA2-512-256',
    t: { encr: EncrId.AES_CBC, keyLen: 256, integ: IntegId.HMAC_SHA2_512_256 },
    ...{ encLen: 32, integLen: 64, iv: 16, icv: 32 },
  },
  // RFC 5282: GCM and CCM with 8/12-octet ICVs (CCM: 3-octet salt); RFC 5930 AES-CTR (4-octet nonce,
  // 8-octet IV); RFC 2451 3DES; RFC 2404 HMAC-SHA1-96, RFC 2403 HMAC-MD5-96, RFC 3566 AES-XCBC-MAC-96.
  { name: 'AES-GCM-8-192', t: { encr: EncrId.AES_GCM_8, keyLen: 192 }, encLen: 28, iv: 8, icv: 8 },
  { name: 'AES-GCM-12-128', t: { encr: EncrId.AES_GCM_12, keyLen: 128 }, encLen: 20, iv: 8, icv: 12 },
  { name: 'AES-CCM-8-128', t: { encr: EncrId.AES_CCM_8, keyLen: 128 }, encLen: 19, iv: 8, icv: 8 },
  { name: 'AES-CCM-12-256', t: { encr: EncrId.AES_CCM_12, keyLen: 256 }, encLen: 35, iv: 8, icv: 12 },
  { name: 'AES-CCM-16-192', t: { encr: EncrId.AES_CCM_16, keyLen: 192 }, encLen: 27, iv: 8, icv: 16 },
  {
    name: 'AES-CTR-128 + HMAC-SHA1-96',
    t: { encr: EncrId.AES_CTR, keyLen: 128, integ: IntegId.HMAC_SHA1_96 },
    ...{ encLen: 20, integLen: 20, iv: 8, icv: 12 },
  },
  {
    name: 'AES-CTR-256 + AES-XCBC-96',
    t: { encr: EncrId.AES_CTR, keyLen: 256, integ: IntegId.AES_XCBC_96 },
    ...{ encLen: 36, integLen: 16, iv: 8, icv: 12 },
  },
  {
    name: '3DES + HMAC-MD5-96',
    t: { encr: EncrId.TRIPLE_DES, integ: IntegId.HMAC_MD5_96 },
    ...{ encLen: 24, integLen: 16, iv: 8, icv: 12 },
  },
  {
    name: 'AES-CBC-192 + AES-XCBC-96',
    t: { encr: EncrId.AES_CBC, keyLen: 192, integ: IntegId.AES_XCBC_96 },
    ...{ encLen: 24, integLen: 16, iv: 16, icv: 12 },
  },
];

function make(s: Suite) {
  const keys = { encKey: randomBytes(s.encLen), ...(s.integLen && { integKey: randomBytes(s.integLen) }) };
  return { keys, out: createSkCipher(s.t, keys), in: createSkCipher(s.t, keys) };
}

test('seal/open round trip for every cipher and plaintext length 0..70 (fast-check over contents)', () => {
  for (const s of SUITES) {
    const { out, in: inbound } = make(s);
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 70 }),
        fc.uint8Array({ minLength: 32, maxLength: 40 }),
        (plain, aad) => {
          const body = out.seal(aad, plain);
          assert.equal(body.length, out.sealedLength(plain.length), s.name);
          assert.equal(toHex(inbound.open(aad, body)), toHex(plain), s.name);
        },
      ),
      { numRuns: 60 },
    );
  }
});

test('CBC padding: (plain + pad + 1) is a multiple of 16 and the ICV covers aad | IV | ciphertext', () => {
  const s = SUITES[3]!;
  const { keys, out } = make(s);
  for (let n = 0; n <= 33; n++) {
    const aad = randomBytes(32);
    const body = out.seal(aad, new Uint8Array(n).fill(0xab));
    const ctLen = body.length - s.iv - s.icv;
    assert.equal(ctLen % 16, 0);
    assert.equal(ctLen, Math.ceil((n + 1) / 16) * 16, `n=${n}`);
    const icv = createHmac('sha256', keys.integKey!)
      .update(aad)
      .update(body.subarray(0, s.iv + ctLen))
      .digest();
    assert.equal(toHex(body.subarray(s.iv + ctLen)), toHex(icv.subarray(0, 16)));
    const d = createDecipheriv('aes-128-cbc', keys.encKey, body.subarray(0, 16)).setAutoPadding(false);
    const plain = Buffer.concat([d.update(body.subarray(16, 16 + ctLen)), d.final()]);
    assert.equal(plain[plain.length - 1], ctLen - n - 1); // pad length byte last (RFC 7296 §3.14)
  }
});

test('AEAD adds no padding (pad length 0) and IVs are a per-SA counter that never repeats', () => {
  for (const s of SUITES.slice(0, 3)) {
    const { out } = make(s);
    assert.equal(out.sealedLength(10), s.iv + 10 + 1 + s.icv);
    const ivs = new Set<string>();
    for (let i = 0; i < 50; i++)
      ivs.add(toHex(out.seal(new Uint8Array(28), new Uint8Array(4)).subarray(0, 8)));
    assert.equal(ivs.size, 50);
  }
  const ivs = new Set<string>();
  const { out } = make(SUITES[3]!);
  for (let i = 0; i < 50; i++)
    ivs.add(toHex(out.seal(new Uint8Array(28), new Uint8Array(4)).subarray(0, 16)));
  assert.equal(ivs.size, 50);
});

test('every single bit flip of the body, and a flip in the AAD, fails with AUTH_FAILED', () => {
  for (const s of SUITES) {
    const { out, in: inbound } = make(s);
    const aad = randomBytes(32);
    const body = out.seal(aad, randomBytes(21));
    for (let bit = 0; bit < body.length * 8; bit++) {
      const t = Uint8Array.from(body);
      t[bit >> 3]! ^= 1 << (bit & 7);
      throwsCode(() => inbound.open(aad, t), 'AUTH_FAILED');
    }
    const badAad = Uint8Array.from(aad);
    badAad[3]! ^= 0x80;
    throwsCode(() => inbound.open(badAad, body), 'AUTH_FAILED');
  }
});

test('a body sealed under a different key fails AUTH', () => {
  for (const s of SUITES) {
    const a = make(s);
    const b = make(s);
    const aad = randomBytes(28);
    throwsCode(() => b.in.open(aad, a.out.seal(aad, randomBytes(9))), 'AUTH_FAILED');
  }
});

test('truncated or misaligned bodies are MALFORMED, checked before any crypto', () => {
  for (const s of SUITES) {
    const { out, in: inbound } = make(s);
    const body = out.seal(new Uint8Array(28), randomBytes(5));
    throwsCode(() => inbound.open(new Uint8Array(28), body.subarray(0, s.iv + s.icv)), 'MALFORMED');
    throwsCode(() => inbound.open(new Uint8Array(28), new Uint8Array(0)), 'MALFORMED');
    if (s.t.encr === EncrId.AES_CBC) {
      throwsCode(
        () => inbound.open(new Uint8Array(28), body.subarray(0, body.length - 1)),
        'MALFORMED',
        /block/,
      );
    }
  }
});

test('a pad length larger than the decrypted plaintext is MALFORMED (authentic but bad padding)', () => {
  const s = SUITES[3]!;
  const { keys, in: inbound } = make(s);
  // Hand-build a CBC body whose single block ends in pad length 200.
  const block = new Uint8Array(16);
  block[15] = 200;
  const ivBuf = randomBytes(16);
  const c = createCipheriv('aes-128-cbc', keys.encKey, ivBuf).setAutoPadding(false);
  const ct = Buffer.concat([c.update(block), c.final()]);
  const aad = randomBytes(28);
  const icv = createHmac('sha256', keys.integKey!)
    .update(aad)
    .update(ivBuf)
    .update(ct)
    .digest()
    .subarray(0, 16);
  throwsCode(() => inbound.open(aad, Buffer.concat([ivBuf, ct, icv])), 'MALFORMED', /pad length 200/);
  // The edge: pad length 15 in one block is the maximum that fits and yields an empty plaintext.
  block[15] = 15;
  const c2 = createCipheriv('aes-128-cbc', keys.encKey, ivBuf).setAutoPadding(false);
  const ct2 = Buffer.concat([c2.update(block), c2.final()]);
  const icv2 = createHmac('sha256', keys.integKey!)
    .update(aad)
    .update(ivBuf)
    .update(ct2)
    .digest()
    .subarray(0, 16);
  assert.equal(inbound.open(aad, Buffer.concat([ivBuf, ct2, icv2])).length, 0);
});

test('bad transform/key combinations are typed errors and ciphers never print keys', () => {
  throwsCode(
    () => createSkCipher({ encr: EncrId.AES_GCM_16, keyLen: 64 }, { encKey: new Uint8Array(12) }),
    'UNSUPPORTED',
  );
  throwsCode(
    () => createSkCipher({ encr: EncrId.AES_GCM_16, keyLen: 128 }, { encKey: new Uint8Array(16) }),
    'INVALID_KEY',
  );
  throwsCode(
    () => createSkCipher({ encr: EncrId.AES_GCM_16, keyLen: 128, integ: 12 }, { encKey: new Uint8Array(20) }),
    'UNSUPPORTED',
  );
  throwsCode(
    () => createSkCipher({ encr: EncrId.AES_CBC, keyLen: 128 }, { encKey: new Uint8Array(16) }),
    'UNSUPPORTED',
  );
  throwsCode(
    () =>
      createSkCipher(
        { encr: EncrId.AES_CBC, keyLen: 128, integ: 12 },
        { encKey: new Uint8Array(16), integKey: new Uint8Array(16) },
      ),
    'INVALID_KEY',
  );
  const { out } = make(SUITES[0]!);
  assert.match(inspect(out), /redacted/);
});

test('the SkCipher satisfies the codec SkCipher contract (src/codec/protect.ts)', () => {
  const c: CodecSkCipher = make(SUITES[2]!).out; // compile-time check of the structural interface
  const aad = randomBytes(32);
  assert.equal(c.sealedLength(3), 8 + 3 + 1 + 16);
  assert.equal(toHex(c.open(aad, c.seal(aad, Uint8Array.of(1, 2, 3)))), '010203');
});
