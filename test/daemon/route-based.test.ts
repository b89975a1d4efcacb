// @guest-pass
// Route-based tunnels in an ESP kernel (guest when the host has none), ONE boot, three labs side by
// side, each its own process (so one lab's timing figures are not skewed by another's synchronous
// commands) in its own namespaces:
// - lab/route-based/scenario.ts: ikeway creates the XFRM interfaces, LAN-to-LAN pings (IPv4 and IPv6
//   through one Child SA) cross them and the SAs count them; a killed daemon leaves interface, if_id
//   policies and route (no clear ICMP on the WAN); a restart re-claims the interface; three bad
//   reloads are refused with the running tunnel untouched; SIGTERM removes everything ikeway created.
// - lab/route-based/bgp.ts: examples/route-based-bgp/ with FRR (bgpd + zebra) peering over two ikeway
//   tunnels; a WAN path cut moves the traffic to the other tunnel, its return moves it back.
//   Convergence time and lost packets are reported as diagnostics, never asserted.
// - lab/route-based/strongswan.ts: ikeway route-based against strongSwan 5.9.8 route-based
//   (if_id_in/if_id_out, its XFRM interface made by the lab) and policy-based, traffic both ways.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { withEspKernel, shQuote, type RunResult } from '../../lab/guest/guest.ts';
import { bundleEnv } from '../../lab/guest/bundle.ts';
import { CHARON_BIN } from '../../lab/peers/strongswan.ts';
import { frrAvailable } from '../../lab/route-based/frr.ts';
import { LAB_MODULES } from '../../lab/two-site/lab.ts';

const ROOT = join(import.meta.dirname, '..', '..');
type Ping = { sent: number; received: number };
type Capture = { cleartext: number; esp: number; leaks: string[] };
const ROOT_ONLY = { skip: process.getuid?.() !== 0 && 'needs root' };
const BGP = { skip: ROOT_ONLY.skip || (!frrAvailable() && 'FRR not installed') };
const SWAN = { skip: ROOT_ONLY.skip || (!existsSync(CHARON_BIN) && 'strongSwan not installed') };

/** The labs this boot runs: name -> script (each prints its result lines into <share>/<name>.out). */
const LABS: Record<string, string> = {
  basic: 'lab/route-based/scenario.ts',
  ...(!BGP.skip && { bgp: 'lab/route-based/bgp.ts' }),
  ...(!SWAN.skip && { swan: 'lab/route-based/strongswan.ts' }),
};

let run: RunResult | undefined;
let bootError: unknown;
// Kept for the run (outputDir): each lab's stdout and progress survive a guest timeout.
const share = mkdtempSync(join(tmpdir(), 'ikw-rb-share-'));
before(async () => {
  if (ROOT_ONLY.skip) return;
  const node = `${shQuote(process.execPath)} --import tsx`;
  const script =
    Object.entries(LABS)
      .map(
        ([n, f]) =>
          `${node} ${f} > ${shQuote(join(share, `${n}.out`))} 2> ${shQuote(join(share, `${n}.err`))} &`,
      )
      .join('\n') + '\nwait\n';
  try {
    run = await withEspKernel({
      script,
      cwd: ROOT,
      env: await bundleEnv(),
      modules: [...LAB_MODULES, 'xfrm_interface'],
      outputDir: share,
      timeoutMs: 600_000,
    });
  } catch (e) {
    bootError = e;
  }
});
process.once('exit', () => rmSync(share, { recursive: true, force: true }));

const read = (name: string) => (existsSync(join(share, name)) ? readFileSync(join(share, name), 'utf8') : '');

/** The JSON after `prefix` in lab `lab`'s output (the one whose `scenario` is `scenario`, if given). */
function result(lab: string, prefix: string, scenario?: string): Record<string, unknown> {
  const tail =
    `\n--- ${lab} progress ---\n${read(`${lab}.err`).slice(-4000)}` +
    `\n--- console ---\n${run?.console.slice(-1500) ?? ''}`;
  if (bootError) throw new Error(`${String(bootError)}${tail}`);
  const o = read(`${lab}.out`)
    .split('\n')
    .filter((l) => l.startsWith(`${prefix} `))
    .map((l) => JSON.parse(l.slice(prefix.length + 1)) as Record<string, unknown>)
    .find((x) => scenario === undefined || x.scenario === scenario);
  assert.ok(o, `no ${prefix} ${scenario ?? ''} line${tail}`);
  assert.equal(o.error, undefined, `${String(o.error)}${tail}`);
  return o;
}

test(
  'route-based: ikeway-owned XFRM interfaces carry LAN traffic, stay fail-closed when killed, reconcile on restart',
  ROOT_ONLY,
  (t) => {
    t.diagnostic(`ran in ${run?.where}: boot ${run?.bootMs} ms, wall ${run?.wallMs} ms`);
    const o = result('basic', 'IKW-RB-RESULT');
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

type Sa = { dir: string; spi: string; packets: number };
type Steady = {
  intervalMs: number;
  transmitted: number;
  received: number;
  runs: { lost: number; outageMs: number; atMsFromCut: number; after: string }[];
};

test(
  'route-based BGP: FRR over two ikeway tunnels (examples/route-based-bgp) fails over on a WAN cut and back on its return',
  BGP,
  (t) => {
    const o = result('bgp', 'IKW-RB-BGP-RESULT');
    t.diagnostic(JSON.stringify(o, null, 1).slice(0, 8000));
    // Both tunnels up, both BGP sessions established, LAN routes via wan1 (preferred) on both routers.
    assert.ok((o.bgpUpMs as number) >= 0, 'BGP sessions over wan1 and wan2 established');
    const links = o.links as string[];
    assert.match(links[0]!, /wan1@?\S*: .*\bUP\b.*xfrm if_id 0x1\b/);
    assert.match(links[1]!, /wan2@?\S*: .*\bUP\b.*xfrm if_id 0x2\b/);
    // `ip route show proto bgp` leaves the proto out of its lines.
    assert.match(String(o.routesA), /^10\.2\.0\.0\/24 .*via 169\.254\.10\.2 dev wan1\b/m);
    assert.match(String(o.routesB), /^10\.1\.0\.0\/24 .*via 169\.254\.10\.1 dev wan1\b/m);
    // LAN to LAN over wan1: its outbound SA counts the 20 pings on top of the keepalives both carry.
    const counted = (k: string) => o[k] as { ping: Ping; wan1: number; wan2: number };
    assert.ok(counted('ping1').ping.received >= 18, JSON.stringify(o.ping1));
    assert.ok(counted('ping1').wan1 >= counted('ping1').wan2 + 15, JSON.stringify(o.ping1));
    // The cut: BGP moved the LAN routes to wan2 on both routers and wan2 carried the traffic.
    assert.ok((o.routeMovedMs as number) >= 0, 'A moved LAN B to wan2');
    assert.ok((o.routeMovedBMs as number) >= 0, 'B moved LAN A to wan2');
    assert.ok((o.wan2OutDeltaCut as number) >= 20, `wan2 out SA counted ${String(o.wan2OutDeltaCut)}`);
    // The return: the wan1 tunnel up (a new one when liveness cleared the old, else the old one
    // answering again: reported below), BGP back on it, traffic back on wan1.
    assert.ok((o.tunnelBackMs as number) >= 0, 'wan1 tunnel up after the return');
    assert.ok((o.routeBackMs as number) >= 0, 'LAN B routed via wan1 again');
    const spis = (k: string) => (o[k] as Sa[]).map((s) => s.spi);
    assert.ok(spis('sasWan1After').length >= 2, JSON.stringify(o.sasWan1After));
    const renewed = spis('sasWan1After').every((s) => !spis('sasWan1Before').includes(s));
    t.diagnostic(
      `wan1 SAs after the return: ${renewed ? 'new ones' : 'the same ones (not cleared during the cut)'}`,
    );
    assert.ok(counted('ping2').ping.received >= 18, JSON.stringify(o.ping2));
    assert.ok(counted('ping2').wan1 >= counted('ping2').wan2 + 15, JSON.stringify(o.ping2));
    // Figures (reported, not asserted on time): the steady ping across cut and return.
    const s = o.steady as Steady;
    assert.ok(s.transmitted > 0 && s.received > 0, JSON.stringify(s));
    t.diagnostic(
      `failover figures: ping every ${s.intervalMs} ms, ${s.transmitted} sent, ${s.received} answered; ` +
        `loss runs ${JSON.stringify(s.runs)}; daemons ready ${String(o.daemonsReadyMs)} ms, tunnels ` +
        `${String(o.tunnelsUpMs)} ms later; from FRR start: BGP up ${String(o.bgpUpMs)} ms, LAN routes ` +
        `${String(o.routesWan1Ms)} ms; route moved on A after ${String(o.routeMovedMs)} ms, on B after ` +
        `${String(o.routeMovedBMs)} ms; wan1 cleared by liveness after ${String(o.wan1ClearedMs)} ms; after ` +
        `the return: tunnel ${String(o.tunnelBackMs)} ms, BGP ${String(o.bgpBackMs)} ms, route ` +
        `${String(o.routeBackMs)} ms; sessions ${JSON.stringify(o.bgpSessions)}`,
    );
  },
);

type Counters = { aOut: number; aIn: number; bIn: number; bOut: number; ifA: { rx: number; tx: number } };

/** Both pings answered, and each of the four SAs (two per kernel) counted at least 10 packets. */
function assertTrafficBothWays(o: Record<string, unknown>): void {
  assert.ok((o.pingAB as Ping).received >= 4, JSON.stringify(o.pingAB));
  assert.ok((o.pingBA as Ping).received >= 4, JSON.stringify(o.pingBA));
  const { before, after } = o.counters as { before: Counters; after: Counters };
  // 5 requests and 5 replies each way: every SA carries at least 8 of the 10 in its direction.
  for (const k of ['aOut', 'aIn', 'bIn', 'bOut'] as const) {
    assert.ok(before[k] >= 0, `${k}: the SA exists (${JSON.stringify(before)})`);
    assert.ok(after[k] - before[k] >= 8, `${k}: ${before[k]} -> ${after[k]}`);
  }
  assert.ok(after.ifA.tx - before.ifA.tx >= 8, `ipsec-sw TX ${JSON.stringify([before.ifA, after.ifA])}`);
  assert.ok(after.ifA.rx - before.ifA.rx >= 8, `ipsec-sw RX ${JSON.stringify([before.ifA, after.ifA])}`);
}

test(
  'route-based interop: ikeway route-based <-> strongSwan 5.9.8 route-based (if_id_in/if_id_out on its own XFRM interface)',
  SWAN,
  (t) => {
    const o = result('swan', 'IKW-RB-SWAN-RESULT', 'swan-route');
    t.diagnostic(JSON.stringify(o, null, 1).slice(0, 5000));
    assert.match(String(o.routeA), /^10\.2\.0\.0\/24 dev ipsec-sw proto static/);
    // ikeway's SAs and policies carry its if_id 7, charon's carry 9 (interface ids are local).
    const a = o.ifIdA as { states: number; policies: number };
    const b = o.ifIdB as { states: number; policies: number };
    assert.ok(a.states >= 2 && a.policies >= 3, JSON.stringify(a));
    assert.ok(b.states >= 2 && b.policies >= 3, JSON.stringify(b));
    assertTrafficBothWays(o);
    const { before, after } = o.counters as {
      before: Counters & { ifB: Counters['ifA'] };
      after: Counters & { ifB: Counters['ifA'] };
    };
    assert.ok(after.ifB.tx - before.ifB.tx >= 8, `swan0 TX ${JSON.stringify([before.ifB, after.ifB])}`);
    assert.ok(after.ifB.rx - before.ifB.rx >= 8, `swan0 RX ${JSON.stringify([before.ifB, after.ifB])}`);
  },
);

test(
  'route-based interop: ikeway route-based (responder) <-> strongSwan 5.9.8 policy-based (initiator)',
  SWAN,
  (t) => {
    const o = result('swan', 'IKW-RB-SWAN-RESULT', 'swan-policy');
    t.diagnostic(JSON.stringify(o, null, 1).slice(0, 5000));
    assert.match(String(o.routeA), /^10\.2\.0\.0\/24 dev ipsec-sw proto static/);
    const child = o.child as { localTs: string[]; remoteTs: string[] };
    assert.deepEqual([child.localTs, child.remoteTs], [['10.1.0.0/24'], ['10.2.0.0/24']]);
    assertTrafficBothWays(o);
  },
);
