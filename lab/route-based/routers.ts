// The two-router start the route-based labs share (scenario.ts, bgp.ts): router and LAN-host
// namespaces with LAN links and forwarding, ikeway daemons (the bundled CLI) started inside them and
// waited for, bounded polls that report how long a condition took, and a teardown that leaves
// nothing behind. Each lab writes its own config files and decides its own WAN links.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { Netns, linkVeth } from '../netns/netns.ts';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** An ikeway daemon of a lab: its process and every line it logged. */
export interface LabDaemon {
  readonly child: ChildProcess;
  readonly log: string[];
}

/** Longest wait for a daemon's "ready": node under TCG on a loaded machine has taken 226 s. */
const READY_MS = 360_000;

export class RouterLab {
  readonly dir: string;
  readonly ra: Netns;
  readonly rb: Netns;
  readonly ha: Netns;
  readonly hb: Netns;
  /** LAN links [host end, router end] of site A and of site B. */
  readonly lanA: [string, string];
  readonly lanB: [string, string];
  readonly daemons = new Map<string, LabDaemon>();
  private readonly t0 = Date.now();

  /**
   * Routers ra/rb and LAN hosts ha (10.1.0.2/24) and hb (10.2.0.2/24), each host routed by default
   * through its router (10.x.0.1), routers forwarding with rp_filter off. `tag`: 1-4 letters that
   * name the namespaces and the log lines.
   */
  constructor(readonly tag: string) {
    this.dir = mkdtempSync(join(tmpdir(), `ikw-${tag}-`));
    [this.ra, this.rb, this.ha, this.hb] = ['a', 'b', 'ha', 'hb'].map((t) => Netns.create(`${tag}${t}`)) as [
      Netns,
      Netns,
      Netns,
      Netns,
    ];
    this.lanA = linkVeth(this.ha, '10.1.0.2/24', this.ra, '10.1.0.1/24');
    this.lanB = linkVeth(this.hb, '10.2.0.2/24', this.rb, '10.2.0.1/24');
    this.ha.ip('route', 'add', 'default', 'via', '10.1.0.1');
    this.hb.ip('route', 'add', 'default', 'via', '10.2.0.1');
    for (const r of [this.ra, this.rb])
      r.exec(
        'sysctl',
        '-qw',
        'net.ipv4.ip_forward=1',
        'net.ipv6.conf.all.forwarding=1',
        'net.ipv4.conf.all.rp_filter=0',
        'net.ipv4.conf.default.rp_filter=0',
      );
  }

  /** A progress line on stderr, with the seconds since the lab began. */
  log(m: string): void {
    process.stderr.write(`[${this.tag} ${((Date.now() - this.t0) / 1000).toFixed(1)}s] ${m}\n`);
  }

  /** Starts `ikeway daemon -c config` in `ns` as `me` and waits for its "ready" line. */
  async startDaemon(
    ns: Netns,
    me: string,
    config: string,
    bin: string,
    env?: Readonly<Record<string, string>>,
  ): Promise<LabDaemon> {
    const t = Date.now();
    const child = ns.spawn(process.execPath, [bin, 'daemon', '-c', config, '--log-format', 'text'], {
      ...(env && { env: { ...process.env, ...env } }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const d: LabDaemon = { child, log: [] };
    this.daemons.set(me, d);
    const onData = (b: Buffer) => d.log.push(...b.toString().split('\n').filter(Boolean));
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    const ready = () => d.log.some((l) => /\bready\b/.test(l));
    for (let i = 0; i < READY_MS / 200 && !ready(); i++) {
      if (child.exitCode !== null) throw new Error(`daemon ${me} exited: ${d.log.slice(-5).join(' | ')}`);
      await sleep(200);
    }
    if (!ready())
      throw new Error(`daemon ${me} not ready after ${READY_MS} ms: ${d.log.slice(-8).join(' | ')}`);
    this.log(`daemon ${me} ready after ${Date.now() - t} ms`);
    return d;
  }

  async stopDaemon(me: string, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const d = this.daemons.get(me);
    if (!d || d.child.exitCode !== null || d.child.signalCode !== null) return;
    const done = new Promise((r) => d.child.once('exit', r));
    d.child.kill(signal);
    await Promise.race([done, sleep(15_000)]);
  }

  /**
   * Polls `f` every `everyMs` for at most `ms`: the milliseconds it took, or -1 (logged). Time is
   * a figure to report, never a verdict: callers assert only on >= 0.
   */
  async poll(what: string, ms: number, f: () => boolean, everyMs = 100): Promise<number> {
    const t0 = Date.now();
    for (let i = 0; i <= ms / everyMs && Date.now() - t0 < ms; i++) {
      if (f()) return Date.now() - t0;
      await sleep(everyMs);
    }
    if (f()) return Date.now() - t0;
    this.log(`timed out after ${ms} ms waiting for ${what}`);
    return -1;
  }

  /** Stops every daemon (SIGTERM), removes the namespaces and the lab's directory. */
  async close(): Promise<void> {
    for (const me of this.daemons.keys()) await this.stopDaemon(me);
    for (const n of [this.ra, this.rb, this.ha, this.hb]) n.delete();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** The device of the route `ip route show dst` finds in `ns` ('' when none). */
export const routeDev = (ns: Netns, dst: string): string =>
  /dev (\S+)/.exec(ns.ip('route', 'show', dst))?.[1] ?? '';

/**
 * Prints `<prefix> <json>` on stdout and exits once it is out: a poll still running for a lab that
 * already failed must not hold the (guest) run open.
 */
export function printAndExit(prefix: string, out: Record<string, unknown>): void {
  process.stdout.write(`${prefix} ${JSON.stringify(out)}\n`, () => process.exit(0));
}
