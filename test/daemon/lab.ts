// Test helpers: throwaway network namespaces joined by a veth pair (addresses from 192.0.2.0/24),
// policy files in a temp dir, and daemons run as child processes inside the namespaces. Everything
// is named with the pid and torn down by `close()` (call it from t.after / finally).
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '../..');
export const BIN = join(ROOT, 'bin/ikeway.js');
export const PSK = 'daemon-test-psk-Zq8vN3xW7pL2';
export const isRoot = process.getuid?.() === 0;

let seq = 0;

export function ip(...args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8' });
}

export function nsExec(ns: string, cmd: string[]): string {
  return execFileSync('ip', ['netns', 'exec', ns, ...cmd], { encoding: 'utf8' });
}

export interface Side {
  readonly ns: string;
  readonly addr: string;
  readonly dir: string;
  readonly config: string;
  readonly socket: string;
}

export interface ConnSpec {
  readonly name: string;
  readonly remote: string;
  readonly local: string;
  readonly remoteNet: string;
  readonly start?: string;
  readonly extra?: string;
}

export function configText(addr: string, conns: readonly ConnSpec[], extraGlobal = ''): string {
  const body = conns
    .map(
      (c) =>
        `  ${c.name}:\n    remote: ${c.remote}\n    auth: { psk: { file: psk } }\n` +
        `    local-subnets: [${c.local}]\n    remote-subnets: [${c.remoteNet}]\n` +
        `    start: ${c.start ?? 'now'}\n    liveness: false\n${c.extra ?? ''}`,
    )
    .join('');
  return (
    `log: { level: debug, format: text }\ncontrol-socket: ./ctl.sock\nstate-dir: ./state\n` +
    `retransmit: { timeout: 500ms, tries: 3, base: 1.5 }\n${extraGlobal}` +
    `local: { address: ${addr} }\nconnections:\n${body}`
  );
}

export class Lab {
  readonly id = `ikwd${process.pid}x${++seq}`;
  readonly sides: Side[] = [];
  readonly #procs = new Set<ChildProcess>();
  readonly #dirs: string[] = [];
  readonly #extraNs: string[] = [];

  /** One namespace per address, all on one bridge (in a namespace of its own), a /24 between them. */
  constructor(addrs: readonly string[]) {
    if (addrs.length < 1 || addrs.length > 8) throw new RangeError('1..8 sides');
    const br = `${this.id}br`;
    this.#extraNs.push(br);
    ip('netns', 'add', br);
    nsExec(br, ['ip', 'link', 'add', 'br0', 'type', 'bridge']);
    nsExec(br, ['ip', 'link', 'set', 'br0', 'up']);
    addrs.forEach((addr, i) => {
      const ns = `${this.id}${String.fromCharCode(97 + i)}`;
      ip('netns', 'add', ns);
      nsExec(ns, ['ip', 'link', 'set', 'lo', 'up']);
      const dir = mkdtempSync(join(tmpdir(), `${ns}-`));
      this.#dirs.push(dir);
      writeFileSync(join(dir, 'psk'), PSK, { mode: 0o600 });
      chmodSync(dir, 0o700);
      this.sides.push({ ns, addr, dir, config: join(dir, 'ikeway.yaml'), socket: join(dir, 'ctl.sock') });
      ip('link', 'add', 'eth0', 'netns', ns, 'type', 'veth', 'peer', 'name', `p${i}`, 'netns', br);
      nsExec(br, ['ip', 'link', 'set', `p${i}`, 'master', 'br0', 'up']);
      nsExec(ns, ['ip', 'addr', 'add', `${addr}/24`, 'dev', 'eth0']);
      nsExec(ns, ['ip', 'link', 'set', 'eth0', 'up']);
    });
  }

  side(i: number): Side {
    const s = this.sides[i];
    if (!s) throw new RangeError(`no side ${i}`);
    return s;
  }

  writeConfig(i: number, text: string): void {
    writeFileSync(this.side(i).config, text, { mode: 0o600 });
  }

  /**
   * Starts `ikeway daemon` in side i's namespace; resolves once it logged "ready" (or rejects).
   * `hostsFile`: the daemon sees this file as /etc/hosts (a bind mount in a private mount namespace
   * of its own, so the test controls what names resolve to without touching the system's file).
   * `bin`: another entry point, e.g. the bundled CLI (lab/guest/bundle.ts), which starts in about a
   * second where bin/ikeway.js (tsx) takes several on a loaded machine.
   */
  startDaemon(
    i: number,
    kernel: 'memory' | 'xfrm',
    extraArgs: string[] = [],
    opts: { readonly hostsFile?: string; readonly bin?: string } = {},
  ): Promise<Daemon> {
    const s = this.side(i);
    const daemon = [
      process.execPath,
      opts.bin ?? BIN,
      'daemon',
      '-c',
      s.config,
      '--kernel',
      kernel,
      ...extraArgs,
    ];
    const wrapped = opts.hostsFile
      ? [
          'unshare',
          '-m',
          '--propagation',
          'private',
          'sh',
          '-c',
          'mount --bind "$0" /etc/hosts && exec "$@"',
          opts.hostsFile,
          ...daemon,
        ]
      : daemon;
    const proc = spawn('ip', ['netns', 'exec', s.ns, ...wrapped], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.#procs.add(proc);
    const d = new Daemon(proc, s);
    proc.on('exit', () => this.#procs.delete(proc));
    return d.waitFor(/ ready /, 20_000).then(() => d);
  }

  close(): void {
    for (const p of this.#procs) p.kill('SIGKILL');
    for (const ns of [...this.sides.map((s) => s.ns), ...this.#extraNs]) {
      try {
        ip('netns', 'del', ns);
      } catch {
        // already gone
      }
    }
    for (const d of this.#dirs) rmSync(d, { recursive: true, force: true });
  }
}

/** A daemon child process with its collected log (stderr) and stdout. */
export class Daemon {
  log = '';
  readonly exited: Promise<number | null>;
  readonly #waiters = new Set<() => void>();

  constructor(
    readonly proc: ChildProcess,
    readonly side: Side,
  ) {
    const add = (b: Buffer) => {
      this.log += b.toString('utf8');
      for (const w of [...this.#waiters]) w();
    };
    proc.stderr?.on('data', add);
    proc.stdout?.on('data', add);
    this.exited = new Promise((res) => proc.on('exit', (code) => res(code)));
    void this.exited.then(() => {
      for (const w of [...this.#waiters]) w();
    });
  }

  /** Resolves when the log matches `re` (searching from `from`); rejects after `ms` or on exit. */
  waitFor(re: RegExp, ms: number, from = 0): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (re.test(this.log.slice(from))) done();
        else if (this.proc.exitCode !== null || this.proc.signalCode !== null)
          done(new Error(`daemon exited before ${re}:\n${this.log}`));
      };
      const t = setTimeout(() => done(new Error(`timeout waiting for ${re}:\n${this.log}`)), ms);
      const done = (e?: Error) => {
        clearTimeout(t);
        this.#waiters.delete(check);
        if (e) reject(e);
        else resolve();
      };
      this.#waiters.add(check);
      check();
    });
  }
}

/** Runs the CLI (in the host namespace: the control socket is a file path) and returns its output. */
export function cli(args: string[]): { code: number; stdout: string; stderr: string } {
  try {
    const stdout = execFileSync(process.execPath, [BIN, ...args], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 30_000,
    });
    return { code: 0, stdout, stderr: '' };
  } catch (e) {
    const x = e as { status?: number; stdout?: string; stderr?: string };
    return { code: x.status ?? -1, stdout: x.stdout ?? '', stderr: x.stderr ?? '' };
  }
}
