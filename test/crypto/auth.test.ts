// AUTH payload computation: shared keys (RFC 7296 §2.15), RFC 7427 digital signatures and the legacy
// RFC 4754 / RFC 7296 §3.8 methods; sign/verify round trips, cross-checks with @noble/curves, and failures
// on wrong keys, wrong or malformed AlgorithmIdentifiers and hashes that were not negotiated.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes, sign as nodeSign, type KeyObject } from 'node:crypto';
import fc from 'fast-check';
import { p256, p384 } from '@noble/curves/nist.js';
import { ed25519 } from '@noble/curves/ed25519.js';
import { pskAuth, signedOctets, verifyPskAuth, KEY_PAD } from '../../src/crypto/auth.ts';
import {
  algorithmIdentifier,
  signAuth,
  signLegacy,
  verifyAuth,
  verifyLegacy,
  type SignatureScheme,
} from '../../src/crypto/signature.ts';
import { AuthMethod, HashAlgorithm } from '../../src/codec/iana.ts';
import { cat, refPrf } from './reference.ts';
import { hex, throwsCode, toHex } from './util.ts';

const ec = (namedCurve: string) => generateKeyPairSync('ec', { namedCurve });
const KEYS = {
  p256: ec('prime256v1'),
  p384: ec('secp384r1'),
  p521: ec('secp521r1'),
  ed: generateKeyPairSync('ed25519'),
  rsa: generateKeyPairSync('rsa', { modulusLength: 2048 }),
};
const SCHEMES: [SignatureScheme, { privateKey: KeyObject; publicKey: KeyObject }][] = [
  ['ecdsa-sha256', KEYS.p256],
  ['ecdsa-sha384', KEYS.p384],
  ['ecdsa-sha512', KEYS.p521],
  ['ed25519', KEYS.ed],
  ['rsa-pss-sha256', KEYS.rsa],
  ['rsa-pss-sha384', KEYS.rsa],
  ['rsa-pss-sha512', KEYS.rsa],
  ['rsa-pkcs1-sha256', KEYS.rsa],
  ['rsa-pkcs1-sha384', KEYS.rsa],
  ['rsa-pkcs1-sha512', KEYS.rsa],
];

test('RFC 7296 §2.15: PSK AUTH = prf(prf(secret, "Key Pad for IKEv2"), SignedOctets), checked independently', () => {
  assert.equal(new TextDecoder().decode(KEY_PAD), 'Key Pad for IKEv2');
  assert.equal(KEY_PAD.length, 17);
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 1, maxLength: 64 }),
      fc.uint8Array({ maxLength: 300 }),
      (psk, octets) => {
        const auth = pskAuth('sha256', psk, octets);
        assert.equal(toHex(auth), toHex(refPrf('sha256', refPrf('sha256', psk, KEY_PAD), octets)));
        verifyPskAuth('sha256', psk, octets, auth);
        const bad = Uint8Array.from(auth);
        bad[0]! ^= 1;
        throwsCode(() => verifyPskAuth('sha256', psk, octets, bad), 'AUTH_FAILED');
        throwsCode(() => verifyPskAuth('sha256', psk, octets, auth.subarray(1)), 'AUTH_FAILED');
      },
    ),
    { numRuns: 50 },
  );
});

test('RFC 7296 §2.15: SignedOctets = RealMessage | peer Nonce | prf(SK_p, RestOfIDPayload)', () => {
  const s = {
    realMessage: randomBytes(300),
    peerNonce: randomBytes(32),
    skP: randomBytes(48),
    idPayloadBody: hex('01000000c0000201'),
  };
  const got = signedOctets('sha384', s);
  assert.equal(toHex(got), toHex(cat(s.realMessage, s.peerNonce, refPrf('sha384', s.skP, s.idPayloadBody))));
});

test('RFC 7427 Appendix A: AlgorithmIdentifier encodings', () => {
  const want: [SignatureScheme, string][] = [
    ['ecdsa-sha256', '300a06082a8648ce3d040302'],
    ['ecdsa-sha384', '300a06082a8648ce3d040303'],
    ['ecdsa-sha512', '300a06082a8648ce3d040304'],
    ['ed25519', '300506032b6570'],
    ['rsa-pkcs1-sha256', '300d06092a864886f70d01010b0500'],
    ['rsa-pkcs1-sha512', '300d06092a864886f70d01010d0500'],
    [
      'rsa-pss-sha256',
      '304106092a864886f70d01010a3034a00f300d06096086480165030402010500a11c301a06092a864886f70d010108' +
        '300d06096086480165030402010500a203020120',
    ],
  ];
  for (const [s, h] of want) assert.equal(toHex(algorithmIdentifier(s)), h, s);
});

test('RFC 7427: every scheme signs and verifies; AUTH data = len | AlgorithmIdentifier | signature', () => {
  const octets = randomBytes(200);
  for (const [scheme, kp] of SCHEMES) {
    const auth = signAuth(scheme, kp.privateKey, octets);
    const alg = algorithmIdentifier(scheme);
    assert.equal(auth[0], alg.length);
    assert.equal(toHex(auth.subarray(1, 1 + alg.length)), toHex(alg));
    assert.equal(verifyAuth(kp.publicKey, auth, octets), scheme);
    const other = Uint8Array.from(octets);
    other[7]! ^= 4;
    throwsCode(() => verifyAuth(kp.publicKey, auth, other), 'AUTH_FAILED', /does not verify/);
  }
});

test('verification fails on a wrong key of the same type and on a key of another type', () => {
  const octets = randomBytes(64);
  const wrong: Record<string, KeyObject> = {
    ec: ec('prime256v1').publicKey,
    ed: generateKeyPairSync('ed25519').publicKey,
    rsa: generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey,
  };
  for (const [scheme, kp] of SCHEMES) {
    const auth = signAuth(scheme, kp.privateKey, octets);
    const kind = scheme.startsWith('rsa') ? 'rsa' : scheme === 'ed25519' ? 'ed' : 'ec';
    if (scheme === 'ecdsa-sha256') throwsCode(() => verifyAuth(wrong.ec!, auth, octets), 'AUTH_FAILED');
    if (kind !== 'ec')
      throwsCode(() => verifyAuth(wrong[kind]!, auth, octets), 'AUTH_FAILED', /does not verify/);
    const otherKind = kind === 'ed' ? 'rsa' : 'ed';
    throwsCode(() => verifyAuth(wrong[otherKind]!, auth, octets), 'AUTH_FAILED', /key type/);
  }
  throwsCode(() => signAuth('ed25519', KEYS.p256.privateKey, octets), 'INVALID_KEY');
});

function withAlg(auth: Uint8Array, newAlg: Uint8Array): Uint8Array {
  const sig = auth.subarray(1 + auth[0]!);
  return cat(Uint8Array.of(newAlg.length), newAlg, sig);
}

test('a signature relabelled with another AlgorithmIdentifier or a non-negotiated hash fails', () => {
  const octets = randomBytes(64);
  const ecAuth = signAuth('ecdsa-sha256', KEYS.p256.privateKey, octets);
  throwsCode(
    () => verifyAuth(KEYS.p256.publicKey, withAlg(ecAuth, algorithmIdentifier('ecdsa-sha384')), octets),
    'AUTH_FAILED',
  );
  const pss = signAuth('rsa-pss-sha256', KEYS.rsa.privateKey, octets);
  throwsCode(
    () => verifyAuth(KEYS.rsa.publicKey, withAlg(pss, algorithmIdentifier('rsa-pkcs1-sha256')), octets),
    'AUTH_FAILED',
  );
  throwsCode(
    () => verifyAuth(KEYS.rsa.publicKey, withAlg(pss, algorithmIdentifier('rsa-pss-sha384')), octets),
    'AUTH_FAILED',
  );
  throwsCode(
    () => verifyAuth(KEYS.p256.publicKey, ecAuth, octets, { allowedHashes: [HashAlgorithm.SHA2_384] }),
    'AUTH_FAILED',
    /not negotiated/,
  );
  const edAuth = signAuth('ed25519', KEYS.ed.privateKey, octets);
  throwsCode(
    () => verifyAuth(KEYS.ed.publicKey, edAuth, octets, { allowedHashes: [HashAlgorithm.SHA2_256] }),
    'AUTH_FAILED',
  );
  assert.equal(
    verifyAuth(KEYS.ed.publicKey, edAuth, octets, { allowedHashes: [HashAlgorithm.IDENTITY] }),
    'ed25519',
  );
});

test('malformed or unsupported AlgorithmIdentifiers are rejected strictly', () => {
  const octets = randomBytes(32);
  const auth = signAuth('ecdsa-sha256', KEYS.p256.privateKey, octets);
  const pk = KEYS.p256.publicKey;
  const bad: [string, Uint8Array, 'MALFORMED' | 'UNSUPPORTED'][] = [
    ['length byte past the end', Uint8Array.of(200, ...auth.subarray(1)), 'MALFORMED'],
    ['empty', new Uint8Array(0), 'MALFORMED'],
    ['trailing byte inside', withAlg(auth, hex('300b06082a8648ce3d04030200')), 'MALFORMED'],
    ['non-minimal length', withAlg(auth, hex('30810a06082a8648ce3d040302')), 'MALFORMED'],
    ['NULL params on ECDSA', withAlg(auth, hex('300c06082a8648ce3d0403020500')), 'MALFORMED'],
    ['not a SEQUENCE', withAlg(auth, hex('310a06082a8648ce3d040302')), 'MALFORMED'],
    ['unknown OID (sha1WithRSA)', withAlg(auth, hex('300d06092a864886f70d0101050500')), 'UNSUPPORTED'],
  ];
  for (const [what, data, code] of bad) {
    assert.throws(() => verifyAuth(pk, data, octets), { code }, what);
  }
  // PSS with a salt of 20 instead of the hash length, and with MGF1 over another hash.
  const pss = signAuth('rsa-pss-sha256', KEYS.rsa.privateKey, octets);
  const alg = toHex(algorithmIdentifier('rsa-pss-sha256'));
  throwsCode(
    () => verifyAuth(KEYS.rsa.publicKey, withAlg(pss, hex(alg.replace(/a203020120$/, 'a203020114'))), octets),
    'UNSUPPORTED',
    /salt/,
  );
  const mgf384 = alg.replace(/(a11c301a06092a864886f70d010108300d0609608648016503040)201/, '$1202');
  throwsCode(() => verifyAuth(KEYS.rsa.publicKey, withAlg(pss, hex(mgf384)), octets), 'UNSUPPORTED', /MGF1/);
  // RFC 4055 §2.1: hash parameters may be absent instead of NULL.
  const absent =
    '303d06092a864886f70d01010a3030a00d300b0609608648016503040201a11a301806092a864886f70d010108300b0609608648016503040201a203020120';
  assert.equal(verifyAuth(KEYS.rsa.publicKey, withAlg(pss, hex(absent)), octets), 'rsa-pss-sha256');
});

test('cross-implementation: node signatures verify in @noble/curves and noble signatures verify here', () => {
  const octets = randomBytes(100);
  const raw = (k: KeyObject) => {
    const j = k.export({ format: 'jwk' });
    return cat(Uint8Array.of(4), Buffer.from(j.x!, 'base64url'), Buffer.from(j.y!, 'base64url'));
  };
  for (const [scheme, curve, kp] of [
    ['ecdsa-sha256', p256, KEYS.p256],
    ['ecdsa-sha384', p384, KEYS.p384],
  ] as const) {
    const auth = signAuth(scheme, kp.privateKey, octets);
    const sig = auth.subarray(1 + auth[0]!);
    assert.ok(curve.verify(sig, octets, raw(kp.publicKey), { format: 'der', lowS: false }), scheme);
    const d = Buffer.from(kp.privateKey.export({ format: 'jwk' }).d!, 'base64url');
    const nobleSig = curve.sign(octets, d, { format: 'der' });
    const nobleAuth = cat(auth.subarray(0, 1 + auth[0]!), nobleSig); // same AlgorithmIdentifier
    assert.equal(verifyAuth(kp.publicKey, nobleAuth, octets), scheme);
  }
  const edAuth = signAuth('ed25519', KEYS.ed.privateKey, octets);
  const edPub = KEYS.ed.publicKey.export({ format: 'der', type: 'spki' }).subarray(12);
  assert.ok(ed25519.verify(edAuth.subarray(1 + edAuth[0]!), octets, edPub));
  const seed = Buffer.from(KEYS.ed.privateKey.export({ format: 'jwk' }).d!, 'base64url');
  const nobleEd = ed25519.sign(octets, seed);
  assert.equal(toHex(nobleEd), toHex(edAuth.subarray(1 + edAuth[0]!))); // Ed25519 is deterministic
});

test('RFC 4754 ECDSA methods 9/10/11 use raw r|s; RSA_SIG (1) verifies PKCS#1 v1.5 SHA-1 only', () => {
  const octets = randomBytes(80);
  for (const [method, kp, len] of [
    [AuthMethod.ECDSA_SHA256_P256, KEYS.p256, 64],
    [AuthMethod.ECDSA_SHA384_P384, KEYS.p384, 96],
    [AuthMethod.ECDSA_SHA512_P521, KEYS.p521, 132],
  ] as const) {
    const sig = signLegacy(method, kp.privateKey, octets);
    assert.equal(sig.length, len);
    verifyLegacy(method, kp.publicKey, sig, octets);
    const bad = Uint8Array.from(sig);
    bad[len - 1]! ^= 1;
    throwsCode(() => verifyLegacy(method, kp.publicKey, bad, octets), 'AUTH_FAILED');
  }
  throwsCode(
    () => verifyLegacy(AuthMethod.ECDSA_SHA384_P384, KEYS.p256.publicKey, new Uint8Array(96), octets),
    'AUTH_FAILED',
    /key type/,
  );
  throwsCode(() => signLegacy(AuthMethod.ECDSA_SHA256_P256, KEYS.p384.privateKey, octets), 'INVALID_KEY');
  const rsaSig = nodeSign('sha1', octets, KEYS.rsa.privateKey);
  verifyLegacy(AuthMethod.RSA_SIG, KEYS.rsa.publicKey, rsaSig, octets);
  throwsCode(
    () => verifyLegacy(AuthMethod.RSA_SIG, KEYS.rsa.publicKey, rsaSig, randomBytes(80)),
    'AUTH_FAILED',
  );
  throwsCode(() => signLegacy(AuthMethod.RSA_SIG, KEYS.rsa.privateKey, octets), 'UNSUPPORTED');
  throwsCode(() => verifyLegacy(AuthMethod.DSS_SIG, KEYS.rsa.publicKey, rsaSig, octets), 'UNSUPPORTED');
});
