// RFC 7296 §2.15 / RFC 7427: IKE_AUTH with certificates (CERT, CERTREQ, signatures), through the
// Credentials interface backed by src/creds' CredentialStore and an openssl-made test PKI.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeMessage, ExchangeType, IdType } from '../../src/codec/index.ts';
import { CredentialStore } from '../../src/creds/index.ts';
import { storeCredentials } from '../../src/ike/creds-adapter.ts';
import type { IkeConnection } from '../../src/ike/config.ts';
import { makePki, type Issued, type Pki } from '../creds/pki.ts';
import { established, pair } from './harness.ts';

let pki: Pki;
before(() => {
  pki = makePki();
});
after(() => pki?.cleanup());

const ipId = (last: number) => ({ type: IdType.IPV4_ADDR, data: Uint8Array.of(192, 0, 2, last) });

function side(ee: Issued, me: number, peer: number, ca: Issued = pki.root): Partial<IkeConnection> {
  const store = new CredentialStore();
  store.addCa(ca.certPem);
  store.addLocal({ cert: ee.certPem, key: ee.keyPem, chain: [pki.inter.certPem] });
  return {
    localId: ipId(me),
    remoteId: ipId(peer),
    auth: {
      kind: 'cert',
      credentials: storeCredentials(store, { localId: ipId(me), expectedId: ipId(peer) }),
    },
  };
}

for (const initiatorIsA of [true, false]) {
  test(`certificate authentication, ECDSA P-256 vs RSA (${initiatorIsA ? 'A' : 'B'} initiates)`, async (t) => {
    const h = pair({ a: side(pki.ee.p256, 10, 13), b: side(pki.ee.rsa, 13, 10) });
    t.after(() => h.close());
    const [ini, res] = initiatorIsA ? [h.a, h.b] : [h.b, h.a];
    const sa = ini.engine.initiate('site');
    await h.settle(0);
    assert.equal(sa.state, 'established');
    assert.equal(established(res).length, 1);
    assert.equal(sa.children.length, 1);
    // The IKE_AUTH messages are encrypted; check the inner payloads through the SAs' keys instead:
    // both peers proved the identity bound to their certificate (§2.15, RFC 7427 §3).
    assert.deepEqual(sa.peerId?.data, (initiatorIsA ? ipId(13) : ipId(10)).data);
    // Certificate chains make IKE_AUTH larger than 1280 octets: RFC 7383 fragments carry it.
    const auth = h.net.log.filter((d) => decodeMessage(d.data).header.exchangeType === ExchangeType.IKE_AUTH);
    assert.ok(auth.length > 2);
    assert.ok(ini.counters.get('ike.fragments_sent') > 0 && res.counters.get('ike.fragments_sent') > 0);
  });
}

test('a peer certificate from an untrusted CA fails with AUTHENTICATION_FAILED', async (t) => {
  const h = pair({ a: side(pki.otherEe, 10, 13), b: side(pki.ee.rsa, 13, 10) });
  t.after(() => h.close());
  const sa = h.a.engine.initiate('site');
  await h.settle(0).catch(() => undefined);
  assert.notEqual(sa.state, 'established');
  assert.equal(established(h.b).length, 0);
});

test('the peer ID must be bound to its certificate', async (t) => {
  // A claims 192.0.2.11 (the P-384 host) while holding the P-256 certificate.
  const a = side(pki.ee.p256, 10, 13);
  const h = pair({ a: { ...a, localId: ipId(11) }, b: side(pki.ee.rsa, 13, 11) });
  t.after(() => h.close());
  const sa = h.a.engine.initiate('site');
  await h.settle(0);
  assert.equal(sa.state, 'destroyed');
  assert.equal(h.b.counters.get('ike.auth_failed'), 1);
});
