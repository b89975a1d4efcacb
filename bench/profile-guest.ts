// Profiles the ikeway responder on the real-SA path (issue 18, item 1): in ONE boot of the guest
// kernel (or on the host when it has ESP) the benchmark's guest setup part runs as in `npm run bench`
// (warm-up, then a measured burst from `ikeway load`, ikeway with kernel xfrm, then charon with
// kernel-netlink), with the ikeway responder started under `node --cpu-prof`. Prints both
// responders' figures of the same run and the top functions of ikeway's profile.
// Usage: node --import tsx bench/profile-guest.ts [BURST] [--warmup N] [--concurrency N] [--no-prof]
//        [--node-flags '<flags for the ikeway responder's node>']
import { copyFileSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundledCli } from '../lab/guest/bundle.ts';
import { cpuSummary } from './lib/cpuprofile.ts';
import { runGuestBench } from './lib/guest.ts';

const argv = process.argv.slice(2);
const opt = (n: string, d: number): number => {
  const i = argv.indexOf(n);
  return i >= 0 ? Number(argv[i + 1]) : d;
};
const burst = Number(argv.find((a, i) => !a.startsWith('--') && !argv[i - 1]?.startsWith('--')) ?? 300);
const warmup = opt('--warmup', 1400); // as the bench's guest plan (steps of 700, each deleted again)
const concurrency = opt('--concurrency', 16);
const noProf = argv.includes('--no-prof'); // the same run without --cpu-prof (figures unbiased)
const nodeFlags = argv.includes('--node-flags') ? argv[argv.indexOf('--node-flags') + 1]! : '';
const out = mkdtempSync(join(tmpdir(), 'ikw-prof-guest-'));
const prof = join(out, 'prof');
mkdirSync(prof);
if (!noProf) process.env.IKEWAY_BENCH_PROF = prof;
const r = await runGuestBench(
  { installCount: 0, iperfSeconds: 0, rounds: 0, setup: { warmup, burst, concurrency } },
  {
    outputDir: out,
    env: {
      ...(noProf ? {} : { IKEWAY_BENCH_PROF: prof }),
      ...(nodeFlags ? { IKEWAY_BENCH_NODE_FLAGS: nodeFlags } : {}),
      ...(process.env.IKEWAY_BENCH_LOG ? { IKEWAY_BENCH_LOG: '1' } : {}), // the responder's warnings
    },
  },
);
for (const e of r.errors) console.log(`error in ${e.part}: ${e.message}`);
for (const s of r.setup ?? [])
  console.log(
    `${s.responder}: ${s.established} established, ${s.ratePerSec.toFixed(1)} SAs/s, ${s.cpuMsPerSa.toFixed(2)} ms CPU per SA (main thread ${s.mainCpuMsPerSa?.toFixed(2)}), ${s.kernelSas} kernel SAs, failures ${JSON.stringify(s.failures)}`,
  );
const [i, c] = ['ikeway', 'charon'].map((n) => r.setup?.find((s) => s.responder === n));
if (i && c)
  console.log(
    `ikeway/charon (same boot, ${r.where}): CPU per SA ${(i.cpuMsPerSa / c.cpuMsPerSa).toFixed(2)}, rate ${(i.ratePerSec / c.ratePerSec).toFixed(2)}${noProf ? '' : ' (ikeway profiled: --cpu-prof inflates its CPU)'}`,
  );
if (!noProf) {
  copyFileSync(await bundledCli(), join(prof, 'ikeway.mjs'));
  // Only the measured burst: the warm-up and the daemon's shutdown (every SA deleted) are left out.
  if (i?.burstUs)
    console.log(`measured burst (CLOCK_MONOTONIC us, as the profile's clock): ${i.burstUs.join(' ')}`);
  cpuSummary(prof, i?.burstUs);
}
