// The ikeway daemon: config -> kernel (ownership, bypass, fail-closed policies, reconcile) -> UDP ->
// engine -> control socket -> start actions, then "ready". Reload (SIGHUP or `ikeway reload`) is
// atomic: the new file is validated completely before anything changes; changed connections are
// re-established, unchanged ones are left alone. Stop (SIGTERM) deletes our SAs and policies, bounded
// in time. See src/daemon/README.md for the fail-closed design.
import { ConfigErrors, formatProblem, loadConfig, type Config, type Connection } from '../config/index.ts';
import { ControlError } from '../control/protocol.ts';
import { TransformType } from '../codec/index.ts';
import { KeyExchangePool, lookupKeGroup } from '../crypto/index.ts';
import type { IkeConnection } from '../ike/config.ts';
import { RealClock, type Clock } from '../base/clock.ts';
import { Counters } from '../base/counters.ts';
import { Engine } from '../ike/engine.ts';
import type { IkeSa } from '../ike/ike-sa.ts';
import type { Logger } from '../base/logger.ts';
import type { EngineEvent } from '../ike/services.ts';
import { TimerQueue, type TimerHandle } from '../base/timers.ts';
import type { PolicyParams } from '../kernel/types.ts';
import { policyParams } from '../ike/kernel-install.ts';
import { toIkeConnection } from './connections.ts';
import { failClosedPolicies, installPolicies, policyId, removePolicies } from './failclosed.ts';
import { planReload, type ReloadPlan } from './reload.ts';
import {
  installBypass,
  openKernel,
  openTransport,
  MEMORY_KERNEL_WARNING,
  type KernelKind,
  type Runtime,
} from './runtime.ts';
import type { StatusReport } from '../control/status-types.ts';
import { buildStatus, type SaTimes } from './status.ts';

export interface DaemonOptions {
  readonly configFile: string;
  readonly kernel: KernelKind;
  readonly logger: Logger;
  /** Called when the config sets log level/format (at start and on reload), unless overridden. */
  readonly applyLogSettings?: (c: Config) => void;
  readonly env?: NodeJS.ProcessEnv;
  /** Re-initiate a start: now connection this long after its IKE SA failed (default 10 s). */
  readonly retryMs?: number;
  readonly version?: string;
  readonly clock?: Clock;
  /** Runs after the config is valid and before the kernel is touched (e.g. claim the control socket). */
  readonly onConfig?: (c: Config) => Promise<void>;
}

type DestroyedChild = Extract<EngineEvent, { type: 'child-destroyed' }>['child'];

/** A policy's kernel identity (selector, dir, mark, if_id) as text, object keys sorted. */
const policyKey = (p: PolicyParams): string =>
  JSON.stringify(policyId(p), (_k, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : 1)))
      : v,
  );

/** reqids of fail-closed policies and Child SAs, far from the engine's own counter (1, 2, ...). */
const REQID_BASE = 0x10000;

interface ConnState {
  conn: Connection;
  reqid: number | undefined;
  traps: PolicyParams[];
  /** False after `down` or removal: no automatic (re)initiation. */
  wantUp: boolean;
  retry: TimerHandle | undefined;
}

export interface UpResult {
  readonly name: string;
  readonly sa: string;
  readonly state: string;
  readonly children: number;
  readonly note?: string;
}

export type ReloadReport = ReloadPlan & { readonly file: string };

export class Daemon {
  readonly #o: DaemonOptions;
  readonly #log: Logger;
  readonly #timers: TimerQueue;
  readonly #counters = new Counters();
  readonly #times: SaTimes = { ike: new WeakMap(), child: new WeakMap() };
  readonly #conns = new Map<string, ConnState>();
  readonly #reqids = new Map<string, number>();
  #config: Config;
  #rt!: Runtime;
  #engine!: Engine;
  #stopping = false;
  #startedAt: number;
  #serial: Promise<unknown> = Promise.resolve();

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
    const { kernel, owned } = await openKernel(this.#o.kernel, c, this.#log);
    this.#rt = { kind: this.#o.kernel, kernel, owned, transport: undefined as never };
    await installBypass(kernel, c);
    // Fail-closed first, then reconcile: a killed run's policies are replaced in place, never
    // deleted before ours stand (OwnedKernel.reconcile keeps what this run owns again).
    for (const conn of c.connections) await this.#addConn(conn);
    if (owned) {
      const removed = await owned.reconcile();
      if (removed.length > 0) log('removed leftovers of a previous run', { objects: removed.length });
    }
    const transport = await openTransport(this.#o.kernel, c, this.#counters, this.#log);
    this.#rt = { ...this.#rt, transport };
    const connections = [...this.#conns.values()].map((s) => this.#ikeConn(s));
    this.#engine = new Engine({
      transport,
      kernel,
      timers: this.#timers,
      connections,
      // Key pairs made between exchanges, so an IKE_SA_INIT pays for the DH only (not the keygen).
      pool: new KeyExchangePool({ groups: keGroups(connections), size: 16 }),
      options: {
        cookieThreshold: c.cookieThreshold,
        halfOpenLimit: c.limits.halfOpen,
        ikeSasPerPeer: c.limits.ikeSasPerPeer,
        retransmit: c.retransmit,
      },
      logger: this.#log,
      counters: this.#counters,
      ports: transport.ports,
    });
    this.#engine.onEvent((e) => this.#onEngineEvent(e));
    for (const s of this.#conns.values()) this.#startAction(s);
    log('started', {
      kernel: this.#o.kernel,
      connections: c.connections.length,
      ike: transport.ports.ike,
      natt: transport.ports.natt,
    });
  }

  #ikeConn(s: ConnState) {
    return toIkeConnection(s.conn, s.reqid !== undefined ? { reqid: s.reqid } : {});
  }

  #reqidOf(name: string): number {
    let r = this.#reqids.get(name);
    if (r === undefined) this.#reqids.set(name, (r = REQID_BASE + this.#reqids.size));
    return r;
  }

  /** Registers a connection and installs its fail-closed policies (not yet in the engine). */
  async #addConn(conn: Connection): Promise<ConnState> {
    const reqid = conn.remote === 'any' ? undefined : this.#reqidOf(conn.name);
    const s: ConnState = {
      conn,
      reqid,
      traps: failClosedPolicies(conn, reqid),
      wantUp: true,
      retry: undefined,
    };
    await installPolicies(this.#rt.kernel, s.traps);
    this.#conns.set(conn.name, s);
    return s;
  }

  #startAction(s: ConnState): void {
    if (s.conn.start !== 'now' || !s.wantUp || this.#stopping) return;
    if (this.#engine.sasOf(s.conn.name).length > 0) return;
    try {
      const sa = this.#engine.initiate(s.conn.name);
      this.#log.log('info', 'initiating', { component: 'daemon', conn: s.conn.name, sa: sa.name });
    } catch (e) {
      this.#log.log('error', 'cannot initiate', { component: 'daemon', conn: s.conn.name, error: String(e) });
    }
  }

  #scheduleRetry(s: ConnState): void {
    if (s.conn.start !== 'now' || !s.wantUp || this.#stopping || s.retry?.active) return;
    const ms = this.#o.retryMs ?? 10_000;
    this.#log.log('info', 'will retry', { component: 'daemon', conn: s.conn.name, in_ms: ms });
    s.retry = this.#timers.after(ms, () => {
      s.retry = undefined;
      if (this.#conns.get(s.conn.name) === s) this.#startAction(s);
    });
  }

  #onEngineEvent(e: EngineEvent): void {
    const name = e.sa.config.name;
    const s = this.#conns.get(name);
    const f = { component: 'daemon', sa: e.sa.name };
    switch (e.type) {
      case 'ike-established': // the engine logs it; keep the time for status
        this.#times.ike.set(e.sa, this.#timers.now());
        break;
      case 'child-installed':
        this.#times.child.set(e.child, this.#timers.now());
        break;
      case 'child-failed':
        this.#log.log('warn', 'CHILD SA failed', { ...f, reason: e.reason });
        break;
      case 'child-destroyed':
        // The Child SA's policies were the fail-closed ones' replacement: put those back.
        if (s && !this.#stopping && s.traps.length > 0) this.#restoreTraps(s, e.sa, e.child, f);
        break;
      case 'ike-destroyed':
        // Only a start: now connection retries; asking first keeps the scan of its SAs off the path
        // of every other destroy (10^5 responder SAs of one remote: any connection).
        if (s && s.conn.start === 'now' && this.#engine.sasOf(name).every((x) => x === e.sa))
          this.#scheduleRetry(s);
        break;
    }
  }

  /**
   * Fail-closed policies back where the gone Child SA stood, but not over a policy another live
   * Child SA of the connection holds (a rekey's successor, or the new SA after INITIAL_CONTACT
   * removed a stale one, RFC 7296 §2.4): updatePolicy would replace that one with the trap
   * (priority 2000), or with a discard policy for remote: any. Found by test/robust/failure.test.ts.
   */
  #restoreTraps(s: ConnState, owner: IkeSa, gone: DestroyedChild, f: Record<string, string>): void {
    const kernel = this.#rt.kernel;
    // Only traps the gone Child SA stood on can be missing now (its policies had replaced them).
    const goneKeys = new Set(gone.installed ? policyParams(gone, gone.installed).map(policyKey) : []);
    const candidates = s.traps.filter((p) => goneKeys.has(policyKey(p)));
    if (candidates.length === 0) return;
    const live = () =>
      this.#engine
        .sasOf(s.conn.name)
        .flatMap((sa) => sa.children)
        .filter((c) => c !== gone && (c.state === 'installed' || c.state === 'rekeying'));
    // A trap is missing unless a live Child SA holds its place; stop looking once all are held.
    // The gone Child SA's own IKE SA first: a rekey's successor stands there.
    const want = new Set(candidates.map(policyKey));
    const isLive = (c: DestroyedChild) => c !== gone && (c.state === 'installed' || c.state === 'rekeying');
    for (const sa of [owner, ...this.#engine.sasOf(s.conn.name)]) {
      for (const c of sa.children)
        if (want.size > 0 && isLive(c)) for (const p of c.policies()) want.delete(policyKey(p));
      if (want.size === 0) break;
    }
    const missing = candidates.filter((p) => want.has(policyKey(p)));
    if (missing.length === 0) return;
    const written = new Set(missing.map(policyKey));
    installPolicies(kernel, missing)
      .then(async () => {
        // A Child SA installed while the traps were on their way (INITIAL_CONTACT removes the
        // stale SA inside the exchange that installs the new one): its own policies must win.
        for (const c of live())
          if (c.policies().some((p) => written.has(policyKey(p)))) await c.refreshPolicies(kernel);
      })
      .catch((err: unknown) =>
        this.#log.log('error', 'cannot restore fail-closed policies', { ...f, error: String(err) }),
      );
  }

  /** Runs control operations one at a time (reload vs up/down never interleave). */
  #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.#serial.then(fn, fn);
    this.#serial = p.catch(() => undefined);
    return p;
  }

  #known(name: string): ConnState {
    const s = this.#conns.get(name);
    if (!s) {
      const known = [...this.#conns.keys()].join(', ') || '(none)';
      throw new ControlError('ERR_NO_CONNECTION', `no connection named "${name}"; known: ${known}`);
    }
    return s;
  }

  /**
   * Deletes the IKE SAs of a connection with the peer (RFC 7296 §1.4.1, engine.terminate), waits a
   * bounded time for the exchanges, then removes what is left locally (a peer that does not answer).
   */
  async #terminate(name: string, waitMs = 3000): Promise<number> {
    const n = this.#engine.terminate(name);
    for (let waited = 0; waited < waitMs && this.#engine.sasOf(name).length > 0; waited += 20)
      await new Promise((r) => setTimeout(r, 20));
    for (const sa of this.#engine.sasOf(name)) await this.#destroySa(sa);
    await this.#engine.idle();
    return n;
  }

  async #destroySa(sa: IkeSa): Promise<void> {
    await new Promise<void>((resolve) => this.#engine.run(sa, () => sa.destroy().finally(resolve)));
  }

  up(name: string, waitMs = 15_000): Promise<UpResult> {
    return this.#exclusive(async () => {
      const s = this.#known(name);
      if (s.conn.remote === 'any')
        throw new ControlError(
          'ERR_BAD_ARGS',
          `"${name}" has remote: any; it can only answer, the peer must initiate`,
        );
      s.wantUp = true;
      const live = this.#engine.sasOf(name)[0];
      if (live)
        return { name, sa: live.name, state: live.state, children: live.children.length, note: 'already up' };
      const sa = this.#engine.initiate(name);
      await this.#settled(sa, waitMs);
      const res = { name, sa: sa.name, state: sa.state, children: sa.children.length };
      if (sa.state === 'destroyed')
        throw new ControlError('ERR_INTERNAL', `${sa.name} failed; see the daemon log for the reason`, res);
      return res;
    });
  }

  /** Resolves when the SA is established with a Child SA, or failed, or after `ms`. */
  #settled(sa: IkeSa, ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      const off = this.#engine.onEvent((e) => {
        if (e.sa !== sa) return;
        if (e.type === 'child-installed' || e.type === 'child-failed' || e.type === 'ike-destroyed') done();
      });
      function done() {
        clearTimeout(t);
        off();
        resolve();
      }
    });
  }

  down(name: string): Promise<{ name: string; deleted: number }> {
    return this.#exclusive(async () => {
      const s = this.#known(name);
      s.wantUp = false;
      s.retry?.cancel();
      const deleted = await this.#terminate(name);
      this.#log.log('info', 'connection down', { component: 'daemon', conn: name, deleted });
      return { name, deleted };
    });
  }

  /**
   * Rekeys now, as this side's initiative: every installed Child SA of the connection's established
   * IKE SAs (RFC 7296 §2.8, CREATE_CHILD_SA with REKEY_SA), or the IKE SAs themselves (§2.8). The
   * exchanges run in the background; returns how many were started.
   */
  rekey(name: string, what: 'child' | 'ike'): { name: string; what: string; started: number } {
    this.#known(name);
    let started = 0;
    for (const sa of this.#engine.sasOf(name).filter((s) => s.state === 'established')) {
      if (what === 'ike') {
        this.#engine.rekeyIke(sa);
        started++;
        continue;
      }
      for (const child of sa.children.filter((c) => c.state === 'installed')) {
        this.#engine.rekeyChild(sa, child);
        started++;
      }
    }
    if (started === 0)
      throw new ControlError(
        'ERR_NO_CONNECTION',
        `${name}: no established SA to rekey; try: ikeway status ${name}`,
      );
    this.#log.log('info', `rekey ${what} requested`, { component: 'daemon', conn: name, started });
    return { name, what, started };
  }

  /** Validates the file completely first; on any problem nothing changes (ControlError ERR_CONFIG). */
  reload(): Promise<ReloadReport> {
    return this.#exclusive(() => this.#reload());
  }

  async #reload(): Promise<ReloadReport> {
    const file = this.#o.configFile;
    let next: Config;
    try {
      const r = loadConfig(file, this.#o.env ? { env: this.#o.env } : {});
      next = r.config;
      for (const w of r.warnings) this.#log.log('warn', formatProblem(w), { component: 'config' });
    } catch (e) {
      if (!(e instanceof ConfigErrors)) throw e;
      const lines = e.problems.filter((p) => p.severity === 'error').map(formatProblem);
      for (const l of lines) this.#log.log('error', l, { component: 'config' });
      this.#log.log('error', 'reload rejected; the running configuration stays', { component: 'daemon' });
      throw new ControlError('ERR_CONFIG', `reload rejected, nothing changed:\n${lines.join('\n')}`, lines);
    }
    const plan = planReload(this.#config, next);
    const fatal = plan.needRestart.filter((k) => k === 'local.address' || k === 'ports');
    if (fatal.length > 0) {
      const msg = `reload rejected, nothing changed: ${fatal.join(', ')} changed; restart the daemon to apply`;
      this.#log.log('error', msg, { component: 'daemon' });
      throw new ControlError('ERR_CONFIG', msg);
    }
    this.#o.applyLogSettings?.(next);
    for (const n of [...plan.removed, ...plan.changed]) await this.#dropConn(n, plan.changed.includes(n));
    const byName = new Map(next.connections.map((c) => [c.name, c]));
    const started: ConnState[] = [];
    for (const n of [...plan.changed, ...plan.added]) {
      const s = await this.#addConn(byName.get(n)!);
      this.#engine.addConnection(this.#ikeConn(s));
      started.push(s);
    }
    // Unchanged connections keep their SAs; only their (identical) config object is refreshed.
    for (const n of plan.unchanged) this.#conns.get(n)!.conn = byName.get(n)!;
    await this.#cleanupOldTraps(plan);
    this.#config = next;
    for (const s of started) this.#startAction(s);
    const report = { file, ...plan };
    this.#log.log('info', 'reloaded', {
      component: 'daemon',
      added: plan.added.join(',') || undefined,
      removed: plan.removed.join(',') || undefined,
      changed: plan.changed.join(',') || undefined,
      unchanged: plan.unchanged.length,
      restart_needed_for: plan.needRestart.join(',') || undefined,
    });
    return report;
  }

  #oldTraps: PolicyParams[] = [];

  /** Stops a connection's SAs and forgets it; its traps stay until the new ones stand. */
  async #dropConn(name: string, changing: boolean): Promise<void> {
    const s = this.#conns.get(name);
    if (!s) return;
    s.wantUp = false;
    s.retry?.cancel();
    this.#conns.delete(name);
    this.#engine.removeConnection(name);
    await this.#terminate(name);
    // Its Child SAs took their policies with them: the old traps stand again until the new
    // connection's are in place (cleanupOldTraps), so the subnets are never unprotected.
    await installPolicies(this.#rt.kernel, s.traps);
    this.#oldTraps.push(...s.traps);
    if (!changing) this.#reqids.delete(name);
  }

  /** Removes fail-closed policies no current connection claims (same identity = replaced in place). */
  async #cleanupOldTraps(_plan: ReloadPlan): Promise<void> {
    const key = (p: PolicyParams) => JSON.stringify(policyId(p));
    const live = new Set([...this.#conns.values()].flatMap((s) => s.traps.map(key)));
    const gone = this.#oldTraps.filter((p) => !live.has(key(p)));
    this.#oldTraps = [];
    await removePolicies(this.#rt.kernel, gone);
  }

  async status(only?: string): Promise<StatusReport> {
    if (only !== undefined) this.#known(only);
    return buildStatus({
      daemon: {
        version: this.#o.version ?? '0.0.0',
        pid: process.pid,
        uptimeSeconds: Math.round((this.#timers.now() - this.#startedAt) / 1000),
        config: this.#config.file,
        kernel: this.#rt.kind,
        ...(this.#rt.kind === 'memory' ? { kernelWarning: MEMORY_KERNEL_WARNING } : {}),
        socket: this.#config.controlSocket,
        ports: { ike: this.#rt.transport.ports.ike, natT: this.#rt.transport.ports.natt },
      },
      engine: this.#engine,
      kernel: this.#rt.kernel,
      connections: [...this.#conns.values()].map((s) => s.conn),
      failClosed: (n) => this.#conns.get(n)?.traps.length ?? 0,
      times: this.#times,
      now: this.#timers.now(),
      ...(only !== undefined ? { only } : {}),
    });
  }

  counters(): Record<string, number> {
    return Object.fromEntries(this.#counters.snapshot());
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
    for (const s of this.#conns.values()) s.retry?.cancel();
    await bounded(this.#engine?.close(), budgetMs, () =>
      this.#log.log('warn', 'IKE SAs did not close in time; removing kernel state anyway', {
        component: 'daemon',
      }),
    );
    await this.#teardown(budgetMs);
    this.#timers.clock.clearAlarm();
    this.#log.log('info', 'stopped', { component: 'daemon' });
  }

  async #teardown(budgetMs = 5000): Promise<void> {
    this.#stopping = true;
    const rt = this.#rt as Runtime | undefined;
    if (!rt) return;
    if (rt.owned) {
      const n = await bounded(rt.owned.removeAll(), budgetMs, () => undefined);
      this.#log.log('info', 'kernel state removed', { component: 'kernel', objects: n ?? 'timeout' });
    }
    await rt.transport?.close();
    await bounded(rt.kernel.close(), 1000, () => undefined);
  }
}

/** Awaits `p` for at most `ms`; calls `late` and resolves undefined on timeout. */
async function bounded<T>(p: Promise<T> | undefined, ms: number, late: () => void): Promise<T | undefined> {
  if (!p) return undefined;
  let t: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    t = setTimeout(() => {
      late();
      resolve(undefined);
    }, ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(t);
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
