// rtnetlink message bodies (<linux/rtnetlink.h>, <linux/if_link.h>, <linux/if_addr.h>) for
// route-based tunnels: links (XFRM interfaces, up/down, MTU), addresses and routes. Pure: no
// socket, no name lookups (callers resolve names to ifindexes first). Each encoder returns the
// payload that follows the 16-byte nlmsghdr; each parser checks lengths before it reads.
import { KernelError } from './errors.ts';
import { formatAddr, formatCidr, parseAddr, parseCidr } from './xfrm/addr.ts';
import { concat, nla, nlaU32, parseAttrs } from './xfrm/nlmsg.ts';

export const RTM = {
  NEWLINK: 16,
  DELLINK: 17,
  GETLINK: 18,
  NEWADDR: 20,
  DELADDR: 21,
  GETADDR: 22,
  NEWROUTE: 24,
  DELROUTE: 25,
  GETROUTE: 26,
} as const;

/** enum IFLA_* (if_link.h). */
export const IFLA = { IFNAME: 3, MTU: 4, LINK: 5, OPERSTATE: 16, LINKINFO: 18, STATS64: 23 } as const;
/** enum IFLA_INFO_* and IFLA_XFRM_* (if_link.h). */
export const IFLA_INFO = { KIND: 1, DATA: 2 } as const;
export const IFLA_XFRM = { LINK: 1, IF_ID: 2 } as const;
/** enum IFA_* (if_addr.h). */
export const IFA = { ADDRESS: 1, LOCAL: 2 } as const;
/** enum rtattr_type_t (rtnetlink.h). */
export const RTA = { DST: 1, OIF: 4, GATEWAY: 5, PRIORITY: 6, PREFSRC: 7, TABLE: 15 } as const;
export const IFF_UP = 0x1;
export const RT_TABLE_MAIN = 254;
/** The protocol ikeway's routes carry (RTPROT_STATIC, what `ip route add` uses). */
export const RTPROT_STATIC = 4;
export const RT_SCOPE_UNIVERSE = 0;
export const RT_SCOPE_LINK = 253;
export const RTN_UNICAST = 1;
export const IFNAMSIZ = 16;

const enc = new TextEncoder();
const dec = new TextDecoder();
const cstr = (s: string): Uint8Array => concat([enc.encode(s), new Uint8Array(1)]);
const u32 = (b: Uint8Array | undefined): number | undefined =>
  b && b.length >= 4 ? new DataView(b.buffer, b.byteOffset, 4).getUint32(0, true) : undefined;
const str = (b: Uint8Array | undefined): string | undefined =>
  b ? dec.decode(b).replace(/\0.*$/s, '') : undefined;

function protocol(object: string, detail: string): KernelError {
  return new KernelError('protocol', 0, 'rtnetlink', object, detail);
}

/** struct ifinfomsg: u8 family, u8 pad, u16 type, s32 index, u32 flags, u32 change (16 bytes). */
export function ifinfomsg(index: number, flags = 0, change = 0): Uint8Array {
  const b = new Uint8Array(16);
  const v = new DataView(b.buffer);
  v.setInt32(4, index, true);
  v.setUint32(8, flags >>> 0, true);
  v.setUint32(12, change >>> 0, true);
  return b;
}

/** A valid Linux interface name (dev_valid_name): 1..15 bytes, no '/', ':' or blank, not . or .. */
export function checkIfName(name: string): string | undefined {
  if (name.length === 0 || enc.encode(name).length >= IFNAMSIZ) return 'must be 1 to 15 characters';
  if (name === '.' || name === '..') return 'must not be "." or ".."';
  if (/[/:\s]/.test(name)) return 'must not contain "/", ":" or white space';
  return undefined;
}

export interface XfrmLinkParams {
  readonly name: string;
  readonly ifId: number;
  /** ifindex of the underlying device (IFLA_XFRM_LINK); omitted when 0 or undefined. */
  readonly linkIndex?: number;
  readonly mtu?: number;
}

/** RTM_NEWLINK body creating an XFRM interface (`ip link add NAME type xfrm if_id N [dev D]`). */
export function encodeNewXfrmLink(p: XfrmLinkParams): Uint8Array {
  const bad = checkIfName(p.name);
  if (bad) throw KernelError.invalid('RTM_NEWLINK', `link ${p.name}`, `interface name ${bad}`);
  if (!Number.isInteger(p.ifId) || p.ifId < 1 || p.ifId > 0xffffffff)
    throw KernelError.invalid('RTM_NEWLINK', `link ${p.name}`, 'if_id must be 1..4294967295');
  const data = [nlaU32(IFLA_XFRM.IF_ID, p.ifId)];
  if (p.linkIndex) data.push(nlaU32(IFLA_XFRM.LINK, p.linkIndex));
  // Byte for byte what `ip link add NAME type xfrm if_id N` sends (iproute2 6.1): the kind without
  // its NUL, the nests without NLA_F_NESTED (rtnetlink parses link attributes leniently).
  const info = nla(
    IFLA.LINKINFO,
    concat([nla(IFLA_INFO.KIND, enc.encode('xfrm')), nla(IFLA_INFO.DATA, concat(data))]),
  );
  const attrs = [nla(IFLA.IFNAME, cstr(p.name))];
  if (p.mtu !== undefined) attrs.push(nlaU32(IFLA.MTU, p.mtu));
  return concat([ifinfomsg(0), ...attrs, info]);
}

/** RTM_NEWLINK body changing an existing link: up/down (IFF_UP in change) and/or its MTU. */
export function encodeSetLink(index: number, o: { up?: boolean; mtu?: number }): Uint8Array {
  const change = o.up === undefined ? 0 : IFF_UP;
  const flags = o.up ? IFF_UP : 0;
  const attrs = o.mtu === undefined ? [] : [nlaU32(IFLA.MTU, o.mtu)];
  return concat([ifinfomsg(index, flags, change), ...attrs]);
}

/** RTM_GETLINK (by name) / RTM_DELLINK (by index) bodies. */
export function encodeGetLink(name: string): Uint8Array {
  return concat([ifinfomsg(0), nla(IFLA.IFNAME, cstr(name))]);
}
export function encodeDelLink(index: number): Uint8Array {
  return ifinfomsg(index);
}

export interface LinkInfo {
  readonly index: number;
  readonly name: string;
  readonly up: boolean;
  readonly mtu: number | undefined;
  /** IFLA_INFO_KIND ('xfrm', 'veth' ...), undefined for kinds without one (lo, physical). */
  readonly kind: string | undefined;
  /** IFLA_XFRM_IF_ID and IFLA_XFRM_LINK, for kind 'xfrm'. */
  readonly xfrmIfId: number | undefined;
  readonly xfrmLink: number | undefined;
  readonly stats: LinkStats | undefined;
}
export interface LinkStats {
  readonly rxPackets: number;
  readonly txPackets: number;
  readonly rxBytes: number;
  readonly txBytes: number;
  readonly rxErrors: number;
  readonly txErrors: number;
  readonly rxDropped: number;
  readonly txDropped: number;
}

/** Parses an RTM_NEWLINK body (reply to RTM_GETLINK or a dump entry). */
export function parseLink(p: Uint8Array): LinkInfo {
  if (p.length < 16) throw protocol('link', `ifinfomsg of ${p.length} bytes`);
  const v = new DataView(p.buffer, p.byteOffset, p.byteLength);
  const attrs = parseAttrs(p, 16);
  const info = attrs.get(IFLA.LINKINFO);
  const infoAttrs = info ? parseAttrs(info, 0) : undefined;
  const kind = str(infoAttrs?.get(IFLA_INFO.KIND));
  const data = infoAttrs?.get(IFLA_INFO.DATA);
  const xfrm = kind === 'xfrm' && data ? parseAttrs(data, 0) : undefined;
  const s = attrs.get(IFLA.STATS64);
  let stats: LinkStats | undefined;
  if (s && s.length >= 64) {
    const sv = new DataView(s.buffer, s.byteOffset, s.byteLength);
    const n = (i: number): number => Number(sv.getBigUint64(i * 8, true));
    stats = {
      rxPackets: n(0),
      txPackets: n(1),
      rxBytes: n(2),
      txBytes: n(3),
      rxErrors: n(4),
      txErrors: n(5),
      rxDropped: n(6),
      txDropped: n(7),
    };
  }
  return {
    index: v.getInt32(4, true),
    name: str(attrs.get(IFLA.IFNAME)) ?? '',
    up: (v.getUint32(8, true) & IFF_UP) !== 0,
    mtu: u32(attrs.get(IFLA.MTU)),
    kind,
    xfrmIfId: u32(xfrm?.get(IFLA_XFRM.IF_ID)),
    xfrmLink: u32(xfrm?.get(IFLA_XFRM.LINK)),
    stats,
  };
}

/** struct ifaddrmsg + IFA_LOCAL/IFA_ADDRESS (`ip addr add CIDR dev D`). */
export function encodeAddr(index: number, cidr: string): Uint8Array {
  const c = parseCidr(cidr, 'address');
  const hdr = new Uint8Array(8);
  hdr[0] = c.family;
  hdr[1] = c.prefix;
  new DataView(hdr.buffer).setUint32(4, index, true);
  const a = c.bytes.subarray(0, c.family === 2 ? 4 : 16);
  // As `ip addr add` does for a link without a peer: IFA_LOCAL and IFA_ADDRESS both the address.
  return concat([hdr, nla(IFA.LOCAL, a), nla(IFA.ADDRESS, a)]);
}

export interface RouteParams {
  /** Destination CIDR. */
  readonly dst: string;
  /** ifindex of the output device (RTA_OIF). */
  readonly oif?: number;
  readonly via?: string;
  /** Preferred source address (e.g. the tunnel's inner address). */
  readonly src?: string;
  /** Table number (default main, 254); numbers above 255 go in RTA_TABLE only. */
  readonly table?: number;
  /** Route metric (RTA_PRIORITY); lower wins. */
  readonly metric?: number;
}

/** struct rtmsg (12 bytes) + attributes (`ip route add DST [via G] [dev D] [src S] table T metric M`). */
export function encodeRoute(r: RouteParams): Uint8Array {
  const d = parseCidr(r.dst, 'route dst');
  const len = d.family === 2 ? 4 : 16;
  const table = r.table ?? RT_TABLE_MAIN;
  if (!Number.isInteger(table) || table < 1 || table > 0xffffffff)
    throw KernelError.invalid('RTM_NEWROUTE', r.dst, `table ${table} is not 1..4294967295`);
  const hdr = new Uint8Array(12);
  hdr.set([
    d.family,
    d.prefix,
    0, // src_len
    0, // tos
    table < 256 ? table : 252, // RT_TABLE_COMPAT: the real number is in RTA_TABLE
    RTPROT_STATIC,
    r.via ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK,
    RTN_UNICAST,
  ]);
  const attrs = [nla(RTA.DST, d.bytes.subarray(0, len)), nlaU32(RTA.TABLE, table)];
  if (r.oif !== undefined) attrs.push(nlaU32(RTA.OIF, r.oif));
  if (r.via) attrs.push(nla(RTA.GATEWAY, parseAddr(r.via, 'route via').bytes.subarray(0, len)));
  if (r.src) attrs.push(nla(RTA.PREFSRC, parseAddr(r.src, 'route src').bytes.subarray(0, len)));
  if (r.metric !== undefined) attrs.push(nlaU32(RTA.PRIORITY, r.metric));
  return concat([hdr, ...attrs]);
}

/** RTM_GETROUTE for one destination address (`ip route get ADDR`). */
export function encodeGetRoute(addr: string): Uint8Array {
  const a = parseAddr(addr, 'route get');
  const len = a.family === 2 ? 4 : 16;
  const hdr = new Uint8Array(12);
  hdr[0] = a.family;
  hdr[1] = len * 8;
  return concat([hdr, nla(RTA.DST, a.bytes.subarray(0, len))]);
}

export interface RouteInfo {
  readonly dst: string;
  readonly table: number;
  readonly protocol: number;
  readonly oif: number | undefined;
  readonly gateway: string | undefined;
  readonly metric: number | undefined;
}

/** Parses an RTM_NEWROUTE body (reply to RTM_GETROUTE or a dump entry). */
export function parseRoute(p: Uint8Array): RouteInfo {
  if (p.length < 12) throw protocol('route', `rtmsg of ${p.length} bytes`);
  const family = p[0]!;
  const attrs = parseAttrs(p, 12);
  const dst = attrs.get(RTA.DST);
  const gw = attrs.get(RTA.GATEWAY);
  const anyDst = family === 2 ? '0.0.0.0/0' : '::/0';
  return {
    dst: dst ? formatCidr(family, dst, 0, p[1]!) : anyDst,
    table: u32(attrs.get(RTA.TABLE)) ?? p[4]!,
    protocol: p[5]!,
    oif: u32(attrs.get(RTA.OIF)),
    gateway: gw ? formatAddr(family, gw) : undefined,
    metric: u32(attrs.get(RTA.PRIORITY)),
  };
}
