// `local.addresses` (a dual-WAN router, issue 14 item 2): IKE listens on each address; a connection
// may name the one it uses (local-address, which must be one of them); a remote: any connection
// without local-address answers on every address of its family, from the address the request came
// to. Config through the loader and the daemon's mapping; engines on a MemoryNetwork.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { toIkeConnection } from '../../src/daemon/connections.ts';
import { planReload } from '../../src/daemon/reload.ts';
import type { IkeConnection } from '../../src/ike/config.ts';
import type { Engine } from '../../src/ike/engine.ts';
import { ENV, ok, problems, where } from '../config/helpers.ts';
import { memoryWorld } from './memory-world.ts';

const WAN1 = '203.0.113.1';
const WAN2 = '198.51.100.1';
const BRANCH = '192.0.2.50';
const REMOTE = '192.0.2.60';

const hqYaml = (extra = '') => `local:
  address: ${WAN1}
  addresses: [${WAN2}, 2001:db8::1]
connections:
  branches:
    remote: any
    remote-id: branch.example.net
    local-id: hq.example.net
    auth: { psk: { env: PSK } }
    local-subnets: [10.0.0.0/16]
    remote-subnets: [10.9.0.0/24]
    start: wait
  out2:
    remote: ${REMOTE}
    local-address: ${WAN2}
    remote-id: remote.example.net
    local-id: hq.example.net
    auth: { psk: { env: PSK } }
    local-subnets: [10.0.1.0/24]
    remote-subnets: [10.8.0.0/24]
${extra}`;

test('config: local.addresses are listened on; local-address must be one of them', () => {
  const { config } = ok(hqYaml(), { env: ENV });
  assert.deepEqual(
    config.local.addresses.map((a) => a.address),
    [WAN1, WAN2, '2001:db8::1'],
  );
  const [branches, out2] = config.connections;
  assert.deepEqual(
    branches!.answersOn?.map((a) => a.address),
    [WAN1, WAN2],
    'remote: any answers on each IPv4 address',
  );
  assert.equal(out2!.answersOn, undefined);
  assert.equal(out2!.localAddress.address, WAN2);
  const bad = `    local-address: 192.0.2.99\n`;
  const ps = problems(hqYaml().replace(`    local-address: ${WAN2}\n`, bad), { env: ENV });
  assert.deepEqual(where(ps), ['15:20 E_CONFLICT connections.out2.local-address']);
  assert.match(ps[0]!.message, /192\.0\.2\.99 is not one of local\.address and local\.addresses/);
  // One address as before: no such check (and nothing else changes).
  const one = ok(hqYaml().replace(`  addresses: [${WAN2}, 2001:db8::1]\n`, ''), { env: ENV }).config;
  assert.deepEqual(
    one.local.addresses.map((a) => a.address),
    [WAN1],
  );
  assert.equal(one.connections[0]!.answersOn, undefined);
  // Reload cannot rebind: a changed list needs a restart.
  assert.ok(planReload(config, one).needRestart.includes('local.addresses'));
});

/** The other end of a connection of HQ's config (ids and selectors mirrored). */
function mirror(c: IkeConnection, name: string, local: string, remote: string): IkeConnection {
  return {
    ...c,
    name,
    localAddr: local,
    remoteAddr: remote,
    localId: c.remoteId!,
    remoteId: c.localId,
    localTs: c.remoteTs,
    remoteTs: c.localTs,
    localAddrs: undefined,
  };
}

test('a branch reaching either WAN address is answered from that address; out2 leaves from WAN2', async (t) => {
  const w = memoryWorld();
  t.after(() => w.close());
  const { config } = ok(hqYaml(), { env: ENV });
  const [branches, out2] = config.connections.map((c) => toIkeConnection(c));
  const hq = w.engine([WAN1, WAN2], [branches!, out2!]);
  const viaWan1 = w.engine([BRANCH], [mirror(branches!, 'hq', BRANCH, WAN1)]);
  const viaWan2 = w.engine(['192.0.2.51'], [mirror(branches!, 'hq', '192.0.2.51', WAN2)]);
  const remote = w.engine([REMOTE], [mirror(out2!, 'hq', REMOTE, WAN2)]);
  viaWan1.initiate('hq');
  viaWan2.initiate('hq');
  hq.initiate('out2');
  await w.settle(3_000);
  const up = (e: Engine, n: string) => e.sasOf(n).filter((s) => s.state === 'established');
  const answered = up(hq, 'branches')
    .map((s) => `${s.path.remoteAddr}>${s.path.localAddr}`)
    .sort();
  assert.deepEqual(answered, [`${BRANCH}>${WAN1}`, `192.0.2.51>${WAN2}`]);
  for (const b of [viaWan1, viaWan2]) assert.equal(up(b, 'hq').length, 1);
  // The branch saw its answers come from the address it asked.
  assert.equal(up(viaWan2, 'hq')[0]!.path.remoteAddr, WAN2);
  // out2 names WAN2: its IKE SA leaves from there, and the peer sees WAN2.
  assert.equal(up(hq, 'out2')[0]?.path.localAddr, WAN2);
  assert.equal(up(remote, 'hq')[0]?.path.remoteAddr, WAN2);
});
