// RFC 3948 §4: behind a NAT, NAT-keepalives (one octet 0xff on the NAT-T port) every 20 s keep the
// mapping alive; the side not behind a NAT sends none. Rekeys keep the NAT-T path and encapsulation.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { WireDatagram } from '../../src/net/memory.ts';
import { ADDR_A, ADDR_B, established, pair } from './harness.ts';

const INSIDE = '192.0.2.200';
const keepalive = (d: WireDatagram) => d.data.length === 1 && d.data[0] === 0xff;

test('NAT-keepalives every 20 s from the side behind the NAT only', async (t) => {
  const h = pair({ addrA: INSIDE, net: { nat: { inside: INSIDE, outside: ADDR_A } } });
  t.after(() => h.close());
  const sa = h.a.engine.initiate('site');
  await h.settle(0);
  assert.equal(sa.natLocal, true);
  await h.settle(19_000, 1_000);
  assert.equal(h.net.log.filter(keepalive).length, 0);
  await h.settle(42_000, 1_000);
  // "The sending interval ... default 20 seconds": at 20, 40 and 60 s.
  const sent = h.net.log.filter(keepalive);
  assert.equal(sent.length, 3);
  const rsa = established(h.b)[0]!;
  for (const d of sent) {
    // Seen after the NAT: from the public mapping of A's port 4500, the one B's IKE SA uses.
    assert.equal(d.srcAddr, ADDR_A);
    assert.equal(d.srcPort, rsa.path.remotePort);
    assert.equal(d.dstAddr, ADDR_B);
    assert.equal(d.dstPort, 4500);
  }
  // B (not behind a NAT) drops them as keepalives and sends none itself.
  assert.equal(h.b.counters.get('net.drop_natt_keepalive'), 3);
  assert.ok(h.net.log.filter(keepalive).every((d) => d.srcAddr !== ADDR_B));
});

test('no NAT: no keepalives', async (t) => {
  const h = pair();
  t.after(() => h.close());
  h.a.engine.initiate('site');
  await h.settle(61_000, 1_000);
  assert.equal(h.net.log.filter(keepalive).length, 0);
});

test('behind a NAT, a Child SA rekey keeps UDP encapsulation and the IKE rekey keeps keepalives', async (t) => {
  const h = pair({ addrA: INSIDE, net: { nat: { inside: INSIDE, outside: ADDR_A } } });
  t.after(() => h.close());
  const sa = h.a.engine.initiate('site');
  await h.settle(0);
  h.a.engine.rekeyChild(sa, sa.children[0]!);
  await h.settle(0);
  const child = sa.children.find((c) => c.state === 'installed')!;
  const out = h.a.kernel.installed.find((p) => p.spi === child.spiOut)!;
  // RFC 3948 §2: ESP in UDP on the IKE SA's NAT-T ports, as for the first Child SA.
  assert.deepEqual(out.encap, { sport: 4500, dport: 4500 });
  h.a.engine.rekeyIke(sa);
  await h.settle(0);
  const next = established(h.a)[0]!;
  assert.notEqual(next, sa);
  assert.equal(next.natLocal, true);
  const before = h.net.log.filter(keepalive).length;
  await h.settle(21_000, 1_000);
  assert.ok(h.net.log.filter(keepalive).length > before, 'the new IKE SA sends keepalives');
});
