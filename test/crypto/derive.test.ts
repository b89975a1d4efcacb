// prf+ and the IKEv2 key schedule (RFC 7296 §2.13, §2.14, §2.17, §2.18), cross-checked against an
// independent @noble/hashes implementation over random inputs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import fc from 'fast-check';
import { prfPlus, prf, type HashName } from '../../src/crypto/prf.ts';
import {
  deriveChildSaKeys,
  deriveIkeSaKeys,
  keyLengths,
  rekeySkeyseed,
  skeyseed,
} from '../../src/crypto/derive.ts';
import { lookupEncr, lookupInteg, lookupPrf } from '../../src/crypto/registry.ts';
import { EncrId, IntegId, PrfId } from '../../src/codec/iana.ts';
import { cat, refIkeKeys, refPrf, refPrfPlus, type RefHash } from './reference.ts';
import { throwsCode, toHex } from './util.ts';

const hashes: HashName[] = ['sha256', 'sha384', 'sha512'];
const bytes = (min: number, max: number) => fc.uint8Array({ minLength: min, maxLength: max });

test('prf and prf+ agree with an independent implementation (fast-check)', () => {
  fc.assert(
    fc.property(
      fc.constantFrom(...hashes),
      bytes(1, 80),
      bytes(0, 100),
      fc.integer({ min: 0, max: 700 }),
      (h, k, s, n) => {
        assert.equal(toHex(prf(h, k, s)), toHex(refPrf(h, k, s)));
        assert.equal(toHex(prfPlus(h, k, s, n)), toHex(refPrfPlus(h, k, s, n)));
      },
    ),
    { numRuns: 150 },
  );
});

test('prf+ output is a prefix-stable stream and refuses more than 255 blocks (RFC 7296 §2.13)', () => {
  const k = new Uint8Array(32).fill(7);
  const s = new Uint8Array(10).fill(9);
  const long = prfPlus('sha256', k, s, 255 * 32);
  assert.equal(toHex(prfPlus('sha256', k, s, 45)), toHex(long.subarray(0, 45)));
  throwsCode(() => prfPlus('sha256', k, s, 255 * 32 + 1), 'MALFORMED', /255/);
  throwsCode(() => prfPlus('sha256', k, s, -1), 'MALFORMED');
});

const spi = (b: number) => new Uint8Array(8).fill(b);

test('RFC 7296 §2.14: SKEYSEED and the seven SK_* keys match the reference for every PRF/transform mix', () => {
  const suites = [
    { prf: PrfId.HMAC_SHA2_256, encr: EncrId.AES_GCM_16, bits: 256 },
    { prf: PrfId.HMAC_SHA2_384, encr: EncrId.AES_CBC, bits: 128, integ: IntegId.HMAC_SHA2_384_192 },
    { prf: PrfId.HMAC_SHA2_512, encr: EncrId.CHACHA20_POLY1305, bits: undefined },
    { prf: PrfId.HMAC_SHA2_256, encr: EncrId.AES_CBC, bits: 256, integ: IntegId.HMAC_SHA2_256_128 },
  ];
  fc.assert(
    fc.property(
      fc.constantFrom(...suites),
      bytes(16, 64),
      bytes(16, 64),
      bytes(32, 256),
      (s, ni, nr, gir) => {
        const p = lookupPrf(s.prf)!;
        const encr = lookupEncr(s.encr, s.bits)!;
        const integ = s.integ ? lookupInteg(s.integ) : undefined;
        const lens = keyLengths(encr, integ);
        const seed = skeyseed(p, ni, nr, gir);
        const keys = deriveIkeSaKeys(p, lens, seed, ni, nr, spi(1), spi(2));
        const ref = refIkeKeys(
          p.hash as RefHash, // the suites above use SHA-2 PRFs only
          p.keyLen,
          lens.encrKeyLen,
          lens.integKeyLen,
          ni,
          nr,
          gir,
          spi(1),
          spi(2),
        );
        assert.equal(toHex(seed), toHex(ref.skeyseed));
        for (const [mine, theirs] of [
          [keys.skD, ref.d],
          [keys.skAi, ref.ai],
          [keys.skAr, ref.ar],
          [keys.skEi, ref.ei],
          [keys.skEr, ref.er],
          [keys.skPi, ref.pi],
          [keys.skPr, ref.pr],
        ] as const) {
          assert.equal(toHex(mine), toHex(theirs));
        }
        // RFC 5282 §7: AEAD has no SK_a*; GCM/ChaCha keys include the 4-byte salt.
        assert.equal(keys.skAi.length, encr.alg.aead ? 0 : integ!.keyLen);
        assert.equal(keys.skEi.length, encr.keyLen + encr.alg.saltLen);
      },
    ),
    { numRuns: 40 },
  );
});

test('deriveIkeSaKeys rejects SPIs that are not 8 bytes', () => {
  const p = lookupPrf(PrfId.HMAC_SHA2_256)!;
  throwsCode(
    () =>
      deriveIkeSaKeys(
        p,
        { encrKeyLen: 20, integKeyLen: 0 },
        new Uint8Array(32),
        spi(1),
        spi(2),
        spi(1),
        new Uint8Array(4),
      ),
    'MALFORMED',
    /SPIr/,
  );
});

test('RFC 7296 §2.18: rekey SKEYSEED = prf(SK_d(old), g^ir(new) | Ni | Nr)', () => {
  const p = lookupPrf(PrfId.HMAC_SHA2_384)!;
  fc.assert(
    fc.property(bytes(48, 48), bytes(32, 32), bytes(16, 32), bytes(16, 32), (skd, gir, ni, nr) => {
      assert.equal(toHex(rekeySkeyseed(p, skd, gir, ni, nr)), toHex(refPrf('sha384', skd, cat(gir, ni, nr))));
    }),
    { numRuns: 30 },
  );
});

test('RFC 7296 §2.17: Child SA KEYMAT, with and without PFS, initiator-to-responder first, encr before integ', () => {
  const p = lookupPrf(PrfId.HMAC_SHA2_256)!;
  fc.assert(
    fc.property(bytes(32, 32), bytes(16, 32), bytes(16, 32), fc.option(bytes(32, 32)), (skd, ni, nr, gir) => {
      const cbc = keyLengths(lookupEncr(EncrId.AES_CBC, 256)!, lookupInteg(IntegId.HMAC_SHA2_256_128)!);
      const k = deriveChildSaKeys(p, cbc, skd, ni, nr, gir ?? undefined);
      const seed = gir ? cat(gir, ni, nr) : cat(ni, nr);
      const ref = refPrfPlus('sha256', skd, seed, 2 * (32 + 32));
      assert.equal(toHex(k.encrI), toHex(ref.subarray(0, 32)));
      assert.equal(toHex(k.integI), toHex(ref.subarray(32, 64)));
      assert.equal(toHex(k.encrR), toHex(ref.subarray(64, 96)));
      assert.equal(toHex(k.integR), toHex(ref.subarray(96, 128)));
      const gcm = deriveChildSaKeys(p, keyLengths(lookupEncr(EncrId.AES_GCM_16, 128)!), skd, ni, nr);
      const refGcm = refPrfPlus('sha256', skd, cat(ni, nr), 40);
      assert.equal(toHex(gcm.encrI), toHex(refGcm.subarray(0, 20))); // 16-byte key + 4-byte salt
      assert.equal(toHex(gcm.encrR), toHex(refGcm.subarray(20, 40)));
      assert.equal(gcm.integI.length, 0);
    }),
    { numRuns: 30 },
  );
});

test('key containers wipe on destroy() and never print their bytes', () => {
  const p = lookupPrf(PrfId.HMAC_SHA2_256)!;
  const keys = deriveIkeSaKeys(
    p,
    { encrKeyLen: 36, integKeyLen: 0 },
    new Uint8Array(32).fill(1),
    spi(3),
    spi(4),
    spi(1),
    spi(2),
  );
  const skd = toHex(keys.skD);
  for (const shown of [inspect(keys), String(keys), JSON.stringify({ keys })]) {
    assert.ok(!shown.includes(skd.slice(0, 16)), shown);
    assert.match(shown, /redacted/);
  }
  assert.ok(keys.skEi.some((b) => b !== 0));
  keys.destroy();
  assert.equal(keys.destroyed, true);
  for (const b of [keys.skD, keys.skEi, keys.skEr, keys.skPi, keys.skPr]) assert.ok(b.every((x) => x === 0));
});
