// `ikeway load` with certificates (RFC 7427 ECDSA P-256 signatures): the option set (--cert bundle,
// --key, --ca; exactly one of PSK and certificates), precise errors that never show key material,
// the in-process load PKI (lab/load/pki.ts) checked by openssl, and a real run over UDP against an
// ikeway responder in a namespace: every IKE SA authenticated with its own certificate and identity.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { authOptions, type LoadArgs } from '../../lab/cli/load.ts';
import { Netns, linkVeth } from '../../lab/netns/netns.ts';
import { LoadCertError, LoadCredentials } from '../../lab/load/cert-auth.ts';
import { makeLoadPki, type LoadPki } from '../../lab/load/pki.ts';
import { LoadError, runLoad, type LoadOptions, type LoadReport } from '../../lab/load/runner.ts';
import { parseId } from '../../src/creds/index.ts';
import { PeerProcess } from '../realnet/peer-process.ts';

const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const skip = process.getuid?.() === 0 ? false : 'needs root for namespaces';
const RESPONDER = 'responder.load.test';
const initiator = (n: number) => `load-${n}.load.test`;

function pki(t: { after: (fn: () => void) => void }, count: number): LoadPki {
  const dir = mkdtempSync(join(tmpdir(), `ikw-loadcert-${process.pid}-`));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return makeLoadPki(dir, RESPONDER, count, initiator);
}

const base = { remote: '203.0.113.2', count: 1, id: 'fqdn:x' } as unknown as LoadArgs;

test('the load PKI: openssl verifies every certificate, SANs carry the identities', (t) => {
  const p = pki(t, 3);
  for (const f of [p.responderCert, p.initiatorCerts]) {
    const r = spawnSync('openssl', ['verify', '-CAfile', p.ca, f], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
  }
  const bundle = readFileSync(p.initiatorCerts, 'utf8');
  assert.equal(bundle.match(/BEGIN CERTIFICATE/g)?.length, 3);
  const text = spawnSync('openssl', ['x509', '-noout', '-ext', 'subjectAltName,keyUsage,basicConstraints'], {
    input: readFileSync(p.responderCert),
    encoding: 'utf8',
  }).stdout;
  assert.match(text, new RegExp(`DNS:${RESPONDER}`));
  assert.match(text, /Digital Signature/);
  assert.match(text, /CA:FALSE/);
  assert.throws(
    () => makeLoadPki(join(p.dir, 'x'), 'Not A Name', 1, initiator),
    /not a plain lower-case FQDN/,
  );
});

test('authOptions: exactly one of PSK and certificates, certificates need key and CA', () => {
  assert.throws(
    () => authOptions(base),
    (e: Error) => e instanceof LoadError && /exactly one/.test(e.message),
  );
  assert.throws(
    () => authOptions({ ...base, 'psk-file': '/nonexistent', cert: 'c.pem' }),
    (e: Error) => e instanceof LoadError && /exactly one/.test(e.message),
  );
  assert.throws(
    () => authOptions({ ...base, cert: 'c.pem', key: 'k.pem' }),
    (e: Error) => e instanceof LoadError && /all of --cert, --key and --ca/.test(e.message),
  );
  assert.deepEqual(authOptions({ ...base, cert: 'c.pem', key: 'k.pem', ca: ['a.pem'] }), {
    cert: { cert: 'c.pem', key: 'k.pem', ca: ['a.pem'] },
  });
});

test('LoadCredentials: wrong key, a non-CA anchor, an identity not in the certificate', (t) => {
  const p = pki(t, 2);
  const ok = LoadCredentials.fromFiles({ cert: p.initiatorCerts, key: p.initiatorKey, ca: [p.ca] });
  assert.equal(ok.count, 2);
  assert.ok(ok.forSa(2, parseId(`fqdn:${initiator(2)}`)).hashes.length > 0);
  // SA 3 cycles to certificate 1: its identity is load-1, not load-3.
  assert.throws(
    () => ok.forSa(3, parseId(`fqdn:${initiator(3)}`)),
    (e: Error) => e instanceof LoadCertError && /SA 3: identity .*load-3.* certificate 1/.test(e.message),
  );
  const keyText = readFileSync(p.responderKey, 'utf8');
  assert.throws(
    () => LoadCredentials.fromFiles({ cert: p.initiatorCerts, key: p.responderKey, ca: [p.ca] }),
    (e: Error) =>
      e instanceof LoadCertError &&
      /is not the key of/.test(e.message) &&
      !e.message.includes(keyText.slice(30, 60)),
  );
  assert.throws(
    () => LoadCredentials.fromFiles({ cert: p.initiatorCerts, key: p.initiatorKey, ca: [p.responderCert] }),
    (e: Error) => e instanceof LoadCertError && /--ca .*not a CA/.test(e.message),
  );
  assert.throws(
    () => LoadCredentials.fromFiles({ cert: `${p.dir}/missing.pem`, key: p.initiatorKey, ca: [p.ca] }),
    (e: Error) => e instanceof LoadCertError && /--cert .*ENOENT/.test(e.message),
  );
  writeFileSync(join(p.dir, 'empty.pem'), 'not pem');
  assert.throws(
    () => LoadCredentials.fromFiles({ cert: join(p.dir, 'empty.pem'), key: p.initiatorKey, ca: [p.ca] }),
    (e: Error) => e instanceof LoadCertError && /--cert .*empty\.pem/.test(e.message),
  );
});

test('runLoad refuses a run whose first identity is not in its certificate, before sending', async (t) => {
  const p = pki(t, 2);
  const o: LoadOptions = {
    ...{ remote: '203.0.113.2', local: '203.0.113.1', count: 1, rate: 0, concurrency: 1 },
    ...{ ike: 'aes256gcm16-prfsha256-ecp256', esp: 'aes256gcm16', localTs: ['0.0.0.0/0'] },
    ...{ remoteTs: ['0.0.0.0/0'], timeoutMs: 1000, delete: false },
    cert: { cert: p.initiatorCerts, key: p.initiatorKey, ca: [p.ca] },
    idTemplate: 'fqdn:other-%d.load.test',
  };
  await assert.rejects(runLoad(o), (e: Error) => e instanceof LoadError && /SA 1: identity/.test(e.message));
  await assert.rejects(
    runLoad({ ...o, psk: 'x' }),
    (e: Error) => e instanceof LoadError && /exactly one/.test(e.message),
  );
});

test(
  'ikeway load --cert: 12 IKE SAs against an ikeway responder, one certificate and identity each',
  { skip, timeout: 90_000 },
  async (t) => {
    const count = 12;
    const p = pki(t, count + 3);
    const na = Netns.create('lcert');
    const nb = Netns.create('lcert');
    const live: { peer?: PeerProcess } = {};
    t.after(async () => {
      await live.peer?.stop();
      na.delete();
      nb.delete();
    });
    linkVeth(na, '203.0.113.1/24', nb, '203.0.113.2/24');
    const peer = (live.peer = PeerProcess.start(nb, 'responder', {
      kernel: 'memory',
      addresses: ['203.0.113.2'],
      connections: [
        {
          name: 'any',
          localAddr: '203.0.113.2',
          localId: `fqdn:${RESPONDER}`,
          cert: { cert: p.responderCert, key: p.responderKey, ca: [p.ca] },
          ike: 'aes256gcm16-prfsha256-x25519',
          esp: 'aes256gcm16',
          localTs: ['0.0.0.0/0'],
          remoteTs: ['0.0.0.0/0'],
        },
      ],
    }));
    await peer.waitEvent('ready');
    // --first 4: SAs 4..15 use certificates 4..15 of the bundle and identities load-4..load-15.
    const args = [
      ...['load', '--remote', '203.0.113.2', '--count', String(count), '--rate', '0', '--concurrency', '4'],
      ...['--cert', p.initiatorCerts, '--key', p.initiatorKey, '--ca', p.ca, '--first', '4'],
      ...['--id', 'fqdn:load-%d.load.test', '--remote-id', `fqdn:${RESPONDER}`, '--json'],
    ];
    const r = spawnSync(
      'ip',
      ['netns', 'exec', na.name, process.execPath, '--import', 'tsx', MAIN, ...args],
      {
        encoding: 'utf8',
        timeout: 80_000,
      },
    );
    assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
    const report = JSON.parse(r.stdout) as LoadReport;
    assert.equal(report.established, count, JSON.stringify(report.failures));
    assert.equal(report.failed, 0);
    await peer.waitFor(() => peer.of('child-installed').length >= count, 10_000, `${count} Child SAs`);
    const ids = peer.of('ike-established').map((e) => String(e.peerId));
    assert.equal(ids.length, count);
    assert.deepEqual([...ids].sort(), Array.from({ length: count }, (_, i) => initiator(i + 4)).sort());
  },
);
