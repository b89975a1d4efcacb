// The daemon's side of an HA failover without synced state (docs/ha.md, the no-sync scenario of
// lab/ha/lab.ts): a standby initiates nothing; promoted with no IKE SA to take over, it initiates its
// `start: now` connections (a fresh IKE SA with INITIAL_CONTACT brings the tunnel back), never a
// `start: wait` one; demoted again, its half-open SA goes without a Delete. In-process: the daemon
// on its memory kernel, loopback addresses (no root).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Daemon } from '../../src/daemon/daemon.ts';
import { MemoryLogger } from '../../src/base/logger.ts';

const LOCAL = '127.0.0.1';
const PEER = '127.0.0.2';

async function startNode(t: { after(fn: () => unknown): void }, offset: number): Promise<Daemon> {
  const dir = mkdtempSync(join(tmpdir(), `ikeway-ha-promote-${process.pid}-`));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'ikeway.yaml');
  const port = 20000 + ((process.pid * 13 + offset * 4) % 20000);
  const conn = (name: string, start: string) =>
    `  ${name}:\n    remote: ${PEER}\n    auth: { psk: { env: PSK } }\n` +
    `    local-subnets: [10.1.${name === 'now' ? 0 : 1}.0/24]\n    remote-subnets: [10.2.0.0/24]\n    start: ${start}\n`;
  writeFileSync(
    file,
    `local:\n  address: ${LOCAL}\nconnections:\n${conn('now', 'now')}${conn('waits', 'wait')}` +
      `ports: { ike: ${port}, nat-t: ${port + 1} }\ncontrol-socket: ${join(dir, 'ctl.sock')}\n` +
      `state-dir: ${join(dir, 'state')}\n` +
      `ha:\n  node-id: 2\n  local: ${LOCAL}\n  peer: 127.0.0.3\n  port: ${port + 2}\n  sync-key: { env: HA_KEY }\n`,
    { mode: 0o600 },
  );
  const env = { PSK: 'correct-horse-battery-staple-0123456789', HA_KEY: 'ha-promote-sync-key-0123456789ab' };
  const d = await Daemon.start({ configFile: file, kernel: 'memory', logger: new MemoryLogger(), env });
  t.after(() => d.stop());
  return d;
}

test('a standby initiates nothing; promoted without synced state it initiates its start: now connections', async (t) => {
  const d = await startNode(t, 0);
  const ha = () => d.ha('status') as Promise<{ role: string; records: number; synced: boolean }>;
  const before = await ha();
  assert.deepEqual(
    [before.role, before.records, before.synced],
    ['standby', 0, false],
    'a standby that never heard the active holds nothing',
  );
  assert.equal(d.engine.sas().length, 0, 'a standby starts no connection');

  assert.deepEqual(await d.ha('promote'), { role: 'active', sas: 0 });
  const sas = d.engine.sas();
  assert.deepEqual(
    sas.map((sa) => [sa.config.name, sa.initiator, sa.established]),
    [['now', true, false]],
    'the start: now connection is initiated, the start: wait one is not',
  );
  assert.equal(
    await d.ha('promote').then((r) => (r as { sas: number }).sas),
    0,
    'promoting twice is a no-op',
  );
  assert.equal(d.engine.sas().length, 1, 'no second initiation');

  assert.deepEqual(await d.ha('demote'), { role: 'standby', sas: 1 });
  assert.equal(d.engine.sas().length, 0, 'demoted: the half-open IKE SA is gone');
});
