// Peers named by DNS name that move (issue 14 item 2). The loader resolved `remote: <name>` once; before
// every (re)initiation (a retry, a liveness restart, an on-traffic start) the name is resolved again,
// asynchronously and within a time limit. A new address is logged ("remote moved") and followed: the
// engine's connection, the registry's view and the connection's policies take it, so the next IKE SA,
// its Child SAs and its NAT detection use it. A failed resolution is logged and counted; the caller
// keeps the last address (a liveness restart, an on-traffic start) or waits for the next retry.
import type { Counters } from '../base/counters.ts';
import type { Logger } from '../base/logger.ts';
import type { AsyncResolver } from '../config/resolve.ts';
import type { Engine } from '../ike/engine.ts';
import type { ConnectionRegistry } from './registry.ts';
import { hasRemoteSubnets } from './connections.ts';

export const PEER_RESOLVE_TIMEOUT_MS = 3000;

export interface PeerResolveDeps {
  readonly resolve: AsyncResolver;
  readonly log: Logger;
  readonly counters: Counters;
  readonly registry: ConnectionRegistry;
  /** Upper bound of one resolution (default PEER_RESOLVE_TIMEOUT_MS). */
  readonly timeoutMs?: number;
  /** Schedules the time limit (default setTimeout; tests pass their own). */
  readonly after?: (ms: number, fn: () => void) => { cancel(): void };
}

export type RefreshResult = 'fixed' | 'same' | 'moved' | 'failed';

export class PeerResolver {
  readonly #d: PeerResolveDeps;
  #engine: Engine | undefined;

  constructor(deps: PeerResolveDeps) {
    this.#d = deps;
  }

  /** Resolves named peers for this engine's initiations from now on. */
  attach(engine: Engine): void {
    this.#engine = engine;
    engine.peerRefresh = async (name) => {
      await this.refresh(name);
    };
  }

  /** Resolves the connection's name again and follows a move. Never throws. */
  async refresh(name: string): Promise<RefreshResult> {
    const s = this.#d.registry.get(name);
    const c = s?.conn;
    if (!s || !c || c.remoteName === undefined || c.remote === 'any') return 'fixed';
    const fields = { component: 'daemon', conn: name, name: c.remoteName };
    const res = await this.#bounded(c.remoteName);
    const want = c.localAddress.family;
    const addr = 'error' in res ? undefined : res.addresses.find((a) => a.family === want);
    if (addr === undefined) {
      const error = 'error' in res ? res.error : `no IPv${want} address`;
      this.#d.counters.inc('peer.resolve_failed');
      this.#d.log.log('warn', 'cannot resolve remote', { ...fields, error, keeping: c.remote.address });
      return 'failed';
    }
    // A reload may have replaced the connection while we waited: follow only the current one.
    const now = this.#d.registry.get(name);
    if (now !== s) return 'failed';
    if (addr.address === c.remote.address) return 'same';
    this.#d.counters.inc('peer.moved');
    this.#d.log.log('info', `remote moved from ${c.remote.address} to ${addr.address}`, {
      ...fields,
      from: c.remote.address,
      to: addr.address,
    });
    s.conn = { ...c, remote: addr };
    s.ike = { ...s.ike, remoteAddr: addr.address };
    const engine = this.#engine;
    engine?.setRemoteAddr(name, addr.address);
    // The connection's policies name the peer in their templates: write them again (updates in place).
    try {
      if (engine) await engine.spd.protect(s.ike, hasRemoteSubnets(s.conn));
      if (engine && c.start === 'on-traffic')
        await engine.lifecycle.trap({ ...s.ike, remoteAddr: addr.address });
    } catch (e) {
      this.#d.log.log('error', 'cannot update policies for the moved remote', {
        ...fields,
        error: String(e),
      });
    }
    return 'moved';
  }

  #bounded(name: string): ReturnType<AsyncResolver> {
    const ms = this.#d.timeoutMs ?? PEER_RESOLVE_TIMEOUT_MS;
    const after =
      this.#d.after ??
      ((t: number, fn: () => void) => {
        const h = setTimeout(fn, t);
        h.unref?.();
        return { cancel: () => clearTimeout(h) };
      });
    return new Promise((done) => {
      const timer = after(ms, () => done({ error: `no answer within ${ms} ms` }));
      this.#d.resolve(name).then(
        (r) => {
          timer.cancel();
          done(r);
        },
        () => {
          timer.cancel();
          done({ error: 'the resolver failed' });
        },
      );
    });
  }
}
