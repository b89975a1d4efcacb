// What happens to IKE and Child SAs after establishment, in one place (wireguard-go keeps all timers
// in one file with hooks named after protocol events): IKE rekey and lifetime timers (RFC 7296 §2.8),
// liveness checks and the action on a dead peer (§2.4), NAT-keepalives (RFC 3948 §4), and the kernel
// events that drive the engine: soft EXPIRE -> rekey, hard EXPIRE -> delete, ACQUIRE -> initiate,
// MAPPING -> the peer's new NAT address/port (RFC 3948). Policies are the SPD owner's (spd/spd.ts).
import type { Kernel, KernelEvent } from '../kernel/types.ts';
import type { Transport } from '../net/transport.ts';
import type { TimerQueue } from '../base/timers.ts';
import type { ChildSa } from './child-sa.ts';
import type { ChildConfig, IkeConnection } from './config.ts';
import { childrenOf } from './child-config.ts';
import type { IkeSa } from './ike-sa.ts';
import { jitteredRekeyMs } from '../base/jitter.ts';
import type { EngineEvent, ResolvedEngineOptions } from './services.ts';
import type { Spd } from './spd/spd.ts';
import type { Task } from './task.ts';
import { installContext } from './child-setup.ts';
import { CreateChildSa, rekeyPending } from './tasks/create-child-sa.ts';
import { queueChildDelete } from './tasks/child-delete.ts';
import { Dpd } from './tasks/dpd.ts';
import { queueIkeDelete } from './tasks/ike-delete.ts';
import { retryChildRekey } from './rekey-guard.ts';
import { IkeRekey } from './tasks/ike-rekey.ts';
import { enforceUniqueness } from './uniqueness.ts';
import { takePartsToComplete } from './pair-completion.ts';
import { tsContains, tsFromCidr } from './traffic-selectors.ts';

const live = (sa: IkeSa) => sa.state === 'established';

/** What the lifecycle needs of the engine (and no more): the engine implements it. */
export interface LifecycleHost {
  readonly kernel: Kernel;
  readonly spd: Pick<Spd, 'trap' | 'trapOwner' | 'trapChild'>;
  readonly transport: Pick<Transport, 'sendKeepalive'>;
  readonly timers: Pick<TimerQueue, 'now'>;
  readonly options: Pick<ResolvedEngineOptions, 'rekeyJitter' | 'rekeyRetryMs' | 'keepaliveMs'>;
  onEvent(listener: (e: EngineEvent) => void): () => void;
  randomBytes(n: number): Uint8Array;
  allocReqid(): number;
  run(sa: IkeSa, fn: () => Promise<void>): void;
  sas(): IkeSa[];
  sasOf(name: string): IkeSa[];
  connection(name: string): IkeConnection | undefined;
  connections(): IkeConnection[];
  initiate(name: string, child?: string): IkeSa;
  /** initiate() after resolving a named peer again (engine.initiateFresh). */
  initiateFresh(name: string, child?: string): Promise<IkeSa | undefined>;
}

export class Lifecycle {
  readonly #engine: LifecycleHost;
  /** IKE SAs that failed after establishment: the dpdAction runs once they are destroyed. */
  readonly #lost = new Set<IkeSa>();
  readonly #unsubscribe: () => void;
  #closed = false;

  constructor(engine: LifecycleHost) {
    this.#engine = engine;
    engine.onEvent((e) => this.#onEvent(e));
    this.#unsubscribe = engine.kernel.onEvent((e) => this.#onKernel(e));
  }

  // ---- operations (engine.* delegates here) ----

  /** RFC 7296 §1.3.1: an additional Child SA of the connection's policy on an established IKE SA. */
  createChild(sa: IkeSa, child?: ChildConfig): void {
    this.#start(sa, new CreateChildSa(sa, true, child ? { child } : {}));
  }
  /** RFC 7296 §1.3.3: rekeys a Child SA (with PFS when the ESP proposals carry a KE group). */
  rekeyChild(sa: IkeSa, child: ChildSa): void {
    // The kernel sends a soft EXPIRE for each SA of the pair: one rekey per Child SA.
    if (child.state === 'installed' && !rekeyPending(sa, child))
      this.#start(sa, new CreateChildSa(sa, true, { rekey: child }));
  }
  /** RFC 7296 §1.3.2: rekeys the IKE SA; its Child SAs move to the new one. */
  rekeyIke(sa: IkeSa): void {
    if (live(sa)) this.#start(sa, new IkeRekey(sa, true));
  }
  /** RFC 7296 §1.4.1: deletes one Child SA (Delete to the peer, then the kernel state). */
  deleteChild(sa: IkeSa, child: ChildSa): void {
    if (child.state !== 'destroyed' && child.state !== 'deleting') queueChildDelete(sa, [child]);
  }
  /** RFC 7296 §1.4.1: deletes the IKE SA and with it every Child SA. */
  deleteIke(sa: IkeSa): void {
    if (sa.state !== 'deleting' && sa.state !== 'destroyed') queueIkeDelete(sa);
  }
  /** Sends a liveness check now unless an exchange is already in flight (RFC 7296 §2.4). */
  checkLiveness(sa: IkeSa): void {
    if (sa.established && !sa.tasks.active && sa.tasks.queued.length === 0) this.#start(sa, new Dpd());
  }

  /**
   * Installs outbound trap policies for a connection (the SPD owner's, spd/spd.ts): traffic matching
   * them makes the kernel send an ACQUIRE, which initiates the connection (with the child whose trap it
   * was). Returns the reqid of the first child's trap.
   */
  async trap(conn: IkeConnection & { readonly remoteAddr: string }): Promise<number> {
    if (!conn.children || conn.children.length === 0) {
      const reqid = conn.reqid ?? this.#engine.allocReqid();
      await this.#engine.spd.trap(conn, reqid);
      return reqid;
    }
    const reqids: number[] = [];
    for (const cc of childrenOf(conn)) {
      const reqid = cc.reqid ?? this.#engine.allocReqid();
      const view = {
        ...conn,
        children: undefined,
        localTs: cc.localTs,
        remoteTs: cc.remoteTs,
        mode: cc.mode,
        mark: cc.mark ?? conn.mark,
        ifId: cc.ifId ?? conn.ifId,
      };
      await this.#engine.spd.trap(view, reqid, cc.name);
      reqids.push(reqid);
    }
    return reqids[0]!;
  }

  /** Stops reacting to kernel events (engine.close). */
  close(): void {
    this.#closed = true;
    this.#unsubscribe();
  }

  #start(sa: IkeSa, task: Task): void {
    if (this.#closed || sa.state === 'destroyed') return;
    sa.tasks.queue(task);
    this.#engine.run(sa, () => sa.tasks.initiate());
  }

  // ---- engine events ----

  #onEvent(e: EngineEvent): void {
    if (this.#closed) return;
    switch (e.type) {
      case 'ike-established':
        e.sa.wasEstablished = true;
        this.#arm(e.sa);
        enforceUniqueness(e.sa);
        break;
      case 'ike-rekeyed':
        this.#arm(e.sa);
        break;
      case 'child-installed':
        this.#completeParts(e.sa, e.child);
        break;
      case 'ike-failed':
        if (e.sa.wasEstablished && !e.sa.successor) this.#lost.add(e.sa);
        break;
      case 'ike-destroyed':
        if (this.#lost.delete(e.sa)) void this.#peerLost(e.sa);
        break;
      default:
        break;
    }
  }

  /**
   * RFC 7296 §2.9 with one-sa-per-subnet-pair: the peer's several-pair request was narrowed to one
   * part; request the other parts it covered (pair-completion.ts), unless they stand or are under way.
   */
  #completeParts(sa: IkeSa, child: ChildSa): void {
    for (const cc of takePartsToComplete(child)) {
      const busy =
        sa.children.some(
          (c) => c.config.name === cc.name && (c.state === 'installed' || c.state === 'installing'),
        ) ||
        [...sa.tasks.queued, ...(sa.tasks.active?.tasks ?? [])].some(
          (t) => t instanceof CreateChildSa && t.initiator && !t.old && t.childConfig.name === cc.name,
        );
      if (busy) continue;
      sa.logger.log('info', 'requesting a subnet pair the peer proposed with another', { child: cc.name });
      this.createChild(sa, cc);
    }
  }

  /** Per-IKE-SA timers; they die with the SA (IkeSa.after). */
  #arm(sa: IkeSa): void {
    const c = sa.config;
    if (c.dpdDelayMs) this.#dpd(sa, c.dpdDelayMs, c.dpdDelayMs);
    if (sa.natLocal) this.#keepalive(sa);
    // RFC 7296 §2.8: rekey at the soft lifetime; delete at the hard one if the rekey never succeeded.
    if (c.ikeRekeyMs) {
      const o = this.#engine.options;
      const ms = jitteredRekeyMs(c.ikeRekeyMs, c.ikeLifetimeMs, o.rekeyJitter, (n) =>
        this.#engine.randomBytes(n),
      );
      sa.after(ms, () => this.rekeyIke(sa));
    }
    if (c.ikeLifetimeMs) sa.after(c.ikeLifetimeMs, () => this.deleteIke(sa));
  }

  /** RFC 7296 §2.4: probe only when nothing authenticated arrived for `delay` ms. */
  #dpd(sa: IkeSa, delay: number, wait: number): void {
    sa.after(wait, () => {
      if (!sa.established) return;
      const idle = this.#engine.timers.now() - sa.lastInbound;
      if (idle >= delay) {
        this.checkLiveness(sa);
        this.#deadline(sa, this.#engine.timers.now());
      }
      this.#dpd(sa, delay, idle >= delay ? delay : delay - idle);
    });
  }

  /**
   * liveness.timeout: the peer is dead when nothing authenticated arrived within the timeout after the
   * probe went out, whatever the probe's retransmissions still do (they back off to minutes).
   */
  #deadline(sa: IkeSa, probeAt: number): void {
    const timeout = sa.config.dpdTimeoutMs;
    if (!timeout || sa.deadlineArmed) return;
    sa.deadlineArmed = true;
    sa.after(timeout, () => {
      sa.deadlineArmed = false;
      if (!sa.established || sa.lastInbound >= probeAt) return;
      sa.logger.log('warn', 'peer silent past liveness timeout', { timeoutMs: timeout });
      this.#engine.run(sa, () => sa.fail(`no answer within liveness timeout (RFC 7296 §2.4)`));
    });
  }

  /** RFC 3948 §4: "a NAT-keepalive packet ... every 20 seconds" while we are behind a NAT. */
  #keepalive(sa: IkeSa): void {
    sa.after(this.#engine.options.keepaliveMs, () => {
      if (sa.state === 'destroyed' || !sa.natLocal) return;
      this.#engine.transport.sendKeepalive(sa.path).catch(() => undefined);
      this.#keepalive(sa);
    });
  }

  /** The peer is gone (RFC 7296 §2.4): everything was removed; now the configured action. */
  async #peerLost(sa: IkeSa): Promise<void> {
    const c = this.#engine.connection(sa.config.name);
    const action = c?.dpdAction ?? 'clear';
    sa.logger.log('info', 'peer lost', { action });
    if (!c || this.#closed || action === 'clear') return;
    if (action === 'restart' && c.remoteAddr) await this.#engine.initiateFresh(c.name);
    if (action === 'trap' && c.remoteAddr) await this.trap({ ...c, remoteAddr: c.remoteAddr });
  }

  // ---- kernel events ----

  #onKernel(e: KernelEvent): void {
    if (this.#closed) return;
    if (e.type === 'expire') {
      const found = this.#findChild(e.sa.spi);
      if (!found) return;
      const [sa, child] = found;
      // RFC 7296 §2.8: the soft lifetime starts the rekey; at the hard one the kernel dropped the SA
      // and we tell the peer with a Delete.
      if (e.hard) this.deleteChild(sa, child);
      else if (live(sa)) this.rekeyChild(sa, child);
      // The IKE SA is being rekeyed or closed: the kernel will not repeat the EXPIRE, so the rekey
      // is tried again later on whichever IKE SA then holds the Child SA (§2.25).
      else if (child.state === 'installed') retryChildRekey(sa, child, this.#engine.options.rekeyRetryMs);
    } else if (e.type === 'acquire') {
      this.#acquire(e);
    } else if (e.type === 'mapping') {
      this.#mapping(e);
    }
  }

  /**
   * RFC 3948 / RFC 7296 §2.23: the NAT in front of the peer changed its mapping. The kernel reports it
   * for an inbound ESP-in-UDP SA once a packet authenticated with that SA's keys came from the new
   * address/port, so the change is authenticated by the peer. Only for an IKE SA with a NAT detected,
   * and only when the old mapping is the one in use (stale or repeated events are ignored): the IKE SA
   * sends from now on to the new address/port, and its Child SAs are re-pointed there.
   */
  #mapping(e: Extract<KernelEvent, { type: 'mapping' }>): void {
    const found = this.#findChild(e.sa.spi);
    if (!found || found[1].spiIn !== e.sa.spi) return;
    const [sa] = found;
    const p = sa.path;
    if (!live(sa) || !(sa.natLocal || sa.natRemote)) return;
    if (p.remoteAddr !== e.oldAddr || p.remotePort !== e.oldPort) return;
    sa.logger.log('info', 'NAT mapping of the peer changed', {
      from: `${e.oldAddr}:${e.oldPort}`,
      to: `${e.newAddr}:${e.newPort}`,
    });
    sa.path = { ...p, remoteAddr: e.newAddr, remotePort: e.newPort };
    this.#engine.run(sa, async () => {
      for (const c of sa.children)
        if (c.state === 'installed' || c.state === 'rekeying')
          await c.repoint(this.#engine.kernel, installContext(sa, c.config)).catch((err: unknown) => {
            sa.logger.log('warn', 'moving a Child SA to the new NAT mapping failed', {
              child: c.id,
              error: err instanceof Error ? err.message : String(err),
            });
          });
    });
  }

  #findChild(spi: number): [IkeSa, ChildSa] | undefined {
    for (const sa of this.#engine.sas())
      for (const c of sa.children)
        if ((c.spiIn === spi || c.spiOut === spi) && c.state !== 'destroyed') return [sa, c];
    return undefined;
  }

  /** RFC 4301 §5.2 / RFC 7296 §1.3: a packet met a policy without an SA: start the connection. */
  #acquire(e: Extract<KernelEvent, { type: 'acquire' }>): void {
    const eng = this.#engine;
    const found = this.#childFor(e.template.reqid, e.selector.src, e.selector.dst);
    const conn = found === undefined ? undefined : eng.connection(found.conn);
    if (!conn?.remoteAddr) return;
    const cc = childrenOf(conn).find((x) => x.name === found?.child) ?? childrenOf(conn)[0]!;
    const sas = eng.sasOf(conn.name).filter((s) => s.state !== 'destroyed');
    if (sas.some((s) => s.state === 'created' || s.state === 'connecting')) return; // under way
    const up = sas.find(live);
    if (up) {
      // Each child has its own Child SA: only the child whose traffic this is, unless it stands.
      const has = (c: ChildSa) =>
        c.config.name === cc.name && (c.state === 'installed' || c.state === 'installing');
      if (
        !up.children.some(has) &&
        !up.tasks.queued.some((t) => t instanceof CreateChildSa && t.childConfig === cc)
      )
        this.createChild(up, childrenOf(up.config).find((x) => x.name === cc.name) ?? cc);
      return;
    }
    if (conn.remoteName === undefined) eng.initiate(conn.name, cc.name);
    // The daemon's refresh logs and counts its own failures; initiate() cannot throw here (remoteAddr is set).
    else eng.initiateFresh(conn.name, cc.name).catch(() => undefined);
  }

  /**
   * Which connection and child an ACQUIRE is for: the child whose reqid the template carries (each
   * child has its own), a trap's owner, else the first child whose selectors hold the packet.
   */
  #childFor(
    reqid: number,
    src: string,
    dst: string,
  ): { conn: string; child: string | undefined } | undefined {
    const eng = this.#engine;
    if (reqid !== 0)
      for (const c of eng.connections())
        if (c.children) {
          const cc = c.children.find((x) => x.reqid === reqid);
          if (cc) return { conn: c.name, child: cc.name };
        }
    const owner = eng.spd.trapOwner(reqid);
    if (owner !== undefined) return { conn: owner, child: eng.spd.trapChild(reqid) };
    return this.#connectionFor(src, dst);
  }

  #connectionFor(src: string, dst: string): { conn: string; child: string } | undefined {
    let s, d;
    try {
      s = tsFromCidr(src);
      d = tsFromCidr(dst);
    } catch {
      return undefined;
    }
    const inside = (list: IkeConnection['localTs'], t: typeof s) => list.some((x) => tsContains(x, t));
    for (const c of this.#engine.connections())
      for (const cc of childrenOf(c))
        if (inside(cc.localTs, s) && inside(cc.remoteTs, d)) return { conn: c.name, child: cc.name };
    return undefined;
  }
}
