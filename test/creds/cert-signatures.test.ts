// Certificate signatures on the path (RFC 5280 §6.1.3 (a)(1)): ECDSA, RSA PKCS#1 v1.5 and Ed25519
// are checked over the TBSCertificate with node:crypto, RSASSA-PSS through OpenSSL's X509_verify.
// Each issuer's signature must verify, and one changed octet of the signed part must not.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Certificate, loadCertificate, verifyChain } from '../../src/creds/index.ts';
import { makeCellPki, type KeyType } from '../../lab/interop/pki.ts';
import { throwsCode } from './util.ts';

// An hour ahead: the certificates are made during the test (notBefore = now, at one-second resolution).
const NOW = new Date(Date.now() + 3_600_000);

/** The DER with one octet of the subject's CN changed (still well-formed DER). */
function tamper(der: Uint8Array, cn: string): Uint8Array {
  const out = Uint8Array.from(der);
  const at = Buffer.from(out).indexOf(Buffer.from(cn, 'latin1'));
  assert.ok(at > 0, `${cn} in the certificate`);
  out[at]! ^= 0x01;
  return out;
}

for (const type of ['ecdsa', 'rsa', 'ed25519'] as KeyType[]) {
  test(`${type}: the path verifies; a certificate changed after signing does not`, (t) => {
    const dir = mkdtempSync(join(tmpdir(), `ikw-certsig-${process.pid}-`));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const pki = makeCellPki(dir, type, ['gw.example.net'], 1);
    const root = loadCertificate(readFileSync(pki.root, 'utf8'));
    const inter = loadCertificate(readFileSync(pki.intermediates[0]!, 'utf8'));
    const ee = loadCertificate(readFileSync(pki.ends['gw.example.net']!.cert, 'utf8'));
    assert.deepEqual(
      verifyChain(ee, [inter], [root], NOW).map((c) => c.subjectText),
      [ee.subjectText, inter.subjectText, root.subjectText],
    );
    const forged = new Certificate(tamper(ee.der, 'gw.example.net'));
    throwsCode(() => verifyChain(forged, [inter], [root], NOW), 'CERT_UNTRUSTED');
    const forgedInter = new Certificate(tamper(inter.der, 'Interop Intermediate CA 1'));
    throwsCode(() => verifyChain(ee, [forgedInter], [root], NOW), 'CERT_UNTRUSTED');
  });
}

test('RSASSA-PSS certificate signatures are checked by OpenSSL (fallback path)', (t) => {
  const dir = mkdtempSync(join(tmpdir(), `ikw-certpss-${process.pid}-`));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const ssl = (...a: string[]) => execFileSync('openssl', a, { cwd: dir, stdio: 'pipe' });
  const pss = ['-sigopt', 'rsa_padding_mode:pss', '-sigopt', 'rsa_pss_saltlen:32', '-sha256'];
  ssl('genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', 'ca.key');
  ssl(
    'req',
    '-x509',
    '-new',
    '-key',
    'ca.key',
    '-subj',
    '/CN=PSS Root',
    '-days',
    '2',
    ...pss,
    '-out',
    'ca.pem',
  );
  ssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', 'ee.key');
  ssl('req', '-new', '-key', 'ee.key', '-subj', '/CN=pss-ee.example.net', '-out', 'ee.csr');
  writeFileSync(join(dir, 'ee.ext'), 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n');
  ssl(
    ...['x509', '-req', '-in', 'ee.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-set_serial', '2'],
    ...['-days', '2', '-extfile', 'ee.ext', ...pss, '-out', 'ee.pem'],
  );
  const root = loadCertificate(readFileSync(join(dir, 'ca.pem'), 'utf8'));
  const ee = loadCertificate(readFileSync(join(dir, 'ee.pem'), 'utf8'));
  assert.equal(ee.sigAlg, '1.2.840.113549.1.1.10', 'id-RSASSA-PSS');
  assert.equal(verifyChain(ee, [], [root], NOW).length, 2);
  const forged = new Certificate(tamper(ee.der, 'pss-ee.example.net'));
  throwsCode(() => verifyChain(forged, [], [root], NOW), 'CERT_UNTRUSTED');
});
