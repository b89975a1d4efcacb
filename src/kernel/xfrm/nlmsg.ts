// Netlink framing (RFC 3549 §2.3.2, <linux/netlink.h>): nlmsghdr, NLA attributes, NLMSG_ERROR.
// Pure. Lengths are checked before every read; a malformed message throws KernelError 'protocol'.
import { KernelError } from '../errors.ts';
import { NLMSG_ERROR, NLMSG_HDRLEN, NLM_F_ACK_TLVS, NLM_F_CAPPED, NLMSGERR_ATTR_MSG } from './constants.ts';

export interface NlMsg {
  type: number;
  flags: number;
  seq: number;
  pid: number;
  /** Payload after the 16-byte header (a view into the received buffer). */
  payload: Uint8Array;
}

export const align4 = (n: number): number => (n + 3) & ~3;

function protocolError(detail: string): KernelError {
  return new KernelError('protocol', 0, 'netlink', 'message', detail);
}

/** One nlmsghdr + payload, padded to 4 bytes. */
export function encodeNlMsg(
  type: number,
  flags: number,
  seq: number,
  payload: Uint8Array,
  pid = 0,
): Uint8Array {
  return encodeNlMsgs([{ type, flags, seq, pid, payload }]);
}

/** A message to encode: its header fields and payload. */
export type NlMsgOut = Omit<NlMsg, 'pid'> & { pid?: number };

/** The size of one message on the wire (header, payload, padding). */
export const nlMsgSize = (payload: Uint8Array): number => align4(NLMSG_HDRLEN + payload.length);

/** Messages back to back in one buffer (one datagram: the kernel handles them in order). */
export function encodeNlMsgs(msgs: readonly NlMsgOut[]): Uint8Array {
  let len = 0;
  for (const m of msgs) len += nlMsgSize(m.payload);
  const out = new Uint8Array(len);
  const v = new DataView(out.buffer);
  let off = 0;
  for (const m of msgs) {
    v.setUint32(off, NLMSG_HDRLEN + m.payload.length, true);
    v.setUint16(off + 4, m.type, true);
    v.setUint16(off + 6, m.flags, true);
    v.setUint32(off + 8, m.seq, true);
    v.setUint32(off + 12, m.pid ?? 0, true);
    out.set(m.payload, off + NLMSG_HDRLEN);
    off += nlMsgSize(m.payload);
  }
  return out;
}

/** Splits a datagram into its netlink messages. */
export function parseNlMsgs(buf: Uint8Array): NlMsg[] {
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const out: NlMsg[] = [];
  let off = 0;
  while (off + NLMSG_HDRLEN <= buf.length) {
    const len = v.getUint32(off, true);
    if (len < NLMSG_HDRLEN || off + len > buf.length)
      throw protocolError(`nlmsg length ${len} at offset ${off} exceeds datagram of ${buf.length}`);
    out.push({
      type: v.getUint16(off + 4, true),
      flags: v.getUint16(off + 6, true),
      seq: v.getUint32(off + 8, true),
      pid: v.getUint32(off + 12, true),
      payload: buf.subarray(off + NLMSG_HDRLEN, off + len),
    });
    off += align4(len);
  }
  return out;
}

/** One attribute (struct nlattr: u16 len, u16 type, data, padded). */
export function nla(type: number, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(align4(4 + data.length));
  const v = new DataView(out.buffer);
  v.setUint16(0, 4 + data.length, true);
  v.setUint16(2, type, true);
  out.set(data, 4);
  return out;
}

export function nlaU32(type: number, value: number): Uint8Array {
  return nla(type, u32Data(value));
}

/** Parses attributes from `off` to the end; the last one of a type wins. Type bits 14-15 are flags. */
export function parseAttrs(buf: Uint8Array, off: number): Map<number, Uint8Array> {
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const out = new Map<number, Uint8Array>();
  while (off + 4 <= buf.length) {
    const len = v.getUint16(off, true);
    const type = v.getUint16(off + 2, true) & 0x3fff;
    if (len < 4 || off + len > buf.length)
      throw protocolError(`attribute ${type} length ${len} at offset ${off}`);
    out.set(type, buf.subarray(off + 4, off + len));
    off += align4(len);
  }
  return out;
}

/** An attribute before encoding: its type and data. */
export type Attr = readonly [type: number, data: Uint8Array];

/** A u32 attribute's data (host order, as the kernel reads it). */
export function u32Data(value: number): Uint8Array {
  const d = new Uint8Array(4);
  new DataView(d.buffer).setUint32(0, value >>> 0, true);
  return d;
}

/**
 * A fixed struct followed by its attributes, written into one buffer (the same bytes as
 * concat([fixed, ...attrs.map(nla)]) for a 4-byte aligned struct, without a buffer per attribute).
 */
export function packAttrs(fixed: Uint8Array, attrs: readonly Attr[]): Uint8Array {
  const start = align4(fixed.length);
  let len = start;
  for (const a of attrs) len += align4(4 + a[1].length);
  const out = new Uint8Array(len);
  out.set(fixed, 0);
  const v = new DataView(out.buffer);
  let off = start;
  for (const [type, data] of attrs) {
    v.setUint16(off, 4 + data.length, true);
    v.setUint16(off + 2, type, true);
    out.set(data, off + 4);
    off += align4(4 + data.length);
  }
  return out;
}

export function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

export interface NlError {
  /** Positive errno; 0 = ACK. */
  errno: number;
  /** Sequence number of the request (from the echoed header). */
  seq: number;
  /** Extended-ack message, if the kernel sent one. */
  message?: string;
}

/** struct nlmsgerr: int error; struct nlmsghdr msg; [payload unless CAPPED]; [TLVs if ACK_TLVS]. */
export function parseNlError(msg: NlMsg): NlError {
  if (msg.type !== NLMSG_ERROR || msg.payload.length < 4 + NLMSG_HDRLEN)
    throw protocolError(`NLMSG_ERROR of ${msg.payload.length} bytes`);
  const p = msg.payload;
  const v = new DataView(p.buffer, p.byteOffset, p.byteLength);
  const errno = -v.getInt32(0, true);
  const origLen = v.getUint32(4, true);
  const res: NlError = { errno, seq: v.getUint32(12, true) };
  // origLen comes from the wire: bound it before aligning (align4 of a value near 2^32 goes
  // negative in 32-bit bitwise arithmetic and would make the TLV offset point before the buffer).
  if (msg.flags & NLM_F_ACK_TLVS) {
    const echoed = msg.flags & NLM_F_CAPPED ? NLMSG_HDRLEN : origLen <= p.length ? align4(origLen) : p.length;
    const tlvOff = 4 + echoed;
    if (tlvOff <= p.length) {
      const text = parseAttrs(p, tlvOff).get(NLMSGERR_ATTR_MSG);
      if (text) res.message = new TextDecoder().decode(text).replace(/\0.*$/s, '');
    }
  }
  return res;
}
