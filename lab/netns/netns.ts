// Network-namespace helpers for tests and labs: create, run commands inside, veth links, teardown.
// Every namespace made here carries the prefix `ikw` plus a caller tag and the pid, so a crashed
// run's leftovers are recognisable and `cleanupStale()` can remove them.
import { execFileSync, spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process';

export class NetnsError extends Error {
  readonly code = 'NETNS_ERROR';
  constructor(
    message: string,
    readonly command: readonly string[],
    readonly stderr: string,
  ) {
    super(`${message}: ${command.join(' ')}: ${stderr.trim()}`);
    this.name = 'NetnsError';
  }
}

/** Runs a command on the host, throwing NetnsError with its stderr when it fails. */
export function sh(cmd: string, args: readonly string[], input?: string): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', input, timeout: 30_000 });
  if (r.status !== 0)
    throw new NetnsError(`exit ${r.status ?? r.signal}`, [cmd, ...args], r.stderr ?? String(r.error));
  return r.stdout;
}

export class Netns {
  private closed = false;
  private constructor(readonly name: string) {}

  /** Creates `ikw-<tag>-<pid>-<n>` with loopback up. */
  static create(tag: string): Netns {
    const name = `ikw-${tag}-${process.pid}-${Netns.counter++}`;
    sh('ip', ['netns', 'add', name]);
    const ns = new Netns(name);
    ns.ip('link', 'set', 'lo', 'up');
    return ns;
  }
  private static counter = 0;

  /** Runs `cmd args` inside the namespace, synchronously; returns stdout. */
  exec(cmd: string, ...args: string[]): string {
    return sh('ip', ['netns', 'exec', this.name, cmd, ...args]);
  }

  /** Like exec but returns status and output instead of throwing. */
  tryExec(cmd: string, ...args: string[]): { status: number | null; stdout: string; stderr: string } {
    const r = spawnSync('ip', ['netns', 'exec', this.name, cmd, ...args], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
  }

  /** `ip ...` inside the namespace. */
  ip(...args: string[]): string {
    return sh('ip', ['-n', this.name, ...args]);
  }

  /** Starts a long-running process inside the namespace. The caller must kill it. */
  spawn(cmd: string, args: readonly string[], opts: SpawnOptions = {}): ChildProcess {
    return spawn('ip', ['netns', 'exec', this.name, cmd, ...args], { stdio: 'pipe', ...opts });
  }

  /** Runs a TypeScript file inside the namespace with node+tsx; resolves with its output. */
  runTs(
    file: string,
    args: readonly string[] = [],
    timeoutMs = 60_000,
  ): { status: number | null; stdout: string; stderr: string } {
    const r = spawnSync(
      'ip',
      ['netns', 'exec', this.name, process.execPath, '--import', 'tsx', file, ...args],
      {
        encoding: 'utf8',
        timeout: timeoutMs,
      },
    );
    return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
  }

  delete(): void {
    if (this.closed) return;
    this.closed = true;
    // Kill anything still running in the namespace, then remove it.
    spawnSync('ip', ['netns', 'pids', this.name], { encoding: 'utf8' })
      .stdout?.split('\n')
      .filter(Boolean)
      .forEach((pid) => spawnSync('kill', ['-9', pid]));
    spawnSync('ip', ['netns', 'del', this.name]);
  }
}

/**
 * Joins two namespaces with a veth pair and gives each end an address (CIDR notation).
 * Interface names are short (15 chars max) and unique per call.
 */
export function linkVeth(
  a: Netns,
  aAddr: string,
  b: Netns,
  bAddr: string,
  names = vethNames(),
): [string, string] {
  const [an, bn] = names;
  sh('ip', ['link', 'add', an, 'netns', a.name, 'type', 'veth', 'peer', 'name', bn, 'netns', b.name]);
  for (const [ns, dev, addr] of [
    [a, an, aAddr],
    [b, bn, bAddr],
  ] as const) {
    ns.ip('addr', 'add', addr, 'dev', dev, ...(addr.includes(':') ? ['nodad'] : []));
    ns.ip('link', 'set', dev, 'up');
  }
  return [an, bn];
}

let vethCounter = 0;
function vethNames(): [string, string] {
  const id = `${(process.pid % 100000).toString(36)}${(vethCounter++).toString(36)}`;
  return [`va${id}`, `vb${id}`];
}

/** Removes namespaces left by earlier runs whose process is gone (name ikw-*-<pid>-*). */
export function cleanupStale(): string[] {
  const removed: string[] = [];
  const list = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  for (const line of list.split('\n')) {
    const m = /^(ikw-[\w-]*?-(\d+)-\d+)/.exec(line);
    if (!m) continue;
    const pid = Number(m[2]);
    if (pidAlive(pid)) continue;
    spawnSync('ip', ['netns', 'del', m[1]!]);
    removed.push(m[1]!);
  }
  return removed;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
