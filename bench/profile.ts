// Profiles the ikeway responder under the benchmark's load (the same daemon, config and load generator
// as `npm run bench`): N IKE SAs are set up from fresh addresses (PER_ADDRESS each), then
// - CPU mode (default): the daemon stops, writing a V8 .cpuprofile; the top functions by self and by
//   inclusive time (percent of busy samples) of the measured load (not warm-up, not shutdown) are printed.
// - heap mode (--heap): a heap snapshot of the loaded daemon (SIGUSR2) and the objects holding the
//   most memory per IKE SA, by V8 type and constructor name; plus RSS growth per IKE SA.
// Usage: node --import tsx bench/profile.ts [N] [--heap | --no-prof] [--warmup W (default 3000; deleted again)]
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundledCli } from '../lab/guest/bundle.ts';
import { BENCH_PSK, runLoadIn } from './lib/ike.ts';
import { BenchNet, PER_ADDRESS } from './lib/netlab.ts';
import { cpuSummary } from './lib/cpuprofile.ts';
import { cpuMs, rssKb } from './lib/proc.ts';
import { startIkeway } from './lib/responders.ts';

const heapMode = process.argv.includes('--heap');
const noProf = process.argv.includes('--no-prof'); // the same run without --cpu-prof: unbiased CPU figure
const n = Number(process.argv.slice(2).find((a) => !a.startsWith('--')) ?? 3000);
const wi = process.argv.indexOf('--warmup');
const warmup = wi > 0 ? Number(process.argv[wi + 1]) : 3000;
/** CLOCK_MONOTONIC in microseconds: the clock V8 stamps profile samples with. */
const monoUs = (): number => Number(process.hrtime.bigint() / 1000n);
let window: [number, number] | undefined;
const dir = mkdtempSync(join(tmpdir(), 'ikw-prof-'));
if (heapMode) process.env.NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ''} --heapsnapshot-signal=SIGUSR2`;
else if (!noProf) process.env.IKEWAY_BENCH_PROF = dir;
const auth = { psk: BENCH_PSK, localId: 'responder.ikeway.test' };
const net = new BenchNet();
let established = 0;
try {
  const r = await startIkeway(net.responder, auth);
  // Warm-up (JIT: V8 optimizes the engine over its first ~3,000 IKE SAs), each step's SAs deleted
  // again; then the measured load. RSS growth counts from after the warm-up.
  for (let left = warmup; left > 0; left -= PER_ADDRESS)
    await runLoadIn(net, Math.min(PER_ADDRESS, left), 64, auth, net.nextLoadAddr(), undefined, true);
  const rss0 = rssKb(r.pid);
  const cpu0 = cpuMs(r.pid);
  const t0 = monoUs();
  for (let done = 0; done < n; done += PER_ADDRESS) {
    const rep = await runLoadIn(net, Math.min(PER_ADDRESS, n - done), 64, auth);
    established += rep.established;
  }
  window = [t0, monoUs()];
  const cpu = (cpuMs(r.pid) - cpu0) / Math.max(1, established);
  await new Promise((res) => setTimeout(res, 1000));
  const rss = (rssKb(r.pid) - rss0) / Math.max(1, established);
  // CPU is utime+stime of the daemon (GC helper threads included); profiling (CPU mode) inflates it.
  console.log(
    `established ${established}/${n}; responder CPU ${cpu.toFixed(2)} ms per IKE SA; RSS growth ${rss.toFixed(1)} KiB per IKE SA`,
  );
  if (heapMode) await snapshot(r.pid);
  await r.stop();
  // The bundle is removed at exit: keep a copy so that profile line numbers can be read.
  copyFileSync(await bundledCli(), join(dir, 'ikeway.mjs'));
} finally {
  net.close();
}
if (heapMode)
  heapSummary(join(dir, 'daemon.heapsnapshot'), established); // the warm-up's SAs were deleted
else if (!noProf) {
  cpuSummary(dir, window);
  if (window) console.log(`measured window (CLOCK_MONOTONIC us): ${window[0]} ${window[1]}`);
}

async function snapshot(pid: number): Promise<void> {
  const mine = (f: string) => f.startsWith('Heap.') && f.includes(`.${pid}.`) && f.endsWith('.heapsnapshot');
  process.kill(pid, 'SIGUSR2');
  // The snapshot is written to the daemon's cwd (ours); wait until its size stops changing.
  let last = -1;
  for (let i = 0; i < 600; i++) {
    await new Promise((res) => setTimeout(res, 500));
    const f = readdirSync('.').find(mine);
    if (!f) continue;
    const size = readFileSync(f).length;
    if (size > 0 && size === last) return renameSync(f, join(dir, 'daemon.heapsnapshot'));
    last = size;
  }
  throw new Error('no heap snapshot from the daemon');
}

function heapSummary(file: string, sas: number): void {
  const snap = JSON.parse(readFileSync(file, 'utf8')) as {
    snapshot: { meta: { node_fields: string[]; node_types: [string[]] } };
    nodes: number[];
    strings: string[];
  };
  const f = snap.snapshot.meta.node_fields;
  const [iType, iName, iSize] = ['type', 'name', 'self_size'].map((x) => f.indexOf(x)) as [
    number,
    number,
    number,
  ];
  const types = snap.snapshot.meta.node_types[0];
  const agg = new Map<string, { size: number; count: number }>();
  let total = 0;
  for (let i = 0; i < snap.nodes.length; i += f.length) {
    const type = types[snap.nodes[i + iType]!] ?? '?';
    const size = snap.nodes[i + iSize]!;
    const name =
      type === 'object' || type === 'closure' || type === 'native'
        ? snap.strings[snap.nodes[i + iName]!]
        : '';
    const k = `${type} ${(name ?? '').slice(0, 60)}`;
    const a = agg.get(k) ?? { size: 0, count: 0 };
    a.size += size;
    a.count++;
    agg.set(k, a);
    total += size;
  }
  console.log(`heap ${(total / 1024 / sas).toFixed(2)} KiB per IKE SA (${sas} SAs incl. warm-up); largest:`);
  for (const [k, v] of [...agg].sort((a, b) => b[1].size - a[1].size).slice(0, 40))
    console.log(
      `${(v.size / sas).toFixed(0).padStart(7)} B/SA ${(v.count / sas).toFixed(1).padStart(6)}/SA  ${k}`,
    );
  console.log(`snapshot: ${file}`);
}
