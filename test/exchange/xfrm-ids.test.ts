// Separate XFRM marks and interface ids per direction (strongSwan's mark_in/mark_out, if_id_in/
// if_id_out): the inbound SA and the in/fwd policies carry the "in" ones, the outbound SA and the out
// policy the "out" ones; mark and ifId stay the default for a direction without its own.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { established, pair } from './harness.ts';
import { failClosedPolicies, trapPolicies } from '../../src/ike/spd/policies.ts';
import { tsFromCidr } from '../../src/ike/traffic-selectors.ts';

const m = (value: number) => ({ value, mask: 0xffffffff });

test('a Child SA: inbound SA and in/fwd policies carry the in ids, outbound SA and out policy the out ids', async (t) => {
  const h = pair({ a: { ifIdIn: 7, ifIdOut: 8, markIn: m(0x11), markOut: m(0x22) } });
  t.after(() => h.close());
  h.a.engine.initiate('site');
  await h.settle(0);
  const sa = established(h.a)[0]!;
  const child = sa.children[0]!;
  const inSa = h.a.kernel.installed.find((p) => p.spi === child.spiIn)!;
  const outSa = h.a.kernel.installed.find((p) => p.spi === child.spiOut)!;
  assert.deepEqual([inSa.ifId, inSa.mark], [7, m(0x11)]);
  assert.deepEqual([outSa.ifId, outSa.mark], [8, m(0x22)]);
  const pols = (await h.a.kernel.dumpPolicies()).filter((p) => p.priority !== undefined);
  const byDir = (d: string) =>
    pols.filter((p) => p.dir === d && p.action === 'allow' && p.templates.length > 0);
  for (const d of ['in', 'fwd'])
    assert.ok(
      byDir(d).every((p) => p.ifId === 7 && p.mark?.value === 0x11),
      d,
    );
  assert.ok(byDir('out').length > 0 && byDir('out').every((p) => p.ifId === 8 && p.mark?.value === 0x22));
  // The peer without overrides: one if_id/mark (none here) both ways, and traffic still flows.
  const peerSa = established(h.b)[0]!.children[0]!;
  assert.equal(h.b.kernel.installed.find((p) => p.spi === peerSa.spiIn)!.ifId, undefined);
  // Deleting finds both SAs under their own marks (a wrong mark would leave them in the kernel).
  h.a.engine.terminate('site');
  await h.settle(0);
  assert.equal(h.a.kernel.saCount, 0);
});

test('only an out override: the in direction keeps mark and ifId', () => {
  const c = {
    localAddr: '192.0.2.1',
    remoteAddr: '192.0.2.2',
    reqid: 3,
    localTs: [tsFromCidr('10.1.0.0/24')],
    remoteTs: [tsFromCidr('10.2.0.0/24')],
    mode: 'tunnel' as const,
    ifId: 5,
    mark: m(0x5),
    ifIdOut: 6,
  };
  const fc = failClosedPolicies(c);
  assert.deepEqual(
    fc.map((p) => [p.dir, p.ifId, p.mark?.value]),
    [
      ['out', 6, 5],
      ['in', 5, 5],
      ['fwd', 5, 5],
    ],
  );
  assert.deepEqual(
    trapPolicies(c, 3).map((p) => [p.dir, p.ifId]),
    [['out', 6]],
  );
});
