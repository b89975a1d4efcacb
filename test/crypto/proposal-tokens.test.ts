// The one token grammar (src/crypto/proposal-tokens.ts) that both the config checker and the
// engine's proposal parser read: words to IANA transforms (RFC 7296 §3.3.2, RFC 9370) and back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DhGroup, EncrId, IntegId, PrfId, TransformType } from '../../src/codec/iana.ts';
import { PRF_FOR_INTEG, formatToken, isAead, parseToken } from '../../src/crypto/proposal-tokens.ts';

test('words name one transform each, with key lengths for variable-key ciphers', () => {
  const { ENCR, INTEG, PRF, KE } = TransformType;
  assert.deepEqual(parseToken('aes256gcm16'), { type: ENCR, id: EncrId.AES_GCM_16, keyLength: 256 });
  assert.deepEqual(parseToken('aes128gcm128'), { type: ENCR, id: EncrId.AES_GCM_16, keyLength: 128 });
  assert.deepEqual(parseToken('sha2_256'), { type: INTEG, id: IntegId.HMAC_SHA2_256_128 });
  assert.deepEqual(parseToken('prfsha256'), { type: PRF, id: PrfId.HMAC_SHA2_256 });
  assert.deepEqual(parseToken('mlkem768'), { type: KE, id: DhGroup.ML_KEM_768 });
  assert.deepEqual(parseToken('ke1_mlkem768'), { type: 6, id: DhGroup.ML_KEM_768 });
  for (const w of ['aes512', 'aes256ctr16', 'camellia128gcm', 'sha3', 'ke8_x25519', '']) {
    assert.equal(parseToken(w), undefined, w);
  }
});

test('formatToken gives back the first spelling of each transform', () => {
  for (const w of [
    'aes256',
    'aes128ctr',
    'aes256gcm16',
    'aes192ccm8',
    'chacha20poly1305',
    'sha256',
    'aescmac',
  ]) {
    assert.equal(formatToken(parseToken(w)!), w);
  }
  for (const w of ['prfsha384', 'x25519', 'mlkem1024', 'ke2_mlkem768', 'esn', 'noesn', 'modp2048s256']) {
    assert.equal(formatToken(parseToken(w)!), w);
  }
  assert.equal(formatToken(parseToken('sha')!), 'sha1');
  assert.equal(formatToken(parseToken('curve25519')!), 'x25519');
});

test('AEAD ciphers and the PRF implied by an integrity algorithm', () => {
  assert.ok(isAead(parseToken('aes256gcm16')!.id) && isAead(parseToken('chacha20poly1305')!.id));
  assert.ok(!isAead(parseToken('aes256')!.id));
  assert.equal(PRF_FOR_INTEG[parseToken('sha384')!.id], PrfId.HMAC_SHA2_384);
  assert.equal(PRF_FOR_INTEG[parseToken('aesxcbc')!.id], PrfId.AES128_XCBC);
});
