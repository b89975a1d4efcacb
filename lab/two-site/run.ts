// Runs one lab from start to end: build the namespaces, bring the tunnel up with a driver, ping
// between the sites while capturing the WAN, read the kernel SA counters on both routers, judge,
// and always tear down. The verdict passes only when the counters prove ESP carried the pings.
import { buildLab, type Lab } from './lab.ts';
import {
  WanCapture,
  mergeCaptures,
  ping,
  readSaCounters,
  type CaptureSummary,
  type PingResult,
  type SaCounter,
} from './checks.ts';
import {
  installStaticTunnel,
  DEFAULT_TUNNEL,
  type StaticTunnel,
  type TunnelParams,
} from './static-tunnel.ts';
import type { DaemonCounters, TunnelDriver } from './driver.ts';
import { lanHostAddresses, peerAsSeenBy, siteOf, type SiteName, type Topology } from './topology.ts';

export function staticDriver(p: TunnelParams = DEFAULT_TUNNEL): TunnelDriver {
  let tunnel: StaticTunnel | undefined;
  return {
    name: `static ESP SAs via ip xfrm (${p.mode}, ${p.espProposal}${p.udpEncap ? ', UDP 4500' : ''})`,
    up: async (lab) => {
      tunnel = await installStaticTunnel(lab, p);
    },
    diagnostics: () => [],
    down: () => tunnel?.stop(),
  };
}

/** No tunnel at all: the lab's checks must then fail (cleartext on the WAN, no SA counters). */
export const noTunnel: TunnelDriver = {
  name: 'none (control)',
  up: async () => undefined,
  diagnostics: () => [],
  down: () => undefined,
};

export interface SaDirection extends SaCounter {
  readonly router: SiteName;
  readonly direction: 'out' | 'in';
}

export interface LabReport {
  readonly name: string;
  readonly driver: string;
  readonly ok: boolean;
  /** Why it failed, each with where to look; empty when ok. */
  readonly problems: readonly string[];
  readonly pings: readonly PingResult[];
  readonly sas: readonly SaDirection[];
  readonly capture: CaptureSummary | undefined;
  /** From `ikeway status` on each router (daemon driver only): must agree with the kernel. */
  readonly daemonCounters: readonly DaemonCounters[] | undefined;
  readonly diagnostics: readonly string[];
  readonly ms: {
    readonly build: number;
    readonly tunnel: number;
    readonly checks: number;
    readonly total: number;
  };
}

export interface RunLabOptions {
  readonly topology: Topology;
  readonly driver: TunnelDriver;
  /** Echo requests per LAN pair (default 5). */
  readonly pings?: number;
  readonly tag?: string;
  /** Progress lines as the lab runs. */
  readonly log?: (line: string) => void;
}

/** The pings a lab sends: every LAN of site a to every same-family LAN of site b, or router to router. */
function pingPlan(lab: Lab): { from: SiteName; src: string; dst: string }[] {
  const t = lab.topology;
  const [a, b] = t.sites;
  if (a.lans.length === 0 || b.lans.length === 0)
    return [{ from: 'a', src: a.wan, dst: peerAsSeenBy(t, 'a') }];
  return a.lans.flatMap((la) =>
    b.lans
      .filter((lb) => lb.family === la.family)
      .map((lb) => ({ from: 'a' as const, src: la.host, dst: lb.host })),
  );
}

function classify(t: Topology, name: SiteName, sas: readonly SaCounter[]): SaDirection[] {
  const me = siteOf(t, name).wan;
  return sas.map((s) => ({ ...s, router: name, direction: s.src === me ? 'out' : 'in' }));
}

/** Judges the evidence; every problem says what is wrong and where to look. */
export function judge(
  t: Topology,
  pings: readonly PingResult[],
  sas: readonly SaDirection[],
  cap: CaptureSummary | undefined,
  daemon?: readonly DaemonCounters[],
): string[] {
  const problems: string[] = [];
  if (daemon)
    for (const name of ['a', 'b'] as const) {
      const mine = daemon.filter((d) => d.router === name);
      if (!mine.some((d) => d.packetsIn > 0 && d.packetsOut > 0))
        problems.push(
          `router-${name}: ikeway status shows no Child SA with packets both ways (ikeway status --json -s <socket>)`,
        );
    }
  for (const p of pings)
    if (p.received === 0)
      problems.push(
        `ping ${p.from} -> ${p.to}: 0/${p.sent} replies (routes, policies or SAs: look at ip xfrm policy / ip route on the routers)`,
      );
  for (const name of ['a', 'b'] as const)
    for (const dir of ['out', 'in'] as const) {
      const hit = sas.filter((s) => s.router === name && s.direction === dir);
      if (hit.length === 0)
        problems.push(
          `router-${name}: no ${dir}bound ESP SA in the kernel (the tunnel never came up: see the daemon log)`,
        );
      else if (!hit.some((s) => s.packets > 0))
        problems.push(
          `router-${name}: ${dir}bound SA ${hit.map((s) => s.spi).join(',')} counted 0 packets (traffic bypassed the SA: check policies and selectors)`,
        );
    }
  if (cap === undefined) problems.push('no WAN capture was taken');
  else {
    if (cap.cleartext > 0)
      problems.push(`WAN capture: ${cap.cleartext} packet(s) crossed in clear, e.g. ${cap.leaks[0] ?? ''}`);
    if (cap.esp + cap.espInUdp === 0)
      problems.push(`WAN capture: no ESP packets among ${cap.packets} captured`);
  }
  if (t.nat && cap && cap.esp > 0)
    problems.push(
      `WAN capture: ${cap.esp} plain ESP packet(s) behind NAT, expected only UDP 4500 (RFC 3948)`,
    );
  return problems;
}

export async function runLab(o: RunLabOptions): Promise<LabReport> {
  const log = o.log ?? (() => undefined);
  const t0 = Date.now();
  const lab = buildLab(o.topology, o.tag === undefined ? {} : { tag: o.tag });
  const t1 = Date.now();
  log(`lab ${o.topology.name}: ${lab.namespaces().length} namespaces built in ${t1 - t0} ms`);
  let t2: number;
  let captures: WanCapture[] = [];
  try {
    await o.driver.up(lab);
    t2 = Date.now();
    log(`tunnel up (${o.driver.name}) in ${t2 - t1} ms`);
    // What each router sends onto its WAN link, together: everything that crossed the WAN from
    // now on (the tunnel is up: the IKE setup is not in it; a rekey or liveness check would be).
    captures = [
      await WanCapture.start(lab.a.router, lab.a.wanIf),
      await WanCapture.start(lab.b.router, lab.b.wanIf),
    ];
    const pings = pingPlan(lab).map((p) => {
      const ns = p.src === siteOf(o.topology, 'a').wan ? lab.a.router : lab.a.host!;
      const r = ping(ns, p.src, p.dst, o.pings ?? 5);
      log(`ping ${r.from} -> ${r.to}: ${r.received}/${r.sent} replies`);
      return r;
    });
    const sas = [
      ...classify(o.topology, 'a', readSaCounters(lab.a.router)),
      ...classify(o.topology, 'b', readSaCounters(lab.b.router)),
    ];
    const daemonCounters = await o.driver.counters?.();
    const secret = lanHostAddresses(o.topology);
    const cap = mergeCaptures(await Promise.all(captures.map((c) => c.stop(secret))));
    captures = [];
    const problems = judge(o.topology, pings, sas, cap, daemonCounters);
    const t3 = Date.now();
    return {
      name: o.topology.name,
      driver: o.driver.name,
      ok: problems.length === 0,
      problems,
      pings,
      sas,
      capture: cap,
      daemonCounters,
      diagnostics: problems.length > 0 ? o.driver.diagnostics() : [],
      ms: { build: t1 - t0, tunnel: t2 - t1, checks: t3 - t2, total: t3 - t0 },
    };
  } finally {
    captures.forEach((c) => c.discard());
    try {
      await o.driver.down();
    } finally {
      lab.teardown();
    }
  }
}

/**
 * The report as the demo prints it. No key material is ever part of a report. With `progressShown`
 * the caller has already printed runLab's progress lines (tunnel up, one per ping), and the report
 * does not repeat them.
 */
export function formatReport(r: LabReport, { progressShown = false } = {}): string[] {
  const lines: string[] = [];
  if (!progressShown) {
    lines.push(`tunnel: ${r.driver}`);
    for (const p of r.pings) lines.push(`ping ${p.from} -> ${p.to}: ${p.received}/${p.sent} replies`);
  }
  lines.push('kernel SA counters (ip -s xfrm state):');
  for (const s of r.sas)
    lines.push(
      `  router-${s.router} ${s.direction.padEnd(3)} ${s.src} -> ${s.dst} spi ${s.spi} ${s.mode}${s.udpEncap ? ' udp-encap' : ''}: ${s.packets} packets, ${s.bytes} bytes`,
    );
  if (r.sas.length === 0) lines.push('  (none)');
  if (r.daemonCounters) {
    lines.push('daemon Child SA counters (ikeway status):');
    for (const d of r.daemonCounters)
      lines.push(
        `  router-${d.router} in ${d.spiIn}: ${d.packetsIn} packets, ${d.bytesIn} bytes; out ${d.spiOut}: ${d.packetsOut} packets, ${d.bytesOut} bytes`,
      );
  }
  if (r.capture) {
    const c = r.capture;
    lines.push(
      `WAN capture (sent by both routers, from tunnel up to the end of the pings; the IKE setup came before it): ${c.packets} packets: ${c.esp} ESP, ${c.espInUdp} ESP-in-UDP, ${c.ike} IKE, ${c.cleartext} cleartext`,
    );
  }
  lines.push(
    `time: build ${r.ms.build} ms, tunnel ${r.ms.tunnel} ms, checks ${r.ms.checks} ms, total ${r.ms.total} ms`,
  );
  if (r.ok)
    lines.push(
      'PASS: the kernel counted ESP packets both ways on both routers and nothing crossed the WAN in clear',
    );
  else {
    lines.push('FAIL:');
    for (const p of r.problems) lines.push(`  - ${p}`);
    for (const d of r.diagnostics) lines.push(`  | ${d}`);
  }
  return lines;
}
