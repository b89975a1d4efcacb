// `remote: any` responder taking branches on dynamic addresses (issue 14 item 2): HQ's config has three
// `remote: any` connections, one per branch identity, each with its own PSK and subnets. Three branch
// engines at three addresses initiate; IKE_AUTH's IDi picks the connection (RFC 7296 §2.15), and the
// Child SA gets that branch's subnets. A branch that claims another's identity without its key fails.
// In memory: the config goes through the loader and the daemon's mapping, the engines through a
// MemoryNetwork on a FakeClock.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { IdType } from '../../src/codec/index.ts';
import { parseConfig } from '../../src/config/index.ts';
import { toIkeConnection } from '../../src/daemon/connections.ts';
import type { IkeConnection } from '../../src/ike/config.ts';
import { parseProposals } from '../../src/ike/proposal-string.ts';
import type { EngineEvent } from '../../src/ike/services.ts';
import { tsFromCidr } from '../../src/ike/traffic-selectors.ts';
import { memoryWorld } from './memory-world.ts';

const HQ = '203.0.113.1';
const dir = mkdtempSync(join(tmpdir(), 'ikeway-any-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

const BRANCHES = [
  { n: 1, addr: '198.51.100.11', net: '10.1.0.0/24' },
  { n: 2, addr: '192.0.2.22', net: '10.2.0.0/24' },
  { n: 3, addr: '203.0.113.33', net: '10.3.0.0/24' },
];
const pskOf = (n: number) => `branch ${n} has a key of its own, long enough`;
const fqdn = (s: string) => ({ type: IdType.FQDN, data: new TextEncoder().encode(s) });

function hqConnections(): IkeConnection[] {
  let yaml = `local: { address: ${HQ} }\nconnections:\n`;
  for (const b of BRANCHES) {
    writeFileSync(join(dir, `psk${b.n}`), pskOf(b.n), { mode: 0o600 });
    yaml +=
      `  branch${b.n}:\n    remote: any\n    remote-id: b${b.n}.example.net\n    local-id: hq.example.net\n` +
      `    auth: { psk: { file: psk${b.n} } }\n    local-subnets: [10.0.0.0/16]\n    remote-subnets: [${b.net}]\n`;
  }
  const { config } = parseConfig(yaml, join(dir, 'hq.yaml'), { baseDir: dir });
  return config.connections.map((c) => toIkeConnection(c));
}

function branchConnection(addr: string, id: number, key: number, net: string): IkeConnection {
  return {
    name: 'hq',
    localAddr: addr,
    remoteAddr: HQ,
    localId: fqdn(`b${id}.example.net`),
    remoteId: fqdn('hq.example.net'),
    auth: { kind: 'psk', psk: new TextEncoder().encode(pskOf(key)) },
    ikeProposals: parseProposals('aes256gcm16-prfsha256-x25519', 'ike'),
    espProposals: parseProposals('aes256gcm16', 'esp'),
    localTs: [tsFromCidr(net)],
    remoteTs: [tsFromCidr('10.0.0.0/16')],
    mode: 'tunnel',
    childRekeyMs: 3_000_000,
    childLifetimeMs: 3_600_000,
  };
}

test('three branches from three addresses: each lands on the remote: any connection of its identity', async (t) => {
  const w = memoryWorld();
  t.after(() => w.close());
  const hq = w.engine(HQ, hqConnections());
  const hqEvents: EngineEvent[] = [];
  hq.onEvent((e) => hqEvents.push(e));
  const branches = BRANCHES.map((b) => w.engine(b.addr, [branchConnection(b.addr, b.n, b.n, b.net)]));
  // Reverse order, so configuration order alone would pick the wrong connection.
  for (const e of [...branches].reverse()) e.initiate('hq');
  await w.settle(3_000);
  for (const [i, b] of BRANCHES.entries()) {
    const mine = hq.sasOf(`branch${b.n}`).filter((s) => s.state === 'established');
    assert.equal(mine.length, 1, `branch${b.n} established once`);
    const sa = mine[0]!;
    assert.equal(sa.path.remoteAddr, b.addr, 'from its own address');
    const child = sa.children.find((c) => c.state === 'installed');
    assert.ok(child, `branch${b.n} child installed`);
    assert.deepEqual(child.remoteTs, [tsFromCidr(b.net)], 'its own subnets');
    assert.equal(branches[i]!.sas().filter((s) => s.state === 'established').length, 1);
  }
  assert.equal(hq.sas().length, 3);
});

test('an identity claimed with another branch key fails; the real branch still gets in', async (t) => {
  const w = memoryWorld();
  t.after(() => w.close());
  const hq = w.engine(HQ, hqConnections());
  // From branch 3's address, claiming branch 1 with branch 3's key.
  const impostor = w.engine(BRANCHES[2]!.addr, [branchConnection(BRANCHES[2]!.addr, 1, 3, '10.1.0.0/24')]);
  const events: EngineEvent[] = [];
  impostor.onEvent((e) => events.push(e));
  impostor.initiate('hq');
  await w.settle(3_000);
  assert.equal(hq.sas().filter((s) => s.state === 'established').length, 0);
  assert.ok(events.some((e) => e.type === 'ike-failed'));
  const real = w.engine(BRANCHES[0]!.addr, [branchConnection(BRANCHES[0]!.addr, 1, 1, '10.1.0.0/24')]);
  real.initiate('hq');
  await w.settle(3_000);
  assert.equal(hq.sasOf('branch1').filter((s) => s.state === 'established').length, 1);
});
