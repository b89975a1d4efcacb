// CredentialStore end to end with an openssl-made PKI: every key type signs (RFC 7427 §3, RFC 4754
// legacy methods) and verifies through a second store; chains are validated (RFC 5280 §6 subset)
// against an injected clock; IDs are bound to certificates (RFC 4945 §3.1).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { constants, randomBytes, sign } from 'node:crypto';
import { AuthMethod, HashAlgorithm } from '../../src/codec/iana.ts';
import { CredentialStore, parseId, type LocalSigner } from '../../src/creds/index.ts';
import { makePki, type Issued, type Pki } from './pki.ts';
import { authAlgOid, throwsCode } from './util.ts';

const ALL_HASHES = [
  HashAlgorithm.SHA2_256,
  HashAlgorithm.SHA2_384,
  HashAlgorithm.SHA2_512,
  HashAlgorithm.IDENTITY,
];
// RFC 7427 Appendix A OIDs (hex content octets), written out independently of src/crypto.
const OID = {
  ecdsaSha256: '2a8648ce3d040302',
  ecdsaSha384: '2a8648ce3d040303',
  ed25519: '2b6570',
  rsaPss: '2a864886f70d01010a',
  rsaSha256: '2a864886f70d01010b',
};

let pki: Pki;
before(() => {
  pki = makePki();
});
after(() => pki?.cleanup());

const local = (ee: Issued, opts: ConstructorParameters<typeof CredentialStore>[0] = {}) => {
  const s = new CredentialStore(opts);
  return s.addLocal({ cert: ee.certPem, key: ee.keyPem, chain: [pki.inter.certPem] });
};
const verifier = (clock?: () => Date) => {
  const s = new CredentialStore(clock ? { clock } : {});
  s.addCa(pki.root.certPem);
  return s;
};
const octets = randomBytes(200);

function peerAuth(
  signer: LocalSigner,
  overrides: Partial<Parameters<CredentialStore['verifyPeerAuth']>[0]> = {},
) {
  const auth = signer.sign(octets, ALL_HASHES);
  return {
    peerId: signer.id,
    certs: signer.certificates,
    authMethod: auth.method,
    authData: auth.data,
    octets,
    ...overrides,
  };
}

describe('signing and verification per key type (RFC 7427 §3)', () => {
  const cases = [
    ['p256', OID.ecdsaSha256],
    ['p384', OID.ecdsaSha384],
    ['ed25519', OID.ed25519],
    ['rsa', OID.rsaPss],
  ] as const;
  for (const [kind, oid] of cases) {
    test(`${kind}: signs with the expected scheme and verifies through the store`, () => {
      const signer = local(pki.ee[kind]);
      const input = peerAuth(signer);
      assert.equal(input.authMethod, AuthMethod.DIGITAL_SIGNATURE);
      assert.equal(authAlgOid(input.authData), oid);
      const r = verifier().verifyPeerAuth(input);
      assert.equal(r.ok, true);
      assert.equal(r.subject, `C=XX, O=ikeway test, CN=${kind}.example.com`);
      assert.equal(r.path.length, 3, 'end entity, intermediate, root');
      // one flipped octet of the signed data must fail
      const bad = Uint8Array.from(octets);
      bad[7]! ^= 1;
      throwsCode(() => verifier().verifyPeerAuth({ ...input, octets: bad }), 'BAD_SIGNATURE');
    });
  }

  test('RSA with rsaPadding pkcs1 uses sha256WithRSAEncryption', () => {
    const input = peerAuth(local(pki.ee.rsa, { rsaPadding: 'pkcs1' }));
    assert.equal(authAlgOid(input.authData), OID.rsaSha256);
    assert.equal(verifier().verifyPeerAuth(input).scheme, 'rsa-pkcs1-sha256');
  });

  test('RFC 7427 §4: P-256 falls back to SHA2-384 when that is all the peer supports', () => {
    const auth = local(pki.ee.p256).sign(octets, [HashAlgorithm.SHA2_384]);
    assert.equal(authAlgOid(auth.data), OID.ecdsaSha384);
  });

  test('RFC 8420 §2: Ed25519 needs the IDENTITY hash; no common hash is UNSUPPORTED', () => {
    throwsCode(() => local(pki.ee.ed25519).sign(octets, [HashAlgorithm.SHA2_256]), 'UNSUPPORTED');
    throwsCode(() => local(pki.ee.rsa).sign(octets, [HashAlgorithm.SHA1]), 'UNSUPPORTED');
  });

  test('a scheme whose hash we did not announce is refused (RFC 7427 §4)', () => {
    const input = peerAuth(local(pki.ee.p384));
    throwsCode(
      () => verifier().verifyPeerAuth({ ...input, allowedHashes: [HashAlgorithm.SHA2_256] }),
      'BAD_SIGNATURE',
    );
  });

  test('without SIGNATURE_HASH_ALGORITHMS: RFC 4754 methods 9 and 10 for ECDSA, RSA/Ed25519 refused', () => {
    for (const [kind, method] of [
      ['p256', AuthMethod.ECDSA_SHA256_P256],
      ['p384', AuthMethod.ECDSA_SHA384_P384],
    ] as const) {
      const signer = local(pki.ee[kind]);
      const auth = signer.sign(octets, undefined);
      assert.equal(auth.method, method);
      const r = verifier().verifyPeerAuth({
        peerId: signer.id,
        certs: signer.certificates,
        authMethod: auth.method,
        authData: auth.data,
        octets,
      });
      assert.equal(r.scheme, `legacy-${method}`);
    }
    throwsCode(() => local(pki.ee.rsa).sign(octets, undefined), 'UNSUPPORTED');
    throwsCode(() => local(pki.ee.ed25519).sign(octets, undefined), 'UNSUPPORTED');
  });

  test('legacy RSA_SIG (method 1, PKCS#1 v1.5 SHA-1, RFC 7296 §3.8) from a peer verifies', () => {
    const signer = local(pki.ee.rsa);
    const data = sign('sha1', octets, { key: pki.ee.rsa.keyPem, padding: constants.RSA_PKCS1_PADDING });
    const input = { peerId: signer.id, certs: signer.certificates, authMethod: AuthMethod.RSA_SIG, octets };
    assert.equal(verifier().verifyPeerAuth({ ...input, authData: data }).scheme, 'legacy-1');
    data[3]! ^= 1;
    throwsCode(() => verifier().verifyPeerAuth({ ...input, authData: data }), 'BAD_SIGNATURE');
  });

  test('AUTH method 2 (shared key) is not a signature method', () => {
    const input = peerAuth(local(pki.ee.p256));
    throwsCode(
      () => verifier().verifyPeerAuth({ ...input, authMethod: AuthMethod.SHARED_KEY_MIC }),
      'UNSUPPORTED',
    );
  });
});

describe('certificate paths (RFC 5280 §6)', () => {
  const der = (...c: Issued[]) => c.map((x) => x.der);
  const verify = (certs: Uint8Array[], opts: { clock?: () => Date; ca?: Issued[] } = {}) => {
    const s = new CredentialStore(opts.clock ? { clock: opts.clock } : {});
    for (const ca of opts.ca ?? [pki.root]) s.addCa(ca.certPem);
    const ee = local(pki.ee.p256);
    const auth = ee.sign(octets, ALL_HASHES);
    return (peerId = parseId('p256.example.com')) =>
      s.verifyPeerAuth({ peerId, certs, authMethod: auth.method, authData: auth.data, octets });
  };
  const p256 = () => pki.ee.p256;

  test('good chain: end entity + intermediate to the root', () => {
    assert.equal(verify(der(p256(), pki.inter))().ok, true);
  });
  test('the intermediate may also be a configured trust anchor', () => {
    assert.equal(verify(der(p256()), { ca: [pki.inter] })().path.length, 2);
  });
  test('missing intermediate -> CERT_UNTRUSTED', () => {
    throwsCode(() => verify(der(p256()))(), 'CERT_UNTRUSTED', /no trusted path/);
  });
  test('wrong CA -> CERT_UNTRUSTED', () => {
    throwsCode(() => verify(der(p256(), pki.inter), { ca: [pki.other] })(), 'CERT_UNTRUSTED');
  });
  test('an intermediate with a broken signature -> CERT_UNTRUSTED', () => {
    const broken = Uint8Array.from(pki.inter.der);
    broken[broken.length - 5]! ^= 0x40; // inside the ECDSA signature value
    throwsCode(() => verify([p256().der, broken])(), 'CERT_UNTRUSTED');
  });
  test('expired and not yet valid by the injected clock -> CERT_EXPIRED', () => {
    const later = () => new Date(Date.now() + 400 * 86_400_000);
    const earlier = () => new Date(Date.now() - 2 * 86_400_000);
    throwsCode(() => verify(der(p256(), pki.inter), { clock: later })(), 'CERT_EXPIRED', /not valid after/);
    throwsCode(
      () => verify(der(p256(), pki.inter), { clock: earlier })(),
      'CERT_EXPIRED',
      /not valid before/,
    );
  });
  test('CA:FALSE issuer -> CERT_INVALID', () => {
    const under = pki.underNotCa;
    throwsCode(() => verify(der(under, pki.notCa))(parseId('under.example.com')), 'CERT_INVALID', /not a CA/);
  });
  test('path length constraint of the intermediate (pathlen:0) -> CERT_INVALID', () => {
    const certs = der(pki.underDeep, pki.deepCa, pki.inter);
    throwsCode(() => verify(certs)(parseId('deep.example.com')), 'CERT_INVALID', /path length 0/);
  });
  test('end entity keyUsage without digitalSignature -> CERT_INVALID', () => {
    throwsCode(() => verify(der(pki.noSig, pki.inter))(parseId('nosig.example.com')), 'CERT_INVALID');
  });
  test('garbage certificate -> MALFORMED; too many certificates -> CERT_UNTRUSTED', () => {
    throwsCode(() => verify([randomBytes(64)])(), 'MALFORMED');
    throwsCode(() => verify(Array(9).fill(p256().der))(), 'CERT_UNTRUSTED');
    throwsCode(() => verify([])(), 'CERT_UNTRUSTED', /no certificate/);
  });
});
