// A peer named by DNS name moves (issue 14 item 2), on the host kernel (IKE only: in-memory kernel) in
// namespaces the test creates. A's daemon sees a hosts file the test controls (bind-mounted over
// /etc/hosts in a private mount namespace): `remote: peer.lab.test` first names B at .2; the test
// changes the record to .3, stops B and starts the same peer at .3; A's IKE SA comes back on its own,
// to the new address, and A logged the move; a reload naming an unresolvable peer changes nothing. The liveness restart and the retries resolve the name.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { StatusReport } from '../../src/control/status-types.ts';
import { request } from '../../src/control/client.ts';
import { Lab, configText, isRoot } from './lab.ts';

const A = '192.0.2.1';
const OLD = '192.0.2.2';
const NEW = '192.0.2.3';
const NAME = 'peer.lab.test';
const ids = (local: string, remote: string) => `    local-id: ${local}\n    remote-id: ${remote}\n`;

async function peerOf(socket: string, ms: number): Promise<string | undefined> {
  const end = Date.now() + ms;
  for (let i = 0; i < 400 && Date.now() < end; i++) {
    const s = (await request(socket, 'status')) as StatusReport;
    const sa = s.connections[0]?.ikeSas.find((x) => x.state === 'established');
    if (sa) return JSON.stringify({ spiI: sa.spiI, spiR: sa.spiR, local: sa.local, remote: sa.remote });
    await new Promise((r) => setTimeout(r, 100));
  }
  return undefined;
}

test(
  'remote: <name> follows the record: the peer restarts on a new address, the IKE SA comes back there',
  { skip: !isRoot && 'needs root (network namespaces)' },
  async (t) => {
    const lab = new Lab([A, OLD, NEW]);
    t.after(() => lab.close());
    const hosts = join(lab.side(0).dir, 'hosts');
    writeFileSync(hosts, `127.0.0.1 localhost\n${OLD} ${NAME}\n`);
    // Liveness finds the peer gone (it says nothing when it stops); its restart resolves the name again.
    const live = '    liveness: { interval: 1s, timeout: 3s, action: restart }\n';
    lab.writeConfig(
      0,
      configText(A, [
        {
          name: 'site',
          remote: NAME,
          local: '10.1.0.0/24',
          remoteNet: '10.2.0.0/24',
          extra: `${ids('a.lab.test', 'b.lab.test')}    retry: { initial: 1s, max: 2s }\n`,
        },
      ]).replace('    liveness: false\n', live),
    );
    const b = (addr: string) =>
      configText(addr, [
        {
          name: 'site',
          remote: A,
          local: '10.2.0.0/24',
          remoteNet: '10.1.0.0/24',
          start: 'wait',
          extra: ids('b.lab.test', 'a.lab.test'),
        },
      ]);
    lab.writeConfig(1, b(OLD));
    lab.writeConfig(2, b(NEW));
    const b1 = await lab.startDaemon(1, 'memory');
    const a = await lab.startDaemon(0, 'memory', [], { hostsFile: hosts });
    const first = await peerOf(lab.side(0).socket, 15_000);
    assert.ok(first, `first IKE SA:\n${a.log}`);
    assert.match(first, new RegExp(`"${OLD.replaceAll('.', '\\.')}`), first);

    // The record changes, the peer stops and comes back at the new address.
    writeFileSync(hosts, `127.0.0.1 localhost\n${NEW} ${NAME}\n`);
    const mark = a.log.length;
    b1.proc.kill('SIGTERM');
    assert.equal(await b1.exited, 0, b1.log);
    await lab.startDaemon(2, 'memory');
    await a.waitFor(new RegExp(`remote moved from ${OLD} to ${NEW}`), 30_000, mark);
    const again = await peerOf(lab.side(0).socket, 30_000);
    assert.ok(again, `IKE SA back:\n${a.log.slice(mark)}`);
    assert.match(again, new RegExp(`"${NEW.replaceAll('.', '\\.')}`), again);
    assert.doesNotMatch(again, new RegExp(`"${OLD.replaceAll('.', '\\.')}`), again);

    // A reload to a name that does not resolve is refused at the value; the running IKE SA stays.
    const good = readFileSync(lab.side(0).config, 'utf8');
    lab.writeConfig(0, good.replace(`remote: ${NAME}`, 'remote: nowhere.invalid'));
    const mark2 = a.log.length;
    a.proc.kill('SIGHUP');
    await a.waitFor(/reload rejected/, 10_000, mark2);
    assert.match(a.log.slice(mark2), /ikeway\.yaml:\d+:\d+.*"nowhere\.invalid" does not resolve/);
    assert.equal(await peerOf(lab.side(0).socket, 1_000), again, 'the same IKE SA, untouched');
  },
);
