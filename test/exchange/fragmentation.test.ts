// RFC 7383: IKE fragmentation of IKE_AUTH when both peers support it and the message is too large.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeMessage, ExchangeType, NotifyType } from '../../src/codec/index.ts';
import { established, pair } from './harness.ts';

for (const initiatorIsA of [true, false]) {
  test(`IKE_AUTH fragmented both ways (${initiatorIsA ? 'A' : 'B'} initiates)`, async (t) => {
    const opts = { fragmentSize: 160 };
    const h = pair({ optionsA: opts, optionsB: opts });
    t.after(() => h.close());
    const [ini, res] = initiatorIsA ? [h.a, h.b] : [h.b, h.a];
    const sa = ini.engine.initiate('site');
    await h.settle(0);
    const msgs = h.net.log.map((d) => decodeMessage(d.data));
    // RFC 7383 §2.3: both announce IKEV2_FRAGMENTATION_SUPPORTED in IKE_SA_INIT.
    for (const m of msgs.slice(0, 2))
      assert.ok(
        m.payloads.some(
          (p) => p.kind === 'NOTIFY' && p.notifyType === NotifyType.IKEV2_FRAGMENTATION_SUPPORTED,
        ),
      );
    const auth = msgs.filter((m) => m.header.exchangeType === ExchangeType.IKE_AUTH);
    // §2.5: "each fragment ... is a separate IKE message" with an Encrypted Fragment payload.
    assert.ok(auth.length > 2, `expected fragments, got ${auth.length} IKE_AUTH messages`);
    assert.ok(auth.every((m) => m.payloads[0]?.kind === 'SKF'));
    assert.ok(h.net.log.slice(2).every((d) => d.data.length <= 160)); // §2.5.1: fits the size limit
    assert.ok(ini.counters.get('ike.fragments_sent') > 1 && res.counters.get('ike.fragments_sent') > 1);
    assert.equal(sa.state, 'established');
    assert.equal(established(res)[0]?.children.length, 1);
  });
}

test('no fragmentation when the peer did not announce support', async (t) => {
  const h = pair({
    optionsA: { fragmentSize: 160 },
    optionsB: { fragmentSize: 160 },
    b: { fragmentation: false },
  });
  t.after(() => h.close());
  const sa = h.a.engine.initiate('site');
  await h.settle(0);
  const auth = h.net.log
    .map((d) => decodeMessage(d.data))
    .filter((m) => m.header.exchangeType === ExchangeType.IKE_AUTH);
  assert.equal(auth.length, 2);
  assert.ok(auth.every((m) => m.payloads[0]?.kind === 'SK'));
  assert.equal(sa.state, 'established');
});

test('reassembly memory is bounded: too many fragments are dropped and counted', async (t) => {
  const h = pair({ optionsA: { fragmentSize: 100 }, optionsB: { fragmentSize: 160, maxFragments: 2 } });
  t.after(() => h.close());
  const sa = h.a.engine.initiate('site');
  await h.settle(0);
  assert.ok(h.b.counters.get('ike.drop_reassembly_limit') > 0);
  assert.equal(established(h.b).length, 0);
  assert.equal(sa.state, 'connecting');
});
