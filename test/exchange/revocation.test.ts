// IKE_AUTH with revocation checks (RFC 5280 §6.3, RFC 6960) and raw public keys (RFC 7670), two
// engines in memory. The OCSP "responder" is `openssl ocsp -reqin` behind an injected fetcher, so
// the engine path is real: a revoked certificate gets AUTHENTICATION_FAILED with the serial, issuer,
// reason and source in the log; a good one is accepted; a responder that does not answer is handled
// as the connection says (strict refuses, best-effort accepts); while a fetch is pending the SA waits
// and retransmissions are dropped, and the answer arriving later completes it.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { Counters } from '../../src/base/counters.ts';
import { IdType } from '../../src/codec/index.ts';
import {
  CredentialStore,
  FetchError,
  RawKeyAuth,
  RevocationChecker,
  type Fetcher,
  type RevocationMode,
} from '../../src/creds/index.ts';
import { rawKeyCredentials, storeCredentials } from '../../src/ike/creds-adapter.ts';
import type { IkeConnection } from '../../src/ike/config.ts';
import { makeRevocationPki, type RevIssued, type RevPki } from '../creds/revocation-pki.ts';
import { established, pair } from './harness.ts';

const OCSP = 'http://ocsp.test/';
let pki: RevPki;
before(() => {
  pki = makeRevocationPki({ ocspUrl: OCSP });
});
after(() => pki?.cleanup());

const dnsId = (name: string) => ({ type: IdType.FQDN, data: new TextEncoder().encode(name) });

function side(
  own: RevIssued,
  peerName: string,
  rev?: { mode: RevocationMode; fetcher: Fetcher; counters?: Counters },
): Partial<IkeConnection> {
  const store = new CredentialStore();
  store.addCa(pki.ca.certPem);
  const name = own === pki.good ? 'good.example.com' : 'revoked.example.com';
  store.addLocal({ cert: own.certPem, key: own.keyPem });
  const checker =
    rev &&
    new RevocationChecker({ fetcher: rev.fetcher, ...(rev.counters ? { counters: rev.counters } : {}) });
  return {
    localId: dnsId(name),
    remoteId: dnsId(peerName),
    auth: {
      kind: 'cert',
      credentials: storeCredentials(store, {
        localId: dnsId(name),
        expectedId: dnsId(peerName),
        ...(checker && rev ? { revocation: { checker, policy: { mode: rev.mode } } } : {}),
      }),
    },
  };
}

const responder: Fetcher = async (_url, o) => pki.ocspRespond(o.body!);
const unreachable: Fetcher = async () => {
  throw new FetchError('network', 'ECONNREFUSED');
};

describe('revocation in IKE_AUTH', () => {
  test('a revoked initiator certificate: AUTHENTICATION_FAILED, logged with serial, issuer, reason, source', async (t) => {
    const counters = new Counters();
    const h = pair({
      a: side(pki.revoked, 'good.example.com'),
      b: side(pki.good, 'revoked.example.com', { mode: 'best-effort', fetcher: responder, counters }),
    });
    t.after(() => h.close());
    const sa = h.a.engine.initiate('site');
    await h.settle(0);
    assert.equal(sa.state, 'destroyed');
    assert.equal(established(h.b).length, 0);
    assert.equal(h.a.counters.get('ike.auth_failed'), 1, 'the initiator received AUTHENTICATION_FAILED');
    assert.equal(counters.get('creds.revocation_revoked'), 1);
    const log = h.b.logger.text();
    assert.match(log, /peer authentication failed/);
    assert.match(
      log,
      new RegExp(
        `CERT_REVOKED: .*serial ${pki.revoked.serial.toLowerCase()} issuer .*Revocation CA.*keyCompromise.*source: OCSP http://ocsp.test/`,
      ),
    );
  });

  test('a revoked responder certificate fails the initiator\u2019s check (strict)', async (t) => {
    const h = pair({
      a: side(pki.good, 'revoked.example.com', { mode: 'strict', fetcher: responder }),
      b: side(pki.revoked, 'good.example.com'),
    });
    t.after(() => h.close());
    const sa = h.a.engine.initiate('site');
    await h.settle(0);
    assert.notEqual(sa.state, 'established');
    assert.match(h.a.logger.text(), /CERT_REVOKED/);
  });

  test('a good certificate is accepted, both sides strict', async (t) => {
    const counters = new Counters();
    const h = pair({
      a: side(pki.good, 'good.example.com', { mode: 'strict', fetcher: responder, counters }),
      b: side(pki.good, 'good.example.com', { mode: 'strict', fetcher: responder, counters }),
    });
    t.after(() => h.close());
    const sa = h.a.engine.initiate('site');
    await h.settle(0);
    assert.equal(sa.state, 'established');
    assert.equal(counters.get('creds.revocation_good'), 2);
  });

  for (const mode of ['strict', 'best-effort'] as const) {
    test(`an unreachable responder, ${mode}: ${mode === 'strict' ? 'refused' : 'accepted'}`, async (t) => {
      const counters = new Counters();
      const h = pair({
        a: side(pki.good, 'good.example.com'),
        b: side(pki.good, 'good.example.com', { mode, fetcher: unreachable, counters }),
      });
      t.after(() => h.close());
      const sa = h.a.engine.initiate('site');
      await h.settle(0);
      assert.equal(sa.state === 'established', mode === 'best-effort');
      assert.equal(counters.get('creds.revocation_unknown'), 1);
      assert.equal(counters.get('creds.revocation_refused'), mode === 'strict' ? 1 : 0);
      if (mode === 'strict') assert.match(h.b.logger.text(), /REVOCATION_UNKNOWN: .*ECONNREFUSED/);
    });
  }

  test('a pending fetch: the SA waits, a retransmission is answered from the cache, the late answer completes it', async (t) => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const slow: Fetcher = async (u, o) => {
      await gate;
      return responder(u, o);
    };
    const h = pair({
      a: side(pki.good, 'good.example.com'),
      b: side(pki.good, 'good.example.com', { mode: 'strict', fetcher: slow }),
    });
    t.after(() => h.close());
    const sa = h.a.engine.initiate('site');
    const settled = h.settle(0); // waits in B's engine until the fetch answers
    // Meanwhile time passes (bounded): A retransmits IKE_AUTH; B's copy waits in that SA's queue
    // (work is serialized per IKE SA, so other SAs are not held up) and is answered from the cache.
    for (let i = 0; i < 200 && h.a.counters.get('ike.retransmit_sent') === 0; i++) {
      await new Promise<void>((r) => setImmediate(r));
      h.clock.advanceTo(h.clock.now() + 500);
    }
    assert.notEqual(sa.state, 'established', 'still waiting for the revocation answer');
    assert.ok(h.a.counters.get('ike.retransmit_sent') > 0, 'A retransmitted IKE_AUTH meanwhile');
    release();
    await settled;
    await h.settle(0);
    assert.ok(h.b.counters.get('ike.retransmit_answered') > 0, 'the copy was answered from the cache');
    assert.equal(sa.state, 'established');
  });
});

describe('raw public keys (RFC 7670)', () => {
  const keys = () => generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const ipId = (last: number) => ({ type: IdType.IPV4_ADDR, data: Uint8Array.of(192, 0, 2, last) });
  const rawSide = (
    own: ReturnType<typeof keys>,
    peerPub: ReturnType<typeof keys>['publicKey'],
    me: number,
    peer: number,
  ) => ({
    localId: ipId(me),
    remoteId: ipId(peer),
    auth: { kind: 'cert' as const, credentials: rawKeyCredentials(new RawKeyAuth(own.privateKey, peerPub)) },
  });

  test('each side configured with the other\u2019s key: established; CERT encoding 15 carries the SPKI', async (t) => {
    const ka = keys();
    const kb = keys();
    const h = pair({ a: rawSide(ka, kb.publicKey, 1, 2), b: rawSide(kb, ka.publicKey, 2, 1) });
    t.after(() => h.close());
    const sa = h.a.engine.initiate('site');
    await h.settle(0);
    assert.equal(sa.state, 'established');
    const auth = rawKeyCredentials(new RawKeyAuth(ka.privateKey, kb.publicKey)).localAuth(
      new Uint8Array(8),
      [2],
    );
    assert.equal(auth.certs[0]!.encoding, 15);
    assert.deepEqual(
      Buffer.from(auth.certs[0]!.data),
      createPublicKey(ka.privateKey).export({ type: 'spki', format: 'der' }),
    );
  });

  test('a peer holding another key fails AUTH', async (t) => {
    const ka = keys();
    const kb = keys();
    const stranger = keys();
    const h = pair({ a: rawSide(stranger, kb.publicKey, 1, 2), b: rawSide(kb, ka.publicKey, 2, 1) });
    t.after(() => h.close());
    const sa = h.a.engine.initiate('site');
    await h.settle(0);
    assert.notEqual(sa.state, 'established');
    assert.equal(established(h.b).length, 0);
    assert.match(h.b.logger.text(), /ID_MISMATCH: the peer\u2019s raw public key is not the configured one/);
  });
});
