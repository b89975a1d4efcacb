// The policy owner (src/ike/spd): one connection's fail-closed policies are made from its selectors
// once, stand in the kernel, and on reload stay until the new connection's are in; only those no
// current connection claims are removed then (RFC 4301 §4.4.1: PROTECT traffic never leaves in clear).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeKernel } from '../../src/kernel/fake.ts';
import { Spd, type SpdConnection } from '../../src/ike/spd/spd.ts';
import { FAIL_CLOSED_PRIORITY } from '../../src/ike/spd/policies.ts';
import { tsFromCidr } from '../../src/ike/traffic-selectors.ts';

const conn = (name: string, remote: string, reqid?: number): SpdConnection => ({
  name,
  localAddr: '192.0.2.1',
  ...(reqid !== undefined ? { remoteAddr: '192.0.2.2', reqid } : {}),
  localTs: [tsFromCidr('10.1.0.0/24')],
  remoteTs: [tsFromCidr(remote)],
  mode: 'tunnel',
});

const dsts = async (k: FakeKernel) =>
  (await k.dumpPolicies())
    .filter((p) => p.dir === 'out')
    .map((p) => `${p.selector.dst} ${p.action} ${p.priority}`)
    .sort();

test('protect: traps for a fixed peer, blocks for remote: any, none when told there are no subnets', async () => {
  const k = new FakeKernel();
  const spd = new Spd(k);
  await spd.protect(conn('hq', '10.2.0.0/24', 0x10000));
  await spd.protect(conn('road', '10.9.0.0/24'));
  await spd.protect(conn('any', '0.0.0.0/0'), false);
  assert.equal(spd.failClosedCount('hq'), 3);
  assert.equal(spd.failClosedCount('road'), 3);
  assert.equal(spd.failClosedCount('any'), 0);
  assert.deepEqual(await dsts(k), [
    `10.2.0.0/24 allow ${FAIL_CLOSED_PRIORITY}`,
    `10.9.0.0/24 block ${FAIL_CLOSED_PRIORITY}`,
  ]);
});

test('reload: old policies stand until sweep, then only the unclaimed ones go', async () => {
  const k = new FakeKernel();
  const spd = new Spd(k);
  await spd.protect(conn('hq', '10.2.0.0/24', 0x10000));
  await spd.protect(conn('br', '10.3.0.0/24', 0x10001));
  // hq changes its remote subnet, br is removed.
  const heldHq = spd.detach('hq');
  const heldBr = spd.detach('br');
  await k.deletePolicy({ selector: heldHq[0]!.selector, dir: 'out' }); // as a Child SA's removal would
  await spd.hold(heldHq);
  await spd.hold(heldBr);
  await spd.protect(conn('hq', '10.4.0.0/24', 0x10000));
  assert.deepEqual(await dsts(k), [
    `10.2.0.0/24 allow ${FAIL_CLOSED_PRIORITY}`,
    `10.3.0.0/24 allow ${FAIL_CLOSED_PRIORITY}`,
    `10.4.0.0/24 allow ${FAIL_CLOSED_PRIORITY}`,
  ]);
  await spd.sweep();
  assert.deepEqual(await dsts(k), [`10.4.0.0/24 allow ${FAIL_CLOSED_PRIORITY}`]);
  assert.equal(spd.failClosedCount('br'), 0);
});

test('reload: a policy the new connection claims again is not removed by sweep', async () => {
  const k = new FakeKernel();
  const spd = new Spd(k);
  await spd.protect(conn('hq', '10.2.0.0/24', 0x10000));
  await spd.hold(spd.detach('hq'));
  await spd.protect(conn('hq', '10.2.0.0/24', 0x10000));
  await spd.sweep();
  assert.equal((await k.dumpPolicies()).length, 3, 'out, in and fwd stand');
});
