// The real tunnel: one `ikeway daemon` per router namespace with the lab's rendered configs, the
// tunnel established by IKEv2 between them. Status comes over each daemon's control socket (a Unix
// socket on the shared filesystem, reachable from outside the namespaces), so no extra process
// starts per poll: in the TCG guest every node+tsx start costs ~10 s.
import type { ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { request } from '../../src/control/client.ts';
import type { ChildStatus, StatusReport } from '../../src/control/status-types.ts';
import { bundledCli } from '../guest/bundle.ts';
import type { ExampleLab } from './examples.ts';
import type { Lab } from './lab.ts';
import type { DaemonCounters, TunnelDriver } from './driver.ts';
import { LabError } from '../errors.ts';
import { siteOf, type SiteName } from './topology.ts';

const BIN = resolve(import.meta.dirname, '..', '..', 'bin', 'ikeway.js');
const LOG_LINES = 40;

interface Running {
  readonly site: SiteName;
  readonly child: ChildProcess;
  readonly log: string[];
  readonly socket: string;
}

export interface DaemonDriverOptions {
  /** Until each daemon logs "ready" (default 120 s: tsx starts slowly under TCG). */
  readonly readyTimeoutMs?: number;
  /** Until a Child SA is installed on both routers (default 60 s). */
  readonly establishTimeoutMs?: number;
  /** Run bin/ikeway.js through tsx instead of the bundled CLI (slow under TCG). */
  readonly fromSource?: boolean;
}

function startDaemon(lab: Lab, ex: ExampleLab, site: SiteName, bin: string): Running {
  const ns = lab.site(site).router;
  const child = ns.spawn(process.execPath, [bin, 'daemon', '-c', ex.configs[site], '--log-format', 'text'], {
    env: { ...process.env, ...ex.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const log: string[] = [];
  const keep = (b: Buffer) => {
    log.push(...b.toString('utf8').split('\n').filter(Boolean));
    if (log.length > LOG_LINES * 4) log.splice(0, log.length - LOG_LINES);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return { site, child, log, socket: resolve(ex.configs[site], '..', 'ikeway.sock') };
}

function waitReady(d: Running, timeoutMs: number): Promise<void> {
  return new Promise((done, fail) => {
    const timer = setTimeout(
      () =>
        fail(
          new LabError('LAB_TUNNEL', `router-${d.site}: the daemon did not log "ready" in ${timeoutMs} ms`),
        ),
      timeoutMs,
    );
    const poll = setInterval(() => {
      if (d.log.some((l) => /\bready\b/.test(l))) {
        clearTimeout(timer);
        clearInterval(poll);
        done();
      }
    }, 100);
    d.child.once('exit', (code) => {
      clearTimeout(timer);
      clearInterval(poll);
      fail(
        new LabError(
          'LAB_TUNNEL',
          `router-${d.site}: the daemon exited ${code} before it was ready:\n${d.log.slice(-8).join('\n')}`,
        ),
      );
    });
  });
}

function installedChildren(s: StatusReport, conn: string): ChildStatus[] {
  return s.connections
    .filter((c) => c.name === conn)
    .flatMap((c) => c.ikeSas.flatMap((i) => i.children.filter((ch) => ch.state === 'installed')));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function daemonDriver(ex: ExampleLab, o: DaemonDriverOptions = {}): TunnelDriver {
  let running: Running[] = [];
  const status = async (d: Running) =>
    (await request(d.socket, 'status', undefined, { timeoutMs: 10_000 })) as StatusReport;
  const trigger = (l: Lab) => {
    // start: on-traffic waits for a packet to hit the trap policy (ACQUIRE); send one.
    const a = siteOf(l.topology, 'a');
    const b = siteOf(l.topology, 'b');
    const [src, dst] =
      a.lans[0] && b.lans[0]
        ? [a.lans[0].host, b.lans.find((x) => x.family === a.lans[0]!.family)?.host ?? b.lans[0].host]
        : [a.wan, b.wan];
    (l.a.host ?? l.a.router).tryExec('ping', '-n', '-q', '-c', '1', '-W', '1', '-I', src, dst);
  };
  return {
    name: `ikeway daemon on both routers (${ex.connection}: ${ex.tunnel.mode}${ex.tunnel.udpEncap ? ', UDP 4500' : ''})`,
    up: async (l) => {
      // The responder first, so the initiator's first IKE_SA_INIT finds it listening.
      const bin = o.fromSource ? BIN : await bundledCli();
      running = [startDaemon(l, ex, 'b', bin), startDaemon(l, ex, 'a', bin)];
      await Promise.all(running.map((d) => waitReady(d, o.readyTimeoutMs ?? 120_000)));
      const deadline = Date.now() + (o.establishTimeoutMs ?? 60_000);
      for (let i = 0; Date.now() < deadline && i < 1000; i++) {
        const s = await Promise.all(running.map(status));
        if (s.every((x) => installedChildren(x, ex.connection).length > 0)) return;
        if (i % 5 === 4) trigger(l);
        await sleep(300);
      }
      throw new LabError(
        'LAB_TUNNEL',
        `no Child SA installed on both routers within ${o.establishTimeoutMs ?? 60_000} ms (see the daemon logs below)`,
      );
    },
    diagnostics: () =>
      running.flatMap((d) => [`--- router-${d.site} daemon log (last lines) ---`, ...d.log.slice(-15)]),
    counters: async () => {
      const out: DaemonCounters[] = [];
      for (const d of running) {
        const kids = installedChildren(await status(d), ex.connection);
        for (const c of kids)
          out.push({
            router: d.site,
            spiIn: c.spiIn,
            spiOut: c.spiOut,
            packetsIn: c.packetsIn ?? 0,
            packetsOut: c.packetsOut ?? 0,
            bytesIn: c.bytesIn ?? 0,
            bytesOut: c.bytesOut ?? 0,
          });
      }
      return out;
    },
    down: async () => {
      // SIGTERM: the daemon deletes its SAs and kernel objects; the namespace teardown follows.
      await Promise.all(
        running.map(
          (d) =>
            new Promise<void>((done) => {
              if (d.child.exitCode !== null || d.child.signalCode !== null) return done();
              const t = setTimeout(() => {
                d.child.kill('SIGKILL');
                done();
              }, 10_000);
              d.child.once('exit', () => {
                clearTimeout(t);
                done();
              });
              d.child.kill('SIGTERM');
            }),
        ),
      );
      running = [];
    },
  };
}
