// The IKE part of the benchmark (issue 7, items 1-3): one responder at a time in the responder
// namespace, the same load generator (`ikeway load`'s runner, bench/load-driver.ts) in the other.
// Per responder: warm-up, sequential setups (latency), a measured burst (rate, responder CPU per IKE
// SA from /proc/<pid>/stat), then filling up to the memory points (RSS growth per IKE SA + Child SA).
import { join } from 'node:path';
import type { LoadOptions, LoadReport } from '../../lab/load/runner.ts';
import type { BenchNet } from './netlab.ts';
import { LOADGEN_ADDR, PER_ADDRESS, RESPONDER_ADDR } from './netlab.ts';
import { cpuMs, rssKb } from './proc.ts';
import type { AuthSetup, Responder } from './responders.ts';

export const BENCH_PSK = 'bench-psk-Vq3xL9pT2wR7nK4m';
export const IKE_PROPOSAL = 'aes256gcm16-prfsha256-x25519';
export const ESP_PROPOSAL = 'aes256gcm16';

export interface IkePlan {
  readonly warmup: number;
  readonly sequential: number;
  readonly burst: number;
  readonly concurrency: number;
  /** Total tunnels at which RSS is read (ascending), counted after the warm-up. */
  readonly memoryPoints: readonly number[];
}

export interface IkeResult {
  readonly responder: string;
  readonly settings: string;
  readonly latency: LoadReport['latencyMs'];
  readonly burst: { readonly ratePerSec: number; readonly cpuMsPerSa: number; readonly failed: number };
  /** Tunnels held -> KiB of RSS growth per tunnel (from the RSS after the warm-up). */
  readonly memory: readonly {
    readonly tunnels: number;
    readonly kbPerTunnel: number;
    readonly held: number;
    /** Wall time from the start of the fill to this point (s): the time to bring them all up. */
    readonly fillSec: number;
  }[];
  /** At the last memory point: listing every SA (`IkeResult` of `Responder.listAll`), or its error. */
  readonly list?: { readonly ms: number; readonly bytes: number } | { readonly error: string };
  readonly failures: Readonly<Record<string, number>>;
}

export class BenchLoadError extends Error {
  override readonly name = 'BenchLoadError';
  readonly code = 'ERR_BENCH_LOAD';
}

const DRIVER = join(import.meta.dirname, '..', 'load-driver.ts');
/**
 * A responder's memory fill stops after this long (then its row says how many it held): on
 * 2026-12-07 charon with kernel-libipsec slowed to ~50 SAs/s past 20k tunnels on the way to 100k.
 */
const FILL_BOUND_MS = 420_000;
let idBase = 0;
/** Certificate runs: SA numbers (identities, certificates of the bundle) never repeat in a run. */
let certNext = 1;

/** Runs one load (at most PER_ADDRESS SAs) from a fresh address; identities never repeat in a run. */
export function runLoadIn(
  net: BenchNet,
  count: number,
  concurrency: number,
  auth: AuthSetup,
  local: string = net.nextLoadAddr(),
  ike: string = IKE_PROPOSAL,
  deleteAfter = false,
): Promise<LoadReport> {
  const opts: LoadOptions = {
    remote: RESPONDER_ADDR,
    local,
    count,
    rate: 0,
    concurrency,
    ...(auth.psk !== undefined ? { psk: auth.psk } : {}),
    ...(auth.loadCert
      ? { cert: { cert: auth.loadCert.cert, key: auth.loadCert.key, ca: auth.loadCert.ca }, first: certNext }
      : {}),
    ike,
    esp: ESP_PROPOSAL,
    idTemplate: auth.loadCert?.idTemplate ?? `fqdn:load-${idBase}-%d.ikeway.test`,
    localTs: ['0.0.0.0/0'],
    remoteTs: ['0.0.0.0/0'],
    timeoutMs: 30_000,
    delete: deleteAfter,
  };
  idBase++;
  if (auth.loadCert) certNext += count;
  if (count > PER_ADDRESS) throw new BenchLoadError(`one load step holds at most ${PER_ADDRESS} SAs`);
  return new Promise((resolve, reject) => {
    const p = net.loadgen.spawn(process.execPath, ['--import', 'tsx', DRIVER, JSON.stringify(opts)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    p.stdout?.on('data', (b: Buffer) => (out += b.toString('utf8')));
    p.stderr?.on('data', (b: Buffer) => (err = (err + b.toString('utf8')).slice(-2000)));
    // The generator does twice the responder's crypto per SA and is the bottleneck on a shared machine.
    // The 40k and 100k fills of 2026-12-06/07 were killed here ("exited null") near 25k: a generator
    // deadlocked in Node's key export (fixed in src/crypto/ke.ts), not a slow one.
    const limit = setTimeout(() => p.kill('SIGKILL'), 120_000 + count * 60);
    p.once('exit', (code) => {
      clearTimeout(limit);
      const line = out.trim().split('\n').pop() ?? '';
      try {
        resolve(JSON.parse(line) as LoadReport);
      } catch {
        reject(new BenchLoadError(`load generator exited ${code}: ${err}`));
      }
    });
  });
}

function addFailures(into: Map<string, number>, r: LoadReport): void {
  for (const [k, n] of Object.entries(r.failures)) into.set(k, (into.get(k) ?? 0) + n);
}

/** Runs the plan against one started responder; the caller stops it. */
export async function benchResponder(
  net: BenchNet,
  r: Responder,
  auth: AuthSetup,
  plan: IkePlan,
): Promise<IkeResult> {
  const failures = new Map<string, number>();
  const step = async (count: number, conc: number, deleteAfter = false) => {
    // charon (no per-address limit) gets every step from one address: with kernel-libipsec it did
    // not answer a second source address once the first held SAs (0.0.0.0/0 Child SAs).
    const from = r.name === 'charon' ? LOADGEN_ADDR : net.nextLoadAddr();
    const rep = await runLoadIn(net, count, conc, auth, from, IKE_PROPOSAL, deleteAfter);
    addFailures(failures, rep);
    return rep;
  };
  // The warm-up, in steps of at most PER_ADDRESS (one load step's limit), each step's IKE SAs deleted
  // again: the measured phases find the responder's JIT warm and its tables as they started. (Held,
  // 3,000 warm-up SAs doubled charon's CPU per SA: kernel-libipsec's cost grows with its SA count,
  // a host-only artefact, 2026-12-07.)
  for (let left = plan.warmup; left > 0; left -= PER_ADDRESS) {
    const rep = await step(Math.min(PER_ADDRESS, left), plan.concurrency, true);
    if ((rep.deleted ?? 0) < rep.established)
      failures.set(`warm-up: ${rep.deleted ?? 0} of ${rep.established} IKE SAs deleted`, 1);
  }
  const rss0 = rssKb(r.pid);
  let held = 0;
  const seq = await step(plan.sequential, 1);
  held += seq.established;
  const c0 = cpuMs(r.pid);
  const burst = await step(plan.burst, plan.concurrency);
  const cpu = cpuMs(r.pid) - c0;
  held += burst.established;
  const memory: IkeResult['memory'][number][] = [];
  let stuck: string | undefined;
  const fill0 = performance.now();
  for (const target of plan.memoryPoints) {
    // Fill in chunks so that the load generator's own table stays moderate.
    for (let i = 0; i < 1000 && held < target && !stuck; i++) {
      if (performance.now() - fill0 > FILL_BOUND_MS) {
        stuck = `the fill's time bound (${FILL_BOUND_MS / 1000} s) passed`;
        break;
      }
      try {
        const rep = await step(Math.min(PER_ADDRESS, target - held), plan.concurrency);
        held += rep.established;
        if (rep.established === 0) stuck = 'a load step established nothing';
      } catch (e) {
        // Report what the responder held when it stopped keeping up, not nothing at all.
        stuck = e instanceof Error ? e.message.slice(0, 200) : String(e);
      }
    }
    if (stuck) failures.set(`memory fill stopped at ${held}: ${stuck}`, 1);
    const fillSec = (performance.now() - fill0) / 1000;
    await new Promise((res) => setTimeout(res, 1000)); // let the responder settle (GC, frees)
    memory.push({ tunnels: target, held, fillSec, kbPerTunnel: (rssKb(r.pid) - rss0) / Math.max(1, held) });
  }
  let list: IkeResult['list'];
  if (plan.memoryPoints.length > 0)
    list = await r.listAll().catch((e: unknown) => ({ error: String(e).slice(0, 200) }));
  return {
    ...(list && { list }),
    responder: r.name,
    settings: r.settings,
    latency: seq.latencyMs,
    burst: {
      ratePerSec: burst.ratePerSec,
      cpuMsPerSa: cpu / Math.max(1, burst.established),
      failed: burst.failed,
    },
    memory,
    failures: Object.fromEntries(failures),
  };
}
