// The guest-kernel runner (docs: KERNEL-LAB.md). The host kernel has no ESP, so real SAs and ESP
// packets run in a Debian kernel under qemu (TCG): the host's / is shared read-only over 9p with a
// tmpfs overlay on top, so node, iproute2 and this checkout are visible at their host paths, and a
// second read-write 9p share carries the command's output and exit status back.
import { spawn, type ChildProcess } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { constants as osConstants, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { acquireGuestSlot } from './guest-slots.ts';
import { buildInitramfs } from './initramfs.ts';
import { Netns } from '../netns/netns.ts';

export class GuestError extends Error {
  readonly code: 'GUEST_BOOT_FAILED' | 'GUEST_TIMEOUT' | 'GUEST_BAD_OPTION' | 'GUEST_LOCKUP';
  constructor(
    code: GuestError['code'],
    message: string,
    /** The tail of the guest's serial console, to explain boot failures. */
    readonly console = '',
  ) {
    super(console ? `${message}\n--- guest console (tail) ---\n${console}` : message);
    this.code = code;
    this.name = 'GuestError';
  }
}

export interface RunOptions {
  /** argv to run, or a shell script for /bin/sh: exactly one of the two. */
  readonly command?: readonly string[];
  readonly script?: string;
  /** Working directory inside the guest (default: process.cwd(), visible at the same path). */
  readonly cwd?: string;
  /** Extra environment variables for the command (PATH, HOME and IKEWAY_IN_GUEST are set). */
  readonly env?: Readonly<Record<string, string>>;
  /** Kill the guest after this long (default 300 s). */
  readonly timeoutMs?: number;
  readonly memoryMb?: number;
  readonly smp?: number;
  /** Directory for the results share; kept afterwards. Default: a temp dir, removed afterwards. */
  readonly outputDir?: string;
  /** Longest wait for a free guest slot (guest-slots.ts) before GUEST_BUSY (default 20 min). */
  readonly slotWaitMs?: number;
  /** Extra kernel command-line arguments (e.g. `nohz=off`); no spaces or quotes inside one. */
  readonly kernelArgs?: readonly string[];
  /** Extra kernel modules to load in the guest (missing ones are ignored). */
  readonly modules?: readonly string[];
  /**
   * Fresh boots after a guest kernel lockup (see lockupSeconds) before GUEST_LOCKUP (default 1).
   * The retry re-runs the whole command; the files the first boot wrote are removed first.
   */
  readonly lockupRetries?: number;
}

export interface RunResult {
  /** Exit status of the command (128+n when killed by signal n, as the shell reports it). */
  readonly status: number;
  readonly stdout: string;
  readonly stderr: string;
  /** Serial console of the guest (kernel messages, init errors), bounded; '' on the host. */
  readonly console: string;
  readonly outputDir: string;
  readonly where: 'guest' | 'host';
  /** Guest uptime when the command started, i.e. the boot time (ms, guest clock); 0 on host. */
  readonly bootMs: number;
  /** Wall time of the whole run on the host (ms), including queuedMs. */
  readonly wallMs: number;
  /** Time spent waiting for a free guest slot (ms); 0 on the host. */
  readonly queuedMs: number;
  /** The lockups that ended earlier boots of this run (their console lines); [] when none did. */
  readonly lockups: readonly string[];
}

/** Modules the ESP tests need; loaded with modprobe inside the guest, missing ones ignored. */
export const GUEST_MODULES = [
  'xfrm_user',
  'xfrm_algo',
  'esp4',
  'esp6',
  'xfrm4_tunnel',
  'xfrm6_tunnel',
  'tunnel4',
  'tunnel6',
  'xfrm_interface',
  'veth',
  'af_key',
  'aesni_intel',
  'gcm',
  'ghash_generic',
  'ctr',
  'cbc',
  'chacha20poly1305',
  'chacha_generic',
  'poly1305_generic',
  'authenc',
  'authencesn',
  'echainiv',
  'seqiv',
  'sha256_generic',
  'sha512_generic',
  'hmac',
  'udp_tunnel',
] as const;

const CONSOLE_LIMIT = 64 * 1024;
const DEFAULT_TIMEOUT_MS = 300_000;
const SAFE_PATH = /^\/[\w./+-]*$/;

/** Quotes a string for /bin/sh. */
export function shQuote(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

function commandLine(opts: RunOptions): string {
  if ((opts.command === undefined) === (opts.script === undefined))
    throw new GuestError('GUEST_BAD_OPTION', 'give exactly one of command or script');
  if (opts.command !== undefined) {
    if (opts.command.length === 0) throw new GuestError('GUEST_BAD_OPTION', 'command is empty');
    return opts.command.map(shQuote).join(' ');
  }
  return `/bin/sh -c ${shQuote(opts.script!)}`;
}

function envLines(env: Readonly<Record<string, string>>): string {
  return Object.entries(env)
    .map(([k, v]) => {
      if (!/^[A-Za-z_]\w*$/.test(k)) throw new GuestError('GUEST_BAD_OPTION', `bad env name: ${k}`);
      return `export ${k}=${shQuote(v)}`;
    })
    .join('\n');
}

/** The second stage: PID 1 in the switched root. Loads modules, runs the command, powers off. */
export function stage2Script(opts: RunOptions, out: string): string {
  const cwd = opts.cwd ?? process.cwd();
  const path = [
    dirname(process.execPath),
    '/usr/local/sbin',
    '/usr/local/bin',
    '/usr/sbin',
    '/usr/bin',
    '/sbin',
    '/bin',
  ];
  const modules = [...GUEST_MODULES, ...(opts.modules ?? [])];
  for (const m of modules)
    if (!/^[\w-]+$/.test(m)) throw new GuestError('GUEST_BAD_OPTION', `bad module name: ${m}`);
  const f = (name: string): string => shQuote(`${out}/${name}`);
  const limitSec = Math.ceil((opts.timeoutMs ?? DEFAULT_TIMEOUT_MS) / 1000);
  return `# ikeway guest stage 2 (runs as PID 1)
read up _ < /proc/uptime; echo "stage2 start $up" > /dev/console
export PATH=${shQuote(path.join(':'))} HOME=/root IKEWAY_IN_GUEST=1 LANG=C.UTF-8
${envLines(opts.env ?? {})}
mkdir -p /run/netns /dev/shm /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t devpts devpts /dev/pts
hostname ikw-guest
ip link set lo up
modprobe -a -q ${modules.join(' ')} 2>/dev/null
read up _ < /proc/uptime; echo "modules loaded $up" > /dev/console; echo "$up" > ${f('uptime')}
if cd ${shQuote(cwd)}; then
  # Bounded inside too, so a guest whose host process died still powers off by itself.
  timeout -s KILL ${limitSec} ${commandLine(opts)} < /dev/null > ${f('stdout')} 2> ${f('stderr')}
  echo $? > ${f('status.tmp')}
else
  echo "ikw-stage2: cannot cd to the working directory" > ${f('stderr')}
  echo 126 > ${f('status.tmp')}
fi
mv ${f('status.tmp')} ${f('status')}
sync
busybox poweroff -f 2>/dev/null
echo o > /proc/sysrq-trigger
`;
}

export function qemuArgs(kernel: string, initrd: string, out: string, opts: RunOptions): string[] {
  const smp = opts.smp ?? 2;
  const mem = opts.memoryMb ?? 2048;
  if (!Number.isInteger(smp) || smp < 1 || smp > 16)
    throw new GuestError('GUEST_BAD_OPTION', `bad smp: ${smp}`);
  if (!Number.isInteger(mem) || mem < 256 || mem > 16384)
    throw new GuestError('GUEST_BAD_OPTION', `bad memoryMb: ${mem}`);
  for (const a of opts.kernelArgs ?? [])
    if (!/^[\w.,=:/+-]+$/.test(a)) throw new GuestError('GUEST_BAD_OPTION', `bad kernel argument: ${a}`);
  return [
    '-accel',
    'tcg,thread=multi',
    '-smp',
    String(smp),
    '-m',
    String(mem),
    '-display',
    'none',
    '-monitor',
    'none',
    '-serial',
    'stdio',
    '-no-reboot',
    '-nic',
    'none',
    '-kernel',
    kernel,
    '-initrd',
    initrd,
    '-append',
    ['console=ttyS0', 'quiet', 'panic=-1', ...(opts.kernelArgs ?? []), `ikw.out=${out}`].join(' '),
    '-virtfs',
    'local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap',
    '-virtfs',
    `local,path=${out},mount_tag=ikwout,security_model=none`,
  ];
}

/** Boots the guest kernel, runs the command inside as root and returns its status and output. */
export async function runInGuest(opts: RunOptions): Promise<RunResult> {
  const started = Date.now();
  const temp = opts.outputDir === undefined;
  const out = opts.outputDir ?? mkdtempSync(join(tmpdir(), 'ikw-guest-'));
  if (!SAFE_PATH.test(out))
    throw new GuestError('GUEST_BAD_OPTION', `output dir path unusable in the guest: ${out}`);
  const retries = opts.lockupRetries ?? 1;
  if (!Number.isInteger(retries) || retries < 0 || retries > 3)
    throw new GuestError('GUEST_BAD_OPTION', `bad lockupRetries: ${retries}`);
  mkdirSync(out, { recursive: true });
  try {
    writeFileSync(join(out, 'stage2.sh'), stage2Script(opts, out), { mode: 0o755 });
    const callerFiles = new Set(readdirSync(out));
    const { kernel, path: initrd } = buildInitramfs();
    const args = qemuArgs(kernel, initrd, out, opts);
    const release = await acquireGuestSlot(opts.slotWaitMs);
    const queuedMs = Date.now() - started;
    const lockups: string[] = [];
    let console: string;
    try {
      for (;;) {
        try {
          console = await runQemu(args, opts.timeoutMs ?? DEFAULT_TIMEOUT_MS);
          break;
        } catch (e) {
          if (!(e instanceof GuestError) || e.code !== 'GUEST_LOCKUP' || lockups.length >= retries) throw e;
          // A kernel stuck under emulation is not a result of the command: boot once more, clean.
          lockups.push(e.message.split('\n')[0] ?? e.message);
          process.stderr.write(`guest: ${lockups.at(-1)}; booting a fresh guest\n`);
          for (const f of readdirSync(out))
            if (!callerFiles.has(f)) rmSync(join(out, f), { recursive: true, force: true });
        }
      }
    } finally {
      release();
    }
    const statusFile = join(out, 'status');
    if (!existsSync(statusFile))
      throw new GuestError('GUEST_BOOT_FAILED', 'the guest stopped without running the command', console);
    const read = (f: string): string => (existsSync(join(out, f)) ? readFileSync(join(out, f), 'utf8') : '');
    return {
      status: Number(read('status').trim()),
      stdout: read('stdout'),
      stderr: read('stderr'),
      console,
      outputDir: out,
      where: 'guest',
      bootMs: Math.round(Number(read('uptime').trim()) * 1000),
      wallMs: Date.now() - started,
      queuedMs,
      lockups,
    };
  } finally {
    if (temp) rmSync(out, { recursive: true, force: true });
  }
}

/** A soft lockup reported this long is taken as a stuck guest kernel, not a slow one. */
const LOCKUP_STUCK_SEC = 60;

/**
 * The longest "soft lockup - CPU#n stuck for Ns" the guest kernel reported in `text`, or 0.
 * Seen under TCG (CI, 2026-12-07): both vCPUs stuck in node for 74 s and more a few seconds after
 * boot, until the run's timeout; the watchdog repeats the report every ~28 s while it lasts.
 */
export function lockupSeconds(text: string): number {
  let worst = 0;
  for (const m of text.matchAll(/soft lockup - CPU#\d+ stuck for (\d+)s/g))
    worst = Math.max(worst, Number(m[1]));
  return worst;
}

function runQemu(args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let child: ChildProcess;
    try {
      child = spawn('qemu-system-x86_64', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (e) {
      reject(new GuestError('GUEST_BOOT_FAILED', `cannot start qemu: ${String(e)}`));
      return;
    }
    let console = '';
    let stuckSec = 0;
    const keep = (b: Buffer): void => {
      console = (console + b.toString('utf8')).slice(-CONSOLE_LIMIT);
      if (stuckSec > 0) return;
      const s = lockupSeconds(console.slice(-4096));
      if (s >= LOCKUP_STUCK_SEC) {
        stuckSec = s;
        child.kill('SIGKILL');
      }
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    // Never leave a qemu behind when the test process itself goes away.
    const onExit = (): void => void child.kill('SIGKILL');
    process.once('exit', onExit);
    child.once('error', (e) => {
      clearTimeout(timer);
      process.removeListener('exit', onExit);
      reject(new GuestError('GUEST_BOOT_FAILED', `cannot start qemu: ${e.message}`));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      process.removeListener('exit', onExit);
      if (stuckSec > 0)
        reject(
          new GuestError('GUEST_LOCKUP', `guest kernel soft lockup (a CPU stuck for ${stuckSec} s)`, console),
        );
      else if (timedOut)
        reject(new GuestError('GUEST_TIMEOUT', `guest killed after ${timeoutMs} ms`, console));
      else if (code !== 0)
        reject(new GuestError('GUEST_BOOT_FAILED', `qemu exited ${code ?? signal}`, console));
      else resolve(console);
    });
  });
}

let espCache: boolean | undefined;

/**
 * True when this kernel can hold an ESP SA with AES-GCM: probed by adding one (RFC 4106 AEAD,
 * dummy key) in a throwaway namespace. The host kernel here answers "Requested type not found".
 */
export function hostHasEsp(): boolean {
  if (espCache !== undefined) return espCache;
  const ns = Netns.create('espprobe');
  try {
    const r = ns.tryExec(
      'ip',
      ...['xfrm', 'state', 'add', 'src', '192.0.2.1', 'dst', '192.0.2.2', 'proto', 'esp', 'spi', '0x1000'],
      ...['mode', 'tunnel', 'aead', 'rfc4106(gcm(aes))', `0x${'00'.repeat(20)}`, '128'],
    );
    espCache = r.status === 0;
  } finally {
    ns.delete();
  }
  return espCache;
}

/** Where ESP work runs: IKEWAY_ESP_KERNEL=guest|host forces it, otherwise the probe decides. */
export function espKernelPlace(): 'guest' | 'host' {
  const forced = process.env['IKEWAY_ESP_KERNEL'];
  if (forced === 'guest' || forced === 'host') return forced;
  return hostHasEsp() ? 'host' : 'guest';
}

/** Runs the command where a kernel with ESP is: directly on the host if it has one, else in the guest. */
export async function withEspKernel(opts: RunOptions): Promise<RunResult> {
  return espKernelPlace() === 'guest' ? runInGuest(opts) : runOnHost(opts);
}

/** The host twin of runInGuest, same options and result shape (memory/smp/modules ignored). */
export function runOnHost(opts: RunOptions): Promise<RunResult> {
  const started = Date.now();
  const line = commandLine(opts);
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  return new Promise((resolve, reject) => {
    // Its own process group, so a timeout kills the command's children too (their open pipes
    // would otherwise keep 'close' from ever firing).
    const child = spawn('/bin/sh', ['-c', line], {
      cwd: opts.cwd ?? process.cwd(),
      env: { ...process.env, ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    const killGroup = (): void => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    };
    process.once('exit', killGroup);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString('utf8')));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString('utf8')));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup();
    }, timeoutMs);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      process.removeListener('exit', killGroup);
      if (timedOut) return reject(new GuestError('GUEST_TIMEOUT', `command killed after ${timeoutMs} ms`));
      const status = code ?? 128 + (signal ? osConstants.signals[signal] : 0);
      resolve({
        status,
        stdout,
        stderr,
        console: '',
        outputDir: '',
        where: 'host',
        bootMs: 0,
        wallMs: Date.now() - started,
        queuedMs: 0,
        lockups: [],
      });
    });
  });
}
