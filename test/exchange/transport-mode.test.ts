// RFC 7296 §1.3.1 USE_TRANSPORT_MODE: transport mode when both ask for it, tunnel otherwise.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tsFromCidr } from '../../src/ike/traffic-selectors.ts';
import { ADDR_A, ADDR_B, established, pair } from './harness.ts';

const hostToHost = (side: 'a' | 'b') => ({
  mode: 'transport' as const,
  localTs: [tsFromCidr(side === 'a' ? ADDR_A : ADDR_B)],
  remoteTs: [tsFromCidr(side === 'a' ? ADDR_B : ADDR_A)],
});

for (const initiatorIsA of [true, false]) {
  test(`transport mode host to host (${initiatorIsA ? 'A' : 'B'} initiates)`, async (t) => {
    const h = pair({ a: hostToHost('a'), b: hostToHost('b') });
    t.after(() => h.close());
    const ini = initiatorIsA ? h.a : h.b;
    const sa = ini.engine.initiate('site');
    await h.settle(0);
    assert.equal(sa.state, 'established');
    // "the responder ... if it accepts ... MUST include USE_TRANSPORT_MODE in the response"
    for (const p of [h.a, h.b]) {
      assert.ok(p.kernel.installed.every((x) => x.mode === 'transport'));
      const pols = await p.kernel.dumpPolicies();
      // No forwarding in transport mode: policies out and in only.
      assert.deepEqual(pols.map((x) => x.dir).sort(), ['in', 'out']);
      assert.ok(pols.every((x) => x.templates[0]?.mode === 'transport'));
    }
  });
}

test('responder configured for tunnel mode answers without USE_TRANSPORT_MODE: tunnel it is', async (t) => {
  const b = hostToHost('b');
  const h = pair({ a: hostToHost('a'), b: { ...b, mode: 'tunnel' } });
  t.after(() => h.close());
  const sa = h.a.engine.initiate('site');
  await h.settle(0);
  assert.equal(sa.state, 'established');
  assert.equal(sa.children[0]?.mode, 'tunnel');
  assert.equal(established(h.b)[0]?.children[0]?.mode, 'tunnel');
});
