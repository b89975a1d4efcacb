// Both ends initiate the same connection in the same tick (both daemons start with `start:
// immediate`): without a uniqueness rule two IKE SAs and two Child SA pairs come up, and the kernel
// holds one policy per selector, so the ends may disagree on which SA carries the traffic.
// Uniqueness (RFC 7296 §2.4 "the only IKE SA currently active between the authenticated
// identities"; strongSwan's uniqueids=yes) must leave one IKE SA and one Child SA pair, the same on
// both ends, with and without loss.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { established, pair, type Peer } from './harness.ts';

async function assertConverged(h: ReturnType<typeof pair>, label: string): Promise<void> {
  const [a, b] = [established(h.a), established(h.b)];
  const all = (p: Peer) =>
    p.engine
      .sas()
      .map((s) => `${s.name}:${s.state}`)
      .join(',');
  assert.equal(a.length, 1, `${label}: A holds one established IKE SA (${all(h.a)})`);
  assert.equal(b.length, 1, `${label}: B holds one established IKE SA (${all(h.b)})`);
  assert.equal(h.a.engine.sas().length, 1, `${label}: A holds nothing else (${all(h.a)})`);
  assert.equal(h.b.engine.sas().length, 1, `${label}: B holds nothing else (${all(h.b)})`);
  const [sa, rsa] = [a[0]!, b[0]!];
  assert.deepEqual(sa.spiI, rsa.spiI, `${label}: the same IKE SA (SPIi)`);
  assert.deepEqual(sa.spiR, rsa.spiR, `${label}: the same IKE SA (SPIr)`);
  assert.equal(sa.children.length, 1, `${label}: A has one Child SA`);
  assert.equal(rsa.children.length, 1, `${label}: B has one Child SA`);
  const [ca, cb] = [sa.children[0]!, rsa.children[0]!];
  assert.equal(ca.state, 'installed');
  assert.equal(cb.state, 'installed');
  assert.equal(ca.spiOut, cb.spiIn, `${label}: SPIs match crosswise`);
  assert.equal(cb.spiOut, ca.spiIn, `${label}: SPIs match crosswise`);
  const spis = async (p: Peer) => (await p.kernel.dumpSas()).map((x) => x.spi).sort();
  const want = [ca.spiIn, ca.spiOut].sort();
  assert.deepEqual(await spis(h.a), want, `${label}: A kernel holds only that pair`);
  assert.deepEqual(await spis(h.b), want, `${label}: B kernel holds only that pair`);
  assert.equal(h.a.kernel.policyCount, 3, `${label}: A policies out/in/fwd`);
  assert.equal(h.b.kernel.policyCount, 3, `${label}: B policies out/in/fwd`);
  // The policies lead to the surviving pair (they are keyed by selector, not by SA).
  for (const [p, c] of [
    [h.a, ca],
    [h.b, cb],
  ] as const)
    for (const pol of await p.kernel.dumpPolicies())
      assert.deepEqual(
        pol.templates.map((x) => x.reqid),
        [c.reqid],
        `${label}: ${p.name}'s ${pol.dir} policy uses the surviving Child SA`,
      );
}

for (const seed of [1, 2, 3, 4, 5, 6]) {
  test(`both ends initiate in the same tick, seed ${seed}: one IKE SA and one Child SA pair`, async (t) => {
    const h = pair({ randomSeed: seed });
    t.after(() => h.close());
    h.a.engine.initiate('site');
    h.b.engine.initiate('site');
    await h.settle(60_000, 1_000);
    await assertConverged(h, `seed ${seed}`);
    assert.equal(h.a.counters.get('ike.sa_failed'), 0);
    assert.equal(h.b.counters.get('ike.sa_failed'), 0);
  });
}

for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
  test(`both ends initiate in the same tick under loss, seed ${seed}: converge on one pair`, async (t) => {
    const h = pair({ net: { seed }, randomSeed: seed });
    t.after(() => h.close());
    h.net.faults = { loss: 0.2, duplicate: 0.1, delayMs: 40, reorder: 0.25, reorderDelayMs: 80 };
    h.a.engine.initiate('site');
    h.b.engine.initiate('site');
    await h.settle(20_000, 250);
    h.net.faults = {};
    // Past every retransmission schedule (about 165 s).
    await h.settle(200_000, 2_000);
    // An SA that timed out under loss is re-initiated the way the daemon's `start: immediate` /
    // dpdAction restart would; here the test does it when nothing is left.
    for (const p of [h.a, h.b]) if (p.engine.sas().length === 0) p.engine.initiate('site');
    await h.settle(60_000, 1_000);
    await assertConverged(h, `seed ${seed}`);
  });
}

for (const seed of [1, 2, 3, 4]) {
  test(`one end restarts while the other re-initiates, seed ${seed}: stale SA gone, one pair left`, async (t) => {
    const h = pair({ net: { seed }, randomSeed: seed });
    t.after(() => h.close());
    h.a.engine.initiate('site');
    await h.settle(0);
    const stale = established(h.a)[0]!;
    // B loses all state silently (a crash); at the same moment A re-initiates (liveness/on-traffic)
    // while it still holds the stale IKE SA, and B starts again (`start: immediate`).
    for (const sa of h.b.engine.sas()) await sa.destroy();
    h.a.engine.initiate('site');
    h.b.engine.initiate('site');
    await h.settle(60_000, 1_000);
    assert.equal(stale.state, 'destroyed', 'INITIAL_CONTACT from B removed the stale IKE SA');
    await assertConverged(h, `seed ${seed}`);
  });
}

test('the Delete of the duplicate never arrives: the other end deletes it after probing the survivor', async (t) => {
  const h = pair({ randomSeed: 2 });
  t.after(() => h.close());
  // Every INFORMATIONAL (exchange type 37 at octet 18 of the IKE header) lost for the first 170 s:
  // the end that should delete the duplicate gives up and drops it locally (RFC 7296 §1.4.1).
  h.net.faults = { drop: (d) => h.clock.now() < 170_000 && d.data[18] === 37 };
  h.a.engine.initiate('site');
  h.b.engine.initiate('site');
  await h.settle(0);
  assert.equal(h.a.engine.sas().length + h.b.engine.sas().length, 4, 'both duplicates came up');
  await h.settle(800_000, 2_000);
  await assertConverged(h, 'lost Delete');
  assert.match(h.a.logger.text() + h.b.logger.text(), /the peer did not delete a duplicate IKE SA/);
});
