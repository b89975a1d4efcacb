// rtnetlink (<linux/rtnetlink.h>, <linux/if_link.h>) for what route-based tunnels need: link
// lookup, addresses, routes, and XFRM interfaces (kind "xfrm", IFLA_XFRM_IF_ID) where the kernel
// has them. A kernel without xfrm interfaces answers EOPNOTSUPP: that becomes a KernelError with
// isUnsupported, so callers can fall back to policy-based tunnels.
import { KernelError } from './errors.ts';
import { parseAddr, parseCidr } from './xfrm/addr.ts';
import { NetlinkChannel, rawTransport, type ChannelRequest, type Transport } from './xfrm/channel.ts';
import { NETLINK_ROUTE, NLM_F_CREATE, NLM_F_EXCL } from './xfrm/constants.ts';
import { concat, nla, nlaU32, parseAttrs } from './xfrm/nlmsg.ts';

const RTM = {
  NEWLINK: 16,
  DELLINK: 17,
  GETLINK: 18,
  NEWADDR: 20,
  DELADDR: 21,
  NEWROUTE: 24,
  DELROUTE: 25,
} as const;
const IFLA_IFNAME = 3;
const IFLA_LINKINFO = 18;
const IFLA_INFO_KIND = 1;
const IFLA_INFO_DATA = 2;
const IFLA_XFRM_LINK = 1;
const IFLA_XFRM_IF_ID = 2;
const IFA_ADDRESS = 1;
const IFA_LOCAL = 2;
const RTA_DST = 1;
const RTA_OIF = 4;
const RTA_GATEWAY = 5;
const RTA_PREFSRC = 7;
const RTA_TABLE = 15;
const NLA_F_NESTED = 0x8000;
const IFF_UP = 1;
const RT_TABLE_MAIN = 254;
const RTPROT_STATIC = 4;
const RT_SCOPE_UNIVERSE = 0;
const RT_SCOPE_LINK = 253;
const RTN_UNICAST = 1;

export interface RouteParams {
  /** Destination CIDR. */
  dst: string;
  dev?: string;
  via?: string;
  /** Preferred source address (e.g. the tunnel's inner address). */
  src?: string;
  table?: number;
}

export interface Rtnl {
  linkIndex(name: string): Promise<number>;
  setLinkUp(name: string, up?: boolean): Promise<void>;
  addAddress(dev: string, cidr: string): Promise<void>;
  deleteAddress(dev: string, cidr: string): Promise<void>;
  addRoute(r: RouteParams): Promise<void>;
  deleteRoute(r: RouteParams): Promise<void>;
  /** Creates an XFRM interface with if_id (optionally bound to an underlying device). */
  createXfrmInterface(p: { name: string; ifId: number; dev?: string }): Promise<void>;
  deleteLink(name: string): Promise<void>;
  close(): Promise<void>;
}

const enc = new TextEncoder();
const cstr = (s: string): Uint8Array => concat([enc.encode(s), new Uint8Array(1)]);

/** struct ifinfomsg (16 bytes). */
function ifinfo(index: number, flags = 0, change = 0): Uint8Array {
  const b = new Uint8Array(16);
  const v = new DataView(b.buffer);
  v.setInt32(4, index, true);
  v.setUint32(8, flags, true);
  v.setUint32(12, change, true);
  return b;
}

class RtnlImpl implements Rtnl {
  private readonly ch: NetlinkChannel;
  constructor(t: Transport, timeoutMs: number) {
    this.ch = new NetlinkChannel(t, timeoutMs);
  }
  private req(type: number, name: string, object: string, payload: Uint8Array, flags = 0): Promise<unknown> {
    const r: ChannelRequest = { type, name, object, payload, flags };
    return this.ch.request(r);
  }

  async linkIndex(name: string): Promise<number> {
    const r: ChannelRequest = {
      type: RTM.GETLINK,
      name: 'RTM_GETLINK',
      object: `link ${name}`,
      payload: concat([ifinfo(0), nla(IFLA_IFNAME, cstr(name))]),
    };
    const msgs = await this.ch.request(r);
    const m = msgs.find((x) => x.type === RTM.NEWLINK);
    if (!m || m.payload.length < 16)
      throw new KernelError('protocol', 0, r.name, r.object, 'no link in reply');
    return new DataView(m.payload.buffer, m.payload.byteOffset).getInt32(4, true);
  }

  async setLinkUp(name: string, up = true): Promise<void> {
    const index = await this.linkIndex(name);
    await this.req(RTM.NEWLINK, 'RTM_NEWLINK', `link ${name}`, ifinfo(index, up ? IFF_UP : 0, IFF_UP));
  }

  private async addrMsg(type: number, name: string, dev: string, cidr: string, flags = 0): Promise<void> {
    const c = parseCidr(cidr, 'address');
    const index = await this.linkIndex(dev);
    const hdr = new Uint8Array(8); // struct ifaddrmsg
    hdr[0] = c.family;
    hdr[1] = c.prefix;
    new DataView(hdr.buffer).setUint32(4, index, true);
    const a = c.bytes.subarray(0, c.family === 2 ? 4 : 16);
    await this.req(
      type,
      name,
      `${cidr} dev ${dev}`,
      concat([hdr, nla(IFA_LOCAL, a), nla(IFA_ADDRESS, a)]),
      flags,
    );
  }
  addAddress(dev: string, cidr: string): Promise<void> {
    return this.addrMsg(RTM.NEWADDR, 'RTM_NEWADDR', dev, cidr, NLM_F_CREATE | NLM_F_EXCL);
  }
  deleteAddress(dev: string, cidr: string): Promise<void> {
    return this.addrMsg(RTM.DELADDR, 'RTM_DELADDR', dev, cidr);
  }

  private async routeMsg(type: number, name: string, r: RouteParams, flags = 0): Promise<void> {
    const d = parseCidr(r.dst, 'route dst');
    const len = d.family === 2 ? 4 : 16;
    const hdr = new Uint8Array(12); // struct rtmsg
    hdr.set([
      d.family,
      d.prefix,
      0,
      0,
      RT_TABLE_MAIN,
      RTPROT_STATIC,
      r.via ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK,
      RTN_UNICAST,
    ]);
    const attrs = [nla(RTA_DST, d.bytes.subarray(0, len)), nlaU32(RTA_TABLE, r.table ?? RT_TABLE_MAIN)];
    if (r.dev) attrs.push(nlaU32(RTA_OIF, await this.linkIndex(r.dev)));
    if (r.via) attrs.push(nla(RTA_GATEWAY, parseAddr(r.via, 'route via').bytes.subarray(0, len)));
    if (r.src) attrs.push(nla(RTA_PREFSRC, parseAddr(r.src, 'route src').bytes.subarray(0, len)));
    const object = `${r.dst}${r.via ? ` via ${r.via}` : ''}${r.dev ? ` dev ${r.dev}` : ''}`;
    await this.req(type, name, object, concat([hdr, ...attrs]), flags);
  }
  addRoute(r: RouteParams): Promise<void> {
    return this.routeMsg(RTM.NEWROUTE, 'RTM_NEWROUTE', r, NLM_F_CREATE | NLM_F_EXCL);
  }
  deleteRoute(r: RouteParams): Promise<void> {
    return this.routeMsg(RTM.DELROUTE, 'RTM_DELROUTE', r);
  }

  async createXfrmInterface(p: { name: string; ifId: number; dev?: string }): Promise<void> {
    const object = `xfrm ${p.name} if_id ${p.ifId}`;
    if (!Number.isInteger(p.ifId) || p.ifId < 1 || p.ifId > 0xffffffff)
      throw KernelError.invalid('RTM_NEWLINK', object, 'if_id must be 1..4294967295');
    const data = [nlaU32(IFLA_XFRM_IF_ID, p.ifId)];
    if (p.dev) data.push(nlaU32(IFLA_XFRM_LINK, await this.linkIndex(p.dev)));
    const linkinfo = nla(
      IFLA_LINKINFO | NLA_F_NESTED,
      concat([nla(IFLA_INFO_KIND, cstr('xfrm')), nla(IFLA_INFO_DATA | NLA_F_NESTED, concat(data))]),
    );
    const payload = concat([ifinfo(0), nla(IFLA_IFNAME, cstr(p.name)), linkinfo]);
    try {
      await this.req(RTM.NEWLINK, 'RTM_NEWLINK', object, payload, NLM_F_CREATE | NLM_F_EXCL);
    } catch (e) {
      if (e instanceof KernelError && e.isUnsupported)
        throw KernelError.unsupported('RTM_NEWLINK', object, `kernel has no xfrm interfaces (${e.code})`);
      throw e;
    }
  }

  async deleteLink(name: string): Promise<void> {
    const index = await this.linkIndex(name);
    await this.req(RTM.DELLINK, 'RTM_DELLINK', `link ${name}`, ifinfo(index));
  }

  async close(): Promise<void> {
    this.ch.close();
  }
}

/** Opens rtnetlink in the current network namespace. */
export async function openRtnl(opts: { timeoutMs?: number; transport?: Transport } = {}): Promise<Rtnl> {
  return new RtnlImpl(opts.transport ?? rawTransport(NETLINK_ROUTE, 1 << 20), opts.timeoutMs ?? 5000);
}

/** Parses attributes of an RTM_NEWLINK reply (exported for tests). */
export function linkAttrs(payload: Uint8Array): Map<number, Uint8Array> {
  return parseAttrs(payload, 16);
}
