// RFC 7296 §2.23 NAT detection, the switch to port 4500 (RFC 3948 non-ESP marker), and UDP-encapsulated
// Child SAs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ExchangeType } from '../../src/codec/index.ts';
import { ADDR_A, established, pair } from './harness.ts';

const INSIDE = '192.0.2.200';

test('initiator behind a NAT: detected by both, IKE_AUTH on 4500, ESP encapsulated', async (t) => {
  const h = pair({ addrA: INSIDE, net: { nat: { inside: INSIDE, outside: ADDR_A } } });
  t.after(() => h.close());
  const sa = h.a.engine.initiate('site');
  await h.settle(0);
  assert.equal(sa.state, 'established');
  const rsa = established(h.b)[0]!;
  // "If none of the NAT_DETECTION_SOURCE_IP payload(s) received matches the expected value ... the
  // recipient ... SHOULD assume that the other side is behind a NAT"; destination mismatch: we are.
  assert.equal(sa.natLocal, true);
  assert.equal(sa.natRemote, false);
  assert.equal(rsa.natRemote, true);
  assert.equal(rsa.natLocal, false);
  // "the initiator MUST ... use UDP port 4500 ... for all subsequent messages" (with the marker).
  const auth = h.net.log.filter((d) => d.data.length > 4 && d.data[4 + 18] === ExchangeType.IKE_AUTH);
  assert.equal(auth.length, 2);
  for (const d of auth) {
    assert.ok(d.srcPort !== 500 && d.dstPort !== 500, `${d.srcPort} -> ${d.dstPort}`);
    assert.deepEqual([...d.data.subarray(0, 4)], [0, 0, 0, 0]); // RFC 3948 §2.2 non-ESP marker
  }
  assert.equal(sa.path.localPort, 4500);
  // The responder answers the NAT's public mapping.
  assert.equal(rsa.path.remoteAddr, ADDR_A);
  assert.ok(rsa.path.remotePort >= 40000);
  // RFC 3948: the Child SAs use UDP encapsulation with the IKE SA's ports.
  const [aIn, aOut] = h.a.kernel.installed;
  assert.deepEqual(aOut?.encap, { sport: 4500, dport: 4500 });
  assert.deepEqual(aIn?.encap, { sport: 4500, dport: 4500 });
  const [bIn, bOut] = h.b.kernel.installed;
  assert.deepEqual(bOut?.encap, { sport: 4500, dport: rsa.path.remotePort });
  assert.deepEqual(bIn?.encap, { sport: rsa.path.remotePort, dport: 4500 });
  assert.equal(bOut?.dst, ADDR_A);
});

for (const initiatorIsA of [true, false]) {
  test(`no NAT: no port switch, no encapsulation (${initiatorIsA ? 'A' : 'B'} initiates)`, async (t) => {
    const h = pair();
    t.after(() => h.close());
    const sa = (initiatorIsA ? h.a : h.b).engine.initiate('site');
    await h.settle(0);
    assert.equal(sa.state, 'established');
    assert.ok(h.net.log.every((d) => d.srcPort === 500 && d.dstPort === 500));
    assert.ok(h.a.kernel.installed.every((p) => p.encap === undefined));
  });

  test(`forced encapsulation fakes a NAT (${initiatorIsA ? 'A' : 'B'} initiates)`, async (t) => {
    const h = pair(initiatorIsA ? { a: { forceEncap: true } } : { b: { forceEncap: true } });
    t.after(() => h.close());
    const ini = initiatorIsA ? h.a : h.b;
    const sa = ini.engine.initiate('site');
    await h.settle(0);
    assert.equal(sa.state, 'established');
    assert.equal(sa.path.localPort, 4500);
    for (const p of [h.a, h.b]) assert.ok(p.kernel.installed.every((x) => x.encap?.sport === 4500));
  });
}
