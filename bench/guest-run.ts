// The benchmark's part that needs a kernel with ESP, run as root inside the guest kernel (or on a
// host with ESP) by bench/lib/guest.ts, bundled by esbuild (tsx starts 10-30x slower under TCG).
// Argument: one JSON GuestPlan. Prints one `BENCH-GUEST <json>` line per result:
//   {"install": InstallResult}         kernel install rate, SAs + policies (bench/xfrm-install.ts)
//   {"throughput": ThroughputRun}      one iperf3 run over the data-plane path (lib/dataplane.ts)
//   {"setup": GuestSetupResult}        setup rate / responder CPU per SA with real SAs (lib/guest-setup.ts)
//   {"error": {"part", "message"}}     a part that failed (the others still run)
import { spawnSync } from 'node:child_process';
import { Netns } from '../lab/netns/netns.ts';
import { DataplaneLab, throughput, type PathKind } from './lib/dataplane.ts';
import { cryptoFloor } from './lib/floor.ts';
import { guestSetup, type GuestSetupPlan } from './lib/guest-setup.ts';
import { parseInstallOutput } from './lib/install.ts';

export interface GuestPlan {
  /** SAs (and as many policies) for the install rate; 0 skips it. */
  readonly installCount: number;
  /** iperf3 seconds per run; rounds of plain/ikeway/charon, the order reversed every other round. */
  readonly iperfSeconds: number;
  readonly rounds: number;
  /** Setup rate with real SAs, both responders; undefined skips it. */
  readonly setup?: GuestSetupPlan;
  /** The bundled bench/xfrm-install.ts. */
  readonly installScript: string;
}

const emit = (o: unknown) => process.stdout.write(`BENCH-GUEST ${JSON.stringify(o)}\n`);
const fail = (part: string, e: unknown) =>
  emit({ error: { part, message: e instanceof Error ? e.message.slice(0, 3000) : String(e) } });

function install(plan: GuestPlan): void {
  const ns = Netns.create('bginst');
  try {
    const r = spawnSync(
      'ip',
      [
        'netns',
        'exec',
        ns.name,
        process.execPath,
        plan.installScript,
        '--count',
        String(plan.installCount),
      ].concat(['--in-place', '--json']),
      { encoding: 'utf8', timeout: 900_000 },
    );
    if (r.status !== 0) throw new Error(`xfrm-install exited ${r.status}: ${r.stderr.slice(-2000)}`);
    process.stderr.write(r.stdout);
    emit({ install: parseInstallOutput('guest', r.stdout) });
  } finally {
    ns.delete();
  }
}

async function dataplane(plan: GuestPlan): Promise<void> {
  const lab = new DataplaneLab();
  try {
    const order: PathKind[] = ['plain', 'ikeway', 'charon'];
    for (let round = 1; round <= plan.rounds; round++) {
      for (const kind of round % 2 === 1 ? order : [...order].reverse()) {
        try {
          const r = await throughput(lab, kind, round, plan.iperfSeconds);
          process.stderr.write(
            `bench-guest: ${kind} round ${round}: ${(r.bitsPerSec / 1e6).toFixed(1)} Mbit/s\n`,
          );
          emit({ throughput: r });
        } catch (e) {
          fail(`throughput ${kind} round ${round}`, e);
        }
      }
    }
  } finally {
    lab.close();
  }
}

const arg = process.argv[2];
if (arg === undefined) throw new Error('usage: guest-run <GuestPlan as JSON>');
const plan = JSON.parse(arg) as GuestPlan;
if (plan.installCount > 0) {
  try {
    install(plan);
  } catch (e) {
    fail('install', e);
  }
}
if (plan.rounds > 0) {
  try {
    await dataplane(plan);
  } catch (e) {
    fail('dataplane', e);
  }
}
if (plan.setup) {
  try {
    for (const r of await guestSetup(plan.setup)) emit({ setup: r });
    emit({ floor: cryptoFloor(300) });
  } catch (e) {
    fail('setup', e);
  }
}
