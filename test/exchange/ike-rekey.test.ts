// RFC 7296 §1.3.2 / §2.18: rekeying the IKE SA with CREATE_CHILD_SA, both roles. The new IKE SA has new
// SPIs and keys from SK_d (old), its message IDs start at 0, and the Child SAs move over to it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { established, pair } from './harness.ts';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

for (const [label, initiatorIsA] of [
  ['A rekeys', true],
  ['B rekeys', false],
] as const) {
  test(`IKE SA rekey (${label}): Child SAs move to the new IKE SA`, async (t) => {
    const h = pair();
    t.after(() => h.close());
    h.a.engine.initiate('site');
    await h.settle(0);
    const [ini, res] = initiatorIsA ? [h.a, h.b] : [h.b, h.a];
    const old = established(ini)[0]!;
    const oldPeer = established(res)[0]!;
    const child = old.children[0]!;
    const oldSkD = old.keymat!.keys.skD;
    const oldSkDCopy = oldSkD.slice();
    ini.engine.rekeyIke(old);
    await h.settle(0);
    const sa = established(ini)[0]!;
    const peer = established(res)[0]!;
    assert.notEqual(sa, old);
    // §2.18: "New initiator and responder SPIs are supplied in the SPI fields in the Proposal
    // structures"; both sides agree on them.
    assert.equal(hex(sa.spiI), hex(peer.spiI));
    assert.equal(hex(sa.spiR), hex(peer.spiR));
    assert.notEqual(hex(sa.spiI), hex(old.spiI));
    // The initiator of the rekey is the initiator of the new IKE SA (I flag, key direction).
    assert.equal(sa.initiator, true);
    assert.equal(peer.initiator, false);
    // §2.18: "SKEYSEED = prf(SK_d (old), g^ir (new) | Ni | Nr)": both derive the same new keys.
    assert.equal(hex(sa.keymat!.keys.skD), hex(peer.keymat!.keys.skD));
    assert.equal(hex(sa.keymat!.keys.skEi), hex(peer.keymat!.keys.skEi));
    assert.notEqual(hex(sa.keymat!.keys.skD), hex(oldSkDCopy));
    // The old IKE SA is deleted by the rekey initiator; its keys are wiped.
    assert.equal(old.state, 'destroyed');
    assert.equal(oldPeer.state, 'destroyed');
    assert.ok(
      oldSkD.every((b) => b === 0),
      'old SK_d wiped',
    );
    assert.equal(ini.engine.sas().length, 1);
    assert.equal(res.engine.sas().length, 1);
    // The Child SAs moved: same kernel state, now under the new IKE SA.
    assert.deepEqual(sa.children, [child]);
    assert.equal(peer.children.length, 1);
    assert.equal(ini.kernel.saCount, 2);
    assert.equal(res.kernel.saCount, 2);
    assert.ok(ini.events.some((e) => e.type === 'ike-rekeyed' && e.sa === sa && e.old === old));
    // §2.18: "The new IKE SA MUST reset its message counters to 0" -- and it works: rekey a Child SA
    // over it (its first request carries message ID 0).
    assert.equal(sa.runner.nextRequestId, 0);
    ini.engine.rekeyChild(sa, child);
    await h.settle(6_000);
    assert.equal(sa.children.length, 1);
    assert.notEqual(sa.children[0], child);
    assert.equal(ini.kernel.saCount, 2);
    assert.equal(res.kernel.saCount, 2);
  });
}

test('IKE rekey always runs a new key exchange', async (t) => {
  const h = pair();
  t.after(() => h.close());
  const old = h.a.engine.initiate('site');
  await h.settle(0);
  const groups: number[] = [];
  for (const p of [h.a, h.b]) {
    const take = p.engine.pool.take.bind(p.engine.pool);
    p.engine.pool.take = (g: number) => (groups.push(g), take(g));
  }
  h.a.engine.rekeyIke(old);
  await h.settle(0);
  // §2.18: "implementations MUST perform a new Diffie-Hellman exchange when rekeying the IKE SA".
  assert.deepEqual(groups, [31, 31]);
  assert.equal(established(h.a).length, 1);
});

test('the IKE SA rekey timer (ikeRekeyMs) rekeys by itself', async (t) => {
  const h = pair({ a: { ikeRekeyMs: 60_000 } });
  t.after(() => h.close());
  const old = h.a.engine.initiate('site');
  await h.settle(59_000, 1_000);
  assert.equal(old.state, 'established');
  await h.settle(2_000, 1_000);
  // §2.8: "IKE ... SAs should be used only for a limited amount of time" -- rekeyed at 60 s.
  assert.equal(old.state, 'destroyed');
  assert.equal(established(h.a).length, 1);
  assert.equal(established(h.b).length, 1);
  assert.equal(established(h.a)[0]!.children.length, 1);
});
