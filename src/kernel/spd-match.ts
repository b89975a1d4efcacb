// Which policy of a dumped SPD the kernel would apply to a packet, and which SA carries it: the
// kernel's own rules (net/xfrm/xfrm_policy.c), as a pure function over PolicyInfo/SaInfo records.
// - A policy matches when its direction is the packet's, its selector matches (same family, src/dst
//   prefix match, proto 0 or equal, ports 0 or equal, ifindex 0 or equal: xfrm_selector_match), its
//   mark matches ((packet mark & mask) == value) and its if_id equals the packet's (0 = none).
// - Of the matching ones the lowest priority value wins; on a tie the one created first, which is the
//   one with the lower index (the kernel hands out indexes in creation order).
// Not modelled: per-socket policies (setsockopt IP_XFRM_POLICY, checked before the SPD and absent
// from a dump) and sub-policies (XFRM_POLICY_TYPE_SUB).
import { isIPv4, isIPv6 } from 'node:net';
import type { Mark, PolicyDir, PolicyInfo, SaInfo, Selector, Template } from './types.ts';
import { parseAddr, parseCidr, type Cidr } from './xfrm/addr.ts';

/** A packet as the SPD sees it. Ports: TCP/UDP/SCTP ports; for ICMP sport = type, dport = code. */
export interface Flow {
  readonly src: string;
  readonly dst: string;
  /** IP protocol number; 0 = unknown (only policies for any protocol match). */
  readonly proto: number;
  /** 0 = unknown (only policies for any port match). */
  readonly sport: number;
  readonly dport: number;
  /** skb mark of the packet (0 unless a firewall rule sets one). */
  readonly mark: number;
  /** XFRM interface id the packet is routed through (0 = none). */
  readonly ifId: number;
  /** Outgoing/incoming interface index (0 = any). */
  readonly ifindex: number;
}

const PROTOS: Record<string, number> = { icmp: 1, tcp: 6, udp: 17, gre: 47, esp: 50, ah: 51, ipv6icmp: 58 };
PROTOS['icmpv6'] = 58;
PROTOS['sctp'] = 132;

/** A flow that cannot be parsed; the message names the bad part and what is expected. */
export class FlowError extends Error {
  override readonly name = 'FlowError';
}

/** Parses a protocol name or number (0..255); FlowError naming the input otherwise. */
export function parseProto(s: string): number {
  const named = PROTOS[s.toLowerCase()];
  if (named !== undefined) return named;
  if (/^\d{1,3}$/.test(s) && Number(s) <= 255) return Number(s);
  throw new FlowError(
    `protocol ${JSON.stringify(s)}: not a protocol; use tcp, udp, icmp, icmpv6, sctp, gre or a number 0..255`,
  );
}

function address(s: string, what: string) {
  if (s.includes('/')) throw new FlowError(`${what} ${JSON.stringify(s)}: give one address, not a prefix`);
  if (!isIPv4(s) && !(isIPv6(s) && !s.includes('%')))
    throw new FlowError(`${what} ${JSON.stringify(s)}: not an IPv4 or IPv6 address`);
  try {
    return parseAddr(s, what);
  } catch {
    throw new FlowError(`${what} ${JSON.stringify(s)}: not a canonical IPv4 or IPv6 address`);
  }
}

/** Builds a flow from text; every bad piece is a FlowError naming it. */
export function parseFlow(a: {
  src: string;
  dst: string;
  proto?: string | number;
  port?: string | number;
  sport?: string | number;
  mark?: number;
  ifId?: number;
}): Flow {
  const s = address(a.src, 'source address');
  const d = address(a.dst, 'destination address');
  if (s.family !== d.family)
    throw new FlowError(`${a.src} and ${a.dst} are of different IP families (IPv4 and IPv6)`);
  const proto = a.proto === undefined ? 0 : parseProto(String(a.proto));
  const port = (v: string | number | undefined, what: string): number => {
    if (v === undefined) return 0;
    const t = String(v);
    if (!/^\d{1,5}$/.test(t) || Number(t) > 65535)
      throw new FlowError(`${what} ${JSON.stringify(t)}: not a port 0..65535`);
    return Number(t);
  };
  const dport = port(a.port, 'destination port');
  if (dport !== 0 && proto === 0)
    throw new FlowError(`destination port ${dport}: a port needs a protocol (e.g. udp ${dport})`);
  return {
    src: a.src,
    dst: a.dst,
    proto,
    sport: port(a.sport, 'source port'),
    dport,
    mark: a.mark ?? 0,
    ifId: a.ifId ?? 0,
    ifindex: 0,
  };
}

function inPrefix(addr: Uint8Array, net: Cidr): boolean {
  let bits = net.prefix;
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((addr[i]! & mask) !== (net.bytes[i]! & mask)) return false;
  }
  return true;
}

/** xfrm_selector_match: does the selector cover the flow? */
export function selectorMatches(sel: Selector, f: Flow): boolean {
  const src = parseCidr(sel.src);
  const dst = parseCidr(sel.dst);
  const fs = parseAddr(f.src);
  const fd = parseAddr(f.dst);
  if (src.family !== fs.family) return false;
  if (!inPrefix(fs.bytes, src) || !inPrefix(fd.bytes, dst)) return false;
  if ((sel.proto ?? 0) !== 0 && sel.proto !== f.proto) return false;
  if ((sel.sport ?? 0) !== 0 && sel.sport !== f.sport) return false;
  if ((sel.dport ?? 0) !== 0 && sel.dport !== f.dport) return false;
  if ((sel.ifindex ?? 0) !== 0 && sel.ifindex !== f.ifindex) return false;
  return true;
}

const markMatches = (m: Mark | undefined, v: number) =>
  m === undefined || (v & m.mask) >>> 0 === (m.value & m.mask) >>> 0;

/** The policy the kernel applies to `f` in direction `dir`, or undefined (no policy: clear). */
export function matchPolicy(
  policies: readonly PolicyInfo[],
  f: Flow,
  dir: PolicyDir = 'out',
): { policy: PolicyInfo | undefined; candidates: PolicyInfo[] } {
  const candidates = policies
    .filter(
      (p) =>
        p.dir === dir &&
        markMatches(p.mark, f.mark) &&
        (p.ifId ?? 0) === f.ifId &&
        selectorMatches(p.selector, f),
    )
    .sort((a, b) => a.priority - b.priority || a.index - b.index);
  return { policy: candidates[0], candidates };
}

/**
 * The SA that would carry `f` under the template (xfrm_state_find): same protocol, mode and reqid
 * (0 = any), the template's outer addresses (or, in transport mode without them, the flow's), a
 * matching mark and if_id, and an SA selector that covers the flow (if it has one).
 */
export function carrierSa(
  t: Template,
  sas: readonly SaInfo[],
  f: Flow,
  policy: { mark?: Mark; ifId?: number },
): SaInfo | undefined {
  const dst = t.dst ?? f.dst;
  const src = t.src ?? f.src;
  const same = (a: string, b: string) => {
    try {
      return parseAddr(a).bytes.join() === parseAddr(b).bytes.join();
    } catch {
      return false;
    }
  };
  return sas.find(
    (sa) =>
      sa.proto === t.proto &&
      sa.mode === t.mode &&
      (t.reqid === 0 || sa.reqid === t.reqid) &&
      (t.spi === undefined || t.spi === 0 || sa.spi === t.spi) &&
      same(sa.dst, dst) &&
      same(sa.src, src) &&
      markMatches(sa.mark, f.mark) &&
      (sa.ifId ?? 0) === (policy.ifId ?? 0) &&
      (sa.selector === undefined || selectorMatches(sa.selector, f)),
  );
}

/** A policy's kernel identity (dir, selector, mark, if_id) as canonical text. */
export function policyIdentity(p: {
  dir: PolicyDir;
  selector: Selector;
  mark?: Mark | undefined;
  ifId?: number | undefined;
}): string {
  const c = (s: string) => {
    const x = parseCidr(s);
    return `${x.bytes.join('.')}/${x.prefix}`;
  };
  const s = p.selector;
  return [
    p.dir,
    c(s.src),
    c(s.dst),
    s.proto ?? 0,
    s.sport ?? 0,
    s.dport ?? 0,
    s.ifindex ?? 0,
    `${(p.mark?.value ?? 0) >>> 0}/${(p.mark?.mask ?? 0) >>> 0}`,
    p.ifId ?? 0,
  ].join('|');
}
