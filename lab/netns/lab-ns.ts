// The lab's handle on one of its namespaces. Labs make and remove their namespaces with one shell
// script each (two-site/lab.ts): in the TCG guest every process start costs ~0.2 s, so a lab built with one
// `sh` is several times faster than one built command by command. Names follow netns.ts's
// convention (`ikw-<tag>-<pid>-<n>`) so `cleanupStale()` recognises a crashed run's leftovers.
import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { NetnsError, sh } from './netns.ts';

export interface ExecResult {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export class LabNs {
  constructor(
    readonly name: string,
    /** The role in the lab: router-a, host-b, nat ... */
    readonly role: string,
  ) {}

  /** Runs `cmd args` inside the namespace; returns stdout, throws NetnsError on failure. */
  exec(cmd: string, ...args: string[]): string {
    return sh('ip', ['netns', 'exec', this.name, cmd, ...args]);
  }

  tryExec(cmd: string, ...args: string[]): ExecResult {
    const r = spawnSync('ip', ['netns', 'exec', this.name, cmd, ...args], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
  }

  /** `ip ...` inside the namespace. */
  ip(...args: string[]): string {
    return sh('ip', ['-n', this.name, ...args]);
  }

  /** A long-running process inside the namespace; the lab's teardown kills what is left. */
  spawn(cmd: string, args: readonly string[], opts: SpawnOptions = {}): ChildProcess {
    return spawn('ip', ['netns', 'exec', this.name, cmd, ...args], { stdio: 'pipe', ...opts });
  }
}

let counter = 0;
/** Namespaces made by this process and not yet removed, for signal handlers (removeAllLabNamespaces). */
const live = new Set<string>();

/** A fresh namespace name for this process: `ikw-<tag>-<pid>-<n>`, tag letters and digits only. */
export function labNsName(tag: string): string {
  if (!/^[a-z0-9]{1,16}$/.test(tag)) throw new NetnsError('bad namespace tag', [tag], 'use 1-16 of [a-z0-9]');
  const name = `ikw-${tag}-${process.pid}-${counter++}`;
  live.add(name);
  return name;
}

/** Shell lines that kill every process in the namespaces and delete them all in parallel. */
export function teardownScript(names: readonly string[]): string {
  const lines = names.map(
    (n) => `for p in $(ip netns pids ${n} 2>/dev/null); do kill -9 "$p" 2>/dev/null; done`,
  );
  lines.push(...names.map((n) => `ip netns del ${n} 2>/dev/null &`), 'wait', 'true');
  return lines.join('\n') + '\n';
}

/** Runs teardownScript; never throws (a namespace that is already gone is fine). */
export function removeNamespaces(names: readonly string[]): void {
  if (names.length === 0) return;
  spawnSync('sh', ['-c', teardownScript(names)], { timeout: 60_000 });
  names.forEach((n) => live.delete(n));
}

/** Removes every lab namespace this process still has (SIGINT/SIGTERM handlers of the CLI). */
export function removeAllLabNamespaces(): void {
  removeNamespaces([...live]);
}
