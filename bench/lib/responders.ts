// The two responders under test, started in the benchmark's responder namespace:
// - ikeway: `ikeway daemon --kernel memory --log-level warn` (the esbuild bundle of the CLI, as the
//   lab runs it), cookies and half-open limits raised out of the way, liveness off;
// - charon (strongSwan 5.9.8): kernel-libipsec (no kernel ESP on the host), ikesa_table_size raised,
//   DoS protection off, routes not installed, logging quiet.
// Both accept any initiator with the PSK and narrow to 0.0.0.0/0 <-> 0.0.0.0/0, one Child SA per IKE SA.
import { execFile, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundledCli } from '../../lab/guest/bundle.ts';
import type { Netns } from '../../lab/netns/netns.ts';
import type { LoadCert } from '../../lab/load/cert-auth.ts';
import { Charon, STRONGSWAN_5, type StrongswanBuild } from '../../lab/peers/strongswan.ts';
import { RESPONDER_ADDR } from './netlab.ts';

export interface Responder {
  readonly name: 'ikeway' | 'charon';
  readonly pid: number;
  /** What this responder ran with, for the report. */
  readonly settings: string;
  /**
   * Lists every SA it holds the way an operator would (`ikeway status --json`, `swanctl --list-sas
   * --raw`): the wall time (ms) and the bytes printed.
   */
  listAll(): Promise<{ ms: number; bytes: number }>;
  stop(): Promise<void>;
}

const LIST_TIMEOUT_MS = 300_000;

/** Runs argv (no shell) with a bound; resolves with its wall time and stdout size, rejects on failure. */
function timedRun(argv: readonly string[]): Promise<{ ms: number; bytes: number }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    execFile(
      argv[0]!,
      argv.slice(1),
      { timeout: LIST_TIMEOUT_MS, maxBuffer: 4 * 1024 * 1024 * 1024, encoding: 'buffer' },
      (err, stdout, stderr) => {
        if (err)
          reject(new ResponderError(`${argv.join(' ')}: ${err.message} ${stderr.toString().slice(0, 300)}`));
        else resolve({ ms: performance.now() - t0, bytes: stdout.length });
      },
    );
  });
}

export class ResponderError extends Error {
  override readonly name = 'ResponderError';
  readonly code = 'ERR_BENCH_RESPONDER';
}

export const IKEWAY_SETTINGS =
  'ikeway daemon --kernel memory --log-level warn (esbuild bundle, node ' +
  `${process.version}); cookie-threshold 1000000, limits.half-open 1000000, limits.half-open-per-source 1000000, limits.ike-sas-per-peer 1000 (its maximum; the load comes from one address per 1000 SAs), liveness off`;

export const CHARON_SETTINGS =
  'charon 5.9.8, plugins openssl curve25519 ... kernel-libipsec kernel-netlink; ikesa_table_size 1024, ' +
  'ikesa_table_segments 16, dos_protection no, block_threshold/cookie_threshold/init_limit_half_open ' +
  '1000000, install_routes no, filelog default -1, threads 16 (default)';

export interface AuthSetup {
  /** PSK text (both sides). */
  readonly psk?: string;
  /** Certificates (ECDSA P-256): responder cert/key PEM and the CA PEM the initiators chain to. */
  readonly cert?: { readonly certPem: string; readonly keyPem: string; readonly caPem: string };
  /** The initiators' side of `cert`: files for `ikeway load` and the identity of SA n (`%d`). */
  readonly loadCert?: LoadCert & { readonly idTemplate: string };
  readonly localId: string;
}

function ikewayConfig(
  dir: string,
  auth: AuthSetup,
  ike: readonly string[] | undefined,
  ts: ResponderKernel['ts'],
): string {
  const a = auth.psk ? '{ psk: { file: psk } }' : '{ cert: { cert: cert.pem, key: key.pem, ca: [ca.pem] } }';
  if (auth.psk) writeFileSync(join(dir, 'psk'), auth.psk, { mode: 0o600 });
  if (auth.cert) {
    writeFileSync(join(dir, 'cert.pem'), auth.cert.certPem);
    writeFileSync(join(dir, 'key.pem'), auth.cert.keyPem, { mode: 0o600 });
    writeFileSync(join(dir, 'ca.pem'), auth.cert.caPem);
  }
  return [
    'log: { level: warn, format: text }',
    `control-socket: ${join(dir, 'ctl.sock')}`,
    `state-dir: ${join(dir, 'state')}`,
    'cookie-threshold: 1000000',
    'limits: { half-open: 1000000, half-open-per-source: 1000000, ike-sas-per-peer: 1000 }',
    `local: { address: ${RESPONDER_ADDR} }`,
    'connections:',
    '  load:',
    '    remote: any',
    `    auth: ${a}`,
    `    local-id: "${auth.localId}"`,
    `    local-subnets: [${(ts?.local ?? ['0.0.0.0/0']).join(', ')}]`,
    `    remote-subnets: [${(ts?.remote ?? ['0.0.0.0/0']).join(', ')}]`,
    '    liveness: false',
    ...(ike ? [`    ike-proposals: [${ike.join(', ')}]`] : []),
    '',
  ].join('\n');
}

async function waitForSocket(proc: ChildProcess, path: string, timeoutMs: number): Promise<void> {
  let log = '';
  proc.stderr?.on('data', (b: Buffer) => (log = (log + b.toString('utf8')).slice(-4000)));
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; i < 10_000 && Date.now() < deadline; i++) {
    if (proc.exitCode !== null)
      throw new ResponderError(`ikeway exited ${proc.exitCode} during start: ${log}`);
    if (existsSync(path)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new ResponderError(`ikeway: no control socket after ${timeoutMs} ms: ${log}`);
}

/** Sends SIGTERM, then SIGKILL after graceMs. */
async function stopProc(proc: ChildProcess, graceMs = 3000): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exit = new Promise<void>((r) => proc.once('exit', () => r()));
  proc.kill('SIGTERM');
  const t = setTimeout(() => proc.kill('SIGKILL'), graceMs);
  await exit;
  clearTimeout(t);
}

/** Where the responder's Child SAs go: the in-memory kernel / libipsec (host), or the real kernel. */
export interface ResponderKernel {
  readonly realKernel?: boolean;
  /** IKE proposals of the responder (default: ikeway's default; charon aes256gcm16-prfsha256-x25519). */
  readonly ikeProposals?: readonly string[];
  /** charon only: which strongSwan build (default 5.9.8). */
  readonly build?: StrongswanBuild;
  /**
   * The responder's traffic selectors (default 0.0.0.0/0 both ways). charon 6.0.6 with kernel-libipsec
   * sends its IKE_AUTH response into a 0.0.0.0/0 Child SA it has just installed (the initiator never
   * gets it), so a bench against it narrows both responders to the same subnets.
   */
  readonly ts?: { readonly local: readonly string[]; readonly remote: readonly string[] };
}

const DEFAULT_IKE = ['aes256gcm16-prfsha256-x25519'];

export async function startIkeway(ns: Netns, auth: AuthSetup, k: ResponderKernel = {}): Promise<Responder> {
  const dir = mkdtempSync(join(tmpdir(), 'ikw-bench-resp-'));
  const config = join(dir, 'ikeway.yaml');
  writeFileSync(config, ikewayConfig(dir, auth, k.ikeProposals, k.ts), { mode: 0o600 });
  const cli = await bundledCli();
  // IKEWAY_BENCH_PROF=<dir>: the responder writes a V8 CPU profile there when it stops.
  const prof = process.env.IKEWAY_BENCH_PROF;
  const nodeArgs = prof ? ['--cpu-prof', '--cpu-prof-dir', prof] : [];
  // IKEWAY_BENCH_NODE_FLAGS: extra node/V8 flags for the responder (experiments; bench/profile-guest.ts).
  nodeArgs.push(...(process.env.IKEWAY_BENCH_NODE_FLAGS ?? '').split(' ').filter(Boolean));
  const kernel = k.realKernel ? [] : ['--kernel', 'memory'];
  const proc = ns.spawn(process.execPath, [...nodeArgs, cli, 'daemon', '-c', config, ...kernel], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  // At log level warn "ready" is not printed: the control socket appears once the daemon serves.
  // Keep draining (a full pipe would block the daemon); IKEWAY_BENCH_LOG=1 shows its warnings.
  proc.stderr?.on('data', (b: Buffer) => {
    if (process.env.IKEWAY_BENCH_LOG) process.stderr.write(b);
  });
  try {
    await waitForSocket(proc, join(dir, 'ctl.sock'), 90_000); // TCG guests start slowly
  } catch (e) {
    proc.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  return {
    name: 'ikeway',
    pid: proc.pid!,
    settings: k.realKernel ? IKEWAY_SETTINGS.replace('--kernel memory', '(kernel xfrm)') : IKEWAY_SETTINGS,
    listAll: () => timedRun([process.execPath, cli, 'status', '--json', '-s', join(dir, 'ctl.sock')]),
    stop: async () => {
      // A profiled daemon writes its profile at exit, after deleting every SA (slow under TCG).
      await stopProc(proc, prof ? 300_000 : 3000);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const CHARON_EXTRA = [
  '  ikesa_table_size = 1024',
  '  ikesa_table_segments = 16',
  '  dos_protection = no',
  '  block_threshold = 1000000',
  '  cookie_threshold = 1000000',
  '  init_limit_half_open = 1000000',
  '  install_routes = no',
].join('\n');

export async function startCharon(ns: Netns, auth: AuthSetup, k: ResponderKernel = {}): Promise<Responder> {
  const files: Record<string, string> = {};
  if (auth.cert) {
    files['x509/me.pem'] = auth.cert.certPem;
    files['private/me.pem'] = auth.cert.keyPem;
    files['x509ca/ca.pem'] = auth.cert.caPem;
  }
  const build = k.build ?? STRONGSWAN_5;
  const charon = await Charon.start({
    ns,
    build,
    tag: 'bench',
    libipsec: !k.realKernel,
    logLevels: { default: -1 },
    startTimeoutMs: 60_000,
    extraCharonConf: CHARON_EXTRA,
    files,
    connections: [
      {
        name: 'load',
        localAddrs: [RESPONDER_ADDR],
        remoteAddrs: ['%any'],
        localId: auth.localId,
        remoteId: '%any',
        localAuth: auth.psk ? 'psk' : 'pubkey',
        remoteAuth: auth.psk ? 'psk' : 'pubkey',
        ...(auth.cert ? { localCerts: ['me.pem'], remoteCaCerts: ['ca.pem'] } : {}),
        proposals: k.ikeProposals ?? DEFAULT_IKE,
        children: [
          {
            name: 'load',
            localTs: k.ts?.local ?? ['0.0.0.0/0'],
            remoteTs: k.ts?.remote ?? ['0.0.0.0/0'],
            espProposals: ['aes256gcm16'],
          },
        ],
      },
    ],
    ...(auth.psk ? { secrets: { psk: [{ secret: auth.psk }] } } : {}),
  });
  await charon.loadAll();
  const pid = charon.pid;
  if (pid === undefined) throw new ResponderError('charon has no pid');
  const settings = (k.realKernel ? CHARON_SETTINGS.replace('kernel-libipsec ', '') : CHARON_SETTINGS).replace(
    'charon 5.9.8, plugins openssl',
    `charon ${build.version}, plugins openssl ${build.plugins.join(' ')}`,
  );
  const listAll = async (): Promise<{ ms: number; bytes: number }> => {
    const t0 = performance.now();
    const out = await charon.swanctl(['--list-sas', '--raw'], LIST_TIMEOUT_MS);
    return { ms: performance.now() - t0, bytes: Buffer.byteLength(out) };
  };
  return { name: 'charon', pid, settings, listAll, stop: () => charon.stop() };
}
