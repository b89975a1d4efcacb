// `npm run bench`: ikeway against strongSwan's charon on the same work in one run (issue 7), a table
// with both figures and the ratio per line, and docs/benchmarks.md from the same rows.
//   --quick            a few minutes: smaller N, no memory points beyond 2k tunnels, host only
//   --guest            with --quick: also the guest part, small (the full run always has it): in ONE
//                      boot of the guest kernel (or on the host when it has ESP) the kernel install
//                      rate of SAs + policies and the data plane (iperf3 through ikeway's tunnel,
//                      charon's tunnel and no IPsec)
//   --only PARTS       run only these parts, comma-separated: ike,cert,storm,install,guest
//   --storm N          tunnels in the Child SA rekey storm (default 10000, --quick 2000)
//   --memory LIST      tunnel counts at which RSS is read in the PSK section (default 10000,40000)
//   --rounds N         rounds per IKE section and of the guest setup (default 3, --quick 1); each
//                      round alternates which daemon goes first; rows show the median and min-max
//   --out FILE         where the report goes (default docs/benchmarks.md; not written with --quick
//                      unless --out is given)
// Needs root (network namespaces), charon (strongswan), iproute2.
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { BenchNet } from './lib/netlab.ts';
import { benchResponder, BENCH_PSK, type IkePlan, type IkeResult } from './lib/ike.ts';
import { installOnHost, type InstallResult } from './lib/install.ts';
import { markdown, sampledRow, table, type Row } from './lib/report.ts';
import { startCharon, startIkeway, type AuthSetup, type Responder } from './lib/responders.ts';
import { CERT_SETTINGS, certSetup } from './lib/certs.ts';
import { dataplaneRows, floorRow, guestSetupRows, runGuestBench, throughputByKind } from './lib/guest.ts';
import { cryptoFloor } from './lib/floor.ts';
import { benchStorm, type StormPlan, type StormResult } from './lib/storm.ts';

const argv = process.argv.slice(2);
const flag = (n: string) => argv.includes(n);
const opt = (n: string): string | undefined => {
  const i = argv.indexOf(n);
  return i >= 0 ? argv[i + 1] : undefined;
};
const quick = flag('--quick');
const rounds = Number(opt('--rounds') ?? (quick ? 1 : 3));
const onlyOpt = opt('--only')?.split(',').filter(Boolean);
const PARTS = ['ike', 'cert', 'storm', 'install', 'guest'];
for (const p of onlyOpt ?? [])
  if (!PARTS.includes(p)) throw new Error(`--only: unknown part ${p} (parts: ${PARTS.join(', ')})`);
/** Whether this run has `part` (all of them without --only). */
const runs = (part: string) => !onlyOpt || onlyOpt.includes(part);
const outFile =
  opt('--out') ?? (quick ? undefined : join(import.meta.dirname, '..', 'docs', 'benchmarks.md'));

// Warm-ups (guest: below): V8 keeps optimizing the daemon's code over its first ~3,000 IKE SAs
// (node --trace-opt on the responder: 506, 206, 112, 18, 8, 12 functions optimized per 1,000 SAs,
// 2026-12-07), on its helper threads, which the responder's CPU counts. The measured bursts come
// after that (host: the warm-up's SAs deleted first, bench/lib/ike.ts): a gateway's steady state,
// not its first minute (charon has no JIT; a warm-up changes nothing for it).
const plan: IkePlan = quick
  ? { warmup: 1000, sequential: 100, burst: 1000, concurrency: 64, memoryPoints: [2000] }
  : { warmup: 3000, sequential: 300, burst: 1000, concurrency: 64, memoryPoints: [10_000, 40_000] };
// --memory 10000,40000: the memory points of the PSK section instead of the plan's ("" = none).
const memoryOpt = opt('--memory');
if (memoryOpt !== undefined)
  (plan as { memoryPoints: readonly number[] }).memoryPoints = memoryOpt
    .split(',')
    .filter((x) => x !== '')
    .map(Number);
const stormPlan: StormPlan = {
  tunnels: Number(opt('--storm') ?? (quick ? 2000 : 10_000)),
  seconds: quick ? 20 : 90,
  concurrency: 64,
  intervalMs: quick ? 10_000 : 20_000,
};
const installCount = quick ? 5000 : 20_000;
const guestPlan = quick
  ? {
      installCount: 2000,
      iperfSeconds: 3,
      rounds: 1,
      setup: { warmup: 100, burst: 100, concurrency: 16, rounds },
    }
  : {
      installCount: 5000,
      iperfSeconds: 5,
      rounds: 3,
      // The warm-up in steps of 700 from the load generator's one address, each deleted again
      // (ikeway's highest limits.ike-sas-per-peer is 1,000); then the burst. Under TCG 700 SAs take
      // ~35 s per responder.
      setup: { warmup: 1400, burst: 300, concurrency: 16, rounds },
    };
const doGuest = onlyOpt ? runs('guest') : !quick || flag('--guest');
// ECDSA costs more per SA on both sides (the load generator signs and verifies too): no memory fill.
const certPlan: IkePlan = quick
  ? { warmup: 500, sequential: 100, burst: 500, concurrency: 64, memoryPoints: [] }
  : { warmup: 2000, sequential: 200, burst: 1000, concurrency: 64, memoryPoints: [] };

/**
 * The plan against each responder, `rounds` times, alternating which daemon goes first; the memory
 * fill only in the first round (it is a count, and long). All rounds' results, in run order.
 */
async function ikeSection(auth: AuthSetup, plan: IkePlan): Promise<IkeResult[]> {
  const results: IkeResult[] = [];
  for (let round = 1; round <= rounds; round++) {
    const order = round % 2 === 1 ? [startIkeway, startCharon] : [startCharon, startIkeway];
    const p = round === 1 ? plan : { ...plan, memoryPoints: [] };
    for (const start of order) {
      const net = new BenchNet();
      let r: Responder | undefined;
      try {
        r = await start(net.responder, auth);
        process.stderr.write(`bench: round ${round}: ${r.name} responder pid ${r.pid}\n`);
        results.push(await benchResponder(net, r, auth, p));
      } finally {
        await r?.stop();
        net.close();
      }
    }
  }
  return results;
}

/** The storm against each responder, `rounds` times, alternating which daemon goes first. */
async function stormSection(): Promise<StormResult[]> {
  const results: StormResult[] = [];
  for (let round = 1; round <= rounds; round++) {
    const order = round % 2 === 1 ? [startIkeway, startCharon] : [startCharon, startIkeway];
    for (const start of order) {
      const net = new BenchNet();
      let r: Responder | undefined;
      try {
        r = await start(net.responder, psk);
        process.stderr.write(`bench: storm round ${round}: ${r.name} responder pid ${r.pid}\n`);
        results.push(await benchStorm(net, r, stormPlan));
      } finally {
        await r?.stop();
        net.close();
      }
    }
  }
  return results;
}

function stormRows(res: StormResult[]): Row[] {
  const of = (name: string, f: (x: StormResult) => number) => res.filter((x) => x.responder === name).map(f);
  const section = `Child SA rekey storm, ${stormPlan.tunnels} tunnels, ${stormPlan.seconds} s (host, IKE-only)`;
  const lost = (name: string) =>
    of(name, (x) => x.storm.lost).join('/') +
    ' lost, ' +
    of(name, (x) => x.storm.failed).join('/') +
    ' failed';
  return [
    sampledRow(
      { section, metric: 'responder CPU per Child SA rekey', unit: 'ms', lowerIsBetter: true, goal: 0.7 },
      of('ikeway', (x) => x.cpuMsPerRekey),
      of('charon', (x) => x.cpuMsPerRekey),
    ),
    sampledRow(
      {
        section,
        metric: `rekeys completed per second (offered: one per tunnel per ${stormPlan.intervalMs / 1000} s, at most ${stormPlan.concurrency} in flight) (tunnels per round: ikeway ${lost('ikeway')}; charon ${lost('charon')})`,
        unit: 'rekeys/s',
        lowerIsBetter: false,
      },
      of('ikeway', (x) => x.storm.ratePerSec),
      of('charon', (x) => x.storm.ratePerSec),
    ),
  ];
}

function ikeRows(label: string, res: IkeResult[], cpuGoal: number): Row[] {
  const of = (name: string, f: (x: IkeResult) => number) => res.filter((x) => x.responder === name).map(f);
  const both = (f: (x: IkeResult) => number): [number[], number[]] => [of('ikeway', f), of('charon', f)];
  const rows: Row[] = [
    sampledRow(
      { section: label, metric: 'setup rate, concurrency 64', unit: 'IKE SAs/s', lowerIsBetter: false },
      ...both((x) => x.burst.ratePerSec),
    ),
    sampledRow(
      { section: label, metric: 'responder CPU per IKE SA', unit: 'ms', lowerIsBetter: true, goal: cpuGoal },
      ...both((x) => x.burst.cpuMsPerSa),
    ),
    sampledRow(
      {
        section: label,
        metric: 'tunnel-up latency median, sequential',
        unit: 'ms',
        lowerIsBetter: true,
        goal: 1,
      },
      ...both((x) => x.latency.median),
    ),
    sampledRow(
      {
        section: label,
        metric: 'tunnel-up latency p99, sequential',
        unit: 'ms',
        lowerIsBetter: true,
        goal: 1,
      },
      ...both((x) => x.latency.p99),
    ),
  ];
  const [i, c] = [
    res.find((x) => x.responder === 'ikeway' && x.memory.length),
    res.find((x) => x.responder === 'charon' && x.memory.length),
  ];
  for (const [k, m] of (i?.memory ?? c?.memory ?? []).entries()) {
    rows.push({
      section: label,
      metric: `RSS growth per tunnel at ${m.tunnels} (held ikeway ${i?.memory[k]?.held ?? '-'}, charon ${c?.memory[k]?.held ?? '-'}; one round)`,
      ikeway: i?.memory[k]?.kbPerTunnel,
      charon: c?.memory[k]?.kbPerTunnel,
      unit: 'KiB',
      lowerIsBetter: true,
      goal: 0.7,
    });
    // Only a responder that got there has a time to bring them all up.
    const upSec = (x: IkeResult | undefined) =>
      x?.memory[k] && x.memory[k].held >= x.memory[k].tunnels ? x.memory[k].fillSec : undefined;
    rows.push({
      section: label,
      metric: `time to bring up ${m.tunnels} tunnels, from the first fill step (one round; "-": did not get there)`,
      ikeway: upSec(i),
      charon: upSec(c),
      unit: 's',
      lowerIsBetter: true,
    });
  }
  const listed = (x: IkeResult | undefined) => (x?.list && 'ms' in x.list ? x.list : undefined);
  const [li, lc] = [listed(i), listed(c)];
  const top = (i?.memory ?? c?.memory ?? []).at(-1)?.tunnels;
  if (top !== undefined && (li || lc))
    rows.push({
      section: label,
      metric:
        `list every SA at ${top} (\`ikeway status --json\` ${li ? `${(li.bytes / 1e6).toFixed(1)} MB` : 'failed'}, ` +
        `\`swanctl --list-sas --raw\` ${lc ? `${(lc.bytes / 1e6).toFixed(1)} MB` : 'failed'}; one round)`,
      ikeway: li?.ms,
      charon: lc?.ms,
      unit: 'ms',
      lowerIsBetter: true,
    });
  return rows;
}

function installRows(r: InstallResult): Row[] {
  const what = r.sas ? 'SA+policy' : 'policies';
  return [
    {
      section: `kernel install (${r.where}, ${what}, N=${r.objects})`,
      metric: 'ikeway batched vs ip -batch',
      ikeway: r.batched,
      charon: r.ipBatch,
      unit: 'objects/s',
      lowerIsBetter: false,
    },
    {
      section: `kernel install (${r.where}, ${what}, N=${r.objects})`,
      metric: 'ikeway one request per round trip vs ip -batch',
      ikeway: r.oneByOne,
      charon: r.ipBatch,
      unit: 'objects/s',
      lowerIsBetter: false,
    },
  ];
}

const load0 = loadavg()[0]!;
const rows: Row[] = [];
const notes: string[] = [];
/** Runs one part; its failure is a note in the report, not the loss of the parts measured before it. */
async function part(name: string, fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (e) {
    process.stderr.write(`bench: the ${name} part failed: ${e instanceof Error ? e.stack : String(e)}\n`);
    const first = (e instanceof Error ? e.message : String(e)).split('\n')[0]!.slice(0, 300);
    notes.push(`the ${name} part failed (its rows are missing): ${first}`);
  }
}
const settings: string[] = [];
const psk: AuthSetup = { psk: BENCH_PSK, localId: 'responder.ikeway.test' };
// The crypto floor on this CPU, measured once in this run (bench/lib/floor.ts).
const floor = runs('ike') || runs('cert') ? cryptoFloor() : undefined;
const ikewayCpu = (res: IkeResult[]) =>
  res.filter((r) => r.responder === 'ikeway').map((r) => r.burst.cpuMsPerSa);
if (runs('ike'))
  await part('ike', async () => {
    const res = await ikeSection(psk, plan);
    const label = 'IKE PSK/X25519/AES-GCM-16-256 (host, IKE-only)';
    rows.push(...ikeRows(label, res, 0.5), floorRow(label, ikewayCpu(res), floor!.psk));
    settings.push(...new Set(res.map((r) => `${r.responder}: ${r.settings}`)));
    for (const r of res) {
      if (Object.keys(r.failures).length)
        notes.push(`${r.responder} failures: ${JSON.stringify(r.failures)}`);
      if (r.list && 'error' in r.list) notes.push(`${r.responder}: listing every SA failed: ${r.list.error}`);
    }
  });
if (runs('storm'))
  await part('storm', async () => {
    const res = await stormSection();
    rows.push(...stormRows(res));
    for (const r of res)
      if (r.storm.lost || r.storm.failed || Object.keys(r.failures).length)
        notes.push(
          `${r.responder} rekey storm: held ${r.held} of ${stormPlan.tunnels}, fill failures ${JSON.stringify(r.failures)}, rekeys started ${r.storm.started}, completed ${r.storm.rekeyed}, failed ${r.storm.failed}, tunnels lost ${r.storm.lost}`,
        );
    notes.push(
      "rekey storm: charon here runs kernel-libipsec (user-space ESP; the host kernel has no ESP), whose cost at thousands of SAs dominates its figures (2026-12-07: 36.6 ms per rekey at 10,000 tunnels, 3.9 ms at 2,000): the ratio compares ikeway's IKE with charon's IKE plus libipsec, not the two IKE daemons alone.",
    );
    settings.push(
      `rekey storm: one load-generator process brings ${stormPlan.tunnels} tunnels up (64 at a time), then rekeys their Child SAs round-robin, each once per ${stormPlan.intervalMs / 1000} s (CREATE_CHILD_SA with REKEY_SA, no PFS: the ESP proposal has no key exchange, then the Delete of the old Child SA) for ${stormPlan.seconds} s with at most ${stormPlan.concurrency} in flight; CPU is the responder's over the storm alone (marks printed by the generator) divided by the rekeys completed; a tunnel is lost when its IKE SA or its last installed Child SA is gone at the end`,
    );
  });
if (runs('cert'))
  await part('cert', async () => {
    const pki = certSetup(certPlan, 2 * rounds); // both daemons, every round
    try {
      const res = await ikeSection(pki.auth, certPlan);
      const label = 'IKE ECDSA-P256 certs/X25519/AES-GCM-16-256 (host, IKE-only)';
      rows.push(...ikeRows(label, res, 0.8), floorRow(label, ikewayCpu(res), floor!.cert));
      for (const r of res)
        if (Object.keys(r.failures).length)
          notes.push(`${r.responder} failures (certificates): ${JSON.stringify(r.failures)}`);
    } finally {
      pki.cleanup();
    }
    settings.push(CERT_SETTINGS, `certificate plan: ${JSON.stringify(certPlan)}`);
  });
if (runs('install'))
  await part('install', async () => {
    const r = installOnHost(installCount, quick ? 1 : 3);
    rows.push(...installRows(r));
    notes.push(
      'kernel install: the "charon" column is `ip -batch` (iproute2, including its exec) on the same objects; the goal is >= 20,000 objects/s batched.',
    );
  });
if (doGuest)
  await part('guest', async () => {
    const g = await runGuestBench(guestPlan);
    process.stderr.write(
      `bench: guest part ran in the ${g.where} kernel: boot ${g.bootMs} ms, wall ${g.wallMs} ms\n`,
    );
    if (g.install) rows.push(...installRows(g.install));
    rows.push(...dataplaneRows(g, guestPlan.iperfSeconds), ...guestSetupRows(g));
    for (const r of g.setup ?? [])
      notes.push(
        `real SAs (${g.where}): ${r.responder} established ${r.established} in the measured burst, ${r.kernelSas} ESP SAs in its kernel afterwards, failures ${JSON.stringify(r.failures)}`,
      );
    const t = throughputByKind(g.runs);
    const fmt = (x: number | undefined) => (x === undefined ? '-' : x.toFixed(0));
    notes.push(
      `data plane (${g.where}): median Mbit/s plain ${fmt(t.plain)}, ikeway ${fmt(t.ikeway)}, charon ${fmt(t.charon)}; charon/plain ${t.charon && t.plain ? (t.charon / t.plain).toFixed(2) : '-'}. Each IPsec run counted only when the kernel SA byte counters of both routers (a's outbound, b's inbound SA, same SPI) were at least the bytes iperf3 received.`,
      ...g.runs
        .filter((r) => r.esp)
        .map(
          (r) =>
            `data plane ${r.kind} round ${r.round}: ${(r.bitsPerSec / 1e6).toFixed(0)} Mbit/s, iperf3 ${r.bytes} bytes, SA a->b ${r.esp!.outBytes} bytes / ${r.esp!.packets} packets sent, ${r.esp!.inBytes} bytes received, daemons' CPU during the run ${r.daemonCpuMs ?? '-'} ms`,
        ),
      ...g.errors.map((e) => `guest part failed: ${e.part}: ${e.message.split('\n')[0]}`),
    );
    settings.push(
      `guest part: ${g.where === 'guest' ? 'Debian 6.1 guest kernel under qemu TCG (2 vCPUs, 2 GiB; emulated CPU: absolute figures are not comparable to hardware, ratios only)' : 'host kernel'}; plan ${JSON.stringify(guestPlan)}`,
      'data plane: two namespaces joined by a veth (WAN 192.0.2.1/.2), LAN addresses 10.1.0.1 and 10.2.0.1 routed over it; iperf3 -c 10.2.0.1 -B 10.1.0.1 -t N -O 1 (TCP, one stream, a -> b); rounds alternate the order plain, ikeway, charon / reversed; each IPsec run sets up its tunnel (10.1.0.0/24 <-> 10.2.0.0/24, tunnel mode, AES-GCM-16-256 ESP, X25519, PSK) and tears it down',
      'real SAs (guest): the same responders as on the host but ikeway with kernel xfrm (no --kernel memory) and charon with kernel-netlink instead of kernel-libipsec; load from `ikeway load` of the bundled CLI, one address, 0.0.0.0/0 selectors (every Child SA installs its SA pair and updates the same policies), warm-up then the measured burst; CPU from /proc/<pid>/stat as on the host',
      'data plane ikeway: two `ikeway daemon` (esbuild bundle, kernel xfrm, defaults: liveness on, fail-closed policies), b with start: wait; charon: two charon 5.9.8 with kernel-netlink (no libipsec), install_routes no, swanctl --initiate from a',
    );
  });
settings.push(
  'load generator: `ikeway load` runner (bench/load-driver.ts) in its own namespace, one process per step, PSK, X25519, AES-GCM-16-256 IKE and ESP, one Child SA per IKE SA, 0.0.0.0/0 selectors, distinct identities and SPIs',
);
notes.push(
  'Host kernel (no ESP): ikeway keeps Child SAs in its in-memory kernel, charon in kernel-libipsec (user-space ESP): an IKE-only comparison.',
  "CPU per IKE SA is the responder process's utime+stime (/proc/<pid>/stat) over the measured burst divided by the SAs established in it; the load generator runs on the same 2 cores.",
  "crypto floor: the CPU of the primitives one responder IKE SA with one Child SA cannot avoid (X25519 key pair and shared secret, nonce and SPI, SKEYSEED/SK_*/KEYMAT prf+, AES-GCM of the IKE_AUTH request and response, PSK AUTH twice or ECDSA P-256 sign + two verifies), with ikeway's own src/crypto functions in the bench process (bench/lib/floor.ts); on the guest rows measured inside the guest.",
  "RSS growth is measured from after the warm-up; charon's figure includes its libipsec SAs, ikeway's its in-memory kernel.",
  "warm-ups (plans above): every measured burst follows a warm-up against the same responder process, so that V8 has optimized the engine (host: the warm-up's IKE SAs are deleted again before the measured phases, so both daemons' tables are as they started; RSS growth counts from then, in a heap that has held the warm-up's SAs once) (it optimizes functions over the first ~3,000 IKE SAs; bench/run.ts; the guest's 700 are all one load address allows before its burst); before 2026-12-07 the warm-ups were 500 (PSK), 300 (certificates) and 100 (guest) SAs, so the CPU rows also counted more JIT compilation.",
);
// The machine's load while the run ran: on a shared machine, spreads and ratios need it.
notes.push(
  `load average (1 min) at the start ${load0.toFixed(1)}, at the end ${loadavg()[0]!.toFixed(1)} (2 cores)`,
);
console.log(table(rows));
if (outFile) {
  // Formatted as `npm run lint` (prettier --check .) expects of every file in the repository.
  const prettier = await import('prettier');
  const md = markdown({
    rows,
    settings,
    notes,
    plan: JSON.stringify(plan) + `, kernel install N=${installCount}`,
    command: `npm run bench -- ${argv.join(' ')}`.trim(),
    date: new Date().toISOString().slice(0, 10),
  });
  writeFileSync(outFile, await prettier.format(md, { parser: 'markdown', filepath: outFile }));
  console.log(`wrote ${outFile}`);
}
