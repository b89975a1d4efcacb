// Not one packet lost across rekeys (issue 13): ikeway on router-a initiates the tunnel to a peer
// (strongSwan, Libreswan or ikeway) on router-b; a steady ping flow (100 packets/s by default) runs
// host-a -> host-b while Child and IKE SA rekeys are started, one after the other, by ikeway in one
// phase and by the peer in the next (RFC 7296 §2.8). Waiting for a rekey reads ikeway's control socket
// only (a peer status command per poll would load the TCG guest more than the flow does). The loss is counted three ways: ping's own sent/received, both kernels'
// ESP SA counters (every SA of the flow, sampled until it is gone) and XFRM error counters
// (/proc/net/xfrm_stat), and a capture of the ESP each router sent on its WAN. Facts only; the test
// (test/interop/rekey-no-loss.test.ts) asserts. Reuses the matrix's lab, daemons and probes; the
// counting is lab/interop/loss-count.ts.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundledCli } from '../guest/bundle.ts';
import { WanCapture, type CaptureSummary } from '../two-site/checks.ts';
import { buildLab, type Lab } from '../two-site/lab.ts';
import { lanHostAddresses, siteOf, type SiteName } from '../two-site/topology.ts';
import { BASE_CELL, cellTopology } from './cells.ts';
import { IkewayDaemon, sleep, writeIkewayConfig } from './ikeway-side.ts';
import {
  deltas,
  pingFlow,
  run,
  SaSampler,
  xfrmStat,
  type LossSnapshot,
  type PingCount,
  type RouterCount,
} from './loss-count.ts';
import { waitUp, type UpState } from './probes.ts';
import { childRekeyTiming, describeTiming, RekeyTrace } from './rekey-trace.ts';
import { CONN, endpoints, peerContext } from './run-cell.ts';
import type { CellSpec, PeerDriver } from './types.ts';

export type RekeyStarter = 'ikeway' | 'peer';
export type RekeyKind = 'child' | 'ike';

export interface FlowOptions {
  readonly peer: PeerDriver;
  /**
   * Another implementation on router-a in ikeway's place (a control flow: e.g. strongSwan starting
   * the rekeys against Libreswan, to tell a peer's own loss from ikeway's). Default: ikeway.
   */
  readonly local?: PeerDriver;
  /** One phase per starter, one after the other on the same tunnel (default: ikeway, then the peer). */
  readonly starters?: readonly RekeyStarter[];
  /** The rekeys of each phase in order (default DEFAULT_PLAN). */
  readonly plan?: readonly RekeyKind[];
  /** Packets per second of the flow (default 100) and seconds between rekey starts (default 2). */
  readonly pps?: number;
  readonly slotS?: number;
  readonly log?: (line: string) => void;
}

/** Three Child SA rekeys around one IKE SA rekey (the Child SAs move to the new IKE SA in between). */
/** Issue 13's count: at least 8 Child SA rekeys and 2 IKE SA rekeys per starter. */
export const DEFAULT_PLAN: readonly RekeyKind[] = [
  ...(['child', 'child', 'child', 'child', 'ike'] as const),
  ...(['child', 'child', 'child', 'child', 'ike'] as const),
];

export interface RekeyFact {
  readonly what: RekeyKind;
  readonly ok: boolean;
  /** From the start command until ikeway had the new SA (its status). */
  readonly ms: number;
  readonly detail: string;
  /** ikeway's ESP SPIs after the rekey (8 hex digits): router-a receives on `in`, sends on `out`. */
  readonly esp?: { readonly in: string; readonly out: string };
}

export interface PhaseFacts {
  readonly by: RekeyStarter;
  readonly rekeys: readonly RekeyFact[];
  readonly ping: PingCount;
  readonly routers: Readonly<Record<SiteName, RouterCount>>;
  /** ESP each router sent on its WAN during the phase (tcpdump, outgoing only). */
  readonly capture: Readonly<Record<SiteName, CaptureSummary>>;
  readonly flowMs: number;
  /** ms since the flow started at which each rekey was started and seen done. */
  readonly timeline: readonly string[];
  readonly snapshots: readonly LossSnapshot[];
  /**
   * Per Child SA rekey router-a started: when each step happened (rekey-trace.ts), relative to the
   * request, and how many ESP packets on the new SA reached router-a before its inbound SA was whole.
   */
  readonly timings: readonly string[];
}

export interface FlowFacts {
  readonly peer: string;
  readonly peerVersion: string;
  readonly error: string | null;
  readonly phases: readonly PhaseFacts[];
  /** The peer's own view at the end: the same Child SA as ikeway's newest. */
  readonly agreedAtEnd: boolean;
  /** Which implementation ran on router-a ('ikeway', or a control flow's). */
  readonly local: string;
  readonly seconds: number;
  readonly evidence: readonly string[];
}

/** The tunnel as router-a's implementation sees it, and how to make it rekey. */
interface FlowSide {
  readonly kind: string;
  rekey(what: RekeyKind): Promise<void>;
  /** Its newest installed Child SA and its IKE SA. */
  view(): Promise<UpState | undefined>;
  lines(): readonly string[];
}

/** ikeway's side: its control socket only (cheap to poll). */
function ikewaySide(ikw: IkewayDaemon): FlowSide {
  return {
    kind: 'ikeway',
    rekey: (what) => ikw.rekey(what),
    view: async () => {
      const sas = await ikw.ikeSas();
      for (const sa of [...sas].reverse())
        for (const c of [...sa.children].reverse())
          if (c.state === 'installed')
            return {
              ikeSpiI: sa.spiI.toLowerCase(),
              ikeSpiR: sa.spiR.toLowerCase(),
              spiIn: c.spiIn.replace(/^0x/, '').toLowerCase(),
              spiOut: c.spiOut.replace(/^0x/, '').toLowerCase(),
            };
      return undefined;
    },
    lines: () => ikw.lines,
  };
}

/** Another implementation on router-a (control flows), through its PeerDriver. */
function driverSide(d: PeerDriver): FlowSide {
  const n = (s: string) => s.replace(/^0x/, '').toLowerCase();
  // The newest installed Child SA, whatever order the status lists them in: the one seen last.
  const seen = new Set<string>();
  let newest: string | undefined;
  return {
    kind: d.kind,
    rekey: (what) => (what === 'child' ? d.rekeyChild() : d.rekeyIke()),
    view: async () => {
      const sa = await d.status().catch(() => undefined);
      if (!sa || sa.children.length === 0) return undefined;
      const fresh = sa.children.find((c) => !seen.has(n(c.spiIn)));
      for (const c of sa.children) seen.add(n(c.spiIn));
      if (fresh) newest = n(fresh.spiIn);
      const c = sa.children.find((x) => n(x.spiIn) === newest) ?? sa.children.at(-1)!;
      return { ikeSpiI: n(sa.ikeSpiI), ikeSpiR: n(sa.ikeSpiR), spiIn: n(c.spiIn), spiOut: n(c.spiOut) };
    },
    lines: () => d.log().split('\n').slice(-400),
  };
}

/** Both sides agree crosswise on the newest Child SA (router-a's `spiIn` is the peer's `spiOut`). */
async function agreedPair(a: FlowSide, peer: PeerDriver, ms: number, want?: (u: UpState) => boolean) {
  const deadline = Date.now() + ms;
  let last = '';
  for (let i = 0; i < 1000 && Date.now() < deadline; i++) {
    const [u, p] = [await a.view(), await peer.status().catch(() => undefined)];
    const norm = (s: string) => s.replace(/^0x/, '').toLowerCase();
    if (u && p?.children.some((c) => norm(c.spiIn) === u.spiOut && norm(c.spiOut) === u.spiIn))
      if (!want || want(u)) return u;
    last = `${a.kind} ${JSON.stringify(u)}; ${peer.kind} ${JSON.stringify(p)}`;
    await sleep(500);
  }
  throw new Error(`no agreed tunnel within ${ms} ms: ${last}`);
}

async function rekey(
  what: RekeyKind,
  by: RekeyStarter,
  side: FlowSide,
  peer: PeerDriver,
  before: UpState,
): Promise<{ fact: RekeyFact; up: UpState }> {
  const t0 = Date.now();
  if (by === 'ikeway') await side.rekey(what);
  else await (what === 'child' ? peer.rekeyChild() : peer.rekeyIke());
  const changed = (u: UpState) =>
    what === 'child'
      ? u.spiIn !== before.spiIn && u.spiOut !== before.spiOut
      : u.ikeSpiI !== before.ikeSpiI || u.ikeSpiR !== before.ikeSpiR;
  let slow = '';
  for (let i = 0; i < 300 && Date.now() - t0 < 150_000; i++) {
    // A status that does not come in time (a loaded TCG guest) is asked again, within the bound.
    const up = await side.view().catch((e: unknown) => {
      slow = String((e as Error).message ?? e);
      return undefined;
    });
    if (up && changed(up)) {
      const detail =
        what === 'child'
          ? `ESP ${before.spiIn}/${before.spiOut} -> ${up.spiIn}/${up.spiOut}`
          : `IKE ${before.ikeSpiI}/${before.ikeSpiR} -> ${up.ikeSpiI}/${up.ikeSpiR}`;
      const esp = { in: up.spiIn, out: up.spiOut };
      return { fact: { what, ok: true, ms: Date.now() - t0, detail, esp }, up };
    }
    await sleep(500);
  }
  throw new Error(`${what} rekey by ${by}: ${side.kind} saw no new SA within 150 s${slow && ` (${slow})`}`);
}

/** Both routers' XFRM states (with counters) and policies, as text. */
async function tables(l: Lab): Promise<string> {
  const parts: string[] = [];
  for (const [name, ns] of [
    ['router-a', l.a.router],
    ['router-b', l.b.router],
  ] as const) {
    const [st, po] = await Promise.all([
      run(ns, 'ip', ['-s', 'xfrm', 'state']),
      run(ns, 'ip', ['xfrm', 'policy']),
    ]);
    // Keys never leave the guest's log: `ip xfrm state` prints them, so those lines are dropped.
    const safe = st
      .split('\n')
      .filter((x) => !/^\s*(aead|enc|auth|auth-trunc|comp)\s/.test(x))
      .join('\n');
    parts.push(`== ${name} states\n${safe}\n== ${name} policies\n${po}`);
  }
  return parts.join('\n');
}

/** One phase: captures, a ping flow, the plan's rekeys by one starter, the counts. */
async function phase(
  l: Lab,
  side: FlowSide,
  peer: PeerDriver,
  by: RekeyStarter,
  first: UpState,
  o: { plan: readonly RekeyKind[]; pps: number; slotS: number; log: (l: string) => void },
): Promise<{ facts: PhaseFacts; up: UpState }> {
  const wan = { a: siteOf(l.topology, 'a').wan, b: siteOf(l.topology, 'b').wan };
  const samplers = { a: new SaSampler(l.a.router, wan.a), b: new SaSampler(l.b.router, wan.b) };
  const statBefore = { a: await xfrmStat(l.a.router), b: await xfrmStat(l.b.router) };
  // A loaded TCG guest may take longer than the usual 10 s to start tcpdump.
  const caps = {
    a: await WanCapture.start(l.a.router, 'wan', 100_000, 30_000),
    b: await WanCapture.start(l.b.router, 'wan', 100_000, 30_000),
  };
  const trace = await RekeyTrace.start({ a: l.a.router, b: l.b.router }, wan);
  try {
    const childStarts: { at: number; spiIn: string }[] = [];
    const rekeys: RekeyFact[] = [];
    const timeline: string[] = [];
    const snapshots: LossSnapshot[] = [];
    let up = first;
    const flowStart = Date.now();
    const since = () => Date.now() - flowStart;
    const flow = pingFlow(l, o.pps, async (lastReplySeq) => {
      const at = since();
      const text = await tables(l);
      snapshots.push({ at, lastReplySeq, text });
      o.log(`no reply for 150 ms at ${at} ms (last reply seq ${lastReplySeq}): tables taken`);
    });
    await sleep(1000);
    {
      for (let i = 0; i < o.plan.length; i++) {
        const at = flowStart + 1000 + i * o.slotS * 1000;
        if (Date.now() < at) await sleep(at - Date.now());
        await Promise.all([samplers.a.sample(), samplers.b.sample()]);
        const what = o.plan[i]!;
        const started = since();
        const startedAt = Date.now();
        try {
          const r = await rekey(what, by, side, peer, up);
          rekeys.push(r.fact);
          up = r.up;
          if (what === 'child' && by === 'ikeway') childStarts.push({ at: startedAt, spiIn: up.spiIn });
          timeline.push(`${what} ${started}-${since()} ${r.fact.detail}`);
          o.log(`rekey ${i + 1}/${o.plan.length} ${what} by ${by}: ${r.fact.detail} (${r.fact.ms} ms)`);
        } catch (e) {
          rekeys.push({ what, ok: false, ms: Date.now() - at, detail: String((e as Error).message ?? e) });
          o.log(`rekey ${i + 1}/${o.plan.length} ${what} by ${by} FAILED: ${String(e)}`);
          break;
        }
      }
      // The last SAs carry the flow too, past the replaced SA's grace (5 s) on both sides.
      await sleep(Math.max(2 * o.slotS, 6) * 1000);
    }
    // ping first: its last requests get their replies while the captures still run.
    const ping = await flow.stop();
    const flowMs = Date.now() - flowStart;
    await sleep(1500);
    await Promise.all([samplers.a.sample(), samplers.b.sample()]);
    const statAfter = { a: await xfrmStat(l.a.router), b: await xfrmStat(l.b.router) };
    const secret = lanHostAddresses(l.topology);
    const capture = { a: await caps.a.stop(secret), b: await caps.b.stop(secret) };
    await trace.stop();
    const timings = childStarts.map((c, i) => {
      const t = childRekeyTiming(trace.a, trace.b, c.at, c.spiIn);
      // ikeway's own line for the install (ms, its log clock is the guest's too).
      const logged = side
        .lines()
        .map((x) => ({ x, t: Date.parse(x.split(' ')[0] ?? '') }))
        .find((e) => /Child SA rekeyed/.test(e.x) && e.t >= (t.requestAt ?? c.at) - 1);
      const log =
        logged && t.requestAt !== null
          ? `; ${side.kind} logged the install +${Math.round(logged.t - t.requestAt)}`
          : '';
      return `child rekey ${i + 1} (in ${c.spiIn}): ${describeTiming(t)}${log}`;
    });
    for (const x of timings) o.log(x);
    const count = (sas: RouterCount['sas'], site: SiteName): RouterCount => ({
      sent: sas.filter((s) => s.dir === 'out').reduce((n, s) => n + s.packets, 0),
      received: sas.filter((s) => s.dir === 'in').reduce((n, s) => n + s.packets, 0),
      sas,
      xfrmErrors: deltas(statBefore[site], statAfter[site]),
    });
    o.log(
      `phase by ${by}: ping ${ping.sent} sent, ${ping.lost} lost [${ping.lostRanges}]; xfrm a ` +
        `${JSON.stringify(count(samplers.a.sas, 'a').xfrmErrors)} b ${JSON.stringify(count(samplers.b.sas, 'b').xfrmErrors)}; ` +
        `timeline ${timeline.join(' | ')}`,
    );
    return {
      facts: {
        by,
        rekeys,
        ping,
        routers: { a: count(samplers.a.sas, 'a'), b: count(samplers.b.sas, 'b') },
        capture,
        flowMs,
        timeline,
        snapshots,
        timings,
      },
      up,
    };
  } finally {
    await trace.stop();
  }
}

/** One flow: lab, peer, ikeway (initiator), a phase per starter, counts; always tears down. */
export async function rekeyFlow(o: FlowOptions): Promise<FlowFacts> {
  const { peer } = o;
  const opts = {
    plan: o.plan ?? DEFAULT_PLAN,
    pps: o.pps ?? 100,
    slotS: o.slotS ?? 2,
    log: o.log ?? (() => undefined),
  };
  const t0 = Date.now();
  const localKind = o.local?.kind ?? 'ikeway';
  const cell: CellSpec = { ...BASE_CELL, id: `noloss-${localKind}-${peer.kind}`, rekeys: false };
  const dir = mkdtempSync(join(tmpdir(), `ikw-nl-${peer.kind}-`));
  const phases: PhaseFacts[] = [];
  let lab: Lab | undefined;
  let ikw: IkewayDaemon | undefined;
  let side: FlowSide | undefined;
  const facts = (f: Partial<FlowFacts>): FlowFacts => ({
    peer: peer.kind,
    peerVersion: peer.version(),
    local: o.local ? `${o.local.kind} (${o.local.version()})` : 'ikeway',
    error: null,
    phases,
    agreedAtEnd: false,
    seconds: Math.round((Date.now() - t0) / 100) / 10,
    evidence: evidence(peer, side),
    ...f,
  });
  try {
    lab = buildLab(cellTopology(cell, 'initiator'), { tag: 'nl' });
    const l = lab;
    const ep = endpoints(l, cell);
    const psk = `0x${randomBytes(32).toString('hex')}`;
    const ctx = peerContext(l, cell, 'initiator', dir, { kind: 'psk', psk });
    await peer.start(ctx);
    let up: UpState;
    if (o.local) {
      // The control implementation on router-a starts the tunnel ('responder' is ikeway's role in
      // the cell's terms: the driver on router-a is then the initiator).
      const a = o.local;
      await a.start({
        ...ctx,
        role: 'responder',
        ns: l.a.router,
        dir: join(dir, 'local'),
        local: ep.ikeway,
        remote: ep.ikewayRemote,
      });
      side = driverSide(a);
      await a.initiate();
      up = await agreedPair(side, peer, 120_000);
    } else {
      const config = writeIkewayConfig({
        cell,
        role: 'initiator',
        dir: join(dir, 'ikeway'),
        name: CONN,
        local: ep.ikeway,
        remote: ep.ikewayRemote,
        psk,
      });
      ikw = await IkewayDaemon.start(l.a.router, await bundledCli(), config, CONN);
      side = ikewaySide(ikw);
      up = await waitUp(ikw, peer, 180_000);
    }
    opts.log(`up: ESP ${up.spiIn}/${up.spiOut}`);
    for (const by of o.starters ?? (['ikeway', 'peer'] as const)) {
      const r = await phase(l, side, peer, by, up, opts);
      phases.push(r.facts);
      up = r.up;
      if (r.facts.rekeys.some((x) => !x.ok)) break;
    }
    const last = up;
    const end = await agreedPair(side, peer, 30_000, (u) => u.spiIn === last.spiIn).catch(() => undefined);
    return facts({ agreedAtEnd: end !== undefined });
  } catch (e) {
    return facts({ error: String((e as Error).message ?? e) });
  } finally {
    await ikw?.stop().catch(() => undefined);
    await o.local?.stop().catch(() => undefined);
    await peer.stop().catch(() => undefined);
    lab?.teardown();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The make-before-break lines of both sides, and anything that looks like a failure. */
function evidence(peer: PeerDriver, side: FlowSide | undefined): string[] {
  const pick = /outbound traffic moves|warn|error|fail|invalid|XfrmAcquire|no SA|rekey/i;
  const ours = (side?.lines() ?? []).filter((l) => pick.test(l)).slice(-30);
  const theirs = peer
    .log()
    .split('\n')
    .filter((l) => /error|fail|invalid|unable/i.test(l))
    .slice(-6);
  return [
    ...ours.map((l) => `${side?.kind ?? 'a'}: ${l.trim()}`),
    ...theirs.map((l) => `${peer.kind}: ${l.trim()}`),
  ];
}
