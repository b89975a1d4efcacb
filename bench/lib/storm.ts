// The rekey storm of the benchmark (issue 18, item 4): one load-generator process brings N tunnels up
// against the responder (ikeway or charon), then rekeys their Child SAs round-robin for a while
// (lab/load/storm.ts). The responder's CPU is read when the storm starts and when its last rekey
// settled (the generator prints IKW-STORM start/end), so the fill does not count. Reported: CPU per
// Child SA rekey, rekeys per second, failed rekeys and tunnels lost (must be 0).
// IKW_STORM_PROF=1 writes the generator's V8 CPU profiles to /tmp/sprof (IKEWAY_BENCH_PROF=DIR does
// the same for the ikeway responder, bench/lib/responders.ts).
import { join } from 'node:path';
import type { LoadOptions, LoadReport } from '../../lab/load/runner.ts';
import type { StormReport } from '../../lab/load/storm.ts';
import { BENCH_PSK, BenchLoadError, ESP_PROPOSAL, IKE_PROPOSAL } from './ike.ts';
import type { BenchNet } from './netlab.ts';
import { LOADGEN_ADDR, PER_ADDRESS, RESPONDER_ADDR } from './netlab.ts';
import { cpuMs } from './proc.ts';
import type { Responder } from './responders.ts';

export interface StormPlan {
  readonly tunnels: number;
  readonly seconds: number;
  /** Rekeys in flight at once during the storm. */
  readonly concurrency: number;
  /** Each tunnel is rekeyed once per this many ms (its Child SA lifetime, in effect). */
  readonly intervalMs: number;
}

export interface StormResult {
  readonly responder: string;
  readonly storm: StormReport;
  /** Responder CPU over the storm divided by the rekeys completed (ms). */
  readonly cpuMsPerRekey: number;
  /** Tunnels the fill brought up, and the fill's failures. */
  readonly held: number;
  readonly failures: Readonly<Record<string, number>>;
}

const DRIVER = join(import.meta.dirname, '..', 'load-driver.ts');
let idBase = 0;

/** Runs the storm plan against one started responder; the caller stops it. */
export function benchStorm(net: BenchNet, r: Responder, plan: StormPlan): Promise<StormResult> {
  // charon (kernel-libipsec) answers one source address only once it holds SAs (bench/lib/ike.ts);
  // ikeway admits PER_ADDRESS IKE SAs per peer address: the same one process, more addresses.
  const locals =
    r.name === 'charon'
      ? [LOADGEN_ADDR]
      : Array.from({ length: Math.ceil(plan.tunnels / PER_ADDRESS) }, () => net.nextLoadAddr());
  const opts: LoadOptions = {
    remote: RESPONDER_ADDR,
    local: locals[0]!,
    locals,
    perLocal: r.name === 'charon' ? plan.tunnels : PER_ADDRESS,
    count: plan.tunnels,
    rate: 0,
    concurrency: 64,
    psk: BENCH_PSK,
    ike: IKE_PROPOSAL,
    esp: ESP_PROPOSAL,
    idTemplate: `fqdn:storm-${idBase++}-%d.ikeway.test`,
    // A hub's branches: each its own LAN (10.H.L.0/24), so each tunnel has its own policies.
    localTs: ['0.0.0.0/0'],
    subnetPerSa: true,
    remoteTs: ['0.0.0.0/0'],
    timeoutMs: 30_000,
    delete: false,
    storm: { seconds: plan.seconds, concurrency: plan.concurrency, intervalMs: plan.intervalMs },
  };
  return new Promise((resolve, reject) => {
    const p = net.loadgen.spawn(
      process.execPath,
      [
        ...(process.env['IKW_STORM_PROF'] ? ['--cpu-prof', '--cpu-prof-dir=/tmp/sprof'] : []),
        '--import',
        'tsx',
        DRIVER,
        JSON.stringify(opts),
      ],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    let err = '';
    let c0: number | undefined;
    let c1: number | undefined;
    const marks = (chunk: string) => {
      // Read the responder's CPU as soon as a mark arrives (a few ms late at most).
      if (chunk.includes('IKW-STORM start') && c0 === undefined) c0 = cpuMs(r.pid);
      if (chunk.includes('IKW-STORM end') && c1 === undefined) c1 = cpuMs(r.pid);
    };
    p.stdout?.on('data', (b: Buffer) => {
      const s = b.toString('utf8');
      out += s;
      marks(out.slice(-s.length - 20));
    });
    p.stderr?.on('data', (b: Buffer) => (err = (err + b.toString('utf8')).slice(-2000)));
    // The fill (the generator does twice the responder's crypto), the storm, the stragglers.
    const limit = setTimeout(() => p.kill('SIGKILL'), 180_000 + plan.tunnels * 60 + plan.seconds * 1000);
    p.once('exit', (code) => {
      clearTimeout(limit);
      const line = out.trim().split('\n').pop() ?? '';
      let rep: LoadReport;
      try {
        rep = JSON.parse(line) as LoadReport;
      } catch {
        reject(new BenchLoadError(`storm load generator exited ${code}: ${err}`));
        return;
      }
      if (!rep.storm || c0 === undefined || c1 === undefined) {
        reject(new BenchLoadError(`storm load generator reported no storm (exit ${code}): ${err}`));
        return;
      }
      resolve({
        responder: r.name,
        storm: rep.storm,
        cpuMsPerRekey: (c1 - c0) / Math.max(1, rep.storm.rekeyed),
        held: rep.established,
        failures: rep.failures,
      });
    });
  });
}
