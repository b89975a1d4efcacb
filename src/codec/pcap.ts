// Extracts IKE datagrams from pcap / pcapng captures (for `ikeway decode --pcap`).
// Link types: Ethernet (1, with 802.1Q tags), Linux cooked SLL (113) and SLL2 (276), raw IP
// (101, 228 IPv4, 229 IPv6). UDP 500 carries IKE directly; UDP 4500 carries IKE after the 4-byte
// non-ESP marker (RFC 3948 §2.2), ESP otherwise, and 1-byte 0xff NAT keepalives (RFC 3948 §2.3).
// Pure and bounded: every read is length-checked; malformed records end the walk with PcapError.
import { formatAddress } from './dissect.ts';

export class PcapError extends Error {
  override readonly name = 'PcapError';
  readonly code = 'ERR_PCAP_FORMAT';
}

export interface IkeDatagram {
  /** 1-based packet number in the capture. */
  readonly packet: number;
  readonly src: string;
  readonly dst: string;
  readonly srcPort: number;
  readonly dstPort: number;
  /** The IKE message (non-ESP marker removed); a view into the capture. */
  readonly ike: Uint8Array;
}

const IKE_PORT = 500;
const NATT_PORT = 4500;
const MAX_PACKETS = 1_000_000;

interface Frame {
  readonly link: number;
  readonly data: Uint8Array;
}

const dv = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength);

function* pcapFrames(buf: Uint8Array): Generator<Frame> {
  const v = dv(buf);
  const magic = v.getUint32(0, false);
  const le = magic === 0xd4c3b2a1 || magic === 0x4d3cb2a1;
  if (buf.length < 24) throw new PcapError('pcap: global header truncated');
  const link = v.getUint32(20, le) & 0x0fffffff;
  for (let off = 24, n = 0; off < buf.length && n < MAX_PACKETS; n++) {
    if (off + 16 > buf.length) throw new PcapError(`pcap: record header at ${off} truncated`);
    const caplen = v.getUint32(off + 8, le);
    if (off + 16 + caplen > buf.length) throw new PcapError(`pcap: record at ${off} truncated`);
    yield { link, data: buf.subarray(off + 16, off + 16 + caplen) };
    off += 16 + caplen;
  }
}

function* pcapngFrames(buf: Uint8Array): Generator<Frame> {
  const v = dv(buf);
  let le = true;
  let links: number[] = [];
  for (let off = 0, n = 0; off < buf.length && n < MAX_PACKETS; n++) {
    if (off + 12 > buf.length) throw new PcapError(`pcapng: block at ${off} truncated`);
    const type = v.getUint32(off, le);
    if (type === 0x0a0d0d0a) {
      // Section Header Block: the byte-order magic decides endianness for the section.
      le = v.getUint32(off + 8, true) === 0x1a2b3c4d;
      links = [];
    }
    const len = v.getUint32(off + 4, le);
    if (len < 12 || len % 4 !== 0 || off + len > buf.length)
      throw new PcapError(`pcapng: block at ${off} has bad length ${len}`);
    if (type === 1) links.push(v.getUint16(off + 8, le));
    else if (type === 6 && len >= 32) {
      const caplen = v.getUint32(off + 20, le);
      if (28 + caplen > len) throw new PcapError(`pcapng: packet block at ${off} truncated`);
      const link = links[v.getUint32(off + 8, le)];
      if (link !== undefined) yield { link, data: buf.subarray(off + 28, off + 28 + caplen) };
    } else if (type === 3 && links[0] !== undefined) {
      yield { link: links[0], data: buf.subarray(off + 12, off + len - 4) };
    }
    off += len;
  }
}

/** Returns the IP packet inside a link-layer frame, or undefined when it is not IP. */
function ipOf(f: Frame): Uint8Array | undefined {
  const d = f.data;
  let proto: number;
  let off: number;
  if (f.link === 1) {
    off = 12;
    if (d.length < 14) return undefined;
    proto = (d[off]! << 8) | d[off + 1]!;
    while ((proto === 0x8100 || proto === 0x88a8) && off + 6 <= d.length) {
      off += 4;
      proto = (d[off]! << 8) | d[off + 1]!;
    }
    off += 2;
  } else if (f.link === 113) {
    if (d.length < 16) return undefined;
    proto = (d[14]! << 8) | d[15]!;
    off = 16;
  } else if (f.link === 276) {
    if (d.length < 20) return undefined;
    proto = (d[0]! << 8) | d[1]!;
    off = 20;
  } else if (f.link === 101 || f.link === 228 || f.link === 229 || f.link === 12) {
    return d;
  } else return undefined;
  return proto === 0x0800 || proto === 0x86dd ? d.subarray(off) : undefined;
}

interface Udp {
  src: string;
  dst: string;
  srcPort: number;
  dstPort: number;
  payload: Uint8Array;
}

function udpOf(ip: Uint8Array): Udp | undefined {
  if (ip.length < 1) return undefined;
  const version = ip[0]! >> 4;
  let off: number;
  let src: string;
  let dst: string;
  if (version === 4) {
    const ihl = (ip[0]! & 0x0f) * 4;
    if (ip.length < 20 || ihl < 20 || ip.length < ihl + 8 || ip[9] !== 17) return undefined;
    const frag = ((ip[6]! << 8) | ip[7]!) & 0x3fff; // MF flag or fragment offset: skip fragments
    if (frag !== 0) return undefined;
    [off, src, dst] = [ihl, formatAddress(ip.subarray(12, 16)), formatAddress(ip.subarray(16, 20))];
  } else if (version === 6) {
    if (ip.length < 48 || ip[6] !== 17) return undefined;
    [off, src, dst] = [40, formatAddress(ip.subarray(8, 24)), formatAddress(ip.subarray(24, 40))];
  } else return undefined;
  const ulen = (ip[off + 4]! << 8) | ip[off + 5]!;
  if (ulen < 8 || off + ulen > ip.length) return undefined;
  return {
    src,
    dst,
    srcPort: (ip[off]! << 8) | ip[off + 1]!,
    dstPort: (ip[off + 2]! << 8) | ip[off + 3]!,
    payload: ip.subarray(off + 8, off + ulen),
  };
}

/** The IKE message in a UDP payload, or undefined for ESP-in-UDP, keepalives and other ports. */
function ikeOf(u: Udp): Uint8Array | undefined {
  const ports = [u.srcPort, u.dstPort];
  if (ports.includes(NATT_PORT)) {
    const p = u.payload;
    if (p.length >= 4 && p[0] === 0 && p[1] === 0 && p[2] === 0 && p[3] === 0) return p.subarray(4);
    return undefined; // ESP (non-zero SPI) or NAT keepalive (single 0xff)
  }
  return ports.includes(IKE_PORT) ? u.payload : undefined;
}

/** Every IKE datagram in a pcap or pcapng capture, in capture order. */
export function ikeDatagrams(capture: Uint8Array): IkeDatagram[] {
  if (capture.length < 4) throw new PcapError('not a pcap/pcapng file: too short');
  const magic = dv(capture).getUint32(0, false);
  let frames: Generator<Frame>;
  if (magic === 0x0a0d0d0a) frames = pcapngFrames(capture);
  else if ([0xa1b2c3d4, 0xd4c3b2a1, 0xa1b23c4d, 0x4d3cb2a1].includes(magic)) frames = pcapFrames(capture);
  else throw new PcapError(`not a pcap/pcapng file: magic ${magic.toString(16)}`);
  const out: IkeDatagram[] = [];
  let packet = 0;
  for (const f of frames) {
    packet++;
    const ip = ipOf(f);
    const udp = ip && udpOf(ip);
    const ike = udp && ikeOf(udp);
    if (udp && ike)
      out.push({ packet, src: udp.src, dst: udp.dst, srcPort: udp.srcPort, dstPort: udp.dstPort, ike });
  }
  return out;
}
