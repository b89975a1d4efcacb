// Fixed-layout structs of <linux/xfrm.h>, written and read at explicit offsets. Host byte order
// (little-endian on our targets) except addresses, SPIs and ports, which are network order.
import { KernelError } from '../errors.ts';
import type {
  IpProto,
  LifeCurrent,
  LifeLimits,
  Lifetime,
  Mark,
  Selector,
  Template,
  XfrmMode,
} from '../types.ts';
import { formatAddr, formatCidr, parseAddr, parseCidr, type Family } from './addr.ts';
import {
  AF_INET,
  AF_INET6,
  IPPROTO_AH,
  IPPROTO_ESP,
  Size,
  XFRM_INF,
  XFRM_MODE_TRANSPORT,
  XFRM_MODE_TUNNEL,
} from './constants.ts';

export const LE = true;

export function view(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

export function protoNum(p: IpProto): number {
  return p === 'esp' ? IPPROTO_ESP : IPPROTO_AH;
}
export function protoName(n: number): IpProto {
  if (n === IPPROTO_ESP) return 'esp';
  if (n === IPPROTO_AH) return 'ah';
  throw new KernelError('protocol', 0, 'decode', `proto ${n}`, 'not ESP or AH');
}
export function modeNum(m: XfrmMode): number {
  return m === 'tunnel' ? XFRM_MODE_TUNNEL : XFRM_MODE_TRANSPORT;
}
export function modeName(n: number): XfrmMode {
  return n === XFRM_MODE_TUNNEL ? 'tunnel' : 'transport';
}

function checkPort(p: number | undefined, what: string): number {
  if (p === undefined) return 0;
  if (!Number.isInteger(p) || p < 0 || p > 0xffff)
    throw KernelError.invalid('selector', what, `port ${p} out of range 0..65535`);
  return p;
}

/** struct xfrm_selector (56 bytes) at `off`. Returns the selector's family. */
export function writeSelector(v: DataView, off: number, s: Selector): Family {
  const src = parseCidr(s.src, 'selector src');
  const dst = parseCidr(s.dst, 'selector dst');
  if (src.family !== dst.family)
    throw KernelError.invalid('selector', `${s.src}->${s.dst}`, 'src and dst families differ');
  const b = new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  b.set(dst.bytes, off);
  b.set(src.bytes, off + 16);
  const dport = checkPort(s.dport, 'dport');
  const sport = checkPort(s.sport, 'sport');
  v.setUint16(off + 32, dport, false);
  v.setUint16(off + 34, dport ? 0xffff : 0, false);
  v.setUint16(off + 36, sport, false);
  v.setUint16(off + 38, sport ? 0xffff : 0, false);
  v.setUint16(off + 40, src.family, LE);
  v.setUint8(off + 42, dst.prefix);
  v.setUint8(off + 43, src.prefix);
  const proto = s.proto ?? 0;
  if (!Number.isInteger(proto) || proto < 0 || proto > 255)
    throw KernelError.invalid('selector', `${s.src}->${s.dst}`, `proto ${proto} out of range 0..255`);
  v.setUint8(off + 44, proto);
  v.setInt32(off + 48, s.ifindex ?? 0, LE);
  return src.family;
}

/** Reads a selector; undefined when its family is 0 (a wildcard SA selector). */
export function readSelector(v: DataView, off: number): Selector | undefined {
  const family = v.getUint16(off + 40, LE);
  if (family !== AF_INET && family !== AF_INET6) return undefined;
  const b = new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  const s: Selector = {
    src: formatCidr(family, b, off + 16, v.getUint8(off + 43)),
    dst: formatCidr(family, b, off, v.getUint8(off + 42)),
  };
  const proto = v.getUint8(off + 44);
  if (proto) s.proto = proto;
  const dport = v.getUint16(off + 32, false) & v.getUint16(off + 34, false);
  const sport = v.getUint16(off + 36, false) & v.getUint16(off + 38, false);
  if (sport) s.sport = sport;
  if (dport) s.dport = dport;
  const ifindex = v.getInt32(off + 48, LE);
  if (ifindex) s.ifindex = ifindex;
  return s;
}

const u64 = (x: bigint | undefined): bigint => (x === undefined ? XFRM_INF : x);
const secs = (x: number | undefined): bigint => BigInt(x ?? 0);

/** struct xfrm_lifetime_cfg (64 bytes): soft/hard byte, packet, add-seconds, use-seconds. */
export function writeLifetimeCfg(v: DataView, off: number, lt: Lifetime | undefined): void {
  const s = lt?.soft ?? {};
  const h = lt?.hard ?? {};
  const vals = [
    u64(s.bytes),
    u64(h.bytes),
    u64(s.packets),
    u64(h.packets),
    secs(s.seconds),
    secs(h.seconds),
    secs(s.useSeconds),
    secs(h.useSeconds),
  ];
  vals.forEach((x, i) => v.setBigUint64(off + i * 8, x, LE));
}

export function readLifetimeCfg(v: DataView, off: number): Lifetime | undefined {
  const g = (i: number): bigint => v.getBigUint64(off + i * 8, LE);
  const limits = (bytes: bigint, packets: bigint, add: bigint, use: bigint): LifeLimits | undefined => {
    const l: LifeLimits = {};
    if (bytes !== XFRM_INF) l.bytes = bytes;
    if (packets !== XFRM_INF) l.packets = packets;
    if (add) l.seconds = Number(add);
    if (use) l.useSeconds = Number(use);
    return Object.keys(l).length ? l : undefined;
  };
  const soft = limits(g(0), g(2), g(4), g(6));
  const hard = limits(g(1), g(3), g(5), g(7));
  if (!soft && !hard) return undefined;
  const lt: Lifetime = {};
  if (soft) lt.soft = soft;
  if (hard) lt.hard = hard;
  return lt;
}

/** struct xfrm_lifetime_cur (32 bytes). */
export function readLifetimeCur(v: DataView, off: number): LifeCurrent {
  return {
    bytes: v.getBigUint64(off, LE),
    packets: v.getBigUint64(off + 8, LE),
    addTime: Number(v.getBigUint64(off + 16, LE)),
    useTime: Number(v.getBigUint64(off + 24, LE)),
  };
}

/** struct xfrm_mark. */
export function encodeMark(m: Mark): Uint8Array {
  const b = new Uint8Array(Size.mark);
  view(b).setUint32(0, m.value >>> 0, LE);
  view(b).setUint32(4, m.mask >>> 0, LE);
  return b;
}
export function decodeMark(b: Uint8Array | undefined): Mark | undefined {
  if (!b || b.length < Size.mark) return undefined;
  const m = { value: view(b).getUint32(0, LE), mask: view(b).getUint32(4, LE) };
  return m.value || m.mask ? m : undefined;
}

/** struct xfrm_user_tmpl (64 bytes). `family` is used when the template has no addresses. */
export function encodeTemplate(t: Template, family: Family): Uint8Array {
  const b = new Uint8Array(Size.userTmpl);
  const v = view(b);
  const dst = t.dst !== undefined ? parseAddr(t.dst, 'template dst') : undefined;
  const src = t.src !== undefined ? parseAddr(t.src, 'template src') : undefined;
  if (src && dst && src.family !== dst.family)
    throw KernelError.invalid('template', `${t.src}->${t.dst}`, 'src and dst families differ');
  if (t.mode === 'tunnel' && (!src || !dst))
    throw KernelError.invalid('template', `reqid ${t.reqid}`, 'tunnel mode needs src and dst');
  if (dst) b.set(dst.bytes, 0);
  v.setUint32(16, t.spi ?? 0, false);
  v.setUint8(20, protoNum(t.proto));
  v.setUint16(24, (dst ?? src)?.family ?? family, LE);
  if (src) b.set(src.bytes, 28);
  v.setUint32(44, t.reqid >>> 0, LE);
  v.setUint8(48, modeNum(t.mode));
  v.setUint8(50, t.optional ? 1 : 0);
  // aalgos/ealgos/calgos: any algorithm allowed (the SA decides).
  v.setUint32(52, 0xffffffff, LE);
  v.setUint32(56, 0xffffffff, LE);
  v.setUint32(60, 0xffffffff, LE);
  return b;
}

export function decodeTemplates(b: Uint8Array | undefined): Template[] {
  const out: Template[] = [];
  if (!b) return out;
  const v = view(b);
  for (let off = 0; off + Size.userTmpl <= b.length; off += Size.userTmpl) {
    const family = v.getUint16(off + 24, LE);
    const t: Template = {
      proto: protoName(v.getUint8(off + 20)),
      mode: modeName(v.getUint8(off + 48)),
      reqid: v.getUint32(off + 44, LE),
    };
    const zero = (o: number): boolean => b.subarray(o, o + 16).every((x) => x === 0);
    if (!zero(off + 28)) t.src = formatAddr(family, b, off + 28);
    if (!zero(off)) t.dst = formatAddr(family, b, off);
    const spi = v.getUint32(off + 16, false);
    if (spi) t.spi = spi;
    if (v.getUint8(off + 50)) t.optional = true;
    out.push(t);
  }
  return out;
}

/** A NUL-padded name field (alg_name[64]). */
export function writeName(b: Uint8Array, off: number, name: string, max: number, what: string): void {
  const enc = new TextEncoder().encode(name);
  if (enc.length === 0 || enc.length >= max)
    throw KernelError.invalid('algorithm', what, `name must be 1..${max - 1} bytes`);
  b.set(enc, off);
}
export function readName(b: Uint8Array, off: number, max: number): string {
  const s = b.subarray(off, off + max);
  const end = s.indexOf(0);
  return new TextDecoder().decode(end < 0 ? s : s.subarray(0, end));
}
