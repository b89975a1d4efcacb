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
import type { Spd } from '../ike/spd/spd.ts';
import { hasRemoteSubnets, toIkeConnection } from './connections.ts';
import { connectionReqid } from './reqids.ts';

export interface ConnState {
  conn: Connection;
  /** The engine's view, made once when the connection was added (selectors, reqid, secrets' bytes). */
  readonly ike: IkeConnection;
  /** False after `down` or removal: no automatic (re)initiation. */
  wantUp: boolean;
  retry: TimerHandle | undefined;
}

export interface RegistryDeps {
  readonly spd: Spd;
  readonly timers: TimerQueue;
  readonly log: Logger;
  /** Re-initiate a start: now connection this long after its IKE SA failed. */
  readonly retryMs: number;
  /** True once the daemon stops: nothing starts any more. */
  readonly stopping: () => boolean;
}

export class ConnectionRegistry {
  readonly #d: RegistryDeps;
  readonly #conns = new Map<string, ConnState>();
  readonly #reqids = new Map<string, number>();
  #engine: Engine | undefined;

  constructor(deps: RegistryDeps) {
    this.#d = deps;
  }

  /** The engine that start actions initiate on (once it exists). */
  attach(engine: Engine): void {
    this.#engine = engine;
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
    const ike = toIkeConnection(conn, reqid !== undefined ? { reqid } : {});
    await this.#d.spd.protect(ike, hasRemoteSubnets(conn));
    const s: ConnState = { conn, ike, wantUp: true, retry: undefined };
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
    if (!changing) this.#reqids.delete(name);
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

  /** A start: now connection whose last IKE SA died starts again after retryMs. */
  scheduleRetry(s: ConnState): void {
    if (s.conn.start !== 'now' || !s.wantUp || this.#d.stopping() || s.retry?.active) return;
    const ms = this.#d.retryMs;
    this.#d.log.log('info', 'will retry', { component: 'daemon', conn: s.conn.name, in_ms: ms });
    s.retry = this.#d.timers.after(ms, () => {
      s.retry = undefined;
      if (this.#conns.get(s.conn.name) === s) this.startAction(s);
    });
  }
}
