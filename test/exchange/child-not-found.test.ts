// RFC 7296 §2.25: a Child SA rekey answered CHILD_SA_NOT_FOUND -- the peer no longer has the SA (it
// dropped its state without a Delete). Rekeying it again can never work; a new Child SA with the same
// selectors replaces it and the old one is deleted, so the tunnel does not end at the hard lifetime.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ADDR_A, established, pair, type Peer } from './harness.ts';

const kernelSpis = async (p: Peer) => (await p.kernel.dumpSas()).map((x) => x.spi).sort();

for (const expiring of [false, true]) {
  test(`peer lost the Child SA (${expiring ? 'kernel lifetimes' : 'rekey by hand'}): a new one replaces it`, async (t) => {
    const h = pair({ expiring, randomSeed: 7 });
    t.after(() => h.close());
    const sa = h.a.engine.initiate('site');
    await h.settle(0);
    const rsa = established(h.b)[0]!;
    const old = sa.children[0]!;
    // B forgets the Child SA silently (as after a local flush of its SAs).
    await rsa.removeChild(rsa.children[0]!);
    assert.equal(h.b.kernel.saCount, 0);
    if (expiring)
      await h.settle(3_000_000 + 1_000, 10_000); // A's soft lifetime starts the rekey
    else h.a.engine.rekeyChild(sa, old);
    await h.settle(30_000, 500);
    assert.ok(h.b.counters.get('ike.error_notify_sent') >= 1, 'B answered the rekey with an error notify');
    assert.match(h.a.logger.text(), /does not have a Child SA we rekey; replacing it/);
    assert.equal(old.state, 'destroyed', 'the old Child SA is gone');
    assert.equal(sa.children.length, 1, `A children ${sa.children.map((c) => c.state).join(',')}`);
    assert.equal(rsa.children.length, 1);
    const [ca, cb] = [sa.children[0]!, rsa.children[0]!];
    assert.notEqual(ca, old);
    assert.equal(ca.state, 'installed');
    assert.equal(cb.state, 'installed');
    assert.equal(ca.spiOut, cb.spiIn);
    assert.equal(cb.spiOut, ca.spiIn);
    assert.deepEqual(ca.localTs, old.localTs);
    assert.equal(ca.reqid, old.reqid, 'same reqid: the policies stay in place');
    const want = [ca.spiIn, ca.spiOut].sort();
    assert.deepEqual(await kernelSpis(h.a), want);
    assert.deepEqual(await kernelSpis(h.b), want);
    assert.equal(h.a.kernel.policyCount, 3);
    assert.equal(h.b.kernel.policyCount, 3);
    assert.equal(h.a.counters.get('ike.sa_failed'), 0);
    if (expiring) {
      // Past the old SA's hard lifetime and the new one's rekey: the tunnel carries on.
      await h.settle(3_600_000, 30_000);
      const [a, b] = [established(h.a)[0]!, established(h.b)[0]!];
      assert.equal(a.children.length, 1);
      assert.equal(b.children.length, 1);
      assert.equal(a.children[0]!.spiOut, b.children[0]!.spiIn);
      assert.equal(h.a.kernel.saCount, 2);
      assert.equal(h.b.kernel.saCount, 2);
    }
  });
}

test('CHILD_SA_NOT_FOUND while the peer still has a pair for the selectors: no second pair', async (t) => {
  const h = pair({ randomSeed: 3 });
  t.after(() => h.close());
  const sa = h.a.engine.initiate('site');
  await h.settle(0);
  const rsa = established(h.b)[0]!;
  const old = sa.children[0]!;
  // A second pair with the same selectors (another CREATE_CHILD_SA), then B silently loses the first.
  h.a.engine.createChild('site');
  await h.settle(0);
  assert.equal(sa.children.length, 2);
  await rsa.removeChild(rsa.children.find((c) => c.spiOut === old.spiIn)!);
  h.a.engine.rekeyChild(sa, old);
  await h.settle(30_000, 500);
  // The twin carries the traffic: the lost one is not replaced by a third pair.
  assert.equal(h.a.counters.get('ike.child_installed'), 2);
  assert.equal(rsa.children.length, 1);
  assert.doesNotMatch(h.a.logger.text(), /replacing it/);
  assert.ok(h.b.counters.get('ike.error_notify_sent') >= 1);
});

test('CHILD_SA_NOT_FOUND from a peer still waiting for our answer that made the SA: not replaced', async (t) => {
  const h = pair({ randomSeed: 5 });
  t.after(() => h.close());
  const sa = h.a.engine.initiate('site');
  await h.settle(0);
  const rsa = established(h.b)[0]!;
  // A's CREATE_CHILD_SA responses (exchange 36, R flag 0x20 in octet 19) are lost for a while.
  h.net.faults = { drop: (d) => d.srcAddr === ADDR_A && d.data[18] === 36 && (d.data[19]! & 0x20) !== 0 };
  h.b.engine.rekeyChild(rsa, rsa.children[0]!);
  await h.settle(0);
  const made = sa.children.find((c) => c.state === 'installed')!;
  assert.equal(sa.children.length, 2, 'A answered B and installed the new Child SA');
  // A rekeys it at once: B has not got A's answer yet, so it does not know the SA (§2.25).
  h.a.engine.rekeyChild(sa, made);
  await h.settle(3_000, 100);
  h.net.faults = {};
  await h.settle(200_000, 1_000);
  assert.match(h.a.logger.text(), /refused with notify 44/, 'B answered CHILD_SA_NOT_FOUND');
  assert.doesNotMatch(h.a.logger.text(), /replacing it/, 'B had the SA after all: no replacement');
  assert.equal(sa.children.length, 1);
  assert.equal(rsa.children.length, 1);
  const [ca, cb] = [sa.children[0]!, rsa.children[0]!];
  assert.equal(ca.spiOut, cb.spiIn);
  assert.equal(cb.spiOut, ca.spiIn);
  assert.equal(h.a.kernel.saCount, 2);
  assert.equal(h.b.kernel.saCount, 2);
});
