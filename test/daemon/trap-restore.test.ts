// The daemon puts a connection's fail-closed policies back where a destroyed Child SA stood (RFC 4301
// §4.4.1), never over a live Child SA holding the same selectors, and touches nothing for a Child SA
// whose policies never replaced a trap. In-process: the daemon on its memory kernel (no root).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Daemon } from '../../src/daemon/daemon.ts';
import { FAIL_CLOSED_PRIORITY } from '../../src/ike/spd/policies.ts';
import { ChildSa } from '../../src/ike/child-sa.ts';
import type { IkeSa } from '../../src/ike/ike-sa.ts';
import { MemoryLogger, nullLogger } from '../../src/base/logger.ts';
import { tsFromCidr } from '../../src/ike/traffic-selectors.ts';
import type { Kernel } from '../../src/kernel/types.ts';

const LOCAL = '127.0.0.1';
const PEER = '127.0.0.2';
const CHILD_PRIORITY = 1000;

async function startDaemon(t: { after(fn: () => unknown): void }): Promise<Daemon> {
  const dir = mkdtempSync(join(tmpdir(), `ikeway-traps-${process.pid}-`));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'ikeway.yaml');
  const port = 20000 + ((process.pid * 7) % 20000);
  writeFileSync(
    file,
    `local:\n  address: ${LOCAL}\nconnections:\n  hq:\n    remote: ${PEER}\n    auth: { psk: { env: PSK } }\n` +
      `    local-subnets: [10.1.0.0/24]\n    remote-subnets: [10.2.0.0/24]\n    start: on-traffic\n` +
      `ports: { ike: ${port}, nat-t: ${port + 1} }\ncontrol-socket: ${join(dir, 'ctl.sock')}\n` +
      `state-dir: ${join(dir, 'state')}\n`,
    { mode: 0o600 },
  );
  const env = { PSK: 'correct-horse-battery-staple-0123456789' };
  const d = await Daemon.start({ configFile: file, kernel: 'memory', logger: new MemoryLogger(), env });
  t.after(() => d.stop());
  return d;
}

/** An installed Child SA of connection hq with the given selectors and its own reqid. */
async function installedChild(kernel: Kernel, id: number, local: string, remote: string): Promise<ChildSa> {
  const spiIn = await kernel.allocSpi({ src: PEER, dst: LOCAL, proto: 'esp' });
  const config = { name: 'hq', espProposals: [], localTs: [], remoteTs: [], mode: 'tunnel' as const };
  const c = new ChildSa({ id, name: 'hq', config, reqid: id, spiIn, localAddr: LOCAL, logger: nullLogger });
  c.localTs = [tsFromCidr(local)];
  c.remoteTs = [tsFromCidr(remote)];
  c.installed = { localAddr: LOCAL, remoteAddr: PEER, priority: CHILD_PRIORITY };
  c.setState('installing');
  c.setState('installed');
  for (const p of c.policies()) await kernel.updatePolicy(p);
  return c;
}

const owner = (children: ChildSa[]): IkeSa =>
  ({ config: { name: 'hq' }, name: 'hq[1]', children }) as unknown as IkeSa;

async function outPolicy(kernel: Kernel) {
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r)); // the restore is asynchronous
  const out = (await kernel.dumpPolicies()).find((p) => p.dir === 'out' && p.selector.src === '10.1.0.0/24');
  assert.ok(out, 'an outbound policy for the connection selectors stands');
  return out;
}

test('a destroyed Child SA that held the full subnets gets the fail-closed trap back', async (t) => {
  const d = await startDaemon(t);
  const k = d.runtime.kernel;
  const gone = await installedChild(k, 7, '10.1.0.0/24', '10.2.0.0/24');
  assert.equal((await outPolicy(k)).priority, CHILD_PRIORITY);
  await gone.destroy(k);
  d.engine.emit({ type: 'child-destroyed', sa: owner([]), child: gone });
  const out = await outPolicy(k);
  assert.equal(out.priority, FAIL_CLOSED_PRIORITY);
});

test('a live Child SA with the same selectors keeps its policy (no trap over it)', async (t) => {
  const d = await startDaemon(t);
  const k = d.runtime.kernel;
  const gone = await installedChild(k, 7, '10.1.0.0/24', '10.2.0.0/24');
  const live = await installedChild(k, 8, '10.1.0.0/24', '10.2.0.0/24');
  await gone.destroy(k, live.policies());
  d.engine.emit({ type: 'child-destroyed', sa: owner([live]), child: gone });
  const out = await outPolicy(k);
  assert.equal(out.priority, CHILD_PRIORITY);
  assert.equal(out.templates[0]?.reqid, 8);
});

test('a destroyed Child SA with narrower selectors leaves the traps as they are', async (t) => {
  const d = await startDaemon(t);
  const k = d.runtime.kernel;
  const calls: string[] = [];
  const update = k.updatePolicy.bind(k);
  k.updatePolicy = async (p) => {
    calls.push(p.selector.src);
    await update(p);
  };
  const gone = await installedChild(k, 7, '10.1.0.0/25', '10.2.0.0/24');
  await gone.destroy(k);
  calls.length = 0;
  d.engine.emit({ type: 'child-destroyed', sa: owner([]), child: gone });
  const out = await outPolicy(k);
  assert.equal(out.priority, FAIL_CLOSED_PRIORITY, 'the trap never left');
  assert.deepEqual(calls, [], 'nothing rewritten');
});
