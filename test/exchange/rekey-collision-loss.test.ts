// RFC 7296 §2.8.1 under packet loss: both peers rekey the same Child SA at the same moment, again and
// again, while 20% of the datagrams are lost, some duplicated, delayed and reordered (fixed seeds).
// Every path (collision won or lost, a Delete for an SA being rekeyed, CHILD_SA_NOT_FOUND /
// TEMPORARY_FAILURE answers, retransmitted requests the peer already completed) must end in one
// installed Child SA pair on both sides, with nothing left behind in the kernel.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IkeSa } from '../../src/ike/ike-sa.ts';
import { established, pair, type Peer } from './harness.ts';

const SEEDS = Array.from({ length: 24 }, (_, i) => i + 1);
const ROUNDS = 4;

/** The Child SAs of an IKE SA that are not gone, with their states (for assertion messages). */
const describe = (sa: IkeSa | undefined) =>
  sa ? sa.children.map((c) => `${c.id}:${c.state}`).join(',') : 'no IKE SA';

/** Starts a rekey of the one installed Child SA of the peer's established IKE SA, if there is one. */
function rekey(p: Peer): void {
  const sa = established(p)[0];
  const child = sa?.children.find((c) => c.state === 'installed');
  if (sa && child) p.engine.rekeyChild(sa, child);
}

for (const seed of SEEDS) {
  test(`simultaneous Child SA rekeys under loss, seed ${seed}: one pair per side, nothing stuck`, async (t) => {
    const h = pair({ net: { seed }, randomSeed: seed });
    t.after(() => h.close());
    h.a.engine.initiate('site');
    await h.settle(0);
    assert.equal(established(h.a).length, 1, 'established before the faults start');
    h.net.faults = { loss: 0.2, duplicate: 0.1, delayMs: 40, reorder: 0.25, reorderDelayMs: 80 };
    for (let round = 0; round < ROUNDS; round++) {
      // Equal lifetimes, no jitter: both soft expires fire at the same instant.
      rekey(h.a);
      rekey(h.b);
      await h.settle(15_000, 250);
    }
    h.net.faults = {};
    // Past every retransmission schedule (about 165 s) and the rekey grace period.
    await h.settle(200_000, 2_000);
    const [a, b] = [established(h.a), established(h.b)];
    assert.equal(a.length, 1, `seed ${seed}: A has one established IKE SA`);
    assert.equal(b.length, 1, `seed ${seed}: B has one established IKE SA`);
    assert.equal(h.a.counters.get('ike.sa_failed'), 0, `seed ${seed}: no IKE SA failed on A`);
    assert.equal(h.b.counters.get('ike.sa_failed'), 0, `seed ${seed}: no IKE SA failed on B`);
    const [sa, rsa] = [a[0]!, b[0]!];
    assert.equal(sa.children.length, 1, `seed ${seed}: A children ${describe(sa)}`);
    assert.equal(rsa.children.length, 1, `seed ${seed}: B children ${describe(rsa)}`);
    const [ca, cb] = [sa.children[0]!, rsa.children[0]!];
    assert.equal(ca.state, 'installed', `seed ${seed}: A ${describe(sa)}`);
    assert.equal(cb.state, 'installed', `seed ${seed}: B ${describe(rsa)}`);
    assert.equal(ca.spiOut, cb.spiIn, `seed ${seed}: the same pair on both sides`);
    assert.equal(cb.spiOut, ca.spiIn, `seed ${seed}: the same pair on both sides`);
    assert.equal(h.a.kernel.saCount, 2, `seed ${seed}: A kernel holds one SA pair`);
    assert.equal(h.b.kernel.saCount, 2, `seed ${seed}: B kernel holds one SA pair`);
    const spis = async (p: Peer) => (await p.kernel.dumpSas()).map((x) => x.spi).sort();
    const want = [ca.spiIn, ca.spiOut].sort();
    assert.deepEqual(await spis(h.a), want, `seed ${seed}: A kernel SPIs`);
    assert.deepEqual(await spis(h.b), want, `seed ${seed}: B kernel SPIs`);
    // The rounds really collided and rekeyed (otherwise the test proves nothing).
    const rekeyed = (p: Peer) => p.events.filter((e) => e.type === 'child-rekeyed').length;
    assert.ok(rekeyed(h.a) >= 1 && rekeyed(h.b) >= 1, `seed ${seed}: rekeys happened`);
  });
}
