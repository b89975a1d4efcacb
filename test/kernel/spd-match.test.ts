// The SPD matcher against the kernel's rules: direction, selector prefixes, proto and ports, mark and
// if_id, priority (lower wins) then index (older wins); the carrying SA by template.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FlowError, carrierSa, matchPolicy, parseFlow, policyIdentity } from '../../src/kernel/spd-match.ts';
import type { PolicyInfo, SaInfo } from '../../src/kernel/types.ts';

const cur = { bytes: 0n, packets: 0n, addTime: 0, useTime: 0 };
let nextIndex = 8;
function pol(p: Partial<PolicyInfo> & Pick<PolicyInfo, 'selector'>): PolicyInfo {
  return {
    dir: 'out',
    action: 'allow',
    priority: 1000,
    templates: [],
    index: (nextIndex += 8),
    current: cur,
    ...p,
  };
}
function sa(p: Partial<SaInfo>): SaInfo {
  return {
    dst: '192.0.2.2',
    src: '192.0.2.1',
    spi: 0xc0000001,
    proto: 'esp',
    mode: 'tunnel',
    reqid: 7,
    selector: undefined,
    algorithms: {},
    current: { ...cur, bytes: 100n, packets: 2n },
    stats: { replayWindow: 32, replay: 0, integrityFailed: 0 },
    ...p,
  };
}

const flow = (src: string, dst: string, proto?: string, port?: string) =>
  parseFlow({ src, dst, ...(proto ? { proto } : {}), ...(port ? { port } : {}) });

test('selector prefixes, direction and family decide a match', () => {
  const p = pol({ selector: { src: '10.1.0.0/24', dst: '10.2.0.0/16' } });
  const inbound = pol({ selector: { src: '10.1.0.0/24', dst: '10.2.0.0/16' }, dir: 'in' });
  assert.equal(matchPolicy([p, inbound], flow('10.1.0.9', '10.2.200.1')).policy, p);
  assert.equal(matchPolicy([p], flow('10.1.1.9', '10.2.0.1')).policy, undefined, 'src outside /24');
  assert.equal(matchPolicy([p], flow('10.1.0.9', '10.3.0.1')).policy, undefined, 'dst outside /16');
  assert.equal(matchPolicy([inbound], flow('10.1.0.9', '10.2.0.1')).policy, undefined, 'other direction');
  assert.equal(matchPolicy([p, inbound], flow('10.1.0.9', '10.2.0.1'), 'in').policy, inbound);
  const v6 = pol({ selector: { src: '2001:db8:1::/48', dst: '::/0' } });
  assert.equal(matchPolicy([p, v6], flow('2001:db8:1:ff::1', '2001:db8:9::1')).policy, v6);
  assert.equal(matchPolicy([v6], flow('2001:db8:2::1', '2001:db8:9::1')).policy, undefined);
  // An IPv4 any-selector never matches IPv6 (the kernel compares families).
  assert.equal(
    matchPolicy([pol({ selector: { src: '0.0.0.0/0', dst: '0.0.0.0/0' } })], flow('::1', '::2')).policy,
    undefined,
  );
});

test('proto and ports: 0 is any, otherwise equal; a flow without a port matches only any-port selectors', () => {
  const dns = pol({ selector: { src: '0.0.0.0/0', dst: '0.0.0.0/0', proto: 17, dport: 53 } });
  assert.equal(matchPolicy([dns], flow('10.0.0.1', '10.0.0.2', 'udp', '53')).policy, dns);
  assert.equal(matchPolicy([dns], flow('10.0.0.1', '10.0.0.2', 'udp', '54')).policy, undefined);
  assert.equal(matchPolicy([dns], flow('10.0.0.1', '10.0.0.2', 'tcp', '53')).policy, undefined);
  assert.equal(matchPolicy([dns], flow('10.0.0.1', '10.0.0.2', 'udp')).policy, undefined);
  const anyUdp = pol({ selector: { src: '0.0.0.0/0', dst: '0.0.0.0/0', proto: 17 } });
  assert.equal(matchPolicy([anyUdp], flow('10.0.0.1', '10.0.0.2', '17')).policy, anyUdp);
});

test('lowest priority value wins; on a tie the older policy (lower index) wins', () => {
  const sel = { src: '10.0.0.0/8', dst: '0.0.0.0/0' };
  const a = pol({ selector: sel, priority: 2000, index: 9 });
  const b = pol({ selector: { src: '10.1.0.0/16', dst: '10.2.0.0/16' }, priority: 1000, index: 100 });
  const c = pol({ selector: { src: '10.1.0.0/24', dst: '10.2.0.0/24' }, priority: 1000, index: 200 });
  const r = matchPolicy([c, a, b], flow('10.1.0.1', '10.2.0.1'));
  assert.equal(r.policy, b, 'the more specific selector does not matter, priority then index do');
  assert.deepEqual(r.candidates, [b, c, a]);
});

test('mark and if_id: a marked policy only for packets whose mark & mask equals its value', () => {
  const sel = { src: '0.0.0.0/0', dst: '0.0.0.0/0' };
  const marked = pol({ selector: sel, mark: { value: 0x10, mask: 0xf0 }, priority: 1 });
  const xfrmi = pol({ selector: sel, ifId: 5, priority: 1 });
  const plain = pol({ selector: sel, priority: 50 });
  const all = [marked, xfrmi, plain];
  assert.equal(matchPolicy(all, parseFlow({ src: '1.1.1.1', dst: '2.2.2.2' })).policy, plain);
  assert.equal(matchPolicy(all, parseFlow({ src: '1.1.1.1', dst: '2.2.2.2', mark: 0x1f })).policy, marked);
  assert.equal(matchPolicy(all, parseFlow({ src: '1.1.1.1', dst: '2.2.2.2', mark: 0x20 })).policy, plain);
  assert.equal(matchPolicy(all, parseFlow({ src: '1.1.1.1', dst: '2.2.2.2', ifId: 5 })).policy, xfrmi);
});

test('the carrying SA: template proto/mode/reqid/addresses, SA selector', () => {
  const f = flow('10.1.0.1', '10.2.0.1');
  const t = { src: '192.0.2.1', dst: '192.0.2.2', proto: 'esp' as const, mode: 'tunnel' as const, reqid: 7 };
  const inbound = sa({ src: '192.0.2.2', dst: '192.0.2.1', spi: 0xc0000002 });
  const other = sa({ reqid: 8, spi: 0xc0000003 });
  const good = sa({ spi: 0xc0000004 });
  assert.equal(carrierSa(t, [inbound, other, good], f, {}), good);
  assert.equal(carrierSa(t, [inbound, other], f, {}), undefined);
  assert.equal(carrierSa({ ...t, mode: 'transport' }, [good], f, {}), undefined);
  const narrow = sa({ selector: { src: '10.9.0.0/16', dst: '10.2.0.0/16' } });
  assert.equal(carrierSa(t, [narrow], f, {}), undefined, 'SA selector must cover the flow');
  assert.equal(carrierSa({ ...t, reqid: 0 }, [other], f, {}), other, 'reqid 0 = any');
});

test('bad flows get precise errors', () => {
  const bad: [Parameters<typeof parseFlow>[0], RegExp][] = [
    [{ src: '10.0.0.300', dst: '10.0.0.1' }, /source address "10\.0\.0\.300": not an IPv4 or IPv6 address/],
    [{ src: '10.0.0.1', dst: 'host.example' }, /destination address "host\.example"/],
    [{ src: '10.0.0.0/24', dst: '10.0.0.1' }, /not a prefix/],
    [{ src: '10.0.0.1', dst: '::1' }, /different IP families/],
    [{ src: '10.0.0.1', dst: '10.0.0.2', proto: 'udpx' }, /protocol "udpx": not a protocol/],
    [{ src: '10.0.0.1', dst: '10.0.0.2', proto: '256' }, /protocol "256"/],
    [
      { src: '10.0.0.1', dst: '10.0.0.2', proto: 'udp', port: '70000' },
      /destination port "70000": not a port/,
    ],
    [{ src: '10.0.0.1', dst: '10.0.0.2', port: '53' }, /a port needs a protocol/],
  ];
  for (const [args, re] of bad)
    assert.throws(
      () => parseFlow(args),
      (e: unknown) => e instanceof FlowError && re.test(e.message),
    );
});

test('policy identity: canonical prefixes, unset = 0', () => {
  const a = policyIdentity({ dir: 'out', selector: { src: '10.1.0.0/24', dst: '10.2.0.0/24' } });
  const b = policyIdentity({
    dir: 'out',
    selector: { src: '10.1.0.0/24', dst: '10.2.0.0/24', proto: 0, sport: 0 },
    mark: { value: 0, mask: 0 },
    ifId: 0,
  });
  assert.equal(a, b);
  assert.notEqual(a, policyIdentity({ dir: 'fwd', selector: { src: '10.1.0.0/24', dst: '10.2.0.0/24' } }));
  assert.equal(
    policyIdentity({ dir: 'in', selector: { src: '::1', dst: '0:0::2/128' } }),
    policyIdentity({ dir: 'in', selector: { src: '::1/128', dst: '::2' } }),
  );
});
