// RFC 7296 §2.1: lost, duplicated and reordered messages during rekeys and deletes, and giving up.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ExchangeType, HeaderFlag } from '../../src/codec/index.ts';
import type { WireDatagram } from '../../src/net/memory.ts';
import { established, pair } from './harness.ts';

const exchangeOf = (d: WireDatagram) => d.data[18];
const isResponse = (d: WireDatagram) => (d.data[19]! & HeaderFlag.RESPONSE) !== 0;

for (const lost of ['request', 'response'] as const) {
  test(`Child SA rekey: the first ${lost} is lost, retransmission recovers`, async (t) => {
    let dropped = 0;
    const h = pair({
      faults: {
        drop: (d) =>
          exchangeOf(d) === ExchangeType.CREATE_CHILD_SA &&
          isResponse(d) === (lost === 'response') &&
          dropped++ === 0,
      },
    });
    t.after(() => h.close());
    const sa = h.a.engine.initiate('site');
    await h.settle(0);
    const old = sa.children[0]!;
    h.a.engine.rekeyChild(sa, old);
    await h.settle(12_000);
    // "the initiator MUST retransmit the request until it either receives a response or deems the IKE
    // SA to have failed"; a retransmitted request is answered from the cache, not processed twice.
    assert.equal(dropped, 2, 'one lost, the rest passed');
    assert.equal(h.a.counters.get('ike.retransmit_sent'), 1);
    if (lost === 'response') assert.equal(h.b.counters.get('ike.retransmit_answered'), 1);
    assert.equal(sa.children.length, 1);
    assert.notEqual(sa.children[0], old);
    assert.equal(h.a.kernel.saCount, 2);
    assert.equal(h.b.kernel.saCount, 2, 'exactly one new pair on the responder too');
  });
}

test('every message duplicated during Child and IKE rekeys: one of each survives', async (t) => {
  const h = pair();
  t.after(() => h.close());
  const sa = h.a.engine.initiate('site');
  await h.settle(0);
  h.net.faults = { duplicate: 1 };
  h.a.engine.rekeyChild(sa, sa.children[0]!);
  await h.settle(6_000);
  h.a.engine.rekeyIke(sa);
  await h.settle(1_000);
  assert.equal(h.a.engine.sas().length, 1);
  assert.equal(h.b.engine.sas().length, 1);
  assert.equal(established(h.a)[0]!.children.length, 1);
  assert.equal(established(h.b)[0]!.children.length, 1);
  assert.equal(h.a.kernel.saCount, 2);
  assert.equal(h.b.kernel.saCount, 2);
  assert.ok(h.b.counters.get('ike.retransmit_answered') >= 1);
});

test('reordered, jittered and lossy delivery during rekeys still converges (seeded)', async (t) => {
  for (const seed of [1, 2, 3]) {
    const h = pair({ net: { seed } });
    t.after(() => h.close());
    const sa = h.a.engine.initiate('site');
    await h.settle(0);
    h.net.faults = { jitterMs: 300, duplicate: 0.3, loss: 0.2 };
    h.a.engine.rekeyChild(sa, sa.children[0]!);
    h.b.engine.rekeyChild(established(h.b)[0]!, established(h.b)[0]!.children[0]!);
    await h.settle(60_000, 250);
    h.net.faults = {};
    await h.settle(10_000, 500);
    const [a, b] = [established(h.a), established(h.b)];
    assert.equal(a.length, 1, `seed ${seed}`);
    assert.equal(b.length, 1, `seed ${seed}`);
    assert.equal(a[0]!.children.length, 1, `seed ${seed}: one Child SA on A`);
    assert.equal(b[0]!.children.length, 1, `seed ${seed}: one Child SA on B`);
    assert.equal(a[0]!.children[0]!.spiOut, b[0]!.children[0]!.spiIn, `seed ${seed}: the same pair`);
    assert.equal(h.a.kernel.saCount, 2, `seed ${seed}`);
    assert.equal(h.b.kernel.saCount, 2, `seed ${seed}`);
  }
});

test('retransmit give-up during a Child SA rekey: the IKE SA and its Child SAs are removed', async (t) => {
  const h = pair({ optionsA: { retransmit: { timeoutMs: 1000, tries: 2, base: 2 } } });
  t.after(() => h.close());
  const sa = h.a.engine.initiate('site');
  await h.settle(0);
  h.net.faults = { drop: (d) => d.srcAddr === h.b.conn.localAddr };
  h.a.engine.rekeyChild(sa, sa.children[0]!);
  await h.settle(6_999);
  assert.equal(sa.state, 'established');
  await h.settle(2);
  // §2.4: "... the IKE SA is deemed to have failed ... and all its Child SAs are deleted".
  assert.equal(sa.state, 'destroyed');
  assert.equal(h.a.counters.get('ike.give_up'), 1);
  assert.equal(h.a.kernel.saCount, 0, 'the larval SA of the rekey is released too');
  assert.equal(h.a.kernel.policyCount, 0);
});
