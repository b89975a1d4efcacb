// The guest-kernel part of `npm run bench` (issue 7, items 4 and 5): ONE boot of the guest kernel
// (lab/guest/guest.ts; directly on the host when it has ESP) runs bench/guest-run.ts, bundled here
// with esbuild together with bench/xfrm-install.ts, and the lab's bundled CLI for the daemons.
// Results come back as `BENCH-GUEST` lines; this module turns them into report rows.
import { mkdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { bundleEnv } from '../../lab/guest/bundle.ts';
import { withEspKernel } from '../../lab/guest/guest.ts';
import type { GuestPlan } from '../guest-run.ts';
import type { ThroughputRun } from './dataplane.ts';
import type { GuestSetupResult } from './guest-setup.ts';
import type { FloorResult } from './floor.ts';
import type { InstallResult } from './install.ts';
import { median, sampledRow, type Row } from './report.ts';

const ROOT = resolve(import.meta.dirname, '..', '..');

export interface GuestResults {
  readonly where: 'guest' | 'host';
  readonly install?: InstallResult;
  readonly runs: readonly ThroughputRun[];
  readonly setup?: readonly GuestSetupResult[];
  /** The crypto floor (bench/lib/floor.ts) measured on the guest's CPU, with the setup part. */
  readonly floor?: FloorResult;
  readonly errors: readonly { readonly part: string; readonly message: string }[];
  readonly bootMs: number;
  readonly wallMs: number;
}

export class GuestBenchError extends Error {
  override readonly name = 'GuestBenchError';
  readonly code = 'ERR_BENCH_GUEST';
}

interface EsbuildApi {
  build(o: Record<string, unknown>): Promise<{ errors: unknown[] }>;
}

/** esbuild bundles of guest-run.ts and xfrm-install.ts (under node_modules/.cache, natives external). */
async function bundle(): Promise<{ dir: string; run: string; install: string }> {
  const dir = resolve(ROOT, 'node_modules', '.cache', 'ikeway-lab', `bench-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  const esbuild = (await import('esbuild')) as unknown as EsbuildApi;
  await esbuild.build({
    entryPoints: {
      'guest-run': join(ROOT, 'bench', 'guest-run.ts'),
      'xfrm-install': join(ROOT, 'bench', 'xfrm-install.ts'),
    },
    outdir: dir,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    external: ['netlink', 'koffi', 'esbuild'],
    banner: {
      js: "import { createRequire as __ikwCreateRequire } from 'node:module'; const require = __ikwCreateRequire(import.meta.url);",
    },
    logLevel: 'silent',
  });
  return { dir, run: join(dir, 'guest-run.mjs'), install: join(dir, 'xfrm-install.mjs') };
}

export function parseGuestOutput(
  stdout: string,
): Pick<GuestResults, 'install' | 'runs' | 'errors' | 'setup' | 'floor'> {
  let install: InstallResult | undefined;
  let floor: FloorResult | undefined;
  const runs: ThroughputRun[] = [];
  const setup: GuestSetupResult[] = [];
  const errors: { part: string; message: string }[] = [];
  for (const line of stdout.split('\n')) {
    if (!line.startsWith('BENCH-GUEST ')) continue;
    const o = JSON.parse(line.slice('BENCH-GUEST '.length)) as {
      install?: InstallResult;
      throughput?: ThroughputRun;
      setup?: GuestSetupResult;
      floor?: FloorResult;
      error?: { part: string; message: string };
    };
    if (o.install) install = o.install;
    if (o.throughput) runs.push(o.throughput);
    if (o.setup) setup.push(o.setup);
    if (o.floor) floor = o.floor;
    if (o.error) errors.push(o.error);
  }
  return {
    ...(install ? { install } : {}),
    runs,
    errors,
    ...(setup.length ? { setup } : {}),
    ...(floor ? { floor } : {}),
  };
}

export async function runGuestBench(
  plan: Omit<GuestPlan, 'installScript'>,
  extra: { readonly outputDir?: string; readonly env?: Readonly<Record<string, string>> } = {},
): Promise<GuestResults> {
  const b = await bundle();
  const full: GuestPlan = { ...plan, installScript: b.install };
  const r = await withEspKernel({
    command: [process.execPath, b.run, JSON.stringify(full)],
    cwd: ROOT,
    env: { ...(await bundleEnv()), ...extra.env },
    ...(extra.outputDir === undefined ? {} : { outputDir: extra.outputDir }),
    timeoutMs: 1_500_000,
    memoryMb: 2048,
    smp: 2,
  });
  process.stderr.write(r.stderr.slice(-4000));
  const parsed = parseGuestOutput(r.stdout);
  if (r.status !== 0 && parsed.runs.length === 0 && !parsed.install)
    throw new GuestBenchError(
      `guest bench exited ${r.status}: ${r.stderr.slice(-2000)}\n${r.console.slice(-1500)}`,
    );
  return { where: r.where, bootMs: r.bootMs, wallMs: r.wallMs, ...parsed };
}

/** Median Mbit/s per path over the rounds. */
export function throughputByKind(runs: readonly ThroughputRun[]): Record<string, number | undefined> {
  const of = (k: string) => median(runs.filter((r) => r.kind === k).map((r) => r.bitsPerSec / 1e6));
  return { plain: of('plain'), ikeway: of('ikeway'), charon: of('charon') };
}

export function dataplaneRows(g: GuestResults, seconds: number): Row[] {
  const t = throughputByKind(g.runs);
  const n = (k: string) => g.runs.filter((r) => r.kind === k).length;
  const section = `data plane (${g.where} kernel${g.where === 'guest' ? ', TCG: ratios only' : ''}, ESP AES-GCM-16-256 tunnel)`;
  return [
    {
      section,
      metric: `iperf3 TCP ${seconds} s, median of ${n('ikeway')}/${n('charon')} runs, ikeway vs charon`,
      ikeway: t.ikeway,
      charon: t.charon,
      unit: 'Mbit/s',
      lowerIsBetter: false,
    },
    {
      section,
      metric: `iperf3 TCP, ikeway vs no IPsec (median of ${n('plain')}; the "charon" column is plain)`,
      ikeway: t.ikeway,
      charon: t.plain,
      unit: 'Mbit/s',
      lowerIsBetter: false,
    },
  ];
}

export function guestSetupRows(g: GuestResults): Row[] {
  const of = (name: string, f: (r: GuestSetupResult) => number) =>
    (g.setup ?? []).filter((r) => r.responder === name).map(f);
  const both = (f: (r: GuestSetupResult) => number): [number[], number[]] => [
    of('ikeway', f),
    of('charon', f),
  ];
  if (!g.setup?.length) return [];
  const section = `IKE PSK/X25519/AES-GCM-16-256 (${g.where} kernel, real SAs${g.where === 'guest' ? ', TCG: ratios only' : ''})`;
  return [
    sampledRow(
      { section, metric: 'setup rate', unit: 'IKE SAs/s', lowerIsBetter: false, goal: 1.3 },
      ...both((r) => r.ratePerSec),
    ),
    sampledRow(
      { section, metric: 'responder CPU per IKE SA', unit: 'ms', lowerIsBetter: true, goal: 0.8 },
      ...both((r) => r.cpuMsPerSa),
    ),
    ...(g.floor
      ? [
          floorRow(
            section,
            of('ikeway', (r) => r.cpuMsPerSa),
            g.floor.psk,
          ),
        ]
      : []),
  ];
}

/** ikeway's CPU per SA against the crypto floor of the same run (the "charon" column is the floor). */
export function floorRow(section: string, ikeway: readonly number[], floorMs: number): Row {
  return sampledRow(
    {
      section,
      metric: 'responder CPU per IKE SA, ikeway vs the crypto floor (the "charon" column is the floor)',
      unit: 'ms',
      lowerIsBetter: true,
      goal: 2.5,
    },
    ikeway,
    [floorMs],
  );
}
