// Setup rate and responder CPU per SA with real SAs (issue 7, item 4 "the fair setting"), run where
// the kernel has ESP (the guest): the responder (ikeway with kernel xfrm, or charon with
// kernel-netlink) installs every Child SA and its policies into the kernel; the load generator is
// `ikeway load` from the bundled CLI (tsx would start 10-30x slower under TCG) in its own namespace.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundledCli } from '../../lab/guest/bundle.ts';
import type { LoadReport } from '../../lab/load/runner.ts';
import { BENCH_PSK, ESP_PROPOSAL, IKE_PROPOSAL } from './ike.ts';
import { BenchNet, LOADGEN_ADDR, RESPONDER_ADDR } from './netlab.ts';
import { cpuMs, mainThreadCpuMs } from './proc.ts';
import { startCharon, startIkeway, type Responder } from './responders.ts';

export interface GuestSetupPlan {
  readonly warmup: number;
  readonly burst: number;
  readonly concurrency: number;
  /** Rounds, alternating which responder goes first (default 1). */
  readonly rounds?: number;
}

export interface GuestSetupResult {
  readonly responder: 'ikeway' | 'charon';
  readonly round: number;
  readonly ratePerSec: number;
  readonly cpuMsPerSa: number;
  /** Of cpuMsPerSa, the main thread's share (the rest: V8 compiler and GC threads, libuv pool). */
  readonly mainCpuMsPerSa?: number;
  /** The measured burst's start and end, CLOCK_MONOTONIC microseconds (a CPU profile's clock). */
  readonly burstUs?: readonly [number, number];
  readonly established: number;
  readonly failed: number;
  /** ESP SAs in the responder's kernel after the burst (2 per Child SA; the warm-up's are deleted). */
  readonly kernelSas: number;
  readonly failures: Readonly<Record<string, number>>;
}

export class GuestSetupError extends Error {
  override readonly name = 'GuestSetupError';
  readonly code = 'ERR_BENCH_GUEST_SETUP';
}

async function load(
  net: BenchNet,
  pskFile: string,
  count: number,
  conc: number,
  first: number,
  deleteAfter = false,
): Promise<LoadReport> {
  const cli = await bundledCli();
  const args = [cli, 'load', '--remote', RESPONDER_ADDR, '--local', LOADGEN_ADDR, '--count', String(count)];
  args.push(
    '--rate',
    '0',
    '--concurrency',
    String(conc),
    '--psk-file',
    pskFile,
    '--json',
    '--timeout',
    '120',
  );
  args.push('--proposal', IKE_PROPOSAL, '--esp-proposal', ESP_PROPOSAL, '--first', String(first));
  args.push('--id', 'fqdn:load-g%d.ikeway.test');
  if (deleteAfter) args.push('--delete');
  const p = net.loadgen.spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  p.stdout?.on('data', (b: Buffer) => (out += b.toString('utf8')));
  p.stderr?.on('data', (b: Buffer) => (err = (err + b.toString('utf8')).slice(-2000)));
  const limit = setTimeout(() => p.kill('SIGKILL'), 300_000 + count * 200);
  const code = await new Promise<number | null>((r) => p.once('exit', r));
  clearTimeout(limit);
  try {
    return JSON.parse(out) as LoadReport;
  } catch {
    throw new GuestSetupError(`ikeway load exited ${code}: ${err}`);
  }
}

/** IKE SAs per warm-up step (each deleted again): below ikeway's 1,000 per peer. */
const WARMUP_STEP = 700;

const monoUs = (): number => Number(process.hrtime.bigint() / 1000n);

function sumCounts(...all: Readonly<Record<string, number>>[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of all) for (const [k, n] of Object.entries(m)) out[k] = (out[k] ?? 0) + n;
  return out;
}

/** Runs warm-up then a measured burst against each responder in turn, real SAs in the kernel. */
export async function guestSetup(plan: GuestSetupPlan): Promise<GuestSetupResult[]> {
  const dir = mkdtempSync(join(tmpdir(), 'ikw-bench-gs-'));
  const pskFile = join(dir, 'psk');
  writeFileSync(pskFile, BENCH_PSK, { mode: 0o600 });
  const out: GuestSetupResult[] = [];
  let first = 1;
  try {
    for (let round = 1; round <= (plan.rounds ?? 1); round++)
      for (const start of round % 2 === 1 ? [startIkeway, startCharon] : [startCharon, startIkeway]) {
        const net = new BenchNet();
        let r: Responder | undefined;
        try {
          r = await start(
            net.responder,
            { psk: BENCH_PSK, localId: 'responder.ikeway.test' },
            { realKernel: true },
          );
          // The warm-up in steps, each step's IKE SAs deleted again: V8 optimizes ikeway over its first
          // few thousand SAs, more than the one load address may hold (ikeway: 1,000 per peer); the
          // burst then finds the JIT warm and the kernel's tables as they started.
          const warmFailures: Record<string, number>[] = [];
          let warmFailed = 0;
          for (let left = plan.warmup; left > 0; left -= WARMUP_STEP) {
            const n = Math.min(WARMUP_STEP, left);
            const w = await load(net, pskFile, n, plan.concurrency, first, true);
            first += n;
            warmFailed += w.failed;
            warmFailures.push(w.failures);
            if ((w.deleted ?? 0) < w.established)
              warmFailures.push({ [`warm-up: ${w.deleted ?? 0} of ${w.established} IKE SAs deleted`]: 1 });
          }
          const c0 = cpuMs(r.pid);
          const m0 = mainThreadCpuMs(r.pid);
          const t0 = monoUs();
          const b = await load(net, pskFile, plan.burst, plan.concurrency, first);
          const cpu = cpuMs(r.pid) - c0;
          const main = mainThreadCpuMs(r.pid) - m0;
          const t1 = monoUs();
          first += plan.burst;
          const kernelSas = (net.responder.exec('ip', 'xfrm', 'state', 'count').match(/\d+/) ?? ['0'])[0];
          out.push({
            responder: r.name,
            round,
            ratePerSec: b.ratePerSec,
            cpuMsPerSa: cpu / Math.max(1, b.established),
            mainCpuMsPerSa: main / Math.max(1, b.established),
            burstUs: [t0, t1],
            established: b.established,
            failed: b.failed + warmFailed,
            kernelSas: Number(kernelSas),
            failures: sumCounts(...warmFailures, b.failures),
          });
        } finally {
          await r?.stop();
          net.close();
        }
      }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return out;
}
