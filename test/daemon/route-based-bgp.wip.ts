// @guest-pass (once green: rename to route-based-bgp.test.ts)
// NOT GREEN: passed every route and traffic check once (2026-12-07 04:22, 3.45 s outage, 31 pings lost),
// then failed at 04:45 on a guest slowed by machine load (daemons 226 s to start; FRR's LAN routes not
// installed within the lab's 30 s waits, so the steady ping never got an answer). Kept out of the suite.
// lab/route-based/bgp.ts: examples/route-based-bgp/ brought up with FRR (bgpd + zebra) peering over
// two ikeway tunnels; a WAN path cut moves the traffic to the other tunnel, its return moves it back.
// Convergence time and lost packets are reported as diagnostics, never asserted.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { withEspKernel, type RunResult } from '../../lab/guest/guest.ts';
import { bundleEnv } from '../../lab/guest/bundle.ts';
import { LAB_MODULES } from '../../lab/two-site/lab.ts';

const ROOT = join(import.meta.dirname, '..', '..');
type Ping = { sent: number; received: number };
const ROOT_ONLY = { skip: process.getuid?.() !== 0 && 'needs root' };

let run: RunResult | undefined;
let bootError: unknown;
before(async () => {
  if (ROOT_ONLY.skip) return;
  try {
    run = await withEspKernel({
      command: [process.execPath, '--import', 'tsx', 'lab/route-based/bgp.ts'],
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

type Sa = { dir: string; spi: string; packets: number };
type Steady = {
  intervalMs: number;
  transmitted: number;
  received: number;
  runs: { lost: number; outageMs: number; atMsFromCut: number; after: string }[];
};

test(
  'route-based BGP: FRR over two ikeway tunnels (examples/route-based-bgp) fails over on a WAN cut and back on its return',
  ROOT_ONLY,
  (t) => {
    const o = result('IKW-RB-BGP-RESULT');
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
        `loss runs ${JSON.stringify(s.runs)}; route moved on A after ${String(o.routeMovedMs)} ms, ` +
        `on B after ${String(o.routeMovedBMs)} ms; wan1 cleared by liveness after ${String(o.wan1ClearedMs)} ms; ` +
        `after the return: tunnel ${String(o.tunnelBackMs)} ms, BGP ${String(o.bgpBackMs)} ms, route ${String(o.routeBackMs)} ms`,
    );
  },
);
