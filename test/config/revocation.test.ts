// Config for revocation (auth.cert.revocation, crl, ocsp-responder, ...), raw public keys
// (auth.pubkey, RFC 7670), and the 30-day expiry warning of `check`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { doc, ok, problems, tempDir } from './helpers.ts';
import type { ConfigProblem } from '../../src/config/index.ts';
import { renderStatus } from '../../src/control/render.ts';
import type { StatusReport } from '../../src/control/status-types.ts';
import { expiringCertificates } from '../../src/daemon/status.ts';
import { makeRevocationPki } from '../creds/revocation-pki.ts';

/** Errors only, in file order (the test certificates also draw W_CERT expiry warnings). */
const errors = (ps: readonly ConfigProblem[]) => ps.filter((p) => p.code.startsWith('E_'));

const certDoc = (pki: { dir: string }, extra: string) =>
  doc('').replace(
    '{ psk: { env: PSK } }',
    `{ cert: { cert: ${pki.dir}/good.pem, key: ${pki.dir}/good.key, ca: ${pki.dir}/ca.pem${extra} } }`,
  );

test('revocation: defaults off; strict with a CRL file and a responder; bad values refused', (t) => {
  const pki = makeRevocationPki();
  t.after(pki.cleanup);
  const tmp = tempDir();
  t.after(tmp.cleanup);
  const der = pki.crl();
  const crl = `${tmp.dir}/ca.crl`;
  writeFileSync(crl, der);
  const plain = ok(certDoc(pki, '')).config.connections[0]!;
  assert.ok(plain.auth.kind === 'cert');
  if (plain.auth.kind !== 'cert') return;
  assert.equal(plain.auth.revocation.mode, 'off');
  assert.equal(plain.auth.revocation.timeoutMs, 5000);
  const strict = ok(
    certDoc(
      pki,
      `, revocation: strict, crl: ${crl}, ocsp-responder: "http://ocsp.test:8080/", revocation-timeout: 2s`,
    ),
  ).config.connections[0]!;
  assert.ok(strict.auth.kind === 'cert');
  if (strict.auth.kind !== 'cert') return;
  assert.deepEqual(
    { ...strict.auth.revocation, crls: strict.auth.revocation.crls.map((c) => c.length) },
    {
      mode: 'strict',
      crlFiles: [crl],
      crls: [der.length],
      ocspResponder: 'http://ocsp.test:8080/',
      ocspMethod: 'post',
      fetch: true,
      timeoutMs: 2000,
    },
  );
  const bad = problems(certDoc(pki, ', revocation: sometimes, ocsp-responder: "https://x/"'));
  assert.deepEqual(
    errors(bad).map((p) => `${p.code} ${p.path}`),
    ['E_VALUE connections.hq.auth.cert.revocation', 'E_VALUE connections.hq.auth.cert.ocsp-responder'],
  );
  const notCrl = tmp.write('x.crl', 'hello');
  const nc = problems(certDoc(pki, `, revocation: strict, crl: [${notCrl}, ${tmp.dir}/missing.crl]`));
  assert.deepEqual(
    errors(nc).map((p) => `${p.code} ${p.path} ${p.message}`),
    [
      `E_CREDENTIAL connections.hq.auth.cert.crl[0] ${notCrl} is not a CRL`,
      `E_CREDENTIAL connections.hq.auth.cert.crl[1] cannot read CRL ${tmp.dir}/missing.crl: no such file`,
    ],
  );
  const off = ok(certDoc(pki, `, crl: ${crl}`));
  assert.ok(off.warnings.some((w) => w.path.endsWith('.revocation') && /revocation is off/.test(w.message)));
});

test('check warns about certificates that expire within 30 days', (t) => {
  const pki = makeRevocationPki(); // CA: 30 days, end entities: 20 days
  t.after(pki.cleanup);
  const r = ok(certDoc(pki, ''));
  const w = r.warnings.map((p) => `${p.code} ${p.path} ${p.message}`);
  assert.ok(
    w.some((x) => /^W_CERT connections\.hq\.auth\.cert\.cert certificate expires in (19|20) days/.test(x)),
    w.join('\n'),
  );
  assert.ok(
    w.some((x) => /^W_CERT connections\.hq\.auth\.cert\.ca\[0\] certificate expires in (29|30) days/.test(x)),
    w.join('\n'),
  );
  const early = ok(certDoc(pki, ''), { now: new Date(Date.now() - 60 * 86_400_000) });
  assert.ok(
    !early.warnings.some((p) => /expires in/.test(p.message)),
    'two months earlier nothing expires soon',
  );
  // `ikeway status` shows the same (src/daemon/status.ts), soonest first.
  const conn = r.config.connections[0]!;
  const exp = expiringCertificates(conn, new Date());
  assert.deepEqual(
    exp.map((e) => `${e.role} ${e.subject}`),
    ['local O=ikeway revocation, CN=good.example.com', 'ca O=ikeway revocation, CN=Revocation CA'],
  );
  assert.deepEqual(expiringCertificates(conn, new Date(Date.now() - 60 * 86_400_000)), []);
  const old = { role: 'chain' as const, subject: 'CN=Old', notAfter: '2020-01-01T00:00:00.000Z', days: -5 };
  const text = renderStatus({
    daemon: { version: '0', pid: 1, uptimeSeconds: 1, config: 'x', kernel: 'memory' },
    connections: [
      {
        name: 'hq',
        local: '192.0.2.1',
        remote: '192.0.2.2',
        mode: 'tunnel',
        start: 'now',
        localSubnets: [],
        remoteSubnets: [],
        ikeProposals: [],
        espProposals: [],
        failClosedPolicies: 0,
        ikeSas: [],
        expiring: [...exp, old],
      },
    ],
    counters: {},
  } as unknown as StatusReport);
  assert.match(
    text,
    /WARNING: local certificate "O=ikeway revocation, CN=good\.example\.com" expires in (19|20) days/,
  );
  assert.match(text, /WARNING: chain certificate "CN=Old" expired on 2020-01-01/);
});

test('pubkey (RFC 7670): our private key and the peer\u2019s public key are loaded', (t) => {
  const tmp = tempDir();
  t.after(tmp.cleanup);
  const ours = generateKeyPairSync('ed25519');
  const peer = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const key = tmp.write('ours.key', ours.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string);
  const pub = tmp.write('peer.pub', peer.publicKey.export({ type: 'spki', format: 'pem' }) as string, 0o644);
  const d = (k: string, p: string) =>
    doc('').replace('{ psk: { env: PSK } }', `{ pubkey: { key: ${k}, peer: ${p} } }`);
  const c = ok(d(key, pub)).config.connections[0]!;
  assert.equal(c.auth.kind, 'pubkey');
  if (c.auth.kind !== 'pubkey') return;
  assert.equal(c.auth.peer.asymmetricKeyType, 'ec');
  assert.deepEqual(c.localId, { kind: 'ipv4', value: '192.0.2.1' }, 'no certificate: our address');
  const loose = tmp.write(
    'loose.key',
    ours.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    0o644,
  );
  const ps = problems(d(loose, key)); // a world-readable key; a private key where the public one belongs
  assert.deepEqual(
    errors(ps).map((p) => `${p.code} ${p.path}`),
    ['E_SECRET connections.hq.auth.pubkey.key'],
  );
  const notPub = problems(d(key, tmp.write('junk.pub', 'junk')));
  assert.deepEqual(
    errors(notPub).map((p) => `${p.code} ${p.path} ${p.message}`),
    [
      `E_CREDENTIAL connections.hq.auth.pubkey.peer cannot load public key ${tmp.dir}/junk.pub: not a PEM public key`,
    ],
  );
});
