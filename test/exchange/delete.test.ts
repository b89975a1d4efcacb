// RFC 7296 §1.4.1: deleting Child SAs and the IKE SA with INFORMATIONAL Delete payloads, both roles;
// kernel state removed on both sides. engine.close() sends Deletes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { established, pair } from './harness.ts';

for (const [label, initiatorIsA] of [
  ['A deletes', true],
  ['B deletes', false],
] as const) {
  test(`Child SA delete (${label}): both kernels cleaned, IKE SA stays`, async (t) => {
    const h = pair();
    t.after(() => h.close());
    h.a.engine.initiate('site');
    await h.settle(0);
    h.a.engine.createChild('site');
    await h.settle(0);
    const [ini, res] = initiatorIsA ? [h.a, h.b] : [h.b, h.a];
    const sa = established(ini)[0]!;
    const rsa = established(res)[0]!;
    const [first, second] = sa.children;
    ini.engine.terminateChild(sa, second!);
    await h.settle(0);
    // "The recipient MUST close the designated SAs." / "the response ... will contain Delete payloads
    // for the paired SAs going in the other direction."
    assert.equal(second!.state, 'destroyed');
    assert.deepEqual(sa.children, [first]);
    assert.equal(rsa.children.length, 1);
    assert.equal(rsa.children[0]!.spiOut, first!.spiIn);
    for (const p of [ini, res]) {
      assert.equal(p.kernel.saCount, 2, `${p.name}: one pair left`);
      assert.equal(p.kernel.policyCount, 3, `${p.name}: the first Child SA's policies left`);
    }
    assert.ok(res.events.some((e) => e.type === 'child-destroyed'));
    assert.equal(sa.state, 'established');
  });

  test(`IKE SA delete (${label}): every Child SA goes with it`, async (t) => {
    const h = pair();
    t.after(() => h.close());
    h.a.engine.initiate('site');
    await h.settle(0);
    const [ini, res] = initiatorIsA ? [h.a, h.b] : [h.b, h.a];
    const sa = established(ini)[0]!;
    const rsa = established(res)[0]!;
    const keys = rsa.keymat!.keys;
    assert.equal(ini.engine.terminate('site'), 1);
    await h.settle(0);
    // "Deleting an IKE SA implicitly closes any remaining Child SAs negotiated under it."
    assert.equal(sa.state, 'destroyed');
    assert.equal(rsa.state, 'destroyed');
    for (const p of [ini, res]) {
      assert.equal(p.kernel.saCount, 0);
      assert.equal(p.kernel.policyCount, 0);
      assert.equal(p.engine.sas().length, 0);
    }
    assert.ok(keys.destroyed, 'the responder wiped its keys');
    // "The response to a request that deletes the IKE SA is an empty INFORMATIONAL response": it was
    // sent once and not retransmitted.
    assert.equal(ini.counters.get('ike.retransmit_sent'), 0);
  });
}

test('crossing Child SA deletes: both close, neither answers with a Delete payload', async (t) => {
  const h = pair();
  t.after(() => h.close());
  const sa = h.a.engine.initiate('site');
  await h.settle(0);
  const rsa = established(h.b)[0]!;
  h.a.engine.terminateChild(sa, sa.children[0]!);
  h.b.engine.terminateChild(rsa, rsa.children[0]!);
  await h.settle(0);
  // "If a node receives a delete request for SAs for which it has already issued a delete request,
  // it MUST delete the outgoing SAs while processing the request and the incoming SAs while
  // processing the response."
  assert.equal(sa.children.length, 0);
  assert.equal(rsa.children.length, 0);
  assert.equal(h.a.kernel.saCount, 0);
  assert.equal(h.b.kernel.saCount, 0);
  assert.equal(sa.state, 'established');
});

test('a Delete for an unknown SPI is answered (empty) and changes nothing', async (t) => {
  const h = pair();
  t.after(() => h.close());
  const sa = h.a.engine.initiate('site');
  await h.settle(0);
  const rsa = established(h.b)[0]!;
  const child = sa.children[0]!;
  // B forgets its side silently; A's Delete then names an SPI B does not know.
  await rsa.removeChild(rsa.children[0]!);
  h.a.engine.terminateChild(sa, child);
  await h.settle(0);
  // §1.4: "The recipient of an INFORMATIONAL exchange request MUST send some response".
  assert.equal(child.state, 'destroyed');
  assert.equal(h.a.counters.get('ike.retransmit_sent'), 0);
  assert.equal(rsa.state, 'established');
});

test('engine.close() sends Deletes: the peer removes its state without waiting for liveness', async (t) => {
  const h = pair();
  t.after(() => h.close());
  h.a.engine.initiate('site');
  await h.settle(0);
  h.a.engine.createChild('site');
  await h.settle(0);
  const rsa = established(h.b)[0]!;
  await h.a.engine.close();
  assert.equal(h.a.kernel.saCount, 0);
  assert.equal(h.a.kernel.policyCount, 0);
  await h.settle(0);
  // §1.4.1: "Deleting an IKE SA implicitly closes any remaining Child SAs negotiated under it."
  assert.equal(rsa.state, 'destroyed');
  assert.equal(h.b.kernel.saCount, 0);
  assert.equal(h.b.kernel.policyCount, 0);
});
