// ID binding (RFC 7296 §3.5, RFC 4945 §3.1), CERTREQ (RFC 7296 §3.7), local credential selection,
// PSK lookup, and that nothing secret leaks through errors, inspect or JSON.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey, randomBytes, X509Certificate } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { HashAlgorithm, IdType } from '../../src/codec/iana.ts';
import { Secret } from '../../src/crypto/secret.ts';
import { normalizeDn } from '../../src/config/values.ts';
import type { CredsError } from '../../src/creds/index.ts';
import {
  CredentialStore,
  KeyUsage,
  formatId,
  loadCertificate,
  loadCertificates,
  loadPrivateKey,
  parseId,
  splitCertReq,
} from '../../src/creds/index.ts';
import { HOST, makePki, type Pki } from './pki.ts';
import { throwsCode, toHex } from './util.ts';

let pki: Pki;
before(() => {
  pki = makePki();
});
after(() => pki?.cleanup());

const octets = randomBytes(64);
const HASHES = [HashAlgorithm.SHA2_256, HashAlgorithm.IDENTITY];

/** Sign as the p256 end entity under `id`, verify claiming `peerId` (default: the same). */
function authAs(id: string | undefined, peerId?: string, expectedId?: string) {
  const signer = new CredentialStore().addLocal({
    cert: pki.ee.p256.certPem,
    key: pki.ee.p256.keyPem,
    chain: [pki.inter.certPem],
    ...(id !== undefined && { id }),
  });
  const v = new CredentialStore();
  v.addCa(pki.root.certPem);
  const auth = signer.sign(octets, HASHES);
  return v.verifyPeerAuth({
    peerId: peerId === undefined ? signer.id : parseId(peerId),
    ...(expectedId !== undefined && { expectedId: parseId(expectedId) }),
    certs: signer.certificates,
    authMethod: auth.method,
    authData: auth.data,
    octets,
  });
}

describe('ID bound to the certificate (RFC 4945 §3.1)', () => {
  test('default local ID is the subject DN, sent as the certificate subject bytes', () => {
    const s = new CredentialStore().addLocal({ cert: pki.ee.p256.certPem, key: pki.ee.p256.keyPem });
    assert.equal(s.id.type, IdType.DER_ASN1_DN);
    assert.equal(toHex(s.id.data), toHex(s.certificate.subject));
    assert.equal(formatId(s.id), 'C=XX, O=ikeway test, CN=p256.example.com');
  });
  test('DN ID written with other spacing and case still matches the subject', () => {
    assert.equal(authAs(undefined, 'c=xx,o=IKEWAY   test,  cn=P256.example.com').ok, true);
  });
  const bound = [
    ['FQDN dNSName', 'p256.example.com'],
    ['FQDN with @', '@P256.Example.COM'],
    ['RFC822 rfc822Name', 'p256@example.com'],
    ['IPv4 iPAddress', `192.0.2.${HOST.p256}`],
    ['IPv6 iPAddress', `2001:db8:0::${HOST.p256}`],
  ] as const;
  for (const [what, id] of bound) {
    test(`${what}: ${id}`, () => {
      assert.equal(authAs(id).ok, true);
    });
  }
  test('KEY_ID: the subjectKeyIdentifier openssl wrote', () => {
    const out = execFileSync('openssl', [
      'x509',
      '-in',
      join(pki.dir, 'p256.pem'),
      '-noout',
      '-ext',
      'subjectKeyIdentifier',
    ]);
    const ski = /([0-9A-F]{2}(:[0-9A-F]{2})+)/.exec(out.toString())![1]!;
    assert.equal(authAs(`keyid:${ski.toLowerCase()}`).ok, true);
  });
  const unbound = [
    'p384.example.com',
    'other@example.com',
    `192.0.2.${HOST.p384}`,
    '2001:db8::99',
    'C=XX, O=ikeway test, CN=p384.example.com',
    '@#0102030405',
  ];
  for (const id of unbound) {
    test(`not bound: ${id} -> ID_MISMATCH`, () => {
      throwsCode(() => authAs(undefined, id), 'ID_MISMATCH');
    });
  }
  test('addLocal refuses an ID that the certificate does not carry', () => {
    throwsCode(() => authAs('vpn.example.org'), 'ID_MISMATCH');
  });
  test('the configured remote ID must match the peer ID; %any and DN wildcards accept', () => {
    throwsCode(() => authAs('p256.example.com', undefined, 'other.example.com'), 'ID_MISMATCH');
    assert.equal(authAs('p256.example.com', undefined, '%any').ok, true);
    assert.equal(authAs('p256.example.com', undefined, '*.example.com').ok, true);
    assert.equal(authAs(undefined, undefined, 'C=XX, O=ikeway test, CN=*').ok, true);
  });
});

describe('configured peer certificates (no CERT payload, RFC 7296 §3.6)', () => {
  const signer = () =>
    new CredentialStore().addLocal({
      cert: pki.ee.p256.certPem,
      key: pki.ee.p256.keyPem,
      id: 'p256.example.com',
    });
  const check = (certs: 'none' | 'sent', peerId: string, clock?: () => Date) => {
    const me = signer();
    const v = new CredentialStore(clock ? { clock } : {});
    v.addPeerCert(pki.ee.p256.certPem);
    const auth = me.sign(octets, HASHES);
    return v.verifyPeerAuth({
      peerId: parseId(peerId),
      certs: certs === 'none' ? [] : me.certificates,
      authMethod: auth.method,
      authData: auth.data,
      octets,
    });
  };
  test('found by the peer ID and trusted without a CA', () => {
    assert.equal(check('none', 'p256.example.com').path.length, 1);
    assert.equal(check('sent', 'p256.example.com').path.length, 1);
  });
  test('another ID, or outside validity, is refused', () => {
    throwsCode(
      () => check('none', 'p384.example.com'),
      'CERT_UNTRUSTED',
      /no certificate sent or configured/,
    );
    throwsCode(() => check('sent', 'p384.example.com'), 'ID_MISMATCH');
    const later = () => new Date(Date.now() + 400 * 86_400_000);
    throwsCode(() => check('none', 'p256.example.com', later), 'CERT_EXPIRED');
  });
});

describe('CERTREQ (RFC 7296 §3.7)', () => {
  test('caHashes: SHA-1 of the SubjectPublicKeyInfo, as openssl computes it', () => {
    const s = new CredentialStore();
    s.addCa(pki.root.certPem);
    s.addCa(pki.other.certPem);
    assert.deepEqual(s.caHashes().map(toHex), [pki.spkiSha1(pki.root), pki.spkiSha1(pki.other)]);
    assert.equal(toHex(s.certReqData()), pki.spkiSha1(pki.root) + pki.spkiSha1(pki.other));
  });
  test('requestedCas picks the CAs a CERTREQ names, ignoring unknown hashes', () => {
    const s = new CredentialStore();
    s.addCa(pki.root.certPem);
    s.addCa(pki.other.certPem);
    const req = Buffer.from(randomBytes(20).toString('hex') + pki.spkiSha1(pki.other), 'hex');
    assert.deepEqual(
      s.requestedCas(req).map((c) => c.subjectText),
      ['C=XX, O=elsewhere, CN=Other CA'],
    );
    throwsCode(() => s.requestedCas(randomBytes(21)), 'MALFORMED', /multiple of 20/);
    assert.equal(splitCertReq(new Uint8Array(0)).length, 0);
  });
  test('localSigner prefers the certificate whose chain leads to a requested CA', () => {
    const s = new CredentialStore();
    s.addCa(pki.root.certPem);
    s.addCa(pki.other.certPem);
    s.addLocal({ cert: pki.ee.p256.certPem, key: pki.ee.p256.keyPem, chain: [pki.inter.certPem] });
    s.addLocal({ cert: pki.otherEe.certPem, key: pki.otherEe.keyPem });
    const id = parseId('p256.example.com');
    const hash = (c: typeof pki.root) => Buffer.from(pki.spkiSha1(c), 'hex');
    assert.match(s.localSigner(id, [hash(pki.other)]).certificate.subjectText, /elsewhere/);
    assert.match(s.localSigner(id, [hash(pki.root)]).certificate.subjectText, /ikeway test/);
    assert.match(s.localSigner(id, [hash(pki.inter)]).certificate.subjectText, /ikeway test/);
    assert.equal(s.localSigner(id).id.type, IdType.FQDN);
    assert.equal(s.localSigner(id).certificates.length, 2, 'our certificate and the intermediate');
    throwsCode(() => s.localSigner(parseId('nobody.example.com')), 'NO_KEY');
  });
});

describe('certificate fields read once with our DER reader, cross-checked with node:crypto', () => {
  test('validity, basicConstraints, keyUsage, subjectAltName', () => {
    const ee = new CredentialStore().addLocal({
      cert: pki.ee.p256.certPem,
      key: pki.ee.p256.keyPem,
    }).certificate;
    const x = new X509Certificate(pki.ee.p256.certPem);
    assert.equal(ee.notBefore.getTime(), Date.parse(x.validFrom));
    assert.equal(ee.notAfter.getTime(), Date.parse(x.validTo));
    assert.equal(ee.ca, false);
    assert.equal(ee.keyUsage, 1 << KeyUsage.digitalSignature);
    assert.deepEqual(ee.san.dns, ['p256.example.com']);
    assert.deepEqual(ee.san.email, ['p256@example.com']);
    assert.deepEqual(ee.san.ip.map(toHex), [
      `c00002${HOST.p256.toString(16).padStart(2, '0')}`,
      `20010db8${'0'.repeat(22)}${HOST.p256}`,
    ]);
    const inter = loadCertificate(pki.inter.certPem);
    assert.equal(inter.ca, new X509Certificate(pki.inter.certPem).ca);
    assert.equal(inter.pathLen, 0);
    assert.ok(inter.hasKeyUsage(KeyUsage.keyCertSign) && !inter.hasKeyUsage(KeyUsage.digitalSignature));
    assert.equal(loadCertificate(pki.root.certPem).pathLen, undefined);
    assert.equal(loadCertificates(pki.root.certPem + pki.inter.certPem).length, 2);
    throwsCode(() => loadCertificate(pki.root.certPem + pki.inter.certPem), 'MALFORMED', /one certificate/);
    throwsCode(() => loadCertificates('hello'), 'MALFORMED');
  });
});

describe('loading credentials', () => {
  test('addCa refuses an end-entity certificate', () => {
    throwsCode(() => new CredentialStore().addCa(pki.ee.p256.certPem), 'CERT_INVALID', /not a CA/);
  });
  test('addLocal refuses a key that is not the certificate key', () => {
    const s = new CredentialStore();
    throwsCode(() => s.addLocal({ cert: pki.ee.p256.certPem, key: pki.ee.p384.keyPem }), 'NO_KEY');
  });
  test('keys load from PEM, DER (PKCS#8 and SEC1) and KeyObject; garbage is MALFORMED', () => {
    const ko = createPrivateKey(pki.ee.p256.keyPem);
    const pkcs8 = ko.export({ format: 'der', type: 'pkcs8' });
    const sec1 = ko.export({ format: 'der', type: 'sec1' });
    for (const k of [pki.ee.p256.keyPem, pkcs8, sec1, ko]) {
      assert.equal(loadPrivateKey(k).asymmetricKeyDetails?.namedCurve, 'prime256v1');
    }
    throwsCode(
      () => loadPrivateKey('-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----'),
      'MALFORMED',
    );
    throwsCode(
      () => loadPrivateKey(ko.export({ format: 'der', type: 'pkcs8' }).subarray(0, 40)),
      'MALFORMED',
    );
  });
  test('fromConnection: a DN local ID (as src/config writes it) is sent as the subject bytes', () => {
    const x = new X509Certificate(pki.ee.p256.certPem);
    const s = CredentialStore.fromConnection({
      auth: {
        kind: 'cert',
        cert: x,
        key: createPrivateKey(pki.ee.p256.keyPem),
        ca: [new X509Certificate(pki.root.certPem)],
        chain: [],
        certFile: '/x',
        keyFile: '/y',
        caFiles: ['/z'],
        chainFiles: [],
      },
      localId: { kind: 'dn', value: normalizeDn(x.subject) },
      remoteId: { kind: 'any', value: 'any' },
    });
    const signer = s.localSigner();
    assert.equal(toHex(signer.id.data), toHex(signer.certificate.subject));
  });
  test('fromConnection: certificate auth from the config shape, intermediates sent after ours', () => {
    const s = CredentialStore.fromConnection({
      auth: {
        kind: 'cert',
        cert: new X509Certificate(pki.ee.p256.certPem),
        key: createPrivateKey(pki.ee.p256.keyPem),
        ca: [new X509Certificate(pki.root.certPem)],
        chain: [new X509Certificate(pki.inter.certPem)],
        certFile: '/x',
        keyFile: '/y',
        caFiles: ['/z'],
        chainFiles: ['/i'],
      },
      localId: { kind: 'fqdn', value: 'p256.example.com' },
      remoteId: { kind: 'any', value: 'any' },
    });
    const signer = s.localSigner();
    assert.equal(formatId(signer.id), '@p256.example.com');
    assert.equal(s.caHashes().length, 1);
    assert.deepEqual(
      signer.certificates.map((c) => new X509Certificate(c).subject),
      [new X509Certificate(pki.ee.p256.certPem).subject, new X509Certificate(pki.inter.certPem).subject],
    );
  });
});

describe('pre-shared keys', () => {
  const secretText = 'correct-horse-battery-staple-0123456789';
  const store = () => {
    const s = new CredentialStore();
    s.addPsk(new Secret(Buffer.from('wildcard-secret-xxxxxxxx'), 'test'), '%any', '%any');
    s.addPsk(new Secret(Buffer.from(secretText), 'file /etc/ikeway/hq.psk'), 'gw1.example.com', '192.0.2.7');
    return s;
  };
  test('the most specific entry wins; %any entries catch the rest', () => {
    const s = store();
    const exact = s.psk(parseId('gw1.example.com'), parseId('192.0.2.7'));
    assert.equal(Buffer.from(exact.bytes()).toString(), secretText);
    const other = s.psk(parseId('gw1.example.com'), parseId('192.0.2.8'));
    assert.equal(Buffer.from(other.bytes()).toString(), 'wildcard-secret-xxxxxxxx');
  });
  test('NO_PSK when nothing matches', () => {
    const s = new CredentialStore();
    s.addPsk(randomBytes(32), 'a.example.com', 'b.example.com');
    throwsCode(() => s.psk(parseId('a.example.com'), parseId('c.example.com')), 'NO_PSK');
  });
  test('fromConnection: PSK auth from the config shape', () => {
    const psk = new Secret(Buffer.from(secretText), 'env IKEWAY_PSK');
    const s = CredentialStore.fromConnection({
      auth: { kind: 'psk', psk },
      localId: { kind: 'ipv4', value: '192.0.2.1' },
      remoteId: { kind: 'fqdn', value: 'peer.example.com' },
    });
    assert.equal(s.psk(parseId('192.0.2.1'), parseId('@peer.example.com')), psk);
    throwsCode(() => s.psk(parseId('192.0.2.1'), parseId('other.example.com')), 'NO_PSK');
  });
  test('nothing secret in inspect, JSON, String or error messages', () => {
    const s = store();
    s.addLocal({ cert: pki.ee.p256.certPem, key: pki.ee.p256.keyPem });
    const signer = s.localSigner();
    const keyB64 = pki.ee.p256.keyPem.split('\n')[1]!.slice(0, 24);
    const texts = [inspect(s, { depth: 5 }), JSON.stringify({ s }), String(s), inspect(signer, { depth: 5 })];
    const errors: CredsError[] = [
      throwsCode(() => {
        const t = new CredentialStore();
        t.addPsk(Buffer.from(secretText), 'a.example.com', 'b.example.com');
        return t.psk(parseId('a.example.com'), parseId('c.example.com'));
      }, 'NO_PSK'),
      throwsCode(() => loadPrivateKey(pki.ee.p256.keyPem.replace('PRIVATE KEY', 'PRIVATE KEZ')), 'MALFORMED'),
      throwsCode(() => s.addLocal({ cert: pki.ee.p384.certPem, key: pki.ee.p256.keyPem }), 'NO_KEY'),
    ];
    texts.push(...errors.flatMap((e) => [e.message, inspect(e), e.stack ?? '']));
    for (const t of texts) {
      assert.ok(!t.includes(secretText), `PSK leaked: ${t}`);
      assert.ok(!t.includes('wildcard-secret'), `PSK leaked: ${t}`);
      assert.ok(!t.includes(keyB64), `private key leaked: ${t}`);
    }
    assert.match(inspect(s), /CredentialStore\(0 CA, 1 local, 0 peer, 2 PSK\)/);
  });
});
