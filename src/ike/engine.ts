// The engine: owns the IKE SA tables, receives datagrams from a Transport and dispatches them to IKE
// SAs after the cheap checks (size, header, SPI lookup, half-open limit, cookies), and starts
// connections. All side effects are injected (transport, kernel, timers, randomness, logger).
import { ExchangeType, HeaderFlag, PayloadType, decodeMessage, type IkeMessage } from '../codec/index.ts';
import { KeyExchangePool, randomBytes as pooledRandomBytes } from '../crypto/index.ts';
import type { Kernel } from '../kernel/types.ts';
import type { PacketPath, Transport } from '../net/transport.ts';
import { IKE_PORT, NATT_PORT } from '../net/transport.ts';
import { ENGINE_DEFAULTS, type EngineOptions, type IkeConnection, type IkeIdentity } from './config.ts';
import { Admission, type AdmissionStatus } from './admission.ts';
import { Counters } from '../base/counters.ts';
import { childNamed } from './child-config.ts';
import { IkeError } from './errors.ts';
import { IkeSa } from './ike-sa.ts';
import type { ChildSa } from './child-sa.ts';
import { AdmissionLimits } from './limits.ts';
import { Lifecycle, type LifecycleHost } from './lifecycle.ts';
import { nullLogger, type Logger } from '../base/logger.ts';
import { addressCandidates } from './select.ts';
import type { EngineEvent, EngineServices, ResolvedEngineOptions } from './services.ts';
import { Spd } from './spd/spd.ts';
import type { TaskRegistry } from './task-registry.ts';
import { defaultTaskRegistry, initiatorTasks } from './tasks/index.ts';
import type { TimerHandle, TimerQueue } from '../base/timers.ts';
import { hex } from './wire.ts';

export interface EngineInit {
  readonly transport: Transport;
  readonly kernel: Kernel;
  readonly timers: TimerQueue;
  readonly connections: readonly IkeConnection[];
  readonly options?: EngineOptions;
  readonly logger?: Logger;
  readonly counters?: Counters;
  readonly pool?: KeyExchangePool;
  readonly tasks?: TaskRegistry;
  readonly randomBytes?: (n: number) => Uint8Array;
  /** The transport's ports (default 500 / 4500). */
  readonly ports?: { readonly ike: number; readonly natt: number };
  /** The owner of the connections' policies (the daemon's, with its fail-closed ones); default a new one. */
  readonly spd?: Spd;
}

const peerKey = (addr: string, spiI: Uint8Array) => `${addr}|${hex(spiI)}`;
const peerIdKey = (conn: string, id: IkeIdentity) => `${conn}|${id.type}|${hex(id.data)}`;

export class Engine implements EngineServices, LifecycleHost {
  readonly transport: Transport;
  readonly kernel: Kernel;
  readonly timers: TimerQueue;
  readonly counters: Counters;
  readonly logger: Logger;
  readonly pool: KeyExchangePool;
  readonly options: ResolvedEngineOptions;
  readonly tasks: TaskRegistry;
  readonly ports: { readonly ike: number; readonly natt: number };
  /** Rekeys, deletes, liveness, keepalives and kernel events (src/ike/lifecycle.ts). */
  readonly lifecycle: Lifecycle;
  /** Every policy of every connection: fail-closed, traps, hand-back on Child SA death (spd/spd.ts). */
  readonly spd: Spd;
  readonly #connections = new Map<string, IkeConnection>();
  /** O(1) lookup by our own SPI (hex). */
  readonly #bySpi = new Map<string, IkeSa>();
  /** Responder SAs by the peer's address and SPIi: IKE_SA_INIT retransmissions find their SA. */
  readonly #byPeerSpi = new Map<string, IkeSa>();
  /**
   * Established IKE SAs by connection and authenticated peer identity (see findByPeerId): the SA
   * itself while it is the only one (the common case: no Set per peer), else a Set.
   */
  readonly #byPeerId = new Map<string, IkeSa | Set<IkeSa>>();
  readonly #peerIdKeyOf = new WeakMap<IkeSa, string>();
  /** Responder SAs not yet established, with their half-open timer (cancelled once established). */
  readonly #halfOpen = new Map<IkeSa, TimerHandle>();
  readonly #all = new Set<IkeSa>();
  readonly #listeners = new Set<(e: EngineEvent) => void>();
  readonly #pending = new Set<Promise<void>>();
  /** Who gets a half-open SA under load: COOKIE, PUZZLE, per-source and global limits. */
  readonly #admission: Admission<IkeSa>;
  /** Half-open and per-peer admission limits (RFC 7296 §2.6), with once-per-burst log lines. */
  readonly #limits: AdmissionLimits;
  /** The peer address each SA was counted under in #limits (the path may move with NAT). */
  readonly #countedAddr = new WeakMap<IkeSa, string>();
  readonly #random: (n: number) => Uint8Array;
  #reqid = 0;
  #childId = 0;
  #closed = false;

  constructor(init: EngineInit) {
    this.transport = init.transport;
    this.kernel = init.kernel;
    this.timers = init.timers;
    this.counters = init.counters ?? new Counters();
    this.logger = init.logger ?? nullLogger;
    this.pool = init.pool ?? new KeyExchangePool({ groups: [], size: 0 });
    this.options = { ...ENGINE_DEFAULTS, ...init.options };
    this.tasks = init.tasks ?? defaultTaskRegistry();
    this.ports = init.ports ?? { ike: IKE_PORT, natt: NATT_PORT };
    this.#random = init.randomBytes ?? pooledRandomBytes;
    for (const c of init.connections) this.addConnection(c);
    this.#limits = new AdmissionLimits(this.options, () => this.timers.now(), this.counters, this.logger);
    this.#admission = new Admission(this.options, {
      now: () => this.timers.now(),
      randomBytes: this.#random,
      counters: this.counters,
      logger: this.logger,
      limits: this.#limits,
      send: (p, path) => this.send(p, path),
    });
    this.transport.onReceive((packet, path) => this.#receive(packet, path));
    this.spd = init.spd ?? new Spd(this.kernel, this.logger);
    this.spd.attach(this);
    this.lifecycle = new Lifecycle(this);
  }

  addConnection(c: IkeConnection): void {
    if (this.#connections.has(c.name))
      throw new IkeError('ERR_NO_CONNECTION', `duplicate connection ${c.name}`);
    this.#connections.set(c.name, c);
  }
  /** Forgets a connection (daemon reload); its live SAs keep their config until they are deleted. */
  removeConnection(name: string): boolean {
    return this.#connections.delete(name);
  }
  /** Every configured connection, in insertion order. */
  connections(): IkeConnection[] {
    return [...this.#connections.values()];
  }
  connection(name: string): IkeConnection | undefined {
    return this.#connections.get(name);
  }

  /**
   * Re-resolves a named peer before an initiation (the daemon's, src/daemon/peer-resolve.ts); it
   * updates the connection (setRemoteAddr) when the address moved. Undefined: addresses are fixed.
   */
  peerRefresh: ((name: string) => Promise<void>) | undefined;
  readonly #refreshing = new Set<string>();

  /** The peer of `name` moved: new SAs of it use `addr` (live SAs keep their path until they end). */
  setRemoteAddr(name: string, addr: string): IkeConnection | undefined {
    const c = this.#connections.get(name);
    if (!c) return undefined;
    const moved = { ...c, remoteAddr: addr };
    this.#connections.set(name, moved);
    return moved;
  }

  /**
   * initiate() after the peer's name was resolved again (a connection with remoteName and a
   * peerRefresh). Concurrent calls for one connection coalesce: the later ones return undefined.
   */
  async initiateFresh(name: string, child?: string): Promise<IkeSa | undefined> {
    const refresh = this.peerRefresh;
    if (!refresh || this.#connections.get(name)?.remoteName === undefined) return this.initiate(name, child);
    if (this.#refreshing.has(name)) return undefined;
    this.#refreshing.add(name);
    try {
      await refresh(name);
    } finally {
      this.#refreshing.delete(name);
    }
    if (!this.#connections.has(name)) return undefined; // removed by a reload meanwhile
    return this.initiate(name, child);
  }

  // ---- EngineServices ----
  randomBytes(n: number): Uint8Array {
    return this.#random(n);
  }
  send(packet: Uint8Array, path: PacketPath): void {
    this.transport.send(packet, path).catch((e: unknown) => {
      this.logger.log('debug', 'send failed', { error: e instanceof Error ? e.message : String(e) });
    });
  }
  allocReqid(): number {
    return ++this.#reqid;
  }
  /** An HA standby took over Child SAs with this reqid: later allocations stay above it. */
  reserveReqid(reqid: number): void {
    if (reqid > this.#reqid) this.#reqid = reqid;
  }
  newIkeSpi(): Uint8Array {
    return this.#newSpi();
  }
  nextChildId(): number {
    return ++this.#childId;
  }
  emit(e: EngineEvent): void {
    if (e.type === 'ike-established') {
      this.#leaveHalfOpen(e.sa);
      this.#indexPeerId(e.sa);
    } else if (e.type === 'child-installed') this.spd.childInstalled(e.sa, e.child);
    else if (e.type === 'child-destroyed') this.spd.childGone(e.sa, e.child);
    for (const l of [...this.#listeners]) l(e);
  }
  responderCandidates(path: PacketPath): IkeConnection[] {
    return addressCandidates([...this.#connections.values()], path);
  }
  /** O(1) in the number of IKE SAs (the responder asks on every INITIAL_CONTACT, RFC 7296 §2.4). */
  findByPeerId(conn: IkeConnection, id: IkeIdentity): IkeSa[] {
    const held = this.#byPeerId.get(peerIdKey(conn.name, id));
    if (!held) return [];
    const out: IkeSa[] = [];
    for (const sa of held instanceof Set ? held : [held])
      if (sa.established && sa.config.name === conn.name) out.push(sa);
    return out;
  }
  indexSa(sa: IkeSa): void {
    this.#all.add(sa);
    if (!this.#countedAddr.has(sa)) {
      this.#countedAddr.set(sa, sa.path.remoteAddr);
      this.#limits.add(sa.path.remoteAddr);
    }
    this.#bySpi.set(hex(sa.localSpi), sa);
    if (!sa.initiator) this.#byPeerSpi.set(peerKey(sa.path.remoteAddr, sa.spiI), sa);
    this.#indexPeerId(sa); // a rekeyed IKE SA inherits its peer's identity
  }
  unindexSa(sa: IkeSa): void {
    this.#all.delete(sa);
    const counted = this.#countedAddr.get(sa);
    if (counted !== undefined) {
      this.#countedAddr.delete(sa);
      this.#limits.remove(counted);
    }
    this.#leaveHalfOpen(sa);
    if (this.#bySpi.get(hex(sa.localSpi)) === sa) this.#bySpi.delete(hex(sa.localSpi));
    // Indexed under the peer address of its IKE_SA_INIT (#countedAddr), whatever the path is now:
    // one lookup, never a scan of every SA (unindexing 10^5 SAs must not be quadratic).
    if (!sa.initiator)
      for (const addr of new Set([sa.path.remoteAddr, counted])) {
        if (addr === undefined) continue;
        const pk = peerKey(addr, sa.spiI);
        if (this.#byPeerSpi.get(pk) === sa) this.#byPeerSpi.delete(pk);
      }
    const ik = this.#peerIdKeyOf.get(sa);
    if (ik !== undefined) {
      const held = this.#byPeerId.get(ik);
      if (held === sa) this.#byPeerId.delete(ik);
      else if (held instanceof Set) {
        held.delete(sa);
        if (held.size === 1) this.#byPeerId.set(ik, held.values().next().value as IkeSa);
      }
    }
  }
  #indexPeerId(sa: IkeSa): void {
    if (sa.peerId === undefined || this.#peerIdKeyOf.has(sa) || !this.#all.has(sa)) return;
    const k = peerIdKey(sa.config.name, sa.peerId);
    this.#peerIdKeyOf.set(sa, k);
    const held = this.#byPeerId.get(k);
    if (held === undefined) this.#byPeerId.set(k, sa);
    else if (held instanceof Set) held.add(sa);
    else if (held !== sa) this.#byPeerId.set(k, new Set([held, sa]));
  }

  // ---- public API ----
  /** Subscribes to engine events; returns the unsubscribe function. */
  onEvent(listener: (e: EngineEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
  /** Every live IKE SA. */
  sas(): IkeSa[] {
    return [...this.#all];
  }
  /** The live IKE SAs of a connection ("get an IkeSa by name"). */
  sasOf(name: string): IkeSa[] {
    return this.sas().filter((sa) => sa.config.name === name);
  }
  /** O(1): the IKE SA whose own SPI is `spi`. */
  findBySpi(spi: Uint8Array): IkeSa | undefined {
    return this.#bySpi.get(hex(spi));
  }
  get halfOpenCount(): number {
    return this.#halfOpen.size;
  }
  /** Half-open SAs per source, reserved room and puzzle difficulty (src/ike/admission.ts). */
  admissionStatus(): AdmissionStatus {
    return this.#admission.status();
  }
  /** IKE SAs (any state) held with the peer address `addr` (limits.ike-sas-per-peer). */
  ikeSasOf(addr: string): number {
    return this.#limits.ofPeer(addr);
  }

  /**
   * Starts a connection as initiator: IKE_SA_INIT, then IKE_AUTH with the first Child SA (`child`, by
   * default the first that starts now), then CREATE_CHILD_SA for each other child that starts now.
   */
  initiate(name: string, child?: string): IkeSa {
    const config = this.#connections.get(name);
    if (!config?.remoteAddr)
      throw new IkeError('ERR_NO_CONNECTION', `no connection ${name} with a peer address`);
    const sa = new IkeSa({
      services: this,
      config,
      initiator: true,
      spiI: this.#newSpi(),
      path: {
        localAddr: config.localAddr,
        localPort: this.ports.ike,
        remoteAddr: config.remoteAddr,
        remotePort: IKE_PORT,
      },
    });
    this.indexSa(sa);
    for (const t of initiatorTasks(sa, child)) sa.tasks.queue(t);
    this.run(sa, () => sa.tasks.initiate());
    return sa;
  }

  /** Runs work on an SA in its serial order, tracked by idle(). */
  run(sa: IkeSa, fn: () => Promise<void>): void {
    this.#track(sa.tasks.serialize(fn));
  }

  /** Resolves once no message processing or task work is in flight (tests, shutdown). */
  async idle(): Promise<void> {
    for (let i = 0; i < 1000 && this.#pending.size > 0; i++) await Promise.allSettled([...this.#pending]);
  }

  /**
   * RFC 7296 §1.3.1: an additional Child SA on an established IKE SA of connection `name`, of its
   * child `child` (default: the first child).
   */
  createChild(name: string, child?: string): IkeSa {
    const sa = this.#liveSa(name);
    const cc = child === undefined ? undefined : childNamed(sa.config, child);
    if (child !== undefined && !cc)
      throw new IkeError('ERR_NO_CONNECTION', `connection ${name} has no child ${child}`);
    this.lifecycle.createChild(sa, cc);
    return sa;
  }
  /** RFC 7296 §1.3.3: rekeys a Child SA (with PFS when the ESP proposals carry a KE group). */
  rekeyChild(sa: IkeSa, child: ChildSa): void {
    this.lifecycle.rekeyChild(sa, child);
  }
  /** RFC 7296 §1.3.2: rekeys an IKE SA; its Child SAs move to the new one (event 'ike-rekeyed'). */
  rekeyIke(sa: IkeSa): void {
    this.lifecycle.rekeyIke(sa);
  }
  /** RFC 7296 §1.4.1: deletes one Child SA with the peer, then from the kernel. */
  terminateChild(sa: IkeSa, child: ChildSa): void {
    this.lifecycle.deleteChild(sa, child);
  }
  /** RFC 7296 §1.4.1: deletes every IKE SA of a connection (with their Child SAs); returns how many. */
  terminate(name: string): number {
    const sas = this.sasOf(name).filter((sa) => sa.state !== 'destroyed');
    for (const sa of sas) {
      if (sa.established || sa.state === 'rekeyed') this.lifecycle.deleteIke(sa);
      else this.run(sa, () => sa.destroy()); // nothing authenticated to send a Delete with
    }
    return sas.length;
  }

  #liveSa(name: string): IkeSa {
    const sa = this.sasOf(name).find((s) => s.state === 'established');
    if (!sa) throw new IkeError('ERR_NO_CONNECTION', `no established IKE SA for ${name}`);
    return sa;
  }

  /**
   * Shuts down: every established IKE SA sends its Delete (RFC 7296 §1.4.1) without waiting for the
   * answer, then everything is destroyed locally (kernel state removed, keys wiped).
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    for (const sa of this.sas()) if (sa.established || sa.state === 'rekeyed') this.lifecycle.deleteIke(sa);
    this.lifecycle.close();
    this.spd.close();
    this.#closed = true;
    await this.idle();
    for (const sa of this.sas()) await sa.destroy();
    await this.idle();
    this.#admission.destroy();
  }

  #track(p: Promise<void>): void {
    this.#pending.add(p);
    void p.finally(() => this.#pending.delete(p));
  }

  /** RFC 7296 §2.6: SPIs are random 8 octets, never zero, unique here. */
  #newSpi(): Uint8Array {
    for (let i = 0; i < 16; i++) {
      const spi = this.#random(8);
      if (spi.some((b) => b !== 0) && !this.#bySpi.has(hex(spi))) return spi;
    }
    throw new IkeError('ERR_NO_CONNECTION', 'no unique IKE SPI found');
  }

  #drop(reason: Parameters<Counters['inc']>[0]): void {
    this.counters.inc(reason);
  }

  /** The cheap receive path: nothing here costs a DH, a signature or a decryption. */
  #receive(packet: Uint8Array, path: PacketPath): void {
    if (this.#closed) return;
    if (packet.length > this.options.maxPacket) return this.#drop('ike.drop_too_long');
    // RFC 7296 §3.1: fixed header fields, read before any payload parsing.
    const dv = new DataView(packet.buffer, packet.byteOffset, packet.length);
    if (packet[17]! >> 4 !== 2 || dv.getUint32(24) !== packet.length)
      return this.#drop('ike.drop_bad_header');
    const exchange = packet[18]!;
    const flags = packet[19]!;
    const spiI = packet.subarray(0, 8);
    const spiR = packet.subarray(8, 16);
    const response = (flags & HeaderFlag.RESPONSE) !== 0;
    const fromInitiator = (flags & HeaderFlag.INITIATOR) !== 0;
    let sa: IkeSa | undefined;
    if (exchange === ExchangeType.IKE_SA_INIT && !response) {
      if (!fromInitiator || spiR.some((b) => b !== 0)) return this.#drop('ike.drop_bad_header');
      sa = this.#byPeerSpi.get(peerKey(path.remoteAddr, spiI));
      if (!sa) return this.#newResponder(packet, path);
    } else {
      sa = this.#bySpi.get(hex(fromInitiator ? spiR : spiI));
      // The I flag must say the peer has the other role (RFC 7296 §3.1) -- except in the unprotected
      // answer of a node that lost the IKE SA (§2.21.4): it knows no role, so only our SPI counts.
      if (!sa || sa.initiator === fromInitiator)
        sa = response && packet[16] === PayloadType.NOTIFY ? this.#ourSpi(spiI, spiR) : undefined;
      if (!sa) return this.#drop('ike.drop_unknown_spi');
    }
    const msg = this.#decode(packet);
    if (!msg) return;
    this.#receiveOn(sa, packet, msg, path);
  }

  /** The IKE SA whose own SPI stands in the place its role gives it, whatever the I flag says. */
  #ourSpi(spiI: Uint8Array, spiR: Uint8Array): IkeSa | undefined {
    const asInitiator = this.#bySpi.get(hex(spiI));
    if (asInitiator?.initiator) return asInitiator;
    const asResponder = this.#bySpi.get(hex(spiR));
    return asResponder && !asResponder.initiator ? asResponder : undefined;
  }

  /** Hands a message to its SA; once IKE_AUTH is done the SA drops its setup state (memory). */
  #receiveOn(sa: IkeSa, packet: Uint8Array, msg: IkeMessage, path: PacketPath): void {
    this.run(sa, async () => {
      await sa.tasks.receive(packet, msg, path);
      if (sa.initRequest !== undefined) sa.releaseSetupState();
    });
  }

  /** The SA is no longer half-open (established or gone): its half-open timer goes too. */
  #leaveHalfOpen(sa: IkeSa): void {
    this.#admission.closed(sa); // admission hook
    const timer = this.#halfOpen.get(sa);
    if (timer === undefined) return;
    this.#halfOpen.delete(sa);
    timer.cancel();
  }

  #decode(packet: Uint8Array): IkeMessage | undefined {
    try {
      return decodeMessage(packet);
    } catch {
      this.#drop('ike.drop_malformed');
      return undefined;
    }
  }

  #newResponder(packet: Uint8Array, path: PacketPath): void {
    // ---- admission hook (src/ike/admission.ts): per-source and per-peer limits, decoding, rules,
    // COOKIE / PUZZLE and the global half-open limit, all before any DH or state. ----
    const admitted = this.#admission.request(packet, path, (p) => this.responderCandidates(p)[0]);
    if (!admitted) return;
    const { msg, config } = admitted;
    if (admitted.evict) this.#evict(admitted.evict);
    // ---- end of admission hook ----
    const sa = new IkeSa({
      services: this,
      config,
      initiator: false,
      spiI: msg.header.spiI.slice(),
      spiR: this.#newSpi(),
      path: { ...path },
    });
    this.indexSa(sa);
    // Half-open SAs must not live forever (RFC 7296 §2.6 resource exhaustion). Cancelled once
    // established; only while connecting: an established SA may be rekeyed (§2.18) or deleting.
    const timer = sa.after(this.options.halfOpenTimeoutMs, () => {
      if (sa.state === 'created' || sa.state === 'connecting')
        this.run(sa, () => sa.fail('half-open timeout'));
    });
    this.#halfOpen.set(sa, timer);
    this.#admission.opened(sa, path.remoteAddr, admitted.reserved); // admission hook
    this.#receiveOn(sa, packet, msg, path);
  }

  /** Admission aged out a flooding source's half-open SA to make room (src/ike/admission.ts). */
  #evict(sa: IkeSa): void {
    this.#leaveHalfOpen(sa);
    // Silent (counted as ike.evict_half_open): one log line per eviction would be a log flood.
    this.run(sa, () => sa.destroy());
  }
}
