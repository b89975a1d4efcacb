// Lab topologies as data: two sites, each a LAN host behind a router, the routers joined by a WAN
// link (documentation ranges, RFC 5737 / RFC 3849), optionally a NAT router in front of one site and
// tc-netem impairment on the WAN. Pure: validated here, built into namespaces by lab.ts.
import { isIP } from 'node:net';
import { LabError } from '../errors.ts';
import { Address4, Address6 } from 'ip-address';

export type Family = 4 | 6;
export type SiteName = 'a' | 'b';

export interface Lan {
  readonly family: Family;
  /** Canonical CIDR, e.g. 10.1.0.0/24. */
  readonly prefix: string;
  readonly prefixLength: number;
  /** The router's address on this LAN (first host). */
  readonly router: string;
  /** The LAN host's address (tenth host). */
  readonly host: string;
}

export interface Site {
  readonly name: SiteName;
  /** The router's WAN address: the address its IKE daemon binds. */
  readonly wan: string;
  /** Empty for host-to-host (transport mode) labs: traffic then runs router to router. */
  readonly lans: readonly Lan[];
}

export interface Nat {
  /** The site behind the NAT router. */
  readonly site: SiteName;
  /** The NAT router's address on the link to that site's router (its default gateway). */
  readonly inside: string;
  /** The NAT router's WAN address: what the other site sees as the peer (masquerade). */
  readonly outside: string;
}

/** tc-netem impairment on both routers' WAN egress. */
export interface Netem {
  readonly lossPct?: number;
  readonly delayMs?: number;
  readonly reorderPct?: number;
}

export interface Topology {
  readonly name: string;
  /** Family of the WAN addresses (the outer ESP headers). */
  readonly family: Family;
  /** Length of the WAN link prefixes: 24 (IPv4) or 64 (IPv6). */
  readonly wanPrefixLength: number;
  readonly sites: readonly [Site, Site];
  readonly nat: Nat | undefined;
  readonly netem: Netem | undefined;
}

export interface SiteInput {
  readonly wan: string;
  readonly lans?: readonly string[];
}

export interface TopologyInput {
  readonly name?: string;
  readonly a: SiteInput;
  readonly b: SiteInput;
  /**
   * 'auto' (default): a NAT router in front of site a exactly when the two WAN addresses are not
   * on one link prefix (the only way the lab can join them); a site name forces one; false forbids.
   */
  readonly nat?: SiteName | 'auto' | false;
  readonly netem?: Netem;
}

const WAN_PREFIX: Record<Family, number> = { 4: 24, 6: 64 };
/** The LAN host is the tenth address of its prefix, so a LAN needs at least 4 host bits. */
const HOST_INDEX = 10n;

function bits(f: Family): number {
  return f === 4 ? 32 : 128;
}

export function familyOf(address: string): Family {
  const v = isIP(address);
  if (v === 0) throw new LabError('LAB_TOPOLOGY', `not an IP address: ${address}`);
  return v as Family;
}

function toBig(address: string): bigint {
  return familyOf(address) === 4 ? new Address4(address).bigInt() : new Address6(address).bigInt();
}

function fromBig(v: bigint, f: Family): string {
  return f === 4 ? Address4.fromBigInt(v).correctForm() : Address6.fromBigInt(v).correctForm();
}

/** The network address of `address/len` as a bigint. */
function network(address: string, len: number): bigint {
  const f = familyOf(address);
  const host = bits(f) - len;
  return (toBig(address) >> BigInt(host)) << BigInt(host);
}

export function sameLink(a: string, b: string, len: number): boolean {
  return familyOf(a) === familyOf(b) && network(a, len) === network(b, len);
}

/** `address/len` with the host bits cleared, canonical. */
export function prefixOf(address: string, len: number): string {
  return `${fromBig(network(address, len), familyOf(address))}/${len}`;
}

/** Parses a CIDR into a Lan with router (first host) and host (tenth host) addresses. */
export function makeLan(cidr: string): Lan {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(cidr.trim());
  if (!m) throw new LabError('LAB_TOPOLOGY', `LAN prefix must be ADDRESS/LENGTH: ${cidr}`);
  const family = familyOf(m[1]!);
  const len = Number(m[2]);
  if (len > bits(family) - 4)
    throw new LabError(
      'LAB_TOPOLOGY',
      `LAN ${cidr} is too small for a router and a host (needs /${bits(family) - 4} or wider)`,
    );
  const net = network(m[1]!, len);
  return {
    family,
    prefix: `${fromBig(net, family)}/${len}`,
    prefixLength: len,
    router: fromBig(net + 1n, family),
    host: fromBig(net + HOST_INDEX, family),
  };
}

/** A host address on the /len link of `near` that differs from every address in `avoid`. */
function pickOnLink(near: string, len: number, avoid: readonly string[]): string {
  const f = familyOf(near);
  const net = network(near, len);
  const last = net + (1n << BigInt(bits(f) - len)) - (f === 4 ? 2n : 1n);
  for (const candidate of [net + 1n, last, net + 2n]) {
    const text = fromBig(candidate, f);
    if (!avoid.some((a) => toBig(a) === candidate)) return text;
  }
  throw new LabError('LAB_TOPOLOGY', `no free address for the NAT router near ${near}`);
}

function makeSite(name: SiteName, s: SiteInput, family: Family): Site {
  if (familyOf(s.wan) !== family)
    throw new LabError('LAB_TOPOLOGY', `site ${name}: WAN ${s.wan} is not IPv${family} like the other site`);
  const lans = (s.lans ?? []).map(makeLan);
  const seen = new Set<string>();
  for (const l of lans) {
    if (seen.has(l.prefix)) throw new LabError('LAB_TOPOLOGY', `site ${name}: LAN ${l.prefix} given twice`);
    seen.add(l.prefix);
    if (sameLink(s.wan, l.prefix.split('/')[0]!, l.prefixLength))
      throw new LabError('LAB_TOPOLOGY', `site ${name}: LAN ${l.prefix} contains the WAN address ${s.wan}`);
  }
  return { name, wan: familyOf(s.wan) === 6 ? fromBig(toBig(s.wan), 6) : s.wan, lans };
}

function checkNetem(n: Netem): void {
  const pct = (v: number | undefined, what: string) => {
    if (v !== undefined && !(Number.isFinite(v) && v >= 0 && v <= 100))
      throw new LabError('LAB_TOPOLOGY', `netem ${what} must be a percentage 0..100, got ${v}`);
  };
  pct(n.lossPct, 'loss');
  pct(n.reorderPct, 'reorder');
  if (n.delayMs !== undefined && !(Number.isInteger(n.delayMs) && n.delayMs >= 0 && n.delayMs <= 10_000))
    throw new LabError('LAB_TOPOLOGY', `netem delay must be 0..10000 ms, got ${n.delayMs}`);
  if (n.reorderPct !== undefined && n.reorderPct > 0 && !n.delayMs)
    throw new LabError(
      'LAB_TOPOLOGY',
      'netem reorder needs a delay (netem reorders by sending some packets early)',
    );
}

/** Validates the input and fills in LAN and NAT addresses. Throws LabError('LAB_TOPOLOGY'). */
export function makeTopology(input: TopologyInput): Topology {
  const family = familyOf(input.a.wan);
  const a = makeSite('a', input.a, family);
  const b = makeSite('b', input.b, family);
  if (a.wan === b.wan) throw new LabError('LAB_TOPOLOGY', `both sites have WAN address ${a.wan}`);
  for (const la of a.lans)
    for (const lb of b.lans)
      if (la.prefix === lb.prefix)
        throw new LabError(
          'LAB_TOPOLOGY',
          `both sites have LAN ${la.prefix}: the tunnel would route to itself`,
        );
  const len = WAN_PREFIX[family];
  const direct = sameLink(a.wan, b.wan, len);
  const natWanted = input.nat ?? 'auto';
  let natSite: SiteName | undefined;
  if (natWanted === 'auto') natSite = direct ? undefined : 'a';
  else if (natWanted === false) {
    if (!direct)
      throw new LabError(
        'LAB_TOPOLOGY',
        `WAN ${a.wan} and ${b.wan} are not on one /${len}; only a NAT router can join them`,
      );
  } else natSite = natWanted;
  let nat: Nat | undefined;
  if (natSite !== undefined) {
    if (family !== 4) throw new LabError('LAB_TOPOLOGY', 'the lab NAT router masquerades IPv4 only');
    if (direct)
      throw new LabError(
        'LAB_TOPOLOGY',
        `a NAT router needs the two WAN addresses on different /${len} links`,
      );
    const [behind, other] = natSite === 'a' ? [a, b] : [b, a];
    nat = {
      site: natSite,
      inside: pickOnLink(behind.wan, len, [behind.wan]),
      outside: pickOnLink(other.wan, len, [other.wan]),
    };
  }
  if (input.netem) checkNetem(input.netem);
  return {
    name: input.name ?? 'two-site',
    family,
    wanPrefixLength: len,
    sites: [a, b],
    nat,
    netem: input.netem,
  };
}

/** The demo's two sites, matching examples/site-to-site-psk.yaml. */
export const DEFAULT_TOPOLOGY_INPUT: TopologyInput = {
  name: 'site-to-site',
  a: { wan: '192.0.2.1', lans: ['10.1.0.0/24'] },
  b: { wan: '192.0.2.2', lans: ['10.2.0.0/24'] },
};

export function siteOf(t: Topology, name: SiteName): Site {
  return name === 'a' ? t.sites[0] : t.sites[1];
}

export function otherSite(name: SiteName): SiteName {
  return name === 'a' ? 'b' : 'a';
}

/** The outer address site `name` sees its peer at: the NAT's outside address when the peer is behind it. */
export function peerAsSeenBy(t: Topology, name: SiteName): string {
  const peer = otherSite(name);
  return t.nat?.site === peer ? t.nat.outside : siteOf(t, peer).wan;
}

/** The next hop from site `name`'s router towards the other site. */
export function gatewayOf(t: Topology, name: SiteName): string {
  if (t.nat?.site === name) return t.nat.inside;
  return peerAsSeenBy(t, name);
}

/** Every LAN host address of both sites (these must never appear in clear on the WAN). */
export function lanHostAddresses(t: Topology): string[] {
  return t.sites.flatMap((s) => s.lans.map((l) => l.host));
}

/** One line per element, for the demo's output. */
export function describeTopology(t: Topology): string[] {
  const side = (s: Site) =>
    s.lans.length === 0
      ? `router-${s.name} ${s.wan}`
      : `host-${s.name} ${s.lans.map((l) => l.host).join(',')} | router-${s.name} ${s.wan}`;
  const lines = [
    `site a: ${side(t.sites[0])}${t.sites[0].lans.length ? ` (LAN ${t.sites[0].lans.map((l) => l.prefix).join(', ')})` : ''}`,
    `site b: ${side(t.sites[1])}${t.sites[1].lans.length ? ` (LAN ${t.sites[1].lans.map((l) => l.prefix).join(', ')})` : ''}`,
  ];
  if (t.nat)
    lines.push(
      `NAT router in front of site ${t.nat.site}: inside ${t.nat.inside}, outside ${t.nat.outside} (masquerade)`,
    );
  else lines.push(`WAN link ${prefixOf(t.sites[0].wan, t.wanPrefixLength)}`);
  if (t.netem)
    lines.push(
      `WAN impairment: loss ${t.netem.lossPct ?? 0}%, delay ${t.netem.delayMs ?? 0} ms, reorder ${t.netem.reorderPct ?? 0}%`,
    );
  return lines;
}
