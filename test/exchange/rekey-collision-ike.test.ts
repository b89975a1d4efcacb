// RFC 7296 §2.8.2: both peers rekey the IKE SA at once. Both exchanges complete; the new IKE SA
// created with the lowest of the four nonces is redundant and deleted by its creator. Exactly one new
// IKE SA survives on each side, holding the Child SA; the old one is deleted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { established, pair } from './harness.ts';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

for (let run = 0; run < 6; run++) {
  // Nonces are random: over the runs each side wins sometimes.
  test(`simultaneous IKE SA rekey, run ${run}: one new IKE SA survives with the Child SA`, async (t) => {
    const h = pair();
    t.after(() => h.close());
    const oldA = h.a.engine.initiate('site');
    await h.settle(0);
    const oldB = established(h.b)[0]!;
    const childA = oldA.children[0]!;
    h.a.engine.rekeyIke(oldA);
    h.b.engine.rekeyIke(oldB);
    await h.settle(0);
    // "If the two peers try to rekey the IKE SA at the same time ... there will be two successful
    // exchanges creating new IKE SAs": each side logs exactly one verdict, opposite ones.
    const lost = [h.a, h.b].filter((p) => p.logger.text().includes('IKE SA rekey collision lost'));
    const won = [h.a, h.b].filter((p) => p.logger.text().includes('IKE SA rekey collision won'));
    assert.equal(lost.length, 1);
    assert.equal(won.length, 1);
    assert.notEqual(lost[0], won[0]);
    await h.settle(1_000);
    assert.equal(oldA.state, 'destroyed');
    assert.equal(oldB.state, 'destroyed');
    const [a, b] = [h.a.engine.sas(), h.b.engine.sas()];
    assert.equal(a.length, 1, 'A holds exactly one IKE SA');
    assert.equal(b.length, 1, 'B holds exactly one IKE SA');
    assert.equal(a[0]!.state, 'established');
    assert.equal(hex(a[0]!.spiI), hex(b[0]!.spiI), 'the same one on both sides');
    assert.equal(hex(a[0]!.spiR), hex(b[0]!.spiR));
    // The Child SA moved to the survivor and is untouched in the kernel.
    assert.deepEqual(a[0]!.children, [childA]);
    assert.equal(b[0]!.children.length, 1);
    assert.equal(h.a.kernel.saCount, 2);
    assert.equal(h.b.kernel.saCount, 2);
    // And the survivor works: a liveness check over it is answered.
    h.a.engine.lifecycle.checkLiveness(a[0]!);
    await h.settle(0);
    assert.equal(a[0]!.runner.nextRequestId >= 1, true);
    assert.equal(a[0]!.state, 'established');
  });
}
