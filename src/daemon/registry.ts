// The daemon's connection registry: each configured connection with its engine view (built once, with
// its stable reqid), whether it should be up, and its retry timer; the start actions (start: now,
// re-initiated after its last IKE SA died unless `down`). Adding a connection has the policy owner
// (src/ike/spd) install its fail-closed policies first; the registry never writes a policy itself.
import type { Connection } from '../config/index.ts';
import { ControlError } from '../control/protocol.ts';
import type { Logger } from '../base/logger.ts';
import type { TimerHandle, TimerQueue } from '../base/timers.ts';
import type { IkeConnection } from '../ike/config.ts';
import type { Engine } from '../ike/engine.ts';
import type { EngineEvent } from '../ike/services.ts';
import type { Spd } from '../ike/spd/spd.ts';
import type { RevocationChecker } from '../creds/index.ts';
import { hasRemoteSubnets, toIkeConnection } from './connections.ts';
import { childReqids, connectionReqid, dropReqids } from './reqids.ts';

export interface ConnState {
  conn: Connection;
  /**
   * The engine's view, made once when the connection was added (selectors, reqid, secrets' bytes);
   * only a named peer that moved changes it (its remoteAddr, peer-resolve.ts).
   */
  ike: IkeConnection;
  /** False after `down` or removal: no automatic (re)initiation. */
  wantUp: boolean;
  retry: TimerHandle | undefined;
  /** Attempts that failed since the last establishment (the backoff's exponent). */
  failures: number;
  /** Why the last IKE SA of it failed (cleared on establishment). */
  lastFailure: string | undefined;
  /** The scheduled re-initiation (or the end of retrying), for status and tests. */
  waiting: RetryWait | undefined;
}

/** A scheduled re-initiation of a start: now connection, on the registry's (monotonic) clock. */
export interface RetryWait {
  readonly reason: string;
  /** The number of this retry since the last establishment (1, 2, ...). */
  readonly attempt: number;
  /** The backoff step before jitter: min(max, initial x 2^(attempt-1)). */
  readonly baseMs: number;
  /** The delay drawn (baseMs minus up to 20 % jitter). */
  readonly delayMs: number;
  /** When it starts (timers' clock); undefined when the connection gave up (attempts used). */
  readonly atMs: number | undefined;
}

export interface RegistryDeps {
  readonly spd: Spd;
  /** Shared by every connection whose certificates are checked for revocation. */
  readonly revocation?: RevocationChecker;
  readonly timers: TimerQueue;
  readonly log: Logger;
  /** Overrides every connection's retry.initial (the daemon's retryMs option); undefined: the config's. */
  readonly retryMs?: number;
  /** True once the daemon stops: nothing starts any more. */
  readonly stopping: () => boolean;
  /** Jitter source in [0, 1) (default Math.random: not a secret). */
  readonly random?: () => number;
}

export class ConnectionRegistry {
  readonly #d: RegistryDeps;
  readonly #conns = new Map<string, ConnState>();
  readonly #reqids = new Map<string, number>();
  #engine: Engine | undefined;
  #refresh: ((name: string) => Promise<'fixed' | 'same' | 'moved' | 'failed'>) | undefined;

  constructor(deps: RegistryDeps) {
    this.#d = deps;
  }

  /** The engine that start actions initiate on (once it exists). */
  attach(engine: Engine): void {
    this.#engine = engine;
  }

  /** Resolves a named peer again before each retry (peer-resolve.ts). */
  setRefresh(fn: (name: string) => Promise<'fixed' | 'same' | 'moved' | 'failed'>): void {
    this.#refresh = fn;
  }

  get(name: string): ConnState | undefined {
    return this.#conns.get(name);
  }
  values(): ConnState[] {
    return [...this.#conns.values()];
  }
  connections(): Connection[] {
    return this.values().map((s) => s.conn);
  }

  /** The connection, or ERR_NO_CONNECTION naming the known ones. */
  known(name: string): ConnState {
    const s = this.#conns.get(name);
    if (!s) {
      const known = [...this.#conns.keys()].join(', ') || '(none)';
      throw new ControlError('ERR_NO_CONNECTION', `no connection named "${name}"; known: ${known}`);
    }
    return s;
  }

  /** The reqid allocation now (plan replays a reload on a copy of it). */
  reqids(): ReadonlyMap<string, number> {
    return this.#reqids;
  }

  /** Registers a connection after its fail-closed policies stand (not yet in the engine). */
  async add(conn: Connection): Promise<ConnState> {
    const reqid = connectionReqid(this.#reqids, conn);
    const childReqid = childReqids(this.#reqids, conn);
    const ike = toIkeConnection(conn, {
      ...(reqid !== undefined ? { reqid } : {}),
      ...(childReqid ? { childReqid } : {}),
      ...(this.#d.revocation ? { revocation: this.#d.revocation } : {}),
    });
    await this.#d.spd.protect(ike, hasRemoteSubnets(conn));
    const s: ConnState = {
      conn,
      ike,
      wantUp: true,
      retry: undefined,
      failures: 0,
      lastFailure: undefined,
      waiting: undefined,
    };
    this.#conns.set(conn.name, s);
    return s;
  }

  /** Forgets a connection (reload); a changing one keeps its reqid for its successor. */
  remove(name: string, changing: boolean): ConnState | undefined {
    const s = this.#conns.get(name);
    if (!s) return undefined;
    s.wantUp = false;
    s.retry?.cancel();
    this.#conns.delete(name);
    if (!changing) dropReqids(this.#reqids, name);
    return s;
  }

  /** An unchanged connection keeps its SAs; only its (identical) config object is refreshed. */
  refresh(conn: Connection): void {
    const s = this.#conns.get(conn.name);
    if (s) s.conn = conn;
  }

  /** No more retries (stop). */
  cancelRetries(): void {
    for (const s of this.#conns.values()) s.retry?.cancel();
  }

  /** start: now: initiates unless it is down, the daemon stops, or an IKE SA of it exists. */
  startAction(s: ConnState): void {
    const engine = this.#engine;
    if (!engine || s.conn.start !== 'now' || !s.wantUp || this.#d.stopping()) return;
    if (engine.sasOf(s.conn.name).length > 0) return;
    try {
      const sa = engine.initiate(s.conn.name);
      this.#d.log.log('info', 'initiating', { component: 'daemon', conn: s.conn.name, sa: sa.name });
    } catch (e) {
      this.#d.log.log('error', 'cannot initiate', {
        component: 'daemon',
        conn: s.conn.name,
        error: String(e),
      });
    }
  }

  /**
   * The engine's events that pace start: now connections: establishment resets the backoff, a
   * failure gives the reason, the death of its last IKE SA schedules the next attempt.
   */
  onEngineEvent(e: EngineEvent): void {
    const name = e.sa.config.name;
    if (e.type !== 'ike-established' && e.type !== 'ike-failed' && e.type !== 'ike-destroyed') return;
    const s = this.#conns.get(name);
    if (!s || s.conn.start !== 'now') return;
    if (e.type === 'ike-established') this.established(s);
    else if (e.type === 'ike-failed') this.failed(s, e.reason);
    // Asking first keeps the scan of its SAs off the path of every other destroy (10^5 responder
    // SAs of one remote: any connection).
    else if (this.#engine?.sasOf(name).every((x) => x === e.sa)) this.scheduleRetry(s);
  }

  /** An IKE SA of it was established: the backoff starts over. */
  established(s: ConnState): void {
    s.failures = 0;
    s.lastFailure = undefined;
    s.waiting = undefined;
  }

  /** An IKE SA of it failed (before or after establishment), for the next retry's reason. */
  failed(s: ConnState, reason: string): void {
    s.lastFailure = reason;
  }

  /**
   * A start: now connection whose last IKE SA died starts again: after a failed attempt with
   * exponential backoff (conn.retry: initial x 2^n up to max, minus up to 20 % jitter so that many
   * connections do not retry in step), at most conn.retry.attempts times in a row (0: forever).
   */
  scheduleRetry(s: ConnState): void {
    if (s.conn.start !== 'now' || !s.wantUp || this.#d.stopping() || s.retry?.active) return;
    const policy = s.conn.retry;
    const reason = s.lastFailure ?? 'IKE SA closed';
    s.lastFailure = undefined;
    const attempt = ++s.failures;
    const log = { component: 'daemon', conn: s.conn.name, reason };
    if (policy.attempts > 0 && attempt > policy.attempts) {
      s.waiting = { reason, attempt, baseMs: 0, delayMs: 0, atMs: undefined };
      this.#d.log.log('warn', 'giving up: retries used', { ...log, attempts: policy.attempts });
      return;
    }
    const initial = this.#d.retryMs ?? policy.initialMs;
    const baseMs = Math.min(Math.max(policy.maxMs, initial), initial * 2 ** Math.min(attempt - 1, 40));
    const delayMs = Math.round(baseMs * (1 - 0.2 * (this.#d.random ?? Math.random)()));
    const atMs = this.#d.timers.now() + delayMs;
    s.waiting = { reason, attempt, baseMs, delayMs, atMs };
    this.#d.log.log('info', 'will retry', { ...log, attempt, in_ms: delayMs });
    s.retry = this.#d.timers.after(delayMs, () => {
      s.retry = undefined;
      s.waiting = undefined;
      if (this.#conns.get(s.conn.name) !== s) return;
      const refresh = this.#refresh;
      if (!refresh || s.conn.remoteName === undefined) return this.startAction(s);
      // A named peer: resolve it first; a failure counts as a failed attempt (the same backoff).
      void refresh(s.conn.name).then((r) => {
        if (this.#conns.get(s.conn.name) !== s) return;
        if (r !== 'failed') return this.startAction(s);
        s.lastFailure = `remote ${s.conn.remoteName} does not resolve`;
        this.scheduleRetry(s);
      });
    });
  }
}
