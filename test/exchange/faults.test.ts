// RFC 7296 §2.1: lost, duplicated and reordered messages during establishment, and giving up.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeMessage, ExchangeType, isResponse } from '../../src/codec/index.ts';
import type { WireDatagram } from '../../src/net/memory.ts';
import { established, pair } from './harness.ts';

const kind = (d: WireDatagram) => {
  const m = decodeMessage(
    d.data.length > 4 && d.data[0] === 0 && d.dstPort === 4500 ? d.data.subarray(4) : d.data,
  );
  return `${m.header.exchangeType === ExchangeType.IKE_SA_INIT ? 'init' : 'auth'}-${isResponse(m.header) ? 'resp' : 'req'}`;
};

for (const lost of ['init-req', 'init-resp', 'auth-req', 'auth-resp']) {
  test(`the first ${lost} is lost: retransmission recovers`, async (t) => {
    let dropped = 0;
    const h = pair({ faults: { drop: (d) => kind(d) === lost && dropped++ === 0 } });
    t.after(() => h.close());
    const sa = h.a.engine.initiate('site');
    await h.settle(10_000);
    // "the initiator MUST retransmit the request until it either receives a response or deems the
    // IKE SA to have failed"; a retransmitted request is answered from the cached response.
    assert.equal(h.net.stats.dropped, 1);
    assert.equal(sa.state, 'established');
    assert.equal(established(h.b).length, 1);
    assert.equal(h.a.counters.get('ike.retransmit_sent'), 1);
    if (lost.endsWith('resp')) assert.equal(h.b.counters.get('ike.retransmit_answered'), 1);
    assert.equal(h.a.kernel.installed.length, 2);
    assert.equal(h.b.kernel.installed.length, 2);
  });
}

test('every message duplicated: one IKE SA and one Child SA per side', async (t) => {
  const h = pair({ faults: { duplicate: 1 } });
  t.after(() => h.close());
  const sa = h.a.engine.initiate('site');
  await h.settle(0);
  assert.equal(sa.state, 'established');
  assert.equal(h.b.engine.sas().length, 1);
  assert.equal(h.a.kernel.installed.length, 2);
  assert.equal(h.b.kernel.installed.length, 2);
  assert.ok(
    h.b.counters.get('ike.retransmit_answered') + h.b.counters.get('ike.drop_request_in_progress') >= 1,
  );
});

test('reordered and jittered delivery with loss still establishes (seeded)', async (t) => {
  for (const seed of [1, 2, 3, 4, 5]) {
    const h = pair({ net: { seed }, faults: { jitterMs: 300, duplicate: 0.3, loss: 0.2 } });
    t.after(() => h.close());
    const sa = h.a.engine.initiate('site');
    await h.settle(120_000, 250);
    assert.equal(sa.state, 'established', `seed ${seed}`);
    assert.equal(h.b.engine.sas().filter((s) => s.established).length, 1, `seed ${seed}`);
    assert.equal(h.a.kernel.saCount, 2, `seed ${seed}`);
  }
});

test('retransmit give-up: the IKE SA fails after the last retransmission', async (t) => {
  const h = pair({
    optionsA: { retransmit: { timeoutMs: 1000, tries: 2, base: 2 } },
    faults: { drop: (d) => d.srcAddr === h.b.conn.localAddr },
  });
  t.after(() => h.close());
  const sa = h.a.engine.initiate('site');
  await h.settle(6_999);
  assert.equal(sa.state, 'connecting'); // sends at 0, 1 s, 3 s; gives up at 7 s (RFC 7296 §2.4)
  await h.settle(2);
  assert.equal(sa.state, 'destroyed');
  assert.equal(h.a.counters.get('ike.give_up'), 1);
  assert.equal(h.a.counters.get('ike.retransmit_sent'), 2);
  const failed = h.a.events.find((e) => e.type === 'ike-failed');
  assert.ok(failed);
});
