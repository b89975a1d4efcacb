// Transform registry: lookups by (type, id, key length) and the ESP -> XFRM kernel mapping.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getCiphers } from 'node:crypto';
import { DhGroup, EncrId, IntegId, PrfId, TransformType } from '../../src/codec/iana.ts';
import {
  ENCR_ALGORITHMS,
  espKernelAlgs,
  lookupEncr,
  lookupInteg,
  lookupKeGroup,
  lookupPrf,
  lookupTransform,
} from '../../src/crypto/registry.ts';

test('lookupTransform resolves implemented transforms and refuses the rest', () => {
  assert.deepEqual(
    lookupTransform(TransformType.ENCR, EncrId.AES_GCM_16, 128),
    lookupEncr(EncrId.AES_GCM_16, 128),
  );
  assert.equal(lookupEncr(EncrId.AES_GCM_16, 128)?.keyBits, 128);
  const gcm = lookupEncr(EncrId.AES_GCM_16, 256)!;
  assert.deepEqual(
    [gcm.keyLen, gcm.keyMatLen, gcm.alg.ivLen, gcm.alg.icvLen, gcm.alg.saltLen],
    [32, 36, 8, 16, 4],
  );
  const chacha = lookupEncr(EncrId.CHACHA20_POLY1305)!;
  assert.deepEqual([chacha.keyLen, chacha.keyMatLen, chacha.alg.saltLen], [32, 36, 4]); // RFC 7634 §2
  assert.equal(lookupEncr(EncrId.AES_CBC, 128)!.keyMatLen, 16);
  assert.equal(lookupEncr(EncrId.AES_CBC), undefined, 'AES-CBC needs KEY_LENGTH (RFC 7296 §3.3.5)');
  assert.equal(lookupEncr(EncrId.AES_GCM_16, 64), undefined);
  assert.equal(lookupEncr(EncrId.CAMELLIA_CBC, 128), undefined);
  assert.equal(lookupEncr(EncrId.AES_CCM_16, 192)?.keyMatLen, 27, 'RFC 4309 §7.1: key | 3-octet salt');
  assert.equal(lookupTransform(TransformType.PRF, PrfId.HMAC_SHA2_384), lookupPrf(PrfId.HMAC_SHA2_384));
  assert.equal(lookupPrf(PrfId.HMAC_SHA2_384)?.hash, 'sha384');
  assert.equal(
    lookupTransform(TransformType.PRF, PrfId.HMAC_SHA2_384, 128),
    undefined,
    'no KEY_LENGTH on PRFs',
  );
  assert.equal(lookupTransform(TransformType.PRF, PrfId.AES128_CMAC), undefined);
  assert.equal(lookupTransform(TransformType.KE, DhGroup.CURVE448), lookupKeGroup(DhGroup.CURVE448));
  assert.equal(lookupKeGroup(DhGroup.CURVE448)?.publicLen, 56);
  assert.equal(lookupTransform(TransformType.KE, DhGroup.MODP_768), undefined);
  assert.equal(lookupTransform(TransformType.ESN, 0), undefined);
  const integ = lookupInteg(IntegId.HMAC_SHA2_512_256)!;
  assert.deepEqual([integ.keyLen, integ.icvLen], [64, 32]); // RFC 4868 §2.1.1
});

test('every ENCR entry names a cipher node:crypto has', () => {
  const have = new Set(getCiphers());
  for (const a of ENCR_ALGORITHMS.filter((x) => x.mode !== 'null'))
    for (const bits of a.keyBits) assert.ok(have.has(a.nodeCipher(bits)), a.nodeCipher(bits));
});

test('espKernelAlgs maps negotiated ESP proposals to XFRM algorithm names and key lengths', () => {
  assert.deepEqual(espKernelAlgs(lookupEncr(EncrId.AES_GCM_16, 128)!), {
    aead: { name: 'rfc4106(gcm(aes))', icvBits: 128, keyLen: 20 },
  });
  assert.deepEqual(espKernelAlgs(lookupEncr(EncrId.CHACHA20_POLY1305)!), {
    aead: { name: 'rfc7539esp(chacha20,poly1305)', icvBits: 128, keyLen: 36 },
  });
  const cases: [number, string, number][] = [
    [IntegId.HMAC_SHA2_256_128, 'hmac(sha256)', 128],
    [IntegId.HMAC_SHA2_384_192, 'hmac(sha384)', 192],
    [IntegId.HMAC_SHA2_512_256, 'hmac(sha512)', 256],
  ];
  for (const [id, name, trunc] of cases) {
    assert.deepEqual(espKernelAlgs(lookupEncr(EncrId.AES_CBC, 256)!, lookupInteg(id)!), {
      crypt: { name: 'cbc(aes)', keyLen: 32 },
      auth: { name, truncBits: trunc, keyLen: trunc / 4 },
    });
  }
  assert.equal(espKernelAlgs(lookupEncr(EncrId.AES_CBC, 128)!), undefined, 'CBC without INTEG');
  assert.equal(
    espKernelAlgs(lookupEncr(EncrId.AES_GCM_16, 256)!, lookupInteg(12)!),
    undefined,
    'AEAD with INTEG',
  );
});
