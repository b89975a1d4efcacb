// The real transport: node:dgram sockets on the IKE port (500) and the NAT-T port (4500), IPv4 and
// IPv6, one socket per (local address, port). Ports can be overridden (0 = ephemeral) for tests.
//
// Limits of node:dgram, by design of this first version: no IP_PKTINFO, so a socket bound to a wildcard
// address reports the wildcard as `localAddr` (bind specific addresses when NAT detection needs the
// real one, RFC 7296 §2.23), and the source address of a send is the socket's own.
import dgram from 'node:dgram';
import { isIPv4, isIPv6 } from 'node:net';
import type { Counters } from '../base/counters.ts';
import { enableEspInUdp } from '../kernel/natt.ts';
import {
  IKE_PORT,
  MAX_DATAGRAM,
  NATT_KEEPALIVE,
  NATT_PORT,
  TransportError,
  admit,
  frame,
  type PacketPath,
  type ReceiveHandler,
  type Transport,
} from './transport.ts';
import type { TraceFn } from './trace.ts';

export interface UdpTransportOptions {
  /** Local addresses to bind; default the IPv4 and IPv6 wildcards. */
  readonly addresses?: readonly string[];
  /** Default 500; 0 picks an ephemeral port (shared by all addresses). */
  readonly ikePort?: number;
  /** Default 4500; 0 picks an ephemeral port. */
  readonly nattPort?: number;
  readonly counters?: Counters;
  /** Set UDP_ENCAP_ESPINUDP on the NAT-T sockets so the kernel takes ESP-in-UDP (needs XFRM). */
  readonly kernelEspInUdp?: boolean;
  /** `--log-level trace`: called for every IKE message received and sent (src/net/trace.ts). */
  readonly trace?: TraceFn;
}

interface BoundSocket {
  readonly sock: dgram.Socket;
  readonly address: string;
  readonly v6: boolean;
  readonly port: number;
  readonly natt: boolean;
}

const isWildcard = (a: string) => a === '0.0.0.0' || a === '::';

export class UdpTransport implements Transport {
  readonly #sockets: BoundSocket[] = [];
  readonly #counters: Counters | undefined;
  #trace: TraceFn | undefined;
  #handler: ReceiveHandler | undefined;
  #closed = false;
  #ikePort = 0;
  #nattPort = 0;

  private constructor(counters: Counters | undefined) {
    this.#counters = counters;
  }

  /** Binds every socket; rejects (and closes what was bound) if any bind fails. */
  static async open(opts: UdpTransportOptions = {}): Promise<UdpTransport> {
    const t = new UdpTransport(opts.counters);
    t.#trace = opts.trace;
    const addresses = opts.addresses ?? ['0.0.0.0', '::'];
    for (const a of addresses) {
      if (!isIPv4(a) && !isIPv6(a)) throw new TransportError('ERR_BAD_ADDRESS', `not an IP address: ${a}`);
    }
    try {
      t.#ikePort = await t.#bindAll(addresses, opts.ikePort ?? IKE_PORT, false);
      t.#nattPort = await t.#bindAll(addresses, opts.nattPort ?? NATT_PORT, true);
      // UDP_ENCAP_ESPINUDP (RFC 3948 framing): the kernel decapsulates ESP, set and read back.
      if (opts.kernelEspInUdp) for (const s of t.#sockets) if (s.natt) enableEspInUdp(s.sock);
    } catch (err) {
      await t.close();
      throw err;
    }
    return t;
  }

  /** The bound ports (resolved when 0 was asked for). */
  get ports(): { readonly ike: number; readonly natt: number } {
    return { ike: this.#ikePort, natt: this.#nattPort };
  }

  onReceive(handler: ReceiveHandler): void {
    this.#handler = handler;
  }

  send(packet: Uint8Array, path: PacketPath): Promise<void> {
    this.#trace?.('tx', packet, path);
    const natt = path.localPort === this.#nattPort;
    return this.#sendRaw(frame(packet, natt), path);
  }

  sendKeepalive(path: PacketPath): Promise<void> {
    if (path.localPort !== this.#nattPort) {
      return Promise.reject(new TransportError('ERR_NO_SOCKET', 'keepalives go out of the NAT-T port only'));
    }
    return this.#sendRaw(NATT_KEEPALIVE, path);
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#handler = undefined;
    const all = this.#sockets.splice(0);
    await Promise.all(all.map((s) => new Promise<void>((resolve) => s.sock.close(() => resolve()))));
  }

  async #bindAll(addresses: readonly string[], port: number, natt: boolean): Promise<number> {
    for (const address of addresses) {
      const v6 = isIPv6(address);
      const sock = dgram.createSocket({ type: v6 ? 'udp6' : 'udp4', ipv6Only: v6, reuseAddr: false });
      await new Promise<void>((resolve, reject) => {
        sock.once('error', reject);
        sock.bind({ address, port, exclusive: true }, () => {
          sock.off('error', reject);
          resolve();
        });
      });
      port = sock.address().port; // an ephemeral port, once chosen, is reused for the other addresses
      sock.on('message', (msg, rinfo) => this.#receive(msg, rinfo, address, port, natt));
      sock.on('error', () => this.#counters?.inc('net.tx_errors'));
      this.#sockets.push({ sock, address, v6, port, natt });
    }
    return port;
  }

  #receive(msg: Buffer, rinfo: dgram.RemoteInfo, localAddr: string, localPort: number, natt: boolean): void {
    if (this.#closed) return;
    const packet = admit(new Uint8Array(msg.buffer, msg.byteOffset, msg.byteLength), natt, this.#counters);
    if (packet === undefined) return;
    const handler = this.#handler;
    if (handler === undefined) {
      this.#counters?.inc('net.drop_no_handler');
      return;
    }
    const path = { localAddr, localPort, remoteAddr: rinfo.address, remotePort: rinfo.port };
    this.#trace?.('rx', packet, path);
    handler(packet, path);
  }

  #pick(path: PacketPath): BoundSocket | undefined {
    // An IPv6 literal always has a colon, IPv4 never (isIPv6 runs a regex per datagram).
    const v6 = path.remoteAddr.includes(':');
    const candidates = this.#sockets.filter((s) => s.v6 === v6 && s.port === path.localPort);
    return (
      candidates.find((s) => s.address === path.localAddr) ?? candidates.find((s) => isWildcard(s.address))
    );
  }

  #sendRaw(data: Uint8Array, path: PacketPath): Promise<void> {
    if (this.#closed) return Promise.reject(new TransportError('ERR_CLOSED', 'transport is closed'));
    if (data.length > MAX_DATAGRAM - 8) {
      return Promise.reject(new TransportError('ERR_PACKET_TOO_LARGE', `${data.length} octets`));
    }
    const s = this.#pick(path);
    if (s === undefined) {
      this.#counters?.inc('net.tx_errors');
      const msg = `no socket bound for ${path.localAddr}:${path.localPort} towards ${path.remoteAddr}`;
      return Promise.reject(new TransportError('ERR_NO_SOCKET', msg));
    }
    return new Promise<void>((resolve, reject) => {
      s.sock.send(data, path.remotePort, path.remoteAddr, (err) => {
        if (err) {
          this.#counters?.inc('net.tx_errors');
          reject(new TransportError('ERR_SEND', err.message));
        } else {
          this.#counters?.inc('net.tx_packets');
          resolve();
        }
      });
    });
  }
}
