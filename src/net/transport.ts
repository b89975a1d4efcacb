// The datagram transport contract (compare wireguard-go's conn.Bind): the engine hands it encoded IKE
// messages and a four-tuple, and receives IKE messages with the four-tuple they arrived on. Two
// implementations: UdpTransport (./udp.ts, node:dgram on ports 500 and 4500) and MemoryNetwork
// (./memory.ts, an in-process twin with fault injection for tests). Both apply the same framing below.
import type { Counters } from '../base/counters.ts';

/** RFC 7296 §2.11 / RFC 3948 §2: the well-known ports. */
export const IKE_PORT = 500;
export const NATT_PORT = 4500;

/** RFC 3948 §2.2: IKE on the NAT-T port is preceded by a four-octet zero "non-ESP marker". */
export const NON_ESP_MARKER_LEN = 4;
/** RFC 7296 §3.1: the fixed IKE header is 28 octets; anything shorter cannot be IKE. */
export const IKE_HEADER_LEN = 28;
/** Largest UDP payload we accept (IPv6 jumbograms aside, a UDP datagram carries at most this). */
export const MAX_DATAGRAM = 65_535;

/** The addresses and ports of one datagram, from this host's point of view. */
export interface PacketPath {
  readonly localAddr: string;
  readonly localPort: number;
  readonly remoteAddr: string;
  readonly remotePort: number;
}

/** Receives one IKE message (marker already stripped) with the path it arrived on. */
export type ReceiveHandler = (packet: Uint8Array, path: PacketPath) => void;

/**
 * Contract:
 * - `send` transmits one IKE message (a fragment is a message). On a NAT-T port the transport adds the
 *   non-ESP marker itself; callers never see it. Errors are reported by the returned promise and
 *   counted as `net.tx_errors`; a lost datagram is not an error (retransmission is the runner's job).
 * - the receive handler gets only datagrams that may be IKE: keepalives, ESP on 4500 and runts are
 *   dropped and counted first. The packet buffer belongs to the handler.
 * - `close` releases sockets; after it no handler runs.
 */
export interface Transport {
  send(packet: Uint8Array, path: PacketPath): Promise<void>;
  /** RFC 3948 §2.3: a one-octet 0xff NAT-keepalive, sent bare (no marker) from the NAT-T port. */
  sendKeepalive(path: PacketPath): Promise<void>;
  onReceive(handler: ReceiveHandler): void;
  close(): Promise<void>;
}

export class TransportError extends Error {
  override readonly name = 'TransportError';
  constructor(
    readonly code: 'ERR_NO_SOCKET' | 'ERR_PACKET_TOO_LARGE' | 'ERR_CLOSED' | 'ERR_BAD_ADDRESS' | 'ERR_SEND',
    message: string,
  ) {
    super(`${code}: ${message}`);
  }
}

/** The on-wire payload for `packet` sent from `localPort` (non-ESP marker on the NAT-T port). */
export function frame(packet: Uint8Array, natt: boolean): Uint8Array {
  if (!natt) return packet;
  const out = new Uint8Array(NON_ESP_MARKER_LEN + packet.length);
  out.set(packet, NON_ESP_MARKER_LEN);
  return out;
}

export type Classified =
  | { readonly kind: 'ike'; readonly packet: Uint8Array }
  | { readonly kind: 'keepalive' }
  | { readonly kind: 'esp' }
  | { readonly kind: 'short' }
  | { readonly kind: 'long' };

/**
 * Classifies a received UDP payload before anything else looks at it (the cheap first step of the
 * receive path). On the NAT-T port (RFC 3948 §2.2-§2.3): a single 0xff octet is a keepalive; four zero
 * octets mark IKE and are stripped; any other first four octets are an ESP SPI.
 */
export function classify(data: Uint8Array, natt: boolean): Classified {
  if (data.length > MAX_DATAGRAM) return { kind: 'long' };
  if (natt) {
    if (data.length === 1 && data[0] === 0xff) return { kind: 'keepalive' };
    if (data.length < NON_ESP_MARKER_LEN) return { kind: 'short' };
    if ((data[0]! | data[1]! | data[2]! | data[3]!) !== 0) return { kind: 'esp' };
    data = data.subarray(NON_ESP_MARKER_LEN);
  }
  if (data.length < IKE_HEADER_LEN) return { kind: 'short' };
  return { kind: 'ike', packet: data };
}

/** Counts a non-IKE classification; returns the packet for IKE, undefined otherwise. */
export function admit(
  data: Uint8Array,
  natt: boolean,
  counters: Counters | undefined,
): Uint8Array | undefined {
  counters?.inc('net.rx_packets');
  const c = classify(data, natt);
  switch (c.kind) {
    case 'ike':
      return c.packet;
    case 'keepalive':
      counters?.inc('net.drop_natt_keepalive');
      return undefined;
    case 'esp':
      counters?.inc('net.drop_esp_on_natt');
      return undefined;
    case 'short':
      counters?.inc('net.drop_too_short');
      return undefined;
    case 'long':
      counters?.inc('net.drop_too_long');
      return undefined;
  }
}

/** RFC 3948 §2.3: the NAT-keepalive payload. */
export const NATT_KEEPALIVE: Uint8Array = Uint8Array.of(0xff);

/** The reverse direction of a path (what the peer sees). */
export function reversePath(p: PacketPath): PacketPath {
  return {
    localAddr: p.remoteAddr,
    localPort: p.remotePort,
    remoteAddr: p.localAddr,
    remotePort: p.localPort,
  };
}

export function formatPath(p: PacketPath): string {
  const host = (a: string) => (a.includes(':') ? `[${a}]` : a);
  return `${host(p.localAddr)}:${p.localPort} <-> ${host(p.remoteAddr)}:${p.remotePort}`;
}
