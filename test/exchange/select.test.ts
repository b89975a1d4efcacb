// RFC 7296 §2.15 / §2.9: the responder picks a connection by addresses at IKE_SA_INIT and re-selects at
// IKE_AUTH with IDi (and IDr), the AUTH method and the proposed selectors. Several connections
// between the same two gateways each come up with their own identities and subnets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IdType, NotifyType } from '../../src/codec/index.ts';
import { Engine } from '../../src/ike/engine.ts';
import type { IkeConnection } from '../../src/ike/config.ts';
import { Counters } from '../../src/base/counters.ts';
import { formatTs, tsFromCidr } from '../../src/ike/traffic-selectors.ts';
import { FakeKernel } from '../../src/kernel/fake.ts';
import { connection, established, pair, type Peer } from './harness.ts';

const fqdn = (s: string) => ({ type: IdType.FQDN, data: new TextEncoder().encode(s) });

/** Connection `name` on both sides, with A's identity `idA` and the subnets A-side `la` / B-side `lb`. */
function twin(name: string, idA: string, la: string, lb: string): { a: IkeConnection; b: IkeConnection } {
  return {
    a: connection('a', {
      name,
      localId: fqdn(idA),
      localTs: [tsFromCidr(la)],
      remoteTs: [tsFromCidr(lb)],
    }),
    b: connection('b', {
      name,
      remoteId: fqdn(idA),
      localTs: [tsFromCidr(lb)],
      remoteTs: [tsFromCidr(la)],
    }),
  };
}

const childTs = (p: Peer, name: string) =>
  established(p)
    .filter((sa) => sa.config.name === name)
    .flatMap((sa) => sa.children.map((c) => `${c.localTs.map(formatTs)}>${c.remoteTs.map(formatTs)}`));

for (const sameIds of [false, true]) {
  test(`two connections between the same gateways (${sameIds ? 'same IDs' : 'different IDs'})`, async (t) => {
    const h = pair();
    t.after(() => h.close());
    // B lists "site" first: before re-selection at IKE_AUTH, "two" came up with site's selectors and
    // failed (TS_UNACCEPTABLE, or AUTHENTICATION_FAILED for a different IDi).
    const two = twin('two', sameIds ? 'a.example' : 'a2.example', '192.0.2.128/25', '198.51.100.128/25');
    h.a.engine.addConnection(two.a);
    h.b.engine.addConnection(two.b);
    h.a.engine.initiate('two');
    h.a.engine.initiate('site');
    await h.settle(0);
    assert.equal(established(h.a).length, 2);
    assert.equal(established(h.b).length, 2);
    assert.deepEqual(childTs(h.b, 'two'), ['198.51.100.128/25>192.0.2.128/25']);
    assert.deepEqual(childTs(h.b, 'site'), ['198.51.100.0/24>192.0.2.0/25']);
    assert.deepEqual(childTs(h.a, 'two'), ['192.0.2.128/25>198.51.100.128/25']);
    assert.equal(h.b.events.filter((e) => e.type === 'child-failed').length, 0);
    // Each responder IKE SA knows the peer's proven identity under the connection that names it.
    const bTwo = established(h.b).find((sa) => sa.config.name === 'two');
    assert.equal(new TextDecoder().decode(bTwo?.peerId?.data), sameIds ? 'a.example' : 'a2.example');
    assert.equal(h.b.kernel.policyCount, h.a.kernel.policyCount);
  });
}

test('an IDi that matches no connection is answered with AUTHENTICATION_FAILED', async (t) => {
  const h = pair({ a: { localId: fqdn('stranger.example') } });
  t.after(() => h.close());
  const two = twin('two', 'a2.example', '192.0.2.128/25', '198.51.100.128/25');
  h.b.engine.addConnection(two.b);
  const failures: string[] = [];
  h.a.engine.onEvent((e) => e.type === 'ike-failed' && failures.push(e.reason));
  const sa = h.a.engine.initiate('site');
  await h.settle(0);
  assert.equal(sa.state, 'destroyed');
  assert.equal(h.b.engine.sas().length, 0);
  assert.equal(h.b.counters.get('ike.auth_failed'), 1);
  assert.match(failures[0] ?? '', new RegExp(`notify ${NotifyType.AUTHENTICATION_FAILED}`));
  assert.equal(h.b.kernel.saCount + h.a.kernel.saCount, 0);
});

test('IDr sent by the initiator selects the responder identity', async (t) => {
  // B holds two connections for the same peer ID, differing only in B's own identity and subnet.
  const h = pair({
    a: { sendIdr: true, remoteId: fqdn('b2.example'), remoteTs: [tsFromCidr('198.51.100.128/25')] },
  });
  t.after(() => h.close());
  h.b.engine.addConnection(
    connection('b', { name: 'b2', localId: fqdn('b2.example'), localTs: [tsFromCidr('198.51.100.128/25')] }),
  );
  const sa = h.a.engine.initiate('site');
  await h.settle(0);
  assert.equal(sa.state, 'established');
  assert.deepEqual(
    established(h.b).map((s) => s.config.name),
    ['b2'],
  );
});

test('a remote-any connection takes a peer from any address; an exact one is preferred', async (t) => {
  const h = pair();
  t.after(() => h.close());
  // B: "roam" (any address, any ID) listed before the exact "site". A third host from another address.
  const { remoteId: _r, remoteAddr: _a, ...roam } = connection('b', { name: 'roam' });
  h.b.engine.removeConnection('site');
  h.b.engine.addConnection(roam);
  h.b.engine.addConnection(connection('b'));
  const far = connection('a', { name: 'far', localAddr: '203.0.113.3' });
  const c = new Engine({
    transport: h.net.createTransport({ addresses: [far.localAddr], counters: new Counters() }),
    kernel: new FakeKernel(),
    timers: h.timers,
    connections: [far],
  });
  h.a.engine.initiate('site');
  c.initiate('far');
  await h.settle(0);
  const names = established(h.b)
    .map((sa) => `${sa.config.name}@${sa.path.remoteAddr}`)
    .sort();
  assert.deepEqual(names, ['roam@203.0.113.3', 'site@203.0.113.1']);
  await c.close();
});

test('two connections for the same peer with different PSKs: the one whose key verifies is taken', async (t) => {
  const other = new TextEncoder().encode('the second connection has another key');
  const h = pair({ a: { auth: { kind: 'psk', psk: other } } });
  t.after(() => h.close());
  // B's "site" (listed first, same peer ID and selectors) has the harness PSK; "alt" has A's key.
  h.b.engine.addConnection(connection('b', { name: 'alt', auth: { kind: 'psk', psk: other } }));
  h.a.engine.initiate('site');
  await h.settle(0);
  assert.equal(established(h.a).length, 1);
  assert.deepEqual(
    established(h.b).map((sa) => sa.config.name),
    ['alt'],
  );
  assert.equal(h.b.counters.get('ike.auth_failed') ?? 0, 0);
  assert.equal(h.b.kernel.saCount, 2);
});
