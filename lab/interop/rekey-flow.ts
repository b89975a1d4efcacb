// Not one packet lost across rekeys (issue 13): ikeway on router-a initiates the tunnel to a peer
// (strongSwan, Libreswan or ikeway) on router-b; a steady ping flow (100 packets/s by default) runs
// host-a -> host-b while Child and IKE SA rekeys are started, one after the other, by ikeway or by the
// peer (RFC 7296 §2.8). The loss is counted three ways: ping's own sent/received, both kernels'
// ESP SA counters (every SA of the flow, sampled until it is gone) and XFRM error counters
// (/proc/net/xfrm_stat), and a capture of the ESP each router sent on its WAN. Facts only; the test
// (test/interop/rekey-no-loss.test.ts) asserts. Reuses the matrix's lab, daemons and probes.
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundledCli } from '../guest/bundle.ts';
import type { LabNs } from '../netns/lab-ns.ts';
import { parseXfrmStates, WanCapture, type CaptureSummary } from '../two-site/checks.ts';
import { buildLab, type Lab } from '../two-site/lab.ts';
import { lanHostAddresses, siteOf, type SiteName } from '../two-site/topology.ts';
import { BASE_CELL, cellTopology } from './cells.ts';
import { IkewayDaemon, sleep, writeIkewayConfig } from './ikeway-side.ts';
import { waitUp, type UpState } from './probes.ts';
import { CONN, endpoints } from './run-cell.ts';
import type { CellContext, CellSpec, PeerDriver } from './types.ts';

export type RekeyStarter = 'ikeway' | 'peer';
export type RekeyKind = 'child' | 'ike';

export interface FlowOptions {
  readonly peer: PeerDriver;
  readonly by: RekeyStarter;
  /** The rekeys in order (default: 4 Child, 1 IKE, 4 Child, 1 IKE). */
  readonly plan?: readonly RekeyKind[];
  /** Packets per second of the flow (default 100) and seconds between rekey starts (default 3). */
  readonly pps?: number;
  readonly slotS?: number;
  readonly log?: (line: string) => void;
}

export const DEFAULT_PLAN: readonly RekeyKind[] = [
  ...['child', 'child', 'child', 'child', 'ike'],
  ...['child', 'child', 'child', 'child', 'ike'],
] as RekeyKind[];

export interface RekeyFact {
  readonly what: RekeyKind;
  readonly ok: boolean;
  /** From the start command until both sides agreed on the new SAs. */
  readonly ms: number;
  readonly detail: string;
  /** ikeway's ESP SPIs after the rekey (8 hex digits): router-a receives on `in`, sends on `out`. */
  readonly esp?: { readonly in: string; readonly out: string };
}

/** One router: ESP packets per SA (the largest count seen while the SA lived), and XFRM errors. */
export interface RouterCount {
  readonly sent: number;
  readonly received: number;
  readonly sas: readonly { spi: string; dir: 'in' | 'out'; packets: number }[];
  /** Non-zero deltas of /proc/net/xfrm_stat over the flow (XfrmOutNoStates, XfrmAcquireError ...). */
  readonly xfrmErrors: Readonly<Record<string, number>>;
}

export interface FlowFacts {
  readonly peer: string;
  readonly peerVersion: string;
  readonly by: RekeyStarter;
  readonly error: string | null;
  readonly rekeys: readonly RekeyFact[];
  /** Whether the last rekey had completed before the flow ended (else it proved nothing). */
  readonly rekeysInsideFlow: boolean;
  readonly ping: { sent: number; received: number };
  readonly routers: Readonly<Record<SiteName, RouterCount>>;
  /** ESP each router sent on its WAN (tcpdump, outgoing only). */
  readonly capture: Readonly<Record<SiteName, CaptureSummary>>;
  readonly flowMs: number;
  readonly seconds: number;
  readonly evidence: readonly string[];
}

/** Runs a command in a namespace without blocking the event loop (other flows run in parallel). */
function run(ns: LabNs, cmd: string, args: readonly string[], timeoutMs = 20_000): Promise<string> {
  return new Promise((resolve) => {
    const child: ChildProcess = ns.spawn(cmd, args, { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    child.stdout?.on('data', (b: Buffer) => (out += b.toString('utf8')));
    const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('exit', () => {
      clearTimeout(t);
      resolve(out);
    });
  });
}

function parseXfrmStat(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const m = /^(\w+)\s+(\d+)/.exec(line);
    if (m) out[m[1]!] = Number(m[2]);
  }
  return out;
}

/** Samples both routers' ESP SA counters until stopped; an SA's count is its largest sample. */
class SaSampler {
  readonly #max = new Map<string, { spi: string; dir: 'in' | 'out'; packets: number }>();
  #stop = false;
  #done: Promise<void> = Promise.resolve();
  constructor(
    private readonly ns: LabNs,
    private readonly wan: string,
  ) {}
  start(everyMs: number): void {
    this.#done = (async () => {
      for (let i = 0; i < 100_000 && !this.#stop; i++) {
        await this.sample();
        await sleep(everyMs);
      }
    })();
  }
  async sample(): Promise<void> {
    for (const s of parseXfrmStates(await run(this.ns, 'ip', ['-s', 'xfrm', 'state']))) {
      const dir = s.src === this.wan ? 'out' : 'in';
      const prev = this.#max.get(s.spi);
      if (!prev || prev.packets < s.packets) this.#max.set(s.spi, { spi: s.spi, dir, packets: s.packets });
    }
  }
  async stop(): Promise<RouterCount['sas']> {
    this.#stop = true;
    await this.#done;
    await this.sample();
    return [...this.#max.values()];
  }
}

async function xfrmStat(ns: LabNs): Promise<Record<string, number>> {
  return parseXfrmStat(await run(ns, 'cat', ['/proc/net/xfrm_stat']));
}

function deltas(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(after)) if (v - (before[k] ?? 0) !== 0) out[k] = v - (before[k] ?? 0);
  return out;
}

/** ping at `pps` for `count` packets; resolves with ping's own summary when it ends by itself. */
function pingFlow(l: Lab, count: number, pps: number): Promise<{ sent: number; received: number }> {
  const t = l.topology;
  const [src, dst] = [siteOf(t, 'a').lans[0]!.host, siteOf(t, 'b').lans[0]!.host];
  const interval = (1 / pps).toFixed(3);
  const args = ['-n', '-q', '-c', String(count), '-i', interval, '-W', '2', '-I', src, dst];
  return run(l.a.host!, 'ping', args, count * (1000 / pps) * 3 + 30_000).then((out) => {
    const m = /(\d+) packets transmitted, (\d+) (?:packets )?received/.exec(out);
    return { sent: m ? Number(m[1]) : 0, received: m ? Number(m[2]) : 0 };
  });
}

async function rekey(
  what: RekeyKind,
  by: RekeyStarter,
  ikw: IkewayDaemon,
  peer: PeerDriver,
  before: UpState,
): Promise<{ fact: RekeyFact; up: UpState }> {
  const t0 = Date.now();
  if (by === 'ikeway') await ikw.rekey(what);
  else await (what === 'child' ? peer.rekeyChild() : peer.rekeyIke());
  const changed = (u: UpState) =>
    what === 'child'
      ? u.spiIn !== before.spiIn && u.spiOut !== before.spiOut
      : u.ikeSpiI !== before.ikeSpiI && u.ikeSpiR !== before.ikeSpiR;
  const up = await waitUp(ikw, peer, 30_000, changed);
  const detail =
    what === 'child'
      ? `ESP ${before.spiIn}/${before.spiOut} -> ${up.spiIn}/${up.spiOut}`
      : `IKE ${before.ikeSpiI}/${before.ikeSpiR} -> ${up.ikeSpiI}/${up.ikeSpiR}`;
  const esp = { in: up.spiIn, out: up.spiOut };
  return { fact: { what, ok: true, ms: Date.now() - t0, detail, esp }, up };
}

/** One flow: lab, peer, ikeway (initiator), flow with rekeys, counts; always tears down. */
export async function rekeyFlow(o: FlowOptions): Promise<FlowFacts> {
  const { peer, by } = o;
  const plan = o.plan ?? DEFAULT_PLAN;
  const pps = o.pps ?? 100;
  const slotS = o.slotS ?? 3;
  const log = o.log ?? (() => undefined);
  const t0 = Date.now();
  const cell: CellSpec = { ...BASE_CELL, id: `noloss-${peer.kind}-${by}`, rekeys: false };
  const dir = mkdtempSync(join(tmpdir(), `ikw-nl-${peer.kind}-${by}-`));
  const rekeys: RekeyFact[] = [];
  let lab: Lab | undefined;
  let ikw: IkewayDaemon | undefined;
  const empty: RouterCount = { sent: 0, received: 0, sas: [], xfrmErrors: {} };
  const none: CaptureSummary = { packets: 0, esp: 0, espInUdp: 0, ike: 0, cleartext: 0, leaks: [] };
  const facts = (f: Partial<FlowFacts>): FlowFacts => ({
    peer: peer.kind,
    peerVersion: peer.version(),
    by,
    error: null,
    rekeys,
    rekeysInsideFlow: false,
    ping: { sent: 0, received: 0 },
    routers: { a: empty, b: empty },
    capture: { a: none, b: none },
    flowMs: 0,
    seconds: Math.round((Date.now() - t0) / 100) / 10,
    evidence: [],
    ...f,
  });
  try {
    lab = buildLab(cellTopology(cell, 'initiator'), { tag: 'nl' });
    const l = lab;
    const ep = endpoints(l, cell);
    const psk = `0x${randomBytes(32).toString('hex')}`;
    const ctx: CellContext = {
      cell,
      role: 'initiator',
      topology: l.topology,
      ns: l.b.router,
      dir: join(dir, 'peer'),
      name: CONN,
      local: ep.peer,
      remote: ep.peerRemote,
      creds: { kind: 'psk', psk },
      dpdSeconds: 30,
    };
    await peer.start(ctx);
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
    let up = await waitUp(ikw, peer, 90_000);
    log(`up: ESP ${up.spiIn}/${up.spiOut}`);

    const wan = { a: siteOf(l.topology, 'a').wan, b: siteOf(l.topology, 'b').wan };
    const samplers = { a: new SaSampler(l.a.router, wan.a), b: new SaSampler(l.b.router, wan.b) };
    const statBefore = { a: await xfrmStat(l.a.router), b: await xfrmStat(l.b.router) };
    const caps = {
      a: await WanCapture.start(l.a.router, 'wan', 50_000),
      b: await WanCapture.start(l.b.router, 'wan', 50_000),
    };
    samplers.a.start(500);
    samplers.b.start(500);
    // The flow covers a lead second, one slot per rekey and two slots after the last.
    const flowS = 1 + slotS * (plan.length + 2);
    const flowStart = Date.now();
    let flowEnd = 0;
    const flow = pingFlow(l, flowS * pps, pps).then((r) => {
      flowEnd = Date.now();
      return r;
    });
    let lastDone = 0;
    for (let i = 0; i < plan.length; i++) {
      const at = flowStart + 1000 + i * slotS * 1000;
      if (Date.now() < at) await sleep(at - Date.now());
      const what = plan[i]!;
      try {
        const r = await rekey(what, by, ikw, peer, up);
        rekeys.push(r.fact);
        up = r.up;
        lastDone = Date.now();
        log(`rekey ${i + 1}/${plan.length} ${what} by ${by}: ${r.fact.detail} (${r.fact.ms} ms)`);
      } catch (e) {
        rekeys.push({ what, ok: false, ms: Date.now() - at, detail: String((e as Error).message ?? e) });
        log(`rekey ${i + 1}/${plan.length} ${what} by ${by} FAILED: ${String(e)}`);
        break;
      }
    }
    const pinged = await flow;
    await sleep(1000); // the last replies and counters settle
    const [sasA, sasB] = [await samplers.a.stop(), await samplers.b.stop()];
    const statAfter = { a: await xfrmStat(l.a.router), b: await xfrmStat(l.b.router) };
    const secret = lanHostAddresses(l.topology);
    const capture = { a: await caps.a.stop(secret), b: await caps.b.stop(secret) };
    const count = (sas: RouterCount['sas'], site: SiteName): RouterCount => ({
      sent: sas.filter((s) => s.dir === 'out').reduce((n, s) => n + s.packets, 0),
      received: sas.filter((s) => s.dir === 'in').reduce((n, s) => n + s.packets, 0),
      sas,
      xfrmErrors: deltas(statBefore[site], statAfter[site]),
    });
    return facts({
      rekeysInsideFlow: rekeys.length === plan.length && rekeys.every((r) => r.ok) && lastDone < flowEnd,
      ping: pinged,
      routers: { a: count(sasA, 'a'), b: count(sasB, 'b') },
      capture,
      flowMs: flowEnd - flowStart,
      seconds: Math.round((Date.now() - t0) / 100) / 10,
      evidence: evidence(peer, ikw),
    });
  } catch (e) {
    return facts({ error: String((e as Error).message ?? e), evidence: evidence(peer, ikw) });
  } finally {
    await ikw?.stop().catch(() => undefined);
    await peer.stop().catch(() => undefined);
    lab?.teardown();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The make-before-break lines of both sides, and anything that looks like a failure. */
function evidence(peer: PeerDriver, ikw: IkewayDaemon | undefined): string[] {
  const pick = /outbound traffic moves|warn|error|fail|invalid|XfrmAcquire|no SA/i;
  const ours = (ikw?.lines ?? []).filter((l) => pick.test(l)).slice(-12);
  const theirs = peer
    .log()
    .split('\n')
    .filter((l) => /error|fail|invalid|unable/i.test(l))
    .slice(-6);
  return [...ours.map((l) => `ikeway: ${l.trim()}`), ...theirs.map((l) => `${peer.kind}: ${l.trim()}`)];
}
