// RFC 7296 §2.9 traffic selector narrowing, TS_UNACCEPTABLE, IPv6 and mixed-family selectors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NotifyType } from '../../src/codec/index.ts';
import { tsFromCidr, formatTs } from '../../src/ike/traffic-selectors.ts';
import { established, pair, type Peer } from './harness.ts';

const childOf = (p: Peer) => established(p)[0]?.children[0];

for (const initiatorIsA of [true, false]) {
  const who = initiatorIsA ? 'A' : 'B';
  test(`responder narrows the proposed selectors (${who} initiates)`, async (t) => {
    // The initiator proposes 192.0.2.0/24 <-> 198.51.100.0/24; the responder allows only halves.
    const wide = { localTs: [tsFromCidr('192.0.2.0/24')], remoteTs: [tsFromCidr('198.51.100.0/24')] };
    const narrowRes = { localTs: [tsFromCidr('198.51.100.0/25')], remoteTs: [tsFromCidr('192.0.2.0/25')] };
    const h = initiatorIsA
      ? pair({ a: wide, b: narrowRes })
      : pair({
          b: { localTs: [tsFromCidr('192.0.2.0/24')], remoteTs: [tsFromCidr('198.51.100.0/24')] },
          a: { localTs: [tsFromCidr('198.51.100.0/25')], remoteTs: [tsFromCidr('192.0.2.0/25')] },
        });
    t.after(() => h.close());
    const [ini, res] = initiatorIsA ? [h.a, h.b] : [h.b, h.a];
    ini.engine.initiate('site');
    await h.settle(0);
    // "the responder is allowed to narrow the choices by selecting a subset of the traffic"
    const c = childOf(ini)!;
    assert.deepEqual(c.localTs.map(formatTs), ['192.0.2.0/25']);
    assert.deepEqual(c.remoteTs.map(formatTs), ['198.51.100.0/25']);
    const r = childOf(res)!;
    assert.deepEqual(r.localTs.map(formatTs), ['198.51.100.0/25']);
    assert.deepEqual(r.remoteTs.map(formatTs), ['192.0.2.0/25']);
    const out = (await ini.kernel.dumpPolicies()).find((p) => p.dir === 'out')!;
    assert.deepEqual([out.selector.src, out.selector.dst], ['192.0.2.0/25', '198.51.100.0/25']);
  });

  test(`TS_UNACCEPTABLE fails the Child SA but keeps the IKE SA (${who} initiates)`, async (t) => {
    const other = { localTs: [tsFromCidr('198.51.100.0/24')], remoteTs: [tsFromCidr('192.0.2.128/25')] };
    const h = pair(initiatorIsA ? { b: other } : { a: other });
    t.after(() => h.close());
    const [ini, res] = initiatorIsA ? [h.a, h.b] : [h.b, h.a];
    const sa = ini.engine.initiate('site');
    await h.settle(0);
    // RFC 7296 §1.2: "If the failure is related to creating the Child SA, the IKE SA is still created"
    assert.equal(sa.state, 'established');
    assert.equal(established(res).length, 1);
    assert.equal(sa.children.length, 0);
    const failed = ini.events.find((e) => e.type === 'child-failed');
    assert.equal(failed?.type === 'child-failed' && failed.notify, NotifyType.TS_UNACCEPTABLE);
    // Nothing left in either kernel: the larval inbound SAs were removed.
    assert.equal(ini.kernel.saCount, 0);
    assert.equal(res.kernel.saCount, 0);
    assert.equal(ini.kernel.policyCount + res.kernel.policyCount, 0);
  });
}

test('IPv6 outer addresses and IPv6 selectors', async (t) => {
  const v6 = (side: 'a' | 'b') => ({
    localAddr: side === 'a' ? '2001:db8::1' : '2001:db8::2',
    remoteAddr: side === 'a' ? '2001:db8::2' : '2001:db8::1',
    localTs: [tsFromCidr(side === 'a' ? '2001:db8:a::/48' : '2001:db8:b::/48')],
    remoteTs: [tsFromCidr(side === 'a' ? '2001:db8:b::/48' : '2001:db8:a::/48')],
  });
  const h = pair({ a: v6('a'), b: v6('b') });
  t.after(() => h.close());
  const sa = h.a.engine.initiate('site');
  await h.settle(0);
  assert.equal(sa.state, 'established');
  assert.equal(h.a.kernel.installed[1]?.dst, '2001:db8::2');
  const out = (await h.a.kernel.dumpPolicies()).find((p) => p.dir === 'out')!;
  assert.deepEqual([out.selector.src, out.selector.dst], ['2001:db8:a::/48', '2001:db8:b::/48']);
});

test('mixed selectors: IPv4 and IPv6 subnets in one Child SA over IPv4', async (t) => {
  const mixed = (side: 'a' | 'b') => {
    const mine = side === 'a' ? ['192.0.2.0/25', '2001:db8:a::/48'] : ['198.51.100.0/24', '2001:db8:b::/48'];
    const theirs =
      side === 'a' ? ['198.51.100.0/24', '2001:db8:b::/48'] : ['192.0.2.0/25', '2001:db8:a::/48'];
    return { localTs: mine.map((c) => tsFromCidr(c)), remoteTs: theirs.map((c) => tsFromCidr(c)) };
  };
  const h = pair({ a: mixed('a'), b: mixed('b') });
  t.after(() => h.close());
  const sa = h.a.engine.initiate('site');
  await h.settle(0);
  assert.equal(sa.state, 'established');
  // One policy triple per family pair (selectors of different families never pair).
  const outs = (await h.a.kernel.dumpPolicies()).filter((p) => p.dir === 'out');
  assert.deepEqual(outs.map((p) => `${p.selector.src}>${p.selector.dst}`).sort(), [
    '192.0.2.0/25>198.51.100.0/24',
    '2001:db8:a::/48>2001:db8:b::/48',
  ]);
  assert.ok(outs.every((p) => p.templates[0]?.dst === h.a.conn.remoteAddr));
});
