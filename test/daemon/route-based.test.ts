// @guest-pass
// Route-based tunnels in an ESP kernel (guest when the host has none; lab/route-based/scenario.ts):
// ikeway creates the XFRM interfaces, LAN-to-LAN pings cross them and the SAs count them; a killed
// daemon leaves interface, if_id policies and route (no clear ICMP on the WAN); a restart re-claims
// the interface; SIGTERM removes everything ikeway created.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { withEspKernel } from '../../lab/guest/guest.ts';
import { bundleEnv } from '../../lab/guest/bundle.ts';
import { LAB_MODULES } from '../../lab/two-site/lab.ts';

const ROOT = join(import.meta.dirname, '..', '..');
type Ping = { sent: number; received: number };
type Capture = { cleartext: number; esp: number; leaks: string[] };

test(
  'route-based: ikeway-owned XFRM interfaces carry LAN traffic, stay fail-closed when killed, reconcile on restart',
  { skip: process.getuid?.() !== 0 && 'needs root' },
  async (t) => {
    const run = await withEspKernel({
      command: [process.execPath, '--import', 'tsx', 'lab/route-based/scenario.ts'],
      cwd: ROOT,
      env: await bundleEnv(),
      modules: [...LAB_MODULES, 'xfrm_interface'],
      timeoutMs: 400_000,
    });
    t.diagnostic(`ran in ${run.where}: boot ${run.bootMs} ms, wall ${run.wallMs} ms`);
    const line = run.stdout.split('\n').find((l) => l.startsWith('IKW-RB-RESULT '));
    const tail = `\n--- stderr ---\n${run.stderr.slice(-4000)}\n--- console ---\n${run.console.slice(-1500)}`;
    assert.ok(line, `no result line${tail}`);
    const o = JSON.parse(line.slice('IKW-RB-RESULT '.length)) as Record<string, unknown>;
    t.diagnostic(JSON.stringify(o, null, 1).slice(0, 6000));
    assert.equal(o.error, undefined, `${String(o.error)}${tail}`);
    // 1. the interface ikeway made, the route it installed, traffic over it
    assert.match(String(o.link), /ipsec-rb@?\S*: .*\bUP\b.*xfrm if_id 0x2a/);
    assert.match(String(o.routeA), /^10\.2\.0\.0\/24 dev ipsec-rb proto static scope link metric 10/);
    assert.ok((o.ping1 as Ping).received >= 4, JSON.stringify(o.ping1));
    assert.ok((o.pingTunnelAddr as Ping).received >= 1, 'the /30 on the interfaces answers');
    const sas = o.sas1 as { src: string; dst: string; packets: number }[];
    assert.ok(
      sas.some((s) => s.src === '192.0.2.1' && s.packets >= 5),
      JSON.stringify(sas),
    );
    assert.ok(
      sas.some((s) => s.src === '192.0.2.2' && s.packets >= 5),
      JSON.stringify(sas),
    );
    assert.ok((o.ifTxPackets1 as number) >= 5, 'the interface counts what it sent');
    const c1 = o.capture1 as Capture;
    assert.equal(c1.cleartext, 0, c1.leaks.join('\n'));
    assert.ok(c1.esp > 0);
    assert.match(String(o.status), /ipsec-rb/);
    // 2. killed: interface, policies with the if_id and the route stay; nothing in clear
    const k = o.afterKill as { link: boolean; policies: number; route: string };
    assert.equal(k.link, true);
    assert.ok(k.policies >= 2, `policies with if_id 0x2a after kill: ${k.policies}`);
    assert.match(k.route, /dev ipsec-rb/);
    assert.equal(
      (o.captureAfterKill as Capture).cleartext,
      0,
      (o.captureAfterKill as Capture).leaks.join('\n'),
    );
    // 3. restart re-claims and works again
    assert.equal(o.reclaimed, true);
    assert.ok((o.ping2 as Ping).received >= 4, JSON.stringify(o.ping2));
    // 4. clean stop removes what ikeway created
    const s = o.afterStop as { link: boolean; policies: number; route: string };
    assert.deepEqual(s, { link: false, policies: 0, route: '' });
  },
);
