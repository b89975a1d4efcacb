// RFC 7296 §2.4: a peer that restarted (lost all state) sends INITIAL_CONTACT in its new IKE_AUTH; the
// receiver deletes the stale IKE and Child SAs of that identity, whatever role it had in them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { established, pair } from './harness.ts';

for (const [label, restarterIsA] of [
  ['A restarts', true],
  ['B restarts', false],
] as const) {
  test(`peer restart with INITIAL_CONTACT (${label}): stale IKE and Child SAs removed`, async (t) => {
    const h = pair();
    t.after(() => h.close());
    // Two IKE SAs with Child SAs, started by A (so the survivor was the responder in one case and
    // the initiator in the other).
    h.a.engine.initiate('site');
    await h.settle(0);
    h.a.engine.createChild('site');
    await h.settle(0);
    const [restarter, survivor] = restarterIsA ? [h.a, h.b] : [h.b, h.a];
    const stale = established(survivor)[0]!;
    assert.equal(survivor.kernel.saCount, 4);
    // The restarter loses everything silently (no Delete): its kernel state goes too.
    for (const sa of restarter.engine.sas()) await sa.destroy();
    assert.equal(restarter.kernel.saCount, 0);
    const fresh = restarter.engine.initiate('site');
    await h.settle(0);
    assert.equal(fresh.state, 'established');
    // "The INITIAL_CONTACT notification asserts that this IKE SA is the only IKE SA currently active
    // between the authenticated identities" -- the survivor deletes the older ones.
    assert.equal(stale.state, 'destroyed');
    assert.equal(survivor.engine.sas().length, 1);
    assert.equal(survivor.kernel.saCount, 2, 'only the new Child SA pair is left');
    assert.equal(survivor.kernel.policyCount, 3);
    const [child] = established(survivor)[0]!.children;
    assert.equal(child!.spiOut, fresh.children[0]!.spiIn);
  });
}
