// No traffic loss across a rekey (RFC 7296 §2.8): new inbound SA before new outbound SA, the old SAs
// removed only after the grace period, on both sides, asserted on the FakeKernel call order.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { FakeCall } from '../../src/kernel/fake.ts';
import { established, pair } from './harness.ts';

const spiOf = (c: FakeCall) => (c.arg as { spi?: number }).spi;
const indexOf = (calls: FakeCall[], method: string, spi: number) =>
  calls.findIndex((c) => c.method === method && spiOf(c) === spi);

test('rekey order: new inbound, new outbound, old deleted only after the grace period', async (t) => {
  const h = pair({ optionsA: { rekeyGraceMs: 3_000 }, optionsB: { rekeyGraceMs: 3_000 } });
  t.after(() => h.close());
  const sa = h.a.engine.initiate('site');
  await h.settle(0);
  const rsa = established(h.b)[0]!;
  const old = sa.children[0]!;
  const oldPeer = rsa.children[0]!;
  const mark = [h.a.kernel.calls.length, h.b.kernel.calls.length];
  h.a.engine.rekeyChild(sa, old);
  await h.settle(0);
  const child = sa.children.find((c) => c !== old)!;
  const peer = rsa.children.find((c) => c !== oldPeer)!;
  for (const [p, c, o, start] of [
    [h.a, child, old, mark[0]!],
    [h.b, peer, oldPeer, mark[1]!],
  ] as const) {
    const calls = p.kernel.calls.slice(start);
    const inbound = indexOf(calls, 'updateSa', c.spiIn);
    const outbound = indexOf(calls, 'addSa', c.spiOut);
    // §2.8: "When there are two SAs eligible to receive packets, a node MUST accept incoming packets
    // through either SA" -- so the receiving side exists before anything can send on it.
    assert.ok(
      inbound >= 0 && outbound > inbound,
      `${p.name}: inbound ${inbound} before outbound ${outbound}`,
    );
    assert.equal(indexOf(calls, 'deleteSa', o.spiIn), -1, `${p.name}: old inbound still there`);
    assert.equal(indexOf(calls, 'deleteSa', o.spiOut), -1, `${p.name}: old outbound still there`);
    assert.ok(!calls.some((x) => x.method === 'deletePolicy'), `${p.name}: no policy removed`);
  }
  await h.settle(2_999);
  assert.equal(indexOf(h.a.kernel.calls.slice(mark[0]), 'deleteSa', old.spiIn), -1);
  assert.equal(indexOf(h.b.kernel.calls.slice(mark[1]), 'deleteSa', oldPeer.spiIn), -1);
  await h.settle(2);
  for (const [p, o, start] of [
    [h.a, old, mark[0]!],
    [h.b, oldPeer, mark[1]!],
  ] as const) {
    const calls = p.kernel.calls.slice(start);
    assert.ok(indexOf(calls, 'deleteSa', o.spiIn) > 0, `${p.name}: old inbound removed after the grace`);
    assert.ok(indexOf(calls, 'deleteSa', o.spiOut) > 0, `${p.name}: old outbound removed after the grace`);
    // The policies are shared with the new Child SA (same reqid and selectors): never removed.
    assert.ok(!calls.some((x) => x.method === 'deletePolicy'));
    assert.equal(p.kernel.saCount, 2);
    assert.equal(p.kernel.policyCount, 3);
  }
});
