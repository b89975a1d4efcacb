// Traffic selectors (RFC 7296 §3.13.1) as address/port ranges with bigint addresses, CIDR <-> range
// conversion (XFRM policies are prefixes, IKE selectors are ranges), and responder narrowing (§2.9).
import { isIPv4, isIPv6 } from 'node:net';
import { Address6 } from 'ip-address';
import { TsType } from '../codec/iana.ts';
import { TsSyntaxError, TsUnacceptableError } from './errors.ts';

export type IpTsType = typeof TsType.IPV4_ADDR_RANGE | typeof TsType.IPV6_ADDR_RANGE;

export interface TrafficSelector {
  readonly type: IpTsType;
  /** IP protocol number; 0 = any (§3.13.1). */
  readonly protocol: number;
  readonly startPort: number;
  readonly endPort: number;
  readonly start: bigint;
  readonly end: bigint;
}

const bitsOf = (type: IpTsType) => (type === TsType.IPV4_ADDR_RANGE ? 32 : 128);
const maxOf = (type: IpTsType) => (1n << BigInt(bitsOf(type))) - 1n;

export function parseAddress(s: string): { readonly type: IpTsType; readonly value: bigint } {
  if (isIPv4(s)) {
    // Dotted quad (isIPv4 checked it: four decimal octets 0-255): per IKE SA (NAT detection hashes),
    // where the ip-address parser costs ~1% of the responder's CPU.
    const [a, b, c, d] = s.split('.').map(Number) as [number, number, number, number];
    return { type: TsType.IPV4_ADDR_RANGE, value: BigInt(((a << 24) >>> 0) + (b << 16) + (c << 8) + d) };
  }
  if (isIPv6(s)) return { type: TsType.IPV6_ADDR_RANGE, value: new Address6(s).bigInt() };
  throw new TsSyntaxError(s, 'not an IP address');
}

export function formatAddress(value: bigint, type: IpTsType): string {
  if (type === TsType.IPV4_ADDR_RANGE) {
    const n = Number(value & 0xffffffffn);
    return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
  }
  return Address6.fromBigInt(value).correctForm();
}

/** Network-order bytes (4 or 16), the form the TS payload and XFRM selectors carry. */
export function addressToBytes(value: bigint, type: IpTsType): Uint8Array {
  const out = new Uint8Array(bitsOf(type) / 8);
  for (let i = out.length - 1; i >= 0; i--, value >>= 8n) out[i] = Number(value & 0xffn);
  return out;
}

export function addressFromBytes(bytes: Uint8Array): { readonly type: IpTsType; readonly value: bigint } {
  if (bytes.length !== 4 && bytes.length !== 16)
    throw new TsSyntaxError(`${bytes.length} octets`, 'bad address length');
  let v = 0n;
  for (const b of bytes) v = (v << 8n) | BigInt(b);
  return { type: bytes.length === 4 ? TsType.IPV4_ADDR_RANGE : TsType.IPV6_ADDR_RANGE, value: v };
}

export interface TsOptions {
  readonly protocol?: number;
  /** A single port or an inclusive [start, end] range; default all ports. */
  readonly ports?: number | readonly [number, number];
}

function portsOf(input: string, o: TsOptions): [number, number] {
  const [lo, hi] =
    o.ports === undefined ? [0, 65535] : typeof o.ports === 'number' ? [o.ports, o.ports] : o.ports;
  const ok = (p: number) => Number.isInteger(p) && p >= 0 && p <= 65535;
  if (!ok(lo) || !ok(hi) || lo > hi) throw new TsSyntaxError(input, `bad port range ${lo}-${hi}`);
  const proto = o.protocol ?? 0;
  if (!Number.isInteger(proto) || proto < 0 || proto > 255)
    throw new TsSyntaxError(input, `bad protocol ${proto}`);
  return [lo, hi];
}

/** "192.0.2.0/24", "2001:db8::/32" or a bare address (a /32 or /128). Host bits must be zero. */
export function tsFromCidr(cidr: string, o: TsOptions = {}): TrafficSelector {
  const [addr = '', len, ...extra] = cidr.trim().split('/');
  const { type, value } = parseAddress(addr);
  const bits = bitsOf(type);
  const prefix = len === undefined ? bits : Number(len);
  if (extra.length > 0 || !/^\d+$/.test(len ?? String(bits)) || prefix > bits) {
    throw new TsSyntaxError(cidr, 'bad prefix length');
  }
  const host = (1n << BigInt(bits - prefix)) - 1n;
  if ((value & host) !== 0n) throw new TsSyntaxError(cidr, 'host bits set in a network prefix');
  const [startPort, endPort] = portsOf(cidr, o);
  return { type, protocol: o.protocol ?? 0, startPort, endPort, start: value, end: value | host };
}

/** "192.0.2.10-192.0.2.20" (inclusive, one family). */
export function tsFromRange(range: string, o: TsOptions = {}): TrafficSelector {
  const [a = '', b, ...extra] = range.split('-').map((s) => s.trim());
  const lo = parseAddress(a);
  const hi = parseAddress(b ?? a);
  if (extra.length > 0 || lo.type !== hi.type || lo.value > hi.value)
    throw new TsSyntaxError(range, 'bad address range');
  const [startPort, endPort] = portsOf(range, o);
  return { type: lo.type, protocol: o.protocol ?? 0, startPort, endPort, start: lo.value, end: hi.value };
}

/** The whole address space of one family, any protocol and port ("0.0.0.0/0", "::/0"). */
export function tsAny(type: IpTsType): TrafficSelector {
  return { type, protocol: 0, startPort: 0, endPort: 65535, start: 0n, end: maxOf(type) };
}

/**
 * The smallest list of prefixes covering exactly the address range of `ts` (for XFRM policies), as
 * text. Every Child SA's policies are made of
 * them (install, status, removal), mostly of the same few ranges: results are remembered (a bounded
 * table, emptied when full); the returned array is shared and must not be changed.
 */
export function tsToCidrs(ts: TrafficSelector): readonly string[] {
  const key = `${ts.type}:${ts.start}:${ts.end}`;
  const have = CIDRS.get(key);
  if (have) return have;
  if (CIDRS.size >= CIDR_MEMO) CIDRS.clear();
  const out = Object.freeze(computeCidrs(ts));
  CIDRS.set(key, out);
  return out;
}
const CIDR_MEMO = 4096;
const CIDRS = new Map<string, readonly string[]>();

function computeCidrs(ts: TrafficSelector): string[] {
  const bits = bitsOf(ts.type);
  const out: string[] = [];
  for (let cur = ts.start; cur <= ts.end;) {
    // The largest aligned block starting at `cur` that does not pass `end`.
    let size = bits;
    while (size > 0) {
      const block = 1n << BigInt(bits - size + 1);
      if ((cur & (block - 1n)) !== 0n || cur + block - 1n > ts.end) break;
      size--;
    }
    out.push(`${formatAddress(cur, ts.type)}/${size}`);
    cur += 1n << BigInt(bits - size);
  }
  return out;
}

export function formatTs(ts: TrafficSelector): string {
  const cidrs = tsToCidrs(ts);
  const addr =
    cidrs.length === 1 ? cidrs[0]! : `${formatAddress(ts.start, ts.type)}-${formatAddress(ts.end, ts.type)}`;
  const anyPort = ts.startPort === 0 && ts.endPort === 65535;
  if (ts.protocol === 0 && anyPort) return addr;
  const ports = anyPort
    ? ''
    : ts.startPort === ts.endPort
      ? `/${ts.startPort}`
      : `/${ts.startPort}-${ts.endPort}`;
  return `${addr}[${ts.protocol}${ports}]`;
}

/** The common part of two selectors (§2.9), or undefined when they do not overlap. */
export function intersectTs(a: TrafficSelector, b: TrafficSelector): TrafficSelector | undefined {
  if (a.type !== b.type) return undefined;
  if (a.protocol !== 0 && b.protocol !== 0 && a.protocol !== b.protocol) return undefined;
  const start = a.start > b.start ? a.start : b.start;
  const end = a.end < b.end ? a.end : b.end;
  const startPort = Math.max(a.startPort, b.startPort);
  const endPort = Math.min(a.endPort, b.endPort);
  if (start > end || startPort > endPort) return undefined;
  return { type: a.type, protocol: a.protocol || b.protocol, startPort, endPort, start, end };
}

export function tsContains(outer: TrafficSelector, inner: TrafficSelector): boolean {
  return (
    outer.type === inner.type &&
    (outer.protocol === 0 || outer.protocol === inner.protocol) &&
    outer.start <= inner.start &&
    inner.end <= outer.end &&
    outer.startPort <= inner.startPort &&
    inner.endPort <= outer.endPort
  );
}

const sameTs = (a: TrafficSelector, b: TrafficSelector) => tsContains(a, b) && tsContains(b, a);

/**
 * All non-empty intersections of `offered` with `policy`, in the initiator's order, with selectors
 * another result already covers removed. IPv4 and IPv6 entries narrow independently.
 */
export function narrowTs(
  offered: readonly TrafficSelector[],
  policy: readonly TrafficSelector[],
): TrafficSelector[] {
  const all: TrafficSelector[] = [];
  for (const o of offered)
    for (const p of policy) {
      const i = intersectTs(o, p);
      if (i) all.push(i);
    }
  return all.filter(
    (ts, i) => !all.some((other, j) => j !== i && tsContains(other, ts) && (!sameTs(other, ts) || j < i)),
  );
}

export interface TsPair {
  readonly tsi: readonly TrafficSelector[];
  readonly tsr: readonly TrafficSelector[];
}

/**
 * RFC 7296 §2.9, the responder: narrow the initiator's TSi/TSr to local policy (`policy.tsi` is what we
 * allow for the peer's side, `policy.tsr` for ours). The first selector of each list may be the
 * specific one from the packet that triggered the SA (an ACQUIRE); if policy covers it, the result
 * must include it. With `single`, only one selector per side is kept (for peers or kernels that do one
 * pair per SA): the one covering the specific selector if there is one. Throws TsUnacceptableError.
 */
export function narrowPair(
  offered: TsPair,
  policy: TsPair,
  opts: { readonly single?: boolean } = {},
): TsPair {
  const side = (name: string, off: readonly TrafficSelector[], pol: readonly TrafficSelector[]) => {
    const n = narrowTs(off, pol);
    if (n.length === 0)
      throw new TsUnacceptableError(`${name} ${off.map(formatTs).join(',')} outside policy`);
    if (!opts.single) return n;
    const first = off[0];
    const specific = first && off.length > 1 ? n.find((ts) => tsContains(ts, first)) : undefined;
    return [specific ?? n[0]!];
  };
  return { tsi: side('TSi', offered.tsi, policy.tsi), tsr: side('TSr', offered.tsr, policy.tsr) };
}
