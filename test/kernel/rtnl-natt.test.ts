// rtnetlink (addresses, routes, xfrm interfaces) and the NAT-T socket option on the host kernel.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { Netns, linkVeth } from '../../lab/netns/netns.ts';

const SCRIPT = fileURLToPath(new URL('./scripts/rtnl-natt.ts', import.meta.url));

test(
  'rtnl addresses/routes, xfrm interface support, UDP_ENCAP_ESPINUDP',
  { skip: process.getuid?.() !== 0 && 'needs root' },
  (t) => {
    const a = Netns.create('kr');
    t.after(() => a.delete());
    const b = Netns.create('kr');
    t.after(() => b.delete());
    const [dev] = linkVeth(a, '192.0.2.1/24', b, '192.0.2.2/24');
    const r = a.runTs(SCRIPT, [dev], 30_000);
    assert.equal(r.status, 0, r.stderr);
    const o = JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, unknown>;
    assert.equal(o.loIndex, 1);
    assert.match(String(o.addrs), /198\.51\.100\.5\/24/);
    assert.match(String(o.addrs), /2001:db8:5::5\/64/);
    assert.match(String(o.routes), /203\.0\.113\.0\/24 via 198\.51\.100\.1/);
    assert.match(String(o.routes), /192\.0\.2\.128\/25 dev \S+ .*src 198\.51\.100\.5/);
    assert.equal(o.dupAddr, 'EEXIST');
    assert.deepEqual(o.link, { up: true, mtu: 1400, kind: 'veth', stats: 'number' });
    assert.equal(o.missingLink, 'undefined');
    assert.equal(o.listed, true);
    assert.match(String(o.table100), /^10\.77\.0\.0\/16 dev \S+ proto static scope link metric 50/);
    const rg = o.routeGet as { dst: string; oif: number; table: number };
    assert.equal(rg.dst, '198.51.100.9/32');
    assert.equal(rg.table, 254);
    assert.equal(typeof rg.oif, 'number');
    assert.doesNotMatch(String(o.routesAfter), /203\.0\.113\.0/);
    assert.equal(o.noLink, 'ENODEV');
    // The host kernel has no xfrm interfaces; a kernel that has them creates and deletes one.
    if (o.xfrmi !== 'created')
      assert.deepEqual(o.xfrmi, { name: 'KernelError', isUnsupported: true, code: 'UNSUPPORTED' });
    assert.equal(o.encapBefore, 0);
    assert.equal(o.encapAfter, 2, 'UDP_ENCAP_ESPINUDP read back');
    assert.equal(o.unbound, 'invalid');
  },
);
