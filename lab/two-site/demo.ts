// `ikeway lab demo`: the two-site lab with examples/site-to-site-psk.yaml. The tunnel comes up,
// the LAN hosts ping each other, and the kernel SA counters of both routers are printed; exit 0
// only when they prove ESP carried the traffic. Without ESP in the host kernel the same command
// re-runs itself inside the guest kernel (guest/guest.ts), one boot for the whole demo.
import { resolve } from 'node:path';
import { bundleEnv } from '../guest/bundle.ts';
import { GuestError, espKernelPlace, runInGuest } from '../guest/guest.ts';
import { LAB_MODULES } from './lab.ts';
import { formatReport } from './run.ts';
import { runExample, type DriverKind } from './suite.ts';
import { LabError } from '../errors.ts';
import { describeTopology } from './topology.ts';

export const REPO_ROOT = resolve(import.meta.dirname, '..', '..');
export const DEMO_CONFIG = resolve(REPO_ROOT, 'examples', 'site-to-site-psk.yaml');

export interface DemoOptions {
  readonly config: string;
  readonly driver: DriverKind;
  readonly place: 'auto' | 'host' | 'guest';
  readonly pings: number;
  readonly print: (line: string) => void;
}

async function inGuest(o: DemoOptions): Promise<number> {
  o.print('The host kernel has no ESP: running the lab inside a guest kernel (qemu, TCG; about 1 minute).');
  const args = [
    'lab',
    'demo',
    '--config',
    resolve(o.config),
    '--driver',
    o.driver,
    '--place',
    'host',
    '--pings',
    String(o.pings),
  ];
  try {
    const r = await runInGuest({
      command: [process.execPath, resolve(REPO_ROOT, 'bin', 'ikeway.js'), ...args],
      cwd: REPO_ROOT,
      env: await bundleEnv(),
      modules: [...LAB_MODULES],
      timeoutMs: 600_000,
    });
    for (const l of r.stdout.trimEnd().split('\n')) o.print(l);
    if (r.stderr.trim()) for (const l of r.stderr.trimEnd().split('\n')) o.print(`[guest stderr] ${l}`);
    o.print(`guest: boot ${r.bootMs} ms, whole run ${r.wallMs} ms, exit ${r.status}`);
    return r.status;
  } catch (e) {
    if (e instanceof GuestError) {
      o.print(`FAIL: ${e.code}: ${e.message}`);
      o.print(
        'Look at: the guest console above; scripts/install-deps.sh installs qemu and the guest kernel.',
      );
      return 1;
    }
    throw e;
  }
}

async function onThisKernel(o: DemoOptions): Promise<number> {
  const where = process.env['IKEWAY_IN_GUEST'] === '1' ? 'guest kernel' : 'host kernel';
  o.print(`ikeway lab demo: ${o.config} on the ${where}`);
  try {
    const r = await runExample(o.config, {
      driver: o.driver,
      pings: o.pings,
      log: (l) => o.print(`  .. ${l}`),
      onTopology: (t) => describeTopology(t).forEach((l) => o.print(`  ${l}`)),
    });
    // The progress lines above already said "tunnel up" and each ping: the report does not repeat them.
    formatReport(r, { progressShown: true }).forEach((l) => o.print(l));
    return r.ok ? 0 : 1;
  } catch (e) {
    if (e instanceof LabError) {
      o.print(`FAIL: ${e.code}: ${e.message}`);
      o.print(
        'Look at: ikeway check on the config; KERNEL-LAB.md for the guest kernel; --driver static to test the kernel path without IKE.',
      );
      return 1;
    }
    throw e;
  }
}

export async function runDemo(o: DemoOptions): Promise<number> {
  const place =
    o.place === 'auto' ? (process.env['IKEWAY_IN_GUEST'] === '1' ? 'host' : espKernelPlace()) : o.place;
  return place === 'guest' ? inGuest(o) : onThisKernel(o);
}
