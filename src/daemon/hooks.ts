// Hook programs: a connection's `hook` runs on tunnel events (child up/down/rekeyed, IKE up/down/
// rekeyed, liveness failure) with the facts in IKEWAY_* environment variables and as one JSON object
// on stdin. Never any key material, and never the daemon's own environment (a PSK may live there).
//
// The tunnel never waits for a hook: engine events only enqueue (the spawn happens on a later turn),
// a program runs at most once at a time per Child SA (per IKE SA for IKE events), further events of
// the same kind queued meanwhile merge into one, and a program that fails, hangs (killed with its
// process group at its time limit) or cannot be spawned is logged and counted, nothing else.
import { spawn as nodeSpawn, type ChildProcess } from 'node:child_process';
import type { Counters } from '../base/counters.ts';
import type { Logger } from '../base/logger.ts';
import type { Hook, HookEvent } from '../config/types.ts';
import { formatId } from '../creds/index.ts';
import type { ChildSa } from '../ike/child-sa.ts';
import type { IkeSa } from '../ike/ike-sa.ts';
import { formatProposal } from '../ike/proposal-string.ts';
import type { EngineEvent } from '../ike/services.ts';
import { formatTs } from '../ike/traffic-selectors.ts';
import { failureReason } from './conn-events.ts';

/** What a hook is told: addresses, identities, selectors, SPIs and algorithms, never a key. */
export interface HookFacts {
  readonly event: HookEvent;
  readonly connection: string;
  readonly child?: string;
  readonly localAddr: string;
  readonly localPort: number;
  readonly remoteAddr: string;
  readonly remotePort: number;
  readonly localId: string;
  readonly remoteId?: string;
  /** IKE SPIs as 16 hex digits. */
  readonly ikeSpiI: string;
  readonly ikeSpiR: string;
  readonly ikeAlgorithms?: string;
  readonly mode?: 'tunnel' | 'transport';
  readonly localTs?: readonly string[];
  readonly remoteTs?: readonly string[];
  /** ESP SPIs as 8 hex digits. */
  readonly spiIn?: string;
  readonly spiOut?: string;
  readonly espAlgorithms?: string;
  readonly reqid?: number;
  readonly ifId?: number;
  /** value/mask in hex, e.g. 0x2a/0xffffffff. */
  readonly mark?: string;
  readonly reason?: string;
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const spiHex = (n: number) => n.toString(16).padStart(8, '0');

export function factsOf(event: HookEvent, sa: IkeSa, child?: ChildSa, reason?: string): HookFacts {
  const c = sa.config;
  const base = {
    event,
    connection: c.name,
    localAddr: sa.path.localAddr,
    localPort: sa.path.localPort,
    remoteAddr: sa.path.remoteAddr,
    remotePort: sa.path.remotePort,
    localId: formatId(c.localId),
    ...(sa.peerId ? { remoteId: formatId(sa.peerId) } : {}),
    ikeSpiI: hex(sa.spiI),
    ikeSpiR: hex(sa.spiR),
    ...(sa.proposal ? { ikeAlgorithms: formatProposal(sa.proposal) } : {}),
    ...(c.ifId !== undefined ? { ifId: c.ifId } : {}),
    ...(c.mark ? { mark: `0x${c.mark.value.toString(16)}/0x${c.mark.mask.toString(16)}` } : {}),
    ...(reason !== undefined ? { reason } : {}),
  };
  if (!child) return base;
  return {
    ...base,
    child: child.name,
    mode: child.mode,
    localTs: child.localTs.map(formatTs),
    remoteTs: child.remoteTs.map(formatTs),
    spiIn: spiHex(child.spiIn),
    spiOut: spiHex(child.spiOut),
    ...(child.proposal ? { espAlgorithms: formatProposal(child.proposal) } : {}),
    reqid: child.reqid,
    // A child's own if_id and mark (children:), else the connection's.
    ...(child.config.ifId !== undefined ? { ifId: child.config.ifId } : {}),
    ...(child.config.mark
      ? { mark: `0x${child.config.mark.value.toString(16)}/0x${child.config.mark.mask.toString(16)}` }
      : {}),
  };
}

/** Minimal PATH; nothing else of the daemon's environment is passed on. */
const HOOK_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** IKEWAY_EVENT, IKEWAY_LOCAL_ADDR ...: camelCase fact names in SCREAMING_SNAKE, lists space-separated. */
export function hookEnv(f: HookFacts): Record<string, string> {
  const env: Record<string, string> = { PATH: HOOK_PATH };
  for (const [k, v] of Object.entries(f) as [string, unknown][]) {
    if (v === undefined) continue;
    const name = 'IKEWAY_' + k.replace(/([a-z])([A-Z])/g, '$1_$2').toUpperCase();
    env[name] = Array.isArray(v) ? v.join(' ') : String(v);
  }
  return env;
}

interface Job {
  readonly hook: Hook;
  facts: HookFacts;
}

interface Lane {
  running: boolean;
  readonly pending: Job[];
}

export interface HookRunnerOptions {
  readonly log: Logger;
  readonly counters: Counters;
  /** The connection's hook as configured now (reloads change it). */
  readonly hookOf: (connection: string) => Hook | undefined;
  readonly spawn?: typeof nodeSpawn;
  /** Queued events per lane beyond which the oldest are merged away. Default 8. */
  readonly maxQueue?: number;
}

/** Bytes of a failed program's stderr kept for the log line. */
const STDERR_KEEP = 400;

export class HookRunner {
  readonly #o: HookRunnerOptions;
  readonly #spawn: typeof nodeSpawn;
  readonly #maxQueue: number;
  readonly #lanes = new Map<string, Lane>();
  /** Installed Child SAs per lane: a rekey installs the successor before the old one goes. */
  readonly #live = new Map<string, Set<ChildSa>>();
  readonly #established = new WeakSet<IkeSa>();
  readonly #replaced = new WeakSet<IkeSa>();
  readonly #idle: (() => void)[] = [];
  #active = 0;

  constructor(o: HookRunnerOptions) {
    this.#o = o;
    this.#spawn = o.spawn ?? nodeSpawn;
    this.#maxQueue = o.maxQueue ?? 8;
  }

  /** Programs running now. */
  get running(): number {
    return this.#active;
  }

  /** Engine events in; returns at once (nothing here waits for a program). */
  onEvent(e: EngineEvent): void {
    const sa = e.sa;
    // Most connections have no hook: nothing to build or remember for their events.
    if (!this.#o.hookOf(sa.config.name)) return;
    const ikeLane = `${sa.config.name}|${sa.path.remoteAddr}|ike`;
    switch (e.type) {
      case 'ike-established':
        this.#established.add(sa);
        return this.#fire(ikeLane, factsOf('ike-up', sa));
      case 'ike-rekeyed':
        this.#established.add(sa);
        this.#replaced.add(e.old);
        return this.#fire(ikeLane, factsOf('ike-rekeyed', sa));
      case 'ike-failed':
        // An established SA that stopped answering: the liveness check (RFC 7296 §2.4) failed.
        if (this.#established.has(sa) && failureReason(e.reason) === 'timeout')
          this.#fire(ikeLane, factsOf('liveness-failure', sa, undefined, e.reason));
        return;
      case 'ike-destroyed':
        if (this.#established.has(sa) && !this.#replaced.has(sa))
          this.#fire(ikeLane, factsOf('ike-down', sa));
        return;
      case 'child-installed': {
        const lane = childLane(sa, e.child);
        let live = this.#live.get(lane);
        if (!live) this.#live.set(lane, (live = new Set()));
        const first = live.size === 0;
        live.add(e.child);
        // A rekey's successor is announced by child-rekeyed, not as a second "up".
        if (first) this.#fire(lane, factsOf('child-up', sa, e.child));
        return;
      }
      case 'child-rekeyed':
        return this.#fire(childLane(sa, e.child), factsOf('child-rekeyed', sa, e.child));
      case 'child-destroyed': {
        const lane = childLane(sa, e.child);
        const live = this.#live.get(lane);
        if (!live?.delete(e.child)) return; // never installed: no "up" was told
        if (live.size > 0) return; // the rekeyed one went; its successor carries on
        this.#live.delete(lane);
        return this.#fire(lane, factsOf('child-down', sa, e.child));
      }
      case 'child-failed':
        return;
    }
  }

  /** Resolves once no program runs and none is queued (tests; shutdown). */
  idle(): Promise<void> {
    if (this.#active === 0 && this.#lanes.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  /** Queues `facts` on `lane` if the connection has a hook for this event. */
  #fire(lane: string, facts: HookFacts): void {
    const hook = this.#o.hookOf(facts.connection);
    if (!hook || !hook.events.includes(facts.event)) return;
    let l = this.#lanes.get(lane);
    if (!l) this.#lanes.set(lane, (l = { running: false, pending: [] }));
    const last = l.pending.at(-1);
    if (last && last.facts.event === facts.event && last.hook === hook) {
      last.facts = facts; // the newest facts of the same kind of event win
      this.#o.counters.inc('hook.coalesced');
    } else {
      l.pending.push({ hook, facts });
      while (l.pending.length > this.#maxQueue) {
        l.pending.shift();
        this.#o.counters.inc('hook.coalesced');
      }
    }
    if (!l.running) this.#next(lane, l);
  }

  #next(lane: string, l: Lane): void {
    const job = l.pending.shift();
    if (!job) {
      this.#lanes.delete(lane);
      if (this.#active === 0 && this.#lanes.size === 0) for (const f of this.#idle.splice(0)) f();
      return;
    }
    l.running = true;
    this.#active++;
    // On a later turn: the engine's event handler returns before any fork.
    setImmediate(() => {
      this.#run(job, () => {
        this.#active--;
        l.running = false;
        this.#next(lane, l);
      });
    });
  }

  #run(job: Job, done: () => void): void {
    const { hook, facts } = job;
    const fields = {
      component: 'hook',
      program: hook.program,
      event: facts.event,
      connection: facts.connection,
    };
    let finished = false;
    let timedOut = false;
    const timer: { handle?: NodeJS.Timeout } = {};
    let proc: ChildProcess;
    const finish = (failure: string | undefined, stderr = '') => {
      if (finished) return;
      finished = true;
      if (timer.handle) clearTimeout(timer.handle);
      proc.stdout?.destroy();
      proc.stderr?.destroy();
      if (failure !== undefined) {
        this.#o.counters.inc('hook.failed');
        this.#o.log.log('warn', `hook failed: ${failure}`, {
          ...fields,
          ...(stderr !== '' ? { stderr: stderr.slice(0, STDERR_KEEP) } : {}),
        });
      } else this.#o.log.log('debug', 'hook ran', fields);
      done();
    };
    this.#o.counters.inc('hook.started');
    try {
      proc = this.#spawn(hook.program, [facts.event], {
        env: hookEnv(facts),
        stdio: ['pipe', 'ignore', 'pipe'],
        detached: true, // its own process group, so a timeout kills what it started too
      });
    } catch (e) {
      proc = {} as ChildProcess;
      finish(`cannot spawn: ${e instanceof Error ? e.message : String(e)}`);
      return;
    }
    let stderr = '';
    proc.stderr?.on('data', (d: Buffer) => {
      if (stderr.length < STDERR_KEEP) stderr += d.toString('utf8');
    });
    proc.stderr?.on('error', () => undefined);
    proc.on('error', (e) => finish(`cannot spawn: ${e.message}`));
    proc.on('exit', (code, signal) => {
      if (timedOut) return finish(`killed after ${hook.timeoutMs} ms`, stderr);
      if (code === 0) return finish(undefined);
      finish(code !== null ? `exit status ${code}` : `killed by ${signal ?? 'a signal'}`, stderr);
    });
    timer.handle = setTimeout(() => {
      timedOut = true;
      this.#o.counters.inc('hook.timed_out');
      killGroup(proc);
    }, hook.timeoutMs);
    proc.stdin?.on('error', () => undefined); // a program that does not read stdin closes it early
    proc.stdin?.end(JSON.stringify(facts) + '\n');
  }
}

function childLane(sa: IkeSa, child: ChildSa): string {
  return `${sa.config.name}|${sa.path.remoteAddr}|${child.name}|${child.reqid}`;
}

function killGroup(proc: ChildProcess): void {
  if (proc.pid === undefined) return;
  try {
    process.kill(-proc.pid, 'SIGKILL');
  } catch {
    proc.kill('SIGKILL');
  }
}
