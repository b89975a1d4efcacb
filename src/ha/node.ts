// One node of an active/standby pair. The active streams every change of its IKE SAs to the standby
// (engine events: established, rekeyed, Child SA in or out, message IDs moved; deletes), reports the
// outbound ESP sequence numbers every `seqReportMs`, and sends a full resync when the standby asks
// (it (re)connected). The standby keeps the records without installing anything. keepalived decides
// who is active (VRRP) and calls `promote` / `demote` through the control socket.
//
// Split brain (both active, seen in the other's heartbeat): the node with the lower priority demotes
// itself; with equal priorities, the one with the higher node id. The other stays. Logged and counted.
import type { Logger } from '../base/logger.ts';
import type { TimerHandle, TimerQueue } from '../base/timers.ts';
import type { Engine } from '../ike/engine.ts';
import type { IkeSa } from '../ike/ike-sa.ts';
import type { ChildSa } from '../ike/child-sa.ts';
import type { SyncChannel } from './channel.ts';
import { decodeMessage, encodeMessage, HaMessageError, type HaMessage, type HaRole } from './messages.ts';
import { describeRecord, hex, ikeRecord, type ChildRecord, type IkeRecord } from './record.ts';
import { restoreIkeSa, type SeqPolicy } from './restore.ts';

export interface HaNodeOptions {
  readonly engine: Engine;
  readonly channel: SyncChannel;
  readonly timers: TimerQueue;
  readonly logger: Logger;
  readonly nodeId: number;
  readonly priority: number;
  /** Role at start (before keepalived says anything): normally standby. */
  readonly role?: HaRole;
  readonly heartbeatMs?: number;
  readonly seq: SeqPolicy;
}

export interface HaStatus {
  readonly role: HaRole;
  readonly nodeId: number;
  readonly priority: number;
  readonly peerRole: HaRole | undefined;
  /** Records held for takeover (standby) or streamed (active). */
  readonly records: number;
  readonly synced: boolean;
  /** ms since the last message from the peer node, undefined if none yet. */
  readonly syncLagMs: number | undefined;
  readonly lastFailover: { readonly at: number; readonly to: HaRole; readonly sas: number } | undefined;
  readonly splitBrains: number;
  readonly counters: Record<string, number>;
}

const saKey = (spiI: string, spiR: string) => `${spiI}_${spiR}`;

export class HaNode {
  readonly #o: HaNodeOptions;
  #role: HaRole;
  readonly #epoch: number;
  /** Standby: the active's IKE SAs by SPIs. Active: unused. */
  readonly #store = new Map<string, IkeRecord>();
  #synced = false;
  #resyncing = false;
  #peer: { role: HaRole; priority: number; epoch: number; synced: boolean } | undefined;
  #lastFailover: HaStatus['lastFailover'];
  #splitBrains = 0;
  #timer: TimerHandle | undefined;
  #lastSeqReport = 0;
  /** Active: install times of Child SAs (the kernel lifetimes start there) and last oseq read. */
  readonly #installedAt = new WeakMap<ChildSa, number>();
  readonly #oseq = new WeakMap<ChildSa, NonNullable<ChildRecord['oseq']>>();
  readonly #dirty = new Set<IkeSa>();
  #flushQueued = false;
  readonly #unsubscribe: () => void;

  constructor(o: HaNodeOptions) {
    this.#o = o;
    this.#role = o.role ?? 'standby';
    this.#epoch = o.timers.now();
    o.channel.onMessage((plain, sender) => this.#receive(plain, sender));
    // A lost update cannot be told from the ones that came: start over from a full copy.
    o.channel.onGap(() => {
      if (this.#role !== 'standby') return;
      this.#synced = false;
      this.#send({ t: 'resync-req' });
    });
    this.#unsubscribe = o.engine.onEvent((e) => {
      if (e.type === 'child-installed' || e.type === 'child-rekeyed')
        this.#installedAt.set(e.child, this.#now());
      if (this.#role !== 'active') return;
      if (e.type === 'ike-destroyed') {
        this.#dirty.delete(e.sa);
        this.#send({ t: 'del', spiI: hex(e.sa.spiI), spiR: hex(e.sa.spiR) });
      } else if (e.type !== 'ike-failed' && e.type !== 'child-failed') this.#markDirty(e.sa);
    });
    this.#heartbeat();
  }

  get role(): HaRole {
    return this.#role;
  }
  /** Standby: the records it holds (tests, status). */
  records(): IkeRecord[] {
    return [...this.#store.values()];
  }

  status(): HaStatus {
    return {
      role: this.#role,
      nodeId: this.#o.nodeId,
      priority: this.#o.priority,
      peerRole: this.#peer?.role,
      records: this.#role === 'active' ? this.#o.engine.sas().length : this.#store.size,
      synced: this.#synced,
      syncLagMs: this.#o.channel.sinceLastReceived(),
      lastFailover: this.#lastFailover,
      splitBrains: this.#splitBrains,
      counters: this.#o.channel.counters.snapshot(),
    };
  }

  /**
   * Become active (keepalived MASTER): every synced IKE SA goes live in the engine, its Child SAs and
   * policies into the kernel. Returns how many IKE SAs were taken over.
   */
  async promote(): Promise<number> {
    if (this.#role === 'active') return 0;
    this.#role = 'active';
    const now = this.#now();
    let n = 0;
    for (const [k, r] of this.#store) {
      try {
        await restoreIkeSa(this.#o.engine, r, now, this.#o.seq);
        n++;
      } catch (e) {
        this.#o.logger.log('warn', 'HA: could not take over IKE SA', {
          sa: describeRecord(r),
          error: e instanceof Error ? e.message : String(e),
        });
      }
      this.#store.delete(k);
    }
    this.#synced = false;
    this.#lastFailover = { at: now, to: 'active', sas: n };
    this.#o.logger.log('info', 'HA: promoted to active', { sas: n });
    this.#hello();
    return n;
  }

  /**
   * Become standby (keepalived BACKUP or FAULT): our IKE SAs leave the engine and their Child SAs
   * the kernel, without a Delete to the peer (the new active carries them on).
   */
  async demote(): Promise<number> {
    if (this.#role === 'standby') return 0;
    this.#role = 'standby';
    const sas = this.#o.engine.sas();
    for (const sa of sas) await sa.destroy();
    this.#synced = false;
    this.#lastFailover = { at: this.#now(), to: 'standby', sas: sas.length };
    this.#o.logger.log('info', 'HA: demoted to standby', { sas: sas.length });
    this.#send({ t: 'resync-req' });
    return sas.length;
  }

  close(): void {
    this.#timer?.cancel();
    this.#unsubscribe();
    this.#o.channel.close();
  }

  #now(): number {
    return this.#o.timers.now();
  }

  #send(m: HaMessage): void {
    this.#o.channel.send(encodeMessage(m));
  }

  #hello(): void {
    this.#send({
      t: 'hello',
      role: this.#role,
      priority: this.#o.priority,
      epoch: this.#epoch,
      synced: this.#synced,
    });
  }

  #heartbeat(): void {
    const every = this.#o.heartbeatMs ?? 1000;
    this.#timer = this.#o.timers.after(every, () => {
      this.#hello();
      if (this.#role === 'standby' && !this.#synced && this.#peer?.role === 'active')
        this.#send({ t: 'resync-req' });
      if (this.#role === 'active' && this.#now() - this.#lastSeqReport >= this.#o.seq.reportMs)
        void this.#reportSeq();
      this.#heartbeat();
    });
  }

  #markDirty(sa: IkeSa): void {
    this.#dirty.add(sa);
    if (this.#flushQueued) return;
    this.#flushQueued = true;
    // After the current exchange's work (one record per IKE SA per turn, not per event).
    setImmediate(() => {
      this.#flushQueued = false;
      for (const s of this.#dirty) this.#sendSa(s);
      this.#dirty.clear();
    });
  }

  #sendSa(sa: IkeSa): boolean {
    const r = ikeRecord(sa, this.#now(), {
      installedAt: (c) => this.#installedAt.get(c) ?? this.#now(),
      oseq: (c) => this.#oseq.get(c),
    });
    if (!r) return false;
    this.#send({ t: 'sa', rec: r });
    return true;
  }

  /** RFC 4303 §3.3.3: read each outbound SA's sequence counter and send the records that moved. */
  async #reportSeq(): Promise<void> {
    this.#lastSeqReport = this.#now();
    const k = this.#o.engine.kernel;
    for (const sa of this.#o.engine.sas()) {
      if (!sa.established) continue;
      let moved = false;
      for (const c of sa.children) {
        const ctx = c.installed;
        if (!ctx || c.state === 'destroyed' || c.outboundPending) continue;
        try {
          const info = await k.getSa({ dst: ctx.remoteAddr, spi: c.spiOut, proto: c.protocol });
          const value = info.replay?.oseq;
          if (value !== undefined && value.toString() !== this.#oseq.get(c)?.value) {
            this.#oseq.set(c, { value: value.toString(), at: this.#now() });
            moved = true;
          }
        } catch {
          // gone meanwhile: its removal is synced by the events
        }
      }
      if (moved) this.#sendSa(sa);
    }
  }

  #fullResync(): void {
    this.#send({ t: 'resync-begin' });
    let n = 0;
    for (const sa of this.#o.engine.sas()) if (this.#sendSa(sa)) n++;
    this.#send({ t: 'resync-end', count: n });
  }

  #receive(plain: Uint8Array, sender: number): void {
    let m: HaMessage;
    try {
      m = decodeMessage(plain);
    } catch (e) {
      if (!(e instanceof HaMessageError)) throw e;
      this.#o.channel.counters.inc('ha.rx_bad_record');
      return;
    }
    switch (m.t) {
      case 'hello':
        return this.#onHello(m, sender);
      case 'resync-req':
        if (this.#role === 'active') this.#fullResync();
        return;
      case 'resync-begin':
        if (this.#role !== 'standby') return;
        this.#store.clear();
        this.#resyncing = true;
        return;
      case 'resync-end':
        if (this.#role !== 'standby' || !this.#resyncing) return;
        this.#resyncing = false;
        this.#synced = this.#store.size === m.count;
        return;
      case 'sa':
        if (this.#role === 'standby') this.#store.set(saKey(m.rec.spiI, m.rec.spiR), m.rec);
        return;
      case 'del':
        if (this.#role === 'standby') this.#store.delete(saKey(m.spiI, m.spiR));
        return;
    }
  }

  #onHello(m: Extract<HaMessage, { t: 'hello' }>, sender: number): void {
    const restarted = this.#peer !== undefined && this.#peer.epoch !== m.epoch;
    this.#peer = { role: m.role, priority: m.priority, epoch: m.epoch, synced: m.synced };
    if (this.#role === 'standby' && m.role === 'active' && (restarted || !this.#synced)) {
      this.#synced = false;
      this.#send({ t: 'resync-req' });
    }
    if (this.#role === 'active' && m.role === 'active') {
      this.#splitBrains++;
      const weLose =
        this.#o.priority < m.priority || (this.#o.priority === m.priority && this.#o.nodeId > sender);
      this.#o.logger.log('warn', 'HA: split brain, both nodes active', {
        priority: this.#o.priority,
        peerPriority: m.priority,
        resolution: weLose ? 'demoting this node' : 'peer demotes',
      });
      if (weLose) void this.demote();
    }
  }
}
