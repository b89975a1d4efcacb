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

test('a removed Child SA hands its shared policies to one sharer, the newest with the same policies', () => {
  // Stubs of what the policy owner reads: selectors, state, policies; refreshes are counted.
  const refreshed: string[] = [];
  const policy = (ifId: number) => ({
    selector: { src: '10.1.0.0/24', dst: '10.2.0.0/24' },
    dir: 'out' as const,
    action: 'allow' as const,
    priority: 100,
    ifId,
    templates: [],
  });
  const child = (name: string, ifId = 0) => {
    const c = {
      name,
      localTs: [tsFromCidr('10.1.0.0/24')],
      remoteTs: [tsFromCidr('10.2.0.0/24')],
      state: 'installed',
      policies: () => (c.state === 'destroyed' ? [] : [policy(ifId)]),
      placedPolicies: () => [policy(ifId)],
      refreshPolicies: () => {
        refreshed.push(name);
        return Promise.resolve();
      },
    };
    return c;
  };
  const sas: { children: ReturnType<typeof child>[]; state: string; config: { name: string } }[] = [];
  const spd = new Spd(new FakeKernel());
  spd.attach({
    sas: () => sas as never,
    sasOf: () => sas as never,
    run: (_sa, fn) => void fn(),
  });
  const install = (c: ReturnType<typeof child>) => {
    const sa = { children: [c], state: 'established', config: { name: 'hub' } };
    sas.push(sa);
    spd.childInstalled(sa as never, c as never);
    return sa;
  };
  const all = Array.from({ length: 50 }, (_, i) => child(`c${i}`));
  const owners = all.map(install);
  const other = child('other-if-id', 7); // same selectors, its own policies (another if_id)
  install(other);
  // Remove the newest first: each removal refreshes exactly one sharer, the newest one left.
  for (let i = 49; i >= 1; i--) {
    all[i]!.state = 'destroyed';
    owners[i]!.state = 'destroyed';
    refreshed.length = 0;
    spd.childGone(owners[i] as never, all[i] as never);
    assert.deepEqual(refreshed, [`c${i - 1}`]);
  }
  // The last one with these policies gone: nobody shares them (the other if_id's stand untouched).
  all[0]!.state = 'destroyed';
  refreshed.length = 0;
  spd.childGone(owners[0] as never, all[0] as never);
  assert.deepEqual(refreshed, []);
});
