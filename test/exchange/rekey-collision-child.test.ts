// RFC 7296 §2.8.1: both peers rekey the same Child SA at once. Both exchanges complete; "the SA
// created with the lowest of the four nonces used in the two exchanges SHOULD be closed by the
// endpoint that created it". Exactly one new pair survives on both sides; the old one is gone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { established, pair } from './harness.ts';
import { compareNonces, oursIsRedundant } from '../../src/ike/nonces.ts';

test('nonce order: lexicographic, a prefix sorts first', () => {
  const b = (...x: number[]) => Uint8Array.from(x);
  assert.ok(compareNonces(b(1, 2), b(1, 3)) < 0);
  assert.ok(compareNonces(b(2), b(1, 255)) > 0);
  assert.ok(compareNonces(b(1), b(1, 0)) < 0);
  assert.equal(compareNonces(b(7, 7), b(7, 7)), 0);
  // "the lowest of the four nonces": ours holds it -> ours is redundant.
  assert.equal(oursIsRedundant([b(9), b(1)], [b(5), b(6)]), true);
  assert.equal(oursIsRedundant([b(9), b(7)], [b(5), b(8)]), false);
});

for (let run = 0; run < 6; run++) {
  // Nonces are random: over the runs each side wins sometimes.
  test(`simultaneous Child SA rekey, run ${run}: one new pair survives`, async (t) => {
    const h = pair();
    t.after(() => h.close());
    const sa = h.a.engine.initiate('site');
    await h.settle(0);
    const rsa = established(h.b)[0]!;
    const oldA = sa.children[0]!;
    const oldB = rsa.children[0]!;
    h.a.engine.rekeyChild(sa, oldA);
    h.b.engine.rekeyChild(rsa, oldB);
    await h.settle(0);
    // §2.8.1: both requests were answered ("it SHOULD reply as usual").
    assert.ok(h.a.counters.get('ike.response_sent') >= 1 && h.b.counters.get('ike.response_sent') >= 1);
    // Exactly one side finds its own exchange holds the lowest nonce and closes what it created.
    const lost = [h.a, h.b].filter((p) => p.logger.text().includes('collision lost'));
    const won = [h.a, h.b].filter((p) => p.logger.text().includes('collision won'));
    assert.equal(lost.length, 1);
    assert.equal(won.length, 1);
    assert.notEqual(lost[0], won[0]);
    await h.settle(6_000);
    assert.equal(oldA.state, 'destroyed');
    assert.equal(oldB.state, 'destroyed');
    assert.equal(sa.children.length, 1, 'A holds exactly one Child SA');
    assert.equal(rsa.children.length, 1, 'B holds exactly one Child SA');
    const [ca, cb] = [sa.children[0]!, rsa.children[0]!];
    assert.equal(ca.spiOut, cb.spiIn, 'and it is the same pair on both sides');
    assert.equal(cb.spiOut, ca.spiIn);
    assert.equal(h.a.kernel.saCount, 2);
    assert.equal(h.b.kernel.saCount, 2);
    assert.equal(h.a.kernel.policyCount, 3);
    assert.equal(h.b.kernel.policyCount, 3);
    const key = (p: typeof h.a, spi: number) => p.kernel.installed.find((x) => x.spi === spi)!.aead!.key;
    assert.deepEqual(key(h.a, ca.spiOut), key(h.b, ca.spiOut));
  });
}
