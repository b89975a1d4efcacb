// @guest-pass
// Route-based tunnels in an ESP kernel (guest when the host has none), lab/route-based/scenario.ts:
// ikeway creates the XFRM interfaces, LAN-to-LAN pings (IPv4 and IPv6 through one Child SA) cross them
// and the SAs count them; a killed daemon leaves interface, if_id policies and route (no clear ICMP on
// the WAN); a restart re-claims the interface; three bad reloads are refused with the running tunnel
// untouched; SIGTERM removes everything ikeway created. The BGP failover lab over two such tunnels is
// test/daemon/route-based-bgp.wip.ts (not yet green under load).
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { withEspKernel, type RunResult } from '../../lab/guest/guest.ts';
import { bundleEnv } from '../../lab/guest/bundle.ts';
import { LAB_MODULES } from '../../lab/two-site/lab.ts';

const ROOT = join(import.meta.dirname, '..', '..');
type Ping = { sent: number; received: number };
type Capture = { cleartext: number; esp: number; leaks: string[] };
const ROOT_ONLY = { skip: process.getuid?.() !== 0 && 'needs root' };

let run: RunResult | undefined;
let bootError: unknown;
before(async () => {
  if (ROOT_ONLY.skip) return;
  try {
    run = await withEspKernel({
      command: [process.execPath, '--import', 'tsx', 'lab/route-based/scenario.ts'],
      cwd: ROOT,
      env: await bundleEnv(),
      modules: [...LAB_MODULES, 'xfrm_interface'],
      timeoutMs: 600_000,
    });
  } catch (e) {
    bootError = e;
  }
});

/** The JSON after `prefix` on stdout, or a failed assertion with the run's tails. */
function result(prefix: string): Record<string, unknown> {
  if (bootError) throw bootError as Error;
  const r = run!;
  const line = r.stdout.split('\n').find((l) => l.startsWith(`${prefix} `));
  const tail = `\n--- stderr ---\n${r.stderr.slice(-4000)}\n--- console ---\n${r.console.slice(-1500)}`;
  assert.ok(line, `no ${prefix} line${tail}`);
  const o = JSON.parse(line.slice(prefix.length + 1)) as Record<string, unknown>;
  assert.equal(o.error, undefined, `${String(o.error)}${tail}`);
  return o;
}

test(
  'route-based: ikeway-owned XFRM interfaces carry LAN traffic, stay fail-closed when killed, reconcile on restart',
  ROOT_ONLY,
  (t) => {
    t.diagnostic(`ran in ${run?.where}: boot ${run?.bootMs} ms, wall ${run?.wallMs} ms`);
    const o = result('IKW-RB-RESULT');
    t.diagnostic(JSON.stringify(o, null, 1).slice(0, 6000));
    // 1. the interface ikeway made, the route it installed, traffic over it
    assert.match(String(o.link), /ipsec-rb@?\S*: .*\bUP\b.*xfrm if_id 0x2a/);
    assert.match(String(o.routeA), /^10\.2\.0\.0\/24 dev ipsec-rb proto static scope link metric 10/);
    assert.ok((o.ping1 as Ping).received >= 4, JSON.stringify(o.ping1));
    assert.ok((o.pingTunnelAddr as Ping).received >= 1, 'the /30 on the interfaces answers');
    // IPv6 over the same interface and the same Child SA (selectors 0.0.0.0/0 and ::/0).
    assert.match(String(o.routeA6), /^fd02::\/64 dev ipsec-rb proto static metric 10/);
    assert.ok((o.ping6 as Ping).received >= 4, JSON.stringify(o.ping6));
    assert.ok((o.policies6 as number) >= 1, 'an ::/0 policy with if_id 0x2a');
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
    // 3b. bad reloads while the tunnel runs: precise errors, no interface made, the tunnel untouched
    const br = o.badReloads as Record<string, { errors: string[]; links: number }>;
    const errs = (k: string) => br[k]!.errors.join('\n');
    assert.match(
      errs('nameTaken'),
      /connections\.extra\.interface\.name: va\S+ is already a veth interface that ikeway did not create/,
    );
    assert.match(
      errs('ifIdTwice'),
      /connections\.extra\.interface\.if-id: if-id 42 is already used by connection "to-b"/,
    );
    assert.match(errs('noTable'), /connections\.extra\.interface\.routes\.table: .*no-such-table/);
    for (const [k, v] of Object.entries(br)) assert.equal(v.links, 0, `${k}: no interface was made`);
    assert.equal(o.spisUnchanged, true, 'the running tunnel kept its SAs');
    assert.ok((o.pingAfterBadReloads as Ping).received >= 2, JSON.stringify(o.pingAfterBadReloads));
    // 4. clean stop removes what ikeway created
    const s = o.afterStop as { link: boolean; policies: number; route: string };
    assert.deepEqual(s, { link: false, policies: 0, route: '' });
  },
);
