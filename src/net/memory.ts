// The in-memory twin of the UDP transport (compare wireguard-go's conn/bindtest): a MemoryNetwork joins
// several MemoryTransports by address, delivers datagrams through the daemon TimerQueue (so a FakeClock
// drives it), and injects faults deterministically: loss, duplication, reordering and delay, from a
// seeded PRNG or explicit predicates. The wire carries the same bytes UDP would (non-ESP marker on the
// NAT-T port), and the receive side runs the same `admit` classification as UdpTransport.
import type { Counters } from '../base/counters.ts';
import type { TimerQueue } from '../base/timers.ts';
import { seededRandom } from './prng.ts';
import {
  IKE_PORT,
  NATT_KEEPALIVE,
  NATT_PORT,
  TransportError,
  admit,
  frame,
  type PacketPath,
  type ReceiveHandler,
  type Transport,
} from './transport.ts';

/** One datagram as it crossed the wire (wire bytes, i.e. with the non-ESP marker where applicable). */
export interface WireDatagram {
  readonly seq: number;
  readonly srcAddr: string;
  readonly srcPort: number;
  readonly dstAddr: string;
  readonly dstPort: number;
  readonly data: Uint8Array;
}

export type DatagramPredicate = (d: WireDatagram) => boolean;

export interface Faults {
  /** Probability in [0, 1] that a datagram is lost (seeded). */
  readonly loss?: number;
  /** Drops exactly the datagrams it returns true for (evaluated before `loss`). */
  readonly drop?: DatagramPredicate;
  /** Probability that a datagram is delivered twice (seeded), or a predicate. */
  readonly duplicate?: number | DatagramPredicate;
  /** Fixed one-way delay in ms (default 0). */
  readonly delayMs?: number;
  /** Extra uniform delay in [0, jitterMs) per datagram (seeded); reorders datagrams. */
  readonly jitterMs?: number;
  /** Probability that a datagram is held back by `reorderDelayMs` (default 50), or a predicate. */
  readonly reorder?: number | DatagramPredicate;
  readonly reorderDelayMs?: number;
}

export interface NetworkStats {
  sent: number;
  delivered: number;
  dropped: number;
  duplicated: number;
  undeliverable: number;
}

/**
 * A NAPT in front of one address (RFC 3948 / RFC 7296 §2.23 test double): datagrams from `inside`
 * leave with source `outside` and a mapped port; datagrams to `outside` on a mapped port go back to
 * `inside` and the original port; anything else sent to `outside` is dropped, like a real NAT.
 */
export interface NatOptions {
  readonly inside: string;
  readonly outside: string;
  /** First public port handed out (default 40000). */
  readonly portBase?: number;
}

export interface MemoryNetworkOptions {
  readonly seed?: number;
  readonly nat?: NatOptions;
  readonly faults?: Faults;
  /** How many datagrams `log` keeps (oldest dropped first); default 10 000. */
  readonly logLimit?: number;
}

export interface MemoryTransportOptions {
  readonly addresses: readonly string[];
  readonly ikePort?: number;
  readonly nattPort?: number;
  readonly counters?: Counters;
}

export class MemoryNetwork {
  readonly timers: TimerQueue;
  readonly stats: NetworkStats = { sent: 0, delivered: 0, dropped: 0, duplicated: 0, undeliverable: 0 };
  /** Every datagram sent, in order (bounded by logLimit). */
  readonly log: WireDatagram[] = [];
  faults: Faults;
  readonly nat: NatOptions | undefined;
  /** inside port -> public port, and back. */
  readonly #natOut = new Map<number, number>();
  readonly #natIn = new Map<number, number>();
  readonly #random: () => number;
  readonly #byAddr = new Map<string, MemoryTransport>();
  readonly #logLimit: number;
  #seq = 0;

  constructor(timers: TimerQueue, opts: MemoryNetworkOptions = {}) {
    this.timers = timers;
    this.faults = opts.faults ?? {};
    this.nat = opts.nat;
    this.#random = seededRandom(opts.seed ?? 1);
    this.#logLimit = opts.logLimit ?? 10_000;
  }

  /** A host on this network owning `addresses` (each address belongs to one transport). */
  createTransport(opts: MemoryTransportOptions): MemoryTransport {
    for (const a of opts.addresses) {
      if (this.#byAddr.has(a)) throw new TransportError('ERR_BAD_ADDRESS', `address already attached: ${a}`);
    }
    const t = new MemoryTransport(this, opts);
    for (const a of opts.addresses) this.#byAddr.set(a, t);
    return t;
  }

  /**
   * A shared address moves to another host (VRRP in tests of HA pairs): `addr` now belongs to `to`,
   * which sends and receives on it; the host that had it loses it.
   */
  moveAddress(addr: string, to: MemoryTransport): void {
    const from = this.#byAddr.get(addr);
    from?.dropAddress(addr);
    to.addAddress(addr);
    this.#byAddr.set(addr, to);
  }

  /** Puts raw wire bytes on the network as if `path.remoteAddr:remotePort` sent them to `path.local*`. */
  inject(data: Uint8Array, to: PacketPath): void {
    this.transmit(data.slice(), to.remoteAddr, to.remotePort, to.localAddr, to.localPort);
  }

  /** @internal called by MemoryTransport.send */
  transmit(data: Uint8Array, srcAddr: string, srcPort: number, dstAddr: string, dstPort: number): void {
    const nat = this.nat;
    if (nat && srcAddr === nat.inside) {
      let pub = this.#natOut.get(srcPort);
      if (pub === undefined) {
        pub = (nat.portBase ?? 40000) + this.#natOut.size;
        this.#natOut.set(srcPort, pub);
        this.#natIn.set(pub, srcPort);
      }
      [srcAddr, srcPort] = [nat.outside, pub];
    } else if (nat && dstAddr === nat.outside) {
      const priv = this.#natIn.get(dstPort);
      if (priv === undefined) {
        this.stats.undeliverable++;
        return;
      }
      [dstAddr, dstPort] = [nat.inside, priv];
    }
    const d: WireDatagram = { seq: this.#seq++, srcAddr, srcPort, dstAddr, dstPort, data };
    this.stats.sent++;
    this.log.push(d);
    if (this.log.length > this.#logLimit) this.log.shift();
    const f = this.faults;
    if (f.drop?.(d) || this.#chance(f.loss)) {
      this.stats.dropped++;
      return;
    }
    this.#schedule(d);
    if (typeof f.duplicate === 'function' ? f.duplicate(d) : this.#chance(f.duplicate)) {
      this.stats.duplicated++;
      this.#schedule(d);
    }
  }

  /** @internal */
  detach(t: MemoryTransport): void {
    for (const [a, owner] of this.#byAddr) if (owner === t) this.#byAddr.delete(a);
  }

  #chance(p: number | undefined): boolean {
    return p !== undefined && p > 0 && this.#random() < p;
  }

  #schedule(d: WireDatagram): void {
    const f = this.faults;
    let delay = f.delayMs ?? 0;
    if (f.jitterMs) delay += this.#random() * f.jitterMs;
    if (typeof f.reorder === 'function' ? f.reorder(d) : this.#chance(f.reorder))
      delay += f.reorderDelayMs ?? 50;
    this.timers.after(delay, () => this.#deliver(d));
  }

  #deliver(d: WireDatagram): void {
    const t = this.#byAddr.get(d.dstAddr);
    if (t === undefined || !t.receive(d)) this.stats.undeliverable++;
    else this.stats.delivered++;
  }
}

export class MemoryTransport implements Transport {
  #addresses: string[];
  readonly ikePort: number;
  readonly nattPort: number;
  readonly #net: MemoryNetwork;
  readonly #counters: Counters | undefined;
  #handler: ReceiveHandler | undefined;
  #closed = false;

  /** Use MemoryNetwork.createTransport. */
  constructor(net: MemoryNetwork, opts: MemoryTransportOptions) {
    this.#net = net;
    this.#addresses = [...opts.addresses];
    this.ikePort = opts.ikePort ?? IKE_PORT;
    this.nattPort = opts.nattPort ?? NATT_PORT;
    this.#counters = opts.counters;
  }

  get addresses(): readonly string[] {
    return this.#addresses;
  }
  /** @internal MemoryNetwork.moveAddress */
  addAddress(addr: string): void {
    if (!this.#addresses.includes(addr)) this.#addresses = [...this.#addresses, addr];
  }
  /** @internal MemoryNetwork.moveAddress */
  dropAddress(addr: string): void {
    this.#addresses = this.#addresses.filter((a) => a !== addr);
  }

  onReceive(handler: ReceiveHandler): void {
    this.#handler = handler;
  }

  send(packet: Uint8Array, path: PacketPath): Promise<void> {
    return this.#sendRaw(frame(packet, path.localPort === this.nattPort), path);
  }

  sendKeepalive(path: PacketPath): Promise<void> {
    if (path.localPort !== this.nattPort) {
      return Promise.reject(new TransportError('ERR_NO_SOCKET', 'keepalives go out of the NAT-T port only'));
    }
    return this.#sendRaw(NATT_KEEPALIVE, path);
  }

  close(): Promise<void> {
    this.#closed = true;
    this.#handler = undefined;
    this.#net.detach(this);
    return Promise.resolve();
  }

  /** @internal called by MemoryNetwork; false when nothing listens on that address and port. */
  receive(d: WireDatagram): boolean {
    if (this.#closed || (d.dstPort !== this.ikePort && d.dstPort !== this.nattPort)) return false;
    const packet = admit(d.data.slice(), d.dstPort === this.nattPort, this.#counters);
    if (packet === undefined) return true;
    if (this.#handler === undefined) {
      this.#counters?.inc('net.drop_no_handler');
      return true;
    }
    this.#handler(packet, {
      localAddr: d.dstAddr,
      localPort: d.dstPort,
      remoteAddr: d.srcAddr,
      remotePort: d.srcPort,
    });
    return true;
  }

  #sendRaw(data: Uint8Array, path: PacketPath): Promise<void> {
    if (this.#closed) return Promise.reject(new TransportError('ERR_CLOSED', 'transport is closed'));
    const ownsPort = path.localPort === this.ikePort || path.localPort === this.nattPort;
    if (!this.addresses.includes(path.localAddr) || !ownsPort) {
      this.#counters?.inc('net.tx_errors');
      const msg = `no socket bound for ${path.localAddr}:${path.localPort}`;
      return Promise.reject(new TransportError('ERR_NO_SOCKET', msg));
    }
    this.#counters?.inc('net.tx_packets');
    this.#net.transmit(data.slice(), path.localAddr, path.localPort, path.remoteAddr, path.remotePort);
    return Promise.resolve();
  }
}
