// IKE bypass policies (RFC 4301 §5.1 BYPASS for the IKE traffic itself): shape, per family, and
// install/remove through the Kernel interface. The host test proves they beat 0/0 block policies.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeKernel } from '../../src/kernel/fake.ts';
import { ikeBypassPolicies, installIkeBypass, removeIkeBypass } from '../../src/kernel/bypass.ts';

test('bypass policies: in (dst us, dport) and out (src us, sport) per address and IKE port, no templates', () => {
  const pols = ikeBypassPolicies({ addresses: ['192.0.2.1', '2001:db8::1'] });
  assert.equal(pols.length, 8);
  assert.deepEqual(
    pols.map((p) => [p.dir, p.selector.src, p.selector.dst, p.selector.sport ?? 0, p.selector.dport ?? 0]),
    [
      ['in', '0.0.0.0/0', '192.0.2.1/32', 0, 500],
      ['out', '192.0.2.1/32', '0.0.0.0/0', 500, 0],
      ['in', '0.0.0.0/0', '192.0.2.1/32', 0, 4500],
      ['out', '192.0.2.1/32', '0.0.0.0/0', 4500, 0],
      ['in', '::/0', '2001:db8::1/128', 0, 500],
      ['out', '2001:db8::1/128', '::/0', 500, 0],
      ['in', '::/0', '2001:db8::1/128', 0, 4500],
      ['out', '2001:db8::1/128', '::/0', 4500, 0],
    ],
  );
  for (const p of pols) {
    assert.equal(p.action, 'allow');
    assert.equal(p.priority, 1);
    assert.equal(p.selector.proto, 17);
    assert.deepEqual(p.templates, []);
  }
  assert.throws(() => ikeBypassPolicies({ addresses: ['not-an-ip'] }), /bypass address/);
});

test('installIkeBypass is idempotent and reads back equal; removeIkeBypass tolerates missing ones', async () => {
  const k = new FakeKernel();
  const opts = { addresses: ['198.51.100.7'], ports: [4500] };
  const pols = await installIkeBypass(k, opts);
  await installIkeBypass(k, opts);
  assert.equal(k.policyCount, 2);
  for (const p of pols) {
    const got = await k.getPolicy({ selector: p.selector, dir: p.dir });
    assert.deepEqual([got.selector, got.action, got.priority], [p.selector, 'allow', 1]);
  }
  await removeIkeBypass(k, opts);
  await removeIkeBypass(k, opts);
  assert.equal(k.policyCount, 0);
});
