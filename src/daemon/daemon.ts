// The ikeway daemon: config -> kernel (ownership, bypass, fail-closed policies, reconcile) -> UDP ->
// engine -> control socket -> start actions, then "ready". Reload (SIGHUP or `ikeway reload`) is
// atomic (reloader.ts). Stop (SIGTERM) deletes our SAs and policies, bounded in time. See
// src/daemon/README.md for the fail-closed design. The parts: registry.ts (connections, start
// actions), commands.ts (up/down/rekey/terminate), reloader.ts, runtime.ts (kernel, bypass,
// sockets), status.ts; every policy is the policy owner's (src/ike/spd).
import { formatProblem, loadConfig, type Config, type Connection } from '../config/index.ts';
import { TransformType } from '../codec/index.ts';
import { KeyExchangePool, lookupKeGroup } from '../crypto/index.ts';
import { PUZZLE_DEFAULTS, type IkeConnection } from '../ike/config.ts';
import { RealClock, type Clock } from '../base/clock.ts';
import { Counters } from '../base/counters.ts';
import { RevocationChecker } from '../creds/index.ts';
import { Engine } from '../ike/engine.ts';
import { Spd } from '../ike/spd/spd.ts';
import type { Logger } from '../base/logger.ts';
import type { Kernel } from '../kernel/types.ts';
import type { EngineEvent } from '../ike/services.ts';
import { TimerQueue } from '../base/timers.ts';
import { down, rekey, up, type UpResult } from './commands.ts';
import { ConnectionRegistry } from './registry.ts';
import { PeerResolver } from './peer-resolve.ts';
import { systemResolverAsync, type AsyncResolver } from '../config/resolve.ts';
import { HookRunner } from './hooks.ts';
import { applyReload, readForReload, type ReloadReport } from './reloader.ts';
import {
  bounded,
  closeRuntime,
  installBypass,
  openKernel,
  openTransport,
  MEMORY_KERNEL_WARNING,
  type KernelKind,
  type Runtime,
} from './runtime.ts';
import type { StatusReport } from '../control/status-types.ts';
import { ControlError } from '../control/protocol.ts';
import { buildStatus, type SaTimes } from './status.ts';
import { debugKeysWarning } from './keylog.ts';
import { countKernelErrors, ikeBypassPolicies } from '../kernel/index.ts';
import { failClosedPolicies } from './connections.ts';
import { readPlanConfig, type IntrospectHost } from './introspect.ts';
import { openInterfaces, type TunnelInterfaces } from './interfaces.ts';
import { readRcvbufDrops } from '../net/rcvbuf.ts';
import { DaemonHa } from './ha.ts';

const rcvbuf = (n: number | undefined) => (n === undefined ? {} : { rcvbufDrops: n });

export type { UpResult } from './commands.ts';
export type { ReloadReport } from './reloader.ts';

export interface DaemonOptions {
  readonly configFile: string;
  readonly kernel: KernelKind;
  readonly logger: Logger;
  /** Called when the config sets log level/format (at start and on reload), unless overridden. */
  readonly applyLogSettings?: (c: Config) => void;
  readonly env?: NodeJS.ProcessEnv;
  /** First re-initiation delay of every start: now connection (default: each connection's retry.initial). */
  readonly retryMs?: number;
  readonly version?: string;
  readonly clock?: Clock;
  /** Runs after the config is valid and before the kernel is touched (e.g. claim the control socket). */
  readonly onConfig?: (c: Config) => Promise<void>;
  /** Around every reload (systemd RELOADING=1 / READY=1). */
  readonly onReload?: (phase: 'begin' | 'end') => void;
  /** Wraps the kernel the engine and the daemon use (debug-keys: keylog.ts). */
  readonly wrapKernel?: (k: Kernel) => Kernel;
  /** Resolves named peers before each (re)initiation (default: the system's getaddrinfo). */
  readonly resolvePeer?: AsyncResolver;
}

export class Daemon {
  readonly #o: DaemonOptions;
  readonly #log: Logger;
  readonly #timers: TimerQueue;
  readonly #counters = new Counters();
  #rcvbufSeen = 0;
  readonly #times: SaTimes = { ike: new WeakMap(), child: new WeakMap() };
  #conns!: ConnectionRegistry;
  #hooks: HookRunner | undefined;
  /** This node of an HA pair (config ha:), if any. */
  #ha: DaemonHa | undefined;
  #config: Config;
  #rt!: Runtime;
  #engine!: Engine;
  #stopping = false;
  #startedAt: number;
  readonly #startedWall = Date.now();
  #serial: Promise<unknown> = Promise.resolve();
  /** Owner of route-based tunnels' interfaces and routes (xfrm kernel only). */
  #ifaces: TunnelInterfaces | undefined;
  /** Installed Child SAs per connection: routes go in with the first and out with the last. */
  readonly #liveChildren = new Map<string, Set<object>>();
  /** The route change running or queued last per connection (#syncRoutes). */
  readonly #routeWork = new Map<string, Promise<void>>();

  private constructor(o: DaemonOptions, config: Config) {
    this.#o = o;
    this.#log = o.logger;
    this.#config = config;
    this.#timers = new TimerQueue(o.clock ?? new RealClock(), {
      onError: (e) => this.#log.log('error', 'timer failed', { component: 'daemon', error: String(e) }),
    });
    this.#startedAt = this.#timers.now();
  }

  get config(): Config {
    return this.#config;
  }
  get engine(): Engine {
    return this.#engine;
  }
  get runtime(): Runtime {
    return this.#rt;
  }

  /** Loads the config (ConfigErrors on problems, nothing started) and brings everything up. */
  static async start(o: DaemonOptions): Promise<Daemon> {
    const { config, warnings } = loadConfig(o.configFile, o.env ? { env: o.env } : {});
    o.applyLogSettings?.(config);
    await o.onConfig?.(config);
    for (const w of warnings) o.logger.log('warn', formatProblem(w), { component: 'config' });
    const d = new Daemon(o, config);
    try {
      await d.#bringUp();
    } catch (e) {
      await d.#teardown().catch(() => undefined);
      throw e;
    }
    return d;
  }

  async #bringUp(): Promise<void> {
    const c = this.#config;
    const log = (m: string, f = {}) => this.#log.log('info', m, { component: 'daemon', ...f });
    const opened = await openKernel(this.#o.kernel, c, this.#log, this.#counters);
    const { owned } = opened;
    const kernel = countKernelErrors(
      this.#o.wrapKernel ? this.#o.wrapKernel(opened.kernel) : opened.kernel,
      this.#counters,
    );
    this.#rt = { kind: this.#o.kernel, kernel, owned, transport: undefined as never };
    const spd = new Spd(kernel, this.#log);
    this.#conns = new ConnectionRegistry({
      spd,
      // One revocation cache for the daemon: CRLs and OCSP answers are shared by all connections.
      revocation: new RevocationChecker({ counters: this.#counters, logger: this.#log }),
      timers: this.#timers,
      log: this.#log,
      ...(this.#o.retryMs !== undefined ? { retryMs: this.#o.retryMs } : {}),
      stopping: () => this.#stopping,
    });
    await installBypass(kernel, c);
    // Interfaces before any SA or policy: a name taken by another interface stops the start here.
    this.#ifaces = await openInterfaces(this.#o.kernel, c, this.#log);
    for (const conn of c.connections) await this.#ifaces?.ensure(conn);
    // Fail-closed first, then reconcile: a killed run's policies are replaced in place, never
    // deleted before ours stand (OwnedKernel.reconcile keeps what this run owns again).
    for (const conn of c.connections) await this.#conns.add(conn);
    if (owned) {
      const removed = await owned.reconcile();
      if (removed.length > 0) log('removed leftovers of a previous run', { objects: removed.length });
    }
    const stale = (await this.#ifaces?.reconcile()) ?? 0;
    if (stale > 0) log('removed interfaces and routes of a previous run', { objects: stale });
    const transport = await openTransport(this.#o.kernel, c, this.#counters, this.#log);
    this.#rt = { ...this.#rt, transport };
    const connections = this.#conns.values().map((s) => s.ike);
    this.#engine = new Engine({
      transport,
      kernel,
      spd,
      timers: this.#timers,
      connections,
      // Key pairs made between exchanges, so an IKE_SA_INIT pays for the DH only (not the keygen).
      pool: new KeyExchangePool({ groups: keGroups(connections), size: 16 }),
      options: {
        cookieThreshold: c.cookieThreshold,
        halfOpenLimit: c.limits.halfOpen,
        ikeSasPerPeer: c.limits.ikeSasPerPeer,
        halfOpenPerSource: c.limits.halfOpenPerSource,
        halfOpenReserved: c.limits.halfOpenReserved,
        puzzles: { ...PUZZLE_DEFAULTS, ...c.limits.puzzles },
        retransmit: c.retransmit,
        // An HA node keeps Child SA keys to sync them to the other node (src/ha/).
        retainChildKeys: c.ha !== undefined,
      },
      logger: this.#log,
      counters: this.#counters,
      ports: transport.ports,
    });
    this.#conns.attach(this.#engine);
    const peers = new PeerResolver({
      resolve: this.#o.resolvePeer ?? systemResolverAsync,
      log: this.#log,
      counters: this.#counters,
      registry: this.#conns,
    });
    peers.attach(this.#engine);
    this.#conns.setRefresh((name) => peers.refresh(name));
    this.#engine.onEvent((e) => this.#onEngineEvent(e));
    const hooks = new HookRunner({
      log: this.#log,
      counters: this.#counters,
      hookOf: (name) => this.#conns.get(name)?.conn.hook,
    });
    this.#hooks = hooks;
    this.#engine.onEvent((e) => hooks.onEvent(e));
    if (c.ha) this.#ha = await DaemonHa.open(c.ha, this.#engine, this.#timers, this.#log);
    // A standby starts nothing: the active node holds the tunnels (promote starts what is missing).
    if (!this.#ha || this.#ha.active) for (const s of this.#conns.values()) this.#conns.startAction(s);
    log('started', {
      kernel: this.#o.kernel,
      connections: c.connections.length,
      ike: transport.ports.ike,
      natt: transport.ports.natt,
    });
  }

  #onEngineEvent(e: EngineEvent): void {
    this.#conns.onEngineEvent(e); // start: now retries and their backoff
    const name = e.sa.config.name;
    switch (e.type) {
      case 'ike-established': // the engine logs it; keep the time for status
        this.#times.ike.set(e.sa, this.#timers.now());
        break;
      case 'child-installed':
        this.#times.child.set(e.child, this.#timers.now());
        this.#childUp(name, e.child);
        break;
      case 'child-destroyed':
        this.#childDown(name, e.child);
        break;
      case 'child-failed':
        this.#log.log('warn', 'CHILD SA failed', { component: 'daemon', sa: e.sa.name, reason: e.reason });
        break;
    }
  }

  #childUp(name: string, child: object): void {
    const set = this.#liveChildren.get(name) ?? new Set();
    this.#liveChildren.set(name, set);
    set.add(child);
    if (set.size === 1) this.#syncRoutes(name);
  }

  /** The connection's last Child SA is gone: its routes go, so traffic takes another path. */
  #childDown(name: string, child: object): void {
    const set = this.#liveChildren.get(name);
    if (!set?.delete(child) || set.size > 0 || this.#stopping) return;
    this.#syncRoutes(name);
  }

  /**
   * Routes follow the connection's live Child SAs, one change at a time per connection, each doing
   * what the live set asks for when it runs: a duplicate IKE SA's Child SA going while the kept one
   * comes up asks for up, down and up again, and run side by side over rtnetlink their requests
   * could interleave and leave the routes in either state.
   */
  #syncRoutes(name: string): void {
    const run = async (): Promise<void> => {
      const conn = this.#conns.get(name)?.conn;
      if (!conn?.interface || !this.#ifaces) return;
      if ((this.#liveChildren.get(name)?.size ?? 0) > 0)
        await this.#ifaces.routesUp(conn).catch((err: unknown) => this.#ifaceError(name, 'routes up', err));
      else if (!this.#stopping)
        await this.#ifaces
          .routesDown(conn)
          .catch((err: unknown) => this.#ifaceError(name, 'routes down', err));
    };
    const next = (this.#routeWork.get(name) ?? Promise.resolve()).then(run);
    this.#routeWork.set(name, next);
    void next.then(() => {
      if (this.#routeWork.get(name) === next) this.#routeWork.delete(name);
    });
  }

  #ifaceError(conn: string, what: string, err: unknown): void {
    this.#log.log('error', `${what} failed`, { component: 'iface', conn, error: String(err) });
  }

  /** Runs control operations one at a time (reload vs up/down never interleave). */
  #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.#serial.then(fn, fn);
    this.#serial = p.catch(() => undefined);
    return p;
  }

  up(name: string, waitMs = 15_000): Promise<UpResult> {
    return this.#exclusive(() => up(this.#engine, this.#conns, name, waitMs));
  }

  down(name: string): Promise<{ name: string; deleted: number }> {
    return this.#exclusive(() => down(this.#engine, this.#conns, name, this.#log));
  }

  /** Rekeys the connection's Child SAs or IKE SAs now (commands.ts); returns how many started. */
  rekey(name: string, what: 'child' | 'ike'): { name: string; what: string; started: number } {
    return rekey(this.#engine, this.#conns, name, what, this.#log);
  }

  /**
   * `ikeway ha promote|demote|status` (keepalived's notify hooks). Promote takes over the synced IKE
   * SAs, then starts the connections still without one; demote removes our SAs without a Delete.
   */
  ha(action: string): Promise<unknown> {
    const ha = this.#ha;
    if (!ha) throw new ControlError('ERR_BAD_ARGS', 'this node has no ha: section in its config');
    if (action === 'status') return Promise.resolve(ha.status());
    if (action !== 'promote' && action !== 'demote')
      throw new ControlError('ERR_BAD_ARGS', 'ha: action must be promote, demote or status');
    return this.#exclusive(async () => {
      if (action === 'demote') {
        const sas = await ha.node.demote(); // the role read after it: the answer says standby
        return { role: ha.node.role, sas };
      }
      const sas = await ha.node.promote();
      for (const s of this.#conns.values())
        if (this.#engine.sasOf(s.conn.name).length === 0) this.#conns.startAction(s);
      return { role: ha.node.role, sas };
    });
  }

  /** Validates the file completely first; on any problem nothing changes (ControlError ERR_CONFIG). */
  reload(): Promise<ReloadReport> {
    return this.#exclusive(async () => {
      this.#o.onReload?.('begin');
      try {
        return await this.#reload();
      } finally {
        this.#o.onReload?.('end');
      }
    });
  }

  async #reload(): Promise<ReloadReport> {
    const file = this.#o.configFile;
    const next = readForReload(file, this.#o.env, this.#log);
    const ctx = {
      engine: this.#engine,
      registry: this.#conns,
      log: this.#log,
      ...(this.#o.applyLogSettings ? { applyLogSettings: this.#o.applyLogSettings } : {}),
      ...(this.#ifaces ? { ifaces: this.#ifaces } : {}),
    };
    const { plan, started } = await applyReload(ctx, this.#config, next);
    this.#config = next;
    for (const s of started) this.#conns.startAction(s);
    this.#log.log('info', 'reloaded', {
      component: 'daemon',
      added: plan.added.join(',') || undefined,
      removed: plan.removed.join(',') || undefined,
      changed: plan.changed.join(',') || undefined,
      unchanged: plan.unchanged.length,
      restart_needed_for: plan.needRestart.join(',') || undefined,
    });
    return { file, ...plan };
  }

  async status(only?: string, opts: { kernelCounters?: boolean } = {}): Promise<StatusReport> {
    if (only !== undefined) this.#conns.known(only);
    const report = await this.#status(only, opts);
    return this.#ha ? { ...report, ha: this.#ha.status() } : report;
  }

  #status(only: string | undefined, opts: { kernelCounters?: boolean }): Promise<StatusReport> {
    return buildStatus({
      daemon: {
        version: this.#o.version ?? '0.0.0',
        pid: process.pid,
        uptimeSeconds: Math.round((this.#timers.now() - this.#startedAt) / 1000),
        config: this.#config.file,
        kernel: this.#rt.kind,
        ...(this.#rt.kind === 'memory' ? { kernelWarning: MEMORY_KERNEL_WARNING } : {}),
        ...(this.#config.debugKeys !== undefined
          ? { debugKeysWarning: debugKeysWarning(this.#config.debugKeys) }
          : {}),
        socket: this.#config.controlSocket,
        ports: { ike: this.#rt.transport.ports.ike, natT: this.#rt.transport.ports.natt },
      },
      engine: this.#engine,
      kernel: this.#rt.kernel,
      connections: this.#conns.connections(),
      failClosed: (n) => this.#engine.spd.failClosedCount(n),
      ...(this.#ifaces ? { iface: (conn: Connection) => this.#ifaces!.status(conn) } : {}),
      waiting: (n) => this.#conns.get(n)?.waiting,
      times: this.#times,
      now: this.#timers.now(),
      ...(only !== undefined ? { only } : {}),
      ...opts,
      ...rcvbuf(this.#rcvbufDrops()),
    });
  }

  /** The read-only view `explain` and `plan` work on (introspect.ts); `history` from the ops events. */
  introspection(history: IntrospectHost['history'] = () => undefined): IntrospectHost {
    const c = this.#config;
    return {
      config: c,
      kernel: this.#rt.kernel,
      owned: this.#rt.owned,
      startedWallMs: this.#startedWall,
      reqids: new Map(this.#conns.reqids()),
      failClosedOf: (n) => this.#engine.spd.failClosedOf(n),
      failClosedFor: (conn, reqid, childReqid) => failClosedPolicies(conn, reqid, childReqid),
      bypass: () =>
        ikeBypassPolicies({
          addresses: c.local.addresses.map((a) => a.address),
          ports: [c.ports.ike, c.ports.natT],
        }),
      sasOf: (n) => this.#engine.sasOf(n),
      history,
      readConfig: (file) => readPlanConfig(file, this.#o.env),
      badRequest: () => this.#counters.inc('control.bad_request'),
    };
  }

  counters(): Record<string, number> {
    this.#rcvbufDrops();
    return Object.fromEntries(this.#counters.snapshot());
  }

  /** Kernel receive-buffer drops of our UDP sockets, folded into net.rcvbuf_drops (src/net/rcvbuf.ts). */
  #rcvbufDrops(): number | undefined {
    const n = readRcvbufDrops();
    if (n !== undefined && n > this.#rcvbufSeen) {
      this.#counters.inc('net.rcvbuf_drops', n - this.#rcvbufSeen);
      this.#rcvbufSeen = n;
    }
    return n;
  }

  /**
   * Clean stop: IKE SAs deleted (the engine sends Deletes where it supports them), then every SA and
   * policy we own removed from the kernel (fail-closed and bypass included), sockets closed. Each
   * step is bounded by `budgetMs`; kernel cleanup runs even if the engine hangs.
   */
  async stop(budgetMs = 5000): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    this.#log.log('info', 'stopping', { component: 'daemon' });
    this.#conns?.cancelRetries();
    // An active HA node whose standby is there hands the tunnels over: no Delete to the peers.
    if (this.#ha?.active && this.#ha.status().peerRole === 'standby') await this.#ha.node.demote();
    this.#ha?.close();
    await bounded(this.#engine?.close(), budgetMs, () =>
      this.#log.log('warn', 'IKE SAs did not close in time; removing kernel state anyway', {
        component: 'daemon',
      }),
    );
    // The down events of the closed SAs run their hooks (a route to remove); bounded like the rest.
    await bounded(this.#hooks?.idle(), budgetMs, () =>
      this.#log.log('warn', 'hooks still running at shutdown', { component: 'daemon' }),
    );
    await this.#teardown(budgetMs);
    this.#timers.clock.clearAlarm();
    this.#log.log('info', 'stopped', { component: 'daemon' });
  }

  async #teardown(budgetMs = 5000): Promise<void> {
    this.#stopping = true;
    const rt = this.#rt as Runtime | undefined;
    if (this.#ifaces) {
      const n = await bounded(this.#ifaces.removeAll(), budgetMs, () => undefined);
      this.#log.log('info', 'interfaces and routes removed', { component: 'iface', objects: n ?? 'timeout' });
      await bounded(this.#ifaces.close(), 1000, () => undefined);
    }
    if (rt) await closeRuntime(rt, this.#log, budgetMs);
  }
}

/**
 * The DH groups the connections' IKE proposals offer (RFC 7296 §3.3.2, transform type 4), for the
 * key-pair pool; KEM methods (ML-KEM) have no reusable key pair to precompute and stay out.
 */
function keGroups(conns: readonly IkeConnection[]): number[] {
  const ids = conns.flatMap((c) => c.ikeProposals.flatMap((p) => p.transforms));
  const ke = ids.filter((t) => t.type === TransformType.KE && lookupKeGroup(t.id) !== undefined);
  return [...new Set(ke.map((t) => t.id))];
}
