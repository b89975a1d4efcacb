// rtnetlink (<linux/rtnetlink.h>, <linux/if_link.h>) for what route-based tunnels need: links
// (lookup, dump, up/down, MTU), XFRM interfaces (kind "xfrm", IFLA_XFRM_IF_ID), addresses and
// routes (table, metric). The byte layouts are in rtnl-codec.ts; this adapter resolves device
// names to ifindexes and maps errors. A kernel without xfrm interfaces answers the creation with
// EOPNOTSUPP: that becomes a KernelError with isUnsupported ('UNSUPPORTED') and a plain reason.
import { KernelError } from './errors.ts';
import {
  RTM,
  encodeAddr,
  encodeDelLink,
  encodeGetLink,
  encodeGetRoute,
  encodeNewXfrmLink,
  encodeRoute,
  encodeSetLink,
  ifinfomsg,
  parseLink,
  parseRoute,
  type LinkInfo,
  type RouteInfo,
} from './rtnl-codec.ts';
import { NetlinkChannel, rawTransport, type ChannelRequest, type Transport } from './xfrm/channel.ts';
import { NETLINK_ROUTE, NLM_F_CREATE, NLM_F_EXCL } from './xfrm/constants.ts';
import { parseAttrs } from './xfrm/nlmsg.ts';

export type { LinkInfo, LinkStats, RouteInfo } from './rtnl-codec.ts';

export interface RouteParams {
  /** Destination CIDR. */
  dst: string;
  dev?: string;
  via?: string;
  /** Preferred source address (e.g. the tunnel's inner address). */
  src?: string;
  /** Table number (default main, 254). */
  table?: number;
  /** Metric (RTA_PRIORITY); lower wins. */
  metric?: number;
}

export interface XfrmInterfaceParams {
  name: string;
  ifId: number;
  /** Underlying device (IFLA_XFRM_LINK). */
  dev?: string;
  mtu?: number;
}

export interface Rtnl {
  linkIndex(name: string): Promise<number>;
  /** The link, or undefined if there is none of that name (ENODEV). */
  getLink(name: string): Promise<LinkInfo | undefined>;
  listLinks(): Promise<LinkInfo[]>;
  setLinkUp(name: string, up?: boolean): Promise<void>;
  setMtu(name: string, mtu: number): Promise<void>;
  addAddress(dev: string, cidr: string): Promise<void>;
  deleteAddress(dev: string, cidr: string): Promise<void>;
  addRoute(r: RouteParams): Promise<void>;
  deleteRoute(r: RouteParams): Promise<void>;
  /** The route the kernel would take to `addr` (`ip route get`). */
  routeGet(addr: string): Promise<RouteInfo>;
  /** Creates an XFRM interface with if_id (optionally bound to an underlying device). */
  createXfrmInterface(p: XfrmInterfaceParams): Promise<void>;
  deleteLink(name: string): Promise<void>;
  close(): Promise<void>;
}

class RtnlImpl implements Rtnl {
  private readonly ch: NetlinkChannel;
  constructor(t: Transport, timeoutMs: number) {
    this.ch = new NetlinkChannel(t, timeoutMs);
  }
  private req(type: number, name: string, object: string, payload: Uint8Array, flags = 0) {
    const r: ChannelRequest = { type, name, object, payload, flags };
    return this.ch.request(r);
  }

  async getLink(name: string): Promise<LinkInfo | undefined> {
    try {
      const msgs = await this.req(RTM.GETLINK, 'RTM_GETLINK', `link ${name}`, encodeGetLink(name));
      const m = msgs.find((x) => x.type === RTM.NEWLINK);
      if (!m) throw new KernelError('protocol', 0, 'RTM_GETLINK', `link ${name}`, 'no link in reply');
      return parseLink(m.payload);
    } catch (e) {
      if (e instanceof KernelError && e.code === 'ENODEV') return undefined;
      throw e;
    }
  }

  async linkIndex(name: string): Promise<number> {
    const l = await this.getLink(name);
    if (!l) throw KernelError.fromErrno(19, 'RTM_GETLINK', `link ${name}`, 'no such device');
    return l.index;
  }

  async listLinks(): Promise<LinkInfo[]> {
    const r: ChannelRequest = {
      type: RTM.GETLINK,
      name: 'RTM_GETLINK',
      object: 'links',
      payload: ifinfomsg(0),
      dump: true,
    };
    const msgs = await this.ch.request(r);
    return msgs.filter((m) => m.type === RTM.NEWLINK).map((m) => parseLink(m.payload));
  }

  async setLinkUp(name: string, up = true): Promise<void> {
    const index = await this.linkIndex(name);
    await this.req(
      RTM.NEWLINK,
      'RTM_NEWLINK',
      `link ${name} ${up ? 'up' : 'down'}`,
      encodeSetLink(index, { up }),
    );
  }

  async setMtu(name: string, mtu: number): Promise<void> {
    const index = await this.linkIndex(name);
    await this.req(RTM.NEWLINK, 'RTM_NEWLINK', `link ${name} mtu ${mtu}`, encodeSetLink(index, { mtu }));
  }

  addAddress(dev: string, cidr: string): Promise<void> {
    return this.addr(RTM.NEWADDR, 'RTM_NEWADDR', dev, cidr, NLM_F_CREATE | NLM_F_EXCL);
  }
  deleteAddress(dev: string, cidr: string): Promise<void> {
    return this.addr(RTM.DELADDR, 'RTM_DELADDR', dev, cidr);
  }
  private async addr(type: number, name: string, dev: string, cidr: string, flags = 0): Promise<void> {
    const index = await this.linkIndex(dev);
    await this.req(type, name, `${cidr} dev ${dev}`, encodeAddr(index, cidr), flags);
  }

  addRoute(r: RouteParams): Promise<void> {
    return this.route(RTM.NEWROUTE, 'RTM_NEWROUTE', r, NLM_F_CREATE | NLM_F_EXCL);
  }
  deleteRoute(r: RouteParams): Promise<void> {
    return this.route(RTM.DELROUTE, 'RTM_DELROUTE', r);
  }
  private async route(type: number, name: string, r: RouteParams, flags = 0): Promise<void> {
    const oif = r.dev ? await this.linkIndex(r.dev) : undefined;
    const object =
      `${r.dst}${r.via ? ` via ${r.via}` : ''}${r.dev ? ` dev ${r.dev}` : ''}` +
      `${r.table !== undefined ? ` table ${r.table}` : ''}${r.metric !== undefined ? ` metric ${r.metric}` : ''}`;
    const body = encodeRoute({
      dst: r.dst,
      ...(oif !== undefined ? { oif } : {}),
      ...(r.via ? { via: r.via } : {}),
      ...(r.src ? { src: r.src } : {}),
      ...(r.table !== undefined ? { table: r.table } : {}),
      ...(r.metric !== undefined ? { metric: r.metric } : {}),
    });
    await this.req(type, name, object, body, flags);
  }

  async routeGet(addr: string): Promise<RouteInfo> {
    const msgs = await this.req(RTM.GETROUTE, 'RTM_GETROUTE', `route to ${addr}`, encodeGetRoute(addr));
    const m = msgs.find((x) => x.type === RTM.NEWROUTE);
    if (!m) throw new KernelError('protocol', 0, 'RTM_GETROUTE', `route to ${addr}`, 'no route in reply');
    return parseRoute(m.payload);
  }

  async createXfrmInterface(p: XfrmInterfaceParams): Promise<void> {
    const object = `xfrm ${p.name} if_id ${p.ifId}`;
    const linkIndex = p.dev ? await this.linkIndex(p.dev) : undefined;
    const body = encodeNewXfrmLink({
      name: p.name,
      ifId: p.ifId,
      ...(linkIndex !== undefined ? { linkIndex } : {}),
      ...(p.mtu !== undefined ? { mtu: p.mtu } : {}),
    });
    try {
      await this.req(RTM.NEWLINK, 'RTM_NEWLINK', object, body, NLM_F_CREATE | NLM_F_EXCL);
    } catch (e) {
      if (e instanceof KernelError && e.isUnsupported)
        throw KernelError.unsupported('RTM_NEWLINK', object, `kernel has no xfrm interfaces (${e.code})`);
      throw e;
    }
  }

  async deleteLink(name: string): Promise<void> {
    const index = await this.linkIndex(name);
    await this.req(RTM.DELLINK, 'RTM_DELLINK', `link ${name}`, encodeDelLink(index));
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
