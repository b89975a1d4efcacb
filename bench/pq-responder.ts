// Responder CPU per IKE SA with the RFC 9370 hybrid (X25519 in IKE_SA_INIT, ML-KEM-768 in one
// IKE_INTERMEDIATE; issue 16): ikeway vs charon 6.0.6 (its `ml` plugin), on the host (IKE-only:
// ikeway's in-memory kernel, charon's kernel-libipsec), the same load generator as `npm run bench`
// (bench/load-driver.ts, `ikeway load`'s runner) in its own namespace. Rounds alternate the order
// (ikeway, charon / charon, ikeway), each responder freshly started in a fresh pair of namespaces:
// a warm-up, then a measured burst; CPU is the responder's utime+stime (/proc/<pid>/stat) over the
// burst divided by the IKE SAs established in it. Prints a table (median, min-max, ratio) and, with
// --out FILE, writes it as markdown. The classic proposal is measured the same way for reference.
// Run (root): node --import tsx bench/pq-responder.ts [--rounds 3] [--burst 600] [--out docs/benchmarks-pq.md]
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { BenchNet, LOADGEN_ADDR } from './lib/netlab.ts';
import { BENCH_PSK, runLoadIn } from './lib/ike.ts';
import { cpuMs } from './lib/proc.ts';
import { startCharon, startIkeway, type AuthSetup, type Responder } from './lib/responders.ts';
import { ensureStrongswan6, STRONGSWAN_6 } from '../lab/peers/strongswan.ts';

const argv = process.argv.slice(2);
const opt = (n: string, d: string): string => {
  const i = argv.indexOf(n);
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1]! : d;
};
const ROUNDS = Math.max(3, Number(opt('--rounds', '3')));
const BURST = Number(opt('--burst', '600'));
const WARMUP = Number(opt('--warmup', '100'));
const CONCURRENCY = Number(opt('--concurrency', '32'));
const outFile = argv.includes('--out') ? opt('--out', '') : undefined;

const HYBRID = 'aes256gcm16-prfsha256-x25519-ke1_mlkem768';
const CLASSIC = 'aes256gcm16-prfsha256-x25519';
const auth: AuthSetup = { psk: BENCH_PSK, localId: 'responder.ikeway.test' };
// Both responders narrow the load generator's 0.0.0.0/0 selectors to these (see ResponderKernel.ts).
const TS = { local: ['10.2.0.0/16'], remote: ['10.1.0.0/16'] };

const missing = ensureStrongswan6();
if (missing) throw new Error(missing);

interface Sample {
  readonly cpuMsPerSa: number;
  readonly ratePerSec: number;
  readonly established: number;
  readonly failed: number;
}

async function one(who: 'ikeway' | 'charon', proposal: string): Promise<Sample> {
  const net = new BenchNet();
  let r: Responder | undefined;
  try {
    const k = { ikeProposals: [proposal], build: STRONGSWAN_6, ts: TS };
    r =
      who === 'ikeway'
        ? await startIkeway(net.responder, auth, k)
        : await startCharon(net.responder, auth, k);
    // charon gets every step from one address (as in bench/lib/ike.ts); ikeway one per step (its
    // per-peer limit is 1000 IKE SAs).
    const local = () => (who === 'charon' ? LOADGEN_ADDR : net.nextLoadAddr());
    await runLoadIn(net, WARMUP, CONCURRENCY, auth, local(), proposal);
    const c0 = cpuMs(r.pid);
    const burst = await runLoadIn(net, BURST, CONCURRENCY, auth, local(), proposal);
    const cpu = cpuMs(r.pid) - c0;
    if (burst.established === 0)
      throw new Error(`${who}: no IKE SA established: ${JSON.stringify(burst.failures)}`);
    return {
      cpuMsPerSa: cpu / burst.established,
      ratePerSec: burst.ratePerSec,
      established: burst.established,
      failed: burst.failed,
    };
  } finally {
    await r?.stop();
    net.close();
  }
}

const loadavg = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const f = (x: number, d = 2) => x.toFixed(d);
const samples = new Map<string, Sample[]>();
const loads: string[] = [`start ${loadavg()}`];
const started = new Date().toISOString();
for (const proposal of [HYBRID, CLASSIC])
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? (['ikeway', 'charon'] as const) : (['charon', 'ikeway'] as const);
    for (const who of order) {
      const s = await one(who, proposal);
      const key = `${proposal} ${who}`;
      samples.set(key, [...(samples.get(key) ?? []), s]);
      process.stderr.write(
        `pq-bench: ${key} round ${round + 1}: ${f(s.cpuMsPerSa)} ms/SA, ${f(s.ratePerSec, 0)} SAs/s, ` +
          `${s.established} established, ${s.failed} failed; load ${loadavg()}\n`,
      );
    }
    loads.push(`${proposal} round ${round + 1}: ${loadavg()}`);
  }

const lines: string[] = [
  '| IKE proposal | responder | CPU per IKE SA, median (ms) | min-max (ms) | rounds (ms) | setup rate median (SAs/s) | failed |',
  '| --- | --- | ---: | ---: | --- | ---: | ---: |',
];
const ratios: string[] = [];
for (const proposal of [HYBRID, CLASSIC]) {
  const m: Record<string, number> = {};
  for (const who of ['ikeway', 'charon'] as const) {
    const ss = samples.get(`${proposal} ${who}`) ?? [];
    const cpu = ss.map((s) => s.cpuMsPerSa);
    m[who] = median(cpu);
    lines.push(
      `| ${proposal} | ${who === 'charon' ? `charon ${STRONGSWAN_6.version}` : 'ikeway'} | ${f(median(cpu))} | ` +
        `${f(Math.min(...cpu))}-${f(Math.max(...cpu))} | ${cpu.map((x) => f(x)).join(', ')} | ` +
        `${f(median(ss.map((s) => s.ratePerSec)), 0)} | ${ss.reduce((n, s) => n + s.failed, 0)} |`,
    );
  }
  ratios.push(`${proposal}: ikeway/charon CPU per IKE SA ${f(m['ikeway']! / m['charon']!)}`);
}
const text = [
  '# Benchmark: ML-KEM-768 hybrid, responder CPU per IKE SA, ikeway vs charon 6.0.6',
  '',
  `Generated by \`node --import tsx bench/pq-responder.ts ${argv.join(' ')}\` (do not edit by hand; run it again).`,
  'Host, IKE-only: ikeway with its in-memory kernel, charon 6.0.6 with kernel-libipsec; the same load',
  'generator (`ikeway load` runner, bench/load-driver.ts) in its own namespace on the same 2 cores; CPU is',
  "the responder process's utime+stime over the measured burst divided by the IKE SAs established in it.",
  '',
  `Run ${started} (${cpus().length} x ${cpus()[0]?.model ?? '?'} (${cpus().length} x ${cpus()[0]?.model ?? '?'}, ${f(totalmem() / 2 ** 30, 1)} GiB, node ${process.version})`,
  `${ROUNDS} alternating rounds per proposal; per responder run: warm-up ${WARMUP}, measured burst ${BURST}, concurrency ${CONCURRENCY}, PSK, ESP aes256gcm16, one Child SA per IKE SA, narrowed by both responders from 0.0.0.0/0 to ${TS.local.join(',')} === ${TS.remote.join(',')} (charon 6.0.6 with kernel-libipsec swallows its own IKE_AUTH response with 0.0.0.0/0)`,
  '',
  ...lines,
  '',
  ...ratios.map((r) => `- ${r}`),
  `- load average (1/5/15 min): ${loads.join('; ')}; end ${loadavg()}`,
].join('\n');
console.log(text);
if (outFile) {
  const prettier = await import('prettier');
  writeFileSync(outFile, await prettier.format(`${text}\n`, { parser: 'markdown', filepath: outFile }));
}
