// The two-site lab of examples/site-to-site-psk.yaml with both daemons under the scenario's
// control: rendered configs patched per router, namespaces built (netem on the WAN if asked),
// daemons started (responder first), everything torn down by close(). Needs a kernel with ESP.
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { bundledCli } from '../guest/bundle.ts';
import { prepareExample, type ExampleLab } from '../two-site/examples.ts';
import { buildLab, type Lab } from '../two-site/lab.ts';
import { siteOf, type Netem, type SiteName } from '../two-site/topology.ts';
import { LabDaemon, patchConfig, pollUntil, type ConfigPatch } from './daemons.ts';
import { daemonView, kernelView, unsettled, type RouterSnapshot } from './kernel-view.ts';

const EXAMPLE = resolve(import.meta.dirname, '..', '..', 'examples', 'site-to-site-psk.yaml');

export interface RobustLabOptions {
  readonly tag: string;
  readonly netem?: Netem;
  readonly a?: ConfigPatch;
  readonly b?: ConfigPatch;
}

export interface RobustLab {
  readonly lab: Lab;
  readonly ex: ExampleLab;
  readonly a: LabDaemon;
  readonly b: LabDaemon;
  daemon(site: SiteName): LabDaemon;
  /** The daemon's and the kernel's view of one router (status missing when the daemon is down). */
  snapshot(site: SiteName, ignoreSpis?: readonly string[]): Promise<RouterSnapshot>;
  /**
   * Polls until both routers are settled (unsettled() empty); returns the last problems and the
   * snapshots that were judged (the settled ones when ok).
   */
  settle(ms: number, ignoreSpis?: readonly string[]): Promise<Settled>;
  /** The WAN impairment of both routers replaced by `netem` (e.g. the loss stops, the delay stays). */
  setNetem(netem: { delayMs?: number; lossPct?: number; reorderPct?: number }): void;
  /** A background ping from host-a to host-b every intervalS, until stopped (bounded by count). */
  pingFlow(count: number, intervalS: number): PingFlow;
  close(): Promise<void>;
}

export interface Settled {
  readonly ok: boolean;
  readonly ms: number;
  readonly problems: string[];
  readonly last: Record<SiteName, RouterSnapshot> | undefined;
}

export interface PingFlow {
  /** SIGINT: ping prints its summary; resolves with sent/received. */
  stop(): Promise<{ sent: number; received: number }>;
}

function startPing(lab: Lab, count: number, intervalS: number): PingFlow {
  const t = lab.topology;
  const [src, dst] = [siteOf(t, 'a').lans[0]!.host, siteOf(t, 'b').lans[0]!.host];
  const args = ['-n', '-q', '-c', String(count), '-i', String(intervalS), '-W', '1', '-I', src, dst];
  const child: ChildProcess = lab.a.host!.spawn('ping', args, { stdio: ['ignore', 'pipe', 'ignore'] });
  let out = '';
  child.stdout?.on('data', (b: Buffer) => (out += b.toString('utf8')));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return {
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGINT');
      const guard = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(guard);
      const m = /(\d+) packets transmitted, (\d+) (?:packets )?received/.exec(out);
      return { sent: m ? Number(m[1]) : 0, received: m ? Number(m[2]) : 0 };
    },
  };
}

/** Builds the lab and starts both daemons; the tunnel is up when this resolves (bounded). */
export async function robustLab(o: RobustLabOptions): Promise<RobustLab> {
  const dir = mkdtempSync(join(tmpdir(), `ikw-robust-${o.tag}-`));
  const ex = prepareExample(EXAMPLE, dir, o.netem ? { netem: o.netem } : {});
  if (o.a) patchConfig(ex.configs.a, ex.connection, o.a);
  if (o.b) patchConfig(ex.configs.b, ex.connection, o.b);
  const lab = buildLab(ex.topology, { tag: o.tag });
  const bin = await bundledCli();
  const a = new LabDaemon(lab, ex, 'a', bin);
  const b = new LabDaemon(lab, ex, 'b', bin);
  const pings: PingFlow[] = [];
  const snapshot = async (site: SiteName, ignore: readonly string[] = []): Promise<RouterSnapshot> => {
    const d = site === 'a' ? a : b;
    const st = d.running ? await d.status().catch(() => undefined) : undefined;
    const k = kernelView(lab.site(site).router);
    return { ...daemonView(st), ...k, kernelSpis: k.kernelSpis.filter((s) => !ignore.includes(s)) };
  };
  const r: RobustLab = {
    lab,
    ex,
    a,
    b,
    daemon: (s) => (s === 'a' ? a : b),
    snapshot,
    settle: async (ms, ignore = []) => {
      const t0 = Date.now();
      let problems: string[] = [];
      let last: Record<SiteName, RouterSnapshot> | undefined;
      const ok = await pollUntil(async () => {
        const [sa, sb] = [await snapshot('a', ignore), await snapshot('b', ignore)];
        last = { a: sa, b: sb };
        problems = [...unsettled(sa).map((p) => `a: ${p}`), ...unsettled(sb).map((p) => `b: ${p}`)];
        return problems.length === 0 ? true : undefined;
      }, ms);
      return { ok: ok === true, ms: Date.now() - t0, problems, last };
    },
    setNetem: (n) => {
      const args = ['qdisc', 'replace', 'dev', 'wan', 'root', 'netem', 'limit', '10000'];
      if (n.delayMs) args.push('delay', `${n.delayMs}ms`);
      if (n.lossPct) args.push('loss', `${n.lossPct}%`);
      if (n.reorderPct) args.push('reorder', `${n.reorderPct}%`, '50%');
      for (const site of ['a', 'b'] as const) lab.site(site).router.exec('tc', ...args);
    },
    pingFlow: (count, intervalS) => {
      const p = startPing(lab, count, intervalS);
      pings.push(p);
      return p;
    },
    close: async () => {
      try {
        await Promise.all(pings.map((p) => p.stop()));
        await Promise.all([a.stop('SIGKILL'), b.stop('SIGKILL')]);
      } finally {
        lab.teardown();
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
  try {
    await b.start();
    await a.start();
    // Up: an established IKE SA with an installed Child SA on both routers (settled or not: the
    // loss lab may already be rekeying when the second router gets there).
    const isUp = (s: RouterSnapshot) =>
      s.ikeSas.some((i) => i.state === 'established') && s.children.some((c) => c.state === 'installed');
    const up = await pollUntil(
      async () => (isUp(await snapshot('a')) && isUp(await snapshot('b')) ? true : undefined),
      60_000,
    );
    if (!up) throw new Error(`tunnel not up in 60 s:\n${a.tail(15)}\n${b.tail(15)}`);
    return r;
  } catch (e) {
    await r.close();
    throw e;
  }
}
